"""Several server processes on one listening socket and one store: uvicorn's supervisor and each process's app."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import sys
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess
from uvicorn.supervisors.multiprocess import Process

from openovc.settings import Settings

# The parent hands its resolved settings (flags included) to the processes it spawns.
SETTINGS_ENV = "OPENOVC_SERVE_SETTINGS"
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """A process whose supervisor was killed (kill -9) stops too, instead of serving on unsupervised."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def worker_app() -> FastAPI:
    """The application one server process runs (uvicorn calls this factory in each process)."""
    from openovc.app import create_app
    from openovc.bootstrap import open_runtime

    _die_with_parent()
    sys.setswitchinterval(0.0005)  # as `serve` does in a single process
    settings = Settings.model_validate_json(os.environ[SETTINGS_ENV])
    return create_app(open_runtime(settings))


class Supervisor(Multiprocess):
    """uvicorn's supervisor with a listening socket per process, which says when all accept connections.

    A process that dies is replaced on its own socket (the parent keeps it open, so the connections
    waiting on it are not lost).
    """

    def __init__(
        self, config: uvicorn.Config, socks: list[socket.socket], on_started: Callable[[], None]
    ) -> None:
        super().__init__(config, sockets=socks)
        self._on_started = on_started
        self.started = False

    def init_processes(self) -> None:
        for sock in self.sockets:
            process = Process(self.config, [sock])
            process.start()
            self.processes.append(process)
        timeout = self.config.timeout_worker_healthcheck
        if all(p.wait_until_ready(timeout, self.should_exit) for p in self.processes):
            self.started = True
            self._on_started()

    def keep_subprocess_alive(self) -> None:
        for idx, process in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()  # hung, or already gone
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                # It could not start (the store, the application): a replacement would fail alike.
                self.should_exit.set()
                return
            replacement = Process(self.config, [self.sockets[idx]])
            replacement.start()
            self.processes[idx] = replacement


def supervise(
    settings: Settings,
    socks: list[socket.socket],
    config_kwargs: dict[str, object],
    on_started: Callable[[], None],
) -> bool:
    """Run a process on each socket until SIGINT or SIGTERM; False if they failed to start."""
    os.environ[SETTINGS_ENV] = settings.model_dump_json()
    config = uvicorn.Config(
        "openovc.processes:worker_app",
        factory=True,
        workers=len(socks),
        timeout_worker_healthcheck=60,
        **config_kwargs,  # type: ignore[arg-type]
    )
    supervisor = Supervisor(config, socks, on_started)
    supervisor.run()
    return supervisor.started
