"""Metrics follow what happened: a VM's past follows its power state then, and operations add their IO."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from openovc.domain import timefmt
from openovc.simulator import io
from openovc.simulator.metrics import IO_BLOCK
from tests.support.inprocess import START, Env, make_env
from tests.support.tasks import completed

Row = dict[str, Any]


@pytest.fixture
def manual(tmp_path: Path) -> Iterator[Env]:
    built = make_env(tmp_path, clock_mode="manual", task_pacing="immediate")
    yield built
    built.runtime.storage.engine.dispose()


def _advance(env: Env, h: dict[str, str], seconds: int) -> None:
    resp = env.client.post("/_openovc/clock/advance", headers=h, json={"seconds": seconds})
    assert resp.status_code == 200, resp.text


def _reads(env: Env, h: dict[str, str], path: str, end: str, seconds: int) -> list[tuple[str, int]]:
    params = {"time_offset": end, "range": str(seconds), "resolution": "MINUTE"}
    resp = env.client.get(path, headers=h, params=params)
    assert resp.status_code == 200, resp.text
    iops = next(m for m in resp.json()["metrics"] if m["name"] == "iops")
    return [(p["date"], p["reads"]) for p in iops["data_points"]]


def _running_vm(env: Env) -> Row:
    return next(
        v for v in env.federation.rows["virtual_machines"]
        if v["state"] == "ALIVE" and v["hypervisor_virtual_machine_power_state"] == "ON"
    )  # fmt: skip


def test_a_power_change_shows_from_then_on_and_never_rewrites_the_past(manual: Env) -> None:
    h = manual.headers()
    vm = _running_vm(manual)
    path = f"/api/virtual_machines/{vm['id']}/metrics"
    _advance(manual, h, 3600)
    off_at = timefmt.to_text(START + timedelta(hours=1))
    completed(manual, "POST", f"/api/virtual_machines/{vm['id']}/power_off", h, version="1.14")
    _advance(manual, h, 3600)
    end = timefmt.to_text(START + timedelta(hours=2))
    points = _reads(manual, h, path, end, 7200)
    assert len(points) == 120
    before = [r for d, r in points if d < off_at]
    assert len(before) == 59 and sum(before) > 0  # the window is (end - 2 h, end]
    assert {r for d, r in points if d >= off_at} == {0}
    # Powered on again then: the hour it was off stays off. (The last point is the minute that was
    # running when it was read, the one it came back on in.)
    completed(manual, "POST", f"/api/virtual_machines/{vm['id']}/power_on", h, version="1.14")
    _advance(manual, h, 3600)
    again = _reads(manual, h, path, end, 7200)
    assert again[:-1] == points[:-1] and again[-1][1] > 0
    later = _reads(manual, h, path, timefmt.to_text(START + timedelta(hours=3)), 3600)
    assert sum(r for _, r in later) > 0


def test_a_backup_adds_its_metadata_walk_to_the_vm_and_its_host(manual: Env) -> None:
    h = manual.headers()
    vm = _running_vm(manual)
    vm_path = f"/api/virtual_machines/{vm['id']}/metrics"
    host_path = f"/api/hosts/{vm['host_id']}/metrics"
    _advance(manual, h, 120)
    now = timefmt.to_text(START + timedelta(seconds=120))
    # The minute the backup starts in, as it was before it.
    vm_before, host_before = _reads(manual, h, vm_path, now, 60), _reads(manual, h, host_path, now, 60)
    earlier = timefmt.to_text(START + timedelta(seconds=60))
    vm_earlier = _reads(manual, h, vm_path, earlier, 60)
    (made,) = completed(
        manual, "POST", f"/api/virtual_machines/{vm['id']}/backup", h, {"backup_name": "walked"}
    )
    size = manual.client.get(f"/api/backups/{made['object_id']}", headers=h).json()["backup"]["size"]
    _advance(manual, h, 600)
    walked = int(size // io.METADATA_SHARE / (60 * IO_BLOCK) + 0.5)  # its take fits in the minute
    assert walked > 0
    vm_after, host_after = _reads(manual, h, vm_path, now, 60), _reads(manual, h, host_path, now, 60)
    assert [(d, r + walked) for d, r in vm_before] == vm_after
    assert [(d, r + walked) for d, r in host_before] == host_after
    # The minute before it is untouched.
    assert _reads(manual, h, vm_path, earlier, 60) == vm_earlier
