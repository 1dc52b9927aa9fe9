"""GET /version: no token needed."""

from __future__ import annotations

from openovc import REST_API_VERSION, SVTFS_VERSION
from openovc.api.deps import api_router
from openovc.api.responses import JSON
from openovc.api.schemas import VERSION, answer

router = api_router(tags=["version"], protected=False)


@router.get("/version", operation_id="getVersion", openapi_extra=answer(VERSION))
def get_version() -> JSON:
    return JSON({"REST_API_Version": REST_API_VERSION, "SVTFS_Version": SVTFS_VERSION})
