// Task pacing (/_openovc/pacing): how long tasks take, by default and per operation, changed at run time
// for every server of the federation, or set back to what the servers started with.

import { del, get, put } from "../api.js";
import { h, table } from "../dom.js";
import { busyWhile, confirmButton, lockFor, outcome, readOnlyNote } from "./common.js";

const PACING = "/_openovc/pacing";
const FORMS = "immediate, duration:SECONDS[:JITTER] (e.g. duration:20:0.3) or polls:N";

export const pacingPanel = {
  id: "pacing",
  title: "Task pacing",
  async render(ctx) {
    const result = outcome("pacing");
    const shown = h("div", {});
    let pacing = null;

    function draw(found) {
      pacing = found;
      const rows = Object.entries(found.operations).map(([operation, value]) => ({ operation, value }));
      shown.replaceChildren(
        h("div", { class: "toolbar" },
          h("span", {}, "Default: ", h("b", { class: "mono", dataset: { testid: "pacing-default" } }, found.default)),
          h("span", { class: `badge ${found.set_at_run_time ? "warn" : "info"}` }, found.set_at_run_time ? "set at run time" : "as the servers started")),
        table([
          { label: "Operation", cell: (r) => h("span", { class: "mono" }, r.operation) },
          { label: "Pacing", cell: (r) => h("span", { class: "mono" }, r.value) },
          { label: "", cell: (r) => lockFor(ctx, h("span", {}, h("button", { class: "btn btn-small", type: "button", onclick: () => unset(r.operation) }, "Remove"))) },
        ], rows, "Every operation takes the default"),
      );
      shown.querySelectorAll("tbody tr").forEach((row, i) => { if (rows[i]) row.dataset.operation = rows[i].operation; });
    }

    async function refresh() {
      draw(await get(PACING, undefined, ctx.signal));
    }

    async function change(work, done) {
      try {
        draw(await busyWhile(ctx, body, work));
        result.ok(done);
      } catch (error) {
        if (error.name !== "AbortError") result.error(error);
      }
    }

    // The server replaces the whole table: send what is shown with the one change.
    const send = (defaultPacing, operations) => put(PACING, { default: defaultPacing, operations });
    function unset(operation) {
      const operations = { ...pacing.operations };
      delete operations[operation];
      return change(() => send(pacing.default, operations), `${operation} takes the default again.`);
    }

    const operation = h("input", { name: "operation", class: "mono wide", placeholder: "e.g. virtual_machine.clone", "aria-label": "Operation" });
    const value = h("input", { name: "pacing", class: "mono", placeholder: "e.g. duration:20:0.3", "aria-label": "Pacing" });
    const perOperation = h("form", {
      class: "toolbar",
      dataset: { testid: "pacing-operation" },
      onsubmit: (event) => {
        event.preventDefault();
        const name = operation.value.trim();
        change(() => send(pacing.default, { ...pacing.operations, [name]: value.value.trim() }), `${name} paced ${value.value.trim()}.`);
      },
    }, operation, value, h("button", { class: "btn btn-primary", type: "submit" }, "Set for operation"));

    const fallback = h("input", { name: "default", class: "mono", placeholder: "e.g. immediate", "aria-label": "Default pacing" });
    const byDefault = h("form", {
      class: "toolbar",
      dataset: { testid: "pacing-default-form" },
      onsubmit: (event) => {
        event.preventDefault();
        change(() => send(fallback.value.trim(), pacing.operations), `Default pacing ${fallback.value.trim()}.`);
      },
    }, fallback, h("button", { class: "btn", type: "submit" }, "Set default"), h("span", { style: "flex:1" }),
    confirmButton("Back to start-up pacing", "Forget the run-time pacing?", () => change(() => del(PACING), "Back to the servers' start-up pacing."),
      { dataset: { testid: "pacing-reset" } }));

    const body = h("div", { class: "grid" },
      h("p", { class: "muted" }, `How long the tasks submitted from now on take: ${FORMS}.`),
      shown, perOperation, byDefault,
      ctx.isAdmin ? null : readOnlyNote("the pacing"),
      result.el);
    await refresh();
    // A restore or a reset brings back the pacing the snapshot holds.
    const again = () => refresh().catch(() => {});
    document.addEventListener("openovc:federation-replaced", again);
    ctx.signal.addEventListener("abort", () => document.removeEventListener("openovc:federation-replaced", again));
    return lockFor(ctx, body);
  },
};
