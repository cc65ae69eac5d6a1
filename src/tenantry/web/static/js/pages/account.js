// Account pages outside the app: create an account (as a client of the tenant whose
// host this is), confirm it, reset a password, accept an invitation. The e-mailed links
// carry ?token=; each form posts it to the account API and says what happens next.

import { get, post } from "../core/api.js";
import { h, $, clear } from "../core/dom.js";
import { makeForm } from "../core/forms.js";

async function brand() {
  if (!document.body.dataset.hostTenant) return null;
  try {
    const tenant = await get("/api/public/tenant");
    $("#login-brand").textContent = tenant.name;
    return tenant;
  } catch (e) {
    return null;
  }
}

function signup(body, tenant) {
  if (!tenant) {
    body.appendChild(h("p", { text: "Open the page of the business you want to book with, and create your account there." }));
    return;
  }
  body.appendChild(makeForm({
    id: "signup-form",
    fields: [
      { name: "name", label: "Your name", autocomplete: "name", maxlength: 200 },
      { name: "email", label: "Email", type: "email", required: true, autocomplete: "email" },
      { name: "password", label: "Password", type: "password", required: true, autocomplete: "new-password", help: "At least 10 characters." },
    ],
    submit: "Create account",
    codeFields: { conflict: "email" },
    onSubmit: async (values) => {
      const answer = await post("/api/auth/register", { ...values, name: values.name || "" });
      if (answer && answer.message && !answer.user) {
        // The address must be confirmed first: the API mailed a link, nobody is signed in.
        clear(body).appendChild(h("p", { id: "signup-sent", role: "status", text: answer.message }));
        return;
      }
      window.location.assign("/app");
    },
  }));
}

const token = () => new URLSearchParams(window.location.search).get("token") || "";

function done(body, id, text, link) {
  clear(body).appendChild(h("p", { id, role: "status", text }));
  if (link) body.appendChild(h("p", {}, h("a", { href: link.href, text: link.text })));
}

function noToken(body) {
  body.appendChild(h("p", { id: "token-missing", text: "This page opens from the link in your e-mail. Open the link again, or ask for a new one." }));
}

function verify(body) {
  if (!token()) return noToken(body);
  body.appendChild(makeForm({
    id: "verify-form",
    fields: [{ name: "password", label: "The password you chose", type: "password", required: true, autocomplete: "current-password" }],
    submit: "Confirm my address",
    onSubmit: async (values) => {
      await post("/api/auth/verify-email", { token: token(), password: values.password });
      window.location.assign("/app");
    },
  }));
}

function forgot(body) {
  body.appendChild(makeForm({
    id: "forgot-form",
    fields: [{ name: "email", label: "Email", type: "email", required: true, autocomplete: "email" }],
    submit: "Send me a link",
    onSubmit: async (values) => {
      const answer = await post("/api/auth/password-reset", { email: values.email });
      done(body, "forgot-sent", answer.message);
    },
  }));
}

function reset(body) {
  if (!token()) return noToken(body);
  body.appendChild(makeForm({
    id: "reset-form",
    fields: [{ name: "new_password", label: "New password", type: "password", required: true, autocomplete: "new-password", help: "At least 10 characters." }],
    submit: "Set my password",
    onSubmit: async (values) => {
      await post("/api/auth/password-reset/confirm", { token: token(), new_password: values.new_password });
      done(body, "reset-done", "Your password is set. Every other session of your account has ended.", { href: "/login", text: "Sign in" });
    },
  }));
}

async function invitation(body) {
  if (!token()) return noToken(body);
  let offer;
  try {
    offer = await post("/api/auth/invitations/preview", { token: token() });
  } catch (e) {
    body.appendChild(h("p", { id: "invitation-error", role: "alert", text: e.message || "This link cannot be used." }));
    return;
  }
  body.appendChild(h("p", { id: "invitation-offer", text: `${offer.tenant_name} invites ${offer.email} to join as ${offer.role}.` }));
  const fields = offer.account === "new"
    ? [
        { name: "name", label: "Your name", autocomplete: "name", maxlength: 200, value: offer.name },
        { name: "password", label: "Choose a password", type: "password", required: true, autocomplete: "new-password", help: "At least 10 characters." },
      ]
    : [];
  if (offer.account === "existing") {
    body.appendChild(h("p", { text: `Sign in as ${offer.email} first (in this browser), then come back to this link and accept.` }));
  }
  body.appendChild(makeForm({
    id: "invitation-form",
    fields,
    submit: `Join ${offer.tenant_name}`,
    onSubmit: async (values) => {
      const sent = { token: token() };
      if (offer.account === "new") Object.assign(sent, { password: values.password, name: values.name || null });
      await post("/api/auth/invitations/accept", sent);
      window.location.assign("/app");
    },
  }));
}

const FORMS = { signup, verify, forgot, reset, invitation };

export async function start() {
  const tenant = await brand();
  const body = clear($("#account-body"));
  const form = FORMS[$("#content").dataset.form];
  if (form) form(body, tenant);
}
