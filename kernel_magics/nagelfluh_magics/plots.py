"""Inline Plotly figures of datasets: line plots with one axis per unit, heatmaps
of 2-D grids, and maps.

NetCDF data comes through the server's view route, decimated to about the
plot's width (minimum and maximum per bucket, so peaks survive; block means of
a grid); a ``FigureWidget`` asks again for the visible range whenever it is
zoomed, so detail comes back. Tables (CSV/TSV) are plotted whole from their bytes.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go

from .data import ARRAYS, DELIMITERS, DataError, kind, table_columns
from .live import widgets_available

if TYPE_CHECKING:
    import numpy as np

    from .client import Client

DEFAULT_POINTS = 2000
MAP_POINTS = 100_000
GRID_CELLS = 500  # at most this many grid cells along each axis of a heatmap
AXIS_OFFSET = 0.08
TILES_ENV = "NAGELFLUH_MAP_TILES"
LATITUDE = (("degrees_north", "degree_north", "degrees_n"), ("latitude", "lat"))
LONGITUDE = (("degrees_east", "degree_east", "degrees_e"), ("longitude", "lon"))


@dataclass
class Column:
    name: str | None
    units: str | None
    values: Any
    long_name: str | None = None


@dataclass
class Series:
    """Columns of one dataset along one x: what one dataset adds to a figure."""

    dataset: int
    label: str
    x: Column
    y: list[Column]
    decimated: bool = False
    refinable: bool = False  # the server can send more detail for a narrower x range
    meta: dict[str, Any] = field(default_factory=dict)


def fetch_series(
    client: Client,
    dataset: int,
    x: str | None = None,
    y: list[str] | tuple[str, ...] = (),
    points: int = DEFAULT_POINTS,
) -> Series:
    """``y`` (default: every data variable) against ``x`` (default: the dimension's
    coordinate, or the first column of a table)."""
    meta = client.dataset_meta(dataset)
    found = kind(meta)
    label = f"#{dataset} {meta['name']}"
    if found in ARRAYS:
        view = client.dataset_view(dataset, x, y, points)
        return Series(
            dataset,
            label,
            Column(**view["x"]),
            [Column(**c) for c in view["y"]],
            view["decimated"],
            refinable=True,
            meta=meta,
        )
    if found not in DELIMITERS:
        raise DataError(
            f"dataset {dataset} is {meta['mime_type']}: only NetCDF, Zarr stores and tables plot"
        )
    columns = table_columns(client.dataset_bytes(dataset), DELIMITERS[found])
    if not columns:
        raise DataError(f"dataset {dataset} has no numeric column")
    x_name = x or next(iter(columns))
    y_names = list(y) or [name for name in columns if name != x_name]
    for name in [x_name, *y_names]:
        if name not in columns:
            raise DataError(
                f"dataset {dataset} has no numeric column {name!r}; it has {', '.join(columns)}"
            )
    units = meta.get("units") or {}

    def column(name: str) -> Column:
        return Column(name, units.get(name), columns[name])

    return Series(dataset, label, column(x_name), [column(n) for n in y_names], meta=meta)


def new_figure() -> go.Figure:
    """A ``FigureWidget`` (interactive, refinable from Python) where widgets can be
    shown, a static ``Figure`` elsewhere."""
    return go.FigureWidget() if widgets_available() else go.Figure()


def unit_groups(units: list[str | None]) -> list[int]:
    """The axis index of each unit: the same unit shares an axis, in first-seen order."""
    order: dict[str | None, int] = {}
    return [order.setdefault(unit, len(order)) for unit in units]


def axis_ref(letter: str, index: int) -> str:
    """``"y"``, ``"y2"``, ...: how a trace names its axis."""
    return letter + (str(index + 1) if index else "")


def axis_key(letter: str, index: int) -> str:
    """``"yaxis"``, ``"yaxis2"``, ...: the axis's key in the layout."""
    return f"{letter}axis" + (str(index + 1) if index else "")


def axes_layout(letter: str, titles: list[str]) -> tuple[dict[str, Any], list[float]]:
    """One axis per title: the first where axes usually are, the second on the
    opposite side, further ones outside these, alternately, each ``AXIS_OFFSET``
    further out. Also the domain left for the plot along the other direction."""
    sides = ("left", "right") if letter == "y" else ("bottom", "top")
    count = len(titles)
    domain = [AXIS_OFFSET * max(0, (count - 1) // 2), 1 - AXIS_OFFSET * max(0, (count - 2) // 2)]
    layout: dict[str, dict[str, Any]] = {}
    for index, title in enumerate(titles):
        axis: dict[str, Any] = {"title": {"text": title}}
        if index:
            axis.update(overlaying=letter, side=sides[index % 2])
        rank = index // 2
        if rank:
            low = index % 2 == 0
            position = domain[0] - AXIS_OFFSET * rank if low else domain[1] + AXIS_OFFSET * rank
            axis.update(anchor="free", position=round(position, 6))
        layout[axis_key(letter, index)] = axis
    return layout, domain


def _group_titles(columns: list[Column], groups: list[int]) -> list[str]:
    """Each axis's title: the names of the variables on it, then their unit."""
    members: dict[int, list[Column]] = defaultdict(list)
    for column, group in zip(columns, groups, strict=True):
        members[group].append(column)
    titles = []
    for group in sorted(members):
        names = ", ".join(dict.fromkeys(c.name or "index" for c in members[group]))
        unit = members[group][0].units
        titles.append(names + (f" [{unit}]" if unit else ""))
    return titles


def grid_variable(meta: dict[str, Any], y: list[str] | tuple[str, ...] = ()) -> str | None:
    """The 2-D variable of a NetCDF dataset to show as a heatmap: the one ``y`` names,
    or, when ``y`` is empty and the dataset has no 1-D data variable, its first 2-D
    one; None for a line plot. Variables of unknown dims (no manifest) count as 1-D."""
    if kind(meta) not in ARRAYS:
        return None
    dims = {v["name"]: v.get("dims") or [] for v in meta.get("variables") or []}
    if y:
        grids = [name for name in y if len(dims.get(name, [])) == 2]
        if grids and len(y) > 1:
            raise DataError(f"{grids[0]!r} is a 2-D grid: plot it alone (--y {grids[0]})")
        return grids[0] if grids else None
    data = [name for name, d in dims.items() if d != [name]]
    if any(len(dims[name]) == 1 for name in data):
        return None
    return next((name for name in data if len(dims[name]) == 2), None)


def plot(
    client: Client,
    datasets: list[int],
    x: str | None = None,
    y: list[str] | tuple[str, ...] = (),
    points: int = DEFAULT_POINTS,
) -> go.Figure:
    """The datasets overlaid: one x axis per x unit and one y axis per y unit, so
    curves in the same unit share an axis and others get their own. A 2-D variable
    (asked for, or a dataset's default) is a heatmap of its own."""
    metas = {d: client.dataset_meta(d) for d in datasets}
    grids = {d: name for d, meta in metas.items() if (name := grid_variable(meta, y))}
    if grids:
        dataset, name = next(iter(grids.items()))
        if len(datasets) > 1 or x is not None:
            raise DataError(
                f"{name!r} of dataset {dataset} is a 2-D grid: plot it alone, along its own axes"
            )
        return heatmap(client, dataset, name, metas[dataset])
    all_series = [fetch_series(client, d, x, y, points) for d in datasets]
    x_groups = unit_groups([s.x.units for s in all_series])
    curves = [(s, xg, c) for s, xg in zip(all_series, x_groups, strict=True) for c in s.y]
    y_groups = unit_groups([c.units for _, _, c in curves])
    figure = new_figure()
    for (series, xg, column), yg in zip(curves, y_groups, strict=True):
        figure.add_trace(
            go.Scatter(
                x=series.x.values,
                y=column.values,
                name=f"{column.name} ({series.label})",
                mode="lines",
                xaxis=axis_ref("x", xg),
                yaxis=axis_ref("y", yg),
            )
        )
    x_layout, y_domain = axes_layout("x", _group_titles([s.x for s in all_series], x_groups))
    y_layout, x_domain = axes_layout("y", _group_titles([c for _, _, c in curves], y_groups))
    for axis in x_layout.values():
        axis["domain"] = x_domain
    for axis in y_layout.values():
        axis["domain"] = y_domain
    title = ", ".join(s.label for s in all_series)
    if any(s.decimated for s in all_series):
        title += f" (decimated to about {points} points"
        title += ", zoom in for detail)" if isinstance(figure, go.FigureWidget) else ")"
    figure.update_layout(title={"text": title}, **x_layout, **y_layout)
    if isinstance(figure, go.FigureWidget):
        Refiner(client, figure, curves, x_groups, points).attach()
    return figure


class Refiner:
    """Fetches the visible x range again, at full screen resolution, when a
    ``FigureWidget``'s x axis is zoomed or panned."""

    def __init__(
        self,
        client: Client,
        figure: go.FigureWidget,
        curves: list[tuple[Series, int, Column]],
        x_groups: list[int],
        points: int,
    ) -> None:
        self.client = client
        self.figure = figure
        self.points = points
        # x axis -> dataset -> [(trace index, variable)]; only what the server can refine
        self.traces: dict[int, dict[int, list[tuple[int, str]]]] = defaultdict(
            lambda: defaultdict(list)
        )
        self.x_names: dict[int, str | None] = {}
        for index, (series, xg, column) in enumerate(curves):
            if series.refinable and column.name:
                self.traces[xg][series.dataset].append((index, column.name))
                self.x_names[series.dataset] = series.x.name

    def attach(self) -> None:
        for xg in self.traces:
            self.figure.layout.on_change(
                lambda _layout, x_range, xg=xg: self.refine(xg, x_range),
                f"{axis_key('x', xg)}.range",
            )

    def refine(self, xg: int, x_range: tuple[Any, ...] | list[Any] | None) -> None:
        if not x_range or len(x_range) != 2:
            return
        x0, x1 = sorted(float(v) for v in x_range)
        updates = []
        for dataset, traces in self.traces[xg].items():
            view = self.client.dataset_view(
                dataset, self.x_names[dataset], [name for _, name in traces], self.points, x0, x1
            )
            columns = {c["name"]: c["values"] for c in view["y"]}
            updates += [(index, view["x"]["values"], columns[name]) for index, name in traces]
        with self.figure.batch_update():
            for index, xs, ys in updates:
                self.figure.data[index].x = xs
                self.figure.data[index].y = ys


def heatmap(
    client: Client,
    dataset: int,
    name: str,
    meta: dict[str, Any],
    cells: int = GRID_CELLS,
    geographic: bool = False,
) -> go.Figure:
    """The 2-D variable ``name`` as a heatmap: rows along its first dimension (y),
    columns along its second (x), their units on the axes and its unit on the colour
    bar; reduced by the server to at most ``cells`` x ``cells`` block means, refined
    when a ``FigureWidget`` is zoomed. ``geographic`` keeps degrees to scale (a map)."""
    view = client.dataset_grid(dataset, name, cells, cells)
    x, y, z = (Column(**view[key]) for key in ("x", "y", "z"))
    figure = new_figure()
    figure.add_trace(
        go.Heatmap(
            x=x.values,
            y=y.values,
            z=z.values,
            colorscale="Viridis",
            colorbar={"title": {"text": _group_titles([z], [0])[0]}},
            name=name,
        )
    )
    title = f"#{dataset} {meta['name']}: {z.long_name or name}"
    if view["decimated"]:
        title += " (block means of {} x {} cells{})".format(
            *view["block"], ", zoom in for detail" if isinstance(figure, go.FigureWidget) else ""
        )
    y_axis: dict[str, Any] = {"title": {"text": _group_titles([y], [0])[0]}}
    if geographic and (y.units or "").lower() in LATITUDE[0]:
        middle = _middle(_finite(y.values))
        y_axis.update(scaleanchor="x", scaleratio=1 / max(math.cos(math.radians(middle)), 1e-3))
    figure.update_layout(
        title={"text": title},
        xaxis={"title": {"text": _group_titles([x], [0])[0]}},
        yaxis=y_axis,
    )
    if isinstance(figure, go.FigureWidget):
        figure.layout.on_change(
            lambda _layout, x_range, y_range: _refine_grid(
                client, figure, dataset, name, cells, x_range, y_range
            ),
            "xaxis.range",
            "yaxis.range",
        )
    return figure


def _refine_grid(
    client: Client,
    figure: go.FigureWidget,
    dataset: int,
    name: str,
    cells: int,
    x_range: tuple[Any, ...] | list[Any] | None,
    y_range: tuple[Any, ...] | list[Any] | None,
) -> None:
    """Fetch the visible part of a heatmap's grid again, at up to ``cells`` cells a side."""
    ranges: dict[str, float] = {}
    for letter, limits in (("x", x_range), ("y", y_range)):
        if limits and len(limits) == 2:
            low, high = sorted(float(v) for v in limits)
            ranges.update({f"{letter}0": low, f"{letter}1": high})
    view = client.dataset_grid(dataset, name, cells, cells, **ranges)
    if not view["x"]["values"] or not view["y"]["values"]:
        return
    with figure.batch_update():
        trace = figure.data[0]
        trace.x, trace.y, trace.z = view["x"]["values"], view["y"]["values"], view["z"]["values"]


def _coordinate(names: list[str], units: dict[str, Any], spec: tuple[tuple[str, ...], ...]) -> str:
    """The variable with a unit of ``spec[0]``, else one named as in ``spec[1]``."""
    unit_names, plain_names = spec
    for name in names:
        if (units.get(name) or "").lower() in unit_names:
            return name
    for name in names:
        if name.lower() in plain_names:
            return name
    raise DataError(
        f"no {plain_names[0]} variable (units {unit_names[0]} or named {plain_names[0]}) "
        f"among {', '.join(names)}"
    )


def map_figure(client: Client, dataset: int, color: str | None = None) -> go.Figure:
    """Points at their latitude/longitude, coloured by ``color`` (default: the first
    other variable), its unit on the colour bar. Drawn on plain axes with equal
    distances (nothing fetched from the internet), or over the raster tiles of
    ``$NAGELFLUH_MAP_TILES`` (``https://.../{z}/{x}/{y}.png``) when it is set."""
    meta = client.dataset_meta(dataset)
    found = kind(meta)
    columns: dict[str, np.ndarray] = {}  # a table's, read here once
    if found in ARRAYS:
        names = [v["name"] for v in meta["variables"]]
        units = meta["units"]
    elif found in DELIMITERS:
        columns = table_columns(client.dataset_bytes(dataset), DELIMITERS[found])
        names, units = list(columns), meta.get("units") or {}
    else:
        raise DataError(
            f"dataset {dataset} is {meta['mime_type']}: only NetCDF, Zarr stores and tables map"
        )
    lat, lon = _coordinate(names, units, LATITUDE), _coordinate(names, units, LONGITUDE)
    if color is None:
        color = next((n for n in names if n not in (lat, lon)), None)
        if color is None:
            raise DataError(f"dataset {dataset} has nothing but coordinates to colour by")
    if color not in names:
        raise DataError(f"dataset {dataset} has no variable {color!r}; it has {', '.join(names)}")
    if found in ARRAYS and grid_variable(meta, [color]):
        return heatmap(client, dataset, color, meta, geographic=True)
    if found in ARRAYS:
        view = client.dataset_view(dataset, lon, [lat, color], MAP_POINTS)
        values = {view["x"]["name"]: view["x"]["values"]}
        values.update((c["name"], c["values"]) for c in view["y"])
        decimated = view["decimated"]
    else:
        values, decimated = {name: columns[name] for name in (lat, lon, color)}, False
    unit = units.get(color)
    marker = {
        "color": values[color],
        "colorscale": "Viridis",
        "showscale": True,
        "size": 8,
        "colorbar": {"title": {"text": f"{color} [{unit}]" if unit else color}},
    }
    title = f"#{dataset} {meta['name']}: {color}" + (" (decimated)" if decimated else "")
    figure = new_figure()
    latitudes, longitudes = _finite(values[lat]), _finite(values[lon])
    centre = {"lat": _middle(latitudes), "lon": _middle(longitudes)}
    tiles = os.environ.get(TILES_ENV)
    text = [f"{color} = {v}" for v in values[color]]
    if tiles:
        figure.add_trace(
            go.Scattermap(
                lat=values[lat], lon=values[lon], mode="markers", marker=marker, text=text
            )
        )
        extent = max(_span(latitudes), _span(longitudes), 1e-6)
        figure.update_layout(
            title={"text": title},
            map={"style": _raster_style(tiles), "center": centre, "zoom": math.log2(360 / extent)},
        )
        return figure
    figure.add_trace(
        go.Scatter(x=values[lon], y=values[lat], mode="markers", marker=marker, text=text)
    )
    figure.update_layout(
        title={"text": title},
        xaxis={"title": {"text": f"{lon} [{units.get(lon) or 'degrees_east'}]"}},
        yaxis={
            "title": {"text": f"{lat} [{units.get(lat) or 'degrees_north'}]"},
            "scaleanchor": "x",
            # a degree of latitude is 1/cos(latitude) times as long as one of longitude
            "scaleratio": 1 / max(math.cos(math.radians(centre["lat"])), 1e-3),
        },
    )
    return figure


def _finite(values: Any) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(v)]


def _middle(values: list[float]) -> float:
    return (min(values) + max(values)) / 2 if values else 0.0


def _span(values: list[float]) -> float:
    return max(values) - min(values) if values else 0.0


def _raster_style(tiles: str) -> dict[str, Any]:
    """A MapLibre style of one raster layer: nothing else (fonts, sprites) is fetched."""
    return {
        "version": 8,
        "sources": {"tiles": {"type": "raster", "tiles": [tiles], "tileSize": 256}},
        "layers": [{"id": "tiles", "type": "raster", "source": "tiles"}],
    }
