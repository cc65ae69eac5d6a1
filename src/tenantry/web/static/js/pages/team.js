// The team: members and their roles, invitations, role changes and removal (asked
// first). Who may do what is the permissions page.

import { get, post, patch, del, query } from "../core/api.js";
import { h, clear } from "../core/dom.js";
import { date, words } from "../core/format.js";
import { makeForm } from "../core/forms.js";
import { pageHeader, card, badge, listView, confirmAction, notify, failed } from "../core/ui.js";

const ROLES = ["owner", "admin", "staff", "client"];

export async function render(view, ctx) {
  clear(view);
  const manage = ["owner", "admin"].includes(ctx.role);
  let list;
  const roleSelect = (member) => {
    const id = "role-" + member.user_id;
    const select = h("select", { id, "aria-label": "Role of " + member.email },
      ROLES.map((r) => h("option", { value: r, text: words(r), selected: r === member.role })));
    select.addEventListener("change", async () => {
      try {
        await patch(`/api/admin/team-members/${member.user_id}`, { role: select.value });
        notify(`${member.email} is now ${words(select.value).toLowerCase()}.`);
      } catch (error) {
        select.value = member.role;
        failed(error);
      }
    });
    return select;
  };
  const remove = (member) => h("button", { type: "button", class: "secondary", text: "Remove", "aria-label": "Remove " + member.email,
    onclick: async () => {
      if (!(await confirmAction(`Remove ${member.email}?`, "Remove", { detail: "They lose access to this business at once. Their past work stays." }))) return;
      try {
        await del(`/api/admin/team-members/${member.user_id}`);
        notify("Removed.");
        list.refresh();
      } catch (error) { failed(error); }
    } });
  list = listView({
    filters: [
      { name: "role", label: "Role", options: ROLES.map((r) => ({ value: r, label: words(r) })) },
      { name: "status", label: "Status", value: "active", any: "Any", options: [{ value: "active", label: "Active" }, { value: "removed", label: "Removed" }] },
    ],
    columns: [
      { label: "Member", render: (m) => (m.name ? `${m.name} (${m.email})` : m.email) },
      { label: "Role", render: (m) => (manage && m.status === "active" ? roleSelect(m) : words(m.role)) },
      { label: "Status", render: (m) => badge(m.status) },
      { label: "Joined", render: (m) => date(m.joined_at) },
      { label: "", render: (m) => (manage && m.status === "active" && m.user_id !== ctx.session.user.id ? remove(m) : "") },
    ],
    caption: "Team members",
    load: (state) => get("/api/admin/team-members" + query({ role: state.role, status: state.status, limit: state.limit, offset: state.offset })),
  });
  const parts = [pageHeader("Team"), card(null, list)];
  if (manage) {
    const result = h("div", { "aria-live": "polite", id: "invite-result" });
    const form = makeForm({
      id: "invite-form",
      fields: [
        { name: "email", label: "Email", type: "email", required: true, autocomplete: "off" },
        { name: "name", label: "Name", maxlength: 200 },
        { name: "role", label: "Role", type: "select", required: true, value: "staff", options: ROLES.map((r) => ({ value: r, label: words(r) })) },
      ],
      submit: "Send invitation",
      onSubmit: async (values, formEl) => {
        // An invitation names an address, never an account: the person joins with this
        // role when they accept the e-mailed link (their consent).
        const answer = await post("/api/admin/invitations", { ...values, name: values.name || "" });
        formEl.reset();
        clear(result).appendChild(h("p", { class: "notice", role: "status",
          text: `An invitation was e-mailed to ${answer.email}. They join as ${words(answer.role)} when they accept it.` }));
        list.refresh();
      },
    });
    parts.push(card("Invite someone", form, result));
  }
  view.append(...parts);
}
