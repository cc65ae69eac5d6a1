// The client's own invoices (never drafts) and each one's lines.

import { get, query } from "../core/api.js";
import { h, clear } from "../core/dom.js";
import { money, date } from "../core/format.js";
import { pageHeader, card, badge, listView, facts, table, linkButton } from "../core/ui.js";

export function invoiceLines(invoice) {
  return h("div", {},
    table([
      { label: "Description", key: "description" },
      { label: "Quantity", key: "quantity" },
      { label: "Unit price", render: (l) => money(l.unit_price_cents, invoice.currency) },
      { label: "Amount", render: (l) => money(l.amount_cents, invoice.currency) },
    ], invoice.lines, { caption: "Invoice lines" }),
    h("p", { class: "totals", id: "invoice-total", text: "Total: " + money(invoice.total_cents, invoice.currency) }));
}

async function showOne(view, id) {
  const invoice = await get(`/api/portal/invoices/${id}`);
  view.append(
    pageHeader("Invoice " + invoice.number, linkButton("/app/my-invoices", "All my invoices", true),
      h("button", { type: "button", class: "secondary", text: "Print", onclick: () => window.print() })),
    card(null, facts([
      ["Status", badge(invoice.status)],
      ["Issued", date(invoice.issued_at)],
      ["Paid", invoice.paid_at ? date(invoice.paid_at) : "Not yet"],
    ]), invoiceLines(invoice)));
}

export async function render(view, ctx) {
  clear(view);
  if (ctx.id) return showOne(view, ctx.id);
  const list = listView({
    filters: [{ name: "status", label: "Status", options: ["sent", "paid", "void"].map((s) => ({ value: s, label: badge(s).textContent })) }],
    columns: [
      { label: "Invoice", render: (i) => h("a", { href: `/app/my-invoices/${i.id}`, text: i.number }) },
      { label: "Issued", render: (i) => date(i.issued_at) },
      { label: "Total", render: (i) => money(i.total_cents, i.currency) },
      { label: "Status", render: (i) => badge(i.status) },
    ],
    caption: "My invoices",
    empty: "You have no invoices.",
    load: (state) => get("/api/portal/invoices" + query({ status: state.status, limit: state.limit, offset: state.offset })),
  });
  view.append(pageHeader("My invoices"), card(null, list));
}
