"""REST handlers of datasets (DESIGN §5): uploads streamed in, bytes streamed out
(single ranges honoured, Zarr stores as ZIP archives), metadata and views."""

from __future__ import annotations

import asyncio
import re
import tempfile
from typing import TYPE_CHECKING, BinaryIO, cast
from urllib.parse import quote

from jupyter_server.auth.decorator import authorized
from nagelfluh_runner.stores import is_store
from tornado import web
from tornado.http1connection import HTTP1Connection

from ..errors import field_error
from ..services.datasets import DatasetFile
from ..services.views import parse_view_request
from ..storage_errors import storage_error
from .base import DATASETS, NagelfluhHandler

if TYPE_CHECKING:
    from ..services.datasets import ByteStream


@web.stream_request_body
class DatasetsHandler(NagelfluhHandler):
    """Lists datasets; POST streams an upload to a temporary file, then to storage."""

    auth_resource = DATASETS

    _spool: tempfile.SpooledTemporaryFile[bytes] | None = None
    _spool_error: OSError | None = None  # the server's own temporary space ran out

    async def prepare(self) -> None:  # type: ignore[override]  # as APIHandler's own
        await super().prepare()
        if self.request.method == "POST":
            # Checked before the body streams in, not after gigabytes of it.
            if self.current_user is None or not await self.allowed("write", DATASETS):
                raise web.HTTPError(403, f"not authorized to write on {DATASETS}")
            connection = cast(HTTP1Connection, self.request.connection)  # tornado's server's
            connection.set_max_body_size(self.app.max_upload_bytes)
            self._spool = tempfile.SpooledTemporaryFile(max_size=8 * 2**20)

    def data_received(self, chunk: bytes) -> None:
        if self._spool is not None and self._spool_error is None:
            try:
                self._spool.write(chunk)
            except OSError as error:
                self._spool_error = error

    def on_finish(self) -> None:
        self._close_spool()

    def on_connection_close(self) -> None:
        """A client gone mid-upload: its spooled bytes go now, not when the handler is
        collected (an aborted upload's open temporary file held its disk space)."""
        self._close_spool()
        super().on_connection_close()

    def _close_spool(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(
            await self.datasets.list(
                self.user_name,
                self.get_query_argument("project", None),
                self.get_query_argument("process", None),
                self.get_query_argument("version", None),
                self.get_query_argument("cursor", None),
                self.get_query_argument("limit", None),
            )
        )

    @web.authenticated
    @authorized
    async def post(self) -> None:
        if self._spool_error is not None:
            raise storage_error(self._spool_error, "the upload could not be received")
        spool = self._spool
        assert spool is not None, "prepare spools every POST it lets through"
        spool.seek(0)
        created = await self.datasets.upload(
            self.user_name,
            self.get_query_argument("project", None),
            self.get_query_argument("name", None),
            _media_type(self.request.headers.get("Content-Type")),
            cast(BinaryIO, spool),  # binary, as its type parameter says
            self.app.max_upload_bytes,
        )
        self.reply(created, 201)


# RFC 9110 media type: type "/" subtype, both tokens (parameters follow a ";").
_MEDIA_TYPE = re.compile(r"[-!#$%&'*+.^_`|~0-9A-Za-z]+/[-!#$%&'*+.^_`|~0-9A-Za-z]+")


def _media_type(header: str | None) -> str | None:
    """An upload's Content-Type without parameters (None if absent or empty: guessed
    from the name), or a 400: it becomes the dataset's type, sent back as a header."""
    if not header or not header.strip():
        return None
    media_type = header.split(";")[0].strip()
    if not _MEDIA_TYPE.fullmatch(media_type) or len(media_type) > 255:
        raise field_error(
            "/Content-Type",
            f"{media_type!r} is not a media type of up to 255 characters (e.g. text/csv)",
        )
    return media_type


class DatasetHandler(NagelfluhHandler):
    """The bytes of a dataset, streamed, with single-range requests honoured."""

    auth_resource = DATASETS

    CHUNK = 256 * 1024

    @web.authenticated
    @authorized
    async def get(self, dataset_id: str) -> None:
        file = await self.datasets.file(self.user_name, dataset_id)
        if is_store(file.key):
            await self._archive(file)
            return
        start, end = self._range(file.size)
        self.set_header("Accept-Ranges", "bytes")
        self.set_header("Content-Type", file.mime_type)
        self.set_header("Content-Disposition", _content_disposition(file.name))
        if (start, end) != (0, file.size):
            self.set_status(206)
            self.set_header("Content-Range", f"bytes {start}-{end - 1}/{file.size}")
        self.set_header("Content-Length", str(end - start))
        await self._send(self.datasets.open(file, start, end))

    async def _archive(self, file: DatasetFile) -> None:
        """A Zarr store as a ZIP archive, made as it is sent: no length known ahead,
        so no ranges either."""
        self.set_header("Accept-Ranges", "none")
        self.set_header("Content-Type", "application/zip")
        self.set_header("Content-Disposition", _content_disposition(f"{file.name}.zip"))
        await self._send(self.datasets.open(file, 0, file.size))

    async def _send(self, stream: ByteStream) -> None:
        """Stream to the client, reading storage off the event loop (S3 or a slow disk
        would stall every other request)."""
        try:
            while chunk := await asyncio.to_thread(stream.read, self.CHUNK):
                self.write(chunk)
                await self.flush()
        finally:
            stream.close()
        self.finish()

    def _range(self, size: int) -> tuple[int, int]:
        header = self.request.headers.get("Range")
        if not header:
            return 0, size
        parsed = _parse_range(header, size)
        if parsed is None:
            self.set_header("Content-Range", f"bytes */{size}")
            raise web.HTTPError(416, "the requested range is not satisfiable")
        return parsed


def _content_disposition(name: str) -> str:
    """``inline`` with the file name as an ASCII fallback and exactly, in UTF-8 (RFC 6266,
    RFC 8187): a name with quotes, line breaks or non-Latin-1 letters cannot break the
    header (tornado refused to send those)."""
    base = name.rsplit("/", 1)[-1]
    fallback = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in base)
    return f"inline; filename=\"{fallback}\"; filename*=UTF-8''{quote(base, safe='')}"


# Positions of more than 18 digits make the Range malformed rather than ``int``'s problem.
_BYTE_RANGE = re.compile(r"bytes=([0-9]{0,18})-([0-9]{0,18})", re.IGNORECASE)


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """[start, end) of a single ``bytes=first-last`` or ``bytes=-suffix`` range; None if
    it cannot be satisfied (416). A Range this server does not serve (another unit,
    several ranges, malformed) is ignored, as RFC 9110 allows: the whole, 200."""
    match = _BYTE_RANGE.fullmatch(header.strip())
    if match is None or not any(match.groups()):
        return 0, size
    first, last = match.groups()
    if not first:
        suffix = int(last)
        return (size - min(suffix, size), size) if suffix and size else None
    start = int(first)
    if last and int(last) < start:
        return 0, size
    return (start, min(int(last) + 1, size) if last else size) if start < size else None


class DatasetViewHandler(NagelfluhHandler):
    auth_resource = DATASETS

    @web.authenticated
    @authorized
    async def get(self, dataset_id: str) -> None:
        request = parse_view_request(
            self.get_query_argument("x", None),
            self.get_query_arguments("y"),
            self.get_query_argument("points", None),
            self.get_query_argument("x0", None),
            self.get_query_argument("x1", None),
            z=self.get_query_argument("z", None),
            width=self.get_query_argument("width", None),
            height=self.get_query_argument("height", None),
            y0=self.get_query_argument("y0", None),
            y1=self.get_query_argument("y1", None),
            reduce=self.get_query_argument("reduce", None),
        )
        self.reply(await self.datasets.view(self.user_name, dataset_id, request))


class DatasetMetaHandler(NagelfluhHandler):
    auth_resource = DATASETS

    @web.authenticated
    @authorized
    async def get(self, dataset_id: str) -> None:
        self.reply(await self.datasets.meta(self.user_name, dataset_id))
