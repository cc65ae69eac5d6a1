// The staff start page: today's visits, what waits for someone, the week's figures.

import { get, query } from "../core/api.js";
import { h, clear } from "../core/dom.js";
import { time, money, today, addDays, zonedInstant, dayName } from "../core/format.js";
import { pageHeader, card, badge, linkButton } from "../core/ui.js";
import { loadPeople, personLabel } from "../core/lookups.js";

function stat(label, value, href) {
  return h("a", { class: "card stat", href }, h("span", { class: "value", text: value }), h("span", { text: label }));
}

export async function render(view, ctx) {
  clear(view);
  const day = today();
  const from = zonedInstant(day, "00:00").toISOString();
  const to = zonedInstant(addDays(day, 1), "00:00").toISOString();
  const safe = (promise, fallback) => promise.catch(() => fallback);
  const [stats, todays, fresh, unpaid] = await Promise.all([
    safe(get("/api/admin/bookings/stats"), null),
    safe(get("/api/admin/calendar" + query({ from, to })), []),
    safe(get("/api/admin/service-requests?status=submitted&limit=5"), { items: [], total: 0 }),
    safe(get("/api/admin/invoices?status=sent&limit=1"), { items: [], total: 0 }),
  ]);
  // Staff in the field see their own visits first; the rest of the team's day is one
  // link away.
  const mine = ctx.role === "staff" ? todays.filter((b) => b.assignee_id === ctx.session.user.id) : todays;
  const others = todays.length - mine.length;
  await loadPeople(todays.flatMap((b) => [b.client_id, b.assignee_id]).concat(fresh.items.map((r) => r.client_id)));
  view.append(
    pageHeader("Good day, " + (ctx.session.user.name || ctx.session.user.email), linkButton("/app/bookings/new", "New booking")),
    h("div", { class: "stats", id: "stats" },
      stat("waiting for confirmation", stats ? stats.by_status.pending : "—", "/app/bookings?status=pending"),
      stat(stats && stats.upcoming_7_days === 1 ? "visit in the next 7 days" : "visits in the next 7 days", stats ? stats.upcoming_7_days : "—", "/app/schedule"),
      stat(fresh.total === 1 ? "new request" : "new requests", fresh.total, "/app/requests?status=submitted"),
      stat(unpaid.total === 1 ? "invoice awaiting payment" : "invoices awaiting payment", unpaid.total, "/app/invoices?status=sent"),
      stat("earned from completed visits", stats ? money(stats.completed_revenue_cents) : "—", "/app/bookings?when=past&status=completed")),
    h("div", { class: "grid-2" },
      card((ctx.role === "staff" ? "Your visits today, " : "Today, ") + dayName(new Date()), mine.length
        ? h("ul", { class: "appointments" }, mine.map((b) => h("li", { class: "appointment status-" + b.status },
          h("a", { href: `/app/bookings/${b.id}`, text: `${time(b.starts_at)}–${time(b.ends_at)} ${b.service_name}` }),
          h("span", { class: "muted", text: `${personLabel(b.client_id)} · ${b.assignee_id ? personLabel(b.assignee_id) : "not assigned"}` }),
          badge(b.status))))
        : h("p", { class: "empty", text: "No visits today." }),
        others ? h("p", {}, h("a", { href: "/app/schedule", text: `${others} more ${others === 1 ? "visit" : "visits"} by the team today` })) : null),
      card("New requests", fresh.items.length
        ? h("ul", {}, fresh.items.map((r) => h("li", {}, h("a", { href: `/app/requests/${r.id}`, text: r.title }), " ", badge(r.priority), h("span", { class: "muted", text: " from " + personLabel(r.client_id) }))))
        : h("p", { class: "empty", text: "Nothing new." }))));
}
