// Work orders: jobs for the team, from a request or a booking, with a due time and
// a status that moves open → in progress → done.

import { get, post, patch } from "../core/api.js";
import { h, clear } from "../core/dom.js";
import { dateTime, words, localDay, zonedInstant, clock } from "../core/format.js";
import { makeForm } from "../core/forms.js";
import { pageHeader, card, badge, listView, facts, confirmAction, notify, failed, linkButton } from "../core/ui.js";
import { pageNamingPeople, loadPeople, personLabel, staffMembers } from "../core/lookups.js";

const STATUSES = ["open", "in_progress", "done", "cancelled"];
const NEXT = { open: "in_progress", in_progress: "done" };

function dueField(value) {
  return [
    { name: "due_day", label: "Due date", type: "date", value: value ? localDay(value) : "" },
    { name: "due_time", label: "Due time", type: "time", value: value ? clock(value) : "17:00" },
  ];
}

function due(values) {
  return values.due_day ? zonedInstant(values.due_day, values.due_time || "17:00").toISOString() : null;
}

export async function render(view, ctx) {
  clear(view);
  const staff = await staffMembers();
  const staffOptions = staff.map((p) => ({ value: p.id, label: p.name || p.email }));
  if (ctx.id === "new") {
    const params = new URLSearchParams(window.location.search);
    const form = makeForm({
      fields: [
        { name: "title", label: "Title", maxlength: 200, help: params.get("request") ? "Left empty: the request's title." : undefined, required: !params.get("request") && !params.get("booking") },
        { name: "description", label: "What to do", type: "textarea", rows: 4 },
        { name: "assignee_id", label: "Team member", type: "select", placeholder: "Nobody yet", options: staffOptions },
        ...dueField(null),
      ],
      submit: "Create work order",
      onSubmit: async (values) => {
        const body = { title: values.title, description: values.description || "", assignee_id: values.assignee_id, due_at: due(values),
          service_request_id: params.get("request") || undefined, booking_id: params.get("booking") || undefined };
        const created = await post("/api/admin/work-orders", body);
        window.location.assign(`/app/work-orders/${created.id}`);
      },
    });
    view.append(pageHeader("New work order", linkButton("/app/work-orders", "All work orders", true)), card(null, form));
    return;
  }
  if (ctx.id) {
    const order = await get(`/api/admin/work-orders/${ctx.id}`);
    await loadPeople([order.assignee_id]);
    const reload = async (message) => { notify(message); await render(view, ctx); };
    const form = makeForm({
      fields: [
        { name: "title", label: "Title", required: true, value: order.title, maxlength: 200 },
        { name: "description", label: "What to do", type: "textarea", value: order.description, rows: 4 },
        { name: "assignee_id", label: "Team member", type: "select", placeholder: "Nobody yet", value: order.assignee_id, options: staffOptions },
        ...dueField(order.due_at),
      ],
      submit: "Save",
      onSubmit: async (values) => {
        const body = { title: values.title, description: values.description || "", due_at: due(values) || undefined };
        if (values.assignee_id) body.assignee_id = values.assignee_id;
        await patch(`/api/admin/work-orders/${ctx.id}`, body);
        await reload("Saved.");
      },
    });
    const step = NEXT[order.status];
    const moves = h("div", { class: "actions-row" },
      step ? h("button", { type: "button", text: "Mark " + words(step).toLowerCase(), onclick: async () => {
        try { await post(`/api/admin/work-orders/${ctx.id}/status`, { status: step }); await reload("Updated."); } catch (e) { failed(e); }
      } }) : null,
      ["open", "in_progress"].includes(order.status) ? h("button", { type: "button", class: "secondary", text: "Cancel work order", onclick: async () => {
        if (!(await confirmAction("Cancel this work order?", "Cancel work order"))) return;
        try { await post(`/api/admin/work-orders/${ctx.id}/status`, { status: "cancelled" }); await reload("Cancelled."); } catch (e) { failed(e); }
      } }) : null);
    view.append(pageHeader(order.title, linkButton("/app/work-orders", "All work orders", true)),
      card(null, facts([
        ["Status", badge(order.status)],
        ["Team member", order.assignee_id ? personLabel(order.assignee_id) : "Nobody yet"],
        ["Due", order.due_at ? dateTime(order.due_at) : "No date"],
        order.service_request_id ? ["Request", h("a", { href: `/app/requests/${order.service_request_id}`, text: "Open the request" })] : null,
        order.booking_id ? ["Booking", h("a", { href: `/app/bookings/${order.booking_id}`, text: "Open the booking" })] : null,
      ]), moves),
      card("Edit", form));
    return;
  }
  const list = listView({
    filters: [
      { name: "status", label: "Status", options: STATUSES.map((s) => ({ value: s, label: words(s) })) },
      { name: "assignee_id", label: "Team member", any: "Everyone", options: staffOptions },
    ],
    columns: [
      { label: "Work order", render: (w) => h("a", { href: `/app/work-orders/${w.id}`, text: w.title }) },
      { label: "Team member", render: (w) => (w.assignee_id ? personLabel(w.assignee_id) : "Nobody yet") },
      { label: "Due", render: (w) => (w.due_at ? dateTime(w.due_at) : "No date") },
      { label: "Status", render: (w) => badge(w.status) },
    ],
    caption: "Work orders",
    empty: "No work orders match.",
    load: pageNamingPeople("/api/admin/work-orders", (state) => ({ status: state.status, assignee_id: state.assignee_id }), (w) => [w.assignee_id]),
  });
  view.append(pageHeader("Work orders", linkButton("/app/work-orders/new", "New work order")), card(null, list));
}
