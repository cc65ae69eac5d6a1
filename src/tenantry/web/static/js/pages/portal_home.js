// A client's start page: what is coming up, what is open, what is owed.

import { get } from "../core/api.js";
import { h, clear } from "../core/dom.js";
import { dateTime, money } from "../core/format.js";
import { pageHeader, card, badge, linkButton } from "../core/ui.js";
import { loadServices, serviceName } from "../core/lookups.js";

export async function render(view, ctx) {
  clear(view);
  await loadServices(true);
  const [bookings, requests, invoices] = await Promise.all([
    get("/api/portal/bookings?limit=5"),
    get("/api/portal/service-requests?limit=5"),
    get("/api/portal/invoices?status=sent&limit=5"),
  ]);
  const upcoming = bookings.items.filter((b) => ["pending", "confirmed"].includes(b.status) && new Date(b.starts_at) > new Date());
  view.append(
    pageHeader("Welcome to " + ctx.tenant.name, linkButton("/app/book", "Book a visit"), linkButton("/app/my-requests/new", "Ask for help", true)),
    h("div", { class: "grid-2" },
      card("Coming up", upcoming.length
        ? h("ul", {}, upcoming.map((b) => h("li", {}, `${dateTime(b.starts_at)} — ${serviceName(b.service_id)} `, badge(b.status))))
        : h("p", { class: "empty", text: "Nothing booked. Book a visit when it suits you." })),
      card("Your requests", requests.items.length
        ? h("ul", {}, requests.items.map((r) => h("li", {}, h("a", { href: `/app/my-requests/${r.id}`, text: r.title }), " ", badge(r.status))))
        : h("p", { class: "empty", text: "No requests." })),
      card("To pay", invoices.items.length
        ? h("ul", {}, invoices.items.map((i) => h("li", {}, h("a", { href: `/app/my-invoices/${i.id}`, text: i.number }), " — " + money(i.total_cents, i.currency))))
        : h("p", { class: "empty", text: "Nothing to pay." }))));
}
