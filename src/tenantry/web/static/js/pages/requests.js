// Service requests for staff: the list (newest first), a request filed for a client,
// and one request: triage, assign, move on, convert to a booking, talk, share files.

import { get, post, patch } from "../core/api.js";
import { h, clear } from "../core/dom.js";
import { dateTime, words } from "../core/format.js";
import { makeForm } from "../core/forms.js";
import { pageHeader, card, badge, listView, facts, confirmAction, notify, failed, linkButton } from "../core/ui.js";
import { pageNamingPeople, loadPeople, personLabel, loadServices, serviceName, staffMembers, clients } from "../core/lookups.js";
import { chatCard, filesCard } from "./thread.js";
import { slotPicker } from "./slots.js";

const STATUSES = ["submitted", "triaged", "assigned", "in_progress", "completed", "cancelled"];
const PRIORITIES = ["low", "normal", "high", "urgent"];
const NEXT = { submitted: "triaged", triaged: "assigned", assigned: "in_progress", in_progress: "completed" };
const OPEN = ["submitted", "triaged", "assigned", "in_progress"];

async function showList(view) {
  const [staff] = await Promise.all([staffMembers(), loadServices(false)]);
  const list = listView({
    filters: [
      { name: "status", label: "Status", options: STATUSES.map((s) => ({ value: s, label: words(s) })) },
      { name: "priority", label: "Priority", options: PRIORITIES.map((s) => ({ value: s, label: words(s) })) },
      { name: "assignee_id", label: "Assigned to", any: "Anyone", options: staff.map((p) => ({ value: p.id, label: p.name || p.email })) },
      { name: "q", label: "Search", placeholder: "Words in the title or details" },
    ],
    sorts: [{ value: "newest", label: "Newest first" }, { value: "oldest", label: "Oldest first" }],
    columns: [
      { label: "Request", render: (r) => h("a", { href: `/app/requests/${r.id}`, text: r.title }) },
      { label: "Client", render: (r) => personLabel(r.client_id) },
      { label: "Priority", render: (r) => badge(r.priority) },
      { label: "Assigned to", render: (r) => (r.assignee_id ? personLabel(r.assignee_id) : "Nobody yet") },
      { label: "Status", render: (r) => badge(r.status) },
      { label: "Received", render: (r) => dateTime(r.created_at) },
    ],
    caption: "Service requests",
    empty: "No requests match.",
    load: pageNamingPeople("/api/admin/service-requests", (state) => ({
      status: state.status, priority: state.priority, assignee_id: state.assignee_id, q: state.q, order: state.sort,
    }), (r) => [r.client_id, r.assignee_id]),
  });
  view.append(pageHeader("Service requests", linkButton("/app/requests/new", "New request")), card(null, list));
}

async function showNew(view) {
  const [services, clientList] = await Promise.all([loadServices(false), clients()]);
  const form = makeForm({
    fields: [
      { name: "client_id", label: "Client", type: "select", required: true, placeholder: "Choose a client…", options: clientList.map((c) => ({ value: c.id, label: c.name ? `${c.name} (${c.email})` : c.email })) },
      { name: "service_id", label: "Service", type: "select", required: true, options: services.map((s) => ({ value: s.id, label: s.name })) },
      { name: "title", label: "Summary", required: true, maxlength: 200 },
      { name: "description", label: "Details", type: "textarea", rows: 4 },
      { name: "priority", label: "Priority", type: "select", required: true, value: "normal", options: PRIORITIES.map((p) => ({ value: p, label: words(p) })) },
    ],
    submit: "File request",
    onSubmit: async (values) => {
      const created = await post("/api/admin/service-requests", { ...values, description: values.description || "" });
      window.location.assign(`/app/requests/${created.id}`);
    },
  });
  view.append(pageHeader("New request", linkButton("/app/requests", "All requests", true)), card(null, form));
}

async function showOne(view, id, ctx) {
  const request = await get(`/api/admin/service-requests/${id}`);
  const [staff] = await Promise.all([staffMembers(), loadServices(false), loadPeople([request.client_id, request.assignee_id])]);
  const reload = async (message) => {
    notify(message);
    clear(view);
    await showOne(view, id, ctx);
  };
  const open = OPEN.includes(request.status);
  const parts = [
    pageHeader(request.title, linkButton("/app/requests", "All requests", true)),
    card(null, facts([
      ["Status", badge(request.status)],
      ["Priority", badge(request.priority)],
      ["Client", h("a", { href: `/app/clients/${request.client_id}`, text: personLabel(request.client_id) })],
      ["Service", serviceName(request.service_id)],
      ["Assigned to", request.assignee_id ? personLabel(request.assignee_id) : "Nobody yet"],
      ["Received", dateTime(request.created_at)],
      ["Details", h("span", { class: "pre", text: request.description || "—" })],
    ])),
  ];
  if (open) {
    const triage = makeForm({
      id: "triage-form",
      fields: [
        { name: "priority", label: "Priority", type: "select", required: true, value: request.priority, options: PRIORITIES.map((p) => ({ value: p, label: words(p) })) },
        { name: "title", label: "Summary", required: true, value: request.title, maxlength: 200 },
        { name: "description", label: "Details", type: "textarea", value: request.description, rows: 3 },
      ],
      submit: "Save triage",
      onSubmit: async (values) => {
        await patch(`/api/admin/service-requests/${id}`, { ...values, description: values.description || "" });
        if (request.status === "submitted") await post(`/api/admin/service-requests/${id}/status`, { status: "triaged" });
        await reload("Triaged.");
      },
    });
    const assign = makeForm({
      id: "assign-form",
      fields: [{ name: "assignee_id", label: "Team member", type: "select", required: true, placeholder: "Choose…", value: request.assignee_id,
        options: staff.map((p) => ({ value: p.id, label: p.name || p.email })) }],
      submit: "Assign",
      codeFields: { unknown_assignee: "assignee_id" },
      onSubmit: async (values) => {
        await post(`/api/admin/service-requests/${id}/assign`, values);
        await reload("Assigned.");
      },
    });
    const step = NEXT[request.status];
    const moves = h("div", { class: "actions-row", id: "status-actions" },
      step && step !== "assigned" ? h("button", { type: "button", text: "Mark " + words(step).toLowerCase(),
        onclick: async () => {
          try {
            await post(`/api/admin/service-requests/${id}/status`, { status: step });
            await reload("Now " + words(step).toLowerCase() + ".");
          } catch (error) { failed(error); }
        } }) : null,
      h("button", { type: "button", class: "secondary", text: "Cancel request",
        onclick: async () => {
          if (!(await confirmAction("Cancel this request?", "Cancel request", { detail: "The client sees it as cancelled." }))) return;
          try {
            await post(`/api/admin/service-requests/${id}/status`, { status: "cancelled" });
            await reload("Cancelled.");
          } catch (error) { failed(error); }
        } }),
      linkButton(`/app/work-orders/new?request=${id}`, "Create work order", true));
    let chosen = null;
    const convert = h("button", { type: "button", text: "Book this time", disabled: true, id: "convert" });
    const picker = slotPicker({ path: "/api/admin/availability", serviceId: request.service_id, assigneeId: request.assignee_id || undefined,
      onPick: (slot) => { chosen = slot; convert.disabled = !slot; } });
    convert.addEventListener("click", async () => {
      if (!chosen) return;
      try {
        const booking = await post(`/api/admin/service-requests/${id}/convert-to-booking`, { starts_at: chosen.starts_at });
        notify("Booked for " + dateTime(booking.starts_at) + ".");
        window.location.assign(`/app/bookings/${booking.id}`);
      } catch (error) { failed(error); }
    });
    parts.push(h("div", { class: "grid-2" }, card("Triage", triage), card("Assign", assign)),
      card("Progress", moves),
      card("Book a visit for this request", picker, h("div", { class: "form-actions" }, convert)));
  }
  parts.push(h("div", { class: "grid-2" },
    chatCard({ base: "/api/admin", requestId: id, me: ctx.session.user.id, portal: false }),
    filesCard({ base: "/api/admin", requestId: id, portal: false })));
  view.append(...parts);
}

export async function render(view, ctx) {
  clear(view);
  if (ctx.id === "new") return showNew(view);
  if (ctx.id) return showOne(view, ctx.id, ctx);
  return showList(view);
}
