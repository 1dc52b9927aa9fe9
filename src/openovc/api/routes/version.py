"""GET /version: no token needed."""

from __future__ import annotations

from fastapi import APIRouter

from ... import REST_API_VERSION, SVTFS_VERSION
from ..responses import JSON

router = APIRouter(tags=["version"])


@router.get("/version", operation_id="getVersion")
def get_version() -> JSON:
    return JSON({"REST_API_Version": REST_API_VERSION, "SVTFS_Version": SVTFS_VERSION})
