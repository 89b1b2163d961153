"""The base of every REST handler: auth resource, service access and uniform JSON errors."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from jupyter_core.utils import ensure_async
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from ..errors import ApiError, BadRequest, NotFound, ServiceUnavailable

if TYPE_CHECKING:
    from ..app import NagelfluhApp

# What jupyter_server's authorizer is asked about, one resource per kind of thing, with
# the actions read (GET), write (creating or changing data) and execute (running
# code). Each operation of the OpenAPI document names its own (x-nagelfluh-permission).
PROCESSES = "nagelfluh:processes"
DATASETS = "nagelfluh:datasets"
ENVIRONMENTS = "nagelfluh:environments"
PROJECTS = "nagelfluh:projects"
ACCOUNT = "nagelfluh:account"
ADMIN = "nagelfluh:admin"
API = "nagelfluh:api"
_CODES = {
    400: "bad_request",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    411: "length_required",
    413: "too_large",
    416: "range_not_satisfiable",
}


class ErrorMixin:
    """Turns every exception into the uniform ``{"error": {...}}`` JSON, never a traceback."""

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """A client's mistake is not a server error: log ApiErrors briefly, the rest fully."""
        if isinstance(value, ApiError):
            self.log.info(
                "%s %s: %s %s", self.request.method, self.request.path, value.status, value.message
            )
        else:
            super().log_exception(typ, value, tb)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(error, ApiError):
            status_code, body = error.status, error.to_json()
            if isinstance(error, ServiceUnavailable):
                self.set_header("Retry-After", str(error.details["retry_after"]))
        elif isinstance(error, web.HTTPError):
            message = error.log_message % error.args if error.log_message else error.reason
            body = {
                "error": {
                    "code": _CODES.get(status_code, "http_error"),
                    "message": message or self._reason,
                    "details": None,
                }
            }
        else:
            status_code = 500
            body = {
                "error": {
                    "code": "internal",
                    "message": "internal server error; see the server log",
                    "details": None,
                }
            }
        self.clear_header("Content-Disposition")
        self.set_status(status_code)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))


class NagelfluhHandler(ErrorMixin, ExtensionHandlerMixin, APIHandler):
    auth_resource = API

    @property
    def app(self) -> NagelfluhApp:
        return self.extensionapp

    @property
    def user_name(self) -> str:
        return self.app.user_name(self.current_user, self.identity_provider)

    async def allowed(self, action: str, resource: str) -> bool:
        """Whether the authorizer lets the current user do ``action`` on ``resource``."""
        return bool(
            await ensure_async(
                self.authorizer.is_authorized(self, self.current_user, action, resource)
            )
        )

    async def is_admin(self) -> bool:
        """Whether the current user administers the installation (DESIGN: its
        environments): allowed ``write`` on nagelfluh:admin by the authorizer, and named
        an admin in the configuration, unless the configuration leaves that to the
        authorizer alone (a JupyterHub scope, say)."""
        if not await self.allowed("write", ADMIN):
            return False
        return self.app.authorizer_grants_admin or self.app.is_admin(
            self.user_name, self.identity_provider
        )

    def json_body(self) -> Any:
        if not self.request.body:
            return {}
        try:
            return json.loads(self.request.body)
        except ValueError as error:
            raise BadRequest(f"the body is not valid JSON: {error}", {"path": "/"}) from error

    def reply(self, body: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))


class NotFoundHandler(NagelfluhHandler):
    """Unknown routes under the API prefix answer JSON, not Jupyter's HTML 404 page."""

    def _missing(self, path: str) -> None:
        raise NotFound(f"no API route {self.request.method} /{path}", {"path": path})

    @web.authenticated
    def get(self, path: str) -> None:
        self._missing(path)

    @web.authenticated
    def post(self, path: str) -> None:
        self._missing(path)

    @web.authenticated
    def put(self, path: str) -> None:
        self._missing(path)

    @web.authenticated
    def patch(self, path: str) -> None:
        self._missing(path)

    @web.authenticated
    def delete(self, path: str) -> None:
        self._missing(path)
