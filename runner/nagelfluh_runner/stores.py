"""Zarr stores: a dataset that is a folder of objects rather than one file.

A store lives in storage under a key prefix ending in ``/`` (``.../model.zarr/``);
that trailing slash marks a dataset's key as a store everywhere (the manifest, the
database, a run's inputs), so every object of the store is read where it lies, in
a directory store on disk or under a prefix on S3, with no archive in between.

A store's digest is the SHA-256 of its listing: one line per object,
``relative-path<TAB>size<TAB>sha256-hex``, sorted by path. It changes when any
object's name or bytes do, and the runner and the server compute it alike.
"""

from __future__ import annotations

import hashlib
import os

from nagelfluh_runner.storage import StorageKeyError, safe_key

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from nagelfluh_runner.storage import Storage

ZARR_MIME_TYPE = "application/x-zarr"
ZARR_FORMAT = "zarr"
# What a store may hold: beyond this it is refused (manifest) or not read (server).
MAX_OBJECTS = 100_000
# A Zarr v3 root holds zarr.json; a v2 root .zgroup (a group) or .zarray (one array).
ROOT_MARKERS = ("zarr.json", ".zgroup", ".zarray")
_CHUNK = 1 << 20


class StoreError(ValueError):
    """A store that cannot be taken as one: empty, too many objects, unsafe names."""


def is_store(key: str) -> bool:
    """Whether a dataset's key names a store (a prefix) rather than one object."""
    return key.endswith("/")


def store_digest(objects: Iterable[tuple[str, int, str]]) -> str:
    """``sha256:`` of the listing of ``(relative path, size, sha256 hex)`` objects."""
    listing = hashlib.sha256()
    for relative, size, hexdigest in sorted(objects):
        listing.update(f"{relative}\t{size}\t{hexdigest}\n".encode())
    return f"sha256:{listing.hexdigest()}"


def file_sha256(path: str) -> tuple[int, str]:
    """The size and SHA-256 hex digest of a local file, read once in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def store_root(names: Iterable[str]) -> str | None:
    """Where a Zarr store's root lies among ``names`` (relative paths, e.g. of a ZIP
    archive's members): ``""`` if at the top, ``"folder/"`` if in a single top folder
    (an archive of ``model.zarr/``), None if the names hold no Zarr store."""
    names = [n for n in names if n and not n.endswith("/")]
    if any(n in ROOT_MARKERS for n in names):
        return ""
    tops = {n.split("/", 1)[0] for n in names}
    if len(tops) == 1:
        top = tops.pop()
        if any(n in {f"{top}/{marker}" for marker in ROOT_MARKERS} for n in names):
            return f"{top}/"
    return None


def local_files(directory: str) -> list[tuple[str, str]]:
    """``(relative key, path)`` of every file under ``directory``, sorted; a symbolic
    link anywhere in it is a StoreError (a store is plain files, not pointers)."""
    found = []
    for folder, subdirs, files in os.walk(directory):
        for name in [*subdirs, *files]:
            if os.path.islink(os.path.join(folder, name)):
                raise StoreError(f"{os.path.join(folder, name)} is a symbolic link")
        for name in files:
            path = os.path.join(folder, name)
            found.append((safe_key(os.path.relpath(path, directory).replace(os.sep, "/")), path))
    if not found:
        raise StoreError(f"{directory} holds no files")
    if len(found) > MAX_OBJECTS:
        raise StoreError(f"{directory} holds over {MAX_OBJECTS} files")
    return sorted(found)


def fetch_store(storage: Storage, prefix: str, directory: str, max_bytes: int | None = None) -> int:
    """Copy every object of the store at ``prefix`` into ``directory`` (a directory
    store xarray opens); returns the bytes copied. StoreError for an empty store, one
    of over MAX_OBJECTS objects, or over ``max_bytes`` in all."""
    keys = storage.list(prefix)
    if not keys:
        raise StoreError(f"the store {prefix} holds no objects")
    if len(keys) > MAX_OBJECTS:
        raise StoreError(f"the store {prefix} holds over {MAX_OBJECTS} objects")
    total = 0
    for key in keys:
        try:
            relative = safe_key(key[len(prefix) :])
        except StorageKeyError as error:
            raise StoreError(str(error)) from None
        target = os.path.join(directory, *relative.split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with storage.open_read(key) as source, open(target, "wb") as sink:
            while chunk := source.read(_CHUNK):
                total += len(chunk)
                if max_bytes is not None and total > max_bytes:
                    raise StoreError(f"the store {prefix} holds over {max_bytes // 2**20} MiB")
                sink.write(chunk)
    return total
