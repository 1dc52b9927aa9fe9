"""The Virtual Controller's error body, as the API tests expect it (the in-process clock's timestamp)."""

from __future__ import annotations

from typing import Any

TS = "2026-11-20T12:00:00Z"
PKG = "com.simplivity.restapi.exceptions."
TASK_EXCEPTION = "com.simplivity.rpc.common.TaskException"
MEDIA_EXCEPTION = "org.springframework.web.HttpMediaTypeNotSupportedException"
NOT_A_DICT = "Invalid body: body: Input should be a valid dictionary or object to extract fields from"


def error_body(
    path: str, exception: str, message: str, status: int = 400, code: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"exception": exception, "path": path, "message": message, "timestamp": TS,
                            "status": str(status)}  # fmt: skip
    if code is not None:
        body["error_code"] = code
    return body
