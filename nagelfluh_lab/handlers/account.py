"""REST handlers of the user's account (DESIGN §5): balance and ledger, cost estimates."""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from nagelfluh_runner.pointer import join
from tornado import web

from ..errors import field_error
from .base import ACCOUNT, NagelfluhHandler, authorized_to


class EstimateHandler(NagelfluhHandler):
    auth_resource = ACCOUNT

    @web.authenticated
    @authorized_to("read")
    async def post(self) -> None:
        self.reply(self.account.estimate(self._resources()))

    def _resources(self) -> Any:
        """The body's resources: ``{"resources": {...}}``, or the bare resources; not
        both, nor a null."""
        body = self.json_body()
        if not isinstance(body, dict):
            raise field_error("/", "must be an object with a resources field")
        extra = sorted(set(body) - {"resources"}) if "resources" in body else []
        if extra:
            raise field_error(join("", extra[0]), "unknown field: the resources go in /resources")
        resources = body.get("resources", body)
        if resources is None:
            raise field_error("/resources", "must be an object")
        return resources


class AccountHandler(NagelfluhHandler):
    auth_resource = ACCOUNT

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(await self.account.statement(self.user_name))
