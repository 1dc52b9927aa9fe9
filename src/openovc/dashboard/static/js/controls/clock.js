// The simulator's clock: where it stands, and moving it on (administrators only).

import { get, post } from "../api.js";
import { describe, facts, h } from "../dom.js";
import * as format from "../format.js";

const STEPS = [["+1 hour", 3600], ["+6 hours", 21600], ["+1 day", 86400], ["+7 days", 604800]];

export const clockPanel = {
  id: "clock",
  title: "Simulator clock",
  async render(ctx) {
    const clock = await get("/_openovc/clock", undefined, ctx.signal);
    const shown = h("div", {});
    const result = h("div", { dataset: { testid: "clock-result" } });
    const custom = h("input", { placeholder: "e.g. 90m, 12h, 3d", "aria-label": "Duration", style: "width:160px", disabled: !ctx.isAdmin });
    const buttons = [];

    function showClock(c) {
      shown.replaceChildren(facts([
        ["Simulated now", h("b", { dataset: { testid: "clock-now" } }, format.time(c.now))],
        ["Mode", h("span", { class: "badge info" }, c.mode)],
      ]));
    }

    async function advance(seconds) {
      for (const b of buttons) b.disabled = true;
      result.replaceChildren(h("p", { class: "muted" }, "Moving the clock…"));
      try {
        const moved = await post("/_openovc/clock/advance", { seconds });
        showClock(moved);
        ctx.refreshClock();
        result.replaceChildren(h("p", { class: "alert alert-ok", dataset: { testid: "clock-moved" } },
          `Now ${format.time(moved.now)}: ${format.count(moved.backups_taken)} backups taken, `,
          `${format.count(moved.backups_expired)} expired, ${format.count(moved.tasks_completed)} tasks completed.`));
      } catch (error) {
        result.replaceChildren(h("p", { class: "alert alert-error", role: "alert", dataset: { testid: "clock-error" } }, describe(error)));
      } finally {
        for (const b of buttons) b.disabled = !ctx.isAdmin;
      }
    }

    for (const [label, seconds] of STEPS) {
      buttons.push(h("button", { class: "btn", disabled: !ctx.isAdmin, dataset: { advance: String(seconds) }, onclick: () => advance(seconds) }, label));
    }
    const go = h("button", { class: "btn btn-primary", disabled: !ctx.isAdmin, onclick: () => custom.value.trim() && advance(custom.value.trim()) }, "Advance");
    buttons.push(go);
    showClock(clock);
    return h("div", { class: "grid" },
      shown,
      h("div", { class: "toolbar" }, buttons.slice(0, STEPS.length), custom, go),
      ctx.isAdmin ? null : h("p", { class: "alert alert-info", dataset: { testid: "read-only-note" } },
        "Read-only users can watch the clock but not move it."),
      result);
  },
};
