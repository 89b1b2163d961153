"""Serves the OpenAPI document of every route (kept true by tests/server/test_openapi.py)."""

from __future__ import annotations

import json
import pathlib

from jupyter_server.auth.decorator import authorized
from tornado import web

from .base import NagelfluhHandler

OPENAPI = pathlib.Path(__file__).parent.parent / "openapi.json"


class OpenAPIHandler(NagelfluhHandler):
    @web.authenticated
    @authorized
    def get(self) -> None:
        document = json.loads(OPENAPI.read_text())
        document["servers"] = [{"url": self.base_url.rstrip("/") + "/nagelfluh/api"}]
        self.reply(document)
