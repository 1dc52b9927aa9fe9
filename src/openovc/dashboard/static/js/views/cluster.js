// One cluster: its figures and hosts, capacity and efficiency over time, performance, and replication.

import { get } from "../api.js";
import { lineChart, performanceCharts } from "../charts.js";
import { facts, h, panel, table, tile } from "../dom.js";
import * as format from "../format.js";
import { CAPACITY_WINDOWS, capacityCharts } from "./capacity.js";
import { WINDOWS, badge, capacityBar, link, windowedPanel } from "./common.js";
import { PERFORMANCE_FORMATS } from "./vm.js";

export const NAME = "cluster";
const HOST_FIELDS = "id,name,state,management_ip,allocated_capacity,used_capacity,free_space";
// Throughput comes a point a minute per destination: short windows keep the answer small.
const THROUGHPUT_WINDOWS = [
  { label: "1 h", range: 3600 },
  { label: "6 h", range: 21600 },
  { label: "24 h", range: 86400 },
];
const TOP_DESTINATIONS = 5;

export async function throughputChart(clusterId, w, signal) {
  const answer = await get(`/api/omnistack_clusters/${clusterId}/throughput`, { range: w.range }, signal);
  const entries = (answer.cluster_throughput || []).map((e) => ({
    name: `→ ${e.destination_omnistack_cluster_name}`,
    average: Number(e.average_throughput) || 0,
    points: ((e.data && e.data.data_points) || []).map((p) => [format.seconds(p.date), Number(p.value)]),
  }));
  const total = new Map();
  for (const e of entries) for (const [t, v] of e.points) total.set(t, (total.get(t) || 0) + v);
  const busiest = entries.filter((e) => e.average > 0).sort((a, b) => b.average - a.average).slice(0, TOP_DESTINATIONS);
  const series = [{ name: "all destinations", points: [...total.entries()].sort((a, b) => a[0] - b[0]), color: "#14202e" }, ...busiest];
  return h("div", {},
    lineChart(series, { format: format.rate, height: 220, binary: true }),
    h("p", { class: "muted" }, busiest.length
      ? `Busiest destinations by average: ${busiest.map((e) => `${e.name.slice(2)} ${format.rate(e.average)}`).join(", ")}`
      : "Nothing replicated from this cluster in this window"));
}

export async function render(ctx) {
  const id = ctx.args[0];
  const [answer, hosts, datastores, vms] = await Promise.all([
    get(`/api/omnistack_clusters/${id}`, undefined, ctx.signal),
    get("/api/hosts", { omnistack_cluster_id: id, fields: HOST_FIELDS, show_optional_fields: "true", sort: "name", order: "ascending", limit: 5000 }, ctx.signal),
    get("/api/datastores", { omnistack_cluster_id: id, fields: "id,name,size,policy_name", sort: "name", order: "ascending", limit: 5000 }, ctx.signal),
    get("/api/virtual_machines", { omnistack_cluster_id: id, fields: "id", limit: 1 }, ctx.signal),
  ]);
  const c = answer.omnistack_cluster;
  ctx.setCrumbs(["Federation", "#/overview"], c.name);
  const hostIds = hosts.hosts.map((x) => x.id);

  const capacity = windowedPanel("Capacity and efficiency over time", (w) => capacityCharts(hostIds, w, ctx.signal), CAPACITY_WINDOWS[1], CAPACITY_WINDOWS);
  // A cluster's metrics sum all its VMs' workloads, which costs the server per point: an hour first.
  const perf = windowedPanel("Performance", async (w) => {
    const m = await get(`/api/omnistack_clusters/${id}/metrics`, { range: w.range, resolution: w.resolution }, ctx.signal);
    return h("div", { class: "grid grid-3" }, performanceCharts(m, PERFORMANCE_FORMATS).map((x) => h("div", {}, h("h3", {}, x.name), x.chart)));
  }, WINDOWS[0]);
  const replication = windowedPanel("Replication throughput", (w) => throughputChart(id, w, ctx.signal), THROUGHPUT_WINDOWS[0], THROUGHPUT_WINDOWS);

  const hostTable = table([
    { label: "Host", cell: (x) => link.host(x.id, x.name.split(".")[0]) },
    { label: "State", cell: (x) => badge(x.state) },
    { label: "Management IP", cell: (x) => h("span", { class: "mono" }, x.management_ip) },
    { label: "Capacity", cell: (x) => h("div", { style: "min-width:200px" }, capacityBar(x.used_capacity, x.allocated_capacity)) },
  ], hosts.hosts, "No hosts");

  return h("div", { class: "grid" },
    h("div", { class: "view-head" }, h("div", {}, h("h1", {}, c.name),
      h("div", { class: "muted" }, `${c.hypervisor_object_parent_name} · ${c.version} · ${c.time_zone}`))),
    h("div", { class: "tiles" },
      tile("Hosts", format.count(hosts.count), `${hosts.hosts.filter((x) => x.state === "ALIVE").length} alive`, "hosts"),
      tile("Virtual machines", format.count(vms.count), null, "vms"),
      tile("Datastores", format.count(datastores.count), null, "datastores"),
      tile("Used", format.bytes(c.used_capacity), `of ${format.bytes(c.allocated_capacity)}`, "used"),
      tile("Free", format.bytes(c.free_space), null, "free"),
      tile("Efficiency", format.ratio(c.efficiency_ratio), `dedup ${format.ratio(c.deduplication_ratio)} · compression ${format.ratio(c.compression_ratio)}`, "efficiency")),
    h("div", { class: "grid grid-2" },
      panel("Capacity", h("div", { class: "grid" },
        capacityBar(c.used_capacity, c.allocated_capacity),
        facts([
          ["VM data", format.bytes(c.stored_virtual_machine_data)],
          ["Local backups", format.bytes(c.local_backup_capacity)],
          ["Remote backups", format.bytes(c.remote_backup_capacity)],
          ["Logical", format.bytes(c.used_logical_capacity)],
          ["Savings", format.bytes(c.capacity_savings)],
        ]))),
      panel("Hosts", hostTable, h("a", { href: `#/vms?cluster=${id}` }, "Its virtual machines →"))),
    capacity.section,
    perf.section,
    replication.section);
}
