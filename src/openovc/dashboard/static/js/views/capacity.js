// Capacity and efficiency over time. HPE's API serves the history per host (/hosts/{id}/capacity) and
// has none per cluster, so a cluster's is its hosts' summed, its efficiency recomputed from the sums
// (the hosts share their cluster's bytes, and add up to it exactly).

import { get } from "../api.js";
import { lineChart } from "../charts.js";
import { h } from "../dom.js";
import * as format from "../format.js";

export const CAPACITY_WINDOWS = [
  { label: "24 h", range: 86400, resolution: "HOUR" },
  { label: "7 d", range: 604800, resolution: "HOUR" },
  { label: "60 d", range: 5184000, resolution: "DAY" },
  { label: "1 y", range: 31536000, resolution: "DAY" },
];
const METRICS = "allocated_capacity,used_capacity,used_logical_capacity";

function byName(answer) {
  return Object.fromEntries((answer.metrics || []).map((m) => [m.name, m.data_points || []]));
}

// The summed series of the hosts: {date -> {allocated, used, logical}}, dates ascending.
export async function capacityHistory(hostIds, w, signal) {
  const answers = await Promise.all(hostIds.map((id) =>
    get(`/api/hosts/${id}/capacity`, { range: w.range, resolution: w.resolution, fields: METRICS }, signal)));
  const sums = new Map();
  for (const answer of answers) {
    const series = byName(answer);
    for (const [name, key] of [["allocated_capacity", "allocated"], ["used_capacity", "used"], ["used_logical_capacity", "logical"]]) {
      for (const p of series[name] || []) {
        const t = format.seconds(p.date);
        if (!sums.has(t)) sums.set(t, { allocated: 0, used: 0, logical: 0 });
        sums.get(t)[key] += p.value;
      }
    }
  }
  return [...sums.entries()].sort((a, b) => a[0] - b[0]);
}

export async function capacityCharts(hostIds, w, signal) {
  const points = await capacityHistory(hostIds, w, signal);
  const used = lineChart([
    { name: "used (physical)", points: points.map(([t, v]) => [t, v.used]) },
    { name: "allocated", points: points.map(([t, v]) => [t, v.allocated]), color: "#98a2b3" },
    { name: "logical", points: points.map(([t, v]) => [t, v.logical]), color: "#2f6fdb" },
  ], { format: format.bytes, area: true, binary: true });
  const efficiency = lineChart([
    { name: "efficiency (logical : physical)", points: points.map(([t, v]) => [t, v.used > 0 ? v.logical / v.used : 1]), color: "#8e44ad" },
  ], { format: (v) => `${v.toFixed(1)} : 1` });
  const last = points.length ? points[points.length - 1][1] : null;
  return h("div", { class: "grid grid-2", dataset: last ? { used: String(last.used), allocated: String(last.allocated) } : {} },
    h("div", {}, h("h3", {}, "Capacity"), used),
    h("div", {}, h("h3", {}, "Efficiency"), efficiency));
}
