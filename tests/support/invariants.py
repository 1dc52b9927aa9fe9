"""Invariants of a federation as a client sees it: references, names, uniqueness, capacity."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

Fetch = Callable[[str, dict[str, str]], Any]


def snapshot(fetch: Fetch) -> dict[str, list[dict[str, Any]]]:
    """Every object of every collection, with optional fields, through collection GETs."""
    out: dict[str, list[dict[str, Any]]] = {}
    for plural in ("omnistack_clusters", "hosts", "datastores", "virtual_machines", "policies", "backups",
                   "cluster_groups", "external_stores", "persistent_volumes"):  # fmt: skip
        params = {"limit": "5000", "show_optional_fields": "true"}
        if plural in ("virtual_machines", "persistent_volumes"):
            params["state"] = "ALIVE,DELETED,REMOVED"
        items: list[dict[str, Any]] = []
        while True:
            page = fetch(f"/api/{plural}", {**params, "offset": str(len(items))})
            items.extend(page[plural])
            if len(items) >= page["count"]:
                break
        out[plural] = items
    return out


def _by_id(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {i["id"]: i for i in items}


def _unique(problems: list[str], label: str, names: list[str]) -> None:
    for name, n in Counter(names).items():
        if n > 1:
            problems.append(f"{n} {label} are named {name!r}")


def problems(state: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Everything wrong with a snapshot (empty when every invariant holds)."""
    found: list[str] = []
    clusters, hosts = _by_id(state["omnistack_clusters"]), _by_id(state["hosts"])
    datastores, policies = _by_id(state["datastores"]), _by_id(state["policies"])
    vms = _by_id(state["virtual_machines"])
    alive = [v for v in vms.values() if v["state"] == "ALIVE"]
    # Persistent volumes take datastore space and are backed up as VMs are.
    volumes = _by_id(state.get("persistent_volumes", []))
    holding = alive + [v for v in volumes.values() if v["state"] == "ALIVE"]
    for cluster in clusters.values():
        members = sorted(h["id"] for h in hosts.values() if h["omnistack_cluster_id"] == cluster["id"])
        if sorted(cluster["members"]) != members:
            found.append(f"cluster {cluster['name']} members {cluster['members']} != its hosts {members}")
    for host in hosts.values():
        if host["omnistack_cluster_id"] not in clusters:
            found.append(f"host {host['name']} names a missing cluster")
    ds: dict[str, Any] | None
    for ds in datastores.values():
        if clusters.get(ds["omnistack_cluster_id"], {}).get("name") != ds["omnistack_cluster_name"]:
            found.append(f"datastore {ds['name']} names its cluster wrongly")
        if policies.get(ds["policy_id"], {}).get("name") != ds["policy_name"]:
            found.append(f"datastore {ds['name']} names its policy wrongly")
        used = sum(v["hypervisor_allocated_capacity"] - v["hypervisor_free_space"] for v in holding
                   if v["datastore_id"] == ds["id"])  # fmt: skip
        if ds["hypervisor_free_space"] != ds["size"] - used or ds["hypervisor_free_space"] < 0:
            found.append(
                f"datastore {ds['name']} free {ds['hypervisor_free_space']} != size {ds['size']} - used {used}"
            )
    for vm in alive:
        ds = datastores.get(vm["datastore_id"])
        if (
            ds is None
            or ds["name"] != vm["datastore_name"]
            or ds["omnistack_cluster_id"] != vm["omnistack_cluster_id"]
        ):
            found.append(f"VM {vm['name']} and its datastore disagree")
        if clusters.get(vm["omnistack_cluster_id"], {}).get("name") != vm["omnistack_cluster_name"]:
            found.append(f"VM {vm['name']} names its cluster wrongly")
        if policies.get(vm["policy_id"], {}).get("name") != vm["policy_name"]:
            found.append(f"VM {vm['name']} names its policy wrongly")
        vm_host = hosts.get(vm["host_id"])
        if vm_host is not None and vm_host["omnistack_cluster_id"] != vm["omnistack_cluster_id"]:
            found.append(f"VM {vm['name']} runs on a host of another cluster")
        for replica in vm["replica_set"]:
            if replica["id"] not in hosts:
                found.append(f"VM {vm['name']} has a replica on a missing host")
    clusters_by_name = {c["name"] for c in clusters.values()}
    stores = {s["name"] for s in state["external_stores"]}
    for policy in policies.values():
        rules = policy["rules"]
        if [r["number"] for r in rules] != list(range(len(rules))):
            found.append(f"policy {policy['name']} numbers its rules {[r['number'] for r in rules]}")
        for rule in rules:
            expected = rule["external_store_name"] or (
                clusters.get(rule["destination_id"], {}).get("name") if rule["destination_id"] else "<local>"
            )
            if rule["destination_name"] != expected or (
                rule["destination_name"] not in clusters_by_name | stores | {"<local>"}
            ):
                found.append(f"policy {policy['name']} rule {rule['number']} names its destination wrongly")
            if rule["retention"] < rule["frequency"]:
                found.append(
                    f"policy {policy['name']} rule {rule['number']} keeps backups less than its frequency"
                )
    for backup in state["backups"]:
        if backup["virtual_machine_id"] not in vms and backup["virtual_machine_id"] not in volumes:
            found.append(f"backup {backup['name']} names a missing VM")
    _unique(found, "live VMs", [v["name"] for v in alive])
    _unique(found, "datastores", [d["name"] for d in datastores.values()])
    _unique(found, "policies", [p["name"] for p in policies.values()])
    _unique(found, "cluster groups", [g["name"] for g in state["cluster_groups"]])
    _unique(found, "external stores", [s["name"] for s in state["external_stores"]])
    return found
