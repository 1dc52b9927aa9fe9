"""The declarative inventory loader: the shipped example, defaults, and a clear error for each bad file."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from openovc.domain import catalog
from openovc.simulator.federation import Federation
from openovc.simulator.generator.inventory_file import load_inventory

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "inventory.yaml"
Row = dict[str, object]

MINIMAL = """
clusters:
  - name: Boston
    hosts: [a.example.com, b.example.com]
  - name: Sydney
    hosts: 2
datastores:
  - name: DS-A
    cluster: Boston
    policy: Gold
policies:
  - name: Gold
    rules:
      - frequency: 60
        retention: 1440
virtual_machines:
  - name: vm-1
    datastore: DS-A
"""


@pytest.fixture(scope="module")
def example() -> Federation:
    return load_inventory(EXAMPLE, NOW)


def _write(tmp_path: Path, text: str, name: str = "inventory.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _by_name(rows: list[Row]) -> dict[str, Row]:
    return {str(r["name"]): r for r in rows}


def _error(path: Path) -> str:
    with pytest.raises(ValueError) as caught:
        load_inventory(path, NOW)
    return str(caught.value)


def _assert_consistent(fed: Federation) -> None:
    """The references and sums every federation keeps, file-described or generated."""
    rows = fed.rows
    for coll in catalog.ALL:
        for row in rows[coll.plural]:
            assert list(row) == [f.name for f in coll.fields], coll.plural
    clusters = {r["id"]: r for r in rows["omnistack_clusters"]}
    hosts = {r["id"]: r for r in rows["hosts"]}
    datastores = {r["id"]: r for r in rows["datastores"]}
    policies = {r["id"]: r for r in rows["policies"]}
    vms = {r["id"]: r for r in rows["virtual_machines"]}
    for vm in vms.values():
        assert clusters[vm["omnistack_cluster_id"]]["name"] == vm["omnistack_cluster_name"]
        assert datastores[vm["datastore_id"]]["omnistack_cluster_id"] == vm["omnistack_cluster_id"]
        assert hosts[vm["host_id"]]["omnistack_cluster_id"] == vm["omnistack_cluster_id"]
        assert policies[vm["policy_id"]]["name"] == vm["policy_name"]
    for backup in rows["backups"]:
        vm = vms[backup["virtual_machine_id"]]
        assert backup["virtual_machine_name"] == vm["name"]
        assert backup["omnistack_cluster_id"] in clusters or backup["external_store_name"]
    for cluster in clusters.values():
        mine = [h for h in hosts.values() if h["omnistack_cluster_id"] == cluster["id"]]
        assert sorted(str(h["id"]) for h in mine) == sorted(cluster["members"])
        for name in ("allocated_capacity", "used_capacity", "free_space", "used_logical_capacity"):
            assert cluster[name] == sum(h[name] for h in mine)
        assert cluster["free_space"] == cluster["allocated_capacity"] - cluster["used_capacity"]


# ---- the shipped example ------------------------------------------------------------------------


def test_example_loads_as_described(example: Federation) -> None:
    rows = example.rows
    _assert_consistent(example)
    clusters = _by_name(rows["omnistack_clusters"])
    assert list(clusters) == ["Boston", "Sydney"]
    assert clusters["Boston"]["time_zone"] == "America/New_York"
    assert clusters["Sydney"]["time_zone"] == "Australia/Sydney"
    hosts = _by_name(rows["hosts"])
    assert {"bos-svt01.lab.example.com", "bos-svt02.lab.example.com", "bos-svt03.lab.example.com"} <= set(
        hosts
    )
    assert sum(h["omnistack_cluster_id"] == clusters["Sydney"]["id"] for h in hosts.values()) == 2
    stores = _by_name(rows["external_stores"])
    assert stores["StoreOnce-BOS"]["management_ip"] == "10.1.40.20"
    assert stores["StoreOnce-BOS"]["omnistack_cluster_id"] == clusters["Boston"]["id"]
    policies = _by_name(rows["policies"])
    assert list(policies) == ["Gold", "Silver", "Unprotected"]
    gold = policies["Gold"]["rules"]
    assert isinstance(gold, list)
    assert [r["destination_name"] for r in gold] == ["<local>", "Sydney", "StoreOnce-BOS"]
    assert [r["retention"] for r in gold] == [1440, 10080, 129600], "a file's retentions are kept as written"
    assert gold[0]["start_time"] == "08:00" and gold[0]["end_time"] == "18:00"
    assert policies["Unprotected"]["rules"] == []
    datastores = _by_name(rows["datastores"])
    assert datastores["DS-Prod-01"]["size"] == 4 * 1024**4
    assert datastores["DS-Dev-01"]["shares"] == []
    assert datastores["DS-Prod-02"]["policy_name"] == "Silver"
    assert [g["name"] for g in rows["cluster_groups"]] == ["Global"]


def test_example_vms_and_their_backups(example: Federation) -> None:
    rows = example.rows
    vms = _by_name(rows["virtual_machines"])
    assert len(vms) == 8
    assert vms["sql-01"]["host_name"] == "bos-svt01.lab.example.com"
    assert vms["sql-01"]["hypervisor_allocated_capacity"] == 200 * 1024**3
    assert vms["sql-01"]["hypervisor_virtual_machine_power_state"] == "ON"
    assert vms["web-02"]["hypervisor_virtual_machine_power_state"] == "OFF"
    assert vms["tmpl-win2022"]["hypervisor_is_template"] is True
    assert vms["dev-box-01"]["policy_name"] == "Gold" and vms["dev-box-01"]["datastore_name"] == "DS-Dev-01"
    assert vms["old-app-01"]["state"] == "DELETED"
    per_vm = Counter(b["virtual_machine_name"] for b in rows["backups"])
    assert per_vm == {name: (2 if name == "dev-box-01" else 6) for name in vms}


def test_loading_is_deterministic(example: Federation) -> None:
    assert load_inventory(EXAMPLE, NOW).rows == example.rows


def test_json_and_defaults(tmp_path: Path) -> None:
    """A file that names only clusters gets the generator's policies, datastores, group and store."""
    path = _write(tmp_path, json.dumps({"clusters": [{"name": "Paris", "hosts": 2}]}), "inventory.json")
    fed = load_inventory(path, NOW)
    _assert_consistent(fed)
    rows = fed.rows
    assert rows["omnistack_clusters"][0]["time_zone"] == "Europe/Paris"
    assert [h["name"] for h in rows["hosts"]] == ["paris-svt01.example.local", "paris-svt02.example.local"]
    assert len(rows["policies"]) == 4 and len(rows["datastores"]) == 2
    assert len(rows["cluster_groups"]) == 1 and len(rows["external_stores"]) == 1
    assert rows["virtual_machines"] == [] and rows["backups"] == []


def test_vms_keep_no_backups_unless_asked(tmp_path: Path) -> None:
    fed = load_inventory(_write(tmp_path, MINIMAL), NOW)
    _assert_consistent(fed)
    assert fed.count("virtual_machines") == 1 and fed.count("backups") == 0
    fed = load_inventory(_write(tmp_path, MINIMAL + "backups_per_vm: 4\n"), NOW)
    assert fed.count("backups") == 4


def test_yaml_reads_of_unquoted_on_and_times_are_understood(tmp_path: Path) -> None:
    text = MINIMAL.replace("retention: 1440", "retention: 1440\n        start_time: 22:00").replace(
        "datastore: DS-A", "datastore: DS-A\n    power_state: OFF"
    )
    fed = load_inventory(_write(tmp_path, text), NOW)
    rule = fed.rows["policies"][0]["rules"][0]
    assert rule["start_time"] == "22:00"
    assert fed.rows["virtual_machines"][0]["hypervisor_virtual_machine_power_state"] == "OFF"


def test_a_deleted_vm_may_share_a_name_with_a_live_one(tmp_path: Path) -> None:
    text = MINIMAL + "  - name: vm-1\n    datastore: DS-A\n    deleted: true\n"
    fed = load_inventory(_write(tmp_path, text), NOW)
    assert sorted(str(vm["state"]) for vm in fed.rows["virtual_machines"]) == ["ALIVE", "DELETED"]


# ---- bad files ----------------------------------------------------------------------------------

BAD_CASES = [
    pytest.param(
        ("datastore: DS-A", "datastore: DS-Nope"),
        "virtual_machines[0] (vm-1).datastore: unknown datastore 'DS-Nope'",
        id="unknown-datastore",
    ),
    pytest.param(
        ("    policy: Gold\npolicies:", "    policy: Gold\n  - name: DS-A\n    cluster: Sydney\npolicies:"),
        "datastores[1] (DS-A): duplicate datastore name 'DS-A'",
        id="duplicate-datastore",
    ),
    pytest.param(
        ("  - name: Sydney\n", "  - name: Boston\n"),
        "clusters[1] (Boston): duplicate cluster name 'Boston'",
        id="duplicate-cluster",
    ),
    pytest.param(
        ("  - name: vm-1\n    datastore: DS-A", "  - name: vm-1\n    datastore: DS-A\n  - name: vm-1\n    datastore: DS-A"),
        "virtual_machines[1] (vm-1): duplicate virtual machine name 'vm-1'",
        id="duplicate-vm",
    ),
    pytest.param(
        ("  - name: Boston\n    hosts", "  - hosts"),
        "clusters[0]: missing key 'name'",
        id="missing-name",
    ),
    pytest.param(
        ("      - frequency: 60\n", "      - days: All\n"),
        "policies[0] (Gold).rules[0]: missing key 'frequency'",
        id="missing-frequency",
    ),
    pytest.param(
        ("hosts: 2", "hosts: two"),
        "clusters[1] (Sydney).hosts: expected a list of host names or a count, got a string",
        id="wrong-type-hosts",
    ),
    pytest.param(
        ("retention: 1440", "retention: a day"),
        "policies[0] (Gold).rules[0].retention: expected an integer, got a string",
        id="wrong-type-retention",
    ),
    pytest.param(
        ("    policy: Gold\n", "    policy: Gold\n    size: [4]\n"),
        "datastores[0] (DS-A).size: expected a size in bytes or like '100GiB' or '2TB', got [4]",
        id="wrong-type-size",
    ),
    pytest.param(
        ("virtual_machines:", "virtual_machine:"),
        "inventory: unknown key 'virtual_machine' (expected one of seed, backups_per_vm, clusters, policies, "
        "datastores, virtual_machines, cluster_groups, external_stores, loopback_addresses)",
        id="unknown-top-key",
    ),
    pytest.param(
        ("    datastore: DS-A", "    datastore: DS-A\n    host: b.example.com\n    colour: red"),
        "virtual_machines[0] (vm-1): unknown key 'colour' (expected one of name, datastore, host, power_state, "
        "size, template, deleted, policy, image, backups)",
        id="unknown-vm-key",
    ),
    pytest.param(
        ("    datastore: DS-A", "    datastore: DS-A\n    host: sydney-svt01.example.local"),
        "virtual_machines[0] (vm-1).host: host 'sydney-svt01.example.local' is not in cluster 'Boston' of "
        "datastore 'DS-A'",
        id="host-of-another-cluster",
    ),
    pytest.param(
        ("    policy: Gold\n", "    policy: Platinum\n"),
        "datastores[0] (DS-A).policy: unknown policy 'Platinum'",
        id="unknown-policy",
    ),
    pytest.param(
        ("retention: 1440", "retention: 1440\n        destination: Paris"),
        "policies[0] (Gold).rules[0].destination: unknown cluster 'Paris'",
        id="unknown-destination",
    ),
    pytest.param(
        ("retention: 1440", "retention: 1440\n        days: Mon,Funday"),
        "policies[0] (Gold).rules[0].days: unknown day 'funday' in 'Mon,Funday' (use All, weekdays like "
        "Mon,Wed,Fri, month days like 1,15, or last)",
        id="bad-days",
    ),
    pytest.param(
        ("retention: 1440", "retention: 1440\n        end_time: '25:00'"),
        "policies[0] (Gold).rules[0].end_time: expected a time HH:MM, got '25:00'",
        id="bad-time",
    ),
    pytest.param(
        ("frequency: 60", "frequency: 0"),
        "policies[0] (Gold).rules[0].frequency: must be at least 1 and at most 1440, got 0",
        id="bad-frequency",
    ),
    pytest.param(
        ("    datastore: DS-A", "    datastore: DS-A\n    power_state: BLUE"),
        "virtual_machines[0] (vm-1).power_state: expected one of ON, OFF, SUSPENDED, got 'BLUE'",
        id="bad-power-state",
    ),
    pytest.param(
        ("hosts: 2", "hosts: 2\n    time_zone: Mars/Olympus"),
        "clusters[1] (Sydney).time_zone: unknown time zone 'Mars/Olympus' (use an IANA name like Europe/London)",
        id="bad-time-zone",
    ),
    pytest.param(
        ("virtual_machines:", "cluster_groups:\n  - name: G1\n    clusters: [Boston]\n  - name: G2\n"
         "    clusters: [Boston]\nvirtual_machines:"),
        "cluster_groups[1] (G2).clusters[0]: cluster 'Boston' is already in cluster group 'G1'",
        id="cluster-in-two-groups",
    ),
    pytest.param(
        ("retention: 1440", "retention: 1440\n        external_store: Nowhere"),
        "policies[0] (Gold).rules[0].external_store: unknown external store 'Nowhere'",
        id="unknown-external-store",
    ),
    pytest.param(
        ("virtual_machines:", "backups_per_vm: -1\nvirtual_machines:"),
        "inventory.backups_per_vm: must be at least 0, got -1",
        id="negative-backups",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("edit", "message"), BAD_CASES)
def test_bad_file_names_the_problem(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    old, new = edit
    assert old in MINIMAL
    path = _write(tmp_path, MINIMAL.replace(old, new, 1))
    assert _error(path) == f"{path}: {message}"


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = _write(tmp_path, "- clusters\n")
    assert _error(path) == f"{path}: inventory: expected a mapping, got a list"


def test_clusters_are_required(tmp_path: Path) -> None:
    path = _write(tmp_path, "seed: 3\n")
    assert _error(path) == f"{path}: inventory: missing key 'clusters'"
    path = _write(tmp_path, "clusters: []\n")
    assert _error(path) == f"{path}: clusters: a federation has 1 to 250 clusters, got 0"


def test_datastores_need_a_policy(tmp_path: Path) -> None:
    path = _write(tmp_path, "clusters: [{name: Paris}]\npolicies: []\n")
    assert _error(path) == (
        f"{path}: datastores: the generated datastores need a policy, and the file defines none"
    )
    path = _write(
        tmp_path, "clusters: [{name: Paris}]\npolicies: []\ndatastores: [{name: D, cluster: Paris}]\n"
    )
    assert _error(path) == f"{path}: datastores[0] (D): a datastore needs a policy, and the file defines none"


def test_unparsable_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "clusters: [\n")
    assert _error(path).startswith(f"{path}: not valid YAML or JSON: ")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    assert _error(path).startswith(f"{path}: cannot read the inventory: ")


def test_datastore_too_small_for_its_vms(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL.replace("    policy: Gold\n", "    policy: Gold\n    size: 1GiB\n", 1))
    assert re.fullmatch(
        rf"{re.escape(str(path))}: datastore 'DS-A' \(size 1073741824 bytes\) is too small for its VMs "
        r"\(\d+ bytes written\)",
        _error(path),
    )


def test_the_docs_show_the_shipped_example() -> None:
    docs = (EXAMPLE.parents[1] / "docs" / "inventory.md").read_text(encoding="utf-8")
    block = docs.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert block.strip() and block in EXAMPLE.read_text(encoding="utf-8")
