// The federation at a glance: totals, each cluster with its hosts and capacity, and the datastores.

import { get } from "../api.js";
import { h, panel, table, tile } from "../dom.js";
import * as format from "../format.js";
import { capacityBar, link } from "./common.js";

export const NAME = "overview";

const CLUSTER_FIELDS = [
  "id", "name", "hypervisor_object_parent_name", "version", "time_zone", "allocated_capacity",
  "used_capacity", "free_space", "used_logical_capacity", "efficiency_ratio", "deduplication_ratio",
  "compression_ratio", "stored_virtual_machine_data", "local_backup_capacity", "remote_backup_capacity",
].join(",");
const HOST_FIELDS = "id,name,state,omnistack_cluster_id,model,management_ip,allocated_capacity,used_capacity";
const DATASTORE_FIELDS = "id,name,size,hypervisor_free_space,omnistack_cluster_id,omnistack_cluster_name,policy_name,single_replica";
const ASCENDING = { sort: "name", order: "ascending" };

function hostDot(state) {
  return h("span", { class: `dot ${format.stateClass(state)}`, title: state });
}

function clusterCard(cluster, hosts) {
  const alive = hosts.filter((x) => x.state === "ALIVE").length;
  return h("section", { class: "panel cluster-card", dataset: { cluster: cluster.id } },
    h("div", { class: "panel-head" },
      h("h2", {}, link.cluster(cluster.id, cluster.name)),
      h("span", { class: "muted" }, cluster.hypervisor_object_parent_name || "")),
    capacityBar(cluster.used_capacity, cluster.allocated_capacity),
    h("div", { class: "bar-caption" },
      h("span", {}, `Efficiency ${format.ratio(cluster.efficiency_ratio)}`),
      h("span", {}, `${alive}/${hosts.length} hosts alive`)),
    h("div", { class: "hosts-row" }, hosts.map((x) =>
      h("a", { class: "host-chip", href: `#/hosts/${x.id}`, title: `${x.name}: ${x.state}` },
        hostDot(x.state), x.name.split(".")[0]))));
}

export async function render(ctx) {
  ctx.setCrumbs("Federation");
  const [clusters, hosts, datastores, vms, backups] = await Promise.all([
    get("/api/omnistack_clusters", { ...ASCENDING, fields: CLUSTER_FIELDS, show_optional_fields: "true", limit: 5000 }, ctx.signal),
    get("/api/hosts", { ...ASCENDING, fields: HOST_FIELDS, show_optional_fields: "true", limit: 5000 }, ctx.signal),
    get("/api/datastores", { ...ASCENDING, fields: DATASTORE_FIELDS, show_optional_fields: "true", limit: 5000 }, ctx.signal),
    get("/api/virtual_machines", { fields: "id", limit: 1 }, ctx.signal),
    get("/api/backups", { fields: "id", limit: 1 }, ctx.signal),
  ]);
  const byCluster = new Map();
  for (const x of hosts.hosts) {
    if (!byCluster.has(x.omnistack_cluster_id)) byCluster.set(x.omnistack_cluster_id, []);
    byCluster.get(x.omnistack_cluster_id).push(x);
  }
  const all = clusters.omnistack_clusters;
  const used = all.reduce((s, c) => s + c.used_capacity, 0);
  const allocated = all.reduce((s, c) => s + c.allocated_capacity, 0);
  const logical = all.reduce((s, c) => s + c.used_logical_capacity, 0);
  const alive = hosts.hosts.filter((x) => x.state === "ALIVE").length;

  const tiles = h("div", { class: "tiles" },
    tile("Clusters", format.count(clusters.count), null, "clusters"),
    tile("Hosts", format.count(hosts.count), `${alive} alive`, "hosts"),
    tile("Virtual machines", format.count(vms.count), "alive", "vms"),
    tile("Backups", format.count(backups.count), null, "backups"),
    tile("Datastores", format.count(datastores.count), null, "datastores"),
    tile("Used", format.bytes(used), `of ${format.bytes(allocated)} (${format.percent(used, allocated)})`, "used"),
    tile("Efficiency", format.ratio(used > 0 ? logical / used : 0), "logical : physical", "efficiency"));

  const datastoreTable = table([
    { label: "Datastore", cell: (d) => d.name },
    { label: "Cluster", cell: (d) => link.cluster(d.omnistack_cluster_id, d.omnistack_cluster_name) },
    { label: "Policy", cell: (d) => d.policy_name || "—" },
    { label: "Replicas", cell: (d) => (d.single_replica ? "single" : "HA") },
    { label: "Size", num: true, cell: (d) => format.bytes(d.size) },
    { label: "Free", num: true, cell: (d) => format.bytes(d.hypervisor_free_space) },
  ], datastores.datastores, "No datastores");

  return h("div", { class: "grid" },
    h("div", { class: "view-head" }, h("div", {}, h("h1", {}, "Federation"),
      h("div", { class: "muted" }, `${clusters.count} clusters, ${hosts.count} hosts`))),
    tiles,
    h("div", { class: "grid grid-3" }, all.map((c) => clusterCard(c, byCluster.get(c.id) || []))),
    panel("Datastores", datastoreTable, h("span", { class: "muted" }, `${datastores.count} in total`)));
}
