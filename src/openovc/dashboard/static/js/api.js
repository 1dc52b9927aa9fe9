// Calls to the server: HPE's API under /api and ours under /_openovc, with the session's bearer token.
// The token is kept in sessionStorage (one tab's session); a 401 sends the user back to the login form.

const TOKEN = "openovc.token";
const BASIC = "Basic " + btoa("simplivity:"); // the SDK's OAuth client: id "simplivity", empty secret
// Writes under /api name a version that every operation the dashboard sends accepts.
const VENDOR = "application/vnd.simplivity.v1.14+json";

export class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.message || body.error_description || body.error)) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

let onUnauthorized = () => {};

export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

export function hasToken() {
  return Boolean(sessionStorage.getItem(TOKEN));
}

export function forget() {
  sessionStorage.removeItem(TOKEN);
}

async function decode(resp) {
  const text = await resp.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { message: text.slice(0, 200) };
  }
}

export async function login(username, password) {
  const resp = await fetch("/api/oauth/token", {
    method: "POST",
    headers: {
      Authorization: BASIC,
      Accept: "application/json",
      "Content-Type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ grant_type: "password", username, password }),
  });
  const body = await decode(resp);
  if (!resp.ok || !body || !body.access_token) throw new ApiError(resp.status, body);
  sessionStorage.setItem(TOKEN, body.access_token);
}

export async function logout() {
  const token = sessionStorage.getItem(TOKEN);
  forget();
  if (token) {
    await fetch("/api/oauth/revoke", { headers: { Authorization: `Bearer ${token}` } }).catch(() => {});
  }
}

export function query(params) {
  const kept = Object.entries(params || {}).filter(([, v]) => v !== undefined && v !== null && v !== "");
  return kept.length ? "?" + new URLSearchParams(kept).toString() : "";
}

export async function call(path, { method = "GET", params, body, signal } = {}) {
  const headers = { Accept: "application/json", Authorization: `Bearer ${sessionStorage.getItem(TOKEN) || ""}` };
  if (body !== undefined) headers["Content-Type"] = path.startsWith("/api/") ? VENDOR : "application/json";
  const resp = await fetch(path + query(params), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  const data = await decode(resp);
  if (resp.status === 401) {
    forget();
    onUnauthorized(new ApiError(401, data));
    throw new ApiError(401, data);
  }
  if (!resp.ok) throw new ApiError(resp.status, data);
  return data;
}

export function get(path, params, signal) {
  return call(path, { params, signal });
}

export function post(path, body, signal) {
  return call(path, { method: "POST", body, signal });
}

export function put(path, body, signal) {
  return call(path, { method: "PUT", body, signal });
}

export function del(path, signal) {
  return call(path, { method: "DELETE", signal });
}
