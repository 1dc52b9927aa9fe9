"""Several server processes on one listening socket and one store: uvicorn's supervisor and each process's app."""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import shutil
import signal
import socket
import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from prometheus_client.multiprocess import mark_process_dead
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess
from uvicorn.supervisors.multiprocess import Process

from openovc.api.server_metrics import MULTIPROC_ENV
from openovc.settings import Settings

# The parent hands its resolved settings (flags included) to the processes it spawns.
SETTINGS_ENV = "OPENOVC_SERVE_SETTINGS"
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """A process whose supervisor was killed (kill -9) stops too, instead of serving on unsupervised."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        # The supervisor may have died while this process was starting, before it asked for the signal.
        parent = multiprocessing.parent_process()
        if parent is not None and os.getppid() != parent.pid:
            os.kill(os.getpid(), signal.SIGTERM)


def worker_app() -> FastAPI:
    """The application one server process runs (uvicorn calls this factory in each process)."""
    from openovc import collector

    _die_with_parent()
    sys.setswitchinterval(0.0005)  # as `serve` does in a single process
    with collector.paused():  # as `serve` starts (collector.py)
        from openovc.app import create_app
        from openovc.bootstrap import open_runtime

        settings = Settings.model_validate_json(os.environ[SETTINGS_ENV])
        app = create_app(open_runtime(settings))
        collector.keep_started()
    return app


class _Process(Process):
    """uvicorn's process, running the server the settings ask for (with each host's controller, or not)."""

    @property
    def server(self) -> uvicorn.Server:
        if self._server is None:
            from openovc.api.controller_listeners import server_for

            settings = Settings.model_validate_json(os.environ[SETTINGS_ENV])
            self._server = server_for(self.config, settings)
        return self._server

    def target(self, sockets: list[socket.socket] | None = None) -> None:
        # Built before uvicorn starts the health-check thread, which reads `server` too: built by both
        # threads, the one answering "started?" would be a second server that never starts.
        self.server  # noqa: B018
        super().target(sockets)


class Supervisor(Multiprocess):
    """uvicorn's supervisor with a listening socket per process, which stops when one cannot start.

    A process that dies is replaced on its own socket (the parent keeps it open, so the connections
    waiting on it are not lost).
    """

    def __init__(self, config: uvicorn.Config, socks: list[socket.socket]) -> None:
        super().__init__(config, sockets=socks)
        self.failed = False

    def init_processes(self) -> None:
        for sock in self.sockets:
            process: Process = _Process(self.config, [sock])
            process.start()
            self.processes.append(process)
        # Each ready or gone before the supervising starts (which replaces the gone, or stops if one could
        # not start); `serve` announced the sockets already, since they take connections meanwhile.
        for process in self.processes:
            process.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit)

    def keep_subprocess_alive(self) -> None:
        for idx, process in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()  # hung, or already gone
            process.join()
            if process.pid is not None:  # its live figures (the pool's) no longer count
                mark_process_dead(process.pid)  # type: ignore[no-untyped-call]
            if process.exitcode == STARTUP_FAILURE:
                # It could not start (the store, the application): a replacement would fail alike.
                self.failed = True
                self.should_exit.set()
                return
            replacement = _Process(self.config, [self.sockets[idx]])
            replacement.start()
            self.processes[idx] = replacement


def metrics_dir(settings: Settings) -> Path:
    """Where the processes write their metrics for the one that answers a scrape: emptied at each start,
    since what a previous run's processes counted is not this run's."""
    path = (settings.data_dir / "metrics").resolve()
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def supervise(settings: Settings, socks: list[socket.socket], config_kwargs: dict[str, object]) -> bool:
    """Run a process on each socket until SIGINT or SIGTERM; False if one failed to start."""
    os.environ[SETTINGS_ENV] = settings.model_dump_json()
    # Read by prometheus-client as each process starts (api/server_metrics.py).
    os.environ[MULTIPROC_ENV] = str(metrics_dir(settings))
    config = uvicorn.Config(
        "openovc.processes:worker_app",
        factory=True,
        workers=len(socks),
        timeout_worker_healthcheck=60,
        **config_kwargs,  # type: ignore[arg-type]
    )
    supervisor = Supervisor(config, socks)
    supervisor.run()
    return not supervisor.failed
