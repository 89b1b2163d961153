"""REST handlers of environments and the process types they offer (DESIGN §5)."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

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
        self.reply(await self.environments.types(self.user_name))


class ProcessTypeHandler(NagelfluhHandler):
    auth_resource = ENVIRONMENTS

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.reply(await self.environments.type(self.user_name, name))
