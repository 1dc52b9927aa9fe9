"""The OmniStack error family; the API layer maps each to its HTTP status and body."""

from __future__ import annotations

_PKG = "com.simplivity.restapi.exceptions."


class OmniStackError(Exception):
    """An error the Virtual Controller reports to its client."""

    status: int = 400
    exception: str = _PKG + "InvalidParameterException"
    error_code: str | None = None

    def __init__(self, message: str | None = None) -> None:
        self.message = message or (self.__doc__ or "").strip()
        super().__init__(self.message)


class ObjectNotFound(OmniStackError):
    """Object could not be found."""

    status = 404
    exception = _PKG + "ObjectNotFoundException"

    def __init__(self, object_type: str, object_id: str) -> None:
        super().__init__(f"Object type: {object_type} id: {object_id} could not be found")
        self.object_type = object_type
        self.object_id = object_id


class InvalidParameter(OmniStackError):
    """You passed an invalid query parameter."""


class TypeMismatch(OmniStackError):
    """A parameter has the wrong type."""

    exception = _PKG + "TypeMismatchException"


class InvalidSortCriteria(OmniStackError):
    """Invalid limit or sort criteria."""

    exception = _PKG + "InvalidSortCriteriaException"


class InvalidBody(OmniStackError):
    """Invalid body."""

    exception = _PKG + "InvalidBodyException"


class ObjectInUse(OmniStackError):
    """The object is in use and cannot be removed."""

    exception = _PKG + "ObjectInUseException"


class PermissionDenied(OmniStackError):
    """Permission denied: this user may not perform the operation."""

    status = 403
    exception = _PKG + "PermissionDeniedException"


class UnsupportedMediaType(OmniStackError):
    """Content type not supported."""

    status = 415
    exception = "org.springframework.web.HttpMediaTypeNotSupportedException"


class MethodNotAllowed(OmniStackError):
    """Request method not supported."""

    status = 405
    exception = "org.springframework.web.HttpRequestMethodNotSupportedException"


class PayloadTooLarge(OmniStackError):
    """Request body too large."""

    status = 413
    exception = "org.springframework.web.server.PayloadTooLargeException"


class UriTooLong(OmniStackError):
    """Request URI too long."""

    status = 414
    exception = "org.springframework.web.server.ResponseStatusException"


class InternalError(OmniStackError):
    """An internal error occurred."""

    status = 500
    exception = _PKG + "InternalServerException"


class NoHandlerFound(OmniStackError):
    """No handler found for the request."""

    status = 404
    exception = "org.springframework.web.servlet.NoHandlerFoundException"


class TaskError(OmniStackError):
    """Shallow validation of an operation failed."""

    exception = "com.simplivity.rpc.common.TaskException"

    def __init__(self, error_code: int, message: str) -> None:
        super().__init__(message)
        self.error_code = str(error_code)
