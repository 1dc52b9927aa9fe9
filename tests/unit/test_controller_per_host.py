"""A Virtual Controller per host: loopback management addresses, which controllers run, and their listeners."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest

from openovc.api.controller_listeners import ControllerListeners
from openovc.domain.catalog import HOSTS
from openovc.domain.ports.operations import HostFault
from openovc.domain.ports.simulator import Simulator
from openovc.domain.timefmt import epoch_ms
from openovc.services import hosts
from openovc.services.controllers import all_addresses, running_controllers
from openovc.simulator.federation import FederationSpec
from openovc.simulator.generator.clusters import loopback_address
from openovc.simulator.generator.generator import generate
from openovc.simulator.generator.inventory_file import load_inventory
from tests.support.fakes import START, MemoryFederation
from tests.support.server import free_port

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
START_MS = epoch_ms(START)


@pytest.mark.parametrize(
    ("ordinal", "address"),
    [(0, "127.0.1.1"), (1, "127.0.1.2"), (253, "127.0.1.254"), (254, "127.0.2.1"), (16_000, "127.0.63.253")],
)
def test_loopback_addresses_skip_each_networks_first_and_last(ordinal: int, address: str) -> None:
    assert loopback_address(ordinal) == address


def test_loopback_addresses_are_unique_until_the_range_ends() -> None:
    last = (256 * 256 - 1) * 254 - 1  # 127.0.1.1 up to 127.255.255.254: 65,535 networks of 254
    addresses = [loopback_address(n) for n in range(0, last + 1, 97)] + [loopback_address(last)]
    assert len(set(addresses)) == len(addresses)
    assert loopback_address(last) == "127.255.255.254"
    with pytest.raises(ValueError, match=r"^no loopback address is left for host number 16645891$"):
        loopback_address(last + 1)


def test_the_generator_gives_each_host_its_own_loopback_address_and_changes_nothing_else() -> None:
    spec = FederationSpec(clusters=3, hosts_per_cluster=5, vms=20, backups=40, seed=3)
    usual = generate(spec, NOW)
    looped = generate(spec, NOW, loopback_addresses=True)
    expected = [f"127.0.1.{n}" for n in range(1, 16)]
    assert [h["management_ip"] for h in looped.rows["hosts"]] == expected
    for before, after in zip(usual.rows["hosts"], looped.rows["hosts"], strict=True):
        assert after["virtual_controller_name"] == "OmniStackVC-" + after["management_ip"].replace(".", "-")
        assert before["management_ip"].startswith("10.")
        changed = {k for k in before if before[k] != after[k]}
        assert changed == {"management_ip", "virtual_controller_name"}
    for table, rows in usual.rows.items():
        if table != "hosts":
            assert looped.rows[table] == rows, table


_INVENTORY = "seed: 2\nclusters:\n  - name: Boston\n    hosts: 2\n  - name: Sydney\n    hosts: 1\n"


def test_an_inventory_asks_for_loopback_addresses(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(_INVENTORY + "loopback_addresses: true\n", encoding="utf-8")
    hosts_of = load_inventory(path, NOW).rows["hosts"]
    assert [h["management_ip"] for h in hosts_of] == ["127.0.1.1", "127.0.1.2", "127.0.1.3"]


def test_init_s_flag_gives_an_inventory_loopback_addresses(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(_INVENTORY, encoding="utf-8")
    assert [h["management_ip"] for h in load_inventory(path, NOW).rows["hosts"]] == [
        "10.1.10.11",
        "10.1.10.12",
        "10.2.10.11",
    ]
    looped = load_inventory(path, NOW, loopback_addresses=True).rows["hosts"]
    assert [h["management_ip"] for h in looped] == ["127.0.1.1", "127.0.1.2", "127.0.1.3"]


def test_an_inventory_s_loopback_addresses_must_be_a_boolean(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(_INVENTORY + "loopback_addresses: sometimes\n", encoding="utf-8")
    with pytest.raises(ValueError) as caught:
        load_inventory(path, NOW)
    assert str(caught.value) == f"{path}: inventory.loopback_addresses: expected true or false, got a string"


# ---- which controllers run -----------------------------------------------------------------------------


def _federation() -> tuple[MemoryFederation, dict[str, str]]:
    fed = MemoryFederation.from_federation(generate(FederationSpec.demo(), START, loopback_addresses=True))
    return fed, {str(h["management_ip"]): h["id"] for h in fed.find(HOSTS)}


def test_every_host_s_controller_runs_at_first() -> None:
    fed, addresses = _federation()
    assert sorted(addresses) == [f"127.0.1.{n}" for n in range(1, 7)]
    assert running_controllers(fed, fed, START_MS) == addresses
    assert all_addresses(fed) == addresses


def test_a_controller_stops_answering_once_its_shutdown_is_done_and_again_when_cancelled_before() -> None:
    fed, addresses = _federation()
    first, second = sorted(addresses)[0], sorted(addresses)[-1]  # one in each cluster
    assert hosts.shutdown(fed, fed, _simulator(fed), addresses[first], False, START_MS) == "SUCCESS"
    # Still stopping (FORCE_IN_PROGRESS for 90 simulated seconds): it still runs, and answers.
    assert running_controllers(fed, fed, START_MS + 89_999) == addresses
    off = {a: h for a, h in addresses.items() if a != first}
    assert running_controllers(fed, fed, START_MS + 90_000) == off

    assert hosts.shutdown(fed, fed, _simulator(fed), addresses[second], True, START_MS) == "SUCCESS"
    assert hosts.cancel_shutdown(fed, fed, _simulator(fed), addresses[second], START_MS + 60_000) == "SUCCESS"
    assert running_controllers(fed, fed, START_MS + 600_000) == off


def test_a_failed_host_s_controller_is_off() -> None:
    fed, addresses = _federation()
    address = sorted(addresses)[-1]
    with fed.changing() as (txn, state):
        state.put_host_fault(HostFault(addresses[address], START_MS))
        txn.update(HOSTS, addresses[address], {"state": "FAULTY"})
    assert running_controllers(fed, fed, START_MS) == {a: h for a, h in addresses.items() if a != address}
    with fed.changing() as (txn, state):
        state.drop_host_fault(addresses[address])
        txn.update(HOSTS, addresses[address], {"state": "ALIVE"})
    assert running_controllers(fed, fed, START_MS) == addresses


def _simulator(fed: MemoryFederation) -> Simulator:
    from openovc.simulator.simulated import SimulatedFederation
    from tests.support.fakes import content_of

    return SimulatedFederation(content_of, fed, fed)


# ---- listeners -------------------------------------------------------------------------------------------


class _Hello(asyncio.Protocol):
    """Says which address it answers on, then hangs up."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(transport.get_extra_info("sockname")[0].encode())
        transport.close()


def _ask(address: str, port: int) -> str:
    """What the listener on the address says; 'refused' when none listens."""
    try:
        with socket.create_connection((address, port), timeout=5) as sock:
            return sock.recv(64).decode()
    except ConnectionRefusedError:
        return "refused"


class _Held:
    """An established connection the listeners know of, as uvicorn's protocols are."""

    def __init__(self, address: str, transport: asyncio.Transport) -> None:
        self.server: tuple[str, int | None] | None = (address, None)
        self.transport = transport
        self.aborted = False


def test_listeners_open_for_running_controllers_and_close_with_their_connections() -> None:
    port = free_port()
    held: list[_Held] = []

    async def scenario() -> list[list[str]]:
        loop = asyncio.get_running_loop()
        listeners = ControllerListeners(
            lambda: {},
            port,
            reuse_port=False,
            connections=lambda: held,
        )
        seen: list[list[str]] = []

        async def ask_all() -> None:
            answers = [await asyncio.to_thread(_ask, f"127.0.1.{n}", port) for n in (1, 2, 3)]
            seen.append(answers)

        await listeners.follow({"127.0.1.1": "h1", "127.0.1.2": "h2"}, _Hello, None)
        await ask_all()
        transport, _ = await loop.create_connection(asyncio.Protocol, "127.0.1.2", port)
        assert isinstance(transport, asyncio.Transport)
        held.append(_Held("127.0.1.2", transport))
        held.append(_Held("127.0.1.1", transport))  # another address's: left alone
        await listeners.follow({"127.0.1.1": "h1"}, _Hello, None)
        await asyncio.sleep(0)
        assert transport.is_closing()
        await ask_all()
        await listeners.follow({"127.0.1.1": "h1", "127.0.1.2": "h2", "127.0.1.3": "h3"}, _Hello, None)
        await ask_all()
        for server in listeners.detach():
            server.close()
            await server.wait_closed()
        assert listeners.servers == {}
        return seen

    assert asyncio.run(scenario()) == [
        ["127.0.1.1", "127.0.1.2", "refused"],
        ["127.0.1.1", "refused", "refused"],
        ["127.0.1.1", "127.0.1.2", "127.0.1.3"],
    ]


def test_an_address_that_cannot_be_bound_is_said_once_and_tried_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()
    blocker = socket.socket()
    blocker.bind(("127.0.1.5", port))
    blocker.listen()

    async def scenario() -> list[str]:
        listeners = ControllerListeners(lambda: {}, port, reuse_port=False, connections=list)
        await listeners.follow({"127.0.1.5": "h5"}, _Hello, None)
        await listeners.follow({"127.0.1.5": "h5"}, _Hello, None)
        opened = list(listeners.servers)
        blocker.close()
        await listeners.follow({"127.0.1.5": "h5"}, _Hello, None)
        opened += list(listeners.servers)
        for server in listeners.detach():
            server.close()
            await server.wait_closed()
        return opened

    try:
        assert asyncio.run(scenario()) == ["127.0.1.5"]
    finally:
        blocker.close()
    warnings = [r.getMessage() for r in caplog.records if r.name == "uvicorn.error"]
    assert warnings == [f"Cannot listen on 127.0.1.5:{port} for host h5: Address already in use"]
