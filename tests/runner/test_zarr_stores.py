"""Zarr stores as datasets, runner side: ``ctx.write_zarr`` outputs (a folder of objects
under ``name/``, described in the manifest with their object count and digest) and
store inputs (``InputDataset.load``/``arrays``/``local_path``), on file storage and S3."""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr
from nagelfluh_runner import stores
from nagelfluh_runner.context import OutputWriteError, StorageContext
from nagelfluh_runner.datasets import DatasetFormatError
from nagelfluh_runner.protocol import EXIT_OK, EXIT_STORAGE, EXIT_USAGE
from nagelfluh_runner.registry import load as load_type
from nagelfluh_runner.sdk import InputDataset, ParameterError
from nagelfluh_runner.storage import FileStorage, StorageKeyError, open_storage
from nagelfluh_runner.stores import ZARR_MIME_TYPE, StoreError, store_digest

PROJECT = 7


@pytest.fixture(params=["file", "s3"])
def backend(request, tmp_path):
    """Storage of either kind, and the environment a runner needs to open it."""
    if request.param == "file":
        storage = open_storage(f"file://{tmp_path / 'storage'}")
    else:
        storage = request.getfixturevalue("s3_storage")
    return storage


@pytest.fixture
def storage(tmp_path):
    return open_storage(f"file://{tmp_path / 'storage'}")


def _ctx(storage, process: int = 3, version: int = 2) -> StorageContext:
    return StorageContext(storage, PROJECT, process, version, process_type="test",
                          stdout=io.StringIO())  # fmt: skip


def _grid(ny: int = 30, nx: int = 40) -> xr.Dataset:
    latitude = np.linspace(46.0, 47.0, ny)
    longitude = np.linspace(7.0, 8.0, nx)
    field = np.sin(3 * latitude)[:, None] * np.cos(5 * longitude)[None, :] * 20
    return xr.Dataset(
        {
            "gravity_anomaly": (
                ("latitude", "longitude"),
                field,
                {"units": "mGal", "long_name": "Gravity anomaly"},
            )
        },
        coords={
            "latitude": ("latitude", latitude, {"units": "degrees_north"}),
            "longitude": ("longitude", longitude, {"units": "degrees_east"}),
        },
        attrs={"survey": "test"},
    )


def _input(storage, entry: dict, *, path: str | None = "/grid") -> InputDataset:
    """The output ``entry`` of a manifest as a later run receives it from the server."""
    return InputDataset("12", entry["path"], entry["mime_type"], entry["key"], storage, path=path)


def _stored_listing(storage, prefix: str) -> list[tuple[str, int, str]]:
    """``(relative, size, sha256)`` of every object storage holds under ``prefix``."""
    listing = []
    for key in storage.list(prefix):
        raw = storage.read_bytes(key)
        listing.append((key[len(prefix) :], len(raw), hashlib.sha256(raw).hexdigest()))
    return listing


# ------------------------------------------------------------------ outputs and inputs


def test_a_zarr_output_reads_back_in_a_later_run_with_its_units_and_values(backend):
    entry = _ctx(backend).write_zarr("grid.zarr", _grid(), title="Grid", metadata={"cells": 1200})

    assert entry["key"] == "grid.zarr"
    assert entry["path"] == "7/processes/3/v2/grid.zarr/"
    assert entry["mime_type"] == ZARR_MIME_TYPE == "application/x-zarr"
    assert entry["title"] == "Grid"
    assert entry["metadata"] == {"format": "zarr", "cells": 1200}
    assert entry["dims"] == {"latitude": 30, "longitude": 40}
    assert entry["variables"] == [
        {"name": "latitude", "units": "degrees_north", "dims": ["latitude"], "shape": [30],
         "dtype": "float64"},
        {"name": "longitude", "units": "degrees_east", "dims": ["longitude"], "shape": [40],
         "dtype": "float64"},
        {"name": "gravity_anomaly", "units": "mGal", "dims": ["latitude", "longitude"],
         "shape": [30, 40], "dtype": "float64", "long_name": "Gravity anomaly"},
    ]  # fmt: skip

    later = _input(backend, entry)
    assert later.is_store and later.size() == entry["size"]
    ds = later.load()
    assert ds["gravity_anomaly"].attrs["units"] == "mGal"
    assert ds["latitude"].attrs["units"] == "degrees_north"
    assert ds.attrs["title"] == "Grid"
    assert ds.attrs["source"] == "nagelfluh test"
    assert ds.attrs["survey"] == "test"
    np.testing.assert_array_equal(ds["gravity_anomaly"].values, _grid()["gravity_anomaly"].values)
    arrays = _input(backend, entry).arrays(["gravity_anomaly"])
    assert arrays["gravity_anomaly"].units == "mGal"
    assert arrays["gravity_anomaly"].dims == ("latitude", "longitude")
    np.testing.assert_array_equal(arrays["gravity_anomaly"].data, _grid()["gravity_anomaly"].values)
    # What a type hands to zarr or xarray itself:
    with xr.open_zarr(later.local_path(), consolidated=False) as local:
        assert local["gravity_anomaly"].attrs["units"] == "mGal"


def test_the_manifest_digest_is_that_of_the_objects_storage_holds(backend):
    ctx = _ctx(backend)
    ctx.write_zarr("grid.zarr", _grid())
    ctx.write_bytes("notes.txt", b"calm\n", "text/plain")
    ctx.write_manifest()

    manifest = json.loads(backend.read_bytes("7/processes/3/v2/_manifest.json"))
    entry = next(d for d in manifest["datasets"] if d["key"] == "grid.zarr")
    listing = _stored_listing(backend, entry["path"])
    assert entry["digest"] == store_digest(listing)
    assert entry["objects"] == len(listing) == len(backend.list(entry["path"]))
    assert entry["size"] == sum(size for _, size, _ in listing)
    assert "zarr.json" in [relative for relative, _, _ in listing]
    assert not any(
        d["path"].startswith(entry["path"]) for d in manifest["datasets"] if d is not entry
    )


def test_a_store_the_type_wrote_itself_is_uploaded_as_it_is_with_the_run_attributes(
    storage, tmp_path
):
    own = tmp_path / "own.zarr"
    _grid().to_zarr(own, zarr_format=3, consolidated=False)
    files = sorted(str(p.relative_to(own)) for p in own.rglob("*") if p.is_file())
    root_before = (own / "zarr.json").read_bytes()

    entry = _ctx(storage).write_zarr("grid.zarr", own, title="Own grid")

    assert (own / "zarr.json").read_bytes() == root_before  # the type's folder is untouched
    prefix = entry["path"]
    assert [k[len(prefix) :] for k in storage.list(prefix)] == files
    assert entry["objects"] == len(files)
    assert entry["digest"] == store_digest(_stored_listing(storage, prefix))
    ds = _input(storage, entry).load()
    assert (ds.attrs["title"], ds.attrs["source"]) == ("Own grid", "nagelfluh test")
    np.testing.assert_array_equal(ds["gravity_anomaly"].values, _grid()["gravity_anomaly"].values)


def test_a_zarr_v2_store_written_by_xarray_reads_as_a_v3_one_does(storage, tmp_path):
    """As an upload (an input) and as a store the type wrote (an output): a v2 store with
    xarray's consolidated ``.zmetadata`` gets the run's attributes in both root files."""
    for version in (2, 3):
        folder = tmp_path / f"v{version}.zarr"
        _grid().to_zarr(folder, zarr_format=version, consolidated=version == 2)
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            storage.write_bytes(f"7/uploads/1-ab/v{version}.zarr/{path.relative_to(folder)}",
                                path.read_bytes())  # fmt: skip
    assert storage.exists("7/uploads/1-ab/v2.zarr/.zmetadata")
    assert storage.exists("7/uploads/1-ab/v3.zarr/zarr.json")
    loaded = {}
    for version in (2, 3):
        key = f"7/uploads/1-ab/v{version}.zarr/"
        upload = InputDataset("4", key, ZARR_MIME_TYPE, f"v{version}.zarr", storage, path="/grid")
        loaded[version] = upload.load()
        assert upload.arrays()["gravity_anomaly"].units == "mGal"
    xr.testing.assert_identical(loaded[2], loaded[3])
    assert loaded[2]["gravity_anomaly"].attrs["units"] == "mGal"

    entry = _ctx(storage).write_zarr("v2.zarr", tmp_path / "v2.zarr", title="Old format")
    prefix = entry["path"]
    assert storage.exists(prefix + ".zgroup") and not storage.exists(prefix + "zarr.json")
    assert entry["digest"] == store_digest(_stored_listing(storage, prefix))
    written = _input(storage, entry)
    copy = written.local_path()
    for consolidated in (True, False):  # .zmetadata and .zattrs say the same
        with xr.open_zarr(copy, consolidated=consolidated) as ds:
            assert ds.attrs == {
                "survey": "test",
                "title": "Old format",
                "source": "nagelfluh test",
            }
            assert ds["gravity_anomaly"].attrs["units"] == "mGal"


# ------------------------------------------------------------------ what is refused


def test_a_variable_without_units_is_refused_and_nothing_is_stored(storage, tmp_path):
    ctx = _ctx(storage)
    no_units = _grid()
    del no_units["gravity_anomaly"].attrs["units"]
    with pytest.raises(ValueError, match="'gravity_anomaly' has no 'units' attribute"):
        ctx.write_zarr("grid.zarr", no_units)
    coordinate = _grid()
    del coordinate["longitude"].attrs["units"]
    with pytest.raises(ValueError, match="'longitude' has no 'units' attribute"):
        ctx.write_zarr("grid.zarr", coordinate)
    no_units.to_zarr(tmp_path / "own.zarr", consolidated=False)
    message = "grid.zarr: variable 'gravity_anomaly' has no 'units'"
    with pytest.raises(ValueError, match=re.escape(message)):
        ctx.write_zarr("grid.zarr", tmp_path / "own.zarr")
    assert ctx.outputs == {}
    assert storage.list("7/") == []


def test_a_folder_with_a_symbolic_link_is_refused(storage, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the store\n")
    ctx = _ctx(storage)
    planted = tmp_path / "planted.zarr"
    _grid().to_zarr(planted, consolidated=False)
    (planted / "gravity_anomaly" / "leak").symlink_to(secret)
    with pytest.raises(StoreError, match="leak is a symbolic link"):
        ctx.write_zarr("grid.zarr", planted)
    (tmp_path / "linked.zarr").symlink_to(tmp_path / "elsewhere.zarr")
    _grid().to_zarr(tmp_path / "elsewhere.zarr", consolidated=False)
    with pytest.raises(StoreError, match=re.escape("linked.zarr is a symbolic link")):
        ctx.write_zarr("grid.zarr", tmp_path / "linked.zarr")
    assert ctx.outputs == {}
    assert storage.list("7/") == []


def test_an_empty_folder_a_file_and_a_store_of_too_many_objects_are_refused(
    storage, tmp_path, monkeypatch
):
    ctx = _ctx(storage)
    (tmp_path / "empty.zarr").mkdir()
    with pytest.raises(StoreError, match="holds no files"):
        ctx.write_zarr("grid.zarr", tmp_path / "empty.zarr")
    (tmp_path / "grid.nc").write_bytes(b"CDF\x01")
    with pytest.raises(StoreError, match="is not a directory"):
        ctx.write_zarr("grid.zarr", tmp_path / "grid.nc")
    message = "an xarray.Dataset or the path of a Zarr directory"
    with pytest.raises(TypeError, match=re.escape(message)):
        ctx.write_zarr("grid.zarr", {"gravity_anomaly": [1, 2]})
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("no store\n")
    with pytest.raises(DatasetFormatError, match="is not a Zarr store xarray opens"):
        ctx.write_zarr("grid.zarr", tmp_path / "notes")
    monkeypatch.setattr(stores, "MAX_OBJECTS", 5)
    with pytest.raises(StoreError, match="holds over 5 files"):
        ctx.write_zarr("grid.zarr", _grid())  # 7 objects
    assert ctx.outputs == {}
    assert storage.list("7/") == []


def test_no_output_may_lie_inside_a_store_nor_a_store_around_outputs(storage):
    ctx = _ctx(storage)
    ctx.write_zarr("maps/grid.zarr", _grid())
    inside = [
        lambda: ctx.write_bytes("maps/grid.zarr/extra.txt", b"x"),
        lambda: ctx.open_write("maps/grid.zarr/latitude/zarr.json"),
        lambda: ctx.write_netcdf(
            "maps/grid.zarr/x.nc", None, {"a": (("x",), [1.0], {"units": "m"})}
        ),
        lambda: ctx.write_zarr("maps/grid.zarr/inner.zarr", _grid()),
    ]
    for write in inside:
        with pytest.raises(StorageKeyError, match="lies inside the Zarr store output 'maps/grid"):
            write()
    with pytest.raises(StorageKeyError, match=r"'maps/grid\.zarr' is already a Zarr store output"):
        ctx.write_bytes("maps/grid.zarr", b"a file in the store's place")
    ctx.write_bytes("tables/a.csv", b"t,v\n0,1\n", "text/csv")
    with pytest.raises(StorageKeyError, match=re.escape("output 'tables/a.csv' would lie inside")):
        ctx.write_zarr("tables", _grid())
    message = "'tables/a.csv' is already written as a single object"
    with pytest.raises(StorageKeyError, match=re.escape(message)):
        ctx.write_zarr("tables/a.csv", _grid())
    ctx.write_bytes("maps/legend.txt", b"beside the store, not in it\n")
    assert sorted(ctx.outputs) == ["maps/grid.zarr", "maps/legend.txt", "tables/a.csv"]
    paths = [entry["path"] for entry in ctx.manifest()["datasets"]]
    store = "7/processes/3/v2/maps/grid.zarr/"
    assert [p for p in paths if p.startswith(store)] == [store]
    assert not any(k.endswith("extra.txt") or k.endswith("x.nc") for k in storage.list("7/"))


def test_a_store_is_written_once_per_run(storage):
    ctx = _ctx(storage)
    ctx.write_zarr("grid.zarr", _grid())
    message = "the Zarr store 'grid.zarr' is already written"
    with pytest.raises(StorageKeyError, match=re.escape(message)):
        ctx.write_zarr("grid.zarr", _grid(10, 10))
    stale = _ctx(storage)  # objects left under the name by someone else than this context
    with pytest.raises(StorageKeyError, match="storage already holds objects under"):
        stale.write_zarr("grid.zarr", _grid(10, 10))
    assert stale.outputs == {}


class _FillingStorage(FileStorage):
    """File storage that runs out of space after ``room`` objects."""

    room = 3

    def write_stream(self, key, fileobj):
        if self.room <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= 1
        return super().write_stream(key, fileobj)


def test_storage_refusing_an_object_of_a_store_is_an_output_write_error(tmp_path):
    full = _FillingStorage(f"file://{tmp_path / 'storage'}")
    ctx = _ctx(full)
    message = "could not write 7/processes/3/v2/grid.zarr/"
    with pytest.raises(OutputWriteError, match=re.escape(message)):
        ctx.write_zarr("grid.zarr", _grid())
    assert ctx.outputs == {}


# ------------------------------------------------------------------ store inputs


def test_open_and_read_bytes_of_a_store_say_it_is_one_and_what_reads_it(storage):
    entry = _ctx(storage).write_zarr("grid.zarr", _grid())
    named = _input(storage, entry)
    for read in (named.read_bytes, named.open):
        with pytest.raises(ParameterError) as caught:
            read()
        assert caught.value.path == "/grid"
        assert "dataset 12 ('grid.zarr') is a Zarr store" in caught.value.message
        assert "load()" in caught.value.message and "local_path()" in caught.value.message
    with pytest.raises(IsADirectoryError, match="is a Zarr store"):
        _input(storage, entry, path=None).read_bytes()


def test_a_store_that_does_not_read_is_a_parameter_error_naming_its_field(storage):
    storage.write_bytes("7/uploads/1-ab/broken.zarr/zarr.json", b"{not json")
    broken = InputDataset("5", "7/uploads/1-ab/broken.zarr/", ZARR_MIME_TYPE, "broken.zarr",
                          storage, path="/survey")  # fmt: skip
    with pytest.raises(ParameterError) as caught:
        broken.load()
    assert caught.value.path == "/survey"
    assert "dataset 5 ('broken.zarr') is not a readable Zarr store" in caught.value.message
    empty = InputDataset("6", "7/uploads/1-ab/none.zarr/", ZARR_MIME_TYPE, "none.zarr", storage)
    with pytest.raises(DatasetFormatError, match="holds no objects"):
        empty.arrays()


def test_local_path_copies_a_store_once_and_close_removes_it(storage):
    entry = _ctx(storage).write_zarr("grid.zarr", _grid())
    dataset = _input(storage, entry)
    local = dataset.local_path()
    assert os.path.basename(local) == "grid.zarr"
    assert os.path.isfile(os.path.join(local, "zarr.json"))
    assert dataset.local_path() == local
    storage.delete(entry["path"] + "zarr.json")  # load() now reads the local copy
    assert dataset.load()["gravity_anomaly"].attrs["units"] == "mGal"
    dataset.close()
    assert not os.path.exists(os.path.dirname(local))
    single = InputDataset("3", "7/uploads/n.txt", "text/plain", "n.txt", storage)
    storage.write_bytes("7/uploads/n.txt", b"notes\n")
    with open(single.local_path(), "rb") as copied:  # a file's copy is the file
        assert copied.read() == b"notes\n"
    single.close()


# ------------------------------------------------------------------ through the runner


def _runner(storage, process_type: str, params: dict, *, process: int, inputs=None, extra=None):
    env = {
        **storage.runner_env(),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PROCESS_TYPE": process_type,
        "PROCESS_ID": str(process),
        "VERSION": "1",
        "PROJECT_ID": str(PROJECT),
        "PARAMETERS_JSON": json.dumps(params),
        **(extra or {}),
    }
    if inputs is not None:
        env["INPUT_DATASETS_JSON"] = json.dumps(inputs)
    return subprocess.run([sys.executable, "-m", "nagelfluh_runner", "run"], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def _outputs(storage, process: int) -> dict[str, dict]:
    manifest = json.loads(storage.read_bytes(f"7/processes/{process}/v1/_manifest.json"))
    return {d["key"]: d for d in manifest["datasets"]}


def _as_input(entry: dict, dataset_id: str) -> dict:
    """INPUT_DATASETS_JSON for an output, as the server passes it (a store's key ends in /)."""
    return {dataset_id: {"key": entry["path"], "mime_type": entry["mime_type"],
                         "name": entry["key"]}}  # fmt: skip


def test_the_inversion_schema_offers_zarr_and_keeps_netcdf3_the_default():
    prop = load_type("inversion").schema["properties"]["output_format"]
    assert prop["enum"] == ["netcdf3", "netcdf4", "zarr"]
    assert prop["default"] == "netcdf3"
    assert prop["title"] and prop["description"]


def test_the_inversion_writes_a_zarr_model_equal_to_its_netcdf3_one(backend):
    assert _runner(backend, "synthetic-survey", {}, process=1).returncode == EXIT_OK
    survey = _as_input(_outputs(backend, 1)["survey.nc"], "9")
    netcdf = _runner(backend, "inversion", {"survey": "dataset:9"}, process=2, inputs=survey)
    zarr = _runner(backend, "inversion", {"survey": "dataset:9", "output_format": "zarr"},
                   process=3, inputs=survey)  # fmt: skip
    assert netcdf.returncode == EXIT_OK, netcdf.stderr
    assert zarr.returncode == EXIT_OK, zarr.stderr
    assert "wrote model.zarr and misfit.zarr" in zarr.stdout

    three, stores_ = _outputs(backend, 2), _outputs(backend, 3)
    assert set(three) == {"model.nc", "misfit.nc"}
    assert set(stores_) == {"model.zarr", "misfit.zarr"}
    model = stores_["model.zarr"]
    assert model["path"] == "7/processes/3/v1/model.zarr/"
    assert model["mime_type"] == ZARR_MIME_TYPE
    assert model["digest"] == store_digest(_stored_listing(backend, model["path"]))
    for name in ("dims", "variables", "title"):
        assert model[name] == three["model.nc"][name], name
    assert stores_["misfit.zarr"]["variables"] == three["misfit.nc"]["variables"]

    reference = InputDataset("2", three["model.nc"]["path"], "application/x-netcdf", "model.nc",
                             backend).load()  # fmt: skip
    store = InputDataset("3", model["path"], ZARR_MIME_TYPE, "model.zarr", backend).load()
    assert store["density_contrast"].attrs["units"] == "kg/m^3"
    np.testing.assert_allclose(
        store["density_contrast"].values, reference["density_contrast"].values, rtol=1e-12
    )
    np.testing.assert_array_equal(store["latitude"].values, reference["latitude"].values)
    assert store.attrs["rms_misfit"] == pytest.approx(reference.attrs["rms_misfit"], rel=1e-12)
    assert store.attrs["source"] == "nagelfluh inversion"


def test_a_zarr_output_chains_into_a_later_run_as_its_input(backend):
    """The inversion's misfit store (stations with an observed anomaly in mGal) is a survey
    for a second inversion: a store input read by a bootstrap type through arrays()."""
    assert _runner(backend, "synthetic-survey", {}, process=1).returncode == EXIT_OK
    survey = _as_input(_outputs(backend, 1)["survey.nc"], "9")
    first = _runner(backend, "inversion", {"survey": "dataset:9", "output_format": "zarr"},
                    process=2, inputs=survey)  # fmt: skip
    assert first.returncode == EXIT_OK, first.stderr
    misfit = _as_input(_outputs(backend, 2)["misfit.zarr"], "10")
    assert misfit["10"]["key"].endswith("/misfit.zarr/")

    again = _runner(backend, "inversion", {"survey": "dataset:10", "variable": "observed"},
                    process=3, inputs=misfit)  # fmt: skip

    assert again.returncode == EXIT_OK, again.stderr
    assert "reading misfit.zarr (dataset 10)" in again.stdout
    assert "warning" not in again.stdout  # the store's observed anomaly came with its mGal
    assert set(_outputs(backend, 3)) == {"model.nc", "misfit.nc"}


def test_a_store_input_to_a_type_reading_bytes_fails_in_one_line_naming_the_field(
    storage, tmp_path
):
    entry = _ctx(storage, process=1, version=1).write_zarr("grid.zarr", _grid())
    site = tmp_path / "site"
    (site / "store_types-1.0.dist-info").mkdir(parents=True)
    (site / "store_types-1.0.dist-info" / "entry_points.txt").write_text(
        "[nagelfluh.process_types]\nchecksum = store_types:Checksum\n"
        "listing = store_types:Listing\n"
    )
    (site / "store_types.py").write_text(
        "import os\n"
        "from nagelfluh_runner import ProcessType, dataset_parameter, object_schema\n"
        "SCHEMA = object_schema({'data': dataset_parameter('Data', 'Any dataset.')})\n"
        "class Checksum(ProcessType):\n"
        "    name, title, description, schema = 'checksum', 'Checksum', 'Hashes bytes.', SCHEMA\n"
        "    def run(self, ctx, data):\n"
        "        data.read_bytes()\n"
        "class Listing(ProcessType):\n"
        "    name, title, description, schema = 'listing', 'Listing', 'Lists files.', SCHEMA\n"
        "    def run(self, ctx, data):\n"
        "        local = data.local_path()\n"
        "        ctx.log(f'{data.size()} bytes, {sorted(os.listdir(local))} in {local}')\n"
    )
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    extra = {"PYTHONPATH": str(site), "TMPDIR": str(scratch)}
    inputs = _as_input(entry, "12")

    refused = _runner(storage, "checksum", {"data": "dataset:12"}, process=2, inputs=inputs,
                      extra=extra)  # fmt: skip
    listed = _runner(storage, "listing", {"data": "dataset:12"}, process=3, inputs=inputs,
                     extra=extra)  # fmt: skip

    assert refused.returncode == EXIT_USAGE
    assert refused.stderr.splitlines() == [
        "nagelfluh-runner: error: parameter /data: dataset 12 ('grid.zarr') is a Zarr store, "
        "a folder of objects, not one file: read_bytes() reads one file's bytes; read a store "
        "with load() or arrays(), or open local_path() (a local copy of the folder)"
    ]
    assert listed.returncode == EXIT_OK, listed.stderr
    assert f"{entry['size']} bytes, ['gravity_anomaly', 'latitude', 'longitude', 'zarr.json']" in (
        listed.stdout
    )
    assert list(scratch.iterdir()) == []  # the local copy went with the run


def test_a_store_the_storage_refuses_ends_the_run_with_the_storage_exit_code(tmp_path):
    root = tmp_path / "storage"
    storage = open_storage(f"file://{root}")
    assert _runner(storage, "synthetic-survey", {}, process=1).returncode == EXIT_OK
    survey = _as_input(_outputs(storage, 1)["survey.nc"], "9")
    blocked = root / "7" / "processes" / "2" / "v1" / "model.zarr"
    blocked.parent.mkdir(parents=True)
    blocked.write_bytes(b"a file where the store's folder goes")

    result = _runner(storage, "inversion", {"survey": "dataset:9", "output_format": "zarr"},
                     process=2, inputs=survey)  # fmt: skip

    assert result.returncode == EXIT_STORAGE, result.stderr
    assert result.stderr.splitlines()[-1].startswith(
        "nagelfluh-runner: error: storage: could not write 7/processes/2/v1/model.zarr/"
    )
