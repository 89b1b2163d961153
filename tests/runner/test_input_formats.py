"""Inputs in every format the server describes: NetCDF-3, NetCDF-4/HDF5 and CSV.

``InputDataset.load()`` gives an xarray.Dataset, ``arrays()`` the runner's NetCDFData;
the bootstrap types read through ``arrays()``, so a NetCDF-4 input works for them too.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import xarray as xr
from nagelfluh_runner.datasets import DatasetFormatError, read_arrays
from nagelfluh_runner.protocol import DATASET_READABLE, EXIT_OK, EXIT_USAGE
from nagelfluh_runner.registry import load as load_type
from nagelfluh_runner.sdk import InputDataset, ParameterError
from nagelfluh_runner.storage import open_storage

PROJECT = 7
RATE = 100.0


def _signal(frequency: float = 12.5, amplitude: float = 3.0) -> xr.Dataset:
    time = np.arange(512) / RATE
    return xr.Dataset(
        {
            "displacement": (
                "time",
                amplitude * np.sin(2 * np.pi * frequency * time),
                {"units": "mm"},
            )
        },
        coords={"time": ("time", time, {"units": "s"})},
        attrs={"title": "test signal"},
    )


def _netcdf4(ds: xr.Dataset) -> bytes:
    return bytes(ds.to_netcdf(engine="h5netcdf"))  # HDF5 signature


def _netcdf3(ds: xr.Dataset) -> bytes:
    return bytes(ds.to_netcdf(engine="scipy"))


CSV = b"time [s],displacement [mm]\n0,1.5\n0.01,2.5\n0.02,-1\n"


def _input(tmp_path, raw: bytes, name: str, mime: str, *, path: str | None = "/signal"):
    storage = open_storage(f"file://{tmp_path}")
    key = f"{PROJECT}/uploads/1-ab/{name}"
    storage.write_bytes(key, raw)
    return InputDataset("12", key, mime, name, storage, path=path)


@pytest.mark.parametrize(
    ("raw", "name", "mime"),
    [
        (_netcdf3(_signal()), "signal3.nc", "application/x-netcdf"),
        (_netcdf4(_signal()), "signal4.nc", "application/x-netcdf"),
    ],
    ids=["netcdf3", "netcdf4"],
)
def test_load_reads_netcdf_3_and_4_as_xarray(tmp_path, raw, name, mime):
    ds = _input(tmp_path, raw, name, mime).load()
    assert isinstance(ds, xr.Dataset)
    assert ds["displacement"].attrs["units"] == "mm"
    assert ds["time"].attrs["units"] == "s"
    np.testing.assert_allclose(ds["displacement"].values, _signal()["displacement"].values)
    only = _input(tmp_path, raw, name, mime).load(["displacement", "missing"])
    assert list(only.data_vars) == ["displacement"]


@pytest.mark.parametrize("fmt", ["netcdf3", "netcdf4"])
def test_arrays_reads_both_netcdf_formats_alike(tmp_path, fmt):
    raw = _netcdf3(_signal()) if fmt == "netcdf3" else _netcdf4(_signal())
    data = _input(tmp_path, raw, "s.nc", "application/x-netcdf").arrays()
    assert data.data_variables() == ["displacement"]
    assert data["displacement"].units == "mm"
    assert data["displacement"].dims == ("time",)
    assert data.dims == {"time": 512}
    assert data.attrs["title"] == "test signal"
    np.testing.assert_allclose(data["time"].data, np.arange(512) / RATE)
    subset = read_arrays(raw, "", "s.nc", ["time"])
    assert list(subset.variables) == ["time"]


def test_load_reads_csv_with_units_from_the_header(tmp_path):
    ds = _input(tmp_path, CSV, "rec.csv", "text/csv").load()
    assert ds.sizes == {"row": 3}
    assert ds["displacement"].attrs["units"] == "mm"
    assert ds["time"].attrs["units"] == "s"
    np.testing.assert_allclose(ds["displacement"].values, [1.5, 2.5, -1])
    data = _input(tmp_path, CSV, "rec.csv", "text/csv").arrays(["displacement"])
    assert data["displacement"].units == "mm" and data["displacement"].data.tolist() == [
        1.5,
        2.5,
        -1,
    ]


def test_an_unreadable_input_is_a_parameter_error_naming_its_field(tmp_path):
    notes = _input(tmp_path, b"just some notes\n", "notes.txt", "text/plain")
    with pytest.raises(ParameterError) as caught:
        notes.load()
    assert caught.value.path == "/signal"
    assert "dataset 12 ('notes.txt') is not a readable NetCDF/CSV file" in str(caught.value)
    truncated = _input(tmp_path, _netcdf4(_signal())[:300], "cut.nc", "", path=None)
    with pytest.raises(DatasetFormatError):
        truncated.arrays()


def test_bootstrap_types_that_read_arrays_declare_it():
    for name in ("fft", "inversion"):
        schema = load_type(name).schema
        fields = [
            p for p in schema["properties"].values() if p.get("format") == "nagelfluh-dataset"
        ]
        assert fields and all(f[DATASET_READABLE] is True for f in fields), name


def _stage(jobs, raw: bytes, name: str, mime: str = "application/x-netcdf") -> dict:
    key = f"{PROJECT}/uploads/1-ab/{name}"
    (jobs.root / key).parent.mkdir(parents=True, exist_ok=True)
    (jobs.root / key).write_bytes(raw)
    return {"12": {"key": key, "mime_type": mime, "name": name}}


def test_fft_of_a_netcdf4_input_written_by_xarray(jobs):
    inputs = _stage(jobs, _netcdf4(_signal(frequency=12.5, amplitude=3.0)), "signal4.nc")
    result = jobs.run("fft", {"signal": "dataset:12"}, inputs=inputs)
    assert result.returncode == EXIT_OK, result.stderr
    assert "peak 1: 12.5 Hz" in result.stdout
    (spectrum,) = jobs.manifest()["datasets"]
    with xr.open_dataset(jobs.output_path(spectrum)) as ds:
        assert ds["amplitude"].attrs["units"] == "mm"
        peak = int(np.argmax(ds["amplitude"].values))
        assert float(ds["frequency"][peak]) == pytest.approx(12.5)
        assert float(ds["amplitude"][peak]) == pytest.approx(3.0, rel=0.05)


def test_fft_of_an_unreadable_input_fails_in_one_line_naming_the_field(jobs):
    inputs = _stage(jobs, b"not data", "notes.txt", "text/plain")
    result = jobs.run("fft", {"signal": "dataset:12"}, inputs=inputs)
    assert result.returncode == EXIT_USAGE, result.stderr
    assert result.stderr.splitlines() == [
        "nagelfluh-runner: error: parameter /signal: dataset 12 ('notes.txt') is not a "
        "readable NetCDF/CSV file: neither NetCDF-3, NetCDF-4/HDF5 nor CSV"
    ]


def test_xarray_is_imported_only_by_what_reads_through_it(jobs):
    """A NetCDF-3 input reads with numpy alone; the runner's start imports no xarray."""
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['nagelfluh_runner', 'run']\n"
        "try:\n"
        "    runpy.run_module('nagelfluh_runner', run_name='__main__')\n"
        "except SystemExit as done:\n"
        "    code = done.code\n"
        "heavy = ('xarray', 'pandas', 'scipy', 'h5netcdf', 'h5py')\n"
        "heavy = sorted(m for m in heavy if m in sys.modules)\n"
        "print('HEAVY', code, ','.join(heavy), file=sys.stderr)\n"
    )
    inputs = _stage(jobs, _netcdf3(_signal()), "signal3.nc")
    for process_type, params, extra in [
        ("sleep", {"seconds": 0}, {}),
        ("fft", {"signal": "dataset:12"}, {"inputs": inputs}),
    ]:
        env = jobs.env(process_type, params, **extra)
        result = subprocess.run(
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120
        )
        last = result.stderr.splitlines()[-1]
        assert last == "HEAVY 0 ", (process_type, result.stderr)
