"""NetCDF-3 (the runner's numpy-only writer) vs NetCDF-4 gzip (xarray + h5netcdf) outputs.

Two typical outputs go through ``StorageContext.write_netcdf`` on file storage:
a 1-D signal of ``--points`` float64 samples (a sine plus noise, with its time
coordinate) and a ``--grid`` x ``--grid`` float64 field (smooth plus noise, with
its coordinates). Measured, from the same run:

* a fresh interpreter (``python -c``): start, imports and one write, the median
  of ``--repeats`` runs, against ``python -c pass`` and against the runner's start
  (``import nagelfluh_runner.context`` + numpy) as baselines;
* the write alone in this (warm) process, median of ``--repeats``;
* the file sizes.

No server. Exits 0 whatever the figures; with ``--check`` exits 1 when a file
does not read back with its units.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PYTHON = sys.executable

SETUP = """
import io, numpy as np
from nagelfluh_runner.context import StorageContext
from nagelfluh_runner.storage import open_storage

def outputs(points, grid):
    rng = np.random.default_rng(1)
    t = np.arange(points) / 100.0
    signal = {
        "time": ("time", t, {"units": "s"}),
        "amplitude": ("time", 3 * np.sin(2 * np.pi * 1.5 * t) + rng.normal(0, 0.1, points),
                      {"units": "mm/s", "long_name": "Amplitude"}),
    }
    y = np.linspace(46.0, 47.0, grid)
    x = np.linspace(7.0, 8.0, grid)
    field = np.sin(3 * y)[:, None] * np.cos(5 * x)[None, :] * 20 + rng.normal(0, 0.05, (grid, grid))
    surface = {
        "latitude": ("latitude", y, {"units": "degrees_north"}),
        "longitude": ("longitude", x, {"units": "degrees_east"}),
        "gravity_anomaly": (("latitude", "longitude"), field, {"units": "mGal"}),
    }
    return {"signal.nc": signal, "grid.nc": surface}

def context(root):
    return StorageContext(open_storage("file://" + root), 7, 1, 1, process_type="bench",
                          stdout=io.StringIO())
"""

WRITE = (
    SETUP
    + """
import sys
root, name, fmt = sys.argv[1:4]
points, grid = int(sys.argv[4]), int(sys.argv[5])
context(root).write_netcdf(name, None, outputs(points, grid)[name], format=fmt)
"""
)

RUNNER_START = SETUP + "\nimport sys\noutputs(int(sys.argv[4]), int(sys.argv[5]))\n"


def fresh(runs: list[tuple[str, list[str]]], repeats: int) -> list[float]:
    """Median wall seconds of each ``python -c code args`` in a fresh interpreter.

    The runs take turns, so a busy moment of the machine hits them alike.
    """
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(repeats):
        for i, (code, args) in enumerate(runs):
            start = time.perf_counter()
            subprocess.run([PYTHON, "-c", code, *args], check=True)
            times[i].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def warm(ctx_root: str, name: str, fmt: str, data: dict, repeats: int) -> tuple[float, int]:
    from nagelfluh_runner.context import StorageContext
    from nagelfluh_runner.storage import open_storage

    times, size = [], 0
    for i in range(repeats):
        ctx = StorageContext(open_storage("file://" + ctx_root), 7, 2, i + 1, stdout=None)
        start = time.perf_counter()
        size = ctx.write_netcdf(name, None, data, format=fmt)["size"]
        times.append(time.perf_counter() - start)
    return statistics.median(times), size


def reads_back(path: Path, data: dict) -> bool:
    import xarray as xr

    with xr.open_dataset(path) as ds:
        return all(ds[n].attrs.get("units") == spec[2]["units"] for n, spec in data.items())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--grid", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    sizes = [str(args.points), str(args.grid)]

    ns: dict = {}
    exec(SETUP, ns)  # the same data the fresh processes write
    data = ns["outputs"](args.points, args.grid)
    ok = True
    with tempfile.TemporaryDirectory() as root:
        (empty,) = fresh([("pass", [])], args.repeats)
        print(f"fresh `python -c pass`: {empty * 1000:.0f} ms (median of {args.repeats})")
        for name in data:
            row = {}
            start, *colds = fresh(
                [(RUNNER_START, [root, name, "-", *sizes])]
                + [(WRITE, [root, name, fmt, *sizes]) for fmt in ("netcdf3", "netcdf4")],
                args.repeats,
            )
            print(
                f"{name:10} runner start (context + numpy + data, no write): {start * 1000:.0f} ms"
            )
            for fmt, cold in zip(("netcdf3", "netcdf4"), colds, strict=True):
                hot, size = warm(root, name, fmt, data[name], args.repeats)
                path = Path(root) / "7/processes/2/v1" / name
                ok &= reads_back(path, data[name])
                row[fmt] = (cold, hot, size)
                print(
                    f"{name:10} {fmt}: fresh process {cold * 1000:6.0f} ms "
                    f"(+{(cold - start) * 1000:5.0f} ms over the runner start), "
                    f"warm write {hot * 1000:6.1f} ms, {size / 1e6:6.2f} MB"
                )
            (c3, h3, s3), (c4, h4, s4) = row["netcdf3"], row["netcdf4"]
            print(
                f"{name:10} netcdf4/netcdf3: fresh process x{c4 / c3:.2f} "
                f"(+{(c4 - c3) * 1000:.0f} ms), warm write x{h4 / h3:.1f}, size x{s4 / s3:.2f}"
            )
    print("read back with units:", "yes" if ok else "NO")
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
