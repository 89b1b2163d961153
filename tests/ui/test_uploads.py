"""Uploads where users are: the panel's file picker, files dropped on the panel, and
"Upload to Nagelfluh" in the file browser's context menu."""

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
