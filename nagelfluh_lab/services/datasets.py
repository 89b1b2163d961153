"""Datasets: listing, metadata, byte access with ranges, and user uploads (files, and
Zarr stores sent as ZIP archives)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import math
import mimetypes
import secrets
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

import xarray as xr
from nagelfluh_runner.protocol import uploads_prefix
from nagelfluh_runner.storage import Storage, StorageKeyError, safe_key
from nagelfluh_runner.stores import ZARR_MIME_TYPE, is_store
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from .. import shapes
from ..db.models import Dataset, ProcessVersion, Project, Upload
from ..db.session import Database
from ..errors import Conflict, NotFound, field_error
from ..storage_errors import is_storage_fault, storage_error
from . import access, archives, formats, views
from .paging import page, page_size
from .serialize import dataset_json, dataset_meta_json
from .views import ViewRequest

MAX_NAME = 512
# An upload still unregistered this long after it began was abandoned by its server.
UPLOAD_GRACE_SECONDS = 3600.0
MAX_PAGE = 1000
DEFAULT_PAGE = 100
DESCRIBE_BATCH = 500

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DatasetFile:
    key: str
    name: str
    mime_type: str
    size: int


class ByteStream(Protocol):
    """What ``open`` gives: bytes read a chunk at a time, then closed (a stored file,
    a range of one, or a store's archive made as it is read)."""

    def read(self, size: int = -1, /) -> bytes: ...
    def close(self) -> None: ...


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


class _Stored:
    """What an upload stored: a file at ``key``, or a Zarr store at ``key + "/"`` if
    the body was a ZIP archive of one (``archives``)."""

    def __init__(self, key: str, mime_type: str, size: int = 0) -> None:
        self.key = key
        self.mime_type = mime_type
        self.size = size
        self.digest = ""
        self.metadata: dict[str, Any] = {}

    def write(self, storage: Storage, body: BinaryIO, max_unpacked: int) -> None:
        found = archives.store_members(body)
        if found is None:
            hashing = HashingReader(body)
            self.size = storage.write_stream(self.key, hashing)
            self.digest = hashing.digest()
            return
        self.key += "/"
        self.mime_type = ZARR_MIME_TYPE
        unpacked = archives.unpack(*found, storage, self.key, max_unpacked)
        self.size, self.digest = unpacked.size, unpacked.digest
        self.metadata = {"objects": unpacked.objects}


class DatasetService:
    def __init__(self, db: Database, storage: Storage) -> None:
        self.db = db
        self.storage = storage
        # Uploads to this server begin after it was made (before the server listens):
        # the start-up sweep spares what began since, however small its grace.
        self.created = time.time()

    async def list(
        self,
        user_name: str,
        project: str | None,
        process: str | None,
        version: str | None,
        cursor: str | None,
        limit: str | None,
    ) -> shapes.DatasetList:
        """The caller's datasets, or those of one process or version, newest first."""
        size = page_size(limit, MAX_PAGE, DEFAULT_PAGE)

        def query(session: Session) -> shapes.DatasetList:
            user = access.ensure_user(session, user_name)
            projects = access.visible_project_ids(session, user, project)
            stmt = (
                select(Dataset)
                .where(Dataset.project_id.in_(projects))
                .options(selectinload(Dataset.producer))
            )
            if process is not None:
                proc = access.get_process(session, user, process)
                versions = select(ProcessVersion.id).where(ProcessVersion.process_id == proc.id)
                if version is not None:
                    number = access.parse_id(version, "version")
                    versions = versions.where(ProcessVersion.number == number)
                stmt = stmt.where(Dataset.version_id.in_(versions.scalar_subquery()))
            elif version is not None:
                raise field_error("/version", "a version is given with its process")
            return page(session, stmt, Dataset.id, cursor, size, _datasets_json)

        return await self.db.run(query)

    async def meta(self, user_name: str, dataset_id: str) -> shapes.DatasetMeta:
        return await self.db.run(lambda s: dataset_meta_json(self._get(s, user_name, dataset_id)))

    async def file(self, user_name: str, dataset_id: str) -> DatasetFile:
        def query(session: Session) -> DatasetFile:
            d = self._get(session, user_name, dataset_id)
            return DatasetFile(d.key, d.name, d.mime_type, d.size)

        return await self.db.run(query)

    async def view(self, user_name: str, dataset_id: str, request: ViewRequest) -> dict[str, Any]:
        """Plot-ready, decimated columns of a NetCDF or CSV dataset (see ``views``)."""
        file = await self.file(user_name, dataset_id)
        if file.size > formats.MAX_READ_BYTES:
            limit = formats.MAX_READ_BYTES // 2**20
            raise views.unreadable(file.name, file.mime_type, f"larger than {limit} MiB")
        data = await asyncio.to_thread(self._read, file)
        body = await asyncio.to_thread(views.view, data, request)
        return {"dataset": int(dataset_id), **body}

    def _read(self, file: DatasetFile) -> xr.Dataset:
        with _reading(file):
            try:
                if is_store(file.key):
                    return formats.read_store(self.storage, file.key)
                return formats.read(self.storage.read_bytes(file.key), file.mime_type, file.name)
            except formats.FormatError as error:
                raise views.unreadable(file.name, file.mime_type, error) from error

    def open(self, file: DatasetFile, start: int, end: int) -> ByteStream:
        """The bytes ``[start, end)`` of a file; of a store, its ZIP archive, whole."""
        if is_store(file.key):
            return archives.StoreArchive(self.storage, file.key, file.name.rsplit("/", 1)[-1])
        with _reading(file):
            return self.storage.open_read(file.key, start, end)

    async def upload(
        self,
        user_name: str,
        project: str | None,
        name: str | None,
        content_type: str | None,
        body: BinaryIO,
        max_unpacked: int,
    ) -> shapes.Dataset:
        """Store an uploaded file under ``{project}/uploads/`` and register it as a dataset;
        a ZIP archive of a Zarr store is unpacked into a store (at most ``max_unpacked``
        bytes), any other body stored as it is.

        Each upload writes a key of its own (``uploads/{time}-{random}/{name}``), so
        racing uploads of one name never write over each other; the database's unique
        name picks the one that registers first, and the others delete their bytes."""
        if project is None:
            raise field_error("/project", "the project query parameter is required")
        if not name or len(name) > MAX_NAME:
            raise field_error("/name", f"a file name of 1 to {MAX_NAME} characters is required")
        try:
            relative = safe_key(name)
        except StorageKeyError as error:
            raise field_error("/name", str(error)) from error
        taken = Conflict(f"an upload named {relative!r} already exists", {"name": relative})

        def prepare(session: Session) -> int:
            user = access.ensure_user(session, user_name)
            project_id = access.get_project(session, user, project).id
            if session.scalar(
                select(Upload.id).where(Upload.project_id == project_id, Upload.name == relative)
            ):
                raise taken
            return project_id

        project_id = await self.db.run(prepare)
        key = f"{uploads_prefix(project_id)}{int(time.time())}-{secrets.token_hex(6)}/{relative}"
        mime = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"

        def register(
            session: Session, stored: _Stored, described: dict[str, Any]
        ) -> shapes.Dataset:
            user = access.ensure_user(session, user_name)
            metadata = {"uploaded_by": user.name, **stored.metadata, **described["metadata"]}
            dataset = Dataset(
                project_id=project_id,
                version_id=None,
                name=relative,
                key=stored.key,
                mime_type=stored.mime_type,
                size=stored.size,
                digest=stored.digest,
                meta={**described, "metadata": metadata},  # db.run may retry: no mutation
            )
            session.add(dataset)
            session.flush()
            session.add(
                Upload(project_id=project_id, user_id=user.id, dataset_id=dataset.id, name=relative)
            )
            session.flush()
            return dataset_json(dataset)

        stored = _Stored(key, mime.split(";")[0].strip())
        try:
            await asyncio.to_thread(stored.write, self.storage, body, max_unpacked)
        except archives.ArchiveError as error:
            await self._discard(stored.key)
            raise field_error("/body", f"the Zarr store's ZIP archive: {error}") from None
        except Exception as error:
            await self._discard(stored.key)
            if not is_storage_fault(error):
                raise
            raise storage_error(error, "the upload could not be stored") from error
        try:
            described = await self._describe(stored, relative)
            return await self.db.run(lambda s: register(s, stored, described))
        except IntegrityError:
            await self._discard(stored.key)
            raise taken from None
        except BaseException:
            await self._discard(stored.key)
            raise

    async def _describe(self, stored: _Stored, name: str) -> dict[str, Any]:
        """The stored upload's ``dims`` and ``variables`` (see ``formats``) and, in
        ``metadata``, its ``format``; a file that cannot be read (or is over
        ``formats.MAX_READ_BYTES``) stays opaque: no variables, and why in ``metadata``."""
        if stored.size > formats.MAX_READ_BYTES:
            limit = formats.MAX_READ_BYTES // 2**20
            return {"metadata": {"not_described": f"larger than {limit} MiB"}}

        def read() -> dict[str, Any]:
            if is_store(stored.key):
                return formats.describe_store(self.storage, stored.key)
            raw = self.storage.read_bytes(stored.key)
            return formats.describe_bytes(raw, stored.mime_type, name)

        try:
            described = await asyncio.to_thread(read)
        except formats.FormatError as error:
            return {"metadata": {"not_described": str(error)}}
        except Exception as error:
            if not is_storage_fault(error) and not isinstance(error, OSError):
                raise
            log.warning("could not read back upload %s to describe it", stored.key, exc_info=True)
            return {"metadata": {"not_described": "could not be read back from storage"}}
        kind = described.pop("format")
        return {**described, "metadata": {"format": kind}}

    async def sweep_uploads(
        self, grace: float = UPLOAD_GRACE_SECONDS, begun_before: float = math.inf
    ) -> int:
        """Delete what uploads begun over ``grace`` seconds ago stored but never
        registered (their server died before it could), and their half-written files;
        returns how many. The grace spares uploads another server is still receiving;
        ``begun_before`` spares this server's own (the registered ones are read before
        storage is listed, so one finishing meanwhile would look abandoned)."""
        before = min(time.time() - grace, begun_before)
        projects = await self.db.run_durable(
            lambda s: {
                p: set(s.scalars(select(Dataset.key).join(Upload).where(Upload.project_id == p)))
                for p in s.scalars(select(Project.id))
            }
        )
        removed = 0
        for project_id, registered in projects.items():
            prefix = uploads_prefix(project_id)
            kept = {_folder(key[len(prefix) :]) for key in registered if key.startswith(prefix)}
            removed += await asyncio.to_thread(self.storage.remove_partial, prefix, before)
            for key in await asyncio.to_thread(self.storage.list, prefix):
                relative = key[len(prefix) :]
                if _folder(relative) not in kept and _stamp(relative) + 1 <= before:
                    await asyncio.to_thread(self.storage.delete, key)
                    removed += 1
        if removed:
            log.info("removed %d objects left behind by interrupted uploads", removed)
        return removed

    async def describe_old_uploads(self) -> int:
        """Describe the uploads stored before uploads were described (their metadata has
        no ``format`` and no ``not_described``), so they are offered in plots and as
        readable inputs like new ones; returns how many were."""

        def batch(
            session: Session, after: int
        ) -> tuple[int | None, list[tuple[int, str, _Stored]]]:
            """The last upload id of the next batch after ``after``, and its undescribed."""
            rows = session.execute(
                select(
                    Dataset.id,
                    Dataset.key,
                    Dataset.mime_type,
                    Dataset.size,
                    Dataset.name,
                    Dataset.meta,
                )
                .join(Upload, Upload.dataset_id == Dataset.id)
                .where(Dataset.id > after)
                .order_by(Dataset.id)
                .limit(DESCRIBE_BATCH)
            ).all()
            todo = [
                (row.id, row.name, _Stored(row.key, row.mime_type, row.size))
                for row in rows
                if not _described(row.meta)
            ]
            return (rows[-1].id if rows else None), todo

        def update(session: Session, id: int, described: dict[str, Any]) -> None:
            dataset = session.get_one(Dataset, id)
            old = dict(dataset.meta or {})
            metadata = {**old.get("metadata", {}), **described["metadata"]}
            dataset.meta = {**old, **described, "metadata": metadata}

        count, after = 0, 0
        while True:
            last, todo = await self.db.run_durable(functools.partial(batch, after=after))
            if last is None:
                break
            for dataset_id, name, stored in todo:
                described = await self._describe(stored, name)
                await self.db.run_durable(
                    functools.partial(update, id=dataset_id, described=described)
                )
                count += 1
            after = last
        if count:
            log.info("described %d uploads stored before uploads were described", count)
        return count

    async def _discard(self, key: str) -> None:
        """Delete what a failed upload stored (every object of a store), if anything; a
        failure to is only logged (the start-up sweep finds what was left)."""

        def delete() -> None:
            for each in self.storage.list(key) if is_store(key) else [key]:
                self.storage.delete(each)

        try:
            await asyncio.to_thread(delete)
        except Exception:
            log.warning("could not delete %s of a failed upload", key, exc_info=True)

    @staticmethod
    def _get(session: Session, user_name: str, dataset_id: str) -> Dataset:
        user = access.ensure_user(session, user_name)
        dataset = session.get(Dataset, access.parse_id(dataset_id, "dataset"))
        if dataset is None or dataset.project_id not in access.project_ids(session, user):
            raise NotFound(f"dataset {dataset_id} not found", {"dataset": dataset_id})
        return dataset


@contextlib.contextmanager
def _reading(file: DatasetFile) -> Iterator[None]:
    """Storage faults while reading ``file`` as API errors: bytes gone from storage
    are a 404 naming the key, anything else storage refuses a 503 or 507."""
    try:
        yield
    except FileNotFoundError:
        raise NotFound(
            f"the bytes of {file.name!r} are missing from storage ({file.key})", {"key": file.key}
        ) from None
    except Exception as error:
        if not is_storage_fault(error):
            raise
        raise storage_error(error, f"{file.name!r} could not be read") from error


def _described(meta: dict[str, Any] | None) -> bool:
    """Whether an upload was described when stored (readable or found opaque)."""
    metadata = (meta or {}).get("metadata") or {}
    return "format" in metadata or "not_described" in metadata


def _folder(relative: str) -> str:
    """The upload folder (``{time}-{random}``) of a key below a project's uploads."""
    return relative.partition("/")[0]


def _stamp(relative: str) -> float:
    """When the upload of ``{time}-{random}/{name}`` began, in whole seconds (it began
    within the second after); infinity for any other key (from before uploads were
    stamped: the sweep leaves those alone)."""
    folder, _, name = relative.partition("/")
    seconds, _, token = folder.partition("-")
    return float(seconds) if name and seconds.isdigit() and token else float("inf")


def _datasets_json(rows: Sequence[Dataset]) -> list[shapes.Dataset]:
    return [dataset_json(d) for d in rows]
