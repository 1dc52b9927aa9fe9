"""The web dashboard: static HTML, CSS and JavaScript modules served at /_openovc/ui, no build step."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
_PAGE = STATIC / "index.html"


async def _page(_request: Request) -> FileResponse:
    return FileResponse(_PAGE, media_type="text/html; charset=utf-8")


def dashboard_routes(prefix: str) -> list[BaseRoute]:
    """The page at `prefix`, its assets below it.

    The middleware strips trailing slashes, so `prefix/` arrives as `prefix`, which a mount does not take:
    a route answers it, and the page names its assets by absolute path.
    """
    return [
        Route(prefix, _page, methods=["GET", "HEAD"], include_in_schema=False),
        Mount(prefix, StaticFiles(directory=STATIC), name="dashboard"),
    ]
