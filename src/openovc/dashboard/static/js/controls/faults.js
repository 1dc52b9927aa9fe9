// Fault rules (/_openovc/faults): the rules with how often each fired, adding one from a form or as raw
// JSON, removing one or all. The list is read again every two seconds, so a rule's count rises as it fires.

import { del, get, post } from "../api.js";
import { h, table } from "../dom.js";
import { busyWhile, confirmButton, lockFor, outcome, readOnlyNote } from "./common.js";

const FAULTS = "/_openovc/faults";
const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"];
const EFFECTS = [
  ["task_error", "Task fails"],
  ["http", "Error answer"],
  ["delay", "Delay"],
  ["drop", "Dropped connection"],
];
const EXAMPLE = {
  match: { operation: "cloneVm" },
  name: "web-*",
  effect: { task_error: { error_code: 130, message: "The VM power state is not acceptable." } },
  count: 1,
};

let operationIds = null; // HPE's operationIds, read once from its OpenAPI document for the form's suggestions

async function loadOperations(list) {
  if (!operationIds) {
    const spec = await get("/api/openapi.json");
    operationIds = Object.values(spec.paths || {})
      .flatMap((item) => Object.values(item).map((op) => op.operationId))
      .filter(Boolean)
      .sort();
  }
  list.replaceChildren(...operationIds.map((id) => h("option", { value: id })));
}

function matchText(rule) {
  const m = rule.match || {};
  const what = m.operation ? m.operation : `${m.method} ${m.path}`;
  const only = [rule.object_id && `object ${rule.object_id}`, rule.name && `name ${rule.name}`].filter(Boolean);
  return h("div", {}, h("div", { class: "mono" }, what), only.length ? h("div", { class: "muted" }, only.join(", ")) : null);
}

function effectText(effect) {
  if (effect.http) {
    const e = effect.http;
    return `HTTP ${e.status}${e.message ? `: ${e.message}` : ""}`;
  }
  if (effect.task_error) {
    const e = effect.task_error;
    return `Task fails with ${e.error_code}${e.message ? `: ${e.message}` : ""}`;
  }
  if (effect.delay_ms !== undefined) return `Delay ${effect.delay_ms} ms${effect.jitter_ms ? ` ± ${effect.jitter_ms} ms` : ""}`;
  if (effect.drop_connection) return "Connection dropped";
  return JSON.stringify(effect);
}

function times(n) {
  return n === 1 ? "once" : `${n} times`;
}

function field(label, control, hint) {
  return h("label", { class: "field" }, h("span", {}, label), control, hint ? h("small", { class: "muted" }, hint) : null);
}

function number(name, attrs = {}) {
  return h("input", { type: "number", name, class: "narrow", ...attrs });
}

// The rule a filled-in form describes; what the server makes of it (a 400 naming the field) is its word.
function ruleFrom(form) {
  const v = (name) => form.elements[name].value.trim();
  const num = (name) => (v(name) === "" ? undefined : Number(v(name)));
  const match = v("kind") === "operation" ? { operation: v("operation") } : { method: v("method"), path: v("path") };
  const effects = {
    http: () => ({ http: { status: num("status"), ...(v("http_message") ? { message: v("http_message") } : {}) } }),
    task_error: () => ({ task_error: { error_code: num("error_code"), ...(v("task_message") ? { message: v("task_message") } : {}) } }),
    delay: () => ({ delay_ms: num("delay_ms"), ...(num("jitter_ms") ? { jitter_ms: num("jitter_ms") } : {}) }),
    drop: () => ({ drop_connection: true }),
  };
  const rule = { match, effect: effects[v("effect")]() };
  if (v("probability") !== "") rule.probability = num("probability");
  if (v("count") !== "") rule.count = num("count");
  return rule;
}

function ruleForm(onAdd) {
  const suggestions = h("datalist", { id: "fault-operations" });
  const operation = h("input", { name: "operation", list: "fault-operations", placeholder: "e.g. backupVm", class: "mono", autocomplete: "off" });
  operation.addEventListener("focus", () => loadOperations(suggestions).catch(() => {}), { once: true });
  const byOperation = h("div", { class: "fields" }, field("Operation", operation, "HPE's operationId"), suggestions);
  const byPath = h("div", { class: "fields", hidden: true },
    field("Method", h("select", { name: "method" }, METHODS.map((m) => h("option", {}, m)))),
    field("Path", h("input", { name: "path", placeholder: "/api/virtual_machines/{vmId}/clone", class: "mono wide" })));
  const kind = h("select", { name: "kind", onchange: () => { byOperation.hidden = kind.value !== "operation"; byPath.hidden = kind.value === "operation"; } },
    h("option", { value: "operation" }, "an operation"), h("option", { value: "path" }, "a method and path"));

  const effectFields = {
    task_error: h("div", { class: "fields" },
      field("Error code", number("error_code", { value: "130", min: "0" })),
      field("Message", h("input", { name: "task_message", class: "wide", placeholder: "default: the real one's for the code" }))),
    http: h("div", { class: "fields", hidden: true },
      field("Status", number("status", { value: "503", min: "400", max: "599" })),
      field("Message", h("input", { name: "http_message", class: "wide", placeholder: "default: the real one's for the status" }))),
    delay: h("div", { class: "fields", hidden: true },
      field("Delay (ms)", number("delay_ms", { value: "2000", min: "0" })),
      field("Jitter (ms)", number("jitter_ms", { value: "0", min: "0" }))),
    drop: h("div", { class: "fields", hidden: true }, h("p", { class: "muted" }, "The connection closes without an answer.")),
  };
  const effect = h("select", {
    name: "effect",
    onchange: () => { for (const [key, el] of Object.entries(effectFields)) el.hidden = key !== effect.value; },
  }, EFFECTS.map(([value, label]) => h("option", { value }, label)));

  // novalidate: the server judges the values, and its answer names the field at fault.
  const form = h("form", { class: "rule-form", novalidate: true, dataset: { testid: "fault-form" } },
    h("div", { class: "fields" }, field("Match", kind), field("Effect", effect),
      field("Probability", number("probability", { value: "1", min: "0", max: "1", step: "0.05" })),
      field("Count", number("count", { min: "1", placeholder: "no limit" }))),
    byOperation, byPath, ...Object.values(effectFields),
    h("div", {}, h("button", { class: "btn btn-primary", type: "submit" }, "Add rule")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    onAdd(() => ruleFrom(form));
  });
  return form;
}

function rawForm(onAdd) {
  const text = h("textarea", { name: "rule", rows: 6, class: "mono", spellcheck: false, "aria-label": "Rule as JSON" }, JSON.stringify(EXAMPLE, null, 2));
  const form = h("form", { class: "rule-form", hidden: true, dataset: { testid: "fault-json" } },
    text, h("div", {}, h("button", { class: "btn btn-primary", type: "submit" }, "Add rule")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    onAdd(() => {
      try {
        return JSON.parse(text.value);
      } catch (error) {
        throw new Error(`Not JSON: ${error.message}`);
      }
    });
  });
  return form;
}

export const faultsPanel = {
  id: "faults",
  title: "Fault rules",
  async render(ctx) {
    const result = outcome("faults");
    const list = h("div", {});
    let shown = "";

    function draw(faults) {
      clearAll.disabled = !ctx.isAdmin || !faults.length;
      const now = JSON.stringify(faults);
      if (now === shown) return; // unchanged: keep the rows (and a remove button waiting for its second click)
      shown = now;
      list.replaceChildren(table([
        { label: "Matches", cell: (f) => matchText(f) },
        { label: "Effect", cell: (f) => effectText(f.effect) },
        { label: "Probability", num: true, cell: (f) => String(f.probability) },
        { label: "Count", num: true, cell: (f) => (f.count ? String(f.count) : "no limit") },
        { label: "Fired", num: true, cell: (f) => h("b", { dataset: { testid: "fired" } }, String(f.fired)) },
        { label: "", cell: (f) => lockFor(ctx, h("span", {}, confirmButton("Remove", "Remove?", () => remove(f), { class: "btn-small" }))) },
      ], faults, "No rule: HPE's API answers as usual"));
      list.querySelectorAll("tbody tr").forEach((row, i) => { if (faults[i]) row.dataset.fault = faults[i].id; });
    }

    async function refresh() {
      draw((await get(FAULTS, undefined, ctx.signal)).faults);
    }

    async function change(work, done) {
      try {
        const answer = await busyWhile(ctx, panelBody, work);
        result.ok(done(answer));
        await refresh();
      } catch (error) {
        if (error.name !== "AbortError") result.error(error);
      }
    }

    function remove(fault) {
      return change(() => del(`${FAULTS}/${encodeURIComponent(fault.id)}`), (a) => `Removed the rule on ${a.fault.match.operation || a.fault.match.path}; it fired ${times(a.fault.fired)}.`);
    }

    const clearAll = confirmButton("Clear all", "Clear every rule?", () => change(() => del(FAULTS), (a) => `Removed ${a.removed === 1 ? "1 rule" : `${a.removed} rules`}.`),
      { class: "btn-small", dataset: { testid: "faults-clear" } });
    const add = (makeRule) => change(() => post(FAULTS, makeRule()), (a) => `Added rule ${a.fault.id}.`);
    const formView = ruleForm(add);
    const jsonView = rawForm(add);
    const modes = h("div", { class: "seg", role: "group" },
      [["form", "Form"], ["json", "JSON"]].map(([mode, label]) => h("button", {
        type: "button", class: mode === "form" ? "on" : "", dataset: { mode },
        onclick: (event) => {
          formView.hidden = mode !== "form";
          jsonView.hidden = mode !== "json";
          for (const b of modes.children) b.classList.toggle("on", b === event.currentTarget);
        },
      }, label)));

    const panelBody = h("div", { class: "grid" },
      h("p", { class: "muted" }, "Rules make HPE's API fail as the real one does, on every server of the federation."),
      list,
      h("div", { class: "toolbar" }, h("h3", { style: "margin:0" }, "Add a rule"), modes, h("span", { style: "flex:1" }), clearAll),
      formView, jsonView,
      ctx.isAdmin ? null : readOnlyNote("fault rules"),
      result.el);
    await refresh();
    ctx.every(2000, () => refresh().catch(() => {}));
    const again = () => refresh().catch(() => {});
    document.addEventListener("openovc:federation-replaced", again);
    ctx.signal.addEventListener("abort", () => document.removeEventListener("openovc:federation-replaced", again));
    return lockFor(ctx, panelBody);
  },
};
