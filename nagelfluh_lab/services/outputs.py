"""A finished run's outputs, as the server checks them before registering any.

The job writes ``_manifest.json`` itself, under the version's own prefix, which it
may write freely: so the manifest is a claim, never trusted for where or what.
Every entry must name an object under that same prefix (reached through no
symbolic link), whose size and digest the server reads from storage itself; its
name, media type and descriptions must be what a dataset can hold. One bad entry
fails the whole run (``reason: manifest``) with a message naming it, and nothing
is registered.

An entry whose path ends in ``/`` is a Zarr store (``nagelfluh_runner.stores``): the
server lists the objects under it itself and measures every one; its size is their
total and its digest that of their listing. No entry may lie inside a store.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from nagelfluh_runner.protocol import (
    MANIFEST_CONTRACT_VERSION,
    MANIFEST_NAME,
    RUNNER_SIDE,
    SERVER_SIDE,
    contract_mismatch,
    version_prefix,
)
from nagelfluh_runner.storage import Storage, StorageKeyError, safe_key
from nagelfluh_runner.stores import MAX_OBJECTS, is_store, store_digest

CHUNK = 1 << 20
MAX_NAME = 1024
MAX_MIME = 255
MAX_DESCRIPTION_BYTES = 64 * 1024  # title, dims, variables and metadata of one entry
MAX_MANIFEST_BYTES = 64 * 2**20
DEFAULT_MIME = "application/octet-stream"
# RFC 6838 type/subtype with optional parameters, printable ASCII only: it is served
# as the Content-Type of the dataset's bytes.
_MIME = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*"
    r"(\s*;\s*[A-Za-z0-9!#$&^_.+-]+=[\x21-\x7e]+)*$"
)


class ManifestError(Exception):
    """Why the run's outputs cannot be registered; the message names the entry."""


@dataclass(frozen=True)
class Output:
    name: str
    key: str
    mime_type: str
    size: int
    digest: str
    meta: dict[str, Any]


def read_outputs(storage: Storage, project: int, process: int, version: int) -> list[Output]:
    """The outputs the run's manifest lists, each checked against storage."""
    prefix = version_prefix(project, process, version)
    manifest = _load(storage, prefix + MANIFEST_NAME)
    for field, expected in (("project", project), ("process", process), ("version", version)):
        if field in manifest and str(manifest[field]) != str(expected):
            raise ManifestError(
                f"{MANIFEST_NAME} claims {field} {manifest[field]!r}; this run is "
                f"{field} {expected}"
            )
    mismatch = contract_mismatch(
        manifest.get(MANIFEST_CONTRACT_VERSION), SERVER_SIDE, RUNNER_SIDE
    )
    if mismatch:
        raise ManifestError(mismatch)
    entries = manifest.get("datasets")
    if not isinstance(entries, list):
        raise ManifestError(f"{MANIFEST_NAME} has no list of datasets")
    outputs: list[Output] = []
    keys: set[str] = set()
    names: set[str] = set()
    for index, entry in enumerate(entries, 1):
        output = _check(storage, prefix, index, entry)
        where = _where(index, entry)
        if output.key in keys:
            raise ManifestError(f"{where} lists {output.key} a second time")
        if output.name in names:
            raise ManifestError(f"{where}: a second output named {output.name!r}")
        keys.add(output.key)
        names.add(output.name)
        outputs.append(output)
    stores = [o.key for o in outputs if is_store(o.key)]
    for index, output in enumerate(outputs, 1):
        inside = next((s for s in stores if s != output.key and output.key.startswith(s)), None)
        if inside is not None:
            raise ManifestError(
                f"{MANIFEST_NAME} entry {index} ({output.name!r}) lies inside the store {inside}"
            )
    return outputs


def measure(storage: Storage, key: str) -> tuple[int, str]:
    """The size and ``sha256:`` digest of what storage holds at ``key``."""
    size, hexdigest = _sha256(storage, key)
    return size, f"sha256:{hexdigest}"


def measure_store(storage: Storage, prefix: str) -> tuple[int, int, str]:
    """The object count, total size and listing digest of the store at ``prefix``;
    FileNotFoundError if it holds nothing, ManifestError if over MAX_OBJECTS."""
    keys = storage.list(prefix)
    if not keys:
        raise FileNotFoundError(prefix)
    if len(keys) > MAX_OBJECTS:
        raise ManifestError(f"the store {prefix} holds over {MAX_OBJECTS} objects")
    listing = [(key[len(prefix) :], *_sha256(storage, key)) for key in keys]
    return len(keys), sum(size for _, size, _ in listing), store_digest(listing)


def _sha256(storage: Storage, key: str) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with storage.open_read(key) as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _load(storage: Storage, key: str) -> dict[str, Any]:
    try:
        if storage.size(key) > MAX_MANIFEST_BYTES:
            raise ManifestError(f"{MANIFEST_NAME} is larger than {MAX_MANIFEST_BYTES} bytes")
        manifest = json.loads(storage.read_bytes(key))
    except FileNotFoundError:
        raise ManifestError(f"The run ended without writing its {MANIFEST_NAME}") from None
    except (OSError, StorageKeyError) as error:
        raise ManifestError(f"{MANIFEST_NAME} could not be read: {error}") from None
    except ValueError as error:
        raise ManifestError(f"{MANIFEST_NAME} is not valid JSON: {error}") from None
    if not isinstance(manifest, dict):
        raise ManifestError(f"{MANIFEST_NAME} is not a JSON object")
    return manifest


def _where(index: int, entry: object) -> str:
    path = entry.get("path") if isinstance(entry, dict) else None
    return f"{MANIFEST_NAME} entry {index}" + (f" ({path!r})" if isinstance(path, str) else "")


def _check(storage: Storage, prefix: str, index: int, entry: object) -> Output:
    where = _where(index, entry)
    if not isinstance(entry, dict):
        raise ManifestError(f"{where} is not a JSON object")
    path = entry.get("path")
    if not isinstance(path, str):
        raise ManifestError(f"{where} has no path")
    try:
        key = safe_key(path) + ("/" if is_store(path) else "")
    except StorageKeyError as error:
        raise ManifestError(f"{where}: {error}") from None
    if not key.startswith(prefix) or key in (prefix, prefix + MANIFEST_NAME):
        raise ManifestError(f"{where} names {key}, which is not an output of this run ({prefix})")
    name = entry.get("key", key[len(prefix) :].rstrip("/"))
    if not isinstance(name, str) or not _clean(name) or len(name) > MAX_NAME:
        raise ManifestError(f"{where}: its name must be a string of 1 to {MAX_NAME} characters")
    mime = entry.get("mime_type") or DEFAULT_MIME
    if not isinstance(mime, str) or len(mime) > MAX_MIME or not _MIME.match(mime):
        raise ManifestError(f"{where}: {mime!r} is not a media type (type/subtype)")
    meta = {k: entry[k] for k in ("title", "variables", "dims", "metadata") if k in entry}
    _check_description(where, meta)
    try:
        size, digest = measure_store(storage, key)[1:] if is_store(key) else measure(storage, key)
    except FileNotFoundError:
        raise ManifestError(f"{where} names {key}, which the run did not write") from None
    except (OSError, StorageKeyError) as error:
        raise ManifestError(f"{where}: {key} cannot be read: {error}") from None
    claimed = entry.get("size")
    if claimed is not None and claimed != size:
        raise ManifestError(f"{where} claims {claimed!r} bytes; storage holds {size}")
    return Output(name, key, mime, size, digest, meta)


def _check_description(where: str, meta: dict[str, Any]) -> None:
    title = meta.get("title")
    if title is not None and not (isinstance(title, str) and len(title) <= MAX_NAME):
        raise ManifestError(f"{where}: its title must be a string of at most {MAX_NAME} characters")
    if not isinstance(meta.get("metadata", {}), dict):
        raise ManifestError(f"{where}: its metadata must be a JSON object")
    dims = meta.get("dims", {})
    if not isinstance(dims, dict) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in dims.values()
    ):
        raise ManifestError(f"{where}: its dims must map names to sizes")
    variables = meta.get("variables", [])
    if not isinstance(variables, list) or not all(
        isinstance(v, dict) and isinstance(v.get("name"), str) for v in variables
    ):
        raise ManifestError(f"{where}: its variables must be objects with a name")
    try:
        encoded = json.dumps(meta, allow_nan=False).encode()
    except ValueError as error:
        raise ManifestError(f"{where}: its description is not storable JSON: {error}") from None
    if len(encoded) > MAX_DESCRIPTION_BYTES or not _clean_json(meta):
        raise ManifestError(
            f"{where}: its description must be at most {MAX_DESCRIPTION_BYTES} bytes of "
            "text without NUL characters or unpaired surrogates"
        )


def _clean(text: str) -> bool:
    """Whether ``text`` is non-empty and storable: UTF-8 encodable (no lone surrogates,
    which JSON escapes allow) and without NUL (which PostgreSQL text refuses)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return bool(text) and "\x00" not in text


def _clean_json(value: object) -> bool:
    if isinstance(value, str):
        return not value or _clean(value)
    if isinstance(value, dict):
        return all(_clean(k) and _clean_json(v) for k, v in value.items())
    if isinstance(value, list):
        return all(map(_clean_json, value))
    return True
