// Booking rules and opening hours, communication and thresholds: three forms, each
// saved on its own (each replaces its whole settings object).

import { get, put } from "../core/api.js";
import { h, clear } from "../core/dom.js";
import { makeForm, setFieldError } from "../core/forms.js";
import { pageHeader, card, notify } from "../core/ui.js";

const DAYS = [["mon", "Monday"], ["tue", "Tuesday"], ["wed", "Wednesday"], ["thu", "Thursday"], ["fri", "Friday"], ["sat", "Saturday"], ["sun", "Sunday"]];

function hoursEditor(hours) {
  const rows = DAYS.map(([key, label]) => {
    const span = (hours[key] || [])[0] || null;
    const open = h("input", { type: "checkbox", id: `open-${key}`, checked: !!span });
    const from = h("input", { type: "time", id: `from-${key}`, value: span ? span[0] : "09:00", "aria-label": `${label} opens at` });
    const to = h("input", { type: "time", id: `to-${key}`, value: span ? span[1] : "17:00", "aria-label": `${label} closes at` });
    const extra = (hours[key] || []).slice(1);
    return { key, open, from, to, extra,
      row: h("div", { class: "field hours-row", dataset: { field: "business_hours." + key } },
        h("div", { class: "checkbox" }, open, h("label", { for: `open-${key}`, text: `Open on ${label}` })),
        h("div", { class: "actions-row" }, from, h("span", { text: "to" }), to),
        extra.length ? h("p", { class: "help", text: "Also: " + extra.map((e) => e.join("–")).join(", ") }) : null,
        h("p", { class: "field-error", hidden: true })) };
  });
  const box = h("fieldset", { class: "field", dataset: { field: "business_hours" } },
    h("legend", { text: "Opening hours" }),
    h("p", { class: "help", text: "No day open at all means bookings at any time." }),
    rows.map((r) => r.row), h("p", { class: "field-error", hidden: true }));
  box.read = () => {
    const out = {};
    rows.forEach((r) => { if (r.open.checked) out[r.key] = [[r.from.value, r.to.value], ...r.extra]; });
    return out;
  };
  return box;
}

export async function render(view, ctx) {
  clear(view);
  const [booking, comms, thresholds] = await Promise.all([
    get("/api/admin/booking-settings"), get("/api/admin/communication-settings"), get("/api/admin/thresholds"),
  ]);
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [booking.timezone];
  if (!zones.includes(booking.timezone)) zones.unshift(booking.timezone);
  const hours = hoursEditor(booking.business_hours || {});
  const bookingForm = makeForm({
    id: "booking-settings",
    fields: [
      { name: "timezone", label: "Time zone", type: "select", required: true, value: booking.timezone, options: zones.map((z) => ({ value: z, label: z.replace(/_/g, " ") })) },
      { name: "currency", label: "Currency", required: true, value: booking.currency, maxlength: 3, help: "Three letters, e.g. GBP, EUR, USD." },
      { name: "slot_minutes", label: "Bookings start every (minutes)", type: "number", required: true, value: booking.slot_minutes, min: 5, max: 480 },
      { name: "buffer_minutes", label: "Break between a person's bookings (minutes)", type: "number", required: true, value: booking.buffer_minutes, min: 0, max: 240 },
      { name: "min_notice_minutes", label: "Minimum notice (minutes)", type: "number", required: true, value: booking.min_notice_minutes, min: 0 },
      { name: "max_advance_days", label: "Book at most this many days ahead", type: "number", required: true, value: booking.max_advance_days, min: 1, max: 730 },
      { name: "allow_client_cancellation", label: "Clients may cancel online", type: "checkbox", value: booking.allow_client_cancellation },
      { name: "cancellation_notice_hours", label: "…at least this many hours ahead", type: "number", required: true, value: booking.cancellation_notice_hours, min: 0 },
    ],
    extra: hours,
    submit: "Save booking settings",
    onSubmit: async (values) => {
      await put("/api/admin/booking-settings", { ...values, currency: (values.currency || "").toUpperCase(), business_hours: hours.read() });
      notify("Booking settings saved.");
    },
  });
  const commsForm = makeForm({
    id: "communication-settings",
    fields: [
      { name: "sender_name", label: "Sender name", value: comms.sender_name, maxlength: 200 },
      { name: "reply_to", label: "Reply-to address", type: "email", value: comms.reply_to },
      { name: "email_enabled", label: "Send emails", type: "checkbox", value: comms.email_enabled },
      { name: "sms_enabled", label: "Send text messages", type: "checkbox", value: comms.sms_enabled },
      { name: "reminder_lead_minutes", label: "Remind clients this many minutes before a visit", type: "number", required: true, value: comms.reminder_lead_minutes, min: 0 },
    ],
    submit: "Save communication settings",
    onSubmit: async (values) => {
      await put("/api/admin/communication-settings", { ...values, sender_name: values.sender_name || "", templates: comms.templates });
      notify("Communication settings saved.");
    },
  });
  const thresholdsForm = makeForm({
    id: "thresholds",
    fields: [
      { name: "expense_approval_cents", label: "Expenses above this need approval", type: "money", required: true, value: thresholds.expense_approval_cents, min: 0 },
      { name: "invoice_overdue_days", label: "An invoice is overdue after (days)", type: "number", required: true, value: thresholds.invoice_overdue_days, min: 0 },
      { name: "request_response_hours", label: "Answer new requests within (hours)", type: "number", required: true, value: thresholds.request_response_hours, min: 0 },
    ],
    submit: "Save thresholds",
    onSubmit: async (values) => {
      await put("/api/admin/thresholds", values);
      notify("Thresholds saved.");
    },
  });
  view.append(pageHeader("Settings"), card("Bookings", bookingForm), h("div", { class: "grid-2" }, card("Communication", commsForm), card("Thresholds", thresholdsForm)));
}
