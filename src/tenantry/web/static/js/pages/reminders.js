// Reminders: emails scheduled before visits; schedule one for a booking, cancel one.

import { get, post, query } from "../core/api.js";
import { h, clear } from "../core/dom.js";
import { dateTime, words, today, zonedInstant } from "../core/format.js";
import { makeForm } from "../core/forms.js";
import { pageHeader, card, badge, listView, confirmAction, notify, failed } from "../core/ui.js";

export async function render(view) {
  clear(view);
  let list;
  const cancel = (r) => h("button", { type: "button", class: "secondary", text: "Cancel", onclick: async () => {
    if (!(await confirmAction("Cancel this reminder?", "Cancel reminder"))) return;
    try { await post(`/api/admin/reminders/${r.id}/cancel`); notify("Cancelled."); list.refresh(); } catch (e) { failed(e); }
  } });
  list = listView({
    filters: [{ name: "status", label: "Status", options: ["pending", "sent", "failed", "cancelled"].map((s) => ({ value: s, label: words(s, "reminder") })) }],
    columns: [
      { label: "Send at", render: (r) => dateTime(r.send_at) },
      { label: "For", render: (r) => (r.booking_id ? h("a", { href: `/app/bookings/${r.booking_id}`, text: "Booking" }) : r.service_request_id ? h("a", { href: `/app/requests/${r.service_request_id}`, text: "Request" }) : "—") },
      { label: "Status", render: (r) => badge(r.status, "reminder") },
      { label: "", render: (r) => (r.status === "pending" ? cancel(r) : "") },
    ],
    caption: "Reminders", empty: "No reminders scheduled.",
    load: (state) => get("/api/admin/reminders" + query({ status: state.status, limit: state.limit, offset: state.offset })),
  });
  const upcoming = await get("/api/admin/bookings" + query({ from: new Date().toISOString(), limit: 100 })).catch(() => ({ items: [] }));
  const form = makeForm({
    fields: [
      { name: "booking_id", label: "Booking", type: "select", required: true, placeholder: "Choose a booking…",
        options: upcoming.items.filter((b) => ["pending", "confirmed"].includes(b.status)).map((b) => ({ value: b.id, label: dateTime(b.starts_at) })) },
      { name: "day", label: "Send on", type: "date", required: true, value: today() },
      { name: "clock", label: "At", type: "time", required: true, value: "09:00" },
      { name: "note", label: "Note for the client", type: "textarea", rows: 2 },
    ],
    submit: "Schedule reminder",
    onSubmit: async (values, formEl) => {
      await post("/api/admin/reminders", { booking_id: values.booking_id, send_at: zonedInstant(values.day, values.clock).toISOString(), note: values.note || "" });
      formEl.reset();
      notify("Scheduled.");
      list.refresh();
    },
  });
  view.append(pageHeader("Reminders"), card(null, list), card("Schedule a reminder", form));
}
