// The role → permission matrix: one checkbox per role and permission. The owner
// always has everything; clients use the portal, whose pages check ownership.

import { get, put } from "../core/api.js";
import { h, clear } from "../core/dom.js";
import { words } from "../core/format.js";
import { pageHeader, card, notify, failed } from "../core/ui.js";

export async function render(view) {
  clear(view);
  const matrix = await get("/api/admin/permissions");
  const roles = matrix.roles;
  const head = h("tr", {}, h("th", { scope: "col", text: "Permission" }), roles.map((r) => h("th", { scope: "col", text: words(r.role) })));
  const body = h("tbody", {}, matrix.permissions.map((p) => h("tr", {},
    h("th", { scope: "row", "data-label": "Permission" }, h("span", { text: p.description }), h("br"), h("code", { class: "small", text: p.key })),
    roles.map((r) => h("td", { "data-label": words(r.role) }, h("input", {
      type: "checkbox", checked: r.permissions.includes(p.key), disabled: !r.editable,
      dataset: { role: r.role, key: p.key }, "aria-label": `${words(r.role)}: ${p.description}`,
    }))))));
  const save = h("button", { type: "button", text: "Save permissions", onclick: async () => {
    save.disabled = true;
    try {
      for (const r of roles.filter((x) => x.editable)) {
        const keys = Array.from(body.querySelectorAll(`input[data-role="${r.role}"]:checked`)).map((i) => i.dataset.key);
        await put(`/api/admin/permissions/${r.role}`, { permissions: keys });
      }
      notify("Permissions saved. They apply from each member's next request.");
    } catch (error) {
      failed(error);
    } finally {
      save.disabled = false;
    }
  } });
  view.append(pageHeader("Permissions"),
    card(null, h("p", { class: "muted", text: "Owners always have every permission; the client role is fixed." }),
      h("div", { class: "table-wrap" }, h("table", { class: "data matrix" }, h("caption", { class: "visually-hidden", text: "Permissions by role" }), h("thead", {}, head), body)),
      h("div", { class: "form-actions" }, save)));
}
