"""The events WebSocket (DESIGN §5): a thin shell around ``EventSession``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, cast

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from ..errors import ServiceUnavailable
from ..services.events import Message, encode_event
from ..services.subscriptions import EventSession
from .base import PROCESSES, ErrorMixin, started

if TYPE_CHECKING:
    from ..app import NagelfluhApp

# WebSocket close code 1013, "Try Again Later" (RFC 6455 registry).
TRY_AGAIN_LATER = 1013
UNAVAILABLE_REASON = "database unavailable: reconnect, then subscribe again from the last seq"


class EventsHandler(
    ErrorMixin, ExtensionHandlerMixin, WebSocketMixin, WebSocketHandler, JupyterHandler
):
    """Errors before the upgrade (403, 405) answer JSON like every route."""

    auth_resource = PROCESSES
    session: EventSession | None = None

    def set_default_headers(self) -> None:
        """JupyterHandler's default headers make no sense on a WebSocket upgrade."""

    @ws_authenticated
    async def get(self, *args: str, **kwargs: str) -> None:
        allowed = await ensure_async(
            self.authorizer.is_authorized(self, self.current_user, "read", PROCESSES)
        )
        if not allowed:
            raise web.HTTPError(403)
        await super().get(*args, **kwargs)

    def open(self, *args: str, **kwargs: str) -> None:
        super().open(*args, **kwargs)
        app = cast("NagelfluhApp", self.extensionapp)
        self.session = EventSession(
            started(app.database),
            started(app.hub),
            app.user_name(self.current_user, self.identity_provider),
            self._send,
            app.ws_backlog_lines,
        )

    async def _send(self, message: Message) -> None:
        try:
            await self.write_message(encode_event(message))
        except WebSocketClosedError:
            self.on_close()

    async def on_message(self, message: str | bytes) -> None:
        try:
            parsed = json.loads(message)
        except ValueError:
            parsed = message
        if self.session is None:
            return
        try:
            await self.session.handle(parsed)
        except ServiceUnavailable:
            # A replay cut short would leave a gap; the client's reconnect (with its
            # backoff) subscribes again from the last seq it has, and sees none.
            self.close(TRY_AGAIN_LATER, UNAVAILABLE_REASON)

    def on_close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None
