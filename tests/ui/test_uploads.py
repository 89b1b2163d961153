"""Uploads where users are: the panel's file picker, files dropped on the panel, and
"Upload to Nagelfluh" in the file browser's context menu; a Zarr store's folder
through the panel's folder picker and the file browser, zipped in the browser."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import nbformat
import numpy as np
import xarray as xr
from nagelfluh_runner.netcdf import write_netcdf
from playwright.sync_api import expect

from tests.ui.lab import Editor, LabPage


def netcdf(folder: Path, stem: str) -> Path:
    """A small NetCDF file with a unique name (the suite's Lab keeps its datasets)."""
    path = folder / f"{stem}-{uuid.uuid4().hex[:6]}.nc"
    time = np.arange(50) / 10
    write_netcdf(
        path,
        None,
        {
            "time": (("time",), time, {"units": "s"}),
            "amplitude": (("time",), np.sin(time), {"units": "mm/s"}),
        },
    )
    return path


def zarr_store(folder: Path, stem: str) -> Path:
    """A small Zarr v3 store written by xarray: a 10 x 12 grid of temperatures in degC
    over depth (m) and distance (km), under a unique name."""
    path = folder / f"{stem}-{uuid.uuid4().hex[:6]}.zarr"
    depth = np.linspace(0.0, 900.0, 10)
    distance = np.linspace(0.0, 22.0, 12)
    temperature = 8.0 + depth[:, None] / 30.0 + 2.0 * np.sin(distance[None, :] / 3.0)
    xr.Dataset(
        {
            "temperature": (
                ("depth", "distance"),
                temperature,
                {"units": "degC", "long_name": "Temperature"},
            )
        },
        coords={
            "depth": ("depth", depth, {"units": "m"}),
            "distance": ("distance", distance, {"units": "km"}),
        },
    ).to_zarr(path, zarr_format=3, consolidated=False)
    assert (path / "zarr.json").is_file()
    return path


def store_bytes(store: Path) -> int:
    return sum(file.stat().st_size for file in store.rglob("*") if file.is_file())


def uploaded(page: LabPage, name: str) -> dict:
    (dataset,) = [d for d in page.datasets() if d["name"] == name]
    return dataset


def test_a_file_picked_with_upload_becomes_a_dataset_the_process_form_offers(
    page: LabPage, tmp_path: Path
):
    file = netcdf(tmp_path, "picked")
    page.upload_with_picker(file)
    expect(page.upload_row(file.name)).to_be_visible()
    dataset = uploaded(page, file.name)
    assert dataset["process"] is None and dataset["size"] == file.stat().st_size
    editor = Editor(page).new("fft", "spectrum-of-upload")
    picker = editor.root.locator('[data-testid="nf-dataset-picker"][data-field="/signal"]')
    picker.select_option(f"dataset:{dataset['id']}")
    expect(picker.locator("option:checked")).to_have_text(f"{file.name} — upload")


def test_a_file_dropped_on_the_panel_becomes_a_dataset_of_the_active_project(
    page: LabPage, tmp_path: Path
):
    first, second = netcdf(tmp_path, "dropped"), netcdf(tmp_path, "dropped")
    page.drop_on_panel(first, second)
    for file in (first, second):
        expect(page.upload_row(file.name)).to_be_visible()
        dataset = uploaded(page, file.name)
        assert dataset["project"] == page.project()
        assert dataset["mime_type"] == "application/x-netcdf"


def test_a_taken_name_is_offered_a_free_one_and_the_upload_lands_under_it(
    page: LabPage, tmp_path: Path
):
    file = netcdf(tmp_path, "twice")
    page.upload_with_picker(file)
    expect(page.upload_row(file.name)).to_be_visible()
    page.upload_with_picker(file)
    dialog = page.page.locator(".jp-Dialog")
    expect(dialog).to_contain_text(f"A dataset named “{file.name}” already exists in project")
    renamed = f"{file.stem}-2.nc"
    expect(dialog.locator("input")).to_have_value(renamed)
    page.screenshot("upload-name-taken")
    dialog.get_by_role("button", name="Upload").click()
    expect(page.upload_row(renamed)).to_be_visible()
    assert uploaded(page, renamed)["size"] == file.stat().st_size


def test_upload_to_nagelfluh_in_the_file_browser_sends_the_files_as_they_are(page: LabPage):
    data = netcdf(page.server.root, "browsed")
    notebook = page.server.root / f"notes-{uuid.uuid4().hex[:6]}.ipynb"
    notebook.write_text(json.dumps(nbformat.v4.new_notebook(), indent=1) + "\n\n")
    menu = page.file_context_menu(data.name, notebook.name)
    menu.get_by_text("Upload to Nagelfluh", exact=True).click()
    for file in (data, notebook):
        expect(page.toast(f"{file.name} is now dataset")).to_be_visible()
        stored = page.dataset_bytes(uploaded(page, file.name)["id"])
        assert stored == file.read_bytes()
    page.open_panel()
    expect(page.upload_row(notebook.name)).to_be_visible()


def test_a_netcdf4_file_from_xarray_uploaded_in_the_panel_is_plotted_and_runs_through_fft(
    page: LabPage, tmp_path: Path
):
    file = tmp_path / f"xarray-{uuid.uuid4().hex[:6]}.nc"
    time = np.arange(512) / 64
    xr.Dataset(
        {"amplitude": ("time", np.sin(2 * np.pi * 6 * time), {"units": "mm/s"})},
        coords={"time": ("time", time, {"units": "s"})},
    ).to_netcdf(file, engine="h5netcdf")
    page.upload_with_picker(file)
    expect(page.upload_row(file.name)).to_be_visible()
    dataset = uploaded(page, file.name)

    page.panel_button("Plot").click()
    plot = page.page.get_by_test_id("nf-plot-graph")
    page.page.get_by_test_id(f"nf-plot-dataset-{dataset['id']}").check()
    expect(plot.locator(".scatterlayer .trace").first).to_be_attached()
    expect(plot.locator(".g-ytitle")).to_contain_text("mm/s")

    name = f"spectrum-of-{file.stem}"
    editor = Editor(page).new("fft", name)
    picker = editor.root.locator('[data-testid="nf-dataset-picker"][data-field="/signal"]')
    picker.select_option(f"dataset:{dataset['id']}")
    editor.submit()
    editor.wait_version(1, "completed")

    page.process_row(name).click()
    page.panel_button("Plot").click()
    page.page.get_by_test_id("nf-plot-follow").check()
    expect(plot.locator(".scatterlayer .trace").first).to_be_attached()
    expect(plot.locator(".xtitle")).to_contain_text("Hz")


def test_a_zarr_folder_chosen_with_the_folder_picker_is_plotted_as_a_heatmap_with_its_units(
    page: LabPage, tmp_path: Path
):
    store = zarr_store(tmp_path, "picked")
    page.upload_folder_with_picker(store)
    row = page.upload_row(store.name)
    expect(row).to_be_visible()
    expect(row.locator(".nf-UploadRow-download")).to_have_attribute("download", f"{store.name}.zip")
    dataset = uploaded(page, store.name)
    assert dataset["mime_type"] == "application/x-zarr"
    assert dataset["key"].endswith(f"/{store.name}/")
    assert dataset["size"] == store_bytes(store)

    page.panel_button("Plot").click()
    page.page.get_by_test_id(f"nf-plot-dataset-{dataset['id']}").check()
    graph = page.page.get_by_test_id("nf-plot-graph")
    expect(graph.locator(".heatmaplayer .hm")).to_have_count(1)
    expect(graph.locator(".scatterlayer .trace")).to_have_count(0)
    expect(graph.locator(".colorbar")).to_contain_text("Temperature [degC]")
    expect(graph.locator(".xtitle")).to_contain_text("distance [km]")
    expect(graph.locator(".ytitle")).to_contain_text("depth [m]")
    expect(page.page.get_by_test_id("nf-plot-status")).to_contain_text(
        "10 \N{MULTIPLICATION SIGN} 12 cells"
    )
    variable = page.page.get_by_test_id(f"nf-plot-variable-{dataset['id']}-temperature")
    expect(variable).to_be_checked()
    page.screenshot("zarr-upload-plot")


def test_upload_to_nagelfluh_sends_a_zarr_folder_as_one_store_and_refuses_a_plain_folder(
    page: LabPage,
):
    store = zarr_store(page.server.root, "browsed")
    plain = page.server.root / f"field-notes-{uuid.uuid4().hex[:6]}"
    plain.mkdir()
    (plain / "readme.txt").write_text("stations 1 to 48, read on foot\n")
    (plain / "stations.csv").write_text("station,height [m]\n1,512\n")
    menu = page.file_context_menu(store.name, plain.name)
    menu.get_by_text("Upload to Nagelfluh", exact=True).click()

    expect(page.toast(f"{store.name} is now dataset")).to_be_visible()
    refusal = (
        f"“{plain.name}” is no Zarr store (no zarr.json, .zgroup or .zarray at its top):"
        " only a Zarr store\N{RIGHT SINGLE QUOTATION MARK}s folder uploads as one dataset."
    )
    # A toast shows the first 140 characters of a message; the panel lists all of it.
    expect(page.toast(f"{plain.name} was not uploaded: {refusal[:40]}")).to_be_visible()
    page.open_panel()
    expect(page.upload_row(store.name)).to_be_visible()
    failed = page.transfer_row(plain.name)
    expect(failed).to_have_attribute("data-state", "failed")
    expect(failed.get_by_role("alert")).to_have_text(refusal)

    names = [d["name"] for d in page.datasets()]
    assert names.count(store.name) == 1 and plain.name not in names
    assert not any(name.startswith(store.name + "/") or name == "zarr.json" for name in names)
    dataset = uploaded(page, store.name)
    assert dataset["mime_type"] == "application/x-zarr" and dataset["size"] == store_bytes(store)
    meta = page.api("GET", f"dataset/{dataset['id']}/meta")
    assert meta["units"] == {"depth": "m", "distance": "km", "temperature": "degC"}
    assert meta["metadata"]["objects"] == len([f for f in store.rglob("*") if f.is_file()])
