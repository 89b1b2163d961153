"""Zarr stores over HTTP, as ZIP archives: unpacking an uploaded one into storage, and
streaming a stored one out.

HTTP moves one body per request, a store is a folder of objects; a ZIP archive of the
folder is what every platform makes and opens. Inside storage the store is unpacked
(``nagelfluh_runner.stores``), so runs and readers reach each object where it lies.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Generator
from dataclasses import dataclass
from typing import IO, BinaryIO

from nagelfluh_runner.storage import Storage, StorageKeyError, safe_key
from nagelfluh_runner.stores import MAX_OBJECTS, store_digest, store_root

CHUNK = 1 << 20
# Fixed member times: the same store downloads as the same bytes.
_EPOCH = (1980, 1, 1, 0, 0, 0)


class ArchiveError(ValueError):
    """An archive of a Zarr store that cannot be unpacked; the message names the member."""


@dataclass(frozen=True)
class Unpacked:
    objects: int
    size: int
    digest: str


def store_members(body: BinaryIO) -> tuple[zipfile.ZipFile, str] | None:
    """The archive in ``body`` and where the Zarr store's root lies in it, if ``body``
    is a ZIP archive holding a Zarr store (``stores.store_root``); else None, and
    ``body`` is read again from its start."""
    try:
        archive = zipfile.ZipFile(body)
        root = store_root(info.filename for info in archive.infolist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        pass
    else:
        if root is not None:
            return archive, root
    body.seek(0)
    return None


def unpack(
    archive: zipfile.ZipFile, root: str, storage: Storage, prefix: str, max_bytes: int
) -> Unpacked:
    """Store every file of the archive under ``root`` at ``prefix`` + its path below
    ``root``. ArchiveError for a member path that is unsafe or given twice, a member
    outside ``root``, one that does not decompress, over MAX_OBJECTS members, or over
    ``max_bytes`` unpacked (counted as decompressed, not as the archive claims)."""
    members = [info for info in archive.infolist() if not info.is_dir()]
    if len(members) > MAX_OBJECTS:
        raise ArchiveError(f"the archive holds over {MAX_OBJECTS} files")
    seen: set[str] = set()
    listing: list[tuple[str, int, str]] = []
    budget = _Budget(max_bytes)
    for info in members:
        relative = _relative(info.filename, root)
        if relative in seen:
            raise ArchiveError(f"the archive holds {info.filename!r} twice")
        seen.add(relative)
        try:
            with archive.open(info) as member:
                reader = _MeasuringReader(member, budget)
                storage.write_stream(prefix + relative, reader)
        except (zipfile.BadZipFile, NotImplementedError, EOFError, RuntimeError) as error:
            raise ArchiveError(f"{info.filename!r} does not unpack: {error}") from None
        listing.append((relative, reader.size, reader.hexdigest()))
    return Unpacked(len(listing), sum(size for _, size, _ in listing), store_digest(listing))


def _relative(name: str, root: str) -> str:
    if not name.startswith(root):
        raise ArchiveError(f"{name!r} lies outside the store's folder {root!r}")
    try:
        return safe_key(name[len(root) :])
    except StorageKeyError as error:
        raise ArchiveError(f"{name!r} is not a safe path: {error}") from None


class _Budget:
    def __init__(self, limit: int) -> None:
        self.left = limit
        self.limit = limit

    def spend(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise ArchiveError(f"the archive unpacks to over {self.limit} bytes")


class _MeasuringReader:
    """Reads through a member, hashing and counting what passes against the budget."""

    def __init__(self, raw: IO[bytes], budget: _Budget) -> None:
        self._raw = raw
        self._budget = budget
        self._hash = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        chunk = self._raw.read(CHUNK if n < 0 else min(n, CHUNK))
        self._budget.spend(len(chunk))
        self._hash.update(chunk)
        self.size += len(chunk)
        return chunk

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


class StoreArchive:
    """A ZIP archive (stored, not compressed: Zarr chunks are compressed already) of
    the store at ``prefix``, its objects under ``folder/``, made as it is read: a
    store of any size downloads in constant memory."""

    def __init__(self, storage: Storage, prefix: str, folder: str) -> None:
        self._storage = storage
        self._prefix = prefix
        self._folder = folder
        self._pending = bytearray()
        self._chunks = self._generate()

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._pending) < n:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._pending += chunk
        size = len(self._pending) if n < 0 else n
        out = bytes(self._pending[:size])
        del self._pending[:size]
        return out

    def close(self) -> None:
        self._chunks.close()

    def _generate(self) -> Generator[bytes, None, None]:
        sink = _Sink()
        with zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
            for key in self._storage.list(self._prefix):
                info = zipfile.ZipInfo(f"{self._folder}/{key[len(self._prefix) :]}", _EPOCH)
                size = self._storage.size(key)
                with (
                    self._storage.open_read(key) as source,
                    archive.open(info, "w", force_zip64=size >= zipfile.ZIP64_LIMIT) as target,
                ):
                    while chunk := source.read(CHUNK):
                        target.write(chunk)
                        yield sink.take()
                yield sink.take()
        yield sink.take()


class _Sink:
    """The write end zipfile writes to; ``take`` hands over what it wrote since."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._written = 0

    def write(self, data: bytes) -> int:
        self._buffer += data
        self._written += len(data)
        return len(data)

    def tell(self) -> int:
        return self._written

    def flush(self) -> None:
        return None

    def close(self) -> None:
        """Nothing to release; zipfile asks for it of a file it writes, never calls it
        on one it was handed."""

    def take(self) -> bytes:
        out = bytes(self._buffer)
        self._buffer.clear()
        return out
