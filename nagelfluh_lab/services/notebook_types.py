"""A project's own process types, registered from notebooks: no package, no entry point, no
server restart. A function registered from a kernel arrives as the notebook the kernel side
generated from it (``metadata.nagelfluh.kind == "function"``), so both run alike.

The notebook's schema is inferred from its ``parameters`` cell by the runner's own
``notebook_schema`` (parsed, never run: the server executes no user code). The notebook is
stored content-addressed in the project's storage (outputs and execution counts stripped:
re-running cells in the Lab is no new code), and its digest is the type's ``version``, so
the cache keys on exactly the notebook a version runs. Each registration with other content
is a new revision; versions keep the revision they were submitted with.

Retiring a type takes it out of use, not out of the record: its revisions stay (versions and
their provenance name them), versions already queued run on, and registering the name again
brings it back.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import nbformat
from nagelfluh_runner.notebook_schema import NotebookSchemaError, notebook_schema, type_name_of
from nagelfluh_runner.pointer import join
from nagelfluh_runner.storage import Storage
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import shapes
from ..db.models import (
    FUNCTION,
    NOTEBOOK,
    Environment,
    ProcessTypeRecord,
    ProcessTypeRevision,
    User,
    now,
)
from ..db.session import Database
from ..errors import Conflict, NotFound, field_error
from ..storage_errors import is_storage_fault, storage_error
from . import access, catalog
from .serialize import type_detail_json

FIELDS = ("project", "notebook", "path", "name", "title", "description", "environment")
MAX_PATH = 4096
# What a stored notebook's key ends in, after ``{project}/types/sha256-<hex>``.
SUFFIX = ".ipynb"

# Reads a notebook at a Jupyter contents path (the contents manager, through the handler).
ContentsReader = Callable[[str], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Request:
    """A registration as the client asked for it, each field checked but not yet resolved."""

    project: object
    notebook: dict[str, Any] | None
    path: str | None
    name: str | None
    title: str | None
    description: str | None
    environment: str


def parse_request(body: Any) -> Request:
    """A registration request, or a 400 naming the field."""
    if not isinstance(body, dict):
        raise field_error("/", "must be an object with the fields project and notebook or path")
    unknown = sorted(body.keys() - set(FIELDS))
    if unknown:
        raise field_error(
            join("", unknown[0]),
            "unknown field; a registration has project, notebook or path, and optionally "
            "name, title, description and environment",
        )
    if "project" not in body:
        raise field_error("/project", "is required: the project the type belongs to")
    notebook, path = body.get("notebook"), body.get("path")
    if (notebook is None) == (path is None):
        raise field_error(
            "/notebook", "give either notebook (the document) or path (in the Jupyter contents)"
        )
    if notebook is not None and not isinstance(notebook, dict):
        raise field_error("/notebook", "must be a notebook: an nbformat 4 JSON object")
    if path is not None and (
        not isinstance(path, str) or not path.strip() or len(path) > MAX_PATH or "\0" in path
    ):
        raise field_error("/path", "must be a path of a notebook in the Jupyter contents")
    texts = {}
    for name, limit in (("name", 255), ("title", 255), ("description", 10_000)):
        value = body.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            raise field_error(f"/{name}", f"must be a string of at most {limit} characters")
        texts[name] = value
    if texts["name"] is not None and not catalog.TYPE_NAME.match(texts["name"]):
        raise field_error("/name", "must be letters, digits, '.', '_' or '-', starting with one")
    environment = body.get("environment", catalog.BOOTSTRAP_ENVIRONMENT)
    if not isinstance(environment, str) or not environment:
        raise field_error("/environment", "must be an environment's name")
    return Request(
        body["project"],
        notebook,
        path.strip("/") if isinstance(path, str) else None,
        texts["name"],
        texts["title"],
        texts["description"],
        environment,
    )


async def notebook_of(request: Request, read: ContentsReader) -> dict[str, Any]:
    """The notebook the request registers: the one it sent, or the one at its path."""
    if request.notebook is not None:
        return request.notebook
    assert request.path is not None  # parse_request gives one of them
    return await read(request.path)


@dataclass(frozen=True)
class Prepared:
    """A notebook ready to store: its bytes, their digest, and what it describes."""

    data: bytes
    digest: str
    name: str
    title: str
    description: str
    schema: dict[str, Any]
    kind: str
    cacheable: bool


def prepare(request: Request, notebook: dict[str, Any]) -> Prepared:
    """Check the notebook, infer its schema and strip it to what runs: a 400 naming the field
    (``/notebook`` or ``/path``, the message the line of the parameters cell)."""
    where = "/notebook" if request.notebook is not None else "/path"
    node = _valid(notebook, where)
    meta = node.metadata.get("nagelfluh", {})
    if not isinstance(meta, dict):
        raise field_error(where, "metadata.nagelfluh must be an object")
    try:
        schema = notebook_schema(node)
    except NotebookSchemaError as error:
        raise field_error(where, f"its parameters cell: {error}") from None
    name = request.name or _text(meta.get("name")) or _name_of(request.path)
    if name is None:
        raise field_error("/name", "is required: the notebook has no path nor metadata name")
    if not catalog.TYPE_NAME.match(name) or len(name) > 255:
        raise field_error("/name", f"{name!r} is not letters, digits, '.', '_' or '-'")
    title = request.title or _text(meta.get("title")) or _heading(node) or name
    description = (
        request.description
        if request.description is not None
        else _text(meta.get("description")) or str(schema.get("description") or "")
    )
    data = stored_form(node)
    return Prepared(
        data,
        "sha256:" + hashlib.sha256(data).hexdigest(),
        name,
        title[:255],
        description,
        schema,
        FUNCTION if meta.get("kind") == FUNCTION else NOTEBOOK,
        meta.get("cacheable") is not False,
    )


def _valid(notebook: dict[str, Any], where: str) -> nbformat.NotebookNode:
    if notebook.get("nbformat") != 4:
        raise field_error(where, "must be an nbformat 4 notebook (nbformat: 4)")
    try:
        # The document as sent is checked against nbformat's schema before anything reads
        # it; read as from a file, sources split into lines are joined again.
        with warnings.catch_warnings():  # cells without ids (nbformat < 4.5) are valid
            warnings.simplefilter("ignore")
            nbformat.validate(copy.deepcopy(notebook), version=4)
        node = nbformat.reads(json.dumps(notebook), as_version=4)  # type: ignore[no-untyped-call]
    except nbformat.ValidationError as error:
        raise field_error(where, f"is not a valid notebook: {error.message}") from None
    except (ValueError, TypeError) as error:
        raise field_error(where, f"is not a valid notebook: {error}") from None
    return node


def stored_form(node: nbformat.NotebookNode) -> bytes:
    """The notebook as stored: without outputs and execution counts (its code and metadata
    are what a run executes), written as nbformat writes a notebook file."""
    stripped = copy.deepcopy(node)
    for cell in stripped.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
    return str(nbformat.writes(stripped)).encode()  # type: ignore[no-untyped-call]


def storage_key(project_id: int, digest: str) -> str:
    return f"{project_id}/types/{digest.replace(':', '-')}{SUFFIX}"


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _name_of(path: str | None) -> str | None:
    """A type name made of a path's file name: ``My analysis.ipynb`` → ``My-analysis``."""
    if path is None:
        return None
    return type_name_of(path.rpartition("/")[2].removesuffix(SUFFIX)) or None


def _heading(node: nbformat.NotebookNode) -> str | None:
    """The first markdown heading's text: how a notebook names itself."""
    for cell in node.cells:
        if cell.cell_type != "markdown":
            continue
        for line in str(cell.source).splitlines():
            if line.startswith("#"):
                return line.lstrip("#").strip() or None
    return None


def register(
    session: Session, user: User, request: Request, prepared: Prepared
) -> tuple[ProcessTypeRecord, bool]:
    """Store ``prepared`` as the project's type (a new one, or its next revision), bringing a
    retired one back; False with the type as it is when it is identical to its current
    revision and in use."""
    project = access.get_project(session, user, request.project)
    if catalog.packaged_type(session, prepared.name) is not None:
        raise Conflict(
            f"{prepared.name!r} is the name of an installed process type: choose another name",
            [{"path": "/name", "message": "is an installed process type's name"}],
        )
    record = _locked(session, project.id, prepared.name)
    environment = catalog.get_environment(session, request.environment, user)
    if record is None:
        record = ProcessTypeRecord(name=prepared.name, project_id=project.id, revision=0)
        session.add(record)
    elif _unchanged(record, prepared, environment):
        revived = record.retired is not None
        record.retired = None
        return record, revived
    record.retired = None
    record.environment = environment
    record.kind = prepared.kind
    record.title, record.description = prepared.title, prepared.description
    record.schema, record.version = prepared.schema, prepared.digest
    record.cacheable = prepared.cacheable
    record.revision = max((r.number for r in record.revisions), default=0) + 1
    record.revisions.insert(
        0,
        ProcessTypeRevision(
            number=record.revision,
            digest=prepared.digest,
            key=storage_key(project.id, prepared.digest),
            schema=prepared.schema,
            title=prepared.title,
            description=prepared.description,
            path=request.path,
            created_by=user.id,
        ),
    )
    session.flush()
    return record, True


def _locked(session: Session, project_id: int, name: str) -> ProcessTypeRecord | None:
    """The project's type ``name``, locked until the transaction ends, as the database holds
    it: a copy loaded before (an environment's types) would hold the revisions as they were
    before another registration committed."""
    return session.scalar(
        select(ProcessTypeRecord)
        .where(ProcessTypeRecord.project_id == project_id, ProcessTypeRecord.name == name)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def retire(session: Session, user: User, project_id: object, name: str) -> ProcessTypeRecord:
    """Retire the project's own type ``name`` (once: retiring it again changes nothing)."""
    project = access.get_project(session, user, project_id)
    record = _locked(session, project.id, name)
    if record is None:
        if catalog.packaged_type(session, name) is not None:
            raise Conflict(
                f"{name!r} is an installed process type, not project {project.id}'s own: it "
                "goes with its package or environment",
                {"type": name, "project": project.id},
            )
        raise NotFound(
            f"project {project.id} has no process type {name!r}",
            {"type": name, "project": project.id},
        )
    if record.retired is None:
        record.retired = now()
    return record


def _unchanged(record: ProcessTypeRecord, prepared: Prepared, environment: Environment) -> bool:
    current = record.current
    return (
        current is not None
        and current.digest == prepared.digest
        and record.environment_id == environment.id
        and (current.title, current.description) == (prepared.title, prepared.description)
    )


class NotebookTypeService:
    """Registers notebooks as project types: the bytes go to storage first (content-addressed,
    so a registration whose transaction fails leaves at most an unreferenced copy of itself),
    then the type and its revision to the database."""

    def __init__(self, db: Database, storage: Storage) -> None:
        self.db = db
        self.storage = storage

    async def register(
        self, user_name: str, body: Any, read: ContentsReader
    ) -> tuple[shapes.ProcessType, bool]:
        """The registered type, and whether it is new (a new type or revision)."""
        request = parse_request(body)
        project_id = await access.as_user(
            self.db, user_name, lambda s, u: access.get_project(s, u, request.project).id
        )
        prepared = prepare(request, await notebook_of(request, read))
        key = storage_key(project_id, prepared.digest)
        await asyncio.to_thread(self._store, key, prepared.data)

        def save(session: Session, user: User) -> tuple[shapes.ProcessType, bool]:
            record, created = register(session, user, request, prepared)
            return type_detail_json(record), created

        try:
            return await access.as_user(self.db, user_name, save)
        except IntegrityError:
            # Another registration of this name made the type (or that revision number)
            # first: this one, tried again, is its next revision, or identical to it.
            return await access.as_user(self.db, user_name, save)

    async def retire(self, user_name: str, project: str | None, name: str) -> shapes.ProcessType:
        """Retire project ``project``'s own type ``name``; the type as it is then."""
        if project is None:
            raise field_error("/project", "is required: the project whose own type it is")
        return await access.as_user(
            self.db, user_name, lambda s, u: type_detail_json(retire(s, u, project, name))
        )

    def _store(self, key: str, data: bytes) -> None:
        try:
            if not self.storage.exists(key):
                self.storage.write_bytes(key, data)
        except Exception as error:
            if is_storage_fault(error):
                raise storage_error(error, "storing the notebook") from error
            raise
