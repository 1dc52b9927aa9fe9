// The dashboard's shell: login, the session's role, the clock in the top bar, and routing between views.

import * as api from "./api.js";
import { clear, describe, errorBox, h } from "./dom.js";
import * as format from "./format.js";
import * as overview from "./views/overview.js";
import * as vms from "./views/vms.js";
import * as vm from "./views/vm.js";
import * as cluster from "./views/cluster.js";
import * as host from "./views/host.js";
import * as tasks from "./views/tasks.js";
import * as controls from "./views/controls.js";

// Each route: a pattern on the hash's path, the view module, and the navigation entry it lights up.
const ROUTES = [
  [/^\/(overview)?$/, overview, "overview"],
  [/^\/vms$/, vms, "vms"],
  [/^\/vms\/([^/]+)$/, vm, "vms"],
  [/^\/clusters\/([^/]+)$/, cluster, "overview"],
  [/^\/hosts\/([^/]+)$/, host, "overview"],
  [/^\/tasks$/, tasks, "tasks"],
  [/^\/controls$/, controls, "controls"],
];

const $ = (id) => document.getElementById(id);
const session = { username: "", role: "" };
let current = null; // the shown view's AbortController: navigation cancels its reads and timers
let clockTimer = null;

function showLogin(message) {
  current?.abort();
  clearInterval(clockTimer);
  $("shell").hidden = true;
  $("login").hidden = false;
  const error = $("login-error");
  error.hidden = !message;
  error.textContent = message || "";
  $("login-password").value = "";
  $("login-username").focus();
}

async function startSession() {
  const who = await api.get("/_openovc/session");
  session.username = who.username;
  session.role = who.role;
  $("whoami").textContent = "";
  $("whoami").append(who.username, " ", h("span", { class: `badge ${who.role === "administrator" ? "ok" : "info"}` },
    who.role === "administrator" ? "administrator" : "read-only"));
  $("login").hidden = true;
  $("shell").hidden = false;
  refreshClock();
  clearInterval(clockTimer);
  clockTimer = setInterval(refreshClock, 5000);
  await route();
}

export async function refreshClock() {
  try {
    const clock = await api.get("/_openovc/clock");
    $("clock-now").textContent = format.time(clock.now);
    $("clock-mode").textContent = clock.mode;
    return clock;
  } catch (error) {
    $("clock-now").textContent = "unavailable";
    return null;
  }
}

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/overview";
  const [path, search] = raw.split("?");
  return { path, query: new URLSearchParams(search || "") };
}

export function navigate(path, query) {
  const search = query ? new URLSearchParams(query).toString() : "";
  const target = "#" + path + (search ? "?" + search : "");
  if (location.hash === target) route();
  else location.hash = target;
}

// Replaces the hash without a new history entry or a second render (a list's filters as they are typed).
export function remember(path, query) {
  const search = new URLSearchParams(query).toString();
  history.replaceState(null, "", "#" + path + (search ? "?" + search : ""));
}

function setCrumbs(...parts) {
  const crumbs = clear($("crumbs"));
  parts.forEach((part, i) => {
    if (i) crumbs.append(" / ");
    crumbs.append(Array.isArray(part) ? h("a", { href: part[1] }, part[0]) : h("b", {}, part));
  });
}

async function route() {
  if (!api.hasToken()) return showLogin();
  current?.abort();
  const controller = new AbortController();
  current = controller;
  const { path, query } = parseHash();
  const found = ROUTES.map(([re, mod, nav]) => [path.match(re), mod, nav]).find(([m]) => m);
  const view = clear($("view"));
  view.dataset.state = "loading";
  view.dataset.view = "";
  view.append(h("div", { class: "loading" }, "Loading…"));
  for (const link of document.querySelectorAll("[data-nav]")) {
    link.classList.toggle("active", found && link.dataset.nav === found[2]);
  }
  if (!found) {
    clear(view).append(errorBox(`No such page: ${path}`));
    view.dataset.state = "error";
    return;
  }
  const [match, mod] = found;
  const ctx = {
    args: match.slice(1),
    query,
    path,
    role: session.role,
    isAdmin: session.role === "administrator",
    signal: controller.signal,
    setCrumbs,
    navigate,
    remember,
    refreshClock,
    every(ms, fn) {
      const timer = setInterval(fn, ms);
      controller.signal.addEventListener("abort", () => clearInterval(timer));
    },
  };
  const started = performance.now();
  try {
    const content = await mod.render(ctx);
    if (controller.signal.aborted) return;
    clear(view).append(content);
    view.dataset.view = mod.NAME;
    view.dataset.state = "ready";
    view.dataset.loadMs = String(Math.round(performance.now() - started));
  } catch (error) {
    if (controller.signal.aborted || error.name === "AbortError" || error.status === 401) return;
    clear(view).append(errorBox(error));
    view.dataset.view = mod.NAME;
    view.dataset.state = "error";
  }
}

function boot() {
  api.whenUnauthorized(() => showLogin("Your session has ended: please sign in again."));
  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = $("login-submit");
    button.disabled = true;
    $("login-error").hidden = true;
    try {
      await api.login($("login-username").value.trim(), $("login-password").value);
      await startSession();
    } catch (error) {
      const bad = error.status === 400 || error.status === 401;
      showLogin(bad ? `Sign-in refused: ${error.message}` : describe(error));
    } finally {
      button.disabled = false;
    }
  });
  $("logout").addEventListener("click", async () => {
    await api.logout();
    showLogin();
  });
  window.addEventListener("hashchange", () => route());
  if (api.hasToken()) startSession().catch((error) => showLogin(error.status === 401 ? undefined : describe(error)));
  else showLogin();
}

boot();
