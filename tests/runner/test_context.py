"""The storage context: reads stay in the project, writes in the version, outputs carry units."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import xarray as xr
from nagelfluh_runner.context import StorageContext
from nagelfluh_runner.protocol import CONTRACT_VERSION, PROGRESS_PREFIX, parse_progress
from nagelfluh_runner.storage import StorageKeyError, open_storage


@pytest.fixture
def storage(tmp_path):
    return open_storage(f"file://{tmp_path}")


@pytest.fixture
def ctx(storage):
    return StorageContext(storage, 7, 3, 2, process_type="test", stdout=io.StringIO())


@pytest.mark.parametrize(
    "name",
    [
        "../v1/stolen.nc",
        "../../4/v1/x",
        "/abs/x",
        "a/../../b",
        "..",
        "C:/x",
        "a\\b",
        "_manifest.json",
    ],
)
def test_writes_outside_the_version_prefix_are_refused(ctx, name, tmp_path):
    with pytest.raises(StorageKeyError):
        ctx.write_bytes(name, b"x")
    with pytest.raises(StorageKeyError):
        ctx.open_write(name)
    assert ctx.outputs == {}
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


@pytest.mark.parametrize(
    ("project", "process"), [("..", 1), ("7/processes/2", 1), (7, "../3"), ("", 1)]
)
def test_ids_that_are_not_one_path_segment_are_refused(storage, project, process):
    with pytest.raises(StorageKeyError):
        StorageContext(storage, project, process, 1)


def test_outputs_land_under_the_version_prefix(ctx, storage):
    entry = ctx.write_bytes("tables/a.csv", b"t,v\n0,1\n", "text/csv", units={"t": "s", "v": "m"})
    assert entry["path"] == "7/processes/3/v2/tables/a.csv"
    assert storage.read_bytes("7/processes/3/v2/tables/a.csv") == b"t,v\n0,1\n"
    assert entry["metadata"] == {"units": {"t": "s", "v": "m"}}


@pytest.mark.parametrize(
    "key", ["8/uploads/a.csv", "70/uploads/a.csv", "7/../8/uploads/a.csv", "/7/x"]
)
def test_reads_outside_the_project_are_refused(ctx, storage, key):
    storage.write_bytes("8/uploads/a.csv", b"secret")
    storage.write_bytes("70/uploads/a.csv", b"secret")
    with pytest.raises(StorageKeyError):
        ctx.read_bytes(key)
    with pytest.raises(StorageKeyError):
        ctx.open_read(key)


def test_reads_anywhere_in_the_project_are_allowed(ctx, storage):
    storage.write_bytes("7/uploads/a.csv", b"mine")
    storage.write_bytes("7/processes/1/v1/out.nc", b"older output")
    storage.write_bytes("8/uploads/b.csv", b"theirs")
    assert ctx.read_bytes("7/uploads/a.csv") == b"mine"
    assert ctx.open_read("7/processes/1/v1/out.nc", 6).read() == b"output"
    assert ctx.list() == ["7/processes/1/v1/out.nc", "7/uploads/a.csv"]
    with pytest.raises(StorageKeyError):
        ctx.list("8/")


def test_netcdf_output_without_units_is_refused_before_writing(ctx, storage):
    with pytest.raises(ValueError, match="'b' has no 'units'"):
        ctx.write_netcdf(
            "x.nc", None, {"a": (("x",), np.ones(2), {"units": "m"}), "b": (("x",), np.ones(2))}
        )
    assert storage.list("7/") == []


def test_netcdf_output_is_described_for_the_manifest(ctx, storage, tmp_path):
    entry = ctx.write_netcdf(
        "grid.nc",
        {"y": 2, "x": 3},
        {
            "g": (
                ("y", "x"),
                np.zeros((2, 3), np.float32),
                {"units": "mGal", "long_name": "Gravity"},
            )
        },
        title="Grid",
        metadata={"note": "test"},
    )
    assert entry == {
        "key": "grid.nc",
        "path": "7/processes/3/v2/grid.nc",
        "mime_type": "application/x-netcdf",
        "size": storage.size("7/processes/3/v2/grid.nc"),
        "title": "Grid",
        "metadata": {"note": "test"},
        "dims": {"y": 2, "x": 3},
        "variables": [
            {
                "name": "g",
                "units": "mGal",
                "dims": ["y", "x"],
                "shape": [2, 3],
                "dtype": "float32",
                "long_name": "Gravity",
            }
        ],
    }
    with xr.open_dataset(tmp_path / "7/processes/3/v2/grid.nc") as ds:
        assert ds.attrs["title"] == "Grid"
        assert ds["g"].attrs["units"] == "mGal"


def test_streamed_output_is_recorded_only_when_complete(ctx, storage):
    with ctx.open_write("log.txt", "text/plain") as handle:
        handle.write(b"line\n" * 1000)
    with pytest.raises(RuntimeError), ctx.open_write("half.txt", "text/plain") as handle:
        handle.write(b"partial")
        raise RuntimeError("crash")
    assert list(ctx.outputs) == ["log.txt"]
    assert ctx.outputs["log.txt"]["size"] == 5000
    assert storage.list("7/processes/3/v2/") == ["7/processes/3/v2/log.txt"]


def test_metadata_that_json_cannot_carry_is_refused(ctx):
    with pytest.raises(TypeError):
        ctx.write_bytes("a.bin", b"x", metadata={"when": object()})


def test_manifest_lists_outputs_under_the_version_prefix(ctx, storage):
    ctx.write_bytes("a.bin", b"abc", title="A")
    ctx.write_bytes("a.bin", b"abcd", title="A again")
    manifest = ctx.write_manifest()
    stored = json.loads(storage.read_bytes("7/processes/3/v2/_manifest.json"))
    assert stored == manifest
    assert manifest == {
        "contract_version": CONTRACT_VERSION,
        "process_type": "test",
        "process": 3,
        "version": 2,
        "project": 7,
        "datasets": [
            {
                "key": "a.bin",
                "path": "7/processes/3/v2/a.bin",
                "mime_type": "application/octet-stream",
                "size": 4,
                "title": "A again",
                "metadata": {},
            }
        ],
    }


def test_progress_lines_follow_the_protocol_and_are_clamped(storage):
    out = io.StringIO()
    ctx = StorageContext(storage, 7, 3, 2, stdout=out)
    ctx.progress(0.25)
    ctx.progress(1.7)
    ctx.log("hello")
    lines = out.getvalue().splitlines()
    assert lines == [f"{PROGRESS_PREFIX}0.25", f"{PROGRESS_PREFIX}1", "hello"]
    assert [parse_progress(line) for line in lines] == [0.25, 1.0, None]


@pytest.mark.parametrize(("text", "progress"), [
    ("nan", None), ("-nan", None), ("inf", 1.0), ("-inf", 0.0), ("1e999", 1.0),
    ("-0.5", 0.0), ("0x10", None), ("", None), ("0.5 extra", None), ("1" * 10000, 1.0),
])
def test_whatever_a_job_prints_as_progress_is_a_fraction_or_an_ordinary_line(text, progress):
    assert parse_progress(PROGRESS_PREFIX + text) == progress
