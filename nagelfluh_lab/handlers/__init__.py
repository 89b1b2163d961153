"""URL routes of the extension, all under ``{base_url}nagelfluh/api/``."""

from __future__ import annotations

from typing import Any

from tornado.web import RequestHandler

from .account import AccountHandler, EstimateHandler
from .base import NotFoundHandler
from .datasets import DatasetHandler, DatasetMetaHandler, DatasetsHandler, DatasetViewHandler
from .environments import (
    EnvironmentHandler,
    EnvironmentsHandler,
    ProcessTypeHandler,
    ProcessTypesHandler,
)
from .events import EventsHandler
from .openapi import OpenAPIHandler
from .processes import (
    CancelHandler,
    CompareHandler,
    LogsHandler,
    ProcessesHandler,
    ProcessHandler,
    RerunHandler,
    RestoreHandler,
    VersionHandler,
    VersionsHandler,
)
from .projects import ProjectsHandler

PREFIX = "nagelfluh/api"
ID = r"(\d+)"

Handler = type[RequestHandler]

ROUTES: list[tuple[str, Handler]] = [
    ("environments", EnvironmentsHandler),
    (r"environments/([^/]+)", EnvironmentHandler),
    ("process-types", ProcessTypesHandler),
    (r"process-types/([^/]+)", ProcessTypeHandler),
    ("projects", ProjectsHandler),
    ("process", ProcessesHandler),
    (f"process/{ID}", ProcessHandler),
    (f"process/{ID}/versions", VersionsHandler),
    (f"process/{ID}/versions/compare", CompareHandler),
    (f"process/{ID}/versions/{ID}", VersionHandler),
    (f"process/{ID}/versions/{ID}/cancel", CancelHandler),
    (f"process/{ID}/versions/{ID}/restore", RestoreHandler),
    (f"process/{ID}/versions/{ID}/rerun", RerunHandler),
    (f"process/{ID}/versions/{ID}/logs", LogsHandler),
    ("dataset", DatasetsHandler),
    (f"dataset/{ID}", DatasetHandler),
    (f"dataset/{ID}/meta", DatasetMetaHandler),
    (f"dataset/{ID}/view", DatasetViewHandler),
    ("estimate", EstimateHandler),
    ("account", AccountHandler),
    ("events", EventsHandler),
    ("openapi.json", OpenAPIHandler),
]


def routes() -> list[tuple[str, Handler] | tuple[str, Handler, dict[str, Any]]]:
    """ROUTES under PREFIX; a handler whose route has ids is told so (``path_ids``)."""
    return [
        (f"{PREFIX}/{path}", handler, {"path_ids": True})
        if ID in path
        else (f"{PREFIX}/{path}", handler)
        for path, handler in ROUTES
    ] + [(f"{PREFIX}/(.*)", NotFoundHandler)]
