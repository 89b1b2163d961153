"""Zarr directory stores from the notebook side: a store's folder uploaded through
``Client.upload`` and ``%nagel upload`` (zipped on the way), loaded back by
``load()`` equal to what xarray wrote, units included; a folder that is no store
refused before anything is sent."""

from __future__ import annotations

import io
import uuid
import warnings
import zipfile

import numpy as np
import pytest
import xarray as xr
from nagelfluh_magics import StoreError
from nagelfluh_magics.data import load
from nagelfluh_magics.plots import fetch_series

from tests.magics.test_magics import one_line_error, printed_json

ZARR = "application/x-zarr"


def model(seed: int = 0) -> xr.Dataset:
    """A density model on a depth x distance grid, with a 1-D profile and units on
    every variable (the coordinates too)."""
    rng = np.random.default_rng(seed)
    return xr.Dataset(
        {
            "density_contrast": (
                ("depth", "distance"),
                rng.normal(0, 50, (6, 8)),
                {"units": "kg/m^3", "long_name": "Density contrast"},
            ),
            "misfit": (("distance",), rng.random(8), {"units": "mGal"}),
        },
        coords={
            "depth": ("depth", np.linspace(100, 600, 6), {"units": "m"}),
            "distance": ("distance", np.arange(8) * 250.0, {"units": "m"}),
        },
        attrs={"title": "inversion model"},
    )


def write_store(path, ds: xr.Dataset, zarr_format: int = 3):
    """``ds`` as xarray writes a store (consolidated: zarr 3 warns that this is no spec yet)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.to_zarr(path, mode="w", zarr_format=zarr_format)
    return path


def units_of(ds: xr.Dataset) -> dict[str, str]:
    return {name: ds[name].attrs.get("units") for name in ds.variables}


@pytest.mark.parametrize("zarr_format", [3, 2])
def test_a_zarr_folder_uploads_as_one_store_and_loads_back_equal_with_its_units(
    client, tmp_path, zarr_format
):
    original = model(zarr_format)
    folder = write_store(tmp_path / f"model-{uuid.uuid4().hex[:6]}.zarr", original, zarr_format)
    project = client.projects()[0]["id"]
    seen: list[tuple[int, int]] = []
    dataset = client.upload(project, None, folder, progress=lambda *sent: seen.append(sent))
    assert dataset["name"] == folder.name and dataset["process"] is None
    assert dataset["mime_type"] == ZARR and dataset["key"].endswith("/"), dataset
    assert seen and seen[-1][0] == seen[-1][1] > 0  # told the archive's bytes as they went
    described = {v["name"]: v.get("units") for v in client.dataset_meta(dataset["id"])["variables"]}
    assert described["density_contrast"] == "kg/m^3" and described["misfit"] == "mGal"

    loaded = load(client, dataset["id"])
    xr.testing.assert_identical(loaded, original)
    assert units_of(loaded) == units_of(original)

    # The download is the store's ZIP, under a top folder named after the dataset.
    archive = io.BytesIO()
    assert client.download(dataset["id"], archive) == archive.tell() > 0
    names = zipfile.ZipFile(archive).namelist()
    marker = "zarr.json" if zarr_format == 3 else ".zgroup"
    assert f"{folder.name}/{marker}" in names, names
    # and it is viewed as any readable dataset is: the profile along its coordinate
    series = fetch_series(client, dataset["id"], y=["misfit"])
    assert series.x.name == "distance" and series.y[0].units == "mGal"


def test_a_folder_that_is_no_zarr_store_is_refused_and_nothing_is_uploaded(client, tmp_path):
    folder = tmp_path / "field-notes"
    (folder / "day1").mkdir(parents=True)
    (folder / "day1" / "notes.txt").write_text("calm\n")
    (folder / "stations.csv").write_text("x,depth\n1,10\n")
    project = client.projects()[0]["id"]
    before = {d["id"] for d in client.datasets(project=project)}
    with pytest.raises(StoreError, match=r"is a folder but not a Zarr store \(none of zarr.json"):
        client.upload(project, None, folder)
    assert {d["id"] for d in client.datasets(project=project)} == before


def test_nagel_upload_of_a_zarr_folder_and_load_give_back_what_xarray_wrote(kernel, tmp_path):
    original = model(7)
    folder = write_store(tmp_path / f"kernel-{uuid.uuid4().hex[:6]}.zarr", original)
    cell = kernel.run(f"%nagel upload {folder}")
    header, _, row = cell.result["text/plain"].splitlines()
    assert header.split() == ["id", "name", "project", "type", "bytes"]
    assert not cell.data("display_data")  # a small store shows no progress bar
    dataset = printed_json(kernel, "_.items[0]")
    assert dataset["name"] == folder.name and dataset["mime_type"] == ZARR
    assert row.split()[:2] == [str(dataset["id"]), folder.name] and ZARR in row.split()
    kernel.run(f"loaded = %nagel load {dataset['id']}")
    kernel.run(
        "import xarray as xr\n"
        f"xr.testing.assert_identical(loaded, xr.open_zarr({str(folder)!r}, chunks=None).load())"
    )
    values = printed_json(kernel, "loaded['density_contrast'].values.tolist()")
    np.testing.assert_array_equal(values, original["density_contrast"].values)
    units = printed_json(kernel, "{n: loaded[n].attrs.get('units') for n in loaded.variables}")
    assert (
        units
        == units_of(original)
        == {
            "density_contrast": "kg/m^3",
            "misfit": "mGal",
            "depth": "m",
            "distance": "m",
        }
    )


def test_nagel_upload_of_a_folder_that_is_no_store_says_so_in_one_line(kernel, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "outcrop.jpg").write_bytes(b"\xff\xd8\xff")
    said = one_line_error(kernel.run(f"%nagel upload {folder}", fails=True))
    assert said == (
        f"UsageError: %nagel upload: '{folder}' is a folder but not a Zarr store "
        "(none of zarr.json, .zgroup, .zarray in it): only a Zarr store's folder uploads "
        "as one dataset; upload other files one by one"
    )
