// Clients: the tenant's client list (searchable), and one client with their requests,
// bookings and invoices — each from its own scoped list, filtered by the client.

import { get, query } from "../core/api.js";
import { h, clear } from "../core/dom.js";
import { dateTime, date, money } from "../core/format.js";
import { pageHeader, card, badge, listView, facts, table, linkButton } from "../core/ui.js";
import { loadServices, serviceName } from "../core/lookups.js";

async function showOne(view, id) {
  const found = await get("/api/admin/users" + query({ id: [id], limit: 1 }));
  const client = found.items[0];
  await loadServices(false);
  const safe = (p) => p.catch(() => null);
  const [requests, bookings, invoices] = await Promise.all([
    safe(get("/api/admin/service-requests" + query({ client_id: id, limit: 50 }))),
    safe(get("/api/admin/bookings" + query({ client_id: id, order: "latest", limit: 50 }))),
    safe(get("/api/admin/invoices" + query({ client_id: id, limit: 50 }))),
  ]);
  const unavailable = h("p", { class: "muted", text: "Your role cannot see these." });
  view.append(
    pageHeader(client ? client.name || client.email : "Former client", linkButton("/app/clients", "All clients", true),
      linkButton(`/app/bookings/new?client=${id}`, "Book a visit"), linkButton(`/app/invoices/new?client=${id}`, "New invoice", true)),
    card(null, facts([["Email", client ? client.email : "—"], ["Client since", client ? date(client.member_since) : "—"]])),
    card("Requests", requests ? table([
      { label: "Request", render: (r) => h("a", { href: `/app/requests/${r.id}`, text: r.title }) },
      { label: "Received", render: (r) => dateTime(r.created_at) },
      { label: "Status", render: (r) => badge(r.status) },
    ], requests.items, { empty: "No requests.", caption: "Requests" }) : unavailable.cloneNode(true)),
    card("Bookings", bookings ? table([
      { label: "When", render: (b) => h("a", { href: `/app/bookings/${b.id}`, text: dateTime(b.starts_at) }) },
      { label: "Service", render: (b) => serviceName(b.service_id) },
      { label: "Status", render: (b) => badge(b.status) },
    ], bookings.items, { empty: "No bookings.", caption: "Bookings" }) : unavailable.cloneNode(true)),
    card("Invoices", invoices ? table([
      { label: "Invoice", render: (i) => h("a", { href: `/app/invoices/${i.id}`, text: i.number }) },
      { label: "Total", render: (i) => money(i.total_cents, i.currency) },
      { label: "Status", render: (i) => badge(i.status) },
    ], invoices.items, { empty: "No invoices.", caption: "Invoices" }) : unavailable.cloneNode(true)));
}

export async function render(view, ctx) {
  clear(view);
  if (ctx.id) return showOne(view, ctx.id);
  const list = listView({
    filters: [{ name: "q", label: "Search", placeholder: "Name or email" }],
    columns: [
      { label: "Client", render: (c) => h("a", { href: `/app/clients/${c.id}`, text: c.name || c.email }) },
      { label: "Email", key: "email" },
      { label: "Client since", render: (c) => date(c.member_since) },
    ],
    caption: "Clients",
    empty: "No clients found.",
    load: (state) => get("/api/admin/users" + query({ role: "client", q: state.q, limit: state.limit, offset: state.offset })),
  });
  view.append(pageHeader("Clients"), card(null, list));
}
