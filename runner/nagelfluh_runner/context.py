"""StorageContext: what a running process may read, write and report.

Locally nothing but this object stands between a process and the whole
storage, so it enforces DESIGN §4: read inside the project, write only under
the version's own prefix. It also records every output for the manifest the
server registers datasets from.
"""

from __future__ import annotations

import json
import sys

from nagelfluh_runner.protocol import (
    CONTRACT_VERSION,
    MANIFEST_CONTRACT_VERSION,
    MANIFEST_NAME,
    PROGRESS_PREFIX,
    project_prefix,
    version_prefix,
)
from nagelfluh_runner.storage import StorageKeyError, safe_key, safe_prefix

TYPE_CHECKING = False
if TYPE_CHECKING:
    import builtins
    import os
    from collections.abc import Callable, Mapping
    from typing import Any, BinaryIO, TextIO

    import xarray as xr

    from nagelfluh_runner.netcdf import Variable, VariableSpec
    from nagelfluh_runner.storage import ByteReader, PendingWrite, Storage

NETCDF_MIME_TYPE = "application/x-netcdf"
NETCDF_FORMATS = ("netcdf3", "netcdf4")
NETCDF4_GZIP_LEVEL = 4


def _json_id(value: str) -> int | str:
    """IDs travel as environment strings; numeric ones go back to the server as numbers."""
    return int(value) if value.isdigit() else value


class OutputWriteError(Exception):
    """Storage would not take an output (full, read-only, refusing): the run's fault is
    not the process's, and the runner says so with its own exit code."""

    def __init__(self, key: str, error: BaseException) -> None:
        super().__init__(f"could not write {key}: {error}")
        self.key = key


def _storage_fault(error: BaseException) -> bool:
    return isinstance(error, OSError) or type(error).__module__.startswith("botocore")


class _Writing:
    """Turns a storage fault while writing ``key`` into OutputWriteError."""

    def __init__(self, key: str) -> None:
        self.key = key

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if exc is not None and _storage_fault(exc):
            raise OutputWriteError(self.key, exc) from exc


class _OutputWrite:
    """Records the output in the manifest once its bytes are safely stored."""

    def __init__(self, key: str, pending: PendingWrite, record: Callable[[int], object]) -> None:
        self._key = key
        self._pending = pending
        self._record = record

    def __enter__(self) -> BinaryIO:
        return self._pending.__enter__()

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        with _Writing(self._key):
            self._pending.__exit__(exc_type, exc, tb)
        if exc is not None and _storage_fault(exc):
            raise OutputWriteError(self._key, exc) from exc
        if exc_type is None:
            self._record(self._pending.size)


class StorageContext:
    """The storage view and reporting channel handed to ``ProcessType.run``."""

    def __init__(
        self,
        storage: Storage,
        project: int | str,
        process: int | str,
        version: int | str,
        *,
        process_type: str = "",
        stdout: TextIO | None = None,
    ) -> None:
        self.storage = storage
        self.project = str(project)
        self.process = str(process)
        self.version = int(version)
        self.process_type = process_type
        for value in (self.project, self.process):
            if "/" in value or safe_key(value) != value:
                raise StorageKeyError(f"{value!r} is not a single path segment")
        self.project_prefix = project_prefix(self.project)
        self.prefix = version_prefix(self.project, self.process, self.version)
        self.outputs: dict[str, dict[str, Any]] = {}
        self._stdout = stdout

    # ------------------------------------------------------------ reading

    def readable_key(self, key: str) -> str:
        """``key`` (relative to STORAGE_BASE) if inside the project, else StorageKeyError."""
        normal = safe_key(key)
        if not normal.startswith(self.project_prefix):
            raise StorageKeyError(f"{key!r} is outside project {self.project}")
        return normal

    def open_read(self, key: str, start: int = 0, end: int | None = None) -> ByteReader:
        return self.storage.open_read(self.readable_key(key), start, end)

    def read_bytes(self, key: str) -> bytes:
        return self.storage.read_bytes(self.readable_key(key))

    def exists(self, key: str) -> bool:
        return self.storage.exists(self.readable_key(key))

    def list(self, prefix: str = "") -> list[str]:
        """Keys in the project starting with ``prefix`` (a full key prefix; all by default)."""
        normal = safe_prefix(prefix) if prefix else self.project_prefix
        if not normal.startswith(self.project_prefix):
            raise StorageKeyError(f"{prefix!r} is outside project {self.project}")
        return self.storage.list(normal)

    # ------------------------------------------------------------ writing

    def output_key(self, name: str) -> str:
        """The full key of output ``name``, which is relative to the version prefix.

        A store output (``write_zarr``) owns everything under its name: no other output
        may lie inside it, nor take its name as a single object."""
        relative = safe_key(name)
        if relative == MANIFEST_NAME:
            raise StorageKeyError(f"{MANIFEST_NAME} is written by the runner")
        for other, entry in self.outputs.items():
            if not entry["path"].endswith("/"):
                continue
            if relative == other:
                raise StorageKeyError(f"{relative!r} is already a Zarr store output")
            if relative.startswith(other + "/"):
                raise StorageKeyError(
                    f"{relative!r} lies inside the Zarr store output {other!r}: a store "
                    "holds only its own objects (choose a name outside it)"
                )
        return self.prefix + relative

    def open_write(
        self,
        name: str,
        mime_type: str = "application/octet-stream",
        *,
        title: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> _OutputWrite:
        """A writable file streamed to output ``name`` (recorded when the block ends cleanly)."""
        key = self.output_key(name)
        entry = self._entry(name, key, mime_type, title, metadata)
        with _Writing(key):
            pending = self.storage.open_write(key)
        return _OutputWrite(key, pending, lambda size: self._record(entry, size))

    def write_bytes(
        self,
        name: str,
        data: bytes,
        mime_type: str = "application/octet-stream",
        *,
        title: str | None = None,
        units: str | Mapping[str, str | None] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Store ``data`` as output ``name``; ``units`` (one, or per column, None where a
        column has none) go to the metadata."""
        metadata = dict(metadata or {})
        if units is not None:
            metadata["units"] = units if isinstance(units, str) else dict(units)
        key = self.output_key(name)
        entry = self._entry(name, key, mime_type, title, metadata)
        with _Writing(key):
            size = self.storage.write_bytes(key, data)
        return self._record(entry, size)

    def write_netcdf(
        self,
        name: str,
        dims: Mapping[str, int] | None,
        variables: Mapping[str, VariableSpec],
        attrs: dict[str, Any] | None = None,
        *,
        title: str | None = None,
        metadata: dict[str, Any] | None = None,
        format: str = "netcdf3",
    ) -> dict[str, Any]:
        """Store a NetCDF output; every variable must carry a ``units`` attribute.

        Units are required because outputs are plotted and chained into other
        processes, where a number without its unit is a trap (use "1" for ratios).
        ``format="netcdf3"`` (the default) uses the runner's numpy-only writer;
        ``format="netcdf4"`` writes gzip-compressed NetCDF-4/HDF5 through xarray and
        h5netcdf (the ``data`` extra), imported only then: that import costs a fresh
        process ~0.5 s more (benchmarks/netcdf_outputs.py), so it stays opt-in.
        """
        if format not in NETCDF_FORMATS:
            raise ValueError(f"{name}: format {format!r} is not one of {NETCDF_FORMATS}")
        from nagelfluh_runner.netcdf import prepare, write_netcdf

        sizes, prepared = prepare(dims, variables)
        for var_name, var in prepared.items():
            units = var.attrs.get("units")
            if not isinstance(units, str) or not units:
                raise ValueError(_no_units(name, var_name))
        attrs = dict(attrs or {})
        if title:
            attrs.setdefault("title", title)
        attrs.setdefault("source", self._source())
        key = self.output_key(name)
        entry = self._entry(name, key, NETCDF_MIME_TYPE, title or attrs.get("title"), metadata)
        entry["dims"] = sizes
        entry["variables"] = [_describe_variable(n, v) for n, v in prepared.items()]
        if format == "netcdf4":
            data = _netcdf4_bytes(prepared, attrs)
            with _Writing(key), self.storage.open_write(key) as handle:
                handle.write(data)
            return self._record(entry, len(data))
        with _Writing(key), self.storage.open_write(key) as handle:
            size = write_netcdf(handle, sizes, prepared, attrs)
        return self._record(entry, size)

    def write_zarr(
        self,
        name: str,
        data: xr.Dataset | str | os.PathLike[str],
        *,
        title: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Store a Zarr store output: a folder of objects under ``name/``.

        ``data`` is an ``xarray.Dataset``, written here as a Zarr v3 store with
        ``to_zarr`` (no consolidated metadata: it is not part of the v3 specification,
        and readers here copy the whole store anyway), or the path of a Zarr directory
        store (v2 or v3) the type wrote itself, uploaded as it is. Every variable must
        carry a ``units`` attribute, as in ``write_netcdf``; the store's root gets the
        same ``title`` and ``source`` attributes. Every file becomes one object
        ``name/relative-path``; the manifest entry's ``path`` ends in ``/`` and carries
        the store's object count and digest (``nagelfluh_runner.stores.store_digest``).
        Needs the ``data`` extra (xarray, zarr), imported only here.
        """
        import tempfile

        from nagelfluh_runner.datasets import _xarray
        from nagelfluh_runner.stores import ZARR_FORMAT, ZARR_MIME_TYPE, store_digest

        relative = safe_key(name)
        self._check_store_name(relative)
        key = self.output_key(relative)
        metadata = dict(metadata or {})
        if metadata.get("format", ZARR_FORMAT) != ZARR_FORMAT:
            raise ValueError(f"{name}: metadata 'format' is {ZARR_FORMAT!r} for a Zarr store")
        metadata = {"format": ZARR_FORMAT, **metadata}
        json.dumps(metadata)  # refuse what the manifest could not carry, before any work
        xr = _xarray()
        defaults = {"source": self._source()}
        if title:
            defaults = {"title": title, **defaults}
        with tempfile.TemporaryDirectory(prefix="nagelfluh-zarr-") as scratch:
            if isinstance(data, xr.Dataset):
                directory = _to_zarr(xr, data, defaults, scratch)
                patched: dict[str, bytes] = {}
            else:
                directory = _own_store(name, data)
                patched = _root_attributes(directory, defaults)
            files = _store_files(name, directory)  # no symbolic link is followed below
            order = data if isinstance(data, xr.Dataset) else None
            described, root_title = _describe_store(xr, name, directory, order)
            entry = self._entry(name, key + "/", ZARR_MIME_TYPE, title or root_title, metadata)
            entry.update(described)
            if self.storage.list(key + "/"):
                raise StorageKeyError(
                    f"{name}: storage already holds objects under {key}/ (a store is "
                    "written once per run)"
                )
            listing = self._upload(key, files, patched)
        entry["objects"] = len(listing)
        entry["digest"] = store_digest(listing)
        return self._record(entry, sum(size for _, size, _ in listing))

    def write_file(
        self,
        name: str,
        path: str | os.PathLike[str],
        mime_type: str | None = None,
        *,
        title: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Store the local file ``path``, as it is, as output ``name``, described as the
        other writing methods describe theirs: a NetCDF file (by its signature) gets the
        ``dims`` and ``variables`` of ``write_netcdf``, and every variable must carry a
        ``units`` attribute as there; a CSV file (by ``mime_type`` or the ``.csv`` name)
        gets its columns as variables and their units (a ``name [units]`` header or a
        units row, as inputs are read) also in ``metadata["units"]`` as ``write_bytes``
        puts them, a column without units allowed. Both get ``metadata["format"]``. Any
        other file is stored plain, with ``mime_type`` (default: guessed from the name).
        A NetCDF or CSV file that does not read is refused (DatasetFormatError), as is a
        NetCDF file when xarray is missing (ImportError: the ``data`` extra)."""
        import os

        from nagelfluh_runner.datasets import describe_file

        local = os.fspath(path)
        mime_type = mime_type or guess_mime_type(name)
        described = describe_file(local, mime_type, name)
        metadata = dict(metadata or {})
        if described is not None:
            found = described.pop("format")
            file_title = described.pop("title")
            title = title or file_title
            if found in ("netcdf3", "netcdf4"):
                mime_type = NETCDF_MIME_TYPE
                for variable in described["variables"]:
                    if not variable["units"]:
                        raise ValueError(_no_units(name, variable["name"]))
            else:
                metadata.setdefault(
                    "units", {v["name"]: v["units"] for v in described["variables"]}
                )
            metadata.setdefault("format", found)
        key = self.output_key(name)
        entry = self._entry(name, key, mime_type, title, metadata)
        entry.update(described or {})
        with open(local, "rb") as handle:  # a local file gone is the writer's fault
            with _Writing(key):
                size = self.storage.write_stream(key, handle)
        return self._record(entry, size)

    def _check_store_name(self, relative: str) -> None:
        """A store may take neither an output's name nor a name that holds outputs."""
        for other, entry in self.outputs.items():
            if other == relative and not entry["path"].endswith("/"):
                raise StorageKeyError(f"{relative!r} is already written as a single object")
            if other == relative:
                raise StorageKeyError(f"the Zarr store {relative!r} is already written")
            if other.startswith(relative + "/"):
                raise StorageKeyError(
                    f"output {other!r} would lie inside the Zarr store {relative!r}"
                )

    def _upload(
        self, key: str, files: builtins.list[tuple[str, str]], patched: dict[str, bytes]
    ) -> builtins.list[tuple[str, int, str]]:
        """Every file as the object ``key/relative``, ``patched`` ones from those bytes;
        ``(relative, size, sha256 hex)`` of what was written, hashed as it was sent."""

        def put(item: tuple[str, str]) -> tuple[str, int, str]:
            relative, path = item
            target = f"{key}/{relative}"
            if relative in patched:
                import hashlib

                raw = patched[relative]
                with _Writing(target):
                    size = self.storage.write_bytes(target, raw)
                return relative, size, hashlib.sha256(raw).hexdigest()
            with open(path, "rb") as handle:  # a local file gone is the type's fault
                reader = _HashingReader(handle)
                with _Writing(target):
                    size = self.storage.write_stream(target, reader)
            return relative, size, reader.digest.hexdigest()

        workers = min(self.storage.write_concurrency, len(files))
        if workers <= 1:
            return [put(item) for item in files]
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(workers, thread_name_prefix="nagelfluh-upload")
        try:
            return list(pool.map(put, files))
        finally:
            pool.shutdown(cancel_futures=True)

    def _source(self) -> str:
        """The ``source`` attribute of NetCDF and Zarr outputs: the type that made them, not
        the run (an id in the bytes would make every run's outputs differ, so no exact
        re-run could find them identical; the dataset's producer names the run)."""
        return f"nagelfluh {self.process_type or 'process'}"

    def _entry(
        self,
        name: str,
        key: str,
        mime_type: str,
        title: str | None,
        metadata: dict[str, Any] | None,
    ) -> dict[str, Any]:
        metadata = dict(metadata or {})
        json.dumps(metadata)  # refuse what the manifest could not carry, before writing bytes
        return {
            "key": safe_key(name),
            "path": key,
            "mime_type": mime_type,
            "size": 0,
            "title": title or safe_key(name),
            "metadata": metadata,
        }

    def _record(self, entry: dict[str, Any], size: int) -> dict[str, Any]:
        entry["size"] = size
        self.outputs[entry["key"]] = entry
        return entry

    # ------------------------------------------------------------ reporting

    def _print(self, line: str) -> None:
        print(line, file=self._stdout or sys.stdout, flush=True)

    def progress(self, fraction: float) -> None:
        """Report progress (0-1) as the protocol's progress line."""
        self._print(f"{PROGRESS_PREFIX}{min(1.0, max(0.0, float(fraction))):.4g}")

    def log(self, message: str) -> None:
        self._print(message)

    # ------------------------------------------------------------ manifest

    def manifest(self) -> dict[str, Any]:
        return {
            MANIFEST_CONTRACT_VERSION: CONTRACT_VERSION,
            "process_type": self.process_type,
            "process": _json_id(self.process),
            "version": self.version,
            "project": _json_id(self.project),
            "datasets": list(self.outputs.values()),
        }

    def write_manifest(self) -> dict[str, Any]:
        """Write ``_manifest.json`` last: its presence tells the server the outputs are complete."""
        manifest = self.manifest()
        data = json.dumps(manifest, indent=2).encode()
        with _Writing(self.prefix + MANIFEST_NAME):
            self.storage.write_bytes(self.prefix + MANIFEST_NAME, data)
        return manifest


def guess_mime_type(name: str) -> str:
    """The media type of a file by its name, from Python's own table (not the machine's
    ``/etc/mime.types``: a run's outputs get the same type wherever it runs)."""
    import mimetypes

    from nagelfluh_runner.notebook_run import NOTEBOOK_MIME_TYPE

    if name.lower().endswith(".ipynb"):
        return NOTEBOOK_MIME_TYPE
    guessed, _ = mimetypes.MimeTypes(filenames=()).guess_type(name, strict=False)
    return guessed or "application/octet-stream"


def _no_units(name: str, variable: str) -> str:
    return (
        f"{name}: variable {variable!r} has no 'units' attribute "
        "(every output variable needs one; use '1' for dimensionless)"
    )


class _HashingReader:
    """Hashes what a storage backend reads, so a store's digest is of the bytes sent."""

    def __init__(self, raw: BinaryIO) -> None:
        import hashlib

        self._raw = raw
        self.digest = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self.digest.update(data)
        return data

    def readable(self) -> bool:
        return True


def _to_zarr(xr: Any, data: xr.Dataset, defaults: dict[str, str], scratch: str) -> str:
    """``data`` as a Zarr v3 directory store in ``scratch``, its root attributes given
    ``defaults`` where unset (the caller's Dataset is left as it was)."""
    import os

    dataset = data.copy(deep=False)
    dataset.attrs = {**data.attrs, **{k: v for k, v in defaults.items() if k not in data.attrs}}
    directory = os.path.join(scratch, "store.zarr")
    dataset.to_zarr(directory, mode="w", zarr_format=3, consolidated=False)
    return directory


def _own_store(name: str, data: str | os.PathLike[str]) -> str:
    """The path of a directory store the type wrote, or why it cannot be one."""
    import os

    from nagelfluh_runner.stores import StoreError

    try:
        directory = os.fspath(data)
    except TypeError:
        raise TypeError(
            f"{name}: write_zarr takes an xarray.Dataset or the path of a Zarr directory, "
            f"not {type(data).__name__}"
        ) from None
    if os.path.islink(directory):
        raise StoreError(f"{name}: {directory} is a symbolic link")
    if not os.path.isdir(directory):
        raise StoreError(f"{name}: {directory} is not a directory")
    return directory


def _store_files(name: str, directory: str) -> list[tuple[str, str]]:
    from nagelfluh_runner.stores import StoreError, local_files

    try:
        return local_files(directory)
    except StoreError as error:
        raise StoreError(f"{name}: {error}") from None
    except StorageKeyError as error:
        raise StoreError(f"{name}: a file of {directory} cannot be an object: {error}") from None


def _root_attributes(directory: str, defaults: dict[str, str]) -> dict[str, bytes]:
    """The root metadata files of the store in ``directory`` (v3 ``zarr.json``, v2
    ``.zattrs`` and any consolidated ``.zmetadata``) rewritten to carry ``defaults``
    where unset, by relative path; none if nothing changes. The directory is not
    touched: the rewritten files are uploaded in place of its own."""
    import os

    def load(relative: str) -> Any:
        with open(os.path.join(directory, relative), "rb") as handle:
            return json.load(handle)

    def dump(value: Any) -> bytes:
        return json.dumps(value, indent=2).encode()

    if os.path.isfile(os.path.join(directory, "zarr.json")):
        root = load("zarr.json")
        if not isinstance(root, dict) or root.get("node_type") != "group":
            return {}  # not a group: xarray refuses it when describing
        attributes = root.get("attributes") or {}
        merged = {**attributes, **{k: v for k, v in defaults.items() if k not in attributes}}
        if merged == attributes:
            return {}
        return {"zarr.json": dump({**root, "attributes": merged})}
    if not os.path.isfile(os.path.join(directory, ".zgroup")):
        return {}
    has_attrs = os.path.isfile(os.path.join(directory, ".zattrs"))
    attributes = load(".zattrs") if has_attrs else {}
    merged = {**attributes, **{k: v for k, v in defaults.items() if k not in attributes}}
    if merged == attributes:
        return {}
    patched = {".zattrs": dump(merged)}
    if os.path.isfile(os.path.join(directory, ".zmetadata")):
        consolidated = load(".zmetadata")
        consolidated.setdefault("metadata", {})[".zattrs"] = merged
        patched[".zmetadata"] = dump(consolidated)
    return patched


def _describe_store(
    xr: Any, name: str, directory: str, order: xr.Dataset | None
) -> tuple[dict[str, Any], str | None]:
    """``dims`` and ``variables`` of the store as the manifest describes a NetCDF
    output (coordinates first, in ``order``'s order if given, else by name: a store
    keeps no order), and its root ``title``; ValueError for a variable without units,
    a DatasetFormatError for a directory xarray does not open as a Zarr store."""
    import warnings

    from nagelfluh_runner.datasets import DatasetFormatError, describe_variable

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            opened = xr.open_dataset(
                directory,
                engine="zarr",
                chunks=None,
                consolidated=None,
                decode_times=False,
                decode_timedelta=False,
            )
    except Exception as error:  # not a store, or a damaged one: zarr's or json's own way
        raise DatasetFormatError(
            f"{name}: {directory} is not a Zarr store xarray opens: "
            f"{type(error).__name__}: {error}"[:500]
        ) from error
    with opened:
        if order is None:
            names = [*sorted(map(str, opened.coords)), *sorted(map(str, opened.data_vars))]
        else:
            names = [n for n in [*order.coords, *order.data_vars] if n in opened.variables]
            names += [n for n in opened.variables if n not in names]
        for var_name in names:
            units = opened[var_name].attrs.get("units")
            if not isinstance(units, str) or not units:
                raise ValueError(_no_units(name, str(var_name)))
        if not names:
            raise ValueError(f"{name}: the Zarr store holds no variables")
        title = opened.attrs.get("title")
        variables = [describe_variable(str(n), opened[n].variable) for n in names]
        dims = {d: n for v in variables for d, n in zip(v["dims"], v["shape"], strict=True)}
        return {"dims": dims, "variables": variables}, title if isinstance(title, str) else None


def _netcdf4_bytes(variables: dict[str, Variable], attrs: dict[str, Any]) -> bytes:
    """Prepared variables as a gzip-compressed NetCDF-4 file (xarray + h5netcdf, lazily)."""
    try:
        import xarray as xr
    except ImportError as missing:  # pragma: no cover - depends on the environment
        raise ImportError(
            'format="netcdf4" needs xarray and h5netcdf: pip install "nagelfluh-runner[data]"'
        ) from missing
    data_vars = {}
    encoding: dict[str, dict[str, Any]] = {}
    for name, var in variables.items():
        array = var.data.astype(var.data.dtype.newbyteorder("="), copy=False)
        data_vars[name] = xr.Variable(var.dims, array, dict(var.attrs))
        encoding[name] = {"_FillValue": None}  # as the NetCDF-3 writer: no fill value added
        if array.ndim:  # HDF5 compresses chunked datasets only; scalars stay contiguous
            encoding[name] |= {"compression": "gzip", "compression_opts": NETCDF4_GZIP_LEVEL}
    dataset = xr.Dataset(data_vars, attrs=attrs)
    return bytes(dataset.to_netcdf(engine="h5netcdf", encoding=encoding))


def _describe_variable(name: str, var: Variable) -> dict[str, Any]:
    dtype = var.data.dtype
    described = {
        "name": name,
        "units": var.attrs["units"],
        "dims": list(var.dims),
        "shape": list(var.data.shape),
        "dtype": "char" if dtype.kind == "S" else dtype.newbyteorder("=").name,
    }
    if "long_name" in var.attrs:
        described["long_name"] = var.attrs["long_name"]
    return described
