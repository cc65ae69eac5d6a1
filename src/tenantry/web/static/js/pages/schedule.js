// The schedule: a day or a week, per team member, in the tenant's time zone. Each
// visit links to its booking, where "Reschedule" offers the free times to move it to.

import { get, query } from "../core/api.js";
import { h, clear } from "../core/dom.js";
import { time, dayName, today, addDays, zonedInstant, localDay, plainDate } from "../core/format.js";
import { pageHeader, card, badge, linkButton } from "../core/ui.js";
import { loadPeople, personLabel, staffMembers } from "../core/lookups.js";

function mondayOf(isoDay) {
  const [y, m, d] = isoDay.split("-").map(Number);
  const weekday = (new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7;
  return addDays(isoDay, -weekday);
}

export async function render(view) {
  clear(view);
  const params = new URLSearchParams(window.location.search);
  const state = { mode: params.get("mode") || "week", day: params.get("day") || today(), person: params.get("person") || "" };
  const staff = await staffMembers();
  const body = h("div", { class: "schedule", id: "schedule", "aria-live": "polite" });
  const title = h("h2", { id: "schedule-range" });
  const modeSelect = h("select", { id: "schedule-mode" }, [["day", "Day"], ["week", "Week"]].map(([v, l]) => h("option", { value: v, text: l, selected: state.mode === v })));
  const dayInput = h("input", { type: "date", id: "schedule-day", value: state.day });
  const personSelect = h("select", { id: "schedule-person" }, h("option", { value: "", text: "Everyone" }),
    staff.map((p) => h("option", { value: p.id, text: p.name || p.email, selected: state.person === p.id })));
  const step = (sign) => () => { state.day = addDays(state.day, sign * (state.mode === "week" ? 7 : 1)); dayInput.value = state.day; load(); };

  async function load() {
    const first = state.mode === "week" ? mondayOf(state.day) : state.day;
    const days = state.mode === "week" ? 7 : 1;
    const params2 = new URLSearchParams({ mode: state.mode, day: state.day });
    if (state.person) params2.set("person", state.person);
    window.history.replaceState(null, "", "/app/schedule?" + params2.toString());
    title.textContent = days === 1 ? plainDate(first) : `${plainDate(first)} – ${plainDate(addDays(first, 6))}`;
    clear(body).appendChild(h("p", { class: "muted", text: "Loading…" }));
    const entries = await get("/api/admin/calendar" + query({
      from: zonedInstant(first, "00:00").toISOString(), to: zonedInstant(addDays(first, days), "00:00").toISOString(),
    }));
    await loadPeople(entries.flatMap((e) => [e.client_id, e.assignee_id]));
    const shown = state.person ? entries.filter((e) => e.assignee_id === state.person) : entries;
    clear(body);
    for (let i = 0; i < days; i += 1) {
      const day = addDays(first, i);
      const todays = shown.filter((e) => localDay(e.starts_at) === day);
      const people = new Map();
      todays.forEach((e) => {
        const key = e.assignee_id || "";
        if (!people.has(key)) people.set(key, []);
        people.get(key).push(e);
      });
      const section = h("section", { class: "schedule-day", "aria-labelledby": "sd-" + day },
        h("h3", { id: "sd-" + day, text: dayName(zonedInstant(day, "12:00")) }));
      if (!todays.length) section.appendChild(h("p", { class: "empty", text: "Nothing booked." }));
      people.forEach((items, key) => {
        section.appendChild(h("div", { class: "schedule-person" },
          h("h4", { text: key ? personLabel(key) : "Not assigned" }),
          h("ul", { class: "appointments" }, items.map((e) => h("li", { class: "appointment status-" + e.status, dataset: { booking: e.id } },
            h("a", { href: `/app/bookings/${e.id}`, text: `${time(e.starts_at)}–${time(e.ends_at)} ${e.service_name}` }),
            h("span", { class: "muted", text: personLabel(e.client_id, "Client") }),
            h("span", {}, badge(e.status), " ", h("a", { href: `/app/bookings/${e.id}#reschedule`, text: "Move…", "aria-label": `Move the ${time(e.starts_at)} visit` })))))));
      });
      body.appendChild(section);
    }
  }
  modeSelect.addEventListener("change", () => { state.mode = modeSelect.value; load(); });
  dayInput.addEventListener("change", () => { if (dayInput.value) { state.day = dayInput.value; load(); } });
  personSelect.addEventListener("change", () => { state.person = personSelect.value; load(); });
  view.append(
    pageHeader("Schedule", linkButton("/app/bookings/new", "New booking")),
    card(null,
      h("div", { class: "filters" },
        h("div", { class: "filter" }, h("label", { for: "schedule-mode", text: "Show" }), modeSelect),
        h("div", { class: "filter" }, h("label", { for: "schedule-day", text: "Date" }), dayInput),
        h("div", { class: "filter" }, h("label", { for: "schedule-person", text: "Team member" }), personSelect),
        h("div", { class: "filter filter-submit actions-row" },
          h("button", { type: "button", class: "secondary", text: "← Earlier", onclick: step(-1) }),
          h("button", { type: "button", class: "secondary", text: "Today", onclick: () => { state.day = today(); dayInput.value = state.day; load(); } }),
          h("button", { type: "button", class: "secondary", text: "Later →", onclick: step(1) }))),
      title, body));
  await load();
}
