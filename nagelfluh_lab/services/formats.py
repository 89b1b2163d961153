"""Reading datasets' bytes, and describing what they hold.

NetCDF-3 (xarray's scipy engine), NetCDF-4/HDF5 (h5netcdf) and CSV (pandas; units
in a ``name [units]`` header or in a row of their own under the header) open as an
``xarray.Dataset``. Whatever stops a file from opening, whole — corrupt, truncated,
empty, of another format, too large once decoded — is one error, ``FormatError``:
such a file is opaque (a file with no variables), never a server error.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from typing import Any

import numpy as np
import xarray as xr

# Files larger than this (stored, or decoded in memory) are not read: they stay opaque.
MAX_READ_BYTES = 512 * 1024 * 1024
NETCDF3_MAGIC = (b"CDF\x01", b"CDF\x02")
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
CSV_TYPES = {"text/csv", "application/csv", "text/comma-separated-values"}
CSV_ROW_DIM = "row"
_UNITS_HEADER = re.compile(r"^(.*?)\s*\[([^\[\]]*)\]\s*$")


class FormatError(ValueError):
    """A file that is not a readable NetCDF-3, NetCDF-4/HDF5 or CSV dataset."""


def kind(raw: bytes, mime_type: str = "", name: str = "") -> str:
    """``netcdf3``, ``netcdf4`` or ``csv`` from the bytes' signature (CSV by the MIME
    type or the name: any text would parse as CSV); FormatError for anything else."""
    if not raw:
        raise FormatError("the file is empty")
    if raw[:4] in NETCDF3_MAGIC:
        return "netcdf3"
    if raw[:8] == HDF5_MAGIC:
        return "netcdf4"
    if mime_type.split(";")[0].strip().lower() in CSV_TYPES or name.lower().endswith(".csv"):
        return "csv"
    raise FormatError("neither NetCDF-3, NetCDF-4/HDF5 nor CSV")


def read(raw: bytes, mime_type: str = "", name: str = "") -> xr.Dataset:
    """The whole dataset, loaded into memory (no file stays open); FormatError for any
    failure to, and for a file or its decoded variables over MAX_READ_BYTES."""
    if len(raw) > MAX_READ_BYTES:
        raise FormatError(f"larger than {MAX_READ_BYTES // 2**20} MiB")
    found = kind(raw, mime_type, name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if found == "csv":
                return _read_csv(raw)
            engine = "scipy" if found == "netcdf3" else "h5netcdf"
            with xr.open_dataset(
                io.BytesIO(raw),
                engine=engine,
                decode_times=False,
                decode_timedelta=False,
                cache=False,
            ) as ds:
                decoded = sum(int(v.size) * v.dtype.itemsize for v in ds.variables.values())
                if decoded > MAX_READ_BYTES:
                    raise FormatError(f"its variables take over {MAX_READ_BYTES // 2**20} MiB")
                return ds.load()
    except FormatError:
        raise
    except Exception as error:  # a damaged file fails in any library's own way
        raise FormatError(f"{type(error).__name__}: {error}"[:500]) from error


def describe(ds: xr.Dataset) -> dict[str, Any]:
    """``dims`` (sizes by name) and ``variables`` (coordinates first), described as the
    runner describes its outputs' variables."""
    names = [*ds.coords, *ds.data_vars]
    return {
        "dims": {str(name): int(size) for name, size in ds.sizes.items()},
        "variables": [_variable(str(name), ds[name].variable) for name in names],
    }


def describe_bytes(raw: bytes, mime_type: str = "", name: str = "") -> dict[str, Any]:
    """``describe`` of the file's dataset plus its ``format``; FormatError if unreadable
    or if it holds no variables (nothing to offer)."""
    ds = read(raw, mime_type, name)
    try:
        described = describe(ds)
    except Exception as error:
        raise FormatError(f"{type(error).__name__}: {error}"[:500]) from error
    if not described["variables"]:
        raise FormatError("it holds no variables")
    return {"format": kind(raw, mime_type, name), **described}


def _variable(name: str, var: xr.Variable) -> dict[str, Any]:
    dtype = var.dtype
    if dtype.kind == "S":
        dtype_name = "char"
    elif dtype.kind in "UO":
        dtype_name = "string"
    else:
        dtype_name = dtype.newbyteorder("=").name
    described: dict[str, Any] = {
        "name": name,
        "units": text(var.attrs.get("units")),
        "dims": [str(d) for d in var.dims],
        "shape": [int(n) for n in var.shape],
        "dtype": dtype_name,
    }
    long_name = text(var.attrs.get("long_name"))
    if long_name is not None:
        described["long_name"] = long_name
    return described


def text(value: Any) -> str | None:
    """An attribute as a string: None for anything but text."""
    if isinstance(value, bytes | np.bytes_):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, str):
        return str(value)
    return None


def _read_csv(raw: bytes) -> xr.Dataset:
    import pandas as pd

    text = raw.decode("utf-8-sig")
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    if not header or not any(cell.strip() for cell in header):
        raise FormatError("the CSV file has no header")
    second = next(rows, None)
    names, units = [], []
    for cell in header:
        match = _UNITS_HEADER.match(cell)
        names.append((match.group(1) if match else cell).strip())
        units.append(match.group(2).strip() if match else None)
    skip: list[int] = []
    if all(u is None for u in units) and second and next(rows, None) is not None:
        if all(cell.strip() and not _number(cell) for cell in second):
            units = [cell.strip() for cell in second]  # a units row under the header
            skip = [1]
    if len(set(names)) != len(names) or not all(names):
        raise FormatError("the CSV header needs distinct, non-empty column names")
    units = (units + [None] * len(names))[: len(names)]
    frame = pd.read_csv(io.StringIO(text), header=0, names=names, skiprows=skip, index_col=False)
    if len(frame.columns) != len(names):
        raise FormatError("the CSV rows do not match its header")
    variables = {}
    for column, unit in zip(names, units, strict=True):
        values = frame[column].to_numpy()
        if values.dtype.kind == "O":
            values = values.astype(str)
        variables[column] = xr.Variable((CSV_ROW_DIM,), values, {"units": unit} if unit else {})
    return xr.Dataset(variables)


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
