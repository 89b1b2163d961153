"""NetCDF-4 outputs: opt-in ``format="netcdf4"``, compressed, described like NetCDF-3 ones."""

from __future__ import annotations

import io

import numpy as np
import pytest
import xarray as xr
from nagelfluh_runner.context import StorageContext
from nagelfluh_runner.datasets import read_arrays
from nagelfluh_runner.storage import open_storage


@pytest.fixture
def storage(tmp_path):
    return open_storage(f"file://{tmp_path}")


def _ctx(storage, version: int = 2) -> StorageContext:
    return StorageContext(storage, 7, 3, version, process_type="test", stdout=io.StringIO())


def _variables():
    x = np.linspace(0.0, 1.0, 400)
    return {
        "x": ("x", x, {"units": "m"}),
        "y": ("y", np.arange(3.0), {"units": "km"}),
        "g": (("y", "x"), np.tile(np.sin(x), (3, 1)), {"units": "mGal", "long_name": "Gravity"}),
    }


def test_netcdf4_output_reads_back_with_units_and_is_described_alike(storage, tmp_path):
    three = _ctx(storage, 1).write_netcdf("grid.nc", None, _variables(), {"n": 3}, title="Grid")
    four = _ctx(storage, 2).write_netcdf(
        "grid.nc", None, _variables(), {"n": 3}, title="Grid", format="netcdf4"
    )
    path = tmp_path / four["path"]
    assert path.read_bytes()[:8] == b"\x89HDF\r\n\x1a\n"
    assert four["size"] == path.stat().st_size
    differs = {"path", "size"}
    assert {k: v for k, v in four.items() if k not in differs} == {
        k: v for k, v in three.items() if k not in differs
    }
    assert four["mime_type"] == "application/x-netcdf"
    assert [(v["name"], v["units"]) for v in four["variables"]] == [
        ("x", "m"),
        ("y", "km"),
        ("g", "mGal"),
    ]
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        assert ds.attrs["title"] == "Grid"
        assert ds.attrs["n"] == 3
        assert ds.attrs["source"] == "nagelfluh test"
        assert {n: ds[n].attrs["units"] for n in ("x", "y", "g")} == {
            "x": "m",
            "y": "km",
            "g": "mGal",
        }
        assert ds["g"].attrs["long_name"] == "Gravity"
        assert (ds["g"].encoding["zlib"], ds["g"].encoding["complevel"]) == (True, 4)
        assert "_FillValue" not in ds["g"].encoding
        np.testing.assert_array_equal(ds["g"].values, _variables()["g"][1])
    arrays = read_arrays(path.read_bytes())  # chained into a runner process
    assert arrays["g"].units == "mGal"


def test_netcdf4_output_needs_units_and_a_known_format(storage):
    ctx = _ctx(storage)
    with pytest.raises(ValueError, match="'b' has no 'units'"):
        ctx.write_netcdf(
            "x.nc",
            None,
            {"a": (("x",), np.ones(2), {"units": "m"}), "b": (("x",), np.ones(2))},
            format="netcdf4",
        )
    with pytest.raises(ValueError, match="format 'hdf5'"):
        ctx.write_netcdf("x.nc", None, {"a": ("x", np.ones(2), {"units": "m"})}, format="hdf5")
    assert storage.list("7/") == []
