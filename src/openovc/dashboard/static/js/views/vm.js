// One virtual machine: where it runs, its backups on a timeline, its policy's rules, and its metrics.

import { get, post } from "../api.js";
import { describe, facts, h, panel, table } from "../dom.js";
import * as format from "../format.js";
import { timeline, performanceCharts } from "../charts.js";
import { track } from "../tasks.js";
import { badge, link, windowedPanel } from "./common.js";

export const NAME = "vm";
const SHOWN_BACKUPS = 500; // the newest; the count says how many there are in all
const BACKUP_FIELDS = [
  "id", "name", "state", "type", "created_at", "expiration_time", "size", "unique_size_bytes",
  "omnistack_cluster_name", "backup_store_type", "external_store_name", "consistency_type",
].join(",");
const STATE_COLORS = { PROTECTED: "#01a982", SAVING: "#2f6fdb", QUEUED: "#98a2b3", FAILED: "#d0373f", DEGRADED: "#d98e04" };
export const PERFORMANCE_FORMATS = { iops: (v) => `${Math.round(v)}`, throughput: format.rate, latency: format.micros };
const TITLES = { iops: "IOPS", throughput: "Throughput", latency: "Latency" };

function place(b) {
  return b.backup_store_type === "External" || b.external_store_name ? `⛁ ${b.external_store_name}` : b.omnistack_cluster_name;
}

function backupTimeline(backups, now) {
  if (!backups.length) return h("div", { class: "chart-empty" }, "No backups");
  const places = [...new Set(backups.map(place))];
  const times = backups.map((b) => format.seconds(b.created_at));
  const from = Math.min(...times);
  const to = Math.max(now, ...times);
  const rows = places.map((label) => ({
    label: label.length > 18 ? label.slice(0, 17) + "…" : label,
    items: backups.filter((b) => place(b) === label).map((b) => ({
      t: format.seconds(b.created_at), state: b.state,
      title: `${b.name}\n${format.time(b.created_at)} · ${b.state} · ${format.bytes(b.size)}`,
    })),
  }));
  const states = [...new Set(backups.map((b) => b.state))];
  return h("div", {},
    timeline(rows, { from: from - (to - from) * 0.02, to: to + (to - from) * 0.02, colorOf: (s) => STATE_COLORS[s] || "#8e44ad" }),
    h("div", { class: "chart-legend" }, states.map((s) =>
      h("span", {}, h("i", { style: `background:${STATE_COLORS[s] || "#8e44ad"};height:8px;width:8px;border-radius:50%` }), s))));
}

function rulesTable(policy) {
  return table([
    { label: "#", cell: (r) => r.number },
    { label: "Destination", cell: (r) => r.external_store_name || r.destination_name },
    { label: "Every", cell: (r) => format.minutes(r.frequency) },
    { label: "Kept for", cell: (r) => format.minutes(r.retention) },
    { label: "Days", cell: (r) => r.days },
    { label: "Window", cell: (r) => `${r.start_time}–${r.end_time}` },
    { label: "Max backups", num: true, cell: (r) => r.max_backups },
    { label: "Consistency", cell: (r) => r.consistency_type },
  ], policy.rules || [], "This policy has no rules: it takes no backups");
}

function backupNowButton(ctx, vm) {
  const note = h("span", { class: "muted" });
  const button = h("button", {
    class: "btn btn-primary btn-small",
    disabled: !ctx.isAdmin,
    title: ctx.isAdmin ? "Take a manual backup now" : "Read-only users cannot take backups",
    dataset: { action: "backup" },
    onclick: async () => {
      button.disabled = true;
      try {
        const stamp = new Date().toISOString().replace(/\.\d+Z$/, "Z");
        const answer = await post(`/api/virtual_machines/${vm.id}/backup`, {
          backup_name: `${vm.name}-dashboard-${stamp}`, app_consistent: false, consistency_type: null, retention: 0,
        });
        track(answer.task, `Back up ${vm.name}`);
        note.replaceChildren("Backup submitted: ", h("a", { href: "#/tasks" }, "follow its task"));
      } catch (error) {
        note.replaceChildren(h("span", { class: "alert alert-error" }, describe(error)));
      } finally {
        button.disabled = !ctx.isAdmin;
      }
    },
  }, "Back up now");
  return h("span", { class: "toolbar", style: "margin:0" }, note, button);
}

export async function render(ctx) {
  const id = ctx.args[0];
  const [vmAnswer, backups, clock] = await Promise.all([
    get(`/api/virtual_machines/${id}`, undefined, ctx.signal),
    get("/api/backups", {
      virtual_machine_id: id, fields: BACKUP_FIELDS, limit: SHOWN_BACKUPS, sort: "created_at", order: "descending",
    }, ctx.signal),
    get("/_openovc/clock", undefined, ctx.signal),
  ]);
  const vm = vmAnswer.virtual_machine;
  ctx.setCrumbs(["Virtual machines", "#/vms"], vm.name);
  const policy = vm.policy_id ? (await get(`/api/policies/${vm.policy_id}`, undefined, ctx.signal)).policy : null;

  const shown = backups.backups;
  const metrics = windowedPanel("Performance", async (w) => {
    const answer = await get(`/api/virtual_machines/${id}/metrics`, { range: w.range, resolution: w.resolution }, ctx.signal);
    return h("div", { class: "grid grid-3" }, performanceCharts(answer, PERFORMANCE_FORMATS).map((c) =>
      h("div", {}, h("h3", {}, TITLES[c.name] || c.name), c.chart)));
  });

  const properties = facts([
    ["State", badge(vm.state)],
    ["Power", badge(vm.hypervisor_virtual_machine_power_state)],
    ["HA", badge(vm.ha_status)],
    ["Cluster", link.cluster(vm.omnistack_cluster_id, vm.omnistack_cluster_name)],
    ["Host", vm.host_id ? link.host(vm.host_id, vm.host_name) : "—"],
    ["Datastore", vm.datastore_name],
    ["Policy", vm.policy_name || "—"],
    ["App-aware", vm.app_aware_vm_status],
    ["Created", format.time(vm.created_at)],
    ["Id", h("span", { class: "mono" }, vm.id)],
  ]);
  const sizes = facts([
    ["Allocated", format.bytes(vm.hypervisor_allocated_capacity)],
    ["Free in guest", format.bytes(vm.hypervisor_free_space)],
    ["CPUs", vm.hypervisor_cpu_count ?? "—"],
    ["Memory", vm.hypervisor_total_memory ? `${format.count(vm.hypervisor_total_memory)} MB` : "—"],
    ["Replicas", (vm.replica_set || []).map((r) => `${r.role.toLowerCase()}`).join(", ") || "—"],
  ]);
  const newest = table([
    { label: "Backup", cell: (b) => b.name },
    { label: "State", cell: (b) => badge(b.state) },
    { label: "Type", cell: (b) => b.type },
    { label: "Kept at", cell: place },
    { label: "Created", cell: (b) => format.time(b.created_at) },
    { label: "Expires", cell: (b) => format.time(b.expiration_time) },
    { label: "Size", num: true, cell: (b) => format.bytes(b.size) },
    { label: "Unique", num: true, cell: (b) => format.bytes(b.unique_size_bytes) },
  ], shown.slice(0, 10), "No backups");
  const more = backups.count > shown.length ? ` (the newest ${shown.length} shown)` : "";

  return h("div", { class: "grid" },
    h("div", { class: "view-head" },
      h("div", {}, h("h1", {}, vm.name), h("div", { class: "muted" }, `${vm.omnistack_cluster_name} · ${vm.datastore_name}`)),
      backupNowButton(ctx, vm)),
    h("div", { class: "grid grid-2" }, panel("Virtual machine", properties), panel("Resources", sizes)),
    panel("Backups",
      h("div", { class: "grid" }, backupTimeline(shown, format.seconds(clock.now)), newest),
      h("span", { class: "muted", dataset: { testid: "backup-count", count: String(backups.count) } },
        `${format.count(backups.count)} backups${more}`)),
    panel(policy ? `Policy: ${policy.name}` : "Policy",
      policy ? rulesTable(policy) : h("p", { class: "muted" }, "No policy: the VM is not backed up on a schedule"),
      policy ? h("span", { class: "muted" }, `owned by ${policy.owner_cluster_name || "—"}`) : null),
    metrics.section);
}
