"""API errors: every failure a client can cause, with its HTTP status and JSON shape.

Services raise these; the handlers' error mixin turns them (and anything else)
into ``{"error": {"code", "message", "details"}}`` (``shapes.Error``).
"""

from __future__ import annotations

from typing import ClassVar

from .shapes import Error, ErrorCode, ErrorDetails


class ApiError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[ErrorCode] = "internal"

    def __init__(self, message: str, details: ErrorDetails = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_json(self) -> Error:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(ApiError):
    status = 400
    code: ClassVar[ErrorCode] = "bad_request"  # not narrowed to itself: ValidationFailed


class ValidationFailed(BadRequest):
    """``details`` is a list of ``{"path": "/json/pointer", "message": ...}``."""

    code = "validation_failed"


class PaymentRequired(ApiError):
    status = 402
    code = "insufficient_balance"


class Forbidden(ApiError):
    """Seen, but not the caller's to change."""

    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class ServiceUnavailable(ApiError):
    """The database is busy or unreachable: the request may succeed later.
    ``details["retry_after"]`` is the seconds to wait, also sent as ``Retry-After``."""

    status = 503
    code = "database_unavailable"


class StorageUnavailable(ApiError):
    """Storage refused or could not be reached (read-only, unreachable, access denied):
    nothing was stored; the request may succeed once it is back."""

    status = 503
    code = "storage_unavailable"


class InsufficientStorage(ApiError):
    """Storage is full (or the quota is): nothing was stored."""

    status = 507
    code = "insufficient_storage"


def field_error(path: str, message: str) -> ValidationFailed:
    """A 400 naming one offending field by its JSON pointer (RFC 6901).

    A pointer with a name from the request or a schema in it is made with
    ``nagelfluh_runner.pointer.join``, which escapes ``~`` and ``/``: a client finds
    the field by unescaping (``pointer.tokens``), so ``f"/{name}"`` would name
    another field, or none, when the name holds either."""
    return ValidationFailed(f"{path}: {message}", [{"path": path, "message": message}])
