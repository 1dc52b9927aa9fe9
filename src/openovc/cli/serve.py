"""`openovc serve`: run the REST API server, in one process or several sharing the port and the store."""

from __future__ import annotations

import argparse
import errno
import signal
import socket
import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from openovc import __version__, collector
from openovc.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    database_label,
    settings_from,
    store_options,
)
from openovc.cli.login_options import add_login_options, login_settings
from openovc.settings import Settings

if TYPE_CHECKING:
    from openovc.app import AppRuntime

_LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
_BACKLOG = 2048  # uvicorn's own, which it sets again as it starts


class _Stop(Exception):
    """SIGTERM arrived: unwind and exit normally."""


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `serve` command and its options."""
    serve = commands.add_parser("serve", help="run the REST API server")
    store_options(serve)
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8443)")
    serve.add_argument(
        "--no-tls", action="store_true", help="serve plain HTTP (the official SDK cannot connect)"
    )
    serve.add_argument(
        "--cert", type=Path, help="PEM certificate (chain) to serve instead of the self-signed one"
    )
    serve.add_argument("--key", type=Path, help="PEM private key for --cert")
    serve.add_argument("--seed", type=int, help="seed of the demo federation generated into an empty store")
    serve.add_argument("--no-demo", action="store_true", help="leave an empty store empty")
    serve.add_argument("--log-level", choices=_LOG_LEVELS, help="server log level (default warning)")
    serve.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        help="a line per request: time, client, method, path, status, milliseconds, user, request id "
        "(default off)",
    )
    serve.add_argument(
        "--log-format", choices=("text", "json"), help="text, or json: one JSON object a line (default text)"
    )
    serve.add_argument(
        "--metrics-public",
        action="store_true",
        default=None,
        help="serve /_openovc/metrics without a token, for Prometheus (default: any valid token)",
    )
    serve.add_argument(
        "--clock",
        help="the simulated clock: real, manual, manual:2027-01-04T00:30:00Z or accelerated:60 "
        "(default: as it was left; real for a new store)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        help="server processes sharing the port and the store (default 1; one per core uses them all)",
    )
    serve.add_argument(
        "--controller-per-host",
        action="store_true",
        default=None,
        help="also serve each host's own Virtual Controller on its management address while it runs "
        "(hosts need loopback addresses: `init --loopback-addresses`; a new store's demo gets them)",
    )
    serve.add_argument(
        "--controller-port", type=int, metavar="N", help="port of each host's controller (default 443)"
    )
    serve.add_argument(
        "--faults", type=Path, help="a JSON file of fault rules replacing the stored ones (/_openovc/faults)"
    )
    serve.add_argument("--fault-seed", type=int, help="seed of the fault rules that name none")
    serve.add_argument(
        "--max-concurrent-requests",
        type=int,
        help="answer 502 beyond this many requests at once per process, as the real proxy (default: no limit)",
    )
    serve.add_argument(
        "--request-timeout",
        type=float,
        help="answer 504 for a request not answered within SECONDS, as the real proxy at 60 (default: none)",
    )
    add_login_options(serve)
    serve.set_defaults(handler=_serve)


def _bind(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """The listening socket, bound here so that a refused port gets a message saying why.

    `reuse_port`: one of several sockets on the port, among which the kernel spreads new connections.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise CommandError(f"cannot listen on {host}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        where = f"{host}:{port}"
        if exc.errno == errno.EACCES and port < 1024:
            raise CommandError(
                f"cannot listen on {where}: permission denied; ports below 1024 need root or the "
                "CAP_NET_BIND_SERVICE capability (or use --port 8443)"
            ) from None
        if exc.errno == errno.EADDRINUSE:
            raise CommandError(f"cannot listen on {where}: address already in use") from None
        raise CommandError(f"cannot listen on {where}: {exc.strerror}") from None
    return sock


def _url(scheme: str, sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}/api"


def _raise_stop(_signum: int, _frame: FrameType | None) -> None:
    raise _Stop


def _serve(args: argparse.Namespace) -> int:
    # A thread that holds the store's write lock gets the GIL back sooner among many request threads.
    sys.setswitchinterval(0.0005)
    with ExitStack() as starting:
        # Until the server is about to run: the imports, the store and the app (see collector.py).
        starting.enter_context(collector.paused())
        return _start_and_run(args, starting)


def _started(starting: ExitStack) -> None:
    """The start is over: what it made is kept out of the collector's passes, which run again."""
    collector.keep_started()
    starting.close()


def _start_and_run(args: argparse.Namespace, starting: ExitStack) -> int:
    # Imported here, inside the collector's pause, and not for `openovc --help` or other commands.
    import uvicorn

    from openovc.api.controller_listeners import server_for
    from openovc.api.faults import DroppingProtocol
    from openovc.app import create_app
    from openovc.bootstrap import prepare
    from openovc.cli.log_lines import announcer, uvicorn_log_config
    from openovc.tls import TlsConfigError, resolve_certificate, server_context, server_ssl_kwargs

    settings = settings_from(
        args,
        host=args.host,
        port=args.port,
        tls=False if args.no_tls else None,
        cert=args.cert,
        key=args.key,
        seed=args.seed,
        generate_demo=False if args.no_demo else None,
        log_level=args.log_level,
        access_log=args.access_log,
        log_format=args.log_format,
        metrics_public=args.metrics_public,
        workers=args.workers,
        controller_per_host=args.controller_per_host,
        controller_port=args.controller_port,
        clock=args.clock,
        fault_seed=args.fault_seed,
        max_concurrent_requests=args.max_concurrent_requests,
        request_timeout=args.request_timeout,
        **login_settings(args),
    )
    ssl_kwargs: dict[str, Any] = {}
    if settings.tls:
        try:
            cert, key = resolve_certificate(settings.data_dir, settings.cert, settings.key)
            server_context(cert, key)  # fail here, with a message, rather than inside uvicorn
        except TlsConfigError as exc:
            raise CommandError(str(exc), EXIT_USAGE) from None
        ssl_kwargs = server_ssl_kwargs(cert, key)
    elif settings.cert or settings.key:
        raise CommandError("--cert/--key cannot be combined with --no-tls", EXIT_USAGE)
    if args.controller_port is not None and not settings.controller_per_host:
        raise CommandError("--controller-port needs --controller-per-host", EXIT_USAGE)

    # uvicorn re-raises the signal that stopped it once it has shut down; SIGTERM's default action would
    # then end the process with status -15 instead of a normal exit.
    signal.signal(signal.SIGTERM, _raise_stop)
    sock = _bind(settings.host, settings.port, reuse_port=settings.workers > 1)
    url = _url("https" if settings.tls else "http", sock)
    where = f"data in {settings.data_dir.resolve()}"
    if settings.database_url:
        where += f", database {database_label(settings)}"
    rt = None
    controllers: list[str] = []
    config_kwargs: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "http": DroppingProtocol,  # uvicorn's httptools protocol, refusing bad requests in JSON
        "lifespan": "on",
        "log_level": settings.log_level,
        "access_log": False,  # the application writes its own (api/observe.py)
        # Clients reach the controller directly: no proxy whose forwarded headers it should trust.
        "proxy_headers": False,
        "timeout_graceful_shutdown": 10,
        **ssl_kwargs,
    }

    log_config = uvicorn_log_config(settings.log_format)
    if log_config is not None:
        config_kwargs["log_config"] = log_config
    announce = announcer(settings.log_format)

    def started(runtime: AppRuntime) -> None:
        # Said once the sockets listen (connections wait in their backlog) and before any process
        # serves: no request's line can come first.
        clock = runtime.time.show()
        announce(f"OpenOVC {__version__} listening on {url} ({where})")
        announce(f"Store {database_label(settings)}; clock {clock['mode']}, now {clock['now']}")
        if controllers:
            many = len(controllers) > 8  # the largest federation has 96 hosts
            shown = (
                f"{controllers[0]} to {controllers[-1]} ({len(controllers)} hosts)"
                if many
                else ", ".join(controllers)
            )
            announce(f"Each host's Virtual Controller on port {settings.controller_port} of: {shown}")

    try:
        rules = _read_rules(args.faults) if args.faults else None
        rt = prepare(settings, announce=announce)
        _start_faults(rt, rules, args.faults)
        controllers = _check_controllers(rt, settings) if settings.controller_per_host else []
        if settings.workers > 1:
            _started(starting)  # the processes serve; this one supervises
            return _serve_processes(rt, settings, sock, config_kwargs, started)
        app = create_app(rt)
        sock.listen(_BACKLOG)
        started(rt)
        _started(starting)
        server_for(uvicorn.Config(app, **config_kwargs), settings).run(sockets=[sock])
    except _Stop:
        pass
    finally:
        sock.close()
        if rt is not None:
            rt.storage.dispose()
    return EXIT_OK


def _read_rules(path: Path) -> list[object]:
    # Imported for --faults alone: the fault commands' module brings the control client.
    from openovc.cli.faults import read_rules

    return read_rules(path)


def _check_controllers(rt: AppRuntime, settings: Settings) -> list[str]:
    """Each host's management address, checked to take a listener now (a one-line error if one cannot)."""
    from openovc.api.controller_listeners import controller_socket
    from openovc.services.controllers import all_addresses

    addresses = all_addresses(rt.reader)
    port = settings.controller_port
    for address, host_id in sorted(addresses.items(), key=lambda pair: socket.inet_aton(pair[0])):
        try:
            controller_socket(address, port, reuse_port=False).close()
        except OSError as exc:
            why = exc.strerror or str(exc)
            if exc.errno == errno.EACCES and port < 1024:
                why += "; ports below 1024 need root or the CAP_NET_BIND_SERVICE capability"
            elif exc.errno == errno.EADDRNOTAVAIL:
                why += "; hosts need loopback management addresses: `openovc init --loopback-addresses`"
            raise CommandError(
                f"cannot listen on {address}:{port}, the management address of host {host_id}: {why}"
            ) from None
    return sorted(addresses, key=socket.inet_aton)


def _start_faults(rt: AppRuntime, rules: list[object] | None, path: Path | None) -> None:
    """A new run paces tasks as its settings say, and a rules file replaces the stored rules."""
    from openovc.domain.errors import InvalidBody

    if rt.pacing.show()["set_at_run_time"]:
        rt.pacing.reset()
    if rules is None:
        return
    try:
        rt.faults.replace(rules)
    except InvalidBody as problem:
        where = problem.message.removeprefix("Invalid body: ")
        raise CommandError(f"--faults {path}: {where}", EXIT_USAGE) from None


def _serve_processes(
    rt: AppRuntime,
    settings: Settings,
    sock: socket.socket,
    config_kwargs: dict[str, Any],
    started: Callable[[AppRuntime], None],
) -> int:
    from openovc.processes import supervise

    if rt.storage.private:
        # No other server can share this store: the tasks the previous run left fail before any process
        # starts (the processes then only fail the tasks of one of them that dies).
        rt.tasks.recover(alone=True)
    # A socket each: one shared socket would let the first process to wake accept a whole burst of
    # connections, and a client's keep-alive connections would then all load one process.
    port = sock.getsockname()[1]
    socks = [sock] + [_bind(settings.host, port, reuse_port=True) for _ in range(settings.workers - 1)]
    for each in socks:
        each.listen(_BACKLOG)
    started(rt)
    rt.storage.dispose()
    try:
        if not supervise(settings, socks, config_kwargs):
            raise CommandError("the server processes failed to start (see the log above)")
    finally:
        for extra in socks[1:]:
            extra.close()
    return EXIT_OK
