"""Plot-ready views of datasets (NetCDF-3, NetCDF-4/HDF5, CSV or Zarr, read by ``formats``):
chosen 1-D variables, or one 2-D grid, decimated to what a screen shows.

A browser or kernel asks for ``points`` (about the plot's width in pixels) over
an x range; the server keeps the minimum and maximum of every bucket, so peaks
and spikes survive, and a zoomed-in request gets full resolution again.

A 2-D variable (``z``) comes back as a grid of at most ``height`` x ``width``
cells over the x and y ranges: whole blocks of cells reduced to their mean
(or minimum, or maximum), ignoring NaNs, at the blocks' mean coordinates.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr
from nagelfluh_runner.datasets import text_attribute
from tsdownsample import MinMaxDownsampler

from ..errors import BadRequest, field_error
from .access import natural

MAX_POINTS = 100_000
DEFAULT_POINTS = 2_000
MAX_CELLS_SIDE = 2_000
DEFAULT_CELLS_SIDE = 500
REDUCTIONS: dict[str, Callable[..., np.ndarray]] = {
    "mean": np.nanmean,
    "min": np.nanmin,
    "max": np.nanmax,
}
_MIN_MAX = MinMaxDownsampler()


@dataclass(frozen=True)
class ViewRequest:
    x: str | None
    y: list[str]
    points: int
    x0: float | None
    x1: float | None
    # a grid: the 2-D variable ``z``, at most height x width cells over [x0, x1] x [y0, y1]
    z: str | None = None
    width: int = DEFAULT_CELLS_SIDE
    height: int = DEFAULT_CELLS_SIDE
    y0: float | None = None
    y1: float | None = None
    reduce: str = "mean"


def parse_view_request(
    x: str | None,
    y: list[str],
    points: str | None,
    x0: str | None,
    x1: str | None,
    z: str | None = None,
    width: str | None = None,
    height: str | None = None,
    y0: str | None = None,
    y1: str | None = None,
    reduce: str | None = None,
) -> ViewRequest:
    def number(value: str | None, name: str) -> float | None:
        if value is None:
            return None
        try:
            parsed = float(value)
        except ValueError:
            raise field_error(f"/{name}", f"{value!r} is not a number") from None
        if not np.isfinite(parsed):
            raise field_error(f"/{name}", "must be finite")
        return parsed

    count = DEFAULT_POINTS
    if points is not None:
        parsed = natural(points, MAX_POINTS)
        if parsed is None or parsed < 2:
            raise field_error("/points", f"must be an integer from 2 to {MAX_POINTS}")
        count = parsed
    start, end = number(x0, "x0"), number(x1, "x1")
    if start is not None and end is not None and start > end:
        raise field_error("/x0", "must not be greater than x1")
    if z is None:
        for name, value in (("width", width), ("height", height), ("y0", y0), ("y1", y1)):
            if value is not None:
                raise field_error(f"/{name}", "only for a grid: name its variable with z")
        if reduce is not None:
            raise field_error("/reduce", "only for a grid: name its variable with z")
        return ViewRequest(x, y, count, start, end)
    for name, given in (("x", x), ("y", y or None), ("points", points)):
        if given is not None:
            raise field_error(
                f"/{name}", "not with z: a grid's axes are its dimensions' coordinates"
            )
    sides = []
    for name, value in (("width", width), ("height", height)):
        side = DEFAULT_CELLS_SIDE if value is None else natural(value, MAX_CELLS_SIDE)
        if side is None or side < 1:
            raise field_error(f"/{name}", f"must be an integer from 1 to {MAX_CELLS_SIDE}")
        sides.append(side)
    bottom, top = number(y0, "y0"), number(y1, "y1")
    if bottom is not None and top is not None and bottom > top:
        raise field_error("/y0", "must not be greater than y1")
    if reduce is not None and reduce not in REDUCTIONS:
        raise field_error("/reduce", f"must be one of {', '.join(REDUCTIONS)}")
    return ViewRequest(
        None, [], count, start, end, z, sides[0], sides[1], bottom, top, reduce or "mean"
    )


def unreadable(name: str, mime_type: str, reason: object) -> BadRequest:
    """The 400 of a view of a file ``formats`` cannot read (an opaque file)."""
    return BadRequest(
        f"{name!r} is not a readable NetCDF/CSV file or Zarr store: {reason}",
        {"dataset": name, "mime_type": mime_type},
    )


def view(data: xr.Dataset, request: ViewRequest) -> dict[str, Any]:
    """The requested variables along one dimension (or a 2-D grid), decimated; 400s
    name the field at fault."""
    if request.z is not None:
        return grid(data, request)
    names = request.y or _data_variables(data)
    for name in names:
        _check_1d(data, name, "/y")
    dim = data.variables[names[0]].dims[0] if names else None
    if request.x is not None:
        _check_1d(data, request.x, "/x")
        dim = data.variables[request.x].dims[0]
    if dim is None:
        raise field_error("/y", "the dataset has no 1-D variable to show")
    for name in names:
        if data.variables[name].dims[0] != dim:
            along = data.variables[name].dims[0]
            raise field_error("/y", f"{name!r} runs along {along!r}, not {dim!r}")
    numeric_coordinate = dim in data.variables and data.variables[dim].dtype.kind in "biuf"
    x_name = request.x or (dim if numeric_coordinate else None)
    x_values = (
        np.asarray(data.variables[x_name].values, dtype=float)
        if x_name is not None
        else np.arange(data.sizes[dim], dtype=float)
    )
    columns = {name: np.asarray(data.variables[name].values, dtype=float) for name in names}
    in_range = _in_range(x_values, request.x0, request.x1)
    index = _decimate(in_range, list(columns.values()), request.points)
    return {
        "dimension": dim,
        "total": int(x_values.size),
        "in_range": int(in_range.size),
        "decimated": bool(index.size < in_range.size),
        "x": _column(data, x_name, x_values, index),
        "y": [_column(data, name, values, index) for name, values in columns.items()],
    }


def _data_variables(data: xr.Dataset) -> list[str]:
    """Numeric variables that are not coordinates (a coordinate shares its dim's name)."""
    return [
        str(name)
        for name, var in data.variables.items()
        if var.dims != (name,) and var.dtype.kind in "biuf"
    ]


def _names(data: xr.Dataset) -> list[str]:
    return sorted(str(name) for name in data.variables)


def _check_1d(data: xr.Dataset, name: str, path: str) -> None:
    if name not in data.variables:
        raise field_error(path, f"no variable {name!r}; there are {_names(data)}")
    dims = data.variables[name].dims
    if len(dims) == 2:
        raise field_error(
            path,
            f"{name!r} is two-dimensional ({', '.join(map(str, dims))}): ask for it as z={name}",
        )
    if len(dims) != 1:
        raise field_error(path, f"{name!r} is not one-dimensional: its dims are {dims}")
    if data.variables[name].dtype.kind not in "biuf":
        raise field_error(path, f"{name!r} is not numeric")


def _in_range(x: np.ndarray, low: float | None, high: float | None) -> np.ndarray:
    keep = np.ones(x.size, dtype=bool)
    if low is not None:
        keep &= x >= low
    if high is not None:
        keep &= x <= high
    return np.flatnonzero(keep)


def _decimate(index: np.ndarray, ys: list[np.ndarray], points: int) -> np.ndarray:
    """At most about ``points`` of ``index``: all of them if they fit, else the ends and,
    in each of equal-count buckets, the positions of every variable's minimum and
    maximum (so no peak is lost, unlike taking every n-th point), in index order.

    The minima and maxima come from ``tsdownsample``'s MinMaxDownsampler (SIMD, no
    Python loop over buckets: see benchmarks/decimation.py), which skips NaNs."""
    if index.size <= points:
        return index
    per_bucket = 2 * max(1, len(ys))
    n_out = 2 * max(1, (points - 2) // per_bucket)  # per variable: a min and a max a bucket
    start, stop = int(index[0]), int(index[-1]) + 1
    contiguous = stop - start == index.size  # a range of x: a view, not a copy
    chosen = [index[:1], index[-1:]]
    for y in ys:
        values = y[start:stop] if contiguous else y[index]
        picked = _MIN_MAX.downsample(np.ascontiguousarray(values), n_out=n_out)
        chosen.append(index[picked])
    return np.unique(np.concatenate(chosen))


def _column(
    data: xr.Dataset, name: Hashable | None, values: np.ndarray, index: np.ndarray
) -> dict[str, Any]:
    attrs = data.variables[name].attrs if name is not None else {}
    picked = values[index]
    return {
        "name": name,
        "units": text_attribute(attrs.get("units")),
        "long_name": text_attribute(attrs.get("long_name")),
        "values": [None if not np.isfinite(v) else float(v) for v in picked],
    }


def grid(data: xr.Dataset, request: ViewRequest) -> dict[str, Any]:
    """The 2-D variable ``request.z`` over its two dimensions (rows along the first,
    y, columns along the second, x), in at most height x width blocks of cells."""
    name = request.z
    assert name is not None
    if name not in data.variables:
        raise field_error("/z", f"no variable {name!r}; there are {_names(data)}")
    var = data.variables[name]
    if len(var.dims) != 2:
        dims = ", ".join(map(str, var.dims)) or "none"
        raise field_error(
            "/z", f"{name!r} has {len(var.dims)} dimension(s) ({dims}); a grid needs two"
        )
    if var.dtype.kind not in "biuf":
        raise field_error("/z", f"{name!r} is not numeric")
    y_dim, x_dim = var.dims
    y_name, y_values = _axis(data, y_dim)
    x_name, x_values = _axis(data, x_dim)
    rows = _in_range(y_values, request.y0, request.y1)
    cols = _in_range(x_values, request.x0, request.x1)
    values = np.asarray(var.values, dtype=float)[np.ix_(rows, cols)]
    block_y = max(1, -(-rows.size // request.height))
    block_x = max(1, -(-cols.size // request.width))
    reduced = _blocks(values, block_y, block_x, REDUCTIONS[request.reduce])
    ys = _blocks(y_values[rows][:, None], block_y, 1, np.nanmean)[:, 0]
    xs = _blocks(x_values[cols][None, :], 1, block_x, np.nanmean)[0]
    return {
        "dims": [y_dim, x_dim],
        "total": [int(y_values.size), int(x_values.size)],
        "in_range": [int(rows.size), int(cols.size)],
        "shape": [int(reduced.shape[0]), int(reduced.shape[1])],
        "block": [block_y, block_x],
        "reduce": request.reduce,
        "decimated": block_y > 1 or block_x > 1,
        "x": _column(data, x_name, xs, np.arange(xs.size)),
        "y": _column(data, y_name, ys, np.arange(ys.size)),
        "z": {
            "name": name,
            "units": text_attribute(var.attrs.get("units")),
            "long_name": text_attribute(var.attrs.get("long_name")),
            "values": [[None if not np.isfinite(v) else float(v) for v in row] for row in reduced],
        },
    }


def _axis(data: xr.Dataset, dim: Hashable) -> tuple[Hashable | None, np.ndarray]:
    """The dimension's coordinate variable and its values, or None and the indices."""
    coordinate = data.variables.get(dim)
    if coordinate is not None and coordinate.dims == (dim,):
        try:
            return dim, np.asarray(coordinate.values, dtype=float)
        except (TypeError, ValueError):
            pass
    return None, np.arange(data.sizes[dim], dtype=float)


def _blocks(
    values: np.ndarray, block_y: int, block_x: int, reduce: Callable[..., np.ndarray]
) -> np.ndarray:
    """``values`` reduced over whole blocks of block_y x block_x cells (the last row and
    column of blocks may be partial), ignoring NaNs: NaN where a block has no number."""
    ny, nx = values.shape
    out_y, out_x = -(-ny // block_y), -(-nx // block_x)
    if block_y == block_x == 1 or values.size == 0:
        return values.reshape(out_y, out_x)
    padded = np.full((out_y * block_y, out_x * block_x), np.nan)
    padded[:ny, :nx] = values
    blocks = padded.reshape(out_y, block_y, out_x, block_x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN blocks: NaN, as meant
        return reduce(blocks, axis=(1, 3))
