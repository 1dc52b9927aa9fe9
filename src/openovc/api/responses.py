"""JSON responses serialised with orjson (fast, and able to splice stored JSON text)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class JSON(Response):
    """A JSON response; the middleware later echoes a vendor media type if the client asked for one."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
