"""The task POSTs of virtual machines answered without the framework: backup, clone, move and set_policy.

`lean.LeanPath` finds these routes by operation id and answers a request only when the route itself
would take it as it is: one exact route, a vendor Content-Type its media-type dependency accepts, one
Content-Length and that many bytes, and a JSON object its body model accepts. Whatever else (and any
error of the operation's quick checks, which all come before its task is submitted) goes on to the
ordinary path with the body replayed, which answers it as it always did.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

import orjson
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.convertors import StringConvertor
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.types import Message, Receive

from openovc.api.bodies import BackupVM, CloneVM, MoveVM, SetPolicy, SetPolicyVMs
from openovc.api.deps import MediaType, Runtime
from openovc.api.guard import holds_nul_escape
from openovc.api.responses import JSON
from openovc.api.routes.virtual_machines import (
    backup_task,
    clone_task,
    move_task,
    set_policy_for_vm_task,
    set_policy_for_vms_task,
)
from openovc.api.tasking import accepted
from openovc.domain.ports.federation import Record

B = TypeVar("B", bound=BaseModel)
_ANYWHERE = re.compile("")  # a route whose paths are unknown here may take any request before ours


class _Submit(Generic[B]):
    """An operation's body model, and its task as its route submits it (from the path's parameters)."""

    __slots__ = ("model", "task")

    def __init__(self, model: type[B], task: Callable[[Runtime, Mapping[str, str], B], Record]) -> None:
        self.model = model
        self.task = task


SUBMITS: dict[str, _Submit[Any]] = {
    "backupVm": _Submit(BackupVM, lambda rt, ids, body: backup_task(rt, ids["vmId"], body)),
    "cloneVm": _Submit(CloneVM, lambda rt, ids, body: clone_task(rt, ids["vmId"], body)),
    "moveVm": _Submit(MoveVM, lambda rt, ids, body: move_task(rt, ids["vmId"], body)),
    "setPolicyForVm": _Submit(SetPolicy, lambda rt, ids, body: set_policy_for_vm_task(rt, ids["vmId"], body)),
    "setPolicyForVms": _Submit(SetPolicyVMs, lambda rt, _ids, body: set_policy_for_vms_task(rt, body)),
}


class TaskPost:
    """One task POST answered here: its route's template (the metrics' label), operation, path pattern
    and media-type rule, and the earlier routes that would take a POST to a path first."""

    __slots__ = ("media", "operation_id", "pattern", "shadows", "submit", "template")

    def __init__(
        self, route: APIRoute, shadows: Sequence[re.Pattern[str]], media: MediaType, submit: _Submit[Any]
    ) -> None:
        self.template = route.path
        self.operation_id = str(route.operation_id)
        self.pattern = route.path_regex
        self.shadows = tuple(shadows)
        self.media = media
        self.submit = submit

    def ids(self, path: str) -> dict[str, str] | None:
        """The path's parameters when the ordinary router would give this route the request."""
        match = self.pattern.match(path)
        if match is None or any(earlier.match(path) for earlier in self.shadows):
            return None
        return match.groupdict()

    def body(self, content_types: Sequence[bytes], raw: bytes) -> BaseModel | None:
        """The body as the route takes it (FastAPI: json.loads, then the model in Python mode); None for
        one it refuses or this path doubts."""
        # No Content-Type: FastAPI's strict content type leaves the bytes unparsed (a 400); parameters
        # (a charset) are the guard's to judge.
        if len(content_types) != 1 or b";" in content_types[0]:
            return None
        if not self.media.accepts(content_types[0].decode("latin-1")):
            return None
        try:
            text = raw.decode("utf-8")
            value = orjson.loads(text)  # stricter than json.loads: what it takes, both read alike
        except (UnicodeDecodeError, orjson.JSONDecodeError):
            return None
        if holds_nul_escape(text):  # guard.utf8_body's 400 is the ordinary path's
            return None
        if not isinstance(value, dict):
            return None
        model: BaseModel = self.submit.model.model_validate(value)
        return model

    def accepted(self, rt: Runtime, ids: Mapping[str, str], body: BaseModel) -> JSON:
        """The route's answer: its task submitted, rendered as `tasking.accepted` renders it."""
        return accepted(rt.tasks, self.submit.task(rt, ids, body))


class TaskPosts:
    """The task POSTs answered here, found among the application's routes by operation id."""

    def __init__(self, routes: Iterable[BaseRoute]) -> None:
        self.posts: list[TaskPost] = []
        earlier: list[re.Pattern[str]] = []  # every route before, that a POST may reach
        for route in routes:
            if isinstance(route, APIRoute) and route.operation_id in SUBMITS:
                post = _task_post(route, earlier, SUBMITS[route.operation_id])
                if post is not None:
                    self.posts.append(post)
            if isinstance(route, Route):
                if route.methods is None or "POST" in route.methods:
                    earlier.append(route.path_regex)
            elif isinstance(route, Mount):
                earlier.append(route.path_regex)
            elif not isinstance(route, WebSocketRoute):
                earlier.append(_ANYWHERE)

    def find(self, path: str) -> tuple[TaskPost, dict[str, str]] | None:
        """The route a POST to `path` is answered by here, and its path's parameters."""
        for post in self.posts:
            ids = post.ids(path)
            if ids is not None:
                return post, ids
        return None


def _task_post(route: APIRoute, earlier: Sequence[re.Pattern[str]], submit: _Submit[Any]) -> TaskPost | None:
    """The route answered here, when it is as this path knows it: a POST of the submit's body model,
    plain string parameters, and one media-type dependency."""
    media = [d.call for d in route.dependant.dependencies if isinstance(d.call, MediaType)]
    field = route.body_field
    plain = all(isinstance(c, StringConvertor) for c in route.param_convertors.values())
    if route.methods != {"POST"} or len(media) != 1 or field is None or not plain:
        return None
    if field.field_info.annotation is not submit.model:
        return None
    return TaskPost(route, earlier, media[0], submit)


async def read_body(receive: Receive, length: int) -> tuple[bytes | None, Receive]:
    """The body of a request that declared `length` bytes (None when it brought another amount, or
    something else came), and a receive that replays what was read, then goes on."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        size += len(message.get("body", b""))
        if size > length or not message.get("more_body", False):
            break
    kept = list(messages)

    async def replay() -> Message:
        if kept:
            return kept.pop(0)
        return await receive()

    last = messages[-1]
    if last["type"] != "http.request" or last.get("more_body", False) or size != length:
        return None, replay
    return b"".join(m.get("body", b"") for m in messages), replay
