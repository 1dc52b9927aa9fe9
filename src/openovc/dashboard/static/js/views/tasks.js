// Tasks as they run, for the whole federation: every server's, newest first (GET /_openovc/tasks, since
// HPE's API lists none), read again every second. Tasks this tab started keep the label it gave them;
// every task shows the operation the listing names, and a click on it lists only that operation's tasks.

import { get } from "../api.js";
import { describe, h, panel, table } from "../dom.js";
import * as format from "../format.js";
import { pollRunning, tracked } from "../tasks.js";
import { badge } from "./common.js";

export const NAME = "tasks";
const STATES = [["", "All"], ["IN_PROGRESS", "In progress"], ["COMPLETED", "Completed"], ["FAILED", "Failed"]];
const LIMITS = ["50", "100", "200", "500"];

function progress(task) {
  const pct = task.state === "COMPLETED" ? 100 : Number(task.percent_complete) || 0;
  return h("div", { class: `progress ${task.state === "COMPLETED" ? "done" : ""}`, title: `${pct} %` }, h("span", { style: `width:${pct}%` }));
}

function affected(task) {
  if (task.state === "FAILED") {
    return h("span", { class: "alert-error", dataset: { testid: "task-error" } }, `${task.error_code}: ${task.error_message || task.message || "failed"}`);
  }
  return (task.affected_objects || []).map((o) => (o.object_type === "virtual_machine"
    ? h("a", { href: `#/vms/${o.object_id}` }, "virtual machine ")
    : h("span", { class: "mono" }, `${o.object_type} ${o.object_id.slice(0, 8)}… `)));
}

// The view's query string: only what differs from the defaults.
function where({ state, limit, operation }) {
  return { ...(state ? { state } : {}), ...(limit !== LIMITS[0] ? { limit } : {}), ...(operation ? { operation } : {}) };
}

export async function render(ctx) {
  ctx.setCrumbs("Tasks");
  const state = ctx.query.get("state") || "";
  const limit = LIMITS.includes(ctx.query.get("limit")) ? ctx.query.get("limit") : LIMITS[0];
  const operation = ctx.query.get("operation") || "";
  const box = h("div", {});
  const status = h("span", { class: "muted", dataset: { testid: "tasks-status" } });
  const seen = new Set(); // ids already drawn: a task that appears later is marked new
  let first = true;
  let shown = "";

  // What the task does; a link to the list of that operation's tasks, unless that is the list shown.
  function operationOf(task) {
    const attrs = { class: "mono", dataset: { testid: "task-operation" } };
    if (task.operation === operation) return h("div", attrs, task.operation);
    const href = "#/tasks?" + new URLSearchParams(where({ state, limit, operation: task.operation })).toString();
    return h("div", {}, h("a", { ...attrs, href, title: `Only ${task.operation} tasks` }, task.operation));
  }

  function draw(tasks) {
    const labels = new Map(tracked().map((t) => [t.id, t.label]));
    const now = JSON.stringify([tasks, [...labels]]);
    if (now === shown) return;
    shown = now;
    const empty = state ? "No task in this state"
      : operation ? `No ${operation} task yet`
        : "No task yet: one appears here as soon as a client of any server starts it";
    box.replaceChildren(table([
      { label: "Task", cell: (t) => h("div", {}, labels.has(t.id) ? h("div", {}, labels.get(t.id)) : null, operationOf(t), h("div", { class: "mono muted" }, t.id)) },
      { label: "State", cell: (t) => badge(t.state) },
      { label: "Progress", cell: (t) => progress(t) },
      { label: "Started", cell: (t) => h("span", { class: "nowrap" }, format.time(t.start_time)) },
      { label: "Ended", cell: (t) => h("span", { class: "nowrap" }, format.time(t.end_time)) },
      { label: "Result", cell: (t) => affected(t) },
    ], tasks, empty));
    box.querySelectorAll("tbody tr").forEach((row, i) => {
      const task = tasks[i];
      if (!task) return;
      row.dataset.task = task.id;
      row.classList.toggle("fresh", !first && !seen.has(task.id));
    });
    for (const t of tasks) seen.add(t.id);
    first = false;
    const running = tasks.filter((t) => t.state === "IN_PROGRESS").length;
    status.textContent = `${running ? `${running} in progress` : "Nothing in progress"} among the newest ${tasks.length} · updated every second`;
  }

  async function refresh() {
    await pollRunning(ctx.signal); // this tab's own tasks, polled by id as any client follows its tasks
    draw((await get("/_openovc/tasks", { state, limit, operation }, ctx.signal)).tasks);
  }

  let polling = false;
  ctx.every(1000, async () => {
    if (polling) return;
    polling = true;
    try {
      await refresh();
    } catch (error) {
      if (error.name !== "AbortError") status.textContent = describe(error);
    } finally {
      polling = false;
    }
  });
  await refresh();

  const filters = h("div", { class: "toolbar" },
    h("div", { class: "seg", role: "group", "aria-label": "State" }, STATES.map(([value, label]) => h("button", {
      type: "button",
      class: value === state ? "on" : "",
      dataset: { state: value || "all" },
      onclick: () => ctx.navigate("/tasks", where({ state: value, limit, operation })),
    }, label))),
    h("label", { class: "muted" }, "Show ", h("select", {
      "aria-label": "How many",
      class: "compact",
      onchange: (event) => ctx.navigate("/tasks", where({ state, limit: event.target.value, operation })),
    }, LIMITS.map((n) => h("option", { value: n, selected: n === limit }, `newest ${n}`)))),
    operation ? h("span", { class: "muted", dataset: { testid: "operation-filter" } }, "Only ", h("span", { class: "mono" }, operation), " ",
      h("button", {
        type: "button",
        class: "compact",
        dataset: { testid: "any-operation" },
        onclick: () => ctx.navigate("/tasks", where({ state, limit })),
      }, "Any operation")) : null);

  return h("div", { class: "grid" },
    h("div", { class: "view-head" }, h("h1", {}, "Tasks"), status),
    panel("Tasks of the federation", h("div", {}, filters, box)),
    h("p", { class: "muted" }, "HPE's API has no task list: OpenOVC's control API adds one (GET /_openovc/tasks), "
      + "with the operation each task performs. A task started here keeps the label it was given."));
}
