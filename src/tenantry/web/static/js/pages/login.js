// The sign-in form. On a tenant's host it carries the tenant's name (from the public
// API) and the server lists only that tenant's demo accounts.

import { get, post } from "../core/api.js";
import { $ } from "../core/dom.js";
import { clearErrors, setFieldError, errorText } from "../core/forms.js";

const NOTICES = {
  all: "You are signed out everywhere.",
  out: "You are signed out.",
  expired: "Your session has ended; please sign in again.",
  reset: "Your password was changed. Sign in with the new one.",
  verified: "Your email address is confirmed. Sign in to continue.",
};

// Only our own app pages are followed after signing in (never another site).
export function safeNext(value) {
  return value && /^\/app(\/[A-Za-z0-9\-/]*)?(\?[A-Za-z0-9=&%\-_.]*)?$/.test(value) ? value : "/app";
}

async function brand() {
  if (!document.body.dataset.hostTenant) return;
  try {
    const tenant = await get("/api/public/tenant");
    $("#login-brand").textContent = tenant.name;
    document.title = "Sign in · " + tenant.name;
  } catch (e) {
    // The plain brand stays.
  }
}

export function start() {
  const form = $("#login-form");
  const summary = $("#login-error");
  const submit = $("#login-submit");
  const params = new URLSearchParams(window.location.search);
  const notice = NOTICES[params.get("notice")];
  if (notice) {
    const p = document.createElement("p");
    p.id = "login-notice";
    p.className = "notice";
    p.setAttribute("role", "status");
    p.textContent = notice;
    form.insertBefore(p, form.querySelector(".field"));
  }
  brand();
  document.querySelectorAll(".demo-account").forEach((button) => {
    button.addEventListener("click", () => {
      $("#email").value = button.dataset.email;
      $("#password").value = button.dataset.password;
      $("#password").focus();
    });
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const email = $("#email").value.trim();
    const password = $("#password").value;
    let missing = false;
    if (!email) { setFieldError(form, "email", "Enter your email address."); missing = true; }
    if (!password) { setFieldError(form, "password", "Enter your password."); missing = true; }
    if (missing) {
      form.querySelector("[aria-invalid='true']").focus();
      return;
    }
    submit.disabled = true;
    try {
      await post("/api/auth/login", { email, password });
      window.location.assign(safeNext(params.get("next")));
    } catch (error) {
      submit.disabled = false;
      if (error.code === "validation_error") {
        setFieldError(form, "email", "Enter an email address like name@example.com.");
        summary.textContent = "Please correct the highlighted field.";
      } else {
        summary.textContent = errorText(error);
      }
      summary.hidden = false;
      (form.querySelector("[aria-invalid='true']") || $("#email")).focus();
    }
  });
}
