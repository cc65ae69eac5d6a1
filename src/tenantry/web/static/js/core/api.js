// The one way our pages talk to the server: JSON (or a FormData upload) with the
// session's cookies and, for anything that changes state, the CSRF token that the
// server rendered into the page.

const meta = document.querySelector('meta[name="csrf-token"]');
const csrfToken = meta ? meta.content : null;

// Set while the person signs out: the requests still in flight are then refused as
// session_revoked, and that is their own doing, not an expired session.
let signingOut = false;
export function signingOutNow(yes) {
  signingOut = yes;
}

export class ApiError extends Error {
  constructor(status, error) {
    super(error.message || "The request failed.");
    this.status = status;
    this.code = error.code || "error";
    this.details = Array.isArray(error.details) ? error.details : [];
  }
}

export async function api(method, path, body) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (csrfToken && method !== "GET") init.headers["X-CSRF-Token"] = csrfToken;
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, { code: "network_error", message: "The server could not be reached. Check your connection and try again." });
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch (e) {
    data = null;
  }
  if (response.ok) return data;
  const error = data && data.error && typeof data.error === "object"
    ? data.error
    : { code: "http_" + response.status, message: response.statusText || "The request failed." };
  const failure = new ApiError(response.status, error);
  if (sessionEnded(failure) && document.body.dataset.page === "app" && !signingOut) {
    window.location.assign("/login?notice=expired");
  }
  throw failure;
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body);
export const put = (path, body) => api("PUT", path, body);
export const patch = (path, body) => api("PATCH", path, body);
export const del = (path) => api("DELETE", path);

// The session is gone (never signed in, revoked, timed out).
export function sessionEnded(error) {
  return (error.status === 401 && error.code === "not_authenticated") ||
    (error.status === 403 && error.code === "session_revoked");
}

export function query(params) {
  const search = new URLSearchParams();
  Object.entries(params).forEach(([key, value]) => {
    if (value === undefined || value === null || value === "") return;
    if (Array.isArray(value)) value.forEach((v) => search.append(key, v));
    else search.append(key, String(value));
  });
  const text = search.toString();
  return text ? "?" + text : "";
}
