"""Plots and maps built outside a kernel (a script, a terminal): static figures."""

from __future__ import annotations

import uuid

import plotly.graph_objects as go
import pytest
from nagelfluh_magics import plots
from nagelfluh_magics.data import DataError

from tests.magics.conftest import wait_until_ended


def test_outside_a_kernel_a_plot_is_a_static_figure(client, outputs):
    figure = plots.plot(client, [outputs["signal_mm"]["id"]], y=["amplitude"], points=50)
    assert type(figure) is go.Figure
    assert len(figure.data[0].x) <= 52
    assert "decimated to about 50 points)" in figure.layout.title.text


def test_a_third_unit_gets_its_own_axis_outside_the_plot():
    layout, domain = plots.axes_layout("y", ["a [m]", "b [s]", "c [K]"])
    assert domain == pytest.approx([plots.AXIS_OFFSET, 1])
    assert layout["yaxis2"] == {"title": {"text": "b [s]"}, "overlaying": "y", "side": "right"}
    assert layout["yaxis3"]["side"] == "left" and layout["yaxis3"]["anchor"] == "free"
    assert layout["yaxis3"]["position"] == 0


def test_tables_plot_and_map_from_their_columns(client, outputs):
    project = outputs["signal_mm"]["project"]
    table = b"latitude,longitude,depth,temperature,site\n47.0,8.4,10,4.5,a\n47.1,8.5,20,5.5,b\n"
    upload = client.upload(project, f"sites-{uuid.uuid4().hex[:6]}.csv", table, "text/csv")
    figure = plots.plot(client, [upload["id"]], x="depth", y=["temperature"])
    assert list(figure.data[0].x) == [10, 20] and list(figure.data[0].y) == [4.5, 5.5]
    assert figure.layout.xaxis.title.text == "depth"
    mapped = plots.map_figure(client, upload["id"], color="temperature")
    assert list(mapped.data[0].x) == [8.4, 8.5] and list(mapped.data[0].y) == [47.0, 47.1]
    assert mapped.data[0].marker.colorbar.title.text == "temperature"
    with pytest.raises(DataError, match="no numeric column 'site'"):
        plots.plot(client, [upload["id"]], y=["site"])


@pytest.fixture(scope="module")
def model(client, outputs) -> dict:
    """The inversion's ``model.nc``: density contrast over latitude x longitude."""
    process = client.submit(
        "inversion", {"survey": f"dataset:{outputs['survey']['id']}", "nx": 7, "ny": 4}
    )
    info = wait_until_ended(client, process["id"])
    assert info["state"] == "completed", info
    return next(d for d in info["outputs"] if d["key"].endswith("model.nc"))


def test_an_inversion_model_plots_as_a_heatmap_by_default(client, model):
    figure = plots.plot(client, [model["id"]])
    [heatmap] = figure.data
    assert heatmap.type == "heatmap"
    assert heatmap.colorbar.title.text == "density_contrast [kg/m^3]"
    assert (len(heatmap.x), len(heatmap.y)) == (7, 4)
    assert len(heatmap.z) == 4 and all(len(row) == 7 for row in heatmap.z)
    assert figure.layout.xaxis.title.text == "longitude [degrees_east]"
    assert figure.layout.yaxis.title.text == "latitude [degrees_north]"
    assert "Density contrast" in figure.layout.title.text
    asked = plots.plot(client, [model["id"]], y=["density_contrast"])
    assert asked.data[0].type == "heatmap"
    mapped = plots.map_figure(client, model["id"])
    assert mapped.data[0].type == "heatmap" and mapped.layout.yaxis.scaleanchor == "x"


def test_a_big_grid_heatmap_is_reduced_to_block_means(client, model):
    meta = client.dataset_meta(model["id"])
    figure = plots.heatmap(client, model["id"], "density_contrast", meta, cells=2)
    assert (len(figure.data[0].x), len(figure.data[0].y)) == (2, 2)
    assert "block means of 2 x 4 cells" in figure.layout.title.text


def test_a_grid_plots_alone(client, model, outputs):
    with pytest.raises(DataError, match="plot it alone"):
        plots.plot(client, [model["id"], outputs["signal_mm"]["id"]])
    with pytest.raises(DataError, match="plot it alone"):
        plots.plot(client, [model["id"]], y=["density_contrast", "latitude"])


def test_zooming_a_heatmap_fetches_the_visible_cells_again(client, model):
    full = plots.plot(client, [model["id"]]).data[0]
    meta = client.dataset_meta(model["id"])
    figure = plots.heatmap(client, model["id"], "density_contrast", meta, cells=2)
    x_range, y_range = (full.x[1], full.x[3]), (full.y[0], full.y[1])
    plots._refine_grid(client, figure, model["id"], "density_contrast", 2, x_range, y_range)
    zoomed = figure.data[0]
    assert list(zoomed.y) == pytest.approx(list(full.y[:2]))  # 2 rows: every one
    assert list(zoomed.x) == pytest.approx([full.x[1] / 2 + full.x[2] / 2, full.x[3]])
    assert list(zoomed.z[0]) == pytest.approx(
        [(full.z[0][1] + full.z[0][2]) / 2, full.z[0][3]]
    )  # 3 columns: a block of 2 and one of 1
