"""Zarr directory stores as datasets: a folder goes up as one ZIP archive and
comes back as one.

The server takes a store as a ZIP of its folder (``POST dataset`` with
``Content-Type: application/zip``) and answers a download of one the same way,
its members under a top folder named after the dataset (``model.zarr/zarr.json``).
Archives are written and read through temporary files, never whole in memory;
members are stored, not deflated: Zarr chunks are compressed already.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO, Any

ZARR_MIME_TYPE = "application/x-zarr"
ZIP_MIME_TYPE = "application/zip"
# A Zarr v3 root holds zarr.json; a v2 root .zgroup (a group) or .zarray (one array).
ROOT_MARKERS = ("zarr.json", ".zgroup", ".zarray")
_CHUNK = 1 << 20


class StoreError(ValueError):
    """A folder that does not upload as a store, or an archive that is none (one line)."""


def is_store_folder(directory: str | os.PathLike[str]) -> bool:
    """Whether ``directory`` is the root of a Zarr store (v3 or v2)."""
    return any(os.path.isfile(os.path.join(directory, marker)) for marker in ROOT_MARKERS)


def is_store_dataset(meta: dict[str, Any]) -> bool:
    """Whether a dataset (its JSON) is a store: so typed, or its key a prefix."""
    return meta.get("mime_type") == ZARR_MIME_TYPE or str(meta.get("key", "")).endswith("/")


def store_files(directory: str | os.PathLike[str]) -> list[tuple[str, Path]]:
    """``(relative path, file)`` of every file of the store at ``directory``, sorted;
    StoreError if it is no Zarr store, holds no file, or links to another folder."""
    root = Path(directory)
    if not is_store_folder(root):
        markers = ", ".join(ROOT_MARKERS)
        raise StoreError(
            f"{str(root)!r} is a folder but not a Zarr store (none of {markers} in it): "
            "only a Zarr store's folder uploads as one dataset; upload other files one by one"
        )
    found = []
    for folder, subdirs, files in os.walk(root):
        for name in subdirs:
            if os.path.islink(os.path.join(folder, name)):
                raise StoreError(f"{os.path.join(folder, name)!r} is a link to a folder")
        for name in files:
            path = Path(folder, name)
            found.append((path.relative_to(root).as_posix(), path))
    return sorted(found)


def store_size(directory: str | os.PathLike[str]) -> int:
    """The bytes of every file of a store (what its archive is about as big as)."""
    return sum(path.stat().st_size for _, path in store_files(directory))


def zip_store(directory: str | os.PathLike[str], target: IO[bytes], top: str | None = None) -> None:
    """Write the store at ``directory`` to ``target`` as a ZIP archive of stored
    members under ``top/`` (the folder's name by default), file by file in chunks."""
    files = store_files(directory)
    top = (top or Path(directory).resolve().name).strip("/")
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for relative, path in files:
            archive.write(path, f"{top}/{relative}" if top else relative)


def store_root(names: list[str]) -> str | None:
    """Where a store's root lies among an archive's member names: ``""`` at the top,
    ``"folder/"`` in a single top folder, None if they hold no store."""
    files = [n for n in names if n and not n.endswith("/")]
    if any(n in ROOT_MARKERS for n in files):
        return ""
    tops = {n.split("/", 1)[0] for n in files}
    if len(tops) == 1:
        top = tops.pop()
        if any(f"{top}/{marker}" in files for marker in ROOT_MARKERS):
            return f"{top}/"
    return None


def extract_store(archive: str | os.PathLike[str], directory: str | os.PathLike[str]) -> Path:
    """Unpack a store's ZIP archive into ``directory``; the store's root folder there.
    StoreError if it is no ZIP, holds no store, or names a member outside itself."""
    target = Path(directory)
    try:
        with zipfile.ZipFile(archive) as opened:
            members = [m for m in opened.infolist() if not m.is_dir()]
            root = store_root([m.filename for m in members])
            if root is None:
                raise StoreError("the archive holds no Zarr store (no zarr.json, .zgroup, .zarray)")
            for member in members:
                relative = PurePosixPath(member.filename)
                if relative.is_absolute() or ".." in relative.parts or "\\" in member.filename:
                    raise StoreError(f"the archive names {member.filename!r}, outside the store")
                path = target.joinpath(*relative.parts)
                path.parent.mkdir(parents=True, exist_ok=True)
                with opened.open(member) as source, open(path, "wb") as sink:
                    shutil.copyfileobj(source, sink, _CHUNK)
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as error:
        raise StoreError(f"the archive does not read: {error}") from error
    return target.joinpath(*PurePosixPath(root).parts) if root else target
