// One host: its figures, capacity and efficiency over time, and performance.

import { get } from "../api.js";
import { performanceCharts } from "../charts.js";
import { facts, h, panel, tile } from "../dom.js";
import * as format from "../format.js";
import { CAPACITY_WINDOWS, capacityCharts } from "./capacity.js";
import { badge, capacityBar, link, windowedPanel } from "./common.js";
import { PERFORMANCE_FORMATS } from "./vm.js";

export const NAME = "host";

export async function render(ctx) {
  const id = ctx.args[0];
  const [answer, vms] = await Promise.all([
    get(`/api/hosts/${id}`, undefined, ctx.signal),
    get("/api/virtual_machines", { host_id: id, fields: "id", limit: 1 }, ctx.signal),
  ]);
  const x = answer.host;
  const cluster = await get(`/api/omnistack_clusters/${x.omnistack_cluster_id}`, { fields: "id,name" }, ctx.signal);
  const clusterName = cluster.omnistack_cluster.name;
  ctx.setCrumbs(["Federation", "#/overview"], [clusterName, `#/clusters/${x.omnistack_cluster_id}`], x.name);

  const capacity = windowedPanel("Capacity and efficiency over time", (w) => capacityCharts([id], w, ctx.signal), CAPACITY_WINDOWS[1], CAPACITY_WINDOWS);
  const perf = windowedPanel("Performance", async (w) => {
    const m = await get(`/api/hosts/${id}/metrics`, { range: w.range, resolution: w.resolution }, ctx.signal);
    return h("div", { class: "grid grid-3" }, performanceCharts(m, PERFORMANCE_FORMATS).map((c) => h("div", {}, h("h3", {}, c.name), c.chart)));
  });

  return h("div", { class: "grid" },
    h("div", { class: "view-head" }, h("div", {}, h("h1", {}, x.name),
      h("div", { class: "muted" }, `${x.model} · ${x.version}`)), badge(x.state)),
    h("div", { class: "tiles" },
      tile("Virtual machines", h("a", { href: `#/vms?host=${id}` }, format.count(vms.count)), "running here", "vms"),
      tile("Used", format.bytes(x.used_capacity), `of ${format.bytes(x.allocated_capacity)}`, "used"),
      tile("Free", format.bytes(x.free_space), null, "free"),
      tile("Efficiency", format.ratio(x.efficiency_ratio), `dedup ${format.ratio(x.deduplication_ratio)} · compression ${format.ratio(x.compression_ratio)}`, "efficiency")),
    h("div", { class: "grid grid-2" },
      panel("Host", facts([
        ["Cluster", link.cluster(x.omnistack_cluster_id, clusterName)],
        ["State", badge(x.state)],
        ["Management IP", h("span", { class: "mono" }, x.management_ip)],
        ["Storage IP", h("span", { class: "mono" }, x.storage_ip)],
        ["Federation IP", h("span", { class: "mono" }, x.federation_ip)],
        ["Virtual controller", x.virtual_controller_name],
        ["Hypervisor", `${x.hypervisor_management_system_name} (${x.hypervisor_object_id})`],
        ["Upgrade", badge(x.upgrade_state)],
      ])),
      panel("Capacity", h("div", { class: "grid" },
        capacityBar(x.used_capacity, x.allocated_capacity),
        facts([
          ["VM data", format.bytes(x.stored_virtual_machine_data)],
          ["Local backups", format.bytes(x.local_backup_capacity)],
          ["Remote backups", format.bytes(x.remote_backup_capacity)],
          ["Logical", format.bytes(x.used_logical_capacity)],
          ["Savings", format.bytes(x.capacity_savings)],
        ])))),
    capacity.section,
    perf.section);
}
