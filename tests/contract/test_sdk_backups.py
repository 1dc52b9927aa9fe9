"""Every backup method of the official SDK against a real TLS server: VM create_backup and get_backups;
Backups get_all, set_retention and delete_multiple_backups; Backup reload_data, lock, rename, cancel,
copy, restore (new VM and original), delete, the partition and file listings and restore_files; each
checked against what the next plain GET shows.

The server is shared by every contract test, so these tests work on backups (and VMs) they make
themselves; generated backups are only read, or copied.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from simplivity.exceptions import HPESimpliVityException

from openovc.simulator.content.pieces import piece_compressed
from openovc.storage.engine import make_engine
from openovc.testing import OpenOVCServer
from tests.contract.conftest import Api
from tests.support.content_check import mirror_of_store
from tests.support.content_ops import Mirror

pytestmark = pytest.mark.slow

DESTINATION = "Invalid or unexpected destination specified."


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _live(api: Api, **wanted: Any) -> list[dict[str, Any]]:
    return [
        v for v in api.everything("virtual_machines", {"show_optional_fields": "true"})
        if not v["hypervisor_is_template"] and all(v[k] == w for k, w in wanted.items())
    ]  # fmt: skip


def _listed(api: Api, backup_id: str) -> dict[str, Any]:
    """A backup as the SDK's get_by_id reads it: through the list."""
    (found,) = api.members("backups", {"id": backup_id})
    return found


def _other_cluster(api: Api, cluster_id: str) -> dict[str, Any]:
    return next(c for c in api.everything("omnistack_clusters") if c["id"] != cluster_id)


def _used(vm: dict[str, Any]) -> int:
    return int(vm["hypervisor_allocated_capacity"]) - int(vm["hypervisor_free_space"])


def _vm(api: Api, vm_id: str) -> dict[str, Any]:
    found: dict[str, Any] = api.json(f"/api/virtual_machines/{vm_id}")["virtual_machine"]
    return found


def _content(server: OpenOVCServer) -> Mirror:
    """Every holder's slot map as the server stores it (the brute force the API tests use), read from the
    SQLite file in the data directory the plugin started it in."""
    assert server.data_dir is not None, "the contract tier reads the store of a server it started"
    engine = make_engine(f"sqlite:///{(server.data_dir / 'openovc.db').resolve()}")
    try:
        return mirror_of_store(engine)
    finally:
        engine.dispose()


def _lacked(server: OpenOVCServer, backup_id: str) -> int:
    """Compressed bytes of a backup's pieces that nothing else at its place holds: what it had to send."""
    mirror = _content(server)
    place = mirror.place[backup_id]
    others = [set(mirror.maps[h]) for h, p in mirror.place.items() if p == place and h != backup_id]
    return sum(piece_compressed(p) for p in set(mirror.maps[backup_id]).difference(*others))


def test_create_backup_locally_and_to_another_cluster(ovc: Any, api: Api, openovc: OpenOVCServer) -> None:
    # A running Windows guest: a file restored into it below changes its data.
    source = _live(api, hypervisor_virtual_machine_power_state="ON", app_aware_vm_status="CAPABLE")[0]
    vm = ovc.virtual_machines.get_by_id(source["id"])
    name = _name("sdk-bkp")
    backup = vm.create_backup(name, retention=60)
    assert backup.data == _listed(api, backup.data["id"])
    assert (backup.data["name"], backup.data["state"], backup.data["type"]) == (name, "PROTECTED", "MANUAL")
    assert (backup.data["virtual_machine_id"], backup.data["omnistack_cluster_id"], backup.data["size"]) == (
        source["id"], source["omnistack_cluster_id"], _used(source),
    )  # fmt: skip
    assert backup.data["expiration_time"] != "NA" and backup.data["sent"] == 0
    remote = _other_cluster(api, source["omnistack_cluster_id"])
    far = vm.create_backup(_name("sdk-far"), cluster=remote["name"], app_consistent=True)
    assert (far.data["omnistack_cluster_id"], far.data["consistency_type"], far.data["expiration_time"]) == (
        remote["id"], "DEFAULT", "NA",
    )  # fmt: skip
    # It sends what the other cluster lacked (the generated history may have sent it all before).
    assert far.data["sent"] == _lacked(openovc, far.data["id"])
    assert far.data["sent_completion_time"] != "NA"
    # A file restored into the VM rewrites some of its data: the next backup there sends that.
    disk = f"{source['name']}.vmdk"
    assert backup.restore_files(source["id"], [f"{disk}/2/Windows/win.ini"]) is None
    again = vm.create_backup(_name("sdk-far"), cluster=remote["name"])
    assert again.data["sent"] == _lacked(openovc, again.data["id"]) > 0
    theirs = {b.data["id"] for b in vm.get_backups()}
    assert {backup.data["id"], far.data["id"]} <= theirs
    assert ovc.backups.get_by_name(name).data == backup.data
    found = ovc.backups.get_all(
        filters={"virtual_machine_id": source["id"], "type": "MANUAL", "name": "sdk-*"}
    )
    assert {backup.data["id"], far.data["id"]} <= {b.data["id"] for b in found}


def test_create_backup_of_an_unknown_cluster_raises(ovc: Any, api: Api) -> None:
    vm = ovc.virtual_machines.get_by_id(_live(api)[0]["id"])
    cluster = ovc.omnistack_clusters.get_by_id(_other_cluster(api, "")["id"])
    cluster.data = {**cluster.data, "id": "no-such-cluster"}
    with pytest.raises(HPESimpliVityException) as caught:
        vm.create_backup(_name("sdk-none"), cluster=cluster)
    assert caught.value.msg == "Object type: omnistack_cluster id: no-such-cluster could not be found"


def test_lock_rename_reload_and_cancel(ovc: Any, api: Api) -> None:
    vm = ovc.virtual_machines.get_by_id(_live(api)[1]["id"])
    backup = vm.create_backup(_name("sdk-lock"), retention=60)
    assert backup.lock() is backup and backup.data["expiration_time"] == "NA"
    new_name = _name("sdk-renamed")
    backup.rename(new_name)
    assert backup.data["name"] == new_name == _listed(api, backup.data["id"])["name"]
    backup.reload_data()
    assert backup.data == _listed(api, backup.data["id"])
    # The SDK's own example: cancelling a backup that has finished is an error.
    with pytest.raises(HPESimpliVityException) as caught:
        backup.cancel()
    assert caught.value.msg == (
        f"Backup {new_name} is PROTECTED: only a backup being taken or sent can be canceled."
    )
    assert _listed(api, backup.data["id"])["state"] == "PROTECTED"


def test_copy_to_a_cluster_and_to_an_external_store(ovc: Any, api: Api) -> None:
    store = api.everything("external_stores")[0]
    source = _live(api, omnistack_cluster_id=store["omnistack_cluster_id"])[0]
    backup = ovc.virtual_machines.get_by_id(source["id"]).create_backup(_name("sdk-copy"))
    remote = _other_cluster(api, source["omnistack_cluster_id"])
    copy = backup.copy(cluster=remote["name"])
    assert copy.data == _listed(api, copy.data["id"])
    assert copy.data["id"] != backup.data["id"]
    assert (copy.data["name"], copy.data["created_at"], copy.data["omnistack_cluster_id"]) == (
        backup.data["name"], backup.data["created_at"], remote["id"],
    )  # fmt: skip
    stored = backup.copy(external_store_name=store["name"])
    assert (stored.data["external_store_name"], stored.data["backup_store_type"]) == (
        store["name"],
        "StoreOnceOnPrem",
    )
    with pytest.raises(HPESimpliVityException) as caught:
        backup.copy(cluster=ovc.omnistack_clusters.get_by_id(source["omnistack_cluster_id"]))
    assert caught.value.msg == DESTINATION


def test_restore_to_a_new_vm_and_over_the_original(ovc: Any, api: Api) -> None:
    source = ovc.virtual_machines.get_by_id(_live(api, hypervisor_virtual_machine_power_state="ON")[0]["id"])
    clone = source.clone(_name("sdk-rst"))  # a VM of this test's own
    backup = clone.create_backup(_name("sdk-rst-bkp"))
    elsewhere = next(d for d in api.everything("datastores") if d["id"] != clone.data["datastore_id"])
    name = _name("sdk-restored")
    restored = backup.restore(False, name, datastore=elsewhere["name"])
    seen = _vm(api, restored.data["id"])
    assert (seen["name"], seen["datastore_id"], seen["state"]) == (name, elsewhere["id"], "ALIVE")
    assert _used(seen) == backup.data["size"]
    same = backup.restore(True)
    assert same.data["id"] == clone.data["id"]
    assert _vm(api, clone.data["id"])["hypervisor_virtual_machine_power_state"] == "OFF"
    with pytest.raises(HPESimpliVityException) as caught:
        backup.restore(False, name)
    assert caught.value.msg == "Duplicate name exists."


def test_set_retention_asks_for_force_before_removing_backups(ovc: Any, api: Api) -> None:
    # A copy of the oldest generated backup: an old point in time that this test may remove.
    oldest = min((b for b in api.everything("backups") if b["omnistack_cluster_id"] and b["expiration_time"] != "NA"),
                 key=lambda b: b["created_at"])  # fmt: skip
    remote = _other_cluster(api, oldest["omnistack_cluster_id"])
    copy = ovc.backups.get_by_id(oldest["id"]).copy(cluster=remote["name"])
    before = _listed(api, copy.data["id"])
    # Without force nothing changes: the server lists what would go, and the SDK reads the backups again.
    kept = ovc.backups.set_retention([copy], 1)
    assert [b.data for b in kept] == [before]
    (longer,) = ovc.backups.set_retention([copy], 60 * 24 * 3650)
    assert longer.data["expiration_time"] > before["expiration_time"]
    assert ovc.backups.set_retention([copy], 1, force=True) == []
    assert api.members("backups", {"id": copy.data["id"]}) == []


def test_delete_one_and_many(ovc: Any, api: Api) -> None:
    vm = ovc.virtual_machines.get_by_id(_live(api)[2]["id"])
    made = [vm.create_backup(_name("sdk-del")) for _ in range(3)]
    made[0].delete()
    assert made[0].data is None
    ids = [b.data["id"] for b in made[1:]]
    ovc.backups.delete_multiple_backups(made[1:])
    assert api.members("backups", {"id": ",".join(ids)}) == []
    assert all(api.get(f"/api/backups/{i}").status_code == 404 for i in ids)


def test_browse_a_backup_and_restore_files(ovc: Any, api: Api, openovc: OpenOVCServer) -> None:
    windows = _live(api, app_aware_vm_status="CAPABLE")[0]
    backup = ovc.virtual_machines.get_by_id(windows["id"]).create_backup(_name("sdk-flr"))
    disk = f"{windows['name']}.vmdk"
    partitions = backup.get_virtual_disk_partitions(disk)["partitions"]
    assert [(p["partition_number"], p["mountable"]) for p in partitions] == [(1, False), (2, True)]
    files = backup.get_virtual_disk_partition_files(disk, 2, "/Windows")["virtual_disk_partition_files"]
    ini = next(f for f in files if f["name"] == "win.ini")
    source = ovc.virtual_machines.get_by_id(_live(api, hypervisor_virtual_machine_power_state="ON")[0]["id"])
    target = source.clone(_name("sdk-flr-target"))
    before = _content(openovc).maps[target.data["id"]]
    assert ini["size"] > 0
    assert backup.restore_files(target.data["id"], [f"{disk}/2/Windows/win.ini"]) is None
    # The file overwrites the guest's own: whole pieces of its data are rewritten, and the VM's data is
    # what the stored content says.
    after = _content(openovc)
    restored = _vm(api, target.data["id"])
    assert after.maps[target.data["id"]] != before
    assert _used(restored) == after.size(target.data["id"])
    # A backup of the target holds the file: in place on a Windows VM, under restored/ on a Linux one.
    later = target.create_backup(_name("sdk-flr-after"))
    target_disk = f"{target.data['name']}.vmdk"
    # A Windows system disk is GPT, a Linux one MBR.
    windows_target = later.get_virtual_disk_partitions(target_disk)["partitions"][0]["disk_type"] == "GPT"
    where = "/Windows" if windows_target else f"/restored/{disk}/2/Windows"
    landed = later.get_virtual_disk_partition_files(target_disk, 2, where)["virtual_disk_partition_files"]
    assert next(f for f in landed if f["name"] == "win.ini") == ini
    with pytest.raises(HPESimpliVityException) as caught:
        backup.restore_files(target.data["id"], [f"{disk}/2/pagefile.sys"])
    assert caught.value.msg == (
        f"Invalid body: paths: '{disk}/2/pagefile.sys' cannot be restored "
        "(a symbolic link or a file the guest keeps locked)"
    )
