// The client's own bookings, soonest first, with online cancellation where allowed.

import { get, post, query } from "../core/api.js";
import { h, clear } from "../core/dom.js";
import { dateTime } from "../core/format.js";
import { pageHeader, card, badge, listView, confirmAction, notify, failed, linkButton } from "../core/ui.js";
import { loadServices, serviceName } from "../core/lookups.js";

const STATUSES = ["pending", "confirmed", "completed", "cancelled"];

export async function render(view) {
  clear(view);
  await loadServices(true);
  let list;
  const cancel = (booking) => h("button", { type: "button", class: "secondary", text: "Cancel",
    "aria-label": "Cancel the booking on " + dateTime(booking.starts_at),
    onclick: async () => {
      const answer = await confirmAction("Cancel this booking?", "Cancel booking",
        { detail: `${serviceName(booking.service_id)}, ${dateTime(booking.starts_at)}`, reason: "Reason (optional)" });
      if (!answer) return;
      try {
        await post(`/api/portal/bookings/${booking.id}/cancel`, { reason: answer.reason || "" });
        notify("The booking is cancelled.");
        list.refresh();
      } catch (error) {
        failed(error);
      }
    } });
  list = listView({
    filters: [{ name: "status", label: "Status", options: STATUSES.map((s) => ({ value: s, label: badge(s).textContent })) }],
    columns: [
      { label: "When", render: (b) => dateTime(b.starts_at) },
      { label: "Service", render: (b) => serviceName(b.service_id) },
      { label: "Status", render: (b) => badge(b.status) },
      { label: "", render: (b) => (["pending", "confirmed"].includes(b.status) ? cancel(b) : "") },
    ],
    caption: "My bookings",
    empty: "You have no bookings yet.",
    rowData: (b) => ({ booking: b.id }),
    load: (state) => get("/api/portal/bookings" + query({ status: state.status, limit: state.limit, offset: state.offset })),
  });
  view.append(pageHeader("My bookings", linkButton("/app/book", "Book a visit")), card(null, list));
}
