"""Datasets: listing, metadata, byte access with ranges, and user uploads."""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
from dataclasses import dataclass
from typing import BinaryIO

from nagelfluh_runner.protocol import uploads_prefix
from nagelfluh_runner.storage import Storage, StorageKeyError, safe_key
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import Dataset, ProcessVersion, Upload
from ..db.session import Database
from ..errors import Conflict, NotFound, field_error
from . import access, views
from .serialize import dataset_json, dataset_meta_json
from .views import ViewRequest

MAX_NAME = 512


@dataclass(frozen=True)
class DatasetFile:
    key: str
    name: str
    mime_type: str
    size: int


class HashingReader:
    """Reads through to ``raw``, hashing what passes: an upload's digest costs no
    second read."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._hash = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        chunk = self._raw.read(n)
        self._hash.update(chunk)
        return chunk

    def digest(self) -> str:
        return f"sha256:{self._hash.hexdigest()}"


class DatasetService:
    def __init__(self, db: Database, storage: Storage) -> None:
        self.db = db
        self.storage = storage

    async def list(
        self, user_name: str, project: str | None, process: str | None, version: str | None
    ) -> dict:
        def query(session: Session) -> dict:
            user = access.ensure_user(session, user_name)
            projects = access.visible_project_ids(session, user, project)
            stmt = select(Dataset).where(Dataset.project_id.in_(projects))
            if process is not None:
                proc = access.get_process(session, user, process)
                stmt = stmt.join(ProcessVersion).where(ProcessVersion.process_id == proc.id)
                if version is not None:
                    stmt = stmt.where(ProcessVersion.number == access.parse_id(version, "version"))
            rows = session.scalars(stmt.order_by(Dataset.id.desc()))
            return {"items": [dataset_json(d) for d in rows], "next": None}

        return await self.db.run(query)

    async def meta(self, user_name: str, dataset_id: str) -> dict:
        return await self.db.run(lambda s: dataset_meta_json(self._get(s, user_name, dataset_id)))

    async def file(self, user_name: str, dataset_id: str) -> DatasetFile:
        def query(session: Session) -> DatasetFile:
            d = self._get(session, user_name, dataset_id)
            return DatasetFile(d.key, d.name, d.mime_type, d.size)

        return await self.db.run(query)

    async def view(self, user_name: str, dataset_id: str, request: ViewRequest) -> dict:
        """Plot-ready, decimated columns of a NetCDF dataset (see ``views``)."""
        file = await self.file(user_name, dataset_id)
        raw = await asyncio.to_thread(self.storage.read_bytes, file.key)
        body = await asyncio.to_thread(views.view, raw, file.mime_type, request)
        return {"dataset": int(dataset_id), **body}

    def open(self, file: DatasetFile, start: int, end: int) -> BinaryIO:
        return self.storage.open_read(file.key, start, end)

    async def upload(
        self,
        user_name: str,
        project: str | None,
        name: str | None,
        content_type: str | None,
        body: BinaryIO,
    ) -> dict:
        """Store an uploaded file under ``{project}/uploads/`` and register it as a dataset."""
        if project is None:
            raise field_error("/project", "the project query parameter is required")
        if not name or len(name) > MAX_NAME:
            raise field_error("/name", f"a file name of 1 to {MAX_NAME} characters is required")
        try:
            relative = safe_key(name)
        except StorageKeyError as error:
            raise field_error("/name", str(error)) from error

        def prepare(session: Session) -> int:
            user = access.ensure_user(session, user_name)
            return access.get_project(session, user, project).id

        project_id = await self.db.run(prepare)
        key = uploads_prefix(project_id) + relative
        mime = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"

        taken = Conflict(f"an upload named {relative!r} already exists", {"name": relative})

        def register(session: Session, size: int, digest: str) -> dict:
            user = access.ensure_user(session, user_name)
            if session.scalar(select(Dataset).where(Dataset.key == key)) is not None:
                raise taken
            dataset = Dataset(
                project_id=project_id,
                version_id=None,
                name=relative,
                key=key,
                mime_type=mime.split(";")[0].strip(),
                size=size,
                digest=digest,
                meta={"metadata": {"uploaded_by": user.name}},
            )
            session.add(dataset)
            session.flush()
            session.add(
                Upload(project_id=project_id, user_id=user.id, dataset_id=dataset.id, name=relative)
            )
            return dataset_json(dataset)

        if await asyncio.to_thread(self.storage.exists, key):
            raise taken
        hashing = HashingReader(body)
        size = await asyncio.to_thread(self.storage.write_stream, key, hashing)
        return await self.db.run(lambda s: register(s, size, hashing.digest()))

    @staticmethod
    def _get(session: Session, user_name: str, dataset_id: str) -> Dataset:
        user = access.ensure_user(session, user_name)
        dataset = session.get(Dataset, access.parse_id(dataset_id, "dataset"))
        if dataset is None or dataset.project_id not in access.project_ids(session, user):
            raise NotFound(f"dataset {dataset_id} not found", {"dataset": dataset_id})
        return dataset
