// Page pieces shared by every area: headings, notices, confirmations, tables that
// become cards on a phone, status badges, and paginated, sortable, filterable lists
// whose state lives in the address (so Back and a reload keep it).

import { h, clear } from "./dom.js";
import { words } from "./format.js";
import { errorText } from "./forms.js";

export function pageHeader(title, ...actions) {
  document.title = title + " · Tenantry";
  return h("div", { class: "page-header" }, h("h1", { text: title, tabindex: "-1", id: "page-title" }),
    actions.length ? h("div", { class: "page-actions" }, actions) : null);
}

export function card(title, ...children) {
  const headingId = title ? "c-" + Math.random().toString(36).slice(2, 8) : undefined;
  return h("section", { class: "card", "aria-labelledby": headingId },
    title ? h("h2", { id: headingId, text: title }) : null, children);
}

export function badge(status, kind) {
  return h("span", { class: "badge badge-" + String(status).replace(/[^a-z_]/g, ""), text: words(status, kind) });
}

export function linkButton(href, text, secondary) {
  return h("a", { href, class: "button" + (secondary ? " secondary" : ""), text });
}

export function button(text, onclick, options) {
  const o = options || {};
  return h("button", { type: "button", class: o.class || "", text, onclick, "aria-label": o.label });
}

let live;
// A polite message for screen readers and eyes alike (saved, sent...).
export function notify(text, kind) {
  if (!live) {
    live = h("div", { class: "toast", role: "status", "aria-live": "polite" });
    document.body.appendChild(live);
  }
  live.textContent = text;
  live.className = "toast " + (kind === "error" ? "toast-error" : "toast-ok");
  live.hidden = false;
  clearTimeout(live.timer);
  live.timer = setTimeout(() => { live.hidden = true; }, 4000);
}

export function failed(error) {
  notify(errorText(error), "error");
}

// Asks before anything that cannot be undone. A native <dialog>: focus stays inside,
// Escape cancels, and focus returns to the button that opened it.
export function confirmAction(message, confirmLabel, options) {
  const o = options || {};
  return new Promise((resolve) => {
    const reasonField = o.reason ? h("textarea", { id: "confirm-reason", rows: 2, required: o.reasonRequired }) : null;
    const yes = h("button", { type: "button", class: o.danger === false ? "" : "danger", text: confirmLabel || "Yes" });
    const no = h("button", { type: "button", class: "secondary", text: "Keep it" });
    const error = h("p", { class: "field-error", hidden: true, id: "confirm-reason-error" });
    const dialog = h("dialog", { class: "confirm", "aria-labelledby": "confirm-title" },
      h("h2", { id: "confirm-title", text: message }),
      o.detail ? h("p", { text: o.detail }) : null,
      reasonField ? [h("label", { for: "confirm-reason", text: o.reason }), reasonField, error] : null,
      h("div", { class: "form-actions" }, yes, no));
    const opener = document.activeElement;
    const close = (value) => {
      dialog.close();
      dialog.remove();
      if (opener && opener.focus) opener.focus();
      resolve(value);
    };
    yes.addEventListener("click", () => {
      if (reasonField && o.reasonRequired && !reasonField.value.trim()) {
        error.textContent = "Please give a reason.";
        error.hidden = false;
        reasonField.setAttribute("aria-invalid", "true");
        reasonField.focus();
        return;
      }
      close(reasonField ? { reason: reasonField.value.trim() } : true);
    });
    no.addEventListener("click", () => close(false));
    dialog.addEventListener("cancel", (e) => { e.preventDefault(); close(false); });
    document.body.appendChild(dialog);
    dialog.showModal();
    (reasonField || no).focus();
  });
}

// A table on wide screens, a stack of cards on a phone (CSS reads data-label).
export function table(columns, rows, options) {
  const o = options || {};
  if (!rows.length) return h("p", { class: "empty", text: o.empty || "Nothing here yet." });
  const head = h("tr", {}, columns.map((c) => h("th", { scope: "col", text: c.label })));
  const body = h("tbody", {}, rows.map((row) => h("tr", { dataset: o.rowData ? o.rowData(row) : {} },
    columns.map((c, i) => {
      const value = c.render ? c.render(row) : row[c.key];
      const cell = h(i === 0 ? "th" : "td", { "data-label": c.label, scope: i === 0 ? "row" : undefined });
      if (value instanceof Node) cell.appendChild(value);
      else cell.textContent = value === null || value === undefined || value === "" ? "—" : String(value);
      return cell;
    }))));
  return h("div", { class: "table-wrap" }, h("table", { class: "data" },
    o.caption ? h("caption", { class: "visually-hidden", text: o.caption }) : null,
    h("thead", {}, head), body));
}

function readState(defaults) {
  const params = new URLSearchParams(window.location.search);
  const state = { ...defaults };
  Object.keys(defaults).forEach((key) => {
    if (params.has(key)) state[key] = params.get(key);
  });
  state.offset = Number(state.offset || 0);
  return state;
}

function writeState(state, defaults) {
  const params = new URLSearchParams();
  Object.entries(state).forEach(([key, value]) => {
    if (value !== "" && value !== null && value !== undefined && String(value) !== String(defaults[key] ?? "")) {
      params.set(key, value);
    }
  });
  const text = params.toString();
  window.history.replaceState(null, "", window.location.pathname + (text ? "?" + text : ""));
}

// A list: filters (selects/inputs), a sort choice, one page of rows, Previous/Next.
// ``load(state)`` returns {items, total}; it gets limit and offset in ``state``.
export function listView({ filters, sorts, columns, load, pageSize, empty, caption, rowData }) {
  const size = pageSize || 20;
  const defaults = { offset: 0, sort: sorts ? sorts[0].value : "" };
  (filters || []).forEach((f) => { defaults[f.name] = f.value || ""; });
  const state = readState(defaults);
  const results = h("div", { class: "list-results", "aria-live": "polite" });
  const controls = h("form", { class: "filters", role: "search", "aria-label": "Filter the list" });

  (filters || []).forEach((f) => {
    const id = "filter-" + f.name;
    const input = f.options
      ? h("select", { id, name: f.name }, h("option", { value: "", text: f.any || "All" }),
        f.options.map((o) => h("option", { value: o.value, text: o.label, selected: String(state[f.name]) === String(o.value) })))
      : h("input", { id, name: f.name, type: f.type || "search", value: state[f.name] || "", placeholder: f.placeholder });
    controls.appendChild(h("div", { class: "filter" }, h("label", { for: id, text: f.label }), input));
  });
  if (sorts && sorts.length > 1) {
    controls.appendChild(h("div", { class: "filter" }, h("label", { for: "filter-sort", text: "Sort" }),
      h("select", { id: "filter-sort", name: "sort" }, sorts.map((s) => h("option", { value: s.value, text: s.label, selected: state.sort === s.value })))));
  }
  const apply = h("button", { type: "submit", class: "secondary", text: "Apply" });
  if (controls.children.length) controls.appendChild(h("div", { class: "filter filter-submit" }, apply));
  controls.addEventListener("change", (e) => { if (e.target.tagName === "SELECT") controls.requestSubmit(); });
  controls.addEventListener("submit", (e) => {
    e.preventDefault();
    new FormData(controls).forEach((value, key) => { state[key] = value; });
    state.offset = 0;
    refresh();
  });

  async function refresh() {
    writeState(state, defaults);
    clear(results).appendChild(h("p", { class: "muted", text: "Loading…" }));
    let page;
    try {
      page = await load({ ...state, limit: size });
    } catch (error) {
      clear(results).appendChild(h("p", { class: "error", role: "alert", text: errorText(error) }));
      return;
    }
    clear(results);
    const from = page.total ? state.offset + 1 : 0;
    const to = state.offset + page.items.length;
    results.appendChild(h("p", { class: "muted count", text: page.total ? `Showing ${from}–${to} of ${page.total}` : "" }));
    results.appendChild(table(columns, page.items, { empty, caption, rowData }));
    if (page.total > size) {
      const prev = h("button", { type: "button", class: "secondary", text: "Previous", disabled: state.offset === 0,
        onclick: () => { state.offset = Math.max(0, state.offset - size); refresh(); } });
      const next = h("button", { type: "button", class: "secondary", text: "Next", disabled: to >= page.total,
        onclick: () => { state.offset += size; refresh(); } });
      results.appendChild(h("nav", { class: "pager", "aria-label": "Pages" }, prev, next));
    }
  }

  const view = h("div", { class: "list" }, controls.children.length ? controls : null, results);
  view.refresh = refresh;
  refresh();
  return view;
}

// A definition list of label → value pairs (detail pages).
export function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(Boolean).map(([label, value]) =>
    [h("dt", { text: label }), h("dd", {}, value instanceof Node ? value : (value === null || value === undefined || value === "" ? "—" : String(value)))]));
}
