"""REST handler of the user's projects (DESIGN §5): list them, create one."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from .base import PROJECTS, NagelfluhHandler


class ProjectsHandler(NagelfluhHandler):
    auth_resource = PROJECTS

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(await self.projects.list(self.user_name))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        name = body.get("name") if isinstance(body, dict) else None
        self.reply(await self.projects.create(self.user_name, name), 201)
