// The signed-in person's own account: change the password (other sessions end) and the
// invitations waiting for their address, in any business.

import { get, post } from "../core/api.js";
import { h, clear } from "../core/dom.js";
import { words, dateTime } from "../core/format.js";
import { makeForm } from "../core/forms.js";
import { pageHeader, card, notify, failed } from "../core/ui.js";

export async function render(view, ctx) {
  clear(view);
  const done = h("div", { "aria-live": "polite", id: "password-result" });
  const form = makeForm({
    id: "password-form",
    fields: [
      { name: "current_password", label: "Current password", type: "password", required: true, autocomplete: "current-password" },
      { name: "new_password", label: "New password", type: "password", required: true, autocomplete: "new-password", help: "At least 10 characters." },
    ],
    submit: "Change password",
    codeFields: { invalid_credentials: "current_password" },
    onSubmit: async (values, formEl) => {
      await post("/api/auth/password", values);
      formEl.reset();
      clear(done).appendChild(h("p", { class: "notice", role: "status", id: "password-changed",
        text: "Your password was changed. You stay signed in here; every other session was signed out." }));
    },
  });
  const invitations = await get("/api/auth/invitations");
  const list = invitations.length
    ? h("ul", { class: "plain", id: "my-invitations" }, invitations.map((inv) => h("li", {},
      h("strong", { text: inv.tenant_name }), ` as ${words(inv.role).toLowerCase()} · until ${dateTime(inv.expires_at)} `,
      h("button", { type: "button", text: `Join ${inv.tenant_name}`, onclick: async (event) => {
        event.target.disabled = true;
        try {
          await post(`/api/auth/invitations/${inv.id}/accept`);
          notify(`You joined ${inv.tenant_name}.`);
          window.location.assign("/app");
        } catch (error) {
          event.target.disabled = false;
          failed(error);
        }
      } }))))
    : h("p", { class: "empty", text: "No invitations are waiting for you." });
  view.append(
    pageHeader("Your account"),
    card("Signed in as", h("p", { id: "account-email", text: ctx.session.user.email })),
    card("Change password", form, done),
    card("Invitations", list));
}
