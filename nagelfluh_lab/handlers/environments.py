"""REST handlers of environments and the process types they offer (DESIGN §5)."""

from __future__ import annotations

from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized
from tornado import web

from ..errors import Forbidden, NotFound, field_error
from ..shapes import FieldError
from .base import ENVIRONMENTS, NagelfluhHandler


class EnvironmentsHandler(NagelfluhHandler):
    auth_resource = ENVIRONMENTS

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(await self.environments.list(self.user_name))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        """202: the registration goes on in the background (see the environment's state)."""
        body = self.json_body()
        admin = await self.is_admin()
        self.reply(await self.environments.register(self.user_name, body, admin), 202)


class EnvironmentHandler(NagelfluhHandler):
    auth_resource = ENVIRONMENTS

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.reply(await self.environments.get(self.user_name, name))


class ProcessTypesHandler(NagelfluhHandler):
    auth_resource = ENVIRONMENTS

    @web.authenticated
    @authorized
    async def get(self) -> None:
        project = self.get_query_argument("project", None)
        self.reply(await self.environments.types(self.user_name, project))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        """Register a notebook (sent, or at a contents path) as a type of a project: 201 for
        a new type or revision, 200 when identical to the current revision."""
        described, created = await self.notebook_types.register(
            self.user_name, self.json_body(), self._read_notebook
        )
        self.reply(described, 201 if created else 200)

    async def _read_notebook(self, path: str) -> dict[str, Any]:
        """The notebook at ``path`` in the Jupyter contents, if the user may read them there."""
        if not await self.allowed("read", "contents"):
            raise Forbidden(
                "not authorized to read the Jupyter contents",
                [{"path": "/path", "message": "needs read access to contents"}],
            )
        try:
            model = await ensure_async(
                self.contents_manager.get(  # type: ignore[no-untyped-call]  # untyped upstream
                    path, content=True, type="notebook"
                )
            )
        except web.HTTPError as error:
            if error.status_code == 404:
                details: list[FieldError] = [{"path": "/path", "message": "not found"}]
                raise NotFound(f"no notebook at {path!r}", details) from None
            message = error.log_message or error.reason or "cannot be read"
            raise field_error("/path", f"is not a readable notebook: {message}") from None
        content = model.get("content")
        if not isinstance(content, dict):
            raise field_error("/path", "is not a notebook")
        return content


class ProcessTypeHandler(NagelfluhHandler):
    auth_resource = ENVIRONMENTS

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        project = self.get_query_argument("project", None)
        self.reply(await self.environments.type(self.user_name, name, project))

    @web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        """Retire a project's own type: it takes no new work; nothing it made is deleted."""
        project = self.get_query_argument("project", None)
        self.reply(await self.notebook_types.retire(self.user_name, project, name))
