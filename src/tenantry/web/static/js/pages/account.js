// Account pages outside the app: create an account (as a client of the tenant whose
// host this is). Each form posts to the account API and says what happens next.

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

const FORMS = { signup };

export async function start() {
  const tenant = await brand();
  const body = clear($("#account-body"));
  const form = FORMS[$("#content").dataset.form];
  if (form) form(body, tenant);
}
