// Expenses: record one (with a receipt), approve or reject the ones that wait.

import { get, post, api } from "../core/api.js";
import { h, clear } from "../core/dom.js";
import { money, plainDate, words, today } from "../core/format.js";
import { makeForm } from "../core/forms.js";
import { pageHeader, card, badge, listView, confirmAction, notify, failed } from "../core/ui.js";
import { pageNamingPeople, personLabel } from "../core/lookups.js";

const STATUSES = ["submitted", "approved", "rejected", "reimbursed"];

export async function render(view, ctx) {
  clear(view);
  let list;
  const decide = (expense, verb) => h("button", { type: "button", class: verb === "approve" ? "" : "secondary",
    text: verb === "approve" ? "Approve" : "Reject", "aria-label": `${verb === "approve" ? "Approve" : "Reject"} ${expense.category} ${money(expense.amount_cents)}`,
    onclick: async () => {
      if (verb === "reject" && !(await confirmAction("Reject this expense?", "Reject", { detail: `${expense.category}: ${money(expense.amount_cents)}` }))) return;
      try {
        await post(`/api/admin/expenses/${expense.id}/${verb}`);
        notify(verb === "approve" ? "Approved." : "Rejected.");
        list.refresh();
      } catch (error) { failed(error); }
    } });
  const receipts = (expense) => {
    const holder = h("span", {});
    holder.appendChild(h("button", { type: "button", class: "link", text: "Show receipts",
      "aria-label": `Show receipts for ${expense.category} ${money(expense.amount_cents)}`,
      onclick: async () => {
        try {
          const page = await get(`/api/admin/expenses/${expense.id}/attachments?limit=20`);
          clear(holder);
          if (!page.items.length) holder.textContent = "None";
          page.items.forEach((a) => holder.appendChild(h("span", { class: "receipt" },
            a.scan_status === "clean"
              ? h("a", { href: `/api/admin/attachments/${a.id}/download`, text: a.filename, download: a.filename })
              : `${a.filename} (${words(a.scan_status, "scan").toLowerCase()})`, " ")));
        } catch (error) { failed(error); }
      } }));
    return holder;
  };
  list = listView({
    filters: [{ name: "status", label: "Status", options: STATUSES.map((s) => ({ value: s, label: words(s, "expense") })) }],
    columns: [
      { label: "Spent on", render: (e) => plainDate(e.incurred_on) },
      { label: "Category", key: "category" },
      { label: "Amount", render: (e) => money(e.amount_cents) },
      { label: "By", render: (e) => personLabel(e.user_id) },
      { label: "Status", render: (e) => badge(e.status, "expense") },
      { label: "Receipts", render: receipts },
      { label: "", render: (e) => (e.status === "submitted" ? h("span", { class: "actions-row" }, decide(e, "approve"), decide(e, "reject")) : "") },
    ],
    caption: "Expenses",
    empty: "No expenses recorded.",
    load: pageNamingPeople("/api/admin/expenses", (state) => ({ status: state.status }), (e) => [e.user_id]),
  });
  const form = makeForm({
    fields: [
      { name: "amount_cents", label: "Amount", type: "money", required: true, min: 0.01 },
      { name: "category", label: "Category", required: true, maxlength: 60, placeholder: "e.g. supplies, fuel" },
      { name: "incurred_on", label: "Spent on", type: "date", required: true, value: today(), max: today() },
      { name: "description", label: "Note", type: "textarea", rows: 2 },
      { name: "receipt", label: "Receipt", type: "file", accept: "image/*,application/pdf", help: "A photo or PDF of the receipt." },
    ],
    submit: "Record expense",
    onSubmit: async (values, formEl) => {
      const expense = await post("/api/admin/expenses", { amount_cents: values.amount_cents, category: values.category,
        incurred_on: values.incurred_on, description: values.description || "" });
      if (values.receipt) {
        const data = new FormData();
        data.append("file", values.receipt);
        await api("POST", `/api/admin/expenses/${expense.id}/attachments`, data);
      }
      formEl.reset();
      notify(expense.status === "approved" ? "Recorded and approved (under the approval threshold)." : "Recorded; it waits for approval.");
      list.refresh();
    },
  });
  view.append(pageHeader("Expenses"), card(null, list), card("Record an expense", form));
}
