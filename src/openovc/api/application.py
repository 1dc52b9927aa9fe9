"""What HPE's application and the control API's share: FastAPI as the Virtual Controller answers, and the docs page."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse

from openovc import __version__
from openovc.api import errors, openapi
from openovc.api.deps import Runtime
from openovc.api.middleware import CatchAll
from openovc.api.responses import JSON
from openovc.domain.auth import CLIENT_ID

SWAGGER = "/api/swagger-ui"  # Swagger UI, served from the installed package (no internet needed)


class Application(FastAPI):
    """A FastAPI application whose OpenAPI document says what the server does (`api/openapi.py`)."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            self.openapi_schema = openapi.publish(super().openapi(), self.routes)
        return self.openapi_schema


def json_application(rt: Runtime, title: str, openapi_url: str, lifespan: Any = None) -> FastAPI:
    """A FastAPI application answering JSON and HPE-style errors (stamped with the federation's time)."""
    app = Application(
        title=title,
        version=__version__,
        openapi_url=openapi_url,
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,
        default_response_class=JSON,
        lifespan=lifespan,
    )
    app.state.runtime = rt
    app.state.clock = rt.clock
    errors.install(app)
    app.add_middleware(CatchAll)
    return app


def docs_page(openapi_url: str, title: str) -> HTMLResponse:
    """The interactive docs of one OpenAPI document."""
    return get_swagger_ui_html(
        openapi_url=openapi_url,
        title=title,
        swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER}/swagger-ui.css",
        swagger_favicon_url=f"{SWAGGER}/favicon-32x32.png",
        # The SDK's client: Swagger UI's password flow sends it as HTTP basic "simplivity:" (an empty secret).
        init_oauth={"clientId": CLIENT_ID, "clientSecret": ""},
        swagger_ui_parameters={"persistAuthorization": True},
    )
