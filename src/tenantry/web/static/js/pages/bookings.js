// Bookings: the list (upcoming first), a new booking from the free slots, and one
// booking with its actions: confirm, complete, reschedule, cancel, invoice.

import { get, post } from "../core/api.js";
import { h, clear } from "../core/dom.js";
import { dateTime, words } from "../core/format.js";
import { makeForm } from "../core/forms.js";
import { pageHeader, card, badge, listView, facts, confirmAction, notify, failed, linkButton } from "../core/ui.js";
import { pageNamingPeople, loadPeople, personLabel, loadServices, serviceName, staffMembers, clients } from "../core/lookups.js";
import { slotPicker } from "./slots.js";

const STATUSES = ["pending", "confirmed", "completed", "cancelled"];

async function showList(view) {
  const [staff] = await Promise.all([staffMembers(), loadServices(false)]);
  const list = listView({
    filters: [
      { name: "when", label: "When", any: "Any time", value: "upcoming", options: [{ value: "upcoming", label: "Upcoming" }, { value: "past", label: "Past" }] },
      { name: "status", label: "Status", options: STATUSES.map((s) => ({ value: s, label: words(s) })) },
      { name: "assignee_id", label: "Team member", any: "Everyone", options: staff.map((p) => ({ value: p.id, label: p.name || p.email })) },
    ],
    sorts: [{ value: "soonest", label: "Soonest first" }, { value: "latest", label: "Latest first" }],
    columns: [
      { label: "When", render: (b) => h("a", { href: `/app/bookings/${b.id}`, text: dateTime(b.starts_at) }) },
      { label: "Client", render: (b) => personLabel(b.client_id) },
      { label: "Service", render: (b) => serviceName(b.service_id) },
      { label: "Team member", render: (b) => (b.assignee_id ? personLabel(b.assignee_id) : "Not assigned") },
      { label: "Status", render: (b) => badge(b.status) },
    ],
    caption: "Bookings",
    empty: "No bookings match.",
    load: pageNamingPeople("/api/admin/bookings", (state) => {
      const now = new Date().toISOString();
      return {
        status: state.status, assignee_id: state.assignee_id, order: state.sort,
        from: state.when === "upcoming" ? now : undefined, to: state.when === "past" ? now : undefined,
      };
    }, (b) => [b.client_id, b.assignee_id]),
  });
  view.append(pageHeader("Bookings", linkButton("/app/bookings/new", "New booking")), card(null, list));
}

async function showNew(view) {
  const params = new URLSearchParams(window.location.search);
  const [services, staff, clientList] = await Promise.all([loadServices(false), staffMembers(), clients()]);
  const active = services.filter((s) => s.active);
  let chosen = null;
  const chosenText = h("p", { class: "muted", id: "chosen-slot", "aria-live": "polite", text: "Choose a time." });
  const pickerHolder = h("div");
  const form = makeForm({
    fields: [
      { name: "client_id", label: "Client", type: "select", required: true, placeholder: "Choose a client…", value: params.get("client"),
        options: clientList.map((c) => ({ value: c.id, label: c.name ? `${c.name} (${c.email})` : c.email })) },
      { name: "service_id", label: "Service", type: "select", required: true, value: params.get("service") || (active[0] && active[0].id),
        options: active.map((s) => ({ value: s.id, label: s.name })) },
      { name: "assignee_id", label: "Team member", type: "select", placeholder: "Anyone free", value: params.get("assignee"),
        options: staff.map((p) => ({ value: p.id, label: p.name || p.email })) },
      { name: "status", label: "Status", type: "select", required: true, value: "confirmed",
        options: [{ value: "confirmed", label: "Confirmed" }, { value: "pending", label: "Waiting for confirmation" }] },
      { name: "notes", label: "Notes", type: "textarea", rows: 3 },
    ],
    extra: h("div", { class: "field", dataset: { field: "starts_at" } }, h("p", { class: "label", text: "Time" }), pickerHolder, chosenText,
      h("p", { class: "field-error", hidden: true })),
    submit: "Book",
    codeFields: {
      slot_taken: "starts_at", within_buffer: "starts_at", no_one_available: "starts_at", notice_too_short: "starts_at",
      booking_in_past: "starts_at", outside_business_hours: "starts_at", off_slot_grid: "starts_at", too_far_ahead: "starts_at",
      unknown_client: "client_id", unknown_assignee: "assignee_id", unknown_service: "service_id",
    },
    onSubmit: async (values) => {
      if (!chosen) {
        chosenText.textContent = "Please choose a time.";
        return;
      }
      const booking = await post("/api/admin/bookings", { ...values, notes: values.notes || "", starts_at: chosen.starts_at });
      window.location.assign(`/app/bookings/${booking.id}`);
    },
  });
  const refreshPicker = () => {
    chosen = null;
    const serviceId = form.elements.service_id.value;
    if (!serviceId) return;
    clear(pickerHolder).appendChild(slotPicker({
      path: "/api/admin/availability", serviceId, assigneeId: form.elements.assignee_id.value || undefined,
      onPick: (slot) => { chosen = slot; chosenText.textContent = slot ? "Chosen: " + dateTime(slot.starts_at) : "Choose a time."; },
    }));
  };
  form.elements.service_id.addEventListener("change", refreshPicker);
  form.elements.assignee_id.addEventListener("change", refreshPicker);
  view.append(pageHeader("New booking", linkButton("/app/bookings", "All bookings", true)),
    active.length ? card(null, form) : card(null, h("p", {}, "Add a bookable service first: ", h("a", { href: "/app/services", text: "Services" }))));
  refreshPicker();
}

function actionButton(text, onclick, secondary) {
  return h("button", { type: "button", class: secondary ? "secondary" : "", text, onclick });
}

async function showOne(view, id) {
  const booking = await get(`/api/admin/bookings/${id}`);
  await Promise.all([loadPeople([booking.client_id, booking.assignee_id]), loadServices(false)]);
  const act = async (path, message, body) => {
    try {
      await post(`/api/admin/bookings/${id}/${path}`, body);
      notify(message);
      clear(view);
      await showOne(view, id);
    } catch (error) {
      failed(error);
    }
  };
  const actions = h("div", { class: "actions-row", id: "booking-actions" });
  if (booking.status === "pending") actions.appendChild(actionButton("Confirm", () => act("confirm", "Confirmed.")));
  if (booking.status === "confirmed") actions.appendChild(actionButton("Mark completed", () => act("complete", "Marked completed.")));
  if (["pending", "confirmed"].includes(booking.status)) {
    actions.appendChild(actionButton("Cancel booking", async () => {
      const answer = await confirmAction("Cancel this booking?", "Cancel booking", { reason: "Reason", reasonRequired: true,
        detail: `${serviceName(booking.service_id)} for ${personLabel(booking.client_id)}, ${dateTime(booking.starts_at)}` });
      if (answer) act("cancel", "Cancelled.", { reason: answer.reason });
    }, true));
  }
  if (booking.status !== "cancelled") {
    actions.appendChild(linkButton(`/app/invoices/new?booking=${booking.id}`, "Create invoice", true));
  }
  const parts = [
    pageHeader("Booking", linkButton("/app/bookings", "All bookings", true)),
    card(null, facts([
      ["When", dateTime(booking.starts_at) + " – " + dateTime(booking.ends_at).split(", ").pop()],
      ["Client", h("a", { href: `/app/clients/${booking.client_id}`, text: personLabel(booking.client_id) })],
      ["Service", serviceName(booking.service_id)],
      ["Team member", booking.assignee_id ? personLabel(booking.assignee_id) : "Not assigned"],
      ["Status", badge(booking.status)],
      ["Notes", h("span", { class: "pre", text: booking.notes || "—" })],
      booking.service_request_id ? ["Request", h("a", { href: `/app/requests/${booking.service_request_id}`, text: "Open the request" })] : null,
    ]), actions),
  ];
  if (["pending", "confirmed"].includes(booking.status)) {
    let chosen = null;
    const move = h("button", { type: "button", text: "Move to this time", disabled: true });
    const picker = slotPicker({
      path: "/api/admin/availability", serviceId: booking.service_id, assigneeId: booking.assignee_id || undefined,
      onPick: (slot) => { chosen = slot; move.disabled = !slot; },
    });
    move.addEventListener("click", () => chosen && act("reschedule", "Moved to " + dateTime(chosen.starts_at) + ".", { starts_at: chosen.starts_at }));
    const section = card("Reschedule", h("p", { class: "muted", text: "Free times for the same service and team member:" }), picker, h("div", { class: "form-actions" }, move));
    section.id = "reschedule";
    parts.push(section);
  }
  view.append(...parts);
}

export async function render(view, ctx) {
  clear(view);
  if (ctx.id === "new") return showNew(view);
  if (ctx.id) return showOne(view, ctx.id);
  return showList(view);
}
