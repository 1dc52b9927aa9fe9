"""The `openovc` command: serve the API, initialise the store, manage users."""

from __future__ import annotations

import argparse
import errno
import getpass
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import uvicorn
from pydantic import ValidationError

from openovc import __version__
from openovc.domain.auth import Role
from openovc.settings import Settings
from openovc.simulator.federation import FederationSpec

if TYPE_CHECKING:
    from openovc.api.deps import Runtime
    from openovc.app import AppRuntime

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2

_LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
_SPEC_COUNTS = (
    ("clusters", "clusters"),
    ("hosts_per_cluster", "hosts per cluster"),
    ("datastores", "datastores in total"),
    ("vms", "virtual machines in total"),
    ("policies", "backup policies"),
    ("backups", "backups in total"),
    ("cluster_groups", "cluster groups"),
    ("external_stores", "external stores"),
)


class CommandError(Exception):
    """A failure to report as one line on stderr, with an exit code."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class _Stop(Exception):
    """SIGTERM arrived: unwind and exit normally."""


# ---------------------------------------------------------------------------------------------- parser


def _store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", type=Path, help="directory for the SQLite store, certificate and admin password"
    )
    parser.add_argument(
        "--database-url",
        help="sqlite:///FILE or postgresql://USER:PASS@HOST/DB (default: SQLite in the data dir)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="openovc", description="An emulator of the HPE OmniStack REST API.")
    parser.add_argument("--version", action="version", version=f"openovc {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the REST API server")
    _store_options(serve)
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
    serve.add_argument("--access-log", action="store_true", help="log every request")
    serve.add_argument(
        "--workers",
        type=int,
        help="server processes sharing the port and the store (default 1; one per core uses them all)",
    )
    serve.set_defaults(handler=_serve)

    init = commands.add_parser(
        "init", help="generate a federation (or load an inventory file) into the store"
    )
    _store_options(init)
    init.add_argument("--seed", type=int, help="generator seed (default 1)")
    for name, what in _SPEC_COUNTS:
        init.add_argument(f"--{name.replace('_', '-')}", type=int, metavar="N", help=f"number of {what}")
    init.add_argument("--largest", action="store_true", help="start from the largest supported federation")
    init.add_argument(
        "--inventory", type=Path, metavar="FILE", help="load this YAML or JSON inventory instead"
    )
    init.add_argument("--force", action="store_true", help="replace a federation already in the store")
    init.set_defaults(handler=_init)

    users = commands.add_parser("users", help="manage API users")
    actions = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="list users and their roles")
    _store_options(listing)
    listing.set_defaults(handler=_users_list)
    add = actions.add_parser("add", help="add a user")
    _store_options(add)
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--password", help="the password (prompted for when omitted on a terminal)")
    add.add_argument(
        "--group", action="append", default=[], help="a vCenter group the user belongs to (repeatable)"
    )
    add.set_defaults(handler=_users_add)
    groups = actions.add_parser(
        "groups", help="set the vCenter groups a user belongs to (role assignments use them)"
    )
    _store_options(groups)
    groups.add_argument("name")
    groups.add_argument("group", nargs="*", help="the groups (none: no groups)")
    groups.set_defaults(handler=_users_groups)
    remove = actions.add_parser("remove", help="remove a user and revoke its tokens")
    _store_options(remove)
    remove.add_argument("name")
    remove.set_defaults(handler=_users_remove)
    passwd = actions.add_parser("passwd", help="change a user's password")
    _store_options(passwd)
    passwd.add_argument("name")
    passwd.add_argument("--password", help="the new password (prompted for when omitted on a terminal)")
    passwd.set_defaults(handler=_users_passwd)
    return parser


def _settings(args: argparse.Namespace, **extra: Any) -> Settings:
    """Settings from OPENOVC_* variables, with the flags that were given taking precedence."""
    overrides: dict[str, Any] = {
        "data_dir": args.data_dir,
        "database_url": args.database_url,
        **extra,
    }
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise CommandError(f"invalid setting: {problems}", EXIT_USAGE) from None


def _database_label(settings: Settings) -> str:
    from openovc.storage.store import database_label

    return database_label(settings.effective_database_url)


def _say(line: str) -> None:
    print(line, flush=True)


# ---------------------------------------------------------------------------------------------- serve


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


class _Server(uvicorn.Server):
    """uvicorn's server, announcing the address only once it accepts connections."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._on_started()


def _serve(args: argparse.Namespace) -> int:
    # A thread that holds the store's write lock gets the GIL back sooner among many request threads.
    sys.setswitchinterval(0.0005)
    from openovc.app import create_app
    from openovc.bootstrap import prepare
    from openovc.tls import TlsConfigError, resolve_certificate, server_context, server_ssl_kwargs

    settings = _settings(
        args,
        host=args.host,
        port=args.port,
        tls=False if args.no_tls else None,
        cert=args.cert,
        key=args.key,
        seed=args.seed,
        generate_demo=False if args.no_demo else None,
        log_level=args.log_level,
        workers=args.workers,
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

    # uvicorn re-raises the signal that stopped it once it has shut down; SIGTERM's default action would
    # then end the process with status -15 instead of a normal exit.
    signal.signal(signal.SIGTERM, _raise_stop)
    sock = _bind(settings.host, settings.port, reuse_port=settings.workers > 1)
    url = _url("https" if settings.tls else "http", sock)
    where = f"data in {settings.data_dir.resolve()}"
    if settings.database_url:
        where += f", database {_database_label(settings)}"
    rt = None
    config_kwargs: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "http": "httptools",
        "lifespan": "on",
        "log_level": settings.log_level,
        "access_log": args.access_log,
        # Clients reach the controller directly: no proxy whose forwarded headers it should trust.
        "proxy_headers": False,
        "timeout_graceful_shutdown": 10,
        **ssl_kwargs,
    }

    def announce() -> None:
        _say(f"OpenOVC {__version__} listening on {url} ({where})")

    try:
        rt = prepare(settings, announce=_say)
        if settings.workers > 1:
            return _serve_processes(rt, settings, sock, config_kwargs, announce)
        server = _Server(uvicorn.Config(create_app(rt), **config_kwargs), announce)
        server.run(sockets=[sock])
    except _Stop:
        pass
    finally:
        sock.close()
        if rt is not None:
            rt.storage.dispose()
    return EXIT_OK


def _serve_processes(
    rt: AppRuntime,
    settings: Settings,
    sock: socket.socket,
    config_kwargs: dict[str, Any],
    announce: Callable[[], None],
) -> int:
    from openovc.processes import supervise

    if rt.storage.private:
        # No other server can share this store: the tasks the previous run left fail before any process
        # starts (the processes then only fail the tasks of one of them that dies).
        rt.tasks.recover(alone=True)
    rt.storage.dispose()
    # A socket each: one shared socket would let the first process to wake accept a whole burst of
    # connections, and a client's keep-alive connections would then all load one process.
    port = sock.getsockname()[1]
    socks = [sock] + [_bind(settings.host, port, reuse_port=True) for _ in range(settings.workers - 1)]
    try:
        if not supervise(settings, socks, config_kwargs, announce):
            raise CommandError("the server processes failed to start (see the log above)")
    finally:
        for extra in socks[1:]:
            extra.close()
    return EXIT_OK


# ---------------------------------------------------------------------------------------------- init


def _spec(args: argparse.Namespace) -> FederationSpec:
    base = FederationSpec.largest() if args.largest else FederationSpec.demo()
    changes: dict[str, int] = {name: getattr(args, name) for name, _ in _SPEC_COUNTS}
    changes = {k: v for k, v in changes.items() if v is not None}
    if args.seed is not None:
        changes["seed"] = args.seed
    try:
        return replace(base, **changes)
    except ValueError as exc:
        raise CommandError(f"invalid federation size: {exc}", EXIT_USAGE) from None


def _init(args: argparse.Namespace) -> int:
    from openovc.bootstrap import install_federation, open_runtime

    if args.inventory is not None:
        given = [name for name, _ in _SPEC_COUNTS if getattr(args, name) is not None]
        if given or args.largest or args.seed is not None:
            raise CommandError("--inventory cannot be combined with --seed, --largest or counts", EXIT_USAGE)
        if not args.inventory.is_file():
            raise CommandError(f"inventory file not found: {args.inventory}", EXIT_USAGE)
    spec = None if args.inventory is not None else _spec(args)
    settings = _settings(args)
    rt = open_runtime(settings)
    try:
        exists = not rt.storage.is_empty()
        if exists and not args.force:
            raise CommandError(
                f"a federation already exists in {_database_label(settings)}; use --force to replace it",
                EXIT_USAGE,
            )
        started = time.perf_counter()
        now = rt.clock.now()
        # Built before anything is cleared, so that a bad inventory leaves the old federation in place.
        if spec is None:
            from openovc.simulator.generator.inventory_file import load_inventory

            try:
                federation = load_inventory(args.inventory, now)
            except ValueError as exc:  # its message starts with the file's path
                raise CommandError(f"invalid inventory: {exc}") from None
            source = "inventory"
        else:
            from openovc.simulator.generator.generator import generate

            federation = generate(spec, now)
            source = "generated"
        if exists:
            rt.storage.clear_federation()
        install_federation(
            rt, federation, source=source, generated_at=now, spec=spec, inventory=args.inventory
        )
        elapsed = time.perf_counter() - started
    finally:
        rt.storage.dispose()
    counts = ", ".join(f"{len(rows)} {name}" for name, rows in federation.rows.items())
    origin = f"from {args.inventory}" if spec is None else f"with seed {spec.seed}"
    _say(f"Loaded a federation {origin} into {_database_label(settings)} in {elapsed:.2f} s: {counts}")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------- users


def _password(args: argparse.Namespace, command: str) -> str:
    if args.password is not None:
        password: str = args.password
    elif sys.stdin.isatty():
        password = getpass.getpass(f"Password for {args.name}: ")
        if getpass.getpass("Repeat it: ") != password:
            raise CommandError("the passwords do not match", EXIT_USAGE)
    else:
        raise CommandError(
            f"users {command}: --password is required when stdin is not a terminal", EXIT_USAGE
        )
    if not password:
        raise CommandError("the password must not be empty", EXIT_USAGE)
    return password


def _with_runtime(args: argparse.Namespace, action: Callable[[Runtime, Settings], int]) -> int:
    from openovc.bootstrap import open_runtime

    settings = _settings(args)
    rt = open_runtime(settings)
    try:
        return action(rt, settings)
    finally:
        rt.storage.dispose()


def _users_list(args: argparse.Namespace) -> int:
    def run(rt: Runtime, _config: Settings) -> int:
        users = rt.auth.store.list_users()
        width = max((len(name) for name, _ in users), default=0)
        for name, role in users:
            groups = ", ".join(rt.auth.store.user_groups(name) or [])
            _say(f"{name:<{width}}  {role}" + (f"  groups: {groups}" if groups else ""))
        return EXIT_OK

    return _with_runtime(args, run)


def _users_add(args: argparse.Namespace) -> int:
    password = _password(args, "add")

    def run(rt: Runtime, _config: Settings) -> int:
        if not rt.auth.ensure_user(args.name, password, Role(args.role)):
            raise CommandError(f"user already exists: {args.name}")
        if args.group:
            rt.auth.store.set_user_groups(args.name, list(dict.fromkeys(args.group)))
        _say(f"Added user {args.name} ({args.role})")
        return EXIT_OK

    return _with_runtime(args, run)


def _users_groups(args: argparse.Namespace) -> int:
    def run(rt: Runtime, _config: Settings) -> int:
        groups = list(dict.fromkeys(args.group))
        if not rt.auth.store.set_user_groups(args.name, groups):
            raise CommandError(f"no such user: {args.name}")
        _say(f"User {args.name} is in groups: {', '.join(groups) or '(none)'}")
        return EXIT_OK

    return _with_runtime(args, run)


def _users_remove(args: argparse.Namespace) -> int:
    def run(rt: Runtime, _config: Settings) -> int:
        if not rt.auth.store.delete_user(args.name):
            raise CommandError(f"no such user: {args.name}")
        _say(f"Removed user {args.name}")
        return EXIT_OK

    return _with_runtime(args, run)


def _users_passwd(args: argparse.Namespace) -> int:
    def run(rt: Runtime, settings: Settings) -> int:
        from openovc.bootstrap import accounts, forget_generated_password

        current = rt.auth.store.user(args.name)
        if current is None:
            raise CommandError(f"no such user: {args.name}")
        password = _password(args, "passwd")
        rt.auth.set_user(args.name, password, Role(current[1]))
        _say(f"Changed the password of {args.name}")
        for account in accounts(settings):
            if args.name == account.username and forget_generated_password(account.path):
                _say(f"Removed {account.path}, which held the old password")
        return EXIT_OK

    return _with_runtime(args, run)


# ---------------------------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    # Imported once a command runs (every command opens the store): --help and --version need not load it.
    from openovc.storage.store import StoreUnavailable

    try:
        return handler(args)
    except CommandError as exc:
        print(f"openovc: {exc.message}", file=sys.stderr, flush=True)
        return exc.code
    except StoreUnavailable as exc:
        # An unreachable or unopenable database is the operator's to fix: say so without a traceback.
        print(f"openovc: cannot use the database: {exc.orig}", file=sys.stderr, flush=True)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
