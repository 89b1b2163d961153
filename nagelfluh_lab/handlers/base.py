"""The base of every REST handler: auth resource, service access and uniform JSON errors."""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import allow_unauthenticated, authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from ..db.session import Database
from ..errors import ApiError, BadRequest, NotFound, ValidationFailed, field_error
from ..services.access import natural
from ..services.datasets import DatasetService
from ..services.environments import EnvironmentService
from ..services.processes import ProcessService

if TYPE_CHECKING:
    from ..app import NagelfluhApp

Method = TypeVar("Method", bound=Callable[..., Awaitable[None]])
Service = TypeVar("Service")

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
            if isinstance(error.details, dict) and "retry_after" in error.details:
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
        if status_code == 405:  # RFC 9110: a 405 says which methods the resource answers
            self.set_header("Allow", ", ".join(answered_methods(type(self))))
        self.clear_header("Content-Disposition")
        self.set_status(status_code)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))


def answered_methods(handler: type[web.RequestHandler]) -> list[str]:
    """The HTTP methods ``handler`` answers: those it overrides of tornado's
    ``RequestHandler``, whose own answer 405."""
    return [
        method
        for method in handler.SUPPORTED_METHODS
        if getattr(handler, method.lower()) is not getattr(web.RequestHandler, method.lower())
    ]


class NagelfluhHandler(ErrorMixin, ExtensionHandlerMixin, APIHandler):
    auth_resource = API

    def initialize(self, name: str, path_ids: bool = False) -> None:
        """``path_ids``: the route's groups are ids (``handlers.routes`` tells)."""
        super().initialize(name)
        self.path_ids = path_ids

    async def prepare(self) -> None:
        """An id in the path outside 1 to ``access.MAX_ID`` names nothing: 404 for every
        method (the CORS preflight too), before a service hands it to the database."""
        await super().prepare()
        if self.path_ids and not all(natural(arg) for arg in self.path_args):
            raise NotFound(f"no such id in {self.request.path}", {"path": self.request.path})

    @property
    def app(self) -> NagelfluhApp:
        return cast("NagelfluhApp", self.extensionapp)

    @property
    def database(self) -> Database:
        return _started(self.app.database)

    @property
    def processes(self) -> ProcessService:
        return _started(self.app.processes)

    @property
    def datasets(self) -> DatasetService:
        return _started(self.app.datasets)

    @property
    def environments(self) -> EnvironmentService:
        return _started(self.app.environments)

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
        """The body's JSON: a 400 unless it is JSON text, naming the field that holds a
        lone UTF-16 surrogate (``"\\ud800"`` is valid JSON but no text: storing it fails).
        Python's extensions are refused too: ``NaN`` and numbers beyond a float (``1e999``
        would be stored as ``Infinity``, which no answer may carry)."""
        if not self.request.body:
            return {}
        try:
            body = json.loads(
                self.request.body, parse_constant=_not_json, parse_float=_finite_float
            )
        except (ValueError, RecursionError) as error:  # also bytes that are not UTF-8
            raise BadRequest(f"the body is not valid JSON: {error}", {"path": "/"}) from error
        path = _lone_surrogate(body)
        if path is not None:
            raise field_error(path, "holds a lone UTF-16 surrogate, which is not text")
        return body

    def json_object(self) -> dict[str, Any]:
        """The body's JSON, which must be an object."""
        body = self.json_body()
        if not isinstance(body, dict):
            raise ValidationFailed(
                "the body must be a JSON object", [{"path": "/", "message": "must be an object"}]
            )
        return body

    def reply(self, body: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))


def authorized_to(action: str) -> Callable[[Method], Method]:
    """jupyter_server's ``@authorized(action)``, typed: its own signature types only the
    bare ``@authorized``, which asks for the action the HTTP method implies."""
    decorator: Callable[[Method], Method] = authorized(action)
    return decorator


def _started(service: Service | None) -> Service:
    """One of the app's services, which exist once the extension has loaded."""
    if service is None:
        raise RuntimeError("the nagelfluh extension has not loaded")
    return service


def _lone_surrogate(value: Any) -> str | None:
    """The JSON pointer of a key or string in ``value`` holding a lone UTF-16 surrogate,
    its surrogates escaped so that the answer and the log stay text; walked without
    recursion, as deep as ``json.loads`` went."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str) and not _is_text(node):
            return _escaped(path)
        if isinstance(node, dict):
            for key, child in node.items():
                pointer = f"{path}/{key.replace('~', '~0').replace('/', '~1')}"
                if not _is_text(key):
                    return _escaped(pointer)
                stack.append((pointer, child))
        elif isinstance(node, list):
            stack.extend((f"{path}/{index}", child) for index, child in enumerate(node))
    return None


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text} is beyond a 64-bit float")
    return value


def _is_text(value: str) -> bool:
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _escaped(value: str) -> str:
    return value.encode(errors="backslashreplace").decode()


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

    @allow_unauthenticated  # as jupyter_server's own preflight: browsers send no token
    def options(self, path: str) -> None:
        """No CORS preflight for what is not there."""
        self._missing(path)
