// Tenantry web UI: the sign-in form and the signed-in shell.
// Plain JS, no build step. Every value from the API reaches the page through
// textContent / element properties, never innerHTML.
"use strict";

(function () {
  // ---- API -----------------------------------------------------------------

  async function api(method, path, body) {
    const init = {
      method: method,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    // Our pages carry the session's CSRF token; every state-changing call sends it.
    const meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && method !== "GET") init.headers["X-CSRF-Token"] = meta.content;
    let response;
    try {
      response = await fetch(path, init);
    } catch (e) {
      return { ok: false, status: 0, error: { code: "network_error", message: "The server could not be reached." } };
    }
    let data = null;
    try {
      data = await response.json();
    } catch (e) {
      data = null;
    }
    if (response.ok) return { ok: true, status: response.status, data: data };
    const error = data && data.error && typeof data.error === "object"
      ? data.error
      : { code: "http_" + response.status, message: response.statusText || "The request failed." };
    return { ok: false, status: response.status, error: error };
  }

  function describe(error) {
    let text = String(error.message || "The request failed.");
    if (Array.isArray(error.details)) {
      const parts = error.details
        .filter(function (d) { return d && d.msg; })
        .map(function (d) {
          const loc = Array.isArray(d.loc) && d.loc.length ? d.loc[d.loc.length - 1] + ": " : "";
          return loc + d.msg;
        });
      if (parts.length) text += " " + parts.join("; ") + ".";
    }
    return text + " [" + String(error.code || "error") + "]";
  }

  function showError(el, error) {
    el.textContent = describe(error);
    el.hidden = false;
  }

  function hideError(el) {
    el.textContent = "";
    el.hidden = true;
  }

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function $(id) {
    return document.getElementById(id);
  }

  // The session is gone (never signed in, revoked, timed out): back to the form.
  function sessionEnded(result) {
    return result.status === 401 ||
      (result.status === 403 && result.error && result.error.code === "session_revoked");
  }

  // ---- /login --------------------------------------------------------------

  const LOGIN_NOTICES = {
    all: "You are signed out everywhere.",
    out: "You are signed out.",
    expired: "Your session has ended; please sign in again.",
  };

  function initLogin() {
    const form = $("login-form");
    const errorBox = $("login-error");
    const submit = $("login-submit");

    const notice = LOGIN_NOTICES[new URLSearchParams(window.location.search).get("notice")];
    if (notice) {
      const p = el("p", notice, "notice");
      p.id = "login-notice";
      form.insertBefore(p, form.querySelector("label"));
    }

    document.querySelectorAll(".demo-account").forEach(function (button) {
      button.addEventListener("click", function () {
        $("email").value = button.dataset.email;
        $("password").value = button.dataset.password;
        $("password").focus();
      });
    });

    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      hideError(errorBox);
      submit.disabled = true;
      const result = await api("POST", "/api/auth/login", {
        email: $("email").value,
        password: $("password").value,
      });
      if (result.ok) {
        window.location.assign("/app");
        return;
      }
      submit.disabled = false;
      showError(errorBox, result.error);
    });
  }

  // ---- /app ----------------------------------------------------------------

  const STAFF_ROLES = ["owner", "admin", "staff"];

  const STAFF_PANELS = [
    { title: "Bookings", path: "/api/admin/bookings?limit=10", columns: ["starts_at", "status", "ends_at", "notes"] },
    { title: "Service requests", path: "/api/admin/service-requests?limit=10", columns: ["title", "status", "priority", "created_at"] },
    { title: "Invoices", path: "/api/admin/invoices?limit=10", columns: ["number", "status", "total_cents", "issued_at"] },
    { title: "Services", path: "/api/admin/services", columns: ["name", "price_cents", "duration_minutes", "active"] },
  ];

  const CLIENT_PANELS = [
    { title: "My service requests", path: "/api/portal/service-requests", columns: ["title", "status", "priority", "created_at"] },
    { title: "My bookings", path: "/api/portal/bookings", columns: ["starts_at", "status", "ends_at"] },
    { title: "My invoices", path: "/api/portal/invoices", columns: ["number", "status", "total_cents", "issued_at"] },
  ];

  function label(key) {
    const words = key.replace(/_cents$/, "").replace(/_/g, " ");
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  function format(key, value, row) {
    if (value === null || value === undefined || value === "") return "—";
    if (typeof value === "boolean") return value ? "yes" : "no";
    if (/_cents$/.test(key) && typeof value === "number") {
      return (value / 100).toFixed(2) + (row.currency ? " " + row.currency : "");
    }
    if (/_at$/.test(key) && typeof value === "string") {
      const date = new Date(value);
      if (!isNaN(date.getTime())) return date.toLocaleString();
    }
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function isScalar(value) {
    return value === null || ["string", "number", "boolean"].indexOf(typeof value) >= 0;
  }

  function columnsFor(panel, items) {
    const first = items[0];
    const wanted = panel.columns.filter(function (key) { return key in first; });
    if (wanted.length) return wanted;
    // An API shape we did not expect: its first few plain fields, without the ids.
    return Object.keys(first)
      .filter(function (key) { return key !== "id" && !/_id$/.test(key) && isScalar(first[key]); })
      .slice(0, 5);
  }

  function renderTable(panel, items) {
    const columns = columnsFor(panel, items);
    const table = el("table");
    const headRow = el("tr");
    columns.forEach(function (key) { headRow.appendChild(el("th", label(key))); });
    table.appendChild(el("thead")).appendChild(headRow);
    const body = el("tbody");
    items.forEach(function (row) {
      const tr = el("tr");
      columns.forEach(function (key) { tr.appendChild(el("td", format(key, row[key], row))); });
      body.appendChild(tr);
    });
    table.appendChild(body);
    return table;
  }

  async function loadPanel(panel, container) {
    const section = el("section", null, "card panel");
    section.dataset.panel = panel.path;
    const heading = el("h2", panel.title);
    const count = el("span", "", "muted count");
    heading.appendChild(count);
    section.appendChild(heading);
    const status = el("p", "loading…", "muted");
    section.appendChild(status);
    container.appendChild(section);

    const result = await api("GET", panel.path);
    if (result.ok) {
      const data = result.data || {};
      const items = Array.isArray(data) ? data : Array.isArray(data.items) ? data.items : [];
      const total = typeof data.total === "number" ? data.total : items.length;
      count.textContent = items.length < total ? " " + items.length + " of " + total : " " + total;
      if (!items.length) {
        status.textContent = "Nothing here yet.";
        return;
      }
      section.replaceChild(renderTable(panel, items), status);
      return;
    }
    if ([403, 404, 405, 501].indexOf(result.status) >= 0) {
      status.textContent = "Not available" +
        (result.status === 403 ? " for your role" : "") + ".";
      status.className = "muted unavailable";
      status.title = describe(result.error);
      return;
    }
    status.textContent = describe(result.error);
    status.className = "error";
  }

  function fillSwitcher(session) {
    const select = $("tenant-switcher");
    select.textContent = "";
    const active = session.active_tenant;
    if (!active) {
      const placeholder = el("option", session.memberships.length ? "choose a tenant…" : "no tenants");
      placeholder.value = "";
      placeholder.disabled = true;
      placeholder.selected = true;
      select.appendChild(placeholder);
    }
    session.memberships.forEach(function (m) {
      const suspended = m.tenant_status !== "active";
      const option = el("option", m.tenant_name + " — " + m.role + (suspended ? " (" + m.tenant_status + ")" : ""));
      option.value = m.tenant_slug;
      option.disabled = suspended;
      option.selected = !!active && active.slug === m.tenant_slug;
      select.appendChild(option);
    });
    select.disabled = session.memberships.length === 0;
    select.dataset.current = active ? active.slug : "";

    select.addEventListener("change", async function () {
      const chosen = select.value;
      if (!chosen || chosen === select.dataset.current) return;
      select.disabled = true;
      hideError($("app-error"));
      const result = await api("POST", "/api/tenant/switch", { tenant: chosen });
      if (result.ok) {
        window.location.reload();
        return;
      }
      if (sessionEnded(result)) {
        window.location.assign("/login?notice=expired");
        return;
      }
      select.value = select.dataset.current;
      select.disabled = false;
      showError($("app-error"), result.error);
    });
  }

  async function signOut(path, notice) {
    const result = await api("POST", path);
    if (result.ok || sessionEnded(result)) {
      window.location.assign("/login?notice=" + notice);
      return;
    }
    showError($("app-error"), result.error);
  }

  async function initApp() {
    const errorBox = $("app-error");
    $("logout").addEventListener("click", function () { signOut("/api/auth/logout", "out"); });
    $("logout-all").addEventListener("click", function () { signOut("/api/auth/logout-all", "all"); });

    const me = await api("GET", "/api/auth/me");
    if (!me.ok) {
      if (sessionEnded(me)) {
        window.location.replace("/login?notice=expired");
        return;
      }
      showError(errorBox, me.error);
      return;
    }
    const session = me.data;
    $("user-email").textContent = session.user.email;
    fillSwitcher(session);

    if (!session.active_tenant) {
      const box = $("no-tenant");
      if (!session.memberships.length) {
        box.querySelector("h1").textContent = "No tenant yet";
        box.querySelector("p").textContent = "You are not a member of any tenant.";
      }
      box.hidden = false;
      return;
    }

    const current = await api("GET", "/api/tenant/current");
    if (!current.ok) {
      if (sessionEnded(current)) {
        window.location.replace("/login?notice=expired");
        return;
      }
      showError(errorBox, current.error);
      return;
    }
    const tenant = current.data.tenant;
    const role = current.data.role;
    $("tenant-name").textContent = tenant.name;
    $("tenant-role").textContent = role;
    $("tenant-slug").textContent = tenant.slug;
    $("tenant-summary").hidden = false;
    document.title = tenant.name + " · Tenantry";

    const panels = STAFF_ROLES.indexOf(role) >= 0 ? STAFF_PANELS : role === "client" ? CLIENT_PANELS : [];
    const container = $("panels");
    await Promise.all(panels.map(function (panel) { return loadPanel(panel, container); }));
  }

  document.addEventListener("DOMContentLoaded", function () {
    const page = document.body.dataset.page;
    if (page === "login") initLogin();
    else if (page === "app") initApp();
  });
})();
