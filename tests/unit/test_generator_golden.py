"""The generator's output for a seed does not move when its code is made faster: digests of every table's
rows and of the content ledger, recorded from the code before the replay was optimised (issue 15)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from openovc.simulator.content.ledger import MemoryLedger
from openovc.simulator.federation import Federation, FederationSpec
from openovc.simulator.generator.generator import generate

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
# Three clusters with remote copies and external stores: every kind of backup, deleted VMs, volumes.
MEDIUM = FederationSpec(
    clusters=3, hosts_per_cluster=4, datastores=12, vms=300, policies=8, backups=6000,
    cluster_groups=2, external_stores=2, seed=11, persistent_volumes=12,
)  # fmt: skip


def _digest(value: Any) -> str:
    encoded = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SORT_KEYS)
    return hashlib.sha256(encoded).hexdigest()[:16]


def _ledger(ledger: MemoryLedger) -> dict[str, str]:
    """The ledger's records; those kept in dictionaries whose order follows hashing are sorted first."""
    lineages = [
        [lin.id, repr(lin.layout), sorted(lin.inherited.items()), *map(list, (lin.starts, lin.slots,
         lin.prevs, lin.pieces, lin.logical)), lin.forked, lin.rate]
        for lin in ledger.lineages.values()
    ]  # fmt: skip
    return {
        "lineages": _digest(lineages),
        "holders": _digest([repr(h) for h in ledger.holders.values()]),
        "held": _digest(sorted([*k, list(v.versions), list(v.counts)] for k, v in ledger.helds.items())),
        "segments": _digest(sorted([*k, v.holders, list(v.masks)] for k, v in ledger.segments.items())),
        "shared": _digest(sorted((p, sorted(e.items())) for p, e in ledger.shares.items())),
        "totals": _digest(sorted([p, repr(t)] for p, t in ledger.places.items())),
        "workloads": _digest(sorted(ledger.workloads.items())),
    }


def _digests(federation: Federation) -> dict[str, str]:
    return {name: _digest(rows) for name, rows in federation.rows.items()} | _ledger(federation.content)


GOLDEN = {
    "demo": {
        "omnistack_clusters": "c0989f7de65d1762",
        "hosts": "540437c22b878749",
        "policies": "ad6cb160fcbc99c3",
        "datastores": "de75013fb3335194",
        "virtual_machines": "ed05c12845ef3708",
        "backups": "fb4c5f561a35892e",
        "cluster_groups": "848d8b1034af9d09",
        "external_stores": "7878eb64d41b87f1",
        "persistent_volumes": "aa21d50a73f676a7",
        "host_hardware": "c96bbee9873cb902",
        "standard_hosts": "8d1d8c6524a2d413",
        "lineages": "1b57e632c52aa2b5",
        "holders": "e1c67a9057080ed0",
        "held": "6d45d5d0024ab19b",
        "segments": "38cc5b002b978576",
        "shared": "4f53cda18c2baa0c",
        "totals": "65f903874c01a451",
        "workloads": "a0457385ed1f62fe",
    },
    "medium": {
        "omnistack_clusters": "203a55417413a0e7",
        "hosts": "4f248064c46eb990",
        "policies": "e3be6d2815436b2d",
        "datastores": "234e4a777433fe57",
        "virtual_machines": "db4cb114f038ec66",
        "backups": "b4ba778795bbc1e6",
        "cluster_groups": "f4d1468714d3c925",
        "external_stores": "23a52d8e85c90ef6",
        "persistent_volumes": "8fe297cc5e3b0b5a",
        "host_hardware": "b527c40b02a1e804",
        "standard_hosts": "f6cd5e4fddcf3fe0",
        "lineages": "b7946008a24e0076",
        "holders": "9689dc9afe34d08f",
        "held": "696447e26e4d9a80",
        "segments": "274ce9273a44e7e8",
        "shared": "4f53cda18c2baa0c",
        "totals": "9ec3c250b78dc1f7",
        "workloads": "4b80b23916433f7f",
    },
}


@pytest.mark.parametrize("name", ["demo", "medium"])
def test_the_same_seed_gives_the_rows_it_always_gave(name: str) -> None:
    spec = FederationSpec.demo() if name == "demo" else MEDIUM
    assert _digests(generate(spec, NOW)) == GOLDEN[name]
