"""Plots and maps built outside a kernel (a script, a terminal): static figures."""

from __future__ import annotations

import uuid

import plotly.graph_objects as go
import pytest
from nagelfluh_magics import plots
from nagelfluh_magics.data import DataError


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
