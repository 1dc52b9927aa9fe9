"""GET routes of /external_stores."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ...domain.catalog import EXTERNAL_STORES
from ..collection import list_openapi, list_response
from ..deps import ReaderDep
from ..responses import JSON

router = APIRouter(prefix="/external_stores", tags=["external_stores"])


@router.get("", operation_id="listExternalStores", openapi_extra=list_openapi(EXTERNAL_STORES))
def list_external_stores(request: Request, reader: ReaderDep) -> JSON:
    return list_response(request, reader, EXTERNAL_STORES)
