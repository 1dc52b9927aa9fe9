// Virtual machines: a page at a time, searched and filtered by the server (name wildcards, cluster,
// policy, host, state), so the list stays fast with 10,000 VMs: only the shown page and its count travel.

import { get } from "../api.js";
import { h } from "../dom.js";
import * as format from "../format.js";
import { badge, link } from "./common.js";

export const NAME = "vms";
const PAGE = 50;
const FIELDS = [
  "id", "name", "state", "omnistack_cluster_id", "omnistack_cluster_name", "host_id", "host_name",
  "datastore_name", "policy_name", "created_at", "hypervisor_virtual_machine_power_state", "ha_status",
].join(",");
const SORTABLE = { name: "Name", created_at: "Created" };

let choices = null; // clusters and policies for the filters: few, and read once per session

async function filterChoices(signal) {
  if (!choices) {
    const ascending = { sort: "name", order: "ascending", limit: 5000, fields: "id,name" };
    const [clusters, policies] = await Promise.all([
      get("/api/omnistack_clusters", ascending, signal),
      get("/api/policies", ascending, signal),
    ]);
    choices = { clusters: clusters.omnistack_clusters, policies: policies.policies };
  }
  return choices;
}

function state(query) {
  return {
    name: query.get("name") || "",
    cluster: query.get("cluster") || "",
    policy: query.get("policy") || "",
    host: query.get("host") || "",
    state: query.get("state") || "ALIVE",
    sort: query.get("sort") || "name",
    order: query.get("order") || "ascending",
    page: Math.max(0, parseInt(query.get("page") || "0", 10) || 0),
  };
}

// The API's own query for one page: `name` as a case-insensitive substring unless it has its own wildcards.
export function listQuery(s) {
  const name = s.name.trim();
  return {
    fields: FIELDS,
    show_optional_fields: "true",
    limit: PAGE,
    offset: s.page * PAGE,
    sort: s.sort,
    order: s.order,
    state: s.state,
    name: name ? (name.includes("*") ? name : `*${name}*`) : undefined,
    case: name ? "insensitive" : undefined,
    omnistack_cluster_id: s.cluster || undefined,
    policy_id: s.policy || undefined,
    host_id: s.host || undefined,
  };
}

function select(label, value, options, onchange, testid) {
  return h("select", { "aria-label": label, dataset: { filter: testid }, onchange },
    options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)));
}

export async function render(ctx) {
  ctx.setCrumbs("Virtual machines");
  const s = state(ctx.query);
  const { clusters, policies } = await filterChoices(ctx.signal);
  const body = h("tbody", {});
  const summary = h("span", { class: "muted", dataset: { testid: "vm-count" } });
  const pager = h("div", { class: "pager" });
  const tableBox = h("section", { class: "panel" });
  let token = 0;

  const columns = [
    ["name", "Name", (v) => link.vm(v.id, v.name)],
    [null, "Power", (v) => badge(v.hypervisor_virtual_machine_power_state)],
    [null, "Cluster", (v) => link.cluster(v.omnistack_cluster_id, v.omnistack_cluster_name)],
    [null, "Host", (v) => (v.host_id ? link.host(v.host_id, (v.host_name || "").split(".")[0]) : "—")],
    [null, "Datastore", (v) => v.datastore_name],
    [null, "Policy", (v) => v.policy_name || "—"],
    [null, "HA", (v) => badge(v.ha_status)],
    ["created_at", "Created", (v) => format.time(v.created_at)],
  ];

  function sortBy(field) {
    s.order = s.sort === field && s.order === "ascending" ? "descending" : "ascending";
    s.sort = field;
    s.page = 0;
    load();
  }

  const head = h("tr", {}, columns.map(([field, label]) => field
    ? h("th", { class: "sortable", onclick: () => sortBy(field), dataset: { sort: field } }, label)
    : h("th", {}, label)));

  async function load() {
    const mine = ++token;
    ctx.remember("/vms", Object.fromEntries(Object.entries({
      name: s.name, cluster: s.cluster, policy: s.policy, host: s.host,
      state: s.state === "ALIVE" ? "" : s.state, sort: s.sort === "name" ? "" : s.sort,
      order: s.order === "ascending" ? "" : s.order, page: s.page ? String(s.page) : "",
    }).filter(([, v]) => v)));
    tableBox.dataset.state = "loading";
    const answer = await get("/api/virtual_machines", listQuery(s), ctx.signal);
    if (mine !== token) return answer;
    for (const th of head.querySelectorAll("th[data-sort]")) {
      const field = th.dataset.sort;
      th.textContent = SORTABLE[field] + (s.sort === field ? (s.order === "ascending" ? " ▲" : " ▼") : "");
    }
    const rows = answer.virtual_machines;
    body.replaceChildren(...(rows.length
      ? rows.map((v) => h("tr", { dataset: { vm: v.id } }, columns.map(([, , cell]) => h("td", {}, cell(v)))))
      : [h("tr", {}, h("td", { class: "empty", colSpan: columns.length }, "No virtual machine matches"))]));
    const first = answer.count ? s.page * PAGE + 1 : 0;
    const last = s.page * PAGE + rows.length;
    summary.textContent = `${format.count(answer.count)} virtual machines`;
    summary.dataset.count = String(answer.count);
    pager.replaceChildren(
      h("span", {}, `${format.count(first)}–${format.count(last)} of ${format.count(answer.count)}`),
      h("button", { class: "btn btn-small", dataset: { page: "previous" }, disabled: s.page === 0, onclick: () => { s.page -= 1; load(); } }, "‹ Previous"),
      h("button", { class: "btn btn-small", dataset: { page: "next" }, disabled: last >= answer.count, onclick: () => { s.page += 1; load(); } }, "Next ›"));
    tableBox.dataset.state = "ready";
    return answer;
  }

  let typing = null;
  const search = h("input", {
    type: "search", placeholder: "Search by name", title: "Part of a name, or a pattern with * wildcards", value: s.name,
    "aria-label": "Search by name", dataset: { filter: "name" },
    oninput: (event) => {
      clearTimeout(typing);
      typing = setTimeout(() => { s.name = event.target.value; s.page = 0; load(); }, 250);
    },
  });
  const refilter = (key) => (event) => { s[key] = event.target.value; s.page = 0; load(); };
  const toolbar = h("div", { class: "toolbar" },
    search,
    select("Cluster", s.cluster, [["", "All clusters"], ...clusters.map((c) => [c.id, c.name])], refilter("cluster"), "cluster"),
    select("Policy", s.policy, [["", "All policies"], ...policies.map((p) => [p.id, p.name])], refilter("policy"), "policy"),
    select("State", s.state, [["ALIVE", "Alive"], ["DELETED", "Deleted"], ["REMOVED", "Removed"]], refilter("state"), "state"),
    s.host ? h("span", { class: "badge info" }, "on one host ",
      h("a", { href: "#/vms", title: "Show every host" }, "✕")) : null,
    h("span", { style: "flex:1" }),
    summary);
  tableBox.append(toolbar,
    h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, head), body)),
    pager);
  await load();
  return h("div", { class: "grid" },
    h("div", { class: "view-head" }, h("h1", {}, "Virtual machines")),
    tableBox);
}
