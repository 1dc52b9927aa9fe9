"""Each host's own Virtual Controller: a listening socket on its management address while it runs.

`serve --controller-per-host` runs `ControllerServer`, uvicorn's server that also follows the stored
federation (services/controllers.py) every half second: a host whose controller runs gets a listener on
its management address, served by the same application as the main address; one whose controller is
off loses it, and the connections it had, as a powered-off VM would (new connections are refused).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, Protocol

import uvicorn

from openovc.api.deps import Runtime
from openovc.domain.timefmt import epoch_ms
from openovc.services.controllers import Addresses, running_controllers
from openovc.settings import Settings

WATCH_INTERVAL_S = 0.5
_log = logging.getLogger("uvicorn.error")


class _Connection(Protocol):
    """What uvicorn's HTTP protocols keep of a connection: its local address and its transport."""

    server: tuple[str, int | None] | None
    transport: asyncio.Transport


def controller_socket(address: str, port: int, *, reuse_port: bool) -> socket.socket:
    """A socket bound to a controller's address (not listening yet); OSError if the address is refused.

    `reuse_port`: each server process binds its own, and the kernel spreads connections among them.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((address, port))
    except OSError:
        sock.close()
        raise
    return sock


class ControllerListeners:
    """Opens and closes one listener per running controller, as `running` (read in a thread) says."""

    def __init__(
        self,
        running: Callable[[], Addresses],
        port: int,
        *,
        reuse_port: bool,
        connections: Callable[[], Iterable[_Connection]],
    ) -> None:
        self._running = running
        self._port = port
        self._reuse_port = reuse_port
        self._connections = connections
        self.servers: dict[str, asyncio.Server] = {}
        self._refused: dict[str, str] = {}  # address -> why, said once until it changes

    async def watch(
        self, create_protocol: Callable[[], asyncio.Protocol], context: ssl.SSLContext | None
    ) -> None:
        """Follow the federation until cancelled."""
        while True:
            try:
                wanted = await asyncio.to_thread(self._running)
            except Exception:  # the store is unreachable for a moment: keep the listeners as they are
                _log.exception("Reading which Virtual Controllers run failed")
            else:
                await self.follow(wanted, create_protocol, context)
            await asyncio.sleep(WATCH_INTERVAL_S)

    async def follow(
        self,
        wanted: Addresses,
        create_protocol: Callable[[], asyncio.Protocol],
        context: ssl.SSLContext | None,
    ) -> None:
        """Close the listeners of controllers that are off, and open those of controllers that run."""
        for address in [a for a in self.servers if a not in wanted]:
            self._close(address)
        loop = asyncio.get_running_loop()
        for address, host_id in wanted.items():
            if address in self.servers:
                continue
            try:
                sock = controller_socket(address, self._port, reuse_port=self._reuse_port)
                server = await loop.create_server(create_protocol, sock=sock, ssl=context, backlog=2048)
            except OSError as exc:
                why = exc.strerror or str(exc)
                if self._refused.get(address) != why:
                    _log.warning("Cannot listen on %s:%d for host %s: %s", address, self._port, host_id, why)
                    self._refused[address] = why
                continue
            self._refused.pop(address, None)
            self.servers[address] = server

    def _close(self, address: str) -> None:
        self.servers.pop(address).close()
        # Its connections go with it: a controller that is off answers nothing more.
        for connection in list(self._connections()):
            if connection.server is not None and connection.server[0] == address:
                connection.transport.abort()

    def detach(self) -> list[asyncio.Server]:
        """The open listeners, handed over to be closed with the main one."""
        servers = list(self.servers.values())
        self.servers.clear()
        return servers


def _running(rt: Runtime) -> Addresses:
    return running_controllers(rt.reader, rt.operations, epoch_ms(rt.clock.now()))


def _runtime_of(app: Any) -> Runtime:
    """The runtime of the application uvicorn loaded (which may wrap it in its own middleware, as `.app`)."""
    while app is not None:
        found = getattr(getattr(app, "state", None), "runtime", None)
        if isinstance(found, Runtime):
            return found
        app = getattr(app, "app", None)
    raise RuntimeError("the application has no runtime")


class ControllerServer(uvicorn.Server):
    """uvicorn's server that also serves each running host's controller on its management address."""

    def __init__(self, config: uvicorn.Config, port: int, *, reuse_port: bool) -> None:
        super().__init__(config)
        self._port = port
        self._reuse_port = reuse_port
        self._listeners: ControllerListeners | None = None
        self._watch: asyncio.Task[None] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.started:
            return
        config = self.config

        def create_protocol() -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self.server_state, app_state=self.lifespan.state
            )

        self._listeners = ControllerListeners(
            partial(_running, _runtime_of(config.loaded_app)),
            self._port,
            reuse_port=self._reuse_port,
            connections=lambda: self.server_state.connections,  # type: ignore[arg-type,return-value]
        )
        self._watch = asyncio.create_task(self._listeners.watch(create_protocol, config.ssl))

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        if self._listeners is not None:
            # Closed, and their connections finished, as uvicorn does for the main listener.
            self.servers.extend(self._listeners.detach())
        await super().shutdown(sockets)


def server_for(config: uvicorn.Config, settings: Settings) -> uvicorn.Server:
    """The server one process runs: with each host's controller when the settings ask for them."""
    if not settings.controller_per_host:
        return uvicorn.Server(config)
    return ControllerServer(config, settings.controller_port, reuse_port=settings.workers > 1)
