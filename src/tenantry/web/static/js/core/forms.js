// Forms with a label for every field, errors in words beside the field they concern,
// and a summary at the top for the rest. Field names are the API's, so a 422's
// details land next to the right input.

import { h, uid } from "./dom.js";
import { ApiError } from "./api.js";

const TYPE_WORDS = {
  missing: "Please fill this in.",
  int_parsing: "Enter a whole number.",
  float_parsing: "Enter a number.",
  uuid_parsing: "Choose one from the list.",
  datetime_from_date_parsing: "Enter a date and time.",
  date_from_datetime_parsing: "Enter a date.",
  string_pattern_mismatch: "This is not in the expected format.",
  enum: "Choose one of the options.",
  literal_error: "Choose one of the options.",
  json_invalid: "Something in the form could not be read.",
};

// A pydantic message turned into a sentence for people.
export function humanMessage(detail) {
  if (TYPE_WORDS[detail.type]) return TYPE_WORDS[detail.type];
  let text = String(detail.msg || "This value is not valid.");
  text = text.replace(/^Value error, /, "").replace(/^Input should be /, "Should be ");
  text = text.replace(/^String should have at least (\d+) characters?/, "Use at least $1 characters");
  text = text.replace(/^String should have at most (\d+) characters?/, "Use at most $1 characters");
  text = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(text) ? text : text + ".";
}

export function errorText(error) {
  if (!(error instanceof ApiError)) return "Something went wrong. Please try again.";
  if (error.code === "validation_error" && error.details.length) {
    return "Please correct the highlighted fields.";
  }
  if (error.status === 403 && error.code === "role_required") {
    return "Your role does not allow this. Ask an owner or admin.";
  }
  if (error.status >= 500) return "Something went wrong on our side. Please try again in a moment.";
  return error.message;
}

function control(field, id) {
  const common = { id, name: field.name, required: field.required, autocomplete: field.autocomplete };
  if (field.type === "textarea") {
    return h("textarea", { ...common, rows: field.rows || 4, maxlength: field.maxlength, text: field.value ?? "" });
  }
  if (field.type === "select") {
    const select = h("select", common);
    if (field.placeholder !== undefined) select.appendChild(h("option", { value: "", text: field.placeholder }));
    (field.options || []).forEach((o) => {
      select.appendChild(h("option", { value: o.value, text: o.label, selected: String(o.value) === String(field.value ?? "") }));
    });
    return select;
  }
  if (field.type === "checkbox") {
    return h("input", { ...common, type: "checkbox", checked: !!field.value });
  }
  const type = field.type === "money" ? "number" : field.type || "text";
  const input = h("input", {
    ...common,
    type,
    min: field.min,
    max: field.max,
    step: field.type === "money" ? "0.01" : field.step,
    inputmode: field.type === "money" ? "decimal" : undefined,
    accept: field.accept,
    placeholder: field.placeholder,
    maxlength: field.maxlength,
  });
  if (field.value !== undefined && field.value !== null && type !== "file") {
    input.value = field.type === "money" ? (field.value / 100).toFixed(2) : field.value;
  }
  return input;
}

export function fieldRow(field) {
  const id = uid("f-" + field.name);
  const input = control(field, id);
  const errorId = id + "-error";
  const help = field.help ? h("p", { class: "help", id: id + "-help", text: field.help }) : null;
  input.setAttribute("aria-describedby", [help ? id + "-help" : "", errorId].filter(Boolean).join(" "));
  const error = h("p", { class: "field-error", id: errorId, hidden: true });
  const label = h("label", { for: id, text: field.label + (field.required || field.type === "checkbox" || field.optionalText === false ? "" : " (optional)") });
  const row = h("div", { class: "field" + (field.type === "checkbox" ? " checkbox" : ""), dataset: { field: field.name } },
    field.type === "checkbox" ? [input, label] : [label, input], help, error);
  if (field.type === "hidden") row.hidden = true;
  return row;
}

export function readValues(form, fields) {
  const values = {};
  fields.forEach((field) => {
    const input = form.elements.namedItem(field.name);
    if (!input) return;
    if (field.type === "checkbox") values[field.name] = input.checked;
    else if (field.type === "file") values[field.name] = input.files && input.files[0] ? input.files[0] : null;
    else if (field.type === "money") values[field.name] = input.value === "" ? null : Math.round(Number(input.value) * 100);
    else if (field.type === "number") values[field.name] = input.value === "" ? null : Number(input.value);
    else values[field.name] = input.value.trim() === "" ? (field.required ? "" : null) : input.value.trim();
  });
  return values;
}

export function clearErrors(form) {
  form.querySelectorAll(".field-error").forEach((p) => { p.hidden = true; p.textContent = ""; });
  form.querySelectorAll("[aria-invalid]").forEach((i) => i.removeAttribute("aria-invalid"));
  const summary = form.querySelector(".form-error");
  if (summary) { summary.hidden = true; summary.textContent = ""; }
}

export function setFieldError(form, name, message) {
  const row = form.querySelector(`[data-field="${CSS.escape(name)}"]`);
  if (!row) return false;
  const p = row.querySelector(".field-error");
  p.textContent = message;
  p.hidden = false;
  const input = row.querySelector("input, select, textarea");
  if (input) input.setAttribute("aria-invalid", "true");
  return true;
}

// Puts each error of a failed request beside its field; what has no field goes to
// the summary. ``codeFields`` maps domain codes (``slug_taken``) to a field name.
export function showErrors(form, error, codeFields) {
  const summary = form.querySelector(".form-error");
  let placed = false;
  if (error instanceof ApiError) {
    error.details.forEach((d) => {
      const loc = (d.loc || []).filter((part) => part !== "body" && part !== "query" && typeof part === "string");
      const name = loc.length ? loc[0] : null;
      if (name && setFieldError(form, name, humanMessage(d))) placed = true;
    });
    const target = codeFields && codeFields[error.code];
    if (target && setFieldError(form, target, error.message)) placed = true;
  }
  if (summary) {
    summary.textContent = placed && error.code === "validation_error" ? "Please correct the highlighted fields." : errorText(error);
    summary.hidden = false;
  }
  const first = form.querySelector("[aria-invalid='true']") || summary;
  if (first) first.focus();
}

// A whole form: fields, a submit button and an error summary.
export function makeForm({ fields, submit, onSubmit, codeFields, extra, cancel, id, className }) {
  const summary = h("p", { class: "form-error", role: "alert", tabindex: "-1", hidden: true });
  const button = h("button", { type: "submit", text: submit || "Save" });
  const form = h("form", { class: "form " + (className || ""), novalidate: true, id },
    summary, fields.map(fieldRow), extra || null,
    h("div", { class: "form-actions" }, button, cancel || null));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const values = readValues(form, fields);
    const missing = fields.filter((f) => f.required && f.type !== "checkbox" && (values[f.name] === "" || values[f.name] === null));
    if (missing.length) {
      missing.forEach((f) => setFieldError(form, f.name, TYPE_WORDS.missing));
      summary.textContent = "Please fill in the required fields.";
      summary.hidden = false;
      form.querySelector("[aria-invalid='true']").focus();
      return;
    }
    button.disabled = true;
    try {
      await onSubmit(values, form);
    } catch (error) {
      showErrors(form, error, codeFields);
    } finally {
      button.disabled = false;
    }
  });
  return form;
}
