"""services/clusters.py against the in-memory fakes: time zone, IWO and cluster group rename."""

from __future__ import annotations

import pytest

from openovc.domain.catalog import CLUSTER_GROUPS, OMNISTACK_CLUSTERS
from openovc.domain.errors import InvalidBody, ObjectNotFound, TaskError
from openovc.services import clusters
from tests.support.fakes import Ended, Services

CLUSTER = "omnistack_cluster"


@pytest.fixture
def s() -> Services:
    return Services.start(clusters)


# ------------------------------------------------------------------------------------------ time zone


def test_set_time_zone(s: Services) -> None:
    cluster = s.federation.named(OMNISTACK_CLUSTERS, "Boston")
    other = s.federation.named(OMNISTACK_CLUSTERS, "Sydney")
    task = clusters.set_time_zone(s.reader, s.tasks, cluster["id"], "Europe/Paris")
    assert (task["state"], task["operation"]) == ("QUEUED", "omnistack_cluster.set_time_zone")
    assert s.poll(task) == Ended("COMPLETED", affected=((cluster["id"], CLUSTER),))
    assert s.federation.row(OMNISTACK_CLUSTERS, cluster["id"]) == {**cluster, "time_zone": "Europe/Paris"}
    assert s.federation.row(OMNISTACK_CLUSTERS, other["id"]) == other
    assert s.poll(clusters.set_time_zone(s.reader, s.tasks, cluster["id"], "UTC")).state == "COMPLETED"
    assert s.federation.row(OMNISTACK_CLUSTERS, cluster["id"])["time_zone"] == "UTC"


@pytest.mark.parametrize("zone", ["europe/paris", "Mars/Olympus_Mons", "", " UTC"])
def test_set_time_zone_refuses_what_is_not_a_time_zone(s: Services, zone: str) -> None:
    cluster = s.federation.named(OMNISTACK_CLUSTERS, "Boston")
    before = s.federation.snapshot()
    with pytest.raises(InvalidBody) as error:
        clusters.set_time_zone(s.reader, s.tasks, cluster["id"], zone)
    assert error.value.message == (
        f"Invalid body: time_zone: {zone!r} is not a time zone of "
        "GET /omnistack_clusters/time_zone_list (names are case-sensitive)"
    )
    assert s.store.tasks == {} and s.federation.snapshot() == before


def test_set_time_zone_of_an_unknown_cluster(s: Services) -> None:
    # The cluster is looked up first: an unknown one is 404 whatever the zone.
    for zone in ("UTC", "nowhere"):
        with pytest.raises(ObjectNotFound) as missing:
            clusters.set_time_zone(s.reader, s.tasks, "nope", zone)
        assert missing.value.message == "Object type: omnistack_cluster id: nope could not be found"
    assert s.store.tasks == {}


def test_set_time_zone_fails_when_the_cluster_went_away(s: Services) -> None:
    s.run_on_poll()
    cluster = s.federation.named(OMNISTACK_CLUSTERS, "Sydney")
    task = clusters.set_time_zone(s.reader, s.tasks, cluster["id"], "UTC")
    with s.federation.writing() as txn:
        txn.update(OMNISTACK_CLUSTERS, cluster["id"], {"id": "gone"})
    before = s.federation.snapshot()
    assert s.poll(task) == Ended(
        "FAILED", 20, f"Object type: omnistack_cluster id: {cluster['id']} could not be found"
    )
    assert s.federation.snapshot() == before
    assert s.federation.row(OMNISTACK_CLUSTERS, "gone")["time_zone"] == cluster["time_zone"]


# ------------------------------------------------------------------------------------------------ IWO


def test_set_iwo_on_and_off(s: Services) -> None:
    cluster = s.federation.named(OMNISTACK_CLUSTERS, "Sydney")
    assert (cluster["iwo_enabled"], cluster["iwo_active"]) == (False, False)
    assert s.poll(clusters.set_iwo(s.reader, s.tasks, cluster["id"], True)) == Ended(
        "COMPLETED", affected=((cluster["id"], CLUSTER),)
    )
    assert s.federation.row(OMNISTACK_CLUSTERS, cluster["id"]) == {
        **cluster,
        "iwo_enabled": True,
        "iwo_active": True,
    }
    s.poll(clusters.set_iwo(s.reader, s.tasks, cluster["id"], False))
    assert s.federation.row(OMNISTACK_CLUSTERS, cluster["id"]) == cluster
    with pytest.raises(ObjectNotFound) as missing:
        clusters.set_iwo(s.reader, s.tasks, "nope", True)
    assert missing.value.message == "Object type: omnistack_cluster id: nope could not be found"


# -------------------------------------------------------------------------------- cluster group rename


def _names(s: Services) -> dict[str, str]:
    return {g["id"]: g["name"] for g in s.federation.rows(CLUSTER_GROUPS)}


def test_rename_cluster_group(s: Services) -> None:
    group = s.federation.named(CLUSTER_GROUPS, "Global")
    task = clusters.rename_group(s.reader, s.tasks, group["id"], "Worldwide", None)
    # The real one reports no affected object for this task.
    assert s.poll(task) == Ended("COMPLETED")
    assert s.federation.row(CLUSTER_GROUPS, group["id"]) == {**group, "name": "Worldwide"}
    # The body's id (1.17+) may name the path's group; its own name again is no duplicate.
    assert s.poll(clusters.rename_group(s.reader, s.tasks, group["id"], "Worldwide", group["id"])) == Ended(
        "COMPLETED"
    )
    assert _names(s) == {group["id"]: "Worldwide"}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Invalid body: The cluster group name must not be empty."),
        ("a/b", "Invalid body: The cluster group name contains characters that are not allowed: '/'."),
        ("g" * 65, "Invalid body: The cluster group name must be at most 64 characters long."),
    ],
)
def test_rename_cluster_group_bad_names(s: Services, name: str, message: str) -> None:
    group = s.federation.named(CLUSTER_GROUPS, "Global")
    with pytest.raises(InvalidBody) as error:
        clusters.rename_group(s.reader, s.tasks, group["id"], name, None)
    assert error.value.message == message
    assert s.store.tasks == {} and _names(s) == {group["id"]: "Global"}


def test_rename_cluster_group_refusals(s: Services) -> None:
    group = s.federation.named(CLUSTER_GROUPS, "Global")
    with s.federation.writing() as txn:
        txn.insert(CLUSTER_GROUPS, {"id": "g2", "name": "Europe", "clusters": []})
    before = s.federation.snapshot()
    with pytest.raises(InvalidBody) as error:
        clusters.rename_group(s.reader, s.tasks, group["id"], "x", "another")
    assert (
        error.value.message == f"Invalid body: id: another is not the cluster group {group['id']} of the path"
    )
    with pytest.raises(ObjectNotFound) as missing:
        clusters.rename_group(s.reader, s.tasks, "nope", "x", None)
    assert missing.value.message == "Object type: cluster_group id: nope could not be found"
    with pytest.raises(TaskError) as refused:
        clusters.rename_group(s.reader, s.tasks, group["id"], "Europe", None)
    assert (refused.value.error_code, refused.value.message) == ("13", "Duplicate name exists.")
    assert s.store.tasks == {} and s.federation.snapshot() == before


def test_rename_cluster_group_to_a_name_taken_by_run_time(s: Services) -> None:
    s.run_on_poll()
    group = s.federation.named(CLUSTER_GROUPS, "Global")
    task = clusters.rename_group(s.reader, s.tasks, group["id"], "Americas", None)
    with s.federation.writing() as txn:
        txn.insert(CLUSTER_GROUPS, {"id": "g3", "name": "Americas", "clusters": []})
    before = s.federation.snapshot()
    assert s.poll(task) == Ended("FAILED", 13, "Duplicate name exists.")
    assert s.federation.snapshot() == before
    assert _names(s) == {group["id"]: "Global", "g3": "Americas"}
