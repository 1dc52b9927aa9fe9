"""The hottest requests answered without the framework: an object by id, a task's poll, a page of VMs,
and the task POSTs of VMs (backup, clone, move, set_policy: api/lean_tasks.py).

`LeanPath` is the outermost middleware. It answers a request it recognises, from a valid token, exactly
as the routes and middlewares behind it would (headers, metrics, access line); any other request, and
any case it does not answer itself (an error, a fault rule for the operation, a configured overload
limit, a token the store must judge, an unusual request target or body), goes on to the ordinary stack,
which stays the one source of errors and of the OpenAPI document.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

import orjson
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from openovc.api.deps import Runtime
from openovc.api.lean_tasks import TaskPost, TaskPosts, read_body
from openovc.api.middleware import MAX_TARGET_BYTES, SECURITY_HEADERS, vendor_accept
from openovc.api.observe import AccessLog, request_id
from openovc.api.overload import InFlight
from openovc.api.render import envelope, envelope_json, object_json, render_record
from openovc.api.responses import JSON
from openovc.api.routes.tasks import task_body
from openovc.api.server_metrics import ServerMetrics
from openovc.domain.auth import EMERGENCY_GRANT, Role, TokenVerdict
from openovc.domain.catalog import (
    BACKUPS,
    DATASTORES,
    HOSTS,
    OMNISTACK_CLUSTERS,
    PERSISTENT_VOLUMES,
    POLICIES,
    VIRTUAL_MACHINES,
)
from openovc.domain.fields import Collection
from openovc.domain.ports.federation import Page, Record
from openovc.domain.query import CollectionQuery, parse_collection_query, visible_fields
from openovc.services.auth import Session

# The single-object GETs answered here, by operation: each route's handler is collection.get_response.
OBJECTS: dict[str, Collection[Any]] = {
    "getHost": HOSTS,
    "getVm": VIRTUAL_MACHINES,
    "getBackup": BACKUPS,
    "getDatastore": DATASTORES,
    "getCluster": OMNISTACK_CLUSTERS,
    "getPolicy": POLICIES,
    "getPersistentVolume": PERSISTENT_VOLUMES,
}
TASK = "getTask"
_METHODS = frozenset({"GET", "POST"})
PAGES: dict[str, Collection[Any]] = {"listVms": VIRTUAL_MACHINES}
_PREFIX = "/api/"

Answer = Callable[[str, bytes], Awaitable[bytes | None]]  # the id, the query string -> the body, or None


class LeanReads(Protocol):
    """The store's reads for this path (storage.lean_reads on SQLite)."""

    def inline(self) -> bool:
        """Whether `record` may run on the event loop now (it waits for nothing)."""
        ...

    def view(self, coll: Collection[Any], key: str, make: Callable[[Record], bytes]) -> bytes | None:
        """`make` of an object by key (as FederationReader.get finds it), None when there is none;
        what it made may be answered again while the store has not changed."""
        ...

    def stamp(self) -> int:
        """The store's version now, on this thread; read before the data an answer is made of."""
        ...

    def recall(self, key: Hashable) -> bytes | None:
        """An answer kept on this thread while the store has not changed since it was made."""
        ...

    def keep(self, stamp: int, key: Hashable, answer: bytes) -> None:
        """Keep an answer made after `stamp` was read (unless the store has changed since)."""
        ...

    def page(self, coll: Collection[Any], query: CollectionQuery, columns: Sequence[str]) -> Page | None:
        """One page, as FederationReader.page finds it (the same); None: the reader's own is used."""
        ...

    def page_objects(
        self,
        coll: Collection[Any],
        query: CollectionQuery,
        columns: Sequence[str],
        render: Callable[[Sequence[str], Sequence[Sequence[object]]], list[bytes]],
    ) -> tuple[int, list[bytes]] | None:
        """One page as its count and each object's JSON from `render` (objects no commit changed may be
        kept from an earlier page); None: `page` is used."""
        ...


class _Lean:
    """One route answered here: its template (the metrics' label) and operation, and what reads it."""

    __slots__ = ("answer", "operation_id", "template")

    def __init__(self, template: str, operation_id: str, answer: Answer) -> None:
        self.template = template
        self.operation_id = operation_id
        self.answer = answer


class LeanPath:
    """Answers the hottest GETs and task POSTs itself; passes every other request, and every doubt, to `app`.

    `reads.inline()` says whether a read by key may run now on the event loop (a local store, read on a
    connection of its own): otherwise it goes through the thread pool, as the ordinary routes' reads do.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        rt: Runtime,
        routes: Iterable[BaseRoute],
        metrics: ServerMetrics,
        access: AccessLog | None,
        in_flight: InFlight,
        reads: LeanReads,
    ) -> None:
        self.app = app
        self.rt = rt
        self.metrics = metrics
        self.access = access
        self.in_flight = in_flight
        self.reads = reads
        self.max_body_bytes = rt.settings.max_body_bytes
        self.max_concurrent = rt.settings.max_concurrent_requests
        self.timed = rt.settings.request_timeout is not None
        self.objects: dict[str, _Lean] = {}  # by the collection's path segment
        self.pages: dict[str, _Lean] = {}
        literals: set[str] = set()  # /api/x/y of other GET routes, which win over /api/x/{id}
        for route in routes:
            if not isinstance(route, APIRoute) or "GET" not in (route.methods or ()):
                continue
            segments = route.path[len(_PREFIX) :].split("/")
            if route.operation_id in OBJECTS:
                self.objects[segments[0]] = _Lean(
                    route.path, route.operation_id, self._object(OBJECTS[route.operation_id])
                )
            elif route.operation_id == TASK:
                self.objects[segments[0]] = _Lean(route.path, TASK, self._task)
            elif route.operation_id in PAGES:
                self.pages[segments[0]] = _Lean(
                    route.path, route.operation_id, self._page(PAGES[route.operation_id])
                )
            elif route.path.startswith(_PREFIX) and len(segments) == 2 and "{" not in segments[1]:
                literals.add(route.path)
        self.literals = frozenset(literals)
        self.tasks = TaskPosts(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _METHODS or not self._answered_here(scope):
            await self.app(scope, receive, send)
            return
        if scope["method"] == "POST":
            await self._post(scope, receive, send)
            return
        at, started = time.time(), time.perf_counter()
        lean, key = self._route(scope["path"])
        headers = _Headers(scope["headers"])
        if lean is None or headers.too_large(self.max_body_bytes):
            await self.app(scope, receive, send)
            return
        self.in_flight.count += 1
        try:
            session = await self._session(headers.authorization)
            # An emergency grant's limits (a 403, a page without filters) are the ordinary path's to apply.
            if (
                session is None
                or session.token.grant_type == EMERGENCY_GRANT
                or await self._faulted(lean.operation_id)
            ):
                body = None
            else:
                body = await lean.answer(key, scope["query_string"])
        except Exception:  # an error of HPE's or a crash: the ordinary path answers it
            body = session = None
        finally:
            self.in_flight.count -= 1
        if body is None or session is None:
            await self.app(scope, receive, send)
            return
        await self._answer(scope, send, _Answered(headers, session, lean.template, 200, body, at, started))

    async def _post(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A task POST: its body is read here, and replayed to the ordinary path if that answers it."""
        at, started = time.time(), time.perf_counter()
        found = None if scope.get("root_path") else self.tasks.find(scope["path"])
        headers = None if found is None else _Headers(scope["headers"])
        length = None if headers is None else headers.declared(self.max_body_bytes)
        if found is None or headers is None or length is None:
            await self.app(scope, receive, send)
            return
        post, ids = found
        raw, receive = await read_body(receive, length)
        answered = None
        if raw is not None:
            self.in_flight.count += 1
            try:
                answered = await self._submit(post, ids, headers, raw)
            except Exception:  # an error of HPE's (before any write) or a crash: the ordinary path's
                answered = None
            finally:
                self.in_flight.count -= 1
        if answered is None:
            await self.app(scope, receive, send)
            return
        session, response = answered
        body = bytes(response.body)
        answer = _Answered(headers, session, post.template, response.status_code, body, at, started)
        await self._answer(scope, send, answer)

    async def _submit(
        self, post: TaskPost, ids: dict[str, str], headers: _Headers, raw: bytes
    ) -> tuple[Session, JSON] | None:
        """The route's answer and the caller's session; None when the ordinary path must answer."""
        session = await self._session(headers.authorization)
        # A read-only user's 403 and an emergency grant's limits are the ordinary path's to apply.
        if session is None or session.role is not Role.ADMINISTRATOR:
            return None
        if session.token.grant_type == EMERGENCY_GRANT or await self._faulted(post.operation_id):
            return None
        body = post.body(headers.content_types, raw)
        if body is None:
            return None
        # In the thread pool, as the route's own (sync) handler runs.
        return session, await run_in_threadpool(post.accepted, self.rt, ids, body)

    async def _answer(self, scope: Scope, send: Send, answer: _Answered) -> None:
        """Sends the answer with the headers the middlewares behind would add, and observes it as they do."""
        rid = request_id(answer.headers.request_id)
        await send(
            {
                "type": "http.response.start",
                "status": answer.status,
                "headers": [
                    (b"content-length", str(len(answer.body)).encode("ascii")),
                    (b"content-type", answer.headers.vendor or b"application/json"),
                    *SECURITY_HEADERS,
                    (b"x-request-id", rid.encode("ascii")),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer.body})
        seconds = time.perf_counter() - answer.started
        method = scope["method"]
        self.metrics.observe(answer.template, method, answer.status, seconds)
        if self.access is not None:
            client = scope.get("client")
            self.access.request(
                at=answer.at, request_id=rid, client=client[0] if client else "-",
                user=answer.session.token.username, method=method,
                path=scope["raw_path"].decode("ascii", "backslashreplace"), status=answer.status,
                seconds=seconds,
            )  # fmt: skip

    def _answered_here(self, scope: Scope) -> bool:
        """Whether nothing of the ordinary middlewares' work applies: a plain /api target of sane size
        (no normalising, no 414), no time limit, and room under the concurrency limit (or the 502)."""
        raw = scope.get("raw_path")
        if raw is None or len(raw) + len(scope["query_string"]) > MAX_TARGET_BYTES or self.timed:
            return False
        if self.max_concurrent is not None and self.in_flight.count >= self.max_concurrent:
            return False
        path: str = scope["path"]
        return path.startswith(_PREFIX) and b"%00" not in scope["query_string"] and "\x00" not in path

    def _route(self, path: str) -> tuple[_Lean | None, str]:
        if path in self.literals:
            return None, ""
        plural, slash, key = path[len(_PREFIX) :].partition("/")
        if not slash:
            return self.pages.get(plural), ""
        if not key or "/" in key:
            return None, ""  # a trailing slash (normalised by the ordinary path) or a deeper route
        return self.objects.get(plural), key

    async def _session(self, authorization: bytes | None) -> Session | None:
        """The session of a valid bearer token, judged as deps.valid_session judges it; None for any
        other token (the ordinary path then gives its 401)."""
        if authorization is None:
            return None
        scheme, _, value = authorization.decode("latin-1").partition(" ")
        token = value.strip()
        if scheme.lower() != "bearer" or not token or "\x00" in token:
            return None
        auth = self.rt.auth
        judged = auth.check_in_memory(token)
        if judged is not None:
            return judged[1]
        verdict, found = await run_in_threadpool(auth.check, token)
        return found if verdict is TokenVerdict.VALID else None

    async def _faulted(self, operation_id: str) -> bool:
        """Whether a fault rule applies to this operation, as faults.FaultMiddleware finds them (a task
        error's rule too: that middleware then sets engine.TASK_FAULT for the task's submission)."""
        faults = self.rt.faults
        rules = faults.cached()
        if rules is None:
            rules = await run_in_threadpool(faults.rules)
        return any(r.rule.operation.operation_id == operation_id for r in rules)

    def _object(self, coll: Collection[Any]) -> Answer:
        reader, lean_reads = self.rt.reader, self.reads

        def body(record: Record) -> bytes:
            return orjson.dumps({coll.singular: render_record(coll, record)})

        async def answer(key: str, _query: bytes) -> bytes | None:
            if lean_reads.inline():
                return lean_reads.view(coll, key, body)
            record = await run_in_threadpool(reader.get, coll, key)
            return None if record is None else body(record)

        return answer

    async def _task(self, key: str, _query: bytes) -> bytes | None:
        # As routes/tasks.get_task: a task that ended here lately from memory; any other poll may run it.
        engine = self.rt.tasks
        task = engine.ended.get(key) or await run_in_threadpool(engine.poll, key)
        return None if task is None else orjson.dumps({"task": task_body(engine, task)})

    def _page(self, coll: Collection[Any]) -> Answer:
        reader, lean_reads = self.rt.reader, self.reads

        def body(params: Mapping[str, str]) -> bytes:
            # As services.reads.list_objects (no fixed filters on these routes).
            query = parse_collection_query(coll, params)
            columns = visible_fields(coll, query)
            objects = lean_reads.page_objects(coll, query, columns, partial(object_json, coll))
            if objects is not None:
                return envelope_json(coll, objects[0], objects[1], query.offset, query.limit)
            page = lean_reads.page(coll, query, columns) or reader.page(coll, query, columns)
            return orjson.dumps(envelope(coll, page, query.offset, query.limit))

        async def answer(_key: str, query: bytes) -> bytes | None:
            # As collection.list_response; a page's size is the client's, so it is read in the pool. The
            # stamp and the kept pages are the event loop's thread's, read before the page.
            if not lean_reads.inline():
                return await run_in_threadpool(body, QueryParams(query))
            stamp, kept_as = lean_reads.stamp(), (coll.plural, query)
            made = lean_reads.recall(kept_as)
            if made is None:
                made = await run_in_threadpool(body, QueryParams(query))
                lean_reads.keep(stamp, kept_as, made)
            return made

        return answer


@dataclass(frozen=True, slots=True)
class _Answered:
    """An answer the lean path gives: what it answers, to whom, and when the request came."""

    headers: _Headers
    session: Session
    template: str
    status: int
    body: bytes
    at: float
    started: float


class _Headers:
    """The request headers the lean path looks at, in one pass."""

    __slots__ = ("authorization", "content_types", "encoded", "lengths", "request_id", "vendor")

    def __init__(self, headers: Iterable[tuple[bytes, bytes]]) -> None:
        self.authorization: bytes | None = None
        self.lengths: list[bytes] = []
        self.content_types: list[bytes] = []
        self.encoded = False  # a Transfer-Encoding
        self.request_id: bytes | None = None
        accept: bytes | None = None
        for key, value in headers:
            if key == b"authorization" and self.authorization is None:
                self.authorization = value
            elif key == b"accept" and accept is None:
                accept = value
            elif key == b"x-request-id" and self.request_id is None:
                self.request_id = value
            elif key == b"content-length":
                self.lengths.append(value)
            elif key == b"content-type":
                self.content_types.append(value)
            elif key == b"transfer-encoding":
                self.encoded = True
        self.vendor = vendor_accept(accept)

    def declared(self, max_body_bytes: int) -> int | None:
        """The body's length when one plain Content-Length declares it, within the limit, and nothing
        else says how the body comes; None otherwise (the ordinary path then reads it, or refuses it)."""
        if self.encoded or len(self.lengths) != 1 or not self.lengths[0].isdigit():
            return None
        length = int(self.lengths[0])
        return length if length <= max_body_bytes else None

    def too_large(self, max_body_bytes: int) -> bool:
        """As middleware.OmniStackMiddleware: a declared body beyond the limit is refused (413)."""
        return any(v.strip().isdigit() and int(v) > max_body_bytes for v in self.lengths)
