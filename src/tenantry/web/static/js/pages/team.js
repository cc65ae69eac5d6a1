// The team: members and their roles, invitations, role changes and removal (asked
// first). Who may do what is the permissions page.

import { get, post, patch, del, query } from "../core/api.js";
import { h, clear } from "../core/dom.js";
import { date, words } from "../core/format.js";
import { makeForm, errorText } from "../core/forms.js";
import { pageHeader, card, badge, listView, table, confirmAction, notify, failed } from "../core/ui.js";

const ROLES = ["owner", "admin", "staff", "client"];

export async function render(view, ctx) {
  clear(view);
  const manage = ctx.can("team.manage");
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
    const invites = h("div", { id: "invitations" });
    const loadInvites = async () => {
      let page;
      try {
        page = await get("/api/admin/invitations" + query({ status: "pending", limit: 50 }));
      } catch (error) {
        clear(invites).appendChild(h("p", { class: "error", role: "alert", text: errorText(error) }));
        return;
      }
      clear(invites).appendChild(table([
        { label: "Address", render: (i) => (i.name ? `${i.name} (${i.email})` : i.email) },
        { label: "Role", render: (i) => words(i.role) },
        { label: "Sent", render: (i) => date(i.created_at) },
        { label: "Link works until", render: (i) => date(i.expires_at) },
        { label: "", render: (i) => h("div", { class: "actions-row" },
          h("button", { type: "button", class: "secondary", text: "Send again", "aria-label": "Send the invitation to " + i.email + " again",
            onclick: async () => {
              try {
                await post(`/api/admin/invitations/${i.id}/resend`);
                notify(`A new link was e-mailed to ${i.email}; the old one no longer works.`);
                loadInvites();
              } catch (error) { failed(error); }
            } }),
          h("button", { type: "button", class: "secondary", text: "Revoke", "aria-label": "Revoke the invitation of " + i.email,
            onclick: async () => {
              if (!(await confirmAction(`Revoke the invitation of ${i.email}?`, "Revoke", { detail: "The link stops working at once." }))) return;
              try {
                await del(`/api/admin/invitations/${i.id}`);
                notify("Revoked.");
                loadInvites();
              } catch (error) { failed(error); }
            } })) },
      ], page.items, { caption: "Open invitations", empty: "No open invitations." }));
    };
    const form = makeForm({
      id: "invite-form",
      fields: [
        { name: "email", label: "Email", type: "email", required: true, autocomplete: "off" },
        { name: "name", label: "Name", maxlength: 200 },
        { name: "role", label: "Role", type: "select", required: true, value: "staff", options: ROLES.map((r) => ({ value: r, label: words(r) })) },
      ],
      submit: "Send invitation",
      codeFields: { already_member: "email" },
      onSubmit: async (values, formEl) => {
        const invitation = await post("/api/admin/invitations", { ...values, name: values.name || "" });
        formEl.reset();
        clear(result).appendChild(h("p", { class: "notice", role: "status",
          text: `An invitation was e-mailed to ${invitation.email}. They join when they open its link (until ${date(invitation.expires_at)}).` }));
        loadInvites();
      },
    });
    parts.push(card("Invite someone", form, result), card("Open invitations", invites));
    loadInvites();
  }
  view.append(...parts);
}
