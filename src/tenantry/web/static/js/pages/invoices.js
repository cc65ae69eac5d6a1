// Invoices: list, create with lines (from a booking or for a client), send, mark
// paid, void (asked first), and a printable view.

import { get, post } from "../core/api.js";
import { h, clear } from "../core/dom.js";
import { money, date, dateTime, words } from "../core/format.js";
import { makeForm, setFieldError } from "../core/forms.js";
import { pageHeader, card, badge, listView, facts, confirmAction, notify, failed, linkButton } from "../core/ui.js";
import { pageNamingPeople, loadPeople, personLabel, person, loadServices, clients } from "../core/lookups.js";
import { invoiceLines } from "./my_invoices.js";

const STATUSES = ["draft", "sent", "paid", "void"];

async function showList(view) {
  const list = listView({
    filters: [{ name: "status", label: "Status", options: STATUSES.map((s) => ({ value: s, label: words(s) })) }],
    sorts: [{ value: "newest", label: "Newest first" }, { value: "oldest", label: "Oldest first" }],
    columns: [
      { label: "Invoice", render: (i) => h("a", { href: `/app/invoices/${i.id}`, text: i.number }) },
      { label: "Client", render: (i) => personLabel(i.client_id) },
      { label: "Issued", render: (i) => (i.issued_at ? date(i.issued_at) : "Not sent") },
      { label: "Total", render: (i) => money(i.total_cents, i.currency) },
      { label: "Status", render: (i) => badge(i.status) },
    ],
    caption: "Invoices",
    empty: "No invoices yet.",
    load: pageNamingPeople("/api/admin/invoices", (state) => ({ status: state.status, order: state.sort }), (i) => [i.client_id]),
  });
  view.append(pageHeader("Invoices", linkButton("/app/invoices/new", "New invoice")), card(null, list));
}

function lineEditor(initial) {
  const rows = h("div", { class: "lines-editor", id: "lines" });
  let n = 0;
  const addLine = (line) => {
    n += 1;
    const l = line || {};
    const id = "line-" + n;
    const remove = h("button", { type: "button", class: "secondary", text: "Remove line", "aria-label": "Remove line " + n });
    const row = h("fieldset", { class: "line-row" },
      h("legend", { text: "Line " + n }),
      h("div", { class: "field", dataset: { field: id + "-description" } }, h("label", { for: id + "-d", text: "Description" }),
        h("input", { id: id + "-d", class: "line-description", value: l.description || "", maxlength: 500 }), h("p", { class: "field-error", hidden: true })),
      h("div", { class: "field" }, h("label", { for: id + "-q", text: "Quantity" }),
        h("input", { id: id + "-q", class: "line-quantity", type: "number", min: 1, value: l.quantity || 1 })),
      h("div", { class: "field" }, h("label", { for: id + "-p", text: "Unit price" }),
        h("input", { id: id + "-p", class: "line-price", type: "number", step: "0.01", inputmode: "decimal",
          value: l.unit_price_cents !== undefined ? (l.unit_price_cents / 100).toFixed(2) : "" })),
      remove);
    remove.addEventListener("click", () => { if (rows.children.length > 1) row.remove(); });
    rows.appendChild(row);
  };
  (initial && initial.length ? initial : [null]).forEach(addLine);
  const add = h("button", { type: "button", class: "secondary", text: "Add a line", onclick: () => addLine() });
  const box = h("div", { class: "field", dataset: { field: "lines" } }, h("p", { class: "label", text: "Lines" }), rows, add, h("p", { class: "field-error", hidden: true }));
  box.read = () => Array.from(rows.querySelectorAll(".line-row")).map((row) => ({
    description: row.querySelector(".line-description").value.trim(),
    quantity: Number(row.querySelector(".line-quantity").value || 1),
    unit_price_cents: Math.round(Number(row.querySelector(".line-price").value || 0) * 100),
  }));
  return box;
}

async function showNew(view) {
  const params = new URLSearchParams(window.location.search);
  const bookingId = params.get("booking");
  let booking = null;
  let initialLines = [];
  const services = await loadServices(false);
  if (bookingId) {
    booking = await get(`/api/admin/bookings/${bookingId}`);
    const service = services.find((s) => s.id === booking.service_id);
    initialLines = [{ description: `${service ? service.name : "Service"} on ${dateTime(booking.starts_at)}`, quantity: 1, unit_price_cents: service ? service.price_cents : 0 }];
    await loadPeople([booking.client_id]);
  }
  const clientList = booking ? [] : await clients();
  const lines = lineEditor(initialLines);
  const form = makeForm({
    fields: booking
      ? [{ name: "client_id", type: "hidden", label: "Client", value: booking.client_id }]
      : [{ name: "client_id", label: "Client", type: "select", required: true, placeholder: "Choose a client…", value: params.get("client"),
        options: clientList.map((c) => ({ value: c.id, label: c.name ? `${c.name} (${c.email})` : c.email })) }],
    extra: lines,
    submit: "Create invoice",
    codeFields: { unknown_client: "client_id", invoice_total_negative: "lines" },
    onSubmit: async (values, formEl) => {
      const body = { client_id: values.client_id, lines: lines.read() };
      if (booking) body.booking_id = booking.id;
      if (body.lines.some((l) => !l.description)) {
        setFieldError(formEl, "lines", "Every line needs a description.");
        return;
      }
      const invoice = await post("/api/admin/invoices", body);
      window.location.assign(`/app/invoices/${invoice.id}`);
    },
  });
  view.append(pageHeader("New invoice", linkButton("/app/invoices", "All invoices", true)),
    booking ? card(null, facts([["Client", personLabel(booking.client_id)], ["Booking", dateTime(booking.starts_at)]])) : null,
    card(null, form));
}

async function showOne(view, id, print) {
  const invoice = await get(`/api/admin/invoices/${id}`);
  await loadPeople([invoice.client_id]);
  const client = person(invoice.client_id);
  if (print) {
    document.body.classList.add("printing");
    view.append(h("article", { class: "card invoice-print", id: "invoice-print" },
      h("h1", { text: "Invoice " + invoice.number }),
      facts([["Billed to", client ? `${client.name || ""} ${client.email}`.trim() : "—"], ["Issued", date(invoice.issued_at)], ["Status", words(invoice.status)]]),
      invoiceLines(invoice),
      h("p", { class: "no-print actions-row" }, h("button", { type: "button", text: "Print", onclick: () => window.print() }),
        linkButton(`/app/invoices/${id}`, "Back", true))));
    return;
  }
  const act = async (path, message) => {
    try {
      await post(`/api/admin/invoices/${id}/${path}`);
      notify(message);
      clear(view);
      await showOne(view, id, false);
    } catch (error) {
      failed(error);
    }
  };
  const actions = h("div", { class: "actions-row", id: "invoice-actions" });
  if (invoice.status === "draft") actions.appendChild(h("button", { type: "button", text: "Send to client", onclick: () => act("send", "Sent.") }));
  if (invoice.status === "sent") actions.appendChild(h("button", { type: "button", text: "Mark paid", onclick: () => act("mark-paid", "Marked paid.") }));
  if (["draft", "sent"].includes(invoice.status)) {
    actions.appendChild(h("button", { type: "button", class: "secondary", text: "Void",
      onclick: async () => {
        if (await confirmAction(`Void invoice ${invoice.number}?`, "Void invoice", { detail: "A void invoice cannot be sent or paid again." })) act("void", "Voided.");
      } }));
  }
  actions.appendChild(linkButton(`/app/invoices/${id}/print`, "Printable view", true));
  view.append(pageHeader("Invoice " + invoice.number, linkButton("/app/invoices", "All invoices", true)),
    card(null, facts([
      ["Client", h("a", { href: `/app/clients/${invoice.client_id}`, text: personLabel(invoice.client_id) })],
      ["Status", badge(invoice.status)],
      ["Issued", invoice.issued_at ? date(invoice.issued_at) : "Not sent yet"],
      ["Paid", invoice.paid_at ? date(invoice.paid_at) : "Not yet"],
      invoice.booking_id ? ["Booking", h("a", { href: `/app/bookings/${invoice.booking_id}`, text: "Open the booking" })] : null,
    ]), actions),
    card("Lines", invoiceLines(invoice)));
}

export async function render(view, ctx) {
  clear(view);
  if (ctx.id === "new") return showNew(view);
  if (ctx.id) return showOne(view, ctx.id, ctx.sub === "print");
  return showList(view);
}
