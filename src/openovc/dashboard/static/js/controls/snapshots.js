// Snapshots (/_openovc/snapshots, /_openovc/reset): the saved ones, saving the federation under a name,
// restoring, deleting, and going back to the federation the store began with.

import { del, get, post } from "../api.js";
import { h, table } from "../dom.js";
import * as format from "../format.js";
import { busyWhile, confirmButton, lockFor, outcome, readOnlyNote } from "./common.js";

const SNAPSHOTS = "/_openovc/snapshots";

function restoredText(what, answer) {
  return `${what}: ${format.count(answer.rows)} rows written, ${format.count(answer.counts.virtual_machines)} VMs and `
    + `${format.count(answer.counts.backups)} backups; the clock is at ${format.time(answer.clock.now)}.`;
}

export const snapshotsPanel = {
  id: "snapshots",
  title: "Snapshots",
  async render(ctx) {
    const result = outcome("snapshots");
    const list = h("div", {});

    function draw(snapshots) {
      list.replaceChildren(table([
        { label: "Name", cell: (s) => h("b", {}, s.name) },
        { label: "Saved", cell: (s) => format.time(s.created_at) },
        { label: "Federation clock", cell: (s) => format.time(s.clock.now) },
        { label: "VMs", num: true, cell: (s) => format.count(s.counts.virtual_machines) },
        { label: "Backups", num: true, cell: (s) => format.count(s.counts.backups) },
        { label: "Tasks", num: true, cell: (s) => format.count(s.counts.tasks) },
        { label: "Size", num: true, cell: (s) => format.bytes(s.size) },
        {
          label: "",
          cell: (s) => lockFor(ctx, h("span", { class: "row-actions" },
            confirmButton("Restore", "Replace the federation?", () => restore(s.name), { class: "btn-small", dataset: { restore: s.name } }),
            confirmButton("Delete", "Delete it?", () => remove(s.name), { class: "btn-small", dataset: { delete: s.name } }))),
        },
      ], snapshots, "No snapshot saved yet"));
      list.querySelectorAll("tbody tr").forEach((row, i) => { if (snapshots[i]) row.dataset.snapshot = snapshots[i].name; });
    }

    async function refresh() {
      draw((await get(SNAPSHOTS, undefined, ctx.signal)).snapshots);
    }

    async function change(work, done, after) {
      try {
        const answer = await busyWhile(ctx, body, work);
        result.ok(done(answer));
        if (after) after();
        await refresh();
      } catch (error) {
        if (error.name !== "AbortError") result.error(error);
      }
    }

    // A restore or a reset brings back the snapshot's clock (the top bar shows it at once), its fault rules
    // and its pacing (their panels read them again).
    function replaced() {
      ctx.refreshClock();
      document.dispatchEvent(new CustomEvent("openovc:federation-replaced"));
    }
    const restore = (name) => change(() => post(`${SNAPSHOTS}/${encodeURIComponent(name)}/restore`),
      (a) => restoredText(`Restored ${a.name}`, a), replaced);
    const remove = (name) => change(() => del(`${SNAPSHOTS}/${encodeURIComponent(name)}`), (a) => `Deleted ${a.name}.`);

    const name = h("input", { name: "snapshot", placeholder: "e.g. clean", "aria-label": "Snapshot name", dataset: { testid: "snapshot-name" } });
    const save = h("form", {
      class: "toolbar",
      onsubmit: (event) => {
        event.preventDefault();
        change(() => post(SNAPSHOTS, { name: name.value.trim() }), (a) => {
          name.value = "";
          return `Saved ${a.name}: ${format.count(a.rows)} rows, ${format.bytes(a.size)}.`;
        });
      },
    }, name, h("button", { class: "btn btn-primary", type: "submit" }, "Save snapshot"), h("span", { style: "flex:1" }),
    confirmButton("Reset federation", "Back to the initial federation?", () => change(() => post("/_openovc/reset"),
      (a) => restoredText("Reset to the initial federation", a), replaced), { dataset: { testid: "reset" } }));

    const body = h("div", { class: "grid" },
      h("p", { class: "muted" }, "A snapshot holds every object, task and figure, and the clock; users and their sessions stay as they are."),
      list, save,
      ctx.isAdmin ? null : readOnlyNote("snapshots"),
      result.el);
    await refresh();
    return lockFor(ctx, body);
  },
};
