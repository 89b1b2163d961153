"""Failures as the API server reports them: an HTTP code with a ``v1 Status`` body,
which the official client turns into ``ApiException(status=code)``."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, details: dict | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                "status": "Failure", "message": self.message,
                                "reason": self.reason, "code": self.code}
        if self.details is not None:
            body["details"] = self.details
        return body

    @classmethod
    def bad_request(cls, message: str) -> ApiError:
        return cls(400, "BadRequest", message)

    @classmethod
    def unknown_path(cls) -> ApiError:
        return cls(404, "NotFound", "the server could not find the requested resource")


def details(group: str, kind: str, name: str, **extra: Any) -> dict[str, Any]:
    """``details`` of a Status; the core group is left out, as the server does."""
    return {"name": name, **({"group": group} if group else {}), "kind": kind, **extra}
