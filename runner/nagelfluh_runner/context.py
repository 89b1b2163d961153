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
    MANIFEST_NAME,
    PROGRESS_PREFIX,
    project_prefix,
    version_prefix,
)
from nagelfluh_runner.storage import StorageKeyError, safe_key, safe_prefix

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, BinaryIO, TextIO

    from nagelfluh_runner.netcdf import Variable
    from nagelfluh_runner.storage import PendingWrite, Storage

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

    def open_read(self, key: str, start: int = 0, end: int | None = None) -> BinaryIO:
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
        """The full key of output ``name``, which is relative to the version prefix."""
        relative = safe_key(name)
        if relative == MANIFEST_NAME:
            raise StorageKeyError(f"{MANIFEST_NAME} is written by the runner")
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
        units: str | dict[str, str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Store ``data`` as output ``name``; ``units`` (one, or per column) go to the metadata."""
        metadata = dict(metadata or {})
        if units is not None:
            metadata["units"] = units
        key = self.output_key(name)
        entry = self._entry(name, key, mime_type, title, metadata)
        with _Writing(key):
            size = self.storage.write_bytes(key, data)
        return self._record(entry, size)

    def write_netcdf(
        self,
        name: str,
        dims: dict[str, int] | None,
        variables: dict[str, Variable | tuple],
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
                raise ValueError(
                    f"{name}: variable {var_name!r} has no 'units' attribute "
                    "(every output variable needs one; use '1' for dimensionless)"
                )
        attrs = dict(attrs or {})
        if title:
            attrs.setdefault("title", title)
        attrs.setdefault(
            "source",
            f"nagelfluh {self.process_type or 'process'} {self.process} v{self.version}",
        )
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
