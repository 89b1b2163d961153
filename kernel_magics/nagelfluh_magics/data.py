"""Datasets as Python objects: xarray for NetCDF and Zarr stores, pandas for tables,
columns for plots."""

from __future__ import annotations

import csv
import io
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .stores import StoreError, extract_store, is_store_dataset

if TYPE_CHECKING:
    from .client import Client

NETCDF = "application/x-netcdf"
DELIMITERS = {"csv": ",", "tsv": "\t"}
# Kinds of arrays the server describes and views (dataset/{id}/view), as xarray opens them.
ARRAYS = ("netcdf", "zarr")


class DataError(ValueError):
    """A dataset that cannot be read the way asked (its message is one line for the user)."""


def kind(meta: dict[str, Any]) -> str | None:
    """``"netcdf"``, ``"zarr"`` (a store), ``"csv"``, ``"tsv"`` or None, from the MIME
    type (a store: or its key) or else the name."""
    mime, name = meta["mime_type"], meta["name"].lower()
    if is_store_dataset(meta):
        return "zarr"
    if mime == NETCDF or name.endswith(".nc"):
        return "netcdf"
    if mime in ("text/csv", "application/csv") or name.endswith(".csv"):
        return "csv"
    if mime == "text/tab-separated-values" or name.endswith((".tsv", ".tab")):
        return "tsv"
    return None


def _require(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise DataError(f"loading needs {module}: pip install 'nagelfluh-magics[data]'") from error


def load(client: Client, dataset: int) -> Any:
    """An xarray ``Dataset`` for NetCDF and Zarr stores (units in each variable's
    attrs), a pandas ``DataFrame`` for CSV/TSV (units by column in ``.attrs["units"]``)."""
    meta = client.dataset_meta(dataset)
    found = kind(meta)
    if found is None:
        raise DataError(
            f"dataset {dataset} is {meta['mime_type']}, neither NetCDF, Zarr nor a table: "
            "read its bytes with Client.dataset_bytes()"
        )
    if found == "zarr":
        return load_store(client, dataset)
    raw = io.BytesIO(client.dataset_bytes(dataset))
    if found == "netcdf":
        xarray = _require("xarray")
        try:
            with xarray.open_dataset(raw) as opened:
                return opened.load()
        except ValueError as error:  # no installed backend reads it (scipy reads NetCDF-3)
            reason = str(error).splitlines()[0]
            raise DataError(f"xarray cannot read dataset {dataset}: {reason}") from error
    pandas = _require("pandas")
    frame = pandas.read_csv(raw, sep=DELIMITERS[found])
    frame.attrs["units"] = meta.get("units", {})
    return frame


def load_store(client: Client, dataset: int) -> Any:
    """A Zarr store dataset as an in-memory xarray ``Dataset``: its ZIP archive is
    downloaded to a temporary folder, unpacked there, opened, loaded and removed."""
    xarray = _require("xarray")
    _require("zarr")
    with tempfile.TemporaryDirectory(prefix="nagelfluh-zarr-") as folder:
        archive = Path(folder) / "store.zip"
        client.download(dataset, archive)
        try:
            root = extract_store(archive, Path(folder) / "store")
        except StoreError as error:
            raise DataError(f"dataset {dataset} is no readable Zarr store: {error}") from error
        archive.unlink()
        try:
            with warnings.catch_warnings():
                # a store without consolidated metadata is opened all the same
                warnings.simplefilter("ignore", RuntimeWarning)
                with xarray.open_dataset(root, engine="zarr", chunks=None) as opened:
                    return opened.load()
        except (ValueError, KeyError, OSError) as error:
            reason = (str(error).splitlines() or [type(error).__name__])[0]
            raise DataError(f"xarray cannot read the Zarr store {dataset}: {reason}") from error


def table_columns(raw: bytes, delimiter: str) -> dict[str, np.ndarray]:
    """The numeric columns of a delimited text table (a header row, then values);
    cells that are not numbers become NaN, columns without any number are left out."""
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=delimiter))
    if not rows:
        return {}
    header, body = rows[0], rows[1:]
    columns: dict[str, np.ndarray] = {}
    for index, name in enumerate(header):
        values = np.array([_number(row[index] if index < len(row) else "") for row in body])
        if body and not np.all(np.isnan(values)):
            columns[name.strip()] = values
    return columns


def _number(cell: str) -> float:
    try:
        return float(cell)
    except ValueError:
        return float("nan")
