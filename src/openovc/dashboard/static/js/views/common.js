// Pieces several views share: capacity bars, state badges, time-window pickers, links to objects.

import { h } from "../dom.js";
import * as format from "../format.js";

export function badge(state) {
  return h("span", { class: `badge ${format.stateClass(state)}` }, state || "—");
}

export function capacityBar(used, allocated) {
  const share = allocated > 0 ? Math.min(1, used / allocated) : 0;
  const level = share >= 0.9 ? "full" : share >= 0.75 ? "high" : "used";
  return h("div", { class: "capacity", dataset: { used: String(used), allocated: String(allocated) } },
    h("div", { class: "bar" }, h("span", { class: level, style: `width:${(share * 100).toFixed(2)}%` })),
    h("div", { class: "bar-caption" },
      h("span", {}, `${format.bytes(used)} used of ${format.bytes(allocated)}`),
      h("span", {}, format.percent(used, allocated))));
}

export const link = {
  cluster: (id, name) => h("a", { href: `#/clusters/${id}` }, name || id),
  host: (id, name) => h("a", { href: `#/hosts/${id}` }, name || id),
  vm: (id, name) => h("a", { href: `#/vms/${id}` }, name || id),
};

// Windows a chart can show, with the resolution that gives it a readable number of points.
export const WINDOWS = [
  { label: "1 h", range: 3600, resolution: "MINUTE" },
  { label: "12 h", range: 43200, resolution: "MINUTE" },
  { label: "7 d", range: 604800, resolution: "HOUR" },
  { label: "30 d", range: 2592000, resolution: "HOUR" },
  { label: "1 y", range: 31536000, resolution: "DAY" },
];

export function windowPicker(chosen, onPick, windows = WINDOWS) {
  return h("div", { class: "seg", role: "group" },
    windows.map((w) => h("button", {
      type: "button",
      class: w.label === chosen.label ? "on" : "",
      dataset: { window: w.label },
      onclick: () => onPick(w),
    }, w.label)));
}

// A panel whose body is reloaded when its window changes; `load(window)` returns the body.
export function windowedPanel(title, load, initial, windows = WINDOWS) {
  const body = h("div", {}, h("div", { class: "loading" }, "Loading…"));
  const head = h("div", {});
  const section = h("section", { class: "panel" },
    h("div", { class: "panel-head" }, h("h2", {}, title), head), body);
  let token = 0;
  async function show(w) {
    const mine = ++token;
    head.replaceChildren(windowPicker(w, show, windows));
    section.dataset.window = w.label;
    section.dataset.state = "loading";
    try {
      const content = await load(w);
      if (mine !== token) return;
      body.replaceChildren(content);
      section.dataset.state = "ready";
    } catch (error) {
      if (mine !== token || error.name === "AbortError") return;
      body.replaceChildren(h("p", { class: "alert alert-error" }, `${error.status || ""} ${error.message}`));
      section.dataset.state = "error";
    }
  }
  const ready = show(initial || windows[1]);
  return { section, ready };
}
