// The simulator's controls: every panel of controls/registry.js.

import { h, panel } from "../dom.js";
import { PANELS } from "../controls/registry.js";

export const NAME = "controls";

export async function render(ctx) {
  ctx.setCrumbs("Controls");
  const panels = await Promise.all(PANELS.map(async (p) => {
    const section = panel(p.title, await p.render(ctx));
    section.dataset.control = p.id;
    return section;
  }));
  return h("div", { class: "grid" },
    h("div", { class: "view-head" }, h("h1", {}, "Controls"),
      h("span", { class: "muted" }, ctx.isAdmin ? "Changes apply to every server of the federation" : "Read-only: controls are disabled")),
    ...panels);
}
