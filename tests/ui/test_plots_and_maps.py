"""Plots and maps of output datasets, drawn by Plotly in the browser."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, expect

from tests.ui.lab import Editor, LabPage

CELLS_10_BY_12 = "10 \N{MULTIPLICATION SIGN} 12 cells"  # as the status line writes it


def select(page: LabPage, name: str) -> None:
    page.open_panel()
    page.process_row(name).click()


def test_a_spectrum_is_plotted_with_its_unit_on_the_axes(page: LabPage):
    signal = page.submit("synthetic-signal", "plot-signal", {"duration": 4, "sample_rate": 200})
    dataset = page.wait_version(signal["id"])["outputs"][0]
    fft = page.submit("fft", "plot-spectrum", {"signal": f"dataset:{dataset['id']}"})
    page.wait_version(fft["id"])
    select(page, "plot-spectrum")
    page.panel_button("Plot").click()
    graph = page.page.get_by_test_id("nf-plot-graph")
    expect(graph.locator(".main-svg").first).to_be_attached()
    expect(graph.locator(".scatterlayer .trace").first).to_be_attached()
    expect(graph.locator(".xtitle")).to_contain_text("Hz")
    expect(page.page.get_by_test_id("nf-plot-status")).to_contain_text("points")
    page.screenshot("plot")


def test_two_units_get_two_axes_and_one_unit_shares_one(page: LabPage):
    runs = {
        "mm-a": {"duration": 1},
        "mm-b": {"duration": 1, "seed": 3},
        "nm-c": {"duration": 1, "units": "nm"},
    }
    ids = {}
    for name, parameters in runs.items():
        process = page.submit("synthetic-signal", f"units-{name}", parameters)
        ids[name] = page.wait_version(process["id"])["outputs"][0]["id"]
    page.command("nagelfluh:open-view", {"kind": "plot", "datasets": list(ids.values())})
    graph = page.page.get_by_test_id("nf-plot-graph")
    expect(graph.locator(".scatterlayer .trace")).to_have_count(3)
    titles = graph.locator(".g-ytitle, .g-y2title, .g-y3title")
    expect(titles).to_have_count(2)
    expect(graph.locator(".g-y2title")).to_be_attached()
    expect(graph.locator(".g-y3title")).to_have_count(0)


def test_a_survey_is_plotted_as_its_anomaly_alone_not_beside_its_coordinates(page: LabPage):
    survey = page.submit("synthetic-survey", "plot-survey", {"nx": 5, "ny": 4})
    page.wait_version(survey["id"])
    select(page, "plot-survey")
    page.panel_button("Plot").click()
    graph = page.page.get_by_test_id("nf-plot-graph")
    expect(graph.locator(".scatterlayer .trace")).to_have_count(1)
    expect(graph.locator(".g-ytitle")).to_contain_text("mGal")
    expect(graph.locator(".g-y2title")).to_have_count(0)
    dataset = page.wait_version(survey["id"])["outputs"][0]["id"]
    latitude = page.page.get_by_test_id(f"nf-plot-variable-{dataset}-latitude")
    expect(latitude).not_to_be_checked()


def test_zooming_a_decimated_plot_fetches_the_zoomed_range_at_full_resolution(page: LabPage):
    signal = page.submit("synthetic-signal", "long-signal", {"duration": 100, "sample_rate": 1000})
    page.wait_version(signal["id"])
    select(page, "long-signal")
    page.panel_button("Plot").click()
    status = page.page.get_by_test_id("nf-plot-status")
    expect(status).to_contain_text(re.compile(r"decimated: \d+ of 100000 points"))
    drag = page.page.get_by_test_id("nf-plot-graph").locator(".nsewdrag").first
    box = drag.bounding_box()
    assert box
    y = box["y"] + box["height"] / 2
    page.page.mouse.move(box["x"] + box["width"] * 0.40, y)
    page.page.mouse.down()
    page.page.mouse.move(box["x"] + box["width"] * 0.44, y, steps=8)
    page.page.mouse.up()
    expect(status).to_contain_text(re.compile(r"in range \(100000 in all\)"))
    match = re.search(r"(\d+) points in range", status.inner_text())
    assert match and int(match.group(1)) < 10_000
    drag.dblclick()
    expect(status).to_contain_text(re.compile(r"of 100000 points"))


def test_a_survey_is_mapped_offline_coloured_by_its_anomaly(page: LabPage):
    survey = page.submit("synthetic-survey", "map-survey", {"nx": 8, "ny": 6})
    page.wait_version(survey["id"])
    select(page, "map-survey")
    page.panel_button("Map").click()
    view = page.page.get_by_test_id("nf-map")
    expect(view.get_by_test_id("nf-map-basemap")).to_contain_text("offline")
    graph = view.get_by_test_id("nf-map-graph")
    expect(graph.locator(".main-svg").first).to_be_attached()
    expect(graph.locator(".colorbar")).to_contain_text("mGal")
    expect(view.get_by_test_id("nf-map-status")).to_contain_text("48 points")
    page.screenshot("map")


def test_an_inversion_model_is_plotted_as_a_heatmap_with_its_unit_on_the_colour_bar(page: LabPage):
    survey = page.submit("synthetic-survey", "grid-survey", {"nx": 8, "ny": 6})
    survey_dataset = page.wait_version(survey["id"])["outputs"][0]["id"]
    inversion = page.submit(
        "inversion", "grid-inversion", {"survey": f"dataset:{survey_dataset}", "nx": 12, "ny": 10}
    )
    outputs = page.wait_version(inversion["id"], timeout=120)["outputs"]
    model = next(d for d in outputs if d["name"].endswith("model.nc"))
    select(page, "grid-inversion")
    page.panel_button("Plot").click()
    graph = page.page.get_by_test_id("nf-plot-graph")
    expect(graph.locator(".heatmaplayer .hm")).to_have_count(1)
    expect(graph.locator(".scatterlayer .trace")).to_have_count(0)
    expect(graph.locator(".colorbar")).to_contain_text("kg/m^3")
    expect(graph.locator(".xtitle")).to_contain_text("degrees_east")
    expect(graph.locator(".ytitle")).to_contain_text("degrees_north")
    expect(page.page.get_by_test_id("nf-plot-status")).to_contain_text(CELLS_10_BY_12)
    expect(page.page.get_by_test_id(f"nf-plot-variable-{model['id']}-density_contrast")).to_be_checked()
    page.screenshot("plot-grid")


def expect_the_model_on_the_map(page: LabPage, inversion: str, model: dict) -> Locator:
    """Select a 12 x 10 inversion of an 8 x 6 survey in the panel and open the Map: its
    model is a raster layer with its unit on the colour bar over the offline base map,
    its 48 stations (the misfit) above it. The map view."""
    select(page, inversion)
    page.panel_button("Map").click()
    view = page.page.get_by_test_id("nf-map")
    expect(view.get_by_test_id("nf-map-basemap")).to_contain_text("offline")
    expect(view.get_by_test_id("nf-map-dataset")).to_have_value(str(model["id"]))
    expect(view.get_by_test_id("nf-map-variable")).to_have_value("density_contrast")
    graph = view.get_by_test_id("nf-map-graph")
    expect(graph.locator(".heatmaplayer .hm")).to_have_count(1)
    # The bundled base map is still drawn below the raster; the inversion's stations
    # (misfit.nc, or misfit.zarr) above it.
    expect(graph.locator(".scatterlayer .trace").first).to_be_attached()
    expect(graph.locator(".scatterlayer .point")).to_have_count(48)
    expect(graph.locator(".colorbar")).to_contain_text("kg/m^3")
    expect(view.get_by_test_id("nf-map-status")).to_contain_text(CELLS_10_BY_12)
    return view


def test_an_inversion_model_is_drawn_on_the_map_as_a_raster_with_its_unit(page: LabPage):
    survey = page.submit("synthetic-survey", "raster-survey", {"nx": 8, "ny": 6})
    survey_dataset = page.wait_version(survey["id"])["outputs"][0]["id"]
    inversion = page.submit(
        "inversion", "raster-inversion", {"survey": f"dataset:{survey_dataset}", "nx": 12, "ny": 10}
    )
    outputs = page.wait_version(inversion["id"], timeout=120)["outputs"]
    model = next(d for d in outputs if d["name"].endswith("model.nc"))
    view = expect_the_model_on_the_map(page, "raster-inversion", model)
    graph = view.get_by_test_id("nf-map-graph")
    page.screenshot("map-grid")
    # A box zoom asks for the visible cells only, at full resolution; a double-click the whole grid.
    status = view.get_by_test_id("nf-map-status")
    drag = graph.locator(".nsewdrag").first
    box = drag.bounding_box()
    assert box
    page.page.mouse.move(box["x"] + box["width"] * 0.35, box["y"] + box["height"] * 0.35)
    page.page.mouse.down()
    page.page.mouse.move(box["x"] + box["width"] * 0.65, box["y"] + box["height"] * 0.65, steps=8)
    page.page.mouse.up()
    # \S stands for the multiplication sign (a JavaScript regex takes no \N{...}).
    zoomed = r"\d+ \S \d+ cells in range \(10 \S 12 in all\), full resolution"
    expect(status).to_contain_text(re.compile(zoomed))
    expect(graph.locator(".heatmaplayer .hm")).to_have_count(1)
    drag.dblclick()
    expect(status).not_to_contain_text("in range")
    expect(status).to_contain_text(CELLS_10_BY_12)


def test_an_inversion_from_the_form_writes_zarr_stores_and_its_model_is_a_raster_on_the_map(
    page: LabPage,
):
    survey = page.submit("synthetic-survey", "zarr-survey", {"nx": 8, "ny": 6})
    survey_dataset = page.wait_version(survey["id"])["outputs"][0]["id"]
    editor = Editor(page).new("inversion", "zarr-inversion")
    output_format = editor.field("/output_format")  # rjsf's option values are indices
    expect(output_format.locator("option:checked")).to_have_text("netcdf3")
    picker = editor.root.locator('[data-testid="nf-dataset-picker"][data-field="/survey"]')
    picker.select_option(f"dataset:{survey_dataset}")
    editor.field("/nx").fill("12")
    editor.field("/ny").fill("10")
    output_format.select_option(label="zarr")
    editor.submit()
    editor.wait_version(1, "completed", timeout=120_000)
    (process,) = [p for p in page.processes() if p["name"] == "zarr-inversion"]
    version = page.wait_version(process["id"])
    assert version["parameters"]["output_format"] == "zarr"
    outputs = {d["name"].rstrip("/").rsplit("/", 1)[-1]: d for d in version["outputs"]}
    assert sorted(outputs) == ["misfit.zarr", "model.zarr"]
    for store in outputs.values():
        assert store["mime_type"] == "application/x-zarr" and store["key"].endswith("/")
    expect_the_model_on_the_map(page, "zarr-inversion", outputs["model.zarr"])
