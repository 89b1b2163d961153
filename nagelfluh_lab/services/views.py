"""Plot-ready views of NetCDF datasets: chosen 1-D variables, decimated to what a screen shows.

A browser or kernel asks for ``points`` (about the plot's width in pixels) over
an x range; the server keeps the minimum and maximum of every bucket, so peaks
and spikes survive, and a zoomed-in request gets full resolution again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from nagelfluh_runner.netcdf import NetCDFData, NetCDFError, read_netcdf
from tsdownsample import MinMaxDownsampler

from ..errors import BadRequest, field_error
from .access import natural

MAX_POINTS = 100_000
DEFAULT_POINTS = 2_000
NETCDF = "application/x-netcdf"
_MIN_MAX = MinMaxDownsampler()


@dataclass(frozen=True)
class ViewRequest:
    x: str | None
    y: list[str]
    points: int
    x0: float | None
    x1: float | None


def parse_view_request(
    x: str | None, y: list[str], points: str | None, x0: str | None, x1: str | None
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
    return ViewRequest(x, y, count, start, end)


def view(raw: bytes, mime_type: str, request: ViewRequest) -> dict:
    """The requested variables along one dimension, decimated; 400s name the field at fault."""
    if mime_type != NETCDF:
        raise BadRequest(
            f"only NetCDF datasets have a view, not {mime_type}", {"mime_type": mime_type}
        )
    try:
        data = read_netcdf(raw)
    except NetCDFError as error:
        raise BadRequest(f"the dataset is not readable NetCDF: {error}") from error
    names = request.y or data.data_variables()
    for name in names:
        _check_1d(data, name, "/y")
    dim = data[names[0]].dims[0] if names else None
    if request.x is not None:
        _check_1d(data, request.x, "/x")
        dim = data[request.x].dims[0]
    if dim is None:
        raise field_error("/y", "the dataset has no 1-D variable to show")
    for name in names:
        if data[name].dims[0] != dim:
            raise field_error("/y", f"{name!r} runs along {data[name].dims[0]!r}, not {dim!r}")
    x_name = request.x or (dim if dim in data.variables else None)
    x_values = (
        np.asarray(data[x_name].data, dtype=float)
        if x_name
        else np.arange(data.dims[dim], dtype=float)
    )
    columns = {name: np.asarray(data[name].data, dtype=float) for name in names}
    in_range = _in_range(x_values, request)
    index = _decimate(in_range, list(columns.values()), request.points)
    return {
        "dimension": dim,
        "total": int(x_values.size),
        "in_range": int(in_range.size),
        "decimated": bool(index.size < in_range.size),
        "x": _column(data, x_name, x_values, index),
        "y": [_column(data, name, values, index) for name, values in columns.items()],
    }


def _check_1d(data: NetCDFData, name: str, path: str) -> None:
    if name not in data.variables:
        raise field_error(path, f"no variable {name!r}; there are {sorted(data.variables)}")
    if len(data[name].dims) != 1:
        raise field_error(path, f"{name!r} is not one-dimensional")


def _in_range(x: np.ndarray, request: ViewRequest) -> np.ndarray:
    keep = np.ones(x.size, dtype=bool)
    if request.x0 is not None:
        keep &= x >= request.x0
    if request.x1 is not None:
        keep &= x <= request.x1
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


def _column(data: NetCDFData, name: str | None, values: np.ndarray, index: np.ndarray) -> dict:
    attrs = data[name].attrs if name else {}
    picked = values[index]
    return {
        "name": name,
        "units": attrs.get("units"),
        "long_name": attrs.get("long_name"),
        "values": [None if not np.isfinite(v) else float(v) for v in picked],
    }
