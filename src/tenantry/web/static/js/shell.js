// The signed-in app: header, tenant switcher, navigation for the role, and the area
// named by the address (/app/<section>/<id>/<sub>), each area in its own module.

import { get, post, ApiError, sessionEnded, signingOutNow } from "./core/api.js";
import { h, $, clear } from "./core/dom.js";
import { configure, words } from "./core/format.js";
import { errorText } from "./core/forms.js";

// [path, label, the permission the page's first list needs]: a member sees only the
// pages their role can open (the API still checks every call).
const STAFF_NAV = [
  ["", "Dashboard"],
  ["schedule", "Schedule", "bookings.read"],
  ["bookings", "Bookings", "bookings.read"],
  ["requests", "Requests", "requests.read"],
  ["work-orders", "Work orders", "work_orders.read"],
  ["invoices", "Invoices", "invoices.read"],
  ["expenses", "Expenses", "expenses.read"],
  ["clients", "Clients", "team.read"],
  ["services", "Services", "services.read"],
  ["team", "Team", "team.read"],
  ["permissions", "Permissions", "permissions.manage"],
  ["settings", "Settings", "settings.read"],
  ["posts", "Posts", "posts.read"],
  ["inbox", "Inbox", "contact.read"],
  ["reminders", "Reminders", "reminders.read"],
];

const CLIENT_NAV = [
  ["", "Home"],
  ["book", "Book a visit"],
  ["my-bookings", "My bookings"],
  ["my-requests", "My requests"],
  ["my-invoices", "My invoices"],
];

const STAFF_PAGES = {
  "": "dashboard", schedule: "schedule", bookings: "bookings", requests: "requests",
  "work-orders": "work_orders", invoices: "invoices", expenses: "expenses", clients: "clients",
  services: "services", team: "team", permissions: "permissions", settings: "settings",
  posts: "posts", inbox: "inbox", reminders: "reminders", account: "my_account",
};
const CLIENT_PAGES = {
  "": "portal_home", book: "book", "my-bookings": "my_bookings",
  "my-requests": "my_requests", "my-invoices": "my_invoices", account: "my_account",
};

function route() {
  const parts = window.location.pathname.replace(/^\/app\/?/, "").split("/").filter(Boolean);
  return { section: parts[0] || "", id: parts[1] || null, sub: parts[2] || null };
}

function showError(text) {
  const box = $("#app-error");
  box.textContent = text;
  box.hidden = false;
}

function fillSwitcher(session) {
  const select = $("#tenant-switcher");
  clear(select);
  const active = session.active_tenant;
  if (!active) {
    select.appendChild(h("option", { value: "", disabled: true, selected: true,
      text: session.memberships.length ? "choose a business…" : "no business" }));
  }
  session.memberships.forEach((m) => {
    const suspended = m.tenant_status !== "active";
    select.appendChild(h("option", {
      value: m.tenant_slug, disabled: suspended, selected: !!active && active.slug === m.tenant_slug,
      text: `${m.tenant_name} — ${words(m.role)}${suspended ? " (" + m.tenant_status + ")" : ""}`,
    }));
  });
  select.disabled = session.memberships.length === 0;
  select.dataset.current = active ? active.slug : "";
  select.addEventListener("change", async () => {
    const chosen = select.value;
    if (!chosen || chosen === select.dataset.current) return;
    select.disabled = true;
    try {
      if (document.body.dataset.hostTenant) {
        // On a tenant's own host the browser moves to the chosen tenant's host; the
        // session there starts from a one-time, short-lived hand-off.
        const handoff = await post("/api/tenant/handoff", { tenant: chosen });
        window.location.assign(handoff.url);
        return;
      }
      await post("/api/tenant/switch", { tenant: chosen });
      window.location.assign("/app");
    } catch (error) {
      select.value = select.dataset.current;
      select.disabled = false;
      showError(errorText(error));
    }
  });
}

async function signOut(path, notice) {
  signingOutNow(true);
  try {
    await post(path);
  } catch (error) {
    if (!(error instanceof ApiError) || !sessionEnded(error)) {
      signingOutNow(false);
      showError(errorText(error));
      return;
    }
  }
  window.location.assign("/login?notice=" + notice);
}

function buildNav(role, section, can) {
  const nav = $("#nav");
  const items = role === "client" ? CLIENT_NAV : STAFF_NAV.filter((item) => !item[2] || can(item[2]));
  const list = h("ul", {}, items.map(([path, label]) => {
    const current = path === section;
    return h("li", {}, h("a", { href: "/app" + (path ? "/" + path : ""), text: label, "aria-current": current ? "page" : undefined }));
  }));
  nav.appendChild(list);
  const toggle = $("#menu-toggle");
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    nav.classList.toggle("open", open);
    $("#top").classList.toggle("open", open);
  });
}

export async function start() {
  $("#logout").addEventListener("click", () => signOut("/api/auth/logout", "out"));
  $("#logout-all").addEventListener("click", () => signOut("/api/auth/logout-all", "all"));
  let session;
  try {
    session = await get("/api/auth/me");
  } catch (error) {
    if (!sessionEnded(error)) showError(errorText(error));
    return;
  }
  $("#user-email").textContent = session.user.email;
  fillSwitcher(session);
  if (!session.active_tenant) {
    const box = $("#no-tenant");
    if (!session.memberships.length) {
      box.querySelector("h1").textContent = "No business yet";
      box.querySelector("p").textContent = "You are not a member of any business.";
    }
    box.hidden = false;
    return;
  }
  let current;
  let locale = { timezone: "UTC", currency: "USD" };
  let mine = { permissions: [] };
  try {
    [current, locale, mine] = await Promise.all([
      get("/api/tenant/current"), get("/api/tenant/locale"), get("/api/tenant/permissions"),
    ]);
  } catch (error) {
    if (error.code === "tenant_mismatch" && document.body.dataset.hostTenant) {
      showError("You are signed in to another business. Choose this one in the list at the top, or sign out.");
      return;
    }
    if (!sessionEnded(error)) showError(errorText(error));
    return;
  }
  configure({ timeZone: locale.timezone, currency: locale.currency });
  $("#tenant-name").textContent = current.tenant.name;
  $("#tenant-role").textContent = words(current.role);
  const held = new Set(mine.permissions);
  const can = (permission) => held.has(permission);
  const here = route();
  buildNav(current.role, here.section, can);
  const pages = current.role === "client" ? CLIENT_PAGES : STAFF_PAGES;
  const name = pages[here.section];
  const view = $("#view");
  if (!name) {
    view.appendChild(h("h1", { text: "Page not found" }));
    view.appendChild(h("p", {}, "There is no such page. ", h("a", { href: "/app", text: "Back to the start" })));
    return;
  }
  const ctx = { session, tenant: current.tenant, role: current.role, ...here, can,
    timezone: locale.timezone, currency: locale.currency };
  try {
    const module = await import(`./pages/${name}.js`);
    await module.render(view, ctx);
  } catch (error) {
    if (error instanceof ApiError && sessionEnded(error)) return;
    clear(view).appendChild(h("p", { class: "error", role: "alert", text: errorText(error) }));
    if (!(error instanceof ApiError)) throw error;
  }
}
