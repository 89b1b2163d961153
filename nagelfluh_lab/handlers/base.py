"""The base of every REST handler: auth resource, service access and uniform JSON errors."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import allow_unauthenticated, authorized
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from .. import shapes
from ..errors import ApiError, NotFound
from ..services.access import natural
from ..services.account import AccountService
from ..services.datasets import DatasetService
from ..services.environments import EnvironmentService
from ..services.notebook_types import NotebookTypeService
from ..services.processes import ProcessService
from ..services.projects import ProjectService
from . import request_body

if TYPE_CHECKING:
    from ..app import NagelfluhApp

    # The mixin's methods run on a Jupyter handler: typed as one, inheriting nothing.
    _Handler = JupyterHandler
else:
    _Handler = object

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
_CODES: dict[int, shapes.ErrorCode] = {
    400: "bad_request",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    411: "length_required",
    413: "too_large",
    416: "range_not_satisfiable",
}


class ErrorMixin(_Handler):
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

    async def prepare(self) -> None:  # type: ignore[override]  # as APIHandler's own
        """An id in the path outside 1 to ``access.MAX_ID`` names nothing: 404 for every
        method (the CORS preflight too), before a service hands it to the database."""
        await super().prepare()
        if self.path_ids and not all(natural(arg) for arg in self.path_args):
            raise NotFound(f"no such id in {self.request.path}", {"path": self.request.path})

    @property
    def app(self) -> NagelfluhApp:
        return cast("NagelfluhApp", self.extensionapp)

    @property
    def processes(self) -> ProcessService:
        return started(self.app.processes)

    @property
    def datasets(self) -> DatasetService:
        return started(self.app.datasets)

    @property
    def environments(self) -> EnvironmentService:
        return started(self.app.environments)

    @property
    def notebook_types(self) -> NotebookTypeService:
        return started(self.app.notebook_types)

    @property
    def projects(self) -> ProjectService:
        return ProjectService(started(self.app.database))

    @property
    def account(self) -> AccountService:
        processes = self.processes
        database = started(self.app.database)
        return AccountService(database, processes.billing, processes.default_resources)

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
        """The body's JSON (``{}`` if there is none): see ``request_body.parse_json``."""
        return request_body.parse_json(self.request.body)

    def json_object(self) -> dict[str, Any]:
        """The body's JSON, which must be an object."""
        return request_body.json_object(self.json_body())

    def reply(self, body: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))


def authorized_to(action: str) -> Callable[[Method], Method]:
    """jupyter_server's ``@authorized(action)``, typed: its own signature types only the
    bare ``@authorized``, which asks for the action the HTTP method implies."""
    decorator: Callable[[Method], Method] = authorized(action)
    return decorator


def started(service: Service | None) -> Service:
    """One of the app's services, which exist once the extension has loaded."""
    if service is None:
        raise RuntimeError("the nagelfluh extension has not loaded")
    return service


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
