"""The federation generator: deterministic, complete, internally consistent, and fast at scale."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from openovc import SVTFS_VERSION
from openovc.domain import catalog
from openovc.domain.fields import Kind
from openovc.domain.schedules import parse_clock, parse_days
from openovc.domain.timefmt import parse, to_text
from openovc.simulator.content.pieces import piece_compressed
from openovc.simulator.federation import Federation, FederationSpec
from openovc.simulator.generator.generator import generate
from tests.support.content_check import mirror_of_memory, mismatches

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
Row = dict[str, object]

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
VMWARE_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
IPV4 = re.compile(r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$")

SMALL = FederationSpec(
    clusters=1, hosts_per_cluster=1, datastores=2, vms=12, policies=3, backups=80,
    cluster_groups=0, external_stores=0, seed=5,
)  # fmt: skip
MEDIUM = FederationSpec(
    clusters=3, hosts_per_cluster=4, datastores=12, vms=300, policies=8, backups=6000,
    cluster_groups=2, external_stores=2, seed=11,
)  # fmt: skip


@pytest.fixture(scope="module")
def demo() -> Federation:
    return generate(FederationSpec.demo(), NOW)


@pytest.fixture(scope="module", params=["demo", "small", "medium"])
def federation(request: pytest.FixtureRequest) -> Federation:
    spec = {"demo": FederationSpec.demo(), "small": SMALL, "medium": MEDIUM}[request.param]
    return generate(spec, NOW)


def _index(rows: list[Row], key: str = "id") -> dict[str, Row]:
    return {str(r[key]): r for r in rows}


def _int(row: Row, name: str) -> int:
    value = row[name]
    assert isinstance(value, int) and not isinstance(value, bool), (name, value)
    return value


def _str(row: Row, name: str) -> str:
    value = row[name]
    assert isinstance(value, str), (name, value)
    return value


def _list(row: Row, name: str) -> list[object]:
    value = row[name]
    assert isinstance(value, list), (name, value)
    return value


def _sources(rows: dict[str, list[Row]]) -> dict[str, Row]:
    """What backups are taken of, by id: the VMs and the persistent volumes."""
    return _index(rows["virtual_machines"] + rows["persistent_volumes"])


def _when(text: object) -> datetime:
    assert isinstance(text, str)
    return parse(text)


# ---- determinism --------------------------------------------------------------------------------


def test_same_seed_and_now_give_identical_rows(demo: Federation) -> None:
    again = generate(FederationSpec.demo(), NOW)
    assert again.rows == demo.rows
    assert again.content == demo.content


def test_a_different_seed_gives_different_ids(demo: Federation) -> None:
    other = generate(FederationSpec.demo(seed=2), NOW)
    for table in ("omnistack_clusters", "hosts", "virtual_machines", "backups", "datastores", "policies"):
        ours = {r["id"] for r in demo.rows[table]}
        theirs = {r["id"] for r in other.rows[table]}
        assert not ours & theirs, table


# ---- shape --------------------------------------------------------------------------------------


def test_every_row_has_exactly_the_catalog_fields(federation: Federation) -> None:
    for coll in catalog.ALL:
        names = [f.name for f in coll.fields]
        for row in federation.rows[coll.plural]:
            assert list(row) == names, coll.plural
    for row in federation.rows["host_hardware"]:
        assert set(row) == {"host_id", "document"}
    for row in federation.rows["standard_hosts"]:
        assert set(row) == {"name", "ip_address", "hypervisor_object_id", "omnistack_cluster_id"}


def test_values_have_the_storage_type_of_their_kind(federation: Federation) -> None:
    for coll in catalog.ALL:
        for row in federation.rows[coll.plural]:
            for f in coll.fields:
                value = row[f.name]
                where = (coll.plural, f.name, value)
                if f.kind in (Kind.STR, Kind.ENUM):
                    assert isinstance(value, str), where
                    if f.enum:
                        assert value in f.enum, where
                elif f.kind is Kind.INT:
                    assert isinstance(value, int) and not isinstance(value, bool), where
                elif f.kind is Kind.BOOL:
                    assert isinstance(value, bool), where
                elif f.kind is Kind.RATIO:
                    assert isinstance(value, float) and value >= 1.0, where
                elif f.kind is Kind.TIME:
                    assert value is None or (isinstance(value, str) and TIME.match(value)), where
                    assert value is None or to_text(parse(value)) == value, where
                else:
                    assert isinstance(value, list | dict), where


def test_ids_and_hypervisor_object_ids_look_real(federation: Federation) -> None:
    rows = federation.rows
    for table in (
        "omnistack_clusters",
        "virtual_machines",
        "datastores",
        "policies",
        "cluster_groups",
    ):
        for row in rows[table]:
            assert UUID4.match(_str(row, "id")), (table, row["id"])
    for row in rows["backups"]:  # version 7: they sort as the time they carry (domain/ids.py)
        assert UUID7.match(_str(row, "id")), row["id"]
    for host in rows["hosts"]:
        assert VMWARE_UUID.match(_str(host, "id"))
        assert re.match(r"^host-\d+$", _str(host, "hypervisor_object_id"))
        assert re.match(r"^domain-c\d+$", _str(host, "compute_cluster_hypervisor_object_id"))
    for vm in rows["virtual_machines"]:
        assert re.match(r"^vm-\d+$", _str(vm, "hypervisor_object_id"))
        assert re.match(r"^datacenter-\d+$", _str(vm, "compute_cluster_parent_hypervisor_object_id"))
        assert IPV4.match(_str(vm, "hypervisor_management_system"))
        assert _str(vm, "hypervisor_management_system_name").count(".") >= 2
    for ds in rows["datastores"]:
        assert re.match(r"^datastore-\d+$", _str(ds, "hypervisor_object_id"))
        assert ds["mount_directory"] == f"/mnt/svtfs/0/{ds['id']}"
    for std in rows["standard_hosts"]:
        assert re.match(r"^host-\d+$", _str(std, "hypervisor_object_id"))
    morefs = [
        (r["hypervisor_management_system"], r["hypervisor_object_id"])
        for t in ("hosts", "virtual_machines", "datastores", "omnistack_clusters")
        for r in rows[t]
    ]
    assert len(morefs) == len(set(morefs)), "one vCenter never reuses a managed object id"


def test_names_and_ids_are_unique_where_the_real_system_requires(federation: Federation) -> None:
    rows = federation.rows
    for table in (
        "omnistack_clusters",
        "hosts",
        "datastores",
        "policies",
        "cluster_groups",
        "external_stores",
    ):
        names = [r["name"] for r in rows[table]]
        assert len(names) == len(set(names)), table
    alive = [vm["name"] for vm in rows["virtual_machines"] if vm["state"] == "ALIVE"]
    assert len(alive) == len(set(alive))
    for table in ("virtual_machines", "backups"):
        ids = [r["id"] for r in rows[table]]
        assert len(ids) == len(set(ids)), table
    for net in ("management_ip", "storage_ip", "federation_ip"):
        ips = [h[net] for h in rows["hosts"]]
        assert len(ips) == len(set(ips)), net
    all_ips = [h["management_ip"] for h in rows["hosts"]] + [s["ip_address"] for s in rows["standard_hosts"]]
    assert len(all_ips) == len(set(all_ips))


# ---- references ---------------------------------------------------------------------------------


def test_hosts_and_clusters_reference_each_other(federation: Federation) -> None:
    rows = federation.rows
    clusters = _index(rows["omnistack_clusters"])
    hosts = _index(rows["hosts"])
    for cluster in clusters.values():
        members = _list(cluster, "members")
        assert members and all(hosts[str(h)]["omnistack_cluster_id"] == cluster["id"] for h in members)
        assert cluster["version"] == f"Release {SVTFS_VERSION}"
        assert IPV4.match(_str(cluster, "arbiter_address")) and cluster["arbiter_connected"] is True
        info = cluster["infosight_configuration"]
        assert isinstance(info, dict) and set(info) == {
            "infosight_enabled", "infosight_registered", "infosight_proxy_url",
            "infosight_claim_tag", "infosight_tenant_name",
        }  # fmt: skip
    assert sorted(str(h) for c in clusters.values() for h in _list(c, "members")) == sorted(hosts)
    for host in hosts.values():
        cluster = clusters[_str(host, "omnistack_cluster_id")]
        assert host["compute_cluster_name"] == cluster["name"]
        assert host["compute_cluster_hypervisor_object_id"] == cluster["hypervisor_object_id"]
        assert host["compute_cluster_parent_hypervisor_object_id"] == cluster["hypervisor_object_parent_id"]
        assert host["compute_cluster_parent_name"] == cluster["hypervisor_object_parent_name"]
        assert host["hypervisor_management_system"] == cluster["hypervisor_management_system"]
        assert host["cluster_group_ids"] == cluster["cluster_group_ids"]
        assert host["version"] == cluster["version"] and host["type"] == "OmniStack"
        for net in ("management", "storage", "federation"):
            assert IPV4.match(_str(host, f"{net}_ip")) and host[f"{net}_mask"] == "255.255.255.0"
            assert host[f"{net}_mtu"] in ("1500", "9000")
        assert host["virtual_controller_name"] == "OmniStackVC-" + _str(host, "management_ip").replace(
            ".", "-"
        )


def test_cluster_groups_and_external_stores(federation: Federation) -> None:
    rows = federation.rows
    clusters = _index(rows["omnistack_clusters"])
    groups = _index(rows["cluster_groups"])
    for gid, group in groups.items():
        for cid in _list(group, "clusters"):
            assert gid in _list(clusters[str(cid)], "cluster_group_ids")
    for cluster_id, cluster in clusters.items():
        for group_id in _list(cluster, "cluster_group_ids"):
            assert cluster_id in _list(groups[str(group_id)], "clusters")
    for store in rows["external_stores"]:
        cluster = clusters[_str(store, "omnistack_cluster_id")]
        assert store["cluster_group_ids"] == cluster["cluster_group_ids"]
        assert (store["management_port"], store["storage_port"], store["type"]) == (
            9387,
            9388,
            "StoreOnceOnPrem",
        )


def test_policies_and_rules(federation: Federation) -> None:
    rows = federation.rows
    clusters = _index(rows["omnistack_clusters"])
    stores = _index(rows["external_stores"], "name")
    for policy in rows["policies"]:
        owner = clusters[_str(policy, "owner_cluster_id")]
        assert policy["owner_cluster_name"] == owner["name"]
        assert policy["cluster_group_ids"] == owner["cluster_group_ids"]
        for number, rule in enumerate(_list(policy, "rules")):
            assert isinstance(rule, dict)
            assert rule["number"] == number and UUID4.match(rule["id"])
            assert rule["application_consistent"] == (rule["consistency_type"] != "NONE")
            assert rule["consistency_type"] in ("NONE", "DEFAULT", "VSS")
            assert rule["max_backups"] == max(1, rule["retention"] // rule["frequency"])
            parse_days(rule["days"])
            parse_clock(rule["start_time"])
            parse_clock(rule["end_time"])
            if rule["external_store_name"]:
                assert rule["external_store_name"] in stores and rule["destination_id"] == ""
            elif rule["destination_id"]:
                assert clusters[rule["destination_id"]]["name"] == rule["destination_name"]
            else:
                assert rule["destination_name"] == "<local>"


def test_datastores_reference_clusters_policies_and_standard_hosts(federation: Federation) -> None:
    rows = federation.rows
    clusters = _index(rows["omnistack_clusters"])
    policies = _index(rows["policies"])
    standard = _index(rows["standard_hosts"], "name")
    for ds in rows["datastores"]:
        cluster = clusters[_str(ds, "omnistack_cluster_id")]
        assert ds["omnistack_cluster_name"] == cluster["name"]
        assert policies[_str(ds, "policy_id")]["name"] == ds["policy_name"]
        assert ds["cluster_group_ids"] == cluster["cluster_group_ids"]
        assert ds["compute_cluster_parent_hypervisor_object_id"] == cluster["hypervisor_object_parent_id"]
        assert ds["hypervisor_management_system_name"] == cluster["hypervisor_management_system_name"]
        for share in _list(ds, "shares"):
            assert isinstance(share, dict) and share["rw"] is True
            std = standard[share["host"]]
            assert std["ip_address"] == share["address"] and std["omnistack_cluster_id"] == cluster["id"]
    for std in standard.values():
        assert std["omnistack_cluster_id"] in clusters


def test_vms_live_where_their_datastore_and_hosts_are(federation: Federation) -> None:
    rows = federation.rows
    clusters = _index(rows["omnistack_clusters"])
    hosts = _index(rows["hosts"])
    datastores = _index(rows["datastores"])
    policies = _index(rows["policies"])
    overridden = 0
    for vm in rows["virtual_machines"]:
        cluster = clusters[_str(vm, "omnistack_cluster_id")]
        ds = datastores[_str(vm, "datastore_id")]
        host = hosts[_str(vm, "host_id")]
        assert vm["omnistack_cluster_name"] == cluster["name"]
        assert ds["omnistack_cluster_id"] == cluster["id"] and vm["datastore_name"] == ds["name"]
        assert host["omnistack_cluster_id"] == cluster["id"] and vm["host_name"] == host["name"]
        assert policies[_str(vm, "policy_id")]["name"] == vm["policy_name"]
        overridden += vm["policy_id"] != ds["policy_id"]
        assert vm["cluster_group_ids"] == cluster["cluster_group_ids"]
        assert vm["compute_cluster_parent_hypervisor_object_id"] == cluster["hypervisor_object_parent_id"]
        assert vm["compute_cluster_parent_name"] == cluster["hypervisor_object_parent_name"]
        assert vm["hypervisor_management_system"] == cluster["hypervisor_management_system"]
        replicas = _list(vm, "replica_set")
        roles = {r["role"]: r["id"] for r in replicas if isinstance(r, dict)}
        assert roles["PRIMARY"] == vm["host_id"]
        if ds["single_replica"] or len(_list(cluster, "members")) == 1:
            assert set(roles) == {"PRIMARY"}
        else:
            assert set(roles) == {"PRIMARY", "SECONDARY"}
            assert roles["SECONDARY"] != roles["PRIMARY"] and roles["SECONDARY"] in _list(cluster, "members")
        assert (vm["state"] == "DELETED") == (vm["deleted_at"] is not None)
        if vm["hypervisor_is_template"]:
            assert vm["hypervisor_virtual_machine_power_state"] == "OFF"
        assert 0 <= _int(vm, "hypervisor_free_space") < _int(vm, "hypervisor_allocated_capacity")
    assert overridden <= len(rows["virtual_machines"]) // 8, (
        "only a few VMs override their datastore's policy"
    )


def test_backups_reference_their_vm_datastore_and_holder(federation: Federation) -> None:
    rows = federation.rows
    clusters = _index(rows["omnistack_clusters"])
    vms = _sources(rows)
    stores = _index(rows["external_stores"], "name")
    for backup in rows["backups"]:
        vm = vms[_str(backup, "virtual_machine_id")]
        assert backup["virtual_machine_name"] == vm["name"]
        assert backup["virtual_machine_state"] == vm["state"]
        kind = (
            "UNKNOWN"
            if "hypervisor_is_template" not in vm
            else "TEMPLATE"
            if vm["hypervisor_is_template"]
            else "VM"
        )
        assert backup["virtual_machine_type"] == kind
        assert (backup["datastore_id"], backup["datastore_name"]) == (
            vm["datastore_id"],
            vm["datastore_name"],
        )
        assert backup["compute_cluster_parent_name"] == vm["compute_cluster_parent_name"]
        if backup["external_store_name"]:
            store = stores[_str(backup, "external_store_name")]
            assert (backup["omnistack_cluster_id"], backup["omnistack_cluster_name"]) == ("", "")
            assert backup["backup_store_type"] == "StoreOnceOnPrem"
            assert backup["associated_cluster"] == store["omnistack_cluster_id"]
            assert (
                backup["cluster_group_ids"]
                == clusters[_str(store, "omnistack_cluster_id")]["cluster_group_ids"]
            )
        else:
            holder = clusters[_str(backup, "omnistack_cluster_id")]
            assert backup["omnistack_cluster_name"] == holder["name"]
            assert backup["backup_store_type"] == "SimplivityStore"
            assert backup["cluster_group_ids"] == holder["cluster_group_ids"]
        copied = backup["external_store_name"] or backup["omnistack_cluster_id"] != vm["omnistack_cluster_id"]
        if copied:
            # It sends what its destination lacked: nothing when an earlier copy there holds the same.
            assert _int(backup, "sent") >= 0 and _int(backup, "sent_duration") > 0
            assert _when(backup["sent_completion_time"]) > _when(backup["created_at"])
        else:
            assert (backup["sent"], backup["sent_duration"], backup["sent_completion_time"]) == (0, 0, None)


def test_backup_times_names_and_sizes(federation: Federation) -> None:
    rows = federation.rows
    vms = _sources(rows)
    for backup in rows["backups"]:
        vm = vms[_str(backup, "virtual_machine_id")]
        created = _when(backup["created_at"])
        assert _when(vm["created_at"]) < created < NOW
        assert created > NOW - timedelta(days=31)
        if vm["deleted_at"] is not None:
            assert created < _when(vm["deleted_at"])
        if backup["expiration_time"] is not None:
            assert _when(backup["expiration_time"]) > NOW, "an expired backup would be gone"
        name = _str(backup, "name")
        if backup["type"] == "POLICY":
            local = datetime.fromisoformat(name)
            assert local.utcoffset() is not None and local == created
        else:
            assert backup["type"] == "MANUAL"
            stamp = name.removeprefix(f"{vm['name']}-backup-")
            assert stamp != name and datetime.fromisoformat(stamp) == created
        assert backup["application_consistent"] == (backup["consistency_type"] != "NONE")
        assert 0 < _int(backup, "size") <= _int(vm, "hypervisor_allocated_capacity")
        assert 0 <= _int(backup, "unique_size_bytes") <= _int(backup, "size")
        assert backup["unique_size_timestamp"] is not None and backup["state"] == "PROTECTED"


def test_host_hardware_matches_the_host(federation: Federation) -> None:
    hosts = _index(federation.rows["hosts"])
    assert sorted(str(hw["host_id"]) for hw in federation.rows["host_hardware"]) == sorted(hosts)
    for hw in federation.rows["host_hardware"]:
        doc = hw["document"]
        assert isinstance(doc, dict)
        host = hosts[_str(hw, "host_id")]
        assert doc["host_id"] == host["id"] and doc["name"] == host["name"]
        assert (doc["manufacturer"], doc["model_number"], doc["status"]) == (
            "HPE",
            "ProLiant DL380 Gen10",
            "GREEN",
        )
        for part in ("raid_card", "battery", "accelerator_card"):
            assert isinstance(doc[part], dict) and doc[part]["status"] == "GREEN"
        logical = doc["logical_drives"]
        assert isinstance(logical, list) and len(logical) == 1
        drive = logical[0]
        assert drive["name"] == "Logical Drive 1" and drive["health"] == "HEALTHY"
        assert drive["capacity"] == host["allocated_capacity"]
        physical = [p for ds in drive["drive_sets"] for p in ds["physical_drives"]]
        assert physical and {p["media_type"] for p in physical} == {"SSD"}
        each = physical[0]["capacity"]
        parity = len(physical) - drive["capacity"] // each
        assert drive["capacity"] % each == 0 and parity in (1, 2), "RAID 5 or 6 over equal drives"


# ---- capacity -----------------------------------------------------------------------------------

BYTES = (
    "allocated_capacity", "capacity_savings", "free_space", "local_backup_capacity", "remote_backup_capacity",
    "stored_compressed_data", "stored_uncompressed_data", "stored_virtual_machine_data", "used_capacity",
    "used_logical_capacity",
)  # fmt: skip


def _check_capacity_identities(row: Row) -> None:
    used = _int(row, "used_capacity")
    assert used == row["stored_compressed_data"]
    assert _int(row, "free_space") == _int(row, "allocated_capacity") - used >= 0
    logical = _int(row, "used_logical_capacity")
    assert logical == _int(row, "stored_virtual_machine_data") + _int(row, "local_backup_capacity") + _int(
        row, "remote_backup_capacity"
    )
    assert row["capacity_savings"] == logical - used
    uncompressed = _int(row, "stored_uncompressed_data")
    if used:
        assert row["compression_ratio"] == pytest.approx(uncompressed / used)
        assert row["deduplication_ratio"] == pytest.approx(logical / uncompressed)
    assert row["efficiency_ratio"] == pytest.approx(
        _float(row, "deduplication_ratio") * _float(row, "compression_ratio")
    )


def _float(row: Row, name: str) -> float:
    value = row[name]
    assert isinstance(value, float)
    return value


def test_cluster_capacity_is_the_sum_of_its_hosts(federation: Federation) -> None:
    hosts = federation.rows["hosts"]
    for cluster in federation.rows["omnistack_clusters"]:
        mine = [h for h in hosts if h["omnistack_cluster_id"] == cluster["id"]]
        for name in BYTES:
            assert cluster[name] == sum(_int(h, name) for h in mine), name
        _check_capacity_identities(cluster)
    for host in hosts:
        _check_capacity_identities(host)
        assert host["date"] is not None


def test_every_data_figure_is_recomputed_from_the_pieces(federation: Federation) -> None:
    """Sizes, unique sizes, free space and every capacity figure equal a brute force over slot maps."""
    mirror = mirror_of_memory(federation.content)
    assert mismatches(mirror, federation.rows) == []


def test_copies_send_what_their_destination_lacked(federation: Federation) -> None:
    """The first copy of a VM at a place sends its content compressed; later ones only the changes."""
    mirror = mirror_of_memory(federation.content)
    vms = _sources(federation.rows)
    first: dict[tuple[str, str], Row] = {}
    for backup in sorted(federation.rows["backups"], key=lambda b: _str(b, "created_at")):
        vm = vms[_str(backup, "virtual_machine_id")]
        place = _str(backup, "external_store_name") or _str(backup, "omnistack_cluster_id")
        if place != vm["omnistack_cluster_id"]:
            first.setdefault((_str(vm, "id"), place), backup)
    for backup in first.values():
        pieces = set(mirror.maps[_str(backup, "id")])
        assert 0 < _int(backup, "sent") <= sum(map(piece_compressed, pieces))


def test_a_backup_without_changes_since_the_last_holds_nothing_unique(demo: Federation) -> None:
    mirror = mirror_of_memory(demo.content)
    same = [
        b
        for b in demo.rows["backups"]
        if mirror.maps[_str(b, "id")] == mirror.maps.get(_str(b, "virtual_machine_id"))
        and b["omnistack_cluster_id"] == mirror.place[_str(b, "virtual_machine_id")]
    ]
    assert same and all(b["unique_size_bytes"] == 0 for b in same)


def test_datastore_sizes_hold_their_vms(federation: Federation) -> None:
    vms = federation.rows["virtual_machines"] + federation.rows["persistent_volumes"]
    for ds in federation.rows["datastores"]:
        alive = [vm for vm in vms if vm["datastore_id"] == ds["id"] and vm["state"] == "ALIVE"]
        used = sum(
            _int(vm, "hypervisor_allocated_capacity") - _int(vm, "hypervisor_free_space") for vm in alive
        )
        assert ds["hypervisor_free_space"] == _int(ds, "size") - used
        assert _int(ds, "size") >= sum(_int(vm, "hypervisor_allocated_capacity") for vm in alive)


# ---- what the demo must show --------------------------------------------------------------------


def test_demo_has_every_feature_clients_look_at(demo: Federation) -> None:
    rows = demo.rows
    members = [len(_list(c, "members")) for c in rows["omnistack_clusters"]]
    assert len(members) >= 2 and all(n >= 2 for n in members)
    vms = rows["virtual_machines"]
    assert len(vms) == 40
    power = Counter(vm["hypervisor_virtual_machine_power_state"] for vm in vms)
    assert 4 <= power["OFF"] <= 16
    assert sum(vm["hypervisor_is_template"] is True for vm in vms) >= 2
    deleted = {vm["id"] for vm in vms if vm["state"] == "DELETED"}
    assert 1 <= len(deleted) <= 2
    backups = rows["backups"]
    assert len(backups) == 300
    assert deleted <= {b["virtual_machine_id"] for b in backups}, "a deleted VM's backups remain"
    types = Counter(b["type"] for b in backups)
    assert types["POLICY"] > types["MANUAL"] > 0
    assert any(b["expiration_time"] is None for b in backups), "a locked backup never expires"
    vm_cluster = {vm["id"]: vm["omnistack_cluster_id"] for vm in vms + rows["persistent_volumes"]}
    held = [b for b in backups if b["omnistack_cluster_id"]]
    assert any(b["omnistack_cluster_id"] != vm_cluster[_str(b, "virtual_machine_id")] for b in held)
    assert any(b["omnistack_cluster_id"] == vm_cluster[_str(b, "virtual_machine_id")] for b in held)
    assert any(b["external_store_name"] for b in backups)
    oldest = min(_when(b["created_at"]) for b in backups if b["type"] == "POLICY")
    assert oldest < NOW - timedelta(days=14), "the history reaches weeks back"
    assert len(rows["cluster_groups"]) == 1
    assert sorted(str(c) for c in _list(rows["cluster_groups"][0], "clusters")) == sorted(
        str(c["id"]) for c in rows["omnistack_clusters"]
    )
    assert len(rows["external_stores"]) == 1
    policies = rows["policies"]
    assert len(policies) == 4
    assert any(not _list(p, "rules") for p in policies)
    rules = [r for p in policies for r in _list(p, "rules") if isinstance(r, dict)]
    assert all(1 <= len(_list(p, "rules")) <= 3 for p in policies if _list(p, "rules"))
    assert {r["consistency_type"] for r in rules} == {"NONE", "DEFAULT", "VSS"}
    assert any(r["destination_id"] for r in rules) and any(r["destination_name"] == "<local>" for r in rules)
    assert {"All", "Mon,Wed,Fri", "1,15", "last"} <= {r["days"] for r in rules}
    assert any(ds["single_replica"] for ds in rows["datastores"])
    assert any(_list(ds, "shares") for ds in rows["datastores"])
    assert 2 <= len(rows["standard_hosts"]) <= 4
    for vm in vms:
        assert _when(vm["created_at"]) < NOW - timedelta(days=50), "VMs were made months ago"


def test_spec_sizes() -> None:
    largest = FederationSpec.largest()
    assert (largest.hosts, largest.vms, largest.backups) == (96, 10_000, 300_000)
    assert (largest.clusters, largest.hosts_per_cluster) == (12, 8)
    demo = FederationSpec.demo()
    assert (demo.clusters, demo.hosts_per_cluster, demo.vms, demo.backups) == (2, 3, 40, 300)
    with pytest.raises(ValueError, match="backups need at least one VM"):
        FederationSpec(vms=0, backups=5)


@pytest.mark.slow
def test_largest_federation_generates() -> None:
    # How long it takes is benchmarks/foundation.py's to measure, not a test's.
    fed = generate(FederationSpec.largest(), NOW)
    assert fed.count("hosts") == 96
    assert fed.count("omnistack_clusters") == 12
    assert fed.count("virtual_machines") == 10_000
    assert fed.count("backups") == 300_000


@pytest.mark.parametrize(("vms", "backups"), [(1, 0), (5, 0), (5, 1), (12, 3), (40, 7), (12, 5000)])
def test_the_history_holds_exactly_the_backups_asked_for(vms: int, backups: int) -> None:
    fed = generate(FederationSpec(vms=vms, backups=backups, seed=3), NOW)
    assert fed.count("backups") == backups
