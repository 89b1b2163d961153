"""A 2-D grid output as NetCDF-3, NetCDF-4 gzip and a Zarr store, on file storage.

One ``--grid`` x ``--grid`` float64 field (smooth plus noise, with its latitude and
longitude coordinates, all with units) goes through the runner's own path for each
format: ``ctx.write_netcdf(..., format="netcdf3")`` (the numpy-only writer, the
baseline), ``format="netcdf4"`` (xarray + h5netcdf) and ``ctx.write_zarr`` (xarray +
zarr: a v3 store written to a local temporary folder, then every file uploaded as
one object and hashed for the manifest's digest). Measured, from the same run:

* a fresh interpreter (``python -c``), the median of ``--repeats`` runs taking
  turns: the runner's start (``import nagelfluh_runner.context`` + numpy + the data,
  no write), the same plus only the imports each format's path needs, and the same
  plus the write and upload; ``python -c pass`` as the floor;
* the write and upload alone in this (warm) process, median of ``--repeats``;
* what storage holds: bytes and objects.

No server. Exits 0 whatever the figures; with ``--check`` exits 1 when an output
does not read back with its units and values.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time

PYTHON = sys.executable
FORMATS = ("netcdf3", "netcdf4", "zarr")
# What each format's write path imports beyond the runner's start.
IMPORTS = {
    "netcdf3": "import nagelfluh_runner.netcdf",
    "netcdf4": "import xarray, h5netcdf",
    "zarr": "import xarray, zarr",
}

SETUP = """
import io, numpy as np
from nagelfluh_runner.context import StorageContext
from nagelfluh_runner.storage import open_storage

def grid(n):
    rng = np.random.default_rng(1)
    y = np.linspace(46.0, 47.0, n)
    x = np.linspace(7.0, 8.0, n)
    field = np.sin(3 * y)[:, None] * np.cos(5 * x)[None, :] * 20 + rng.normal(0, 0.05, (n, n))
    return {
        "latitude": ("latitude", y, {"units": "degrees_north"}),
        "longitude": ("longitude", x, {"units": "degrees_east"}),
        "gravity_anomaly": (("latitude", "longitude"), field,
                            {"units": "mGal", "long_name": "Gravity anomaly"}),
    }

def write(ctx, fmt, variables):
    if fmt == "zarr":
        import xarray as xr
        data = {name: xr.Variable(*spec) for name, spec in variables.items()}
        return ctx.write_zarr("grid.zarr", xr.Dataset(data))
    return ctx.write_netcdf("grid.nc", None, variables, format=fmt)

def context(root, process=1, version=1):
    return StorageContext(open_storage("file://" + root), 7, process, version,
                          process_type="bench", stdout=io.StringIO())
"""

START = SETUP + "\nimport sys\nvariables = grid(int(sys.argv[3]))\n"
# A version of its own per run: a store is written once per version.
WRITE = START + (
    "import os\n"
    "write(context(sys.argv[1], 1, 1 + int.from_bytes(os.urandom(4), 'big')), sys.argv[2], "
    "variables)\n"
)


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


def warm(root: str, fmt: str, ns: dict, variables: dict, repeats: int) -> tuple[float, dict]:
    """Median seconds of one write + upload in this process (every import already done)."""
    ns["write"](ns["context"](root, 2, 100), fmt, variables)  # imports, caches
    times, entry = [], {}
    for i in range(repeats):
        ctx = ns["context"](root, 2, i + 1)
        start = time.perf_counter()
        entry = ns["write"](ctx, fmt, variables)
        times.append(time.perf_counter() - start)
    return statistics.median(times), entry


def reads_back(root: str, entry: dict, variables: dict) -> bool:
    import numpy as np
    from nagelfluh_runner.sdk import InputDataset
    from nagelfluh_runner.storage import open_storage

    dataset = InputDataset("1", entry["path"], entry["mime_type"], entry["key"],
                           open_storage("file://" + root))  # fmt: skip
    ds = dataset.load()
    return all(
        ds[name].attrs.get("units") == spec[2]["units"] and np.array_equal(ds[name], spec[1])
        for name, spec in variables.items()
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    n = str(args.grid)

    ns: dict = {}
    exec(SETUP, ns)  # the same data the fresh processes write
    variables = ns["grid"](args.grid)
    raw = sum(spec[1].nbytes for spec in variables.values())
    print(f"grid {args.grid} x {args.grid} float64 + coordinates: {raw / 1e6:.2f} MB in memory")
    ok = True
    with tempfile.TemporaryDirectory() as root:
        (empty,) = fresh([("pass", [])], args.repeats)
        print(f"fresh `python -c pass`: {empty * 1000:.0f} ms (median of {args.repeats})")
        runs = [(START, [root, "-", n])]
        runs += [(START + IMPORTS[fmt] + "\n", [root, fmt, n]) for fmt in FORMATS]
        runs += [(WRITE, [root, fmt, n]) for fmt in FORMATS]
        start, *rest = fresh(runs, args.repeats)
        imported = dict(zip(FORMATS, rest[: len(FORMATS)], strict=True))
        written = dict(zip(FORMATS, rest[len(FORMATS) :], strict=True))
        print(f"runner start (context + numpy + data, no write): {start * 1000:.0f} ms")
        row = {}
        for fmt in FORMATS:
            hot, entry = warm(root, fmt, ns, variables, args.repeats)
            ok &= reads_back(root, entry, variables)
            row[fmt] = (written[fmt], hot, entry["size"])
            print(
                f"{fmt:8}: fresh process {written[fmt] * 1000:5.0f} ms "
                f"(imports +{(imported[fmt] - start) * 1000:4.0f} ms, "
                f"imports + write +{(written[fmt] - start) * 1000:4.0f} ms over the runner "
                f"start), warm write + upload {hot * 1000:6.1f} ms, "
                f"{entry['size'] / 1e6:5.2f} MB in {entry.get('objects', 1)} object(s)"
            )
        c3, h3, s3 = row["netcdf3"]
        for fmt in FORMATS[1:]:
            cold, hot, size = row[fmt]
            print(
                f"{fmt}/netcdf3: fresh process x{cold / c3:.2f} (+{(cold - c3) * 1000:.0f} ms), "
                f"warm write x{hot / h3:.1f}, size x{size / s3:.2f}"
            )
    print("read back with units and values:", "yes" if ok else "NO")
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
