// Arrived from another tenant's host with a one-time token in the fragment: trade it
// for a session on this host, then open the app. The fragment is removed at once.

import { post } from "../core/api.js";
import { $ } from "../core/dom.js";

export async function start() {
  const token = window.location.hash.slice(1);
  window.history.replaceState(null, "", window.location.pathname);
  const fail = (text) => {
    $("#handoff-title").textContent = "Please sign in";
    const message = $("#handoff-message");
    message.textContent = text + " ";
    const link = document.createElement("a");
    link.href = "/login";
    link.textContent = "Go to the sign-in page";
    message.appendChild(link);
  };
  if (!token) {
    fail("This link has no sign-in token.");
    return;
  }
  try {
    await post("/api/auth/handoff", { token });
    window.location.replace("/app");
  } catch (error) {
    fail(error.message);
  }
}
