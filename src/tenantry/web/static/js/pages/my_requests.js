// The client's own service requests: the list, a new request, and one request with
// its conversation and files.

import { get, post, query } from "../core/api.js";
import { h, clear } from "../core/dom.js";
import { dateTime, words } from "../core/format.js";
import { makeForm } from "../core/forms.js";
import { pageHeader, card, badge, listView, facts, confirmAction, notify, failed, linkButton } from "../core/ui.js";
import { loadServices, serviceName } from "../core/lookups.js";
import { chatCard, filesCard } from "./thread.js";

const STATUSES = ["submitted", "triaged", "assigned", "in_progress", "completed", "cancelled"];

async function showNew(view) {
  const services = await loadServices(true);
  const form = makeForm({
    fields: [
      { name: "service_id", label: "What do you need?", type: "select", required: true, options: services.map((s) => ({ value: s.id, label: s.name })) },
      { name: "title", label: "Short summary", required: true, maxlength: 200, placeholder: "e.g. Kitchen tap is leaking" },
      { name: "description", label: "Details", type: "textarea", rows: 5, help: "Where, since when, anything we should know." },
    ],
    submit: "Send request",
    onSubmit: async (values) => {
      const created = await post("/api/portal/service-requests", { ...values, description: values.description || "" });
      window.location.assign(`/app/my-requests/${created.id}`);
    },
  });
  view.append(pageHeader("Ask for help", linkButton("/app/my-requests", "My requests", true)), card(null, form));
}

async function showOne(view, id, ctx) {
  const request = await get(`/api/portal/service-requests/${id}`);
  await loadServices(true);
  const open = !["completed", "cancelled"].includes(request.status);
  const cancel = open ? h("button", { type: "button", class: "secondary", text: "Cancel request",
    onclick: async () => {
      if (!(await confirmAction("Cancel this request?", "Cancel request"))) return;
      try {
        await post(`/api/portal/service-requests/${id}/cancel`);
        notify("The request is cancelled.");
        clear(view);
        await showOne(view, id, ctx);
      } catch (error) {
        failed(error);
      }
    } }) : null;
  view.append(
    pageHeader(request.title, linkButton("/app/my-requests", "My requests", true)),
    card(null, facts([
      ["Status", badge(request.status)],
      ["Service", serviceName(request.service_id)],
      ["Sent", dateTime(request.created_at)],
      ["Details", h("span", { class: "pre", text: request.description || "—" })],
    ]), cancel ? h("div", { class: "actions-row" }, cancel) : null),
    h("div", { class: "grid-2" },
      chatCard({ base: "/api/portal", requestId: id, me: ctx.session.user.id, portal: true }),
      filesCard({ base: "/api/portal", requestId: id, portal: true })));
}

export async function render(view, ctx) {
  clear(view);
  if (ctx.id === "new") return showNew(view);
  if (ctx.id) return showOne(view, ctx.id, ctx);
  await loadServices(true);
  const list = listView({
    filters: [{ name: "status", label: "Status", options: STATUSES.map((s) => ({ value: s, label: words(s) })) }],
    columns: [
      { label: "Request", render: (r) => h("a", { href: `/app/my-requests/${r.id}`, text: r.title }) },
      { label: "Service", render: (r) => serviceName(r.service_id) },
      { label: "Sent", render: (r) => dateTime(r.created_at) },
      { label: "Status", render: (r) => badge(r.status) },
    ],
    caption: "My requests",
    empty: "You have not asked for anything yet.",
    load: (state) => get("/api/portal/service-requests" + query({ status: state.status, limit: state.limit, offset: state.offset })),
  });
  view.append(pageHeader("My requests", linkButton("/app/my-requests/new", "Ask for help")), card(null, list));
}
