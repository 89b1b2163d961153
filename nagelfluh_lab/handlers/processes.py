"""REST handlers of processes and their versions (DESIGN §5): the query string and
body parsed into what ``ProcessService`` takes, its answer sent back."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..errors import field_error
from ..services import access
from ..services.paging import page_size
from .base import PROCESSES, NagelfluhHandler, authorized_to

MAX_PAGE = 1000
MAX_LOG_PAGE = 10000


class ProcessesHandler(NagelfluhHandler):
    auth_resource = PROCESSES

    @web.authenticated
    @authorized
    async def get(self) -> None:
        size = page_size(self.get_query_argument("limit", None), MAX_PAGE, 50)
        self.reply(
            await self.processes.list_processes(
                self.user_name,
                self.get_query_argument("project", None),
                self.get_query_argument("cursor", None),
                size,
            )
        )

    @web.authenticated
    @authorized_to("execute")
    async def post(self) -> None:
        key = self.request.headers.get("Idempotency-Key")
        if key is not None and not 1 <= len(key) <= 255:
            raise field_error("/Idempotency-Key", "must be 1 to 255 characters")
        self.reply(await self.processes.create(self.user_name, self.json_object(), key), 201)


class ProcessHandler(NagelfluhHandler):
    auth_resource = PROCESSES

    @web.authenticated
    @authorized
    async def get(self, process_id: str) -> None:
        self.reply(await self.processes.get_process(self.user_name, process_id))


class VersionsHandler(NagelfluhHandler):
    auth_resource = PROCESSES

    @web.authenticated
    @authorized_to("execute")
    async def post(self, process_id: str) -> None:
        body = self.json_object()
        self.reply(await self.processes.add_version(self.user_name, process_id, body), 201)


class VersionHandler(NagelfluhHandler):
    auth_resource = PROCESSES

    @web.authenticated
    @authorized
    async def get(self, process_id: str, version: str) -> None:
        self.reply(await self.processes.get_version(self.user_name, process_id, version))


class CancelHandler(NagelfluhHandler):
    auth_resource = PROCESSES

    @web.authenticated
    @authorized_to("execute")
    async def post(self, process_id: str, version: str) -> None:
        self.reply(await self.processes.cancel(self.user_name, process_id, version))


class RestoreHandler(NagelfluhHandler):
    auth_resource = PROCESSES

    @web.authenticated
    @authorized_to("execute")
    async def post(self, process_id: str, version: str) -> None:
        self.reply(await self.processes.restore(self.user_name, process_id, version), 201)


class RerunHandler(NagelfluhHandler):
    auth_resource = PROCESSES

    @web.authenticated
    @authorized_to("execute")
    async def post(self, process_id: str, version: str) -> None:
        self.reply(await self.processes.rerun(self.user_name, process_id, version), 201)


class CompareHandler(NagelfluhHandler):
    auth_resource = PROCESSES

    @web.authenticated
    @authorized
    async def get(self, process_id: str) -> None:
        v1 = self.get_query_argument("v1", None)
        v2 = self.get_query_argument("v2", None)
        if v1 is None or v2 is None:
            raise field_error("/v1" if v1 is None else "/v2", "both v1 and v2 are required")
        self.reply(await self.processes.compare(self.user_name, process_id, v1, v2))


class LogsHandler(NagelfluhHandler):
    auth_resource = PROCESSES

    @web.authenticated
    @authorized
    async def get(self, process_id: str, version: str) -> None:
        after = _seq(self.get_query_argument("since", None))
        size = page_size(self.get_query_argument("limit", None), MAX_LOG_PAGE, 1000)
        self.reply(await self.processes.logs(self.user_name, process_id, version, after, size))


def _seq(value: str | None) -> int:
    """The ``since`` parameter: the seq of the last line the client has, 0 if none."""
    if value is None:
        return 0
    parsed = access.natural(value, access.MAX_ID - 1)  # read_logs asks for seq value + 1
    if parsed is None:
        raise field_error("/since", f"must be an integer from 0 to {access.MAX_ID - 1}")
    return parsed
