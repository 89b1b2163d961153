"""Reading input datasets: NetCDF-3, NetCDF-4/HDF5, CSV and Zarr stores.

Two shapes of the same data: ``read_xarray`` gives an ``xarray.Dataset`` (what
``InputDataset.load`` returns), ``read_arrays`` the runner's own ``NetCDFData``
(``InputDataset.arrays``, what the bootstrap types read). NetCDF-3 reads into
``NetCDFData`` with the numpy-only reader of ``nagelfluh_runner.netcdf``; every
other path needs xarray (scipy for NetCDF-3, h5netcdf for NetCDF-4, pandas for
CSV: the ``data`` extra), imported here only when a type reads such a file, so
a runner start imports none of it.

The formats and the CSV conventions (units in a ``name [units]`` header or in a
row of their own under it) are those the server describes uploads with
(``nagelfluh_lab.services.formats``), so a file the server described reads here.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import warnings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from types import ModuleType
    from typing import Any

    import xarray as xr

    from nagelfluh_runner.netcdf import NetCDFData

NETCDF3_MAGIC = (b"CDF\x01", b"CDF\x02")
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
CSV_TYPES = {"text/csv", "application/csv", "text/comma-separated-values"}
CSV_ROW_DIM = "row"
_UNITS_HEADER = re.compile(r"^(.*?)\s*\[([^\[\]]*)\]\s*$")
_EXTRA_HINT = "install nagelfluh-runner[data] (xarray, scipy, h5netcdf, pandas, zarr)"


class DatasetFormatError(ValueError):
    """Bytes that are not a readable NetCDF-3, NetCDF-4/HDF5 or CSV dataset."""


def kind(raw: bytes, mime_type: str = "", name: str = "") -> str:
    """``netcdf3``, ``netcdf4`` or ``csv`` from the bytes' signature (CSV by the MIME
    type or the name); DatasetFormatError for anything else."""
    if not raw:
        raise DatasetFormatError("the file is empty")
    if raw[:4] in NETCDF3_MAGIC:
        return "netcdf3"
    if raw[:8] == HDF5_MAGIC:
        return "netcdf4"
    if mime_type.split(";")[0].strip().lower() in CSV_TYPES or name.lower().endswith(".csv"):
        return "csv"
    raise DatasetFormatError("neither NetCDF-3, NetCDF-4/HDF5 nor CSV")


def _xarray() -> ModuleType:
    try:
        import xarray
    except ImportError as error:
        raise ImportError(f"reading this dataset needs xarray: {_EXTRA_HINT}") from error
    return xarray


def read_xarray(
    raw: bytes,
    mime_type: str = "",
    name: str = "",
    variables: list[str] | None = None,
    max_decoded_bytes: int | None = None,
) -> xr.Dataset:
    """The dataset as an in-memory ``xarray.Dataset`` (only ``variables`` that exist, and
    their coordinates, when given); DatasetFormatError if the bytes do not read, or if a
    NetCDF file's variables would take over ``max_decoded_bytes`` once decoded."""
    found = kind(raw, mime_type, name)
    xr = _xarray()
    with _reading(f"reading a {found} dataset"):
        if found == "csv":
            return _subset(read_csv(raw, xr), variables)
        engine = "scipy" if found == "netcdf3" else "h5netcdf"
        return _open_loaded(xr, io.BytesIO(raw), engine, variables, max_decoded_bytes, cache=False)


@contextlib.contextmanager
def _reading(what: str) -> Iterator[None]:
    """Library warnings silenced; a missing library an ImportError naming the extra, and
    any other failure (a damaged file fails in any library's own way) a
    DatasetFormatError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    except ImportError as error:
        raise ImportError(f"{what} needs {error.name}: {_EXTRA_HINT}") from error
    except DatasetFormatError:
        raise
    except Exception as error:
        raise DatasetFormatError(f"{type(error).__name__}: {error}"[:500]) from error


def read_zarr(
    directory: str, variables: list[str] | None = None, max_decoded_bytes: int | None = None
) -> xr.Dataset:
    """A Zarr directory store (v2 or v3) as an in-memory ``xarray.Dataset``, as
    ``read_xarray`` reads a file; DatasetFormatError if it does not read."""
    xr = _xarray()
    with _reading("reading a Zarr store"):
        return _open_loaded(
            xr, directory, "zarr", variables, max_decoded_bytes, chunks=None, consolidated=None
        )


def _open_loaded(
    xr: Any,
    source: Any,
    engine: str,
    variables: list[str] | None,
    max_decoded_bytes: int | None,
    **options: Any,
) -> xr.Dataset:
    """Open ``source`` with ``engine``, keep ``variables``, and load them into memory
    unless they would take over ``max_decoded_bytes`` once decoded."""
    with xr.open_dataset(
        source, engine=engine, decode_times=False, decode_timedelta=False, **options
    ) as opened:
        chosen = _subset(opened, variables)
        decoded = sum(int(v.size) * v.dtype.itemsize for v in chosen.variables.values())
        if max_decoded_bytes is not None and decoded > max_decoded_bytes:
            raise DatasetFormatError(f"its variables take over {max_decoded_bytes // 2**20} MiB")
        return chosen.load()


def _subset(ds: xr.Dataset, variables: list[str] | None) -> xr.Dataset:
    if variables is None:
        return ds
    wanted = [v for v in dict.fromkeys(variables) if v in ds.variables]
    data_vars = [v for v in wanted if v in ds.data_vars]
    subset = ds[data_vars]
    extra = {v: ds[v] for v in wanted if v not in subset.variables}
    return subset.assign_coords(extra) if extra else subset


def read_arrays(
    raw: bytes, mime_type: str = "", name: str = "", variables: list[str] | None = None
) -> NetCDFData:
    """The dataset as ``NetCDFData`` (only ``variables`` that exist, when given).

    NetCDF-3 goes through the runner's own reader (numpy only); NetCDF-4 and CSV
    through xarray, converted."""
    from nagelfluh_runner.netcdf import NetCDFError, read_netcdf

    if kind(raw, mime_type, name) == "netcdf3":
        try:
            return read_netcdf(raw, variables)
        except NetCDFError as error:
            raise DatasetFormatError(str(error)) from error
        except Exception as error:  # a truncated header fails in struct or numpy
            raise DatasetFormatError(f"{type(error).__name__}: {error}"[:500]) from error
    return netcdf_data(read_xarray(raw, mime_type, name), variables)


def netcdf_data(ds: xr.Dataset, variables: list[str] | None = None) -> NetCDFData:
    """An ``xarray.Dataset`` as the runner's ``NetCDFData`` (only ``variables`` that
    exist, when given), as ``read_arrays`` gives every format but NetCDF-3."""
    import numpy as np

    from nagelfluh_runner.netcdf import NetCDFData, Variable

    names = list(ds.variables) if variables is None else variables
    return NetCDFData(
        {str(dim): int(size) for dim, size in ds.sizes.items()},
        {
            str(n): Variable(
                tuple(str(d) for d in ds.variables[n].dims),
                np.asarray(ds.variables[n].values),
                _attrs(ds.variables[n].attrs),
            )
            for n in names
            if n in ds.variables
        },
        _attrs(ds.attrs),
    )


def _attrs(attrs: Mapping[Any, Any]) -> dict[str, Any]:
    """Attributes as the NetCDF-3 reader gives them: text as str, one number as a scalar."""
    import numpy as np

    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if isinstance(value, bytes | np.bytes_):
            value = bytes(value).decode("utf-8", "replace")
        elif isinstance(value, np.ndarray) and value.size == 1:
            value = value.reshape(()).item()
        elif isinstance(value, np.generic):
            value = value.item()
        out[str(key)] = value
    return out


def read_csv(raw: bytes, xr: Any) -> xr.Dataset:
    """A CSV file as a Dataset along ``CSV_ROW_DIM``, with the columns' units; the
    server describes uploads with it too, so both read a CSV alike."""
    import pandas as pd

    text = raw.decode("utf-8-sig")
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    if not header or not any(cell.strip() for cell in header):
        raise DatasetFormatError("the CSV file has no header")
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
        raise DatasetFormatError("the CSV header needs distinct, non-empty column names")
    units = (units + [None] * len(names))[: len(names)]
    frame = pd.read_csv(io.StringIO(text), header=0, names=names, skiprows=skip, index_col=False)
    if len(frame.columns) != len(names):
        raise DatasetFormatError("the CSV rows do not match its header")
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


def describe_file(path: str, mime_type: str = "", name: str = "") -> dict[str, Any] | None:
    """What a local file holds, described as the runner describes its outputs: ``format``
    (``kind``'s), ``dims``, ``variables`` (coordinates first, in the file's order) and
    ``title`` (its ``title`` attribute, or None); None when it is no NetCDF file (by its
    signature) nor a CSV file (by ``mime_type`` or ``name``). A NetCDF file is opened
    lazily: only its header is read, whatever its size. DatasetFormatError if it does
    not read as what it claims to be."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    try:
        found = kind(head, mime_type, name)
    except DatasetFormatError:
        return None
    xr = _xarray()
    with _reading(f"describing a {found} file"):
        if found == "csv":
            with open(path, "rb") as handle:
                ds = read_csv(handle.read(), xr)
        else:
            engine = "scipy" if found == "netcdf3" else "h5netcdf"
            ds = xr.open_dataset(
                path, engine=engine, decode_times=False, decode_timedelta=False, cache=False
            )
        with ds:
            names = [*ds.coords, *ds.data_vars]
            return {
                "format": found,
                "dims": {str(dim): int(size) for dim, size in ds.sizes.items()},
                "variables": [describe_variable(str(n), ds[n].variable) for n in names],
                "title": text_attribute(ds.attrs.get("title")),
            }


def describe_variable(name: str, var: Any) -> dict[str, Any]:
    """An xarray variable as a dataset's description lists it: ``name``, ``units``,
    ``dims``, ``shape``, ``dtype`` (``char`` for bytes, ``string`` for text) and any
    ``long_name``. The server describes uploads with it and the runner Zarr outputs,
    so both describe a variable alike."""
    dtype = var.dtype
    if dtype.kind == "S":
        dtype_name = "char"
    elif dtype.kind in "UO":
        dtype_name = "string"
    else:
        dtype_name = dtype.newbyteorder("=").name
    described: dict[str, Any] = {
        "name": name,
        "units": text_attribute(var.attrs.get("units")),
        "dims": [str(d) for d in var.dims],
        "shape": [int(n) for n in var.shape],
        "dtype": dtype_name,
    }
    long_name = text_attribute(var.attrs.get("long_name"))
    if long_name is not None:
        described["long_name"] = long_name
    return described


def text_attribute(value: Any) -> str | None:
    """An attribute as a string: None for anything but text (bytes are decoded)."""
    import numpy as np

    if isinstance(value, bytes | np.bytes_):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, str):
        return str(value)
    return None
