"""Reading datasets' bytes, and describing what they hold.

NetCDF-3 (xarray's scipy engine), NetCDF-4/HDF5 (h5netcdf), CSV (pandas; units
in a ``name [units]`` header or in a row of their own under the header) and Zarr
stores (zarr, v2 or v3) open as an ``xarray.Dataset``. Whatever stops a file from
opening, whole — corrupt, truncated, empty, of another format, too large once
decoded — is one error, ``FormatError``: such a file is opaque (a file with no
variables), never a server error.
"""

from __future__ import annotations

import tempfile
from typing import Any

import xarray as xr
from nagelfluh_runner.datasets import (
    DatasetFormatError,
    describe_variable,
    kind,
    read_xarray,
    read_zarr,
)
from nagelfluh_runner.storage import Storage
from nagelfluh_runner.stores import ZARR_FORMAT, StoreError, fetch_store

# Files larger than this (stored, or decoded in memory) are not read: they stay opaque.
MAX_READ_BYTES = 512 * 1024 * 1024
# One error for any file that does not read, the runner's: a file the server could not
# describe is one a run could not read either, with the same message.
FormatError = DatasetFormatError


def read(raw: bytes, mime_type: str = "", name: str = "") -> xr.Dataset:
    """The whole dataset, loaded into memory (no file stays open); FormatError for any
    failure to, and for a file or its decoded variables over MAX_READ_BYTES."""
    if len(raw) > MAX_READ_BYTES:
        raise FormatError(f"larger than {MAX_READ_BYTES // 2**20} MiB")
    return read_xarray(raw, mime_type, name, max_decoded_bytes=MAX_READ_BYTES)


def read_store(storage: Storage, prefix: str) -> xr.Dataset:
    """The Zarr store at ``prefix``, loaded into memory through a local copy (removed
    at once); FormatError as ``read`` gives, for a store over MAX_READ_BYTES too."""
    with tempfile.TemporaryDirectory(prefix="nagelfluh-zarr-") as directory:
        try:
            fetch_store(storage, prefix, directory, MAX_READ_BYTES)
        except StoreError as error:
            raise FormatError(str(error)) from None
        return read_zarr(directory, max_decoded_bytes=MAX_READ_BYTES)


def describe_store(storage: Storage, prefix: str) -> dict[str, Any]:
    """``describe_bytes`` of a Zarr store."""
    return _described(read_store(storage, prefix), ZARR_FORMAT)


def describe(ds: xr.Dataset) -> dict[str, Any]:
    """``dims`` (sizes by name) and ``variables`` (coordinates first), described as the
    runner describes its outputs' variables."""
    names = [*ds.coords, *ds.data_vars]
    return {
        "dims": {str(name): int(size) for name, size in ds.sizes.items()},
        "variables": [describe_variable(str(name), ds[name].variable) for name in names],
    }


def describe_bytes(raw: bytes, mime_type: str = "", name: str = "") -> dict[str, Any]:
    """``describe`` of the file's dataset plus its ``format``; FormatError if unreadable
    or if it holds no variables (nothing to offer)."""
    return _described(read(raw, mime_type, name), kind(raw, mime_type, name))


def _described(ds: xr.Dataset, format: str) -> dict[str, Any]:
    try:
        described = describe(ds)
    except Exception as error:
        raise FormatError(f"{type(error).__name__}: {error}"[:500]) from error
    if not described["variables"]:
        raise FormatError("it holds no variables")
    return {"format": format, **described}
