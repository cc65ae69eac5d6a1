// A client books a visit: a service, then one of the open times (the same rules the
// booking service applies), a note, and a confirmation.

import { get, post } from "../core/api.js";
import { h, clear } from "../core/dom.js";
import { money, duration, dateTime } from "../core/format.js";
import { makeForm } from "../core/forms.js";
import { pageHeader, card, notify } from "../core/ui.js";
import { slotPicker } from "./slots.js";

export async function render(view) {
  clear(view);
  const page = await get("/api/portal/services?limit=200");
  view.appendChild(pageHeader("Book a visit"));
  if (!page.items.length) {
    view.appendChild(card(null, h("p", { text: "This business has no services to book online yet." })));
    return;
  }
  const wanted = new URLSearchParams(window.location.search).get("service");
  const select = h("select", { id: "book-service", name: "service_id" },
    page.items.map((s) => h("option", { value: s.id, selected: s.id === wanted,
      text: `${s.name} — ${money(s.price_cents)}, ${duration(s.duration_minutes)}` })));
  const pickerHolder = h("div", { id: "slot-picker" });
  const summary = h("p", { id: "chosen-slot", class: "muted", "aria-live": "polite", text: "Choose a time above." });
  let picker;
  let chosen = null;
  const form = makeForm({
    fields: [{ name: "notes", label: "Anything we should know?", type: "textarea", rows: 3, maxlength: 10000 }],
    submit: "Book this time",
    onSubmit: async (values) => {
      if (!chosen) {
        summary.textContent = "Please choose a time first.";
        summary.className = "form-error";
        return;
      }
      const booking = await post("/api/portal/bookings", {
        service_id: select.value, starts_at: chosen.starts_at, notes: values.notes || "",
      });
      notify("Booked for " + dateTime(booking.starts_at) + ".");
      clear(view).append(pageHeader("Booked"),
        card(null, h("p", { id: "booked", role: "status", text: `You are booked for ${dateTime(booking.starts_at)}. We will confirm it soon.` }),
          h("p", { class: "actions-row" }, h("a", { class: "button", href: "/app/my-bookings", text: "See my bookings" }),
            h("a", { class: "button secondary", href: "/app/book", text: "Book another visit" }))));
    },
  });
  function showPicker() {
    chosen = null;
    clear(pickerHolder).appendChild(picker = slotPicker({
      path: "/api/portal/availability",
      serviceId: select.value,
      onPick: (slot) => {
        chosen = slot;
        summary.className = "muted";
        summary.textContent = slot ? "Chosen: " + dateTime(slot.starts_at) : "Choose a time above.";
      },
    }));
  }
  select.addEventListener("change", showPicker);
  view.append(
    card("1. Service", h("div", { class: "field" }, h("label", { for: "book-service", text: "Service" }), select)),
    card("2. Time", pickerHolder, summary),
    card("3. Confirm", form),
  );
  showPicker();
  return picker;
}
