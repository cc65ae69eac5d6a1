// A slot picker over the availability API: a week at a time, days as headings, each
// open start a toggle button. Shared by the client's booking page, the admin's new
// booking, rescheduling and request conversion.

import { get, query } from "../core/api.js";
import { h, clear } from "../core/dom.js";
import { time, dayName, today, addDays, localDay, plainDate, shortDay } from "../core/format.js";
import { errorText } from "../core/forms.js";

export function slotPicker({ path, serviceId, assigneeId, onPick }) {
  let first = today();
  let chosen = null;
  const heading = h("p", { class: "muted", "aria-live": "polite" });
  const list = h("div", { class: "slot-list" });
  const prev = h("button", { type: "button", class: "secondary", text: "← Earlier" });
  const next = h("button", { type: "button", class: "secondary", text: "Later →" });
  const box = h("div", { class: "slot-picker" }, h("div", { class: "day-picker" }, prev, next, heading), list);

  async function load() {
    chosen = null;
    onPick(null);
    prev.disabled = first <= today();
    const last = addDays(first, 6);
    heading.textContent = `${plainDate(first)} to ${plainDate(last)}`;
    clear(list).appendChild(h("p", { class: "muted", text: "Looking for free times…" }));
    let result;
    try {
      result = await get(path + query({ service_id: serviceId, from: first, to: last, assignee_id: assigneeId }));
    } catch (error) {
      clear(list).appendChild(h("p", { class: "error", role: "alert", text: errorText(error) }));
      return;
    }
    clear(list);
    if (!result.slots.length) {
      list.appendChild(h("p", { class: "empty", id: "no-slots", text: "No free times this week. Try later dates." }));
      return;
    }
    const byDay = new Map();
    result.slots.forEach((slot) => {
      const day = localDay(slot.starts_at);
      if (!byDay.has(day)) byDay.set(day, []);
      byDay.get(day).push(slot);
    });
    // One day at a time: a button per day with free times, then that day's times.
    const days = h("div", { class: "slot-days", role: "group", "aria-label": "Days with free times" });
    const times = h("div", { class: "slot-times" });
    const showDay = (day) => {
      days.querySelectorAll("button").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.day === day)));
      const slots = byDay.get(day);
      const headingId = "day-" + day;
      clear(times).appendChild(h("section", { class: "slot-day", "aria-labelledby": headingId },
        h("h3", { id: headingId, text: dayName(slots[0].starts_at) }),
        h("ul", { class: "slots" }, slots.map((slot) => h("li", {}, h("button", {
          type: "button", class: "secondary slot", "aria-pressed": "false",
          dataset: { start: slot.starts_at },
          "aria-label": `${dayName(slot.starts_at)} at ${time(slot.starts_at)}`,
          text: time(slot.starts_at),
          onclick: (event) => {
            list.querySelectorAll(".slot[aria-pressed='true']").forEach((b) => b.setAttribute("aria-pressed", "false"));
            event.currentTarget.setAttribute("aria-pressed", "true");
            chosen = slot;
            onPick(slot);
          },
        }))))));
    };
    byDay.forEach((slots, day) => {
      days.appendChild(h("button", { type: "button", class: "secondary slot-day-button", dataset: { day },
        "aria-pressed": "false", text: `${shortDay(slots[0].starts_at)} (${slots.length})`,
        "aria-label": `${dayName(slots[0].starts_at)}: ${slots.length} free times`,
        onclick: () => { chosen = null; onPick(null); showDay(day); } }));
    });
    list.append(days, times);
    showDay(byDay.keys().next().value);
  }
  prev.addEventListener("click", () => { first = addDays(first, -7) < today() ? today() : addDays(first, -7); load(); });
  next.addEventListener("click", () => { first = addDays(first, 7); load(); });
  box.reload = load;
  box.selected = () => chosen;
  load();
  return box;
}
