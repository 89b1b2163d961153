"""NetCDF-3 files written without netCDF4 must open in the tools scientists use."""

from __future__ import annotations

import io

import numpy as np
import pytest
import scipy.io
import xarray as xr
from nagelfluh_runner.netcdf import NetCDFError, Variable, read_netcdf, write_netcdf


def _sample() -> dict:
    t = np.linspace(0.0, 1.0, 11)
    return {
        "time": (("time",), t, {"units": "s"}),
        "velocity": Variable(
            ("time",), np.sin(t), {"units": "mm/s", "long_name": "Velocity", "range": [-1.0, 1.0]}
        ),
        "counts": (("y", "x"), np.arange(6, dtype=np.int64).reshape(2, 3), {"units": "1"}),
        "flag": (("time",), (t > 0.5), {"units": "1"}),
        "small": (("time",), np.arange(11, dtype=np.int16), {"units": "1", "scale": 3}),
        "single": (("x",), np.ones(3, dtype=np.float32), {"units": "m"}),
        "station": (("station", "name_length"), np.array(["Rigi", "Pilatus"]), {"units": "1"}),
    }


def test_written_file_opens_in_xarray_with_units_and_attributes(tmp_path):
    path = tmp_path / "a.nc"
    size = write_netcdf(path, None, _sample(), {"title": "test", "rms": 0.5, "n": 3})
    assert size == path.stat().st_size
    with xr.open_dataset(path) as ds:
        assert ds.attrs == {"title": "test", "rms": 0.5, "n": 3}
        assert ds["velocity"].attrs["units"] == "mm/s"
        np.testing.assert_allclose(ds["velocity"].values, np.sin(np.linspace(0, 1, 11)))
        np.testing.assert_allclose(ds["velocity"].attrs["range"], [-1.0, 1.0])
        assert ds["counts"].dtype == np.int32
        assert ds["single"].dtype == np.float32
        assert list(ds["station"].values) == [b"Rigi", b"Pilatus"]
        assert ds["time"].attrs["units"] == "s"


def test_written_file_opens_with_scipy_netcdf_file(tmp_path):
    write_netcdf(tmp_path / "a.nc", None, _sample())
    with scipy.io.netcdf_file(tmp_path / "a.nc", mmap=False) as nc:
        assert nc.version_byte == 1
        np.testing.assert_array_equal(nc.variables["small"][:], np.arange(11))
        assert nc.variables["velocity"].units == b"mm/s"


def test_round_trip_keeps_dims_data_types_and_attributes():
    buffer = io.BytesIO()
    write_netcdf(buffer, {"time": 11}, _sample(), {"title": "round trip", "ids": [1, 2]})
    data = read_netcdf(buffer.getvalue())
    assert data.dims == {"time": 11, "y": 2, "x": 3, "station": 2, "name_length": 7}
    assert data.attrs["title"] == "round trip"
    np.testing.assert_array_equal(data.attrs["ids"], [1, 2])
    assert data["velocity"].units == "mm/s"
    assert data["velocity"].attrs["long_name"] == "Velocity"
    assert data["small"].attrs["scale"] == 3
    np.testing.assert_array_equal(data["counts"].data, np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(data["flag"].data, np.linspace(0, 1, 11) > 0.5)
    assert data["station"].data.shape == (2, 7)
    assert data["station"].data[1].tobytes() == b"Pilatus"
    assert data.data_variables() == ["velocity", "counts", "flag", "small", "single", "station"]


def test_reader_can_load_only_some_variables(tmp_path):
    write_netcdf(tmp_path / "a.nc", None, _sample())
    data = read_netcdf(tmp_path / "a.nc", ["time"])
    assert list(data.variables) == ["time"]
    assert data.dims["x"] == 3


def test_reader_handles_record_dimensions_written_by_scipy(tmp_path):
    with scipy.io.netcdf_file(tmp_path / "r.nc", "w") as nc:
        nc.createDimension("time", None)
        nc.createDimension("x", 3)
        grid = nc.createVariable("grid", "f8", ("time", "x"))
        grid[:] = np.arange(12.0).reshape(4, 3)
        grid.units = "K"
        series = nc.createVariable("series", "i2", ("time",))
        series[:] = [1, 2, 3, 4]
    data = read_netcdf(tmp_path / "r.nc")
    assert data.dims == {"time": 4, "x": 3}
    np.testing.assert_array_equal(data["grid"].data, np.arange(12.0).reshape(4, 3))
    np.testing.assert_array_equal(data["series"].data, [1, 2, 3, 4])
    assert data["grid"].units == "K"


def test_reader_handles_a_single_unpadded_record_variable(tmp_path):
    with scipy.io.netcdf_file(tmp_path / "r.nc", "w") as nc:
        nc.createDimension("time", None)
        nc.createVariable("b", "i1", ("time",))[:] = [1, 2, 3, 4, 5]
    np.testing.assert_array_equal(read_netcdf(tmp_path / "r.nc")["b"].data, [1, 2, 3, 4, 5])


def test_writer_refuses_what_netcdf3_cannot_hold():
    with pytest.raises(NetCDFError, match="int32"):
        write_netcdf(io.BytesIO(), None, {"big": (("x",), np.array([2**40]))})
    with pytest.raises(NetCDFError, match="not a NetCDF-3 type"):
        write_netcdf(io.BytesIO(), None, {"z": (("x",), np.ones(2, dtype=complex))})
    with pytest.raises(NetCDFError, match="dim 'x' has length 3, expected 2"):
        write_netcdf(io.BytesIO(), {"x": 2}, {"a": (("x",), np.ones(3))})
    with pytest.raises(NetCDFError, match="dim 'x' is empty"):
        write_netcdf(io.BytesIO(), None, {"a": (("x",), np.ones(0))})
    with pytest.raises(NetCDFError, match="invalid NetCDF name"):
        write_netcdf(io.BytesIO(), None, {"a/b": (("x",), np.ones(3))})


def test_reader_refuses_netcdf4_and_other_files():
    with pytest.raises(NetCDFError, match="NetCDF-4"):
        read_netcdf(b"\x89HDF\r\n\x1a\n" + bytes(100))
    with pytest.raises(NetCDFError, match="not a NetCDF-3 file"):
        read_netcdf(b"time,value\n0,1\n")


def test_64_bit_offset_files_open_in_xarray_and_scipy(tmp_path):
    path = tmp_path / "big.nc"
    write_netcdf(path, None, _sample(), {"title": "cdf2"}, offset64=True)
    with scipy.io.netcdf_file(path, mmap=False) as nc:
        assert nc.version_byte == 2
    with xr.open_dataset(path) as ds:
        np.testing.assert_allclose(ds["velocity"].values, np.sin(np.linspace(0, 1, 11)))
    assert read_netcdf(path)["counts"].data.tolist() == [[0, 1, 2], [3, 4, 5]]
