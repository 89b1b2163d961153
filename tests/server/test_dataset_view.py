"""The dataset view: chosen variables of a NetCDF dataset, decimated for plots and maps."""

from __future__ import annotations

import io
import uuid
import warnings

import numpy as np
import pytest
import xarray as xr
from nagelfluh_runner.netcdf import write_netcdf

SIGNAL = {
    "duration": 100,
    "sample_rate": 100,
    "components": [{"frequency": 3, "amplitude": 1}],
    "noise_level": 0.5,
}


async def _completed(api, type_name: str, parameters: dict) -> dict:
    created = await api.submit(type_name, parameters)
    done = await api.wait(created["id"])
    assert done["state"] == "completed", done
    return done["outputs"][0]


async def test_large_signal_is_decimated_keeping_its_extremes(api):
    dataset = await _completed(api, "synthetic-signal", SIGNAL)
    view = await api.get(f"dataset/{dataset['id']}/view", y="amplitude", points=200)
    assert view["total"] == 10_000 and view["decimated"] is True
    assert len(view["x"]["values"]) <= 200
    assert view["x"]["name"] == "time" and view["x"]["units"] == "s"
    [amplitude] = view["y"]
    assert amplitude["units"] == "mm/s"
    _, raw = await api.call("GET", f"dataset/{dataset['id']}")
    with xr.open_dataset(io.BytesIO(raw)) as ds:
        full = ds["amplitude"].values
    assert max(amplitude["values"]) == pytest.approx(full.max())
    assert min(amplitude["values"]) == pytest.approx(full.min())
    assert view["x"]["values"] == sorted(view["x"]["values"])


async def test_zooming_in_returns_full_resolution_within_the_range(api):
    dataset = await _completed(api, "synthetic-signal", SIGNAL)
    view = await api.get(f"dataset/{dataset['id']}/view", points=2000, x0=10, x1=12)
    assert view["decimated"] is False and view["in_range"] == 201
    times = np.array(view["x"]["values"])
    assert times.min() >= 10 and times.max() <= 12
    assert np.allclose(np.diff(times), 0.01)


async def test_survey_view_gives_coordinates_and_values_for_a_map(api):
    dataset = await _completed(api, "synthetic-survey", {})
    view = await api.get(
        f"dataset/{dataset['id']}/view", x="longitude", y=["latitude", "gravity_anomaly"]
    )
    assert view["dimension"] == "station"
    assert [c["units"] for c in view["y"]] == ["degrees_north", "mGal"]
    assert len(view["x"]["values"]) == len(view["y"][1]["values"]) == view["total"]


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"y": "nope"}, "/y"),
        ({"x": "nope"}, "/x"),
        ({"points": "1"}, "/points"),
        ({"points": "many"}, "/points"),
        ({"x0": "soon"}, "/x0"),
        ({"x0": "5", "x1": "1"}, "/x0"),
    ],
)
async def test_bad_view_requests_name_the_parameter(api, params, path):
    dataset = await _completed(api, "synthetic-signal", {"duration": 1})
    code, body = await api.call("GET", f"dataset/{dataset['id']}/view", **params)
    assert code == 400, body
    assert body["error"]["details"][0]["path"] == path


async def test_non_netcdf_dataset_has_no_view(api):
    # A CSV file is a dataset now (tests/server/test_dataset_formats.py); plain text is not.
    project = (await api.get("projects"))["items"][0]["id"]
    upload = await api.post("dataset", b"a,b\n1,2\n", project=project, name="t.txt")
    code, body = await api.call("GET", f"dataset/{upload['id']}/view")
    assert code == 400 and "NetCDF" in body["error"]["message"]
    code, _ = await api.as_user("stranger").call("GET", f"dataset/{upload['id']}/view")
    assert code == 404


async def _model(api) -> dict:
    """The inversion's ``model.nc`` (density contrast over latitude x longitude)."""
    survey = await _completed(api, "synthetic-survey", {"nx": 6, "ny": 5})
    created = await api.submit("inversion", {"survey": f"dataset:{survey['id']}", "nx": 8, "ny": 6})
    done = await api.wait(created["id"])
    assert done["state"] == "completed", done
    return next(d for d in done["outputs"] if d["key"].endswith("model.nc"))


async def _upload_grid(api, name: str, variables: dict) -> dict:
    """A NetCDF file written by the runner's writer, uploaded as a dataset."""
    buffer = io.BytesIO()
    write_netcdf(buffer, None, variables)
    project = (await api.get("projects"))["items"][0]["id"]
    return await api.post(
        "dataset",
        buffer.getvalue(),
        headers={"Content-Type": "application/x-netcdf"},
        project=project,
        name=name,
    )


async def test_inversion_model_is_viewed_as_a_grid_with_units(api):
    dataset = await _model(api)
    view = await api.get(f"dataset/{dataset['id']}/view", z="density_contrast")
    assert view["dims"] == ["latitude", "longitude"] and view["shape"] == [6, 8]
    assert view["decimated"] is False and view["block"] == [1, 1]
    assert (view["x"]["name"], view["x"]["units"]) == ("longitude", "degrees_east")
    assert (view["y"]["name"], view["y"]["units"]) == ("latitude", "degrees_north")
    assert view["z"]["units"] == "kg/m^3" and view["z"]["long_name"] == "Density contrast"
    _, raw = await api.call("GET", f"dataset/{dataset['id']}")
    with xr.open_dataset(io.BytesIO(raw)) as ds:
        assert np.allclose(view["z"]["values"], ds["density_contrast"].values)
        assert np.allclose(view["x"]["values"], ds["longitude"].values)
        assert np.allclose(view["y"]["values"], ds["latitude"].values)
    code, body = await api.call("GET", f"dataset/{dataset['id']}/view", y="density_contrast")
    assert code == 400 and "z=density_contrast" in body["error"]["details"][0]["message"]


def _block_means(values: np.ndarray, by: int, bx: int) -> np.ndarray:
    """Reference: the NaN-aware mean of every by x bx block, one block at a time."""
    ny, nx = values.shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the all-NaN block: NaN
        return np.array(
            [
                [np.nanmean(values[i : i + by, j : j + bx]) for j in range(0, nx, bx)]
                for i in range(0, ny, by)
            ]
        )


async def test_big_grid_is_reduced_to_the_pixel_budget_by_block_means(api):
    rng = np.random.default_rng(3)
    ny, nx = 1003, 1501
    values = rng.normal(size=(ny, nx))
    values[rng.random(values.shape) < 0.05] = np.nan
    values[:6, :6] = np.nan  # one whole block without a number
    depth = np.linspace(0, 5000, ny)
    position = np.arange(nx) * 10.0
    dataset = await _upload_grid(
        api,
        "big-grid.nc",
        {
            "depth": (("depth",), depth, {"units": "m"}),
            "position": (("position",), position, {"units": "m"}),
            "rho": (("depth", "position"), values, {"units": "kg/m^3"}),
        },
    )
    view = await api.get(f"dataset/{dataset['id']}/view", z="rho", width=300, height=200)
    assert view["decimated"] is True and view["total"] == [ny, nx]
    by, bx = view["block"]
    assert (by, bx) == (6, 6)  # ceil(1003 / 200), ceil(1501 / 300)
    assert view["shape"] == [168, 251] and view["shape"][0] <= 200 and view["shape"][1] <= 300
    grid = np.array(view["z"]["values"], dtype=float)  # None -> nan
    expected = _block_means(values, by, bx)
    assert grid.shape == expected.shape
    assert np.isnan(grid[0, 0])
    assert np.allclose(grid, expected, equal_nan=True)
    assert np.allclose(view["y"]["values"], _block_means(depth[:, None], by, 1)[:, 0])
    assert np.allclose(view["x"]["values"], _block_means(position[None, :], 1, bx)[0])
    biggest = await api.get(f"dataset/{dataset['id']}/view", z="rho", reduce="max")
    assert biggest["shape"] == [335, 376] and biggest["block"] == [3, 4]  # 500 x 500
    assert np.nanmax(np.array(biggest["z"]["values"], dtype=float)) == pytest.approx(
        np.nanmax(values)
    )


async def test_zooming_into_a_grid_returns_full_resolution_within_the_ranges(api):
    ny, nx = 400, 600
    values = np.arange(ny * nx, dtype=float).reshape(ny, nx)
    dataset = await _upload_grid(
        api,
        "ramp-grid.nc",
        {
            "y": (("y",), np.arange(ny) * 0.5, {"units": "km"}),
            "x": (("x",), np.arange(nx) * 2.0, {"units": "km"}),
            "t": (("y", "x"), values, {"units": "K"}),
        },
    )
    path = f"dataset/{dataset['id']}/view"
    coarse = await api.get(path, z="t", width=100, height=100)
    assert coarse["decimated"] is True and coarse["shape"] == [100, 100]
    view = await api.get(path, z="t", width=100, height=100, x0=100, x1=200, y0=10, y1=30)
    assert view["decimated"] is False and view["in_range"] == [41, 51]
    assert view["x"]["values"] == [float(v) for v in range(100, 201, 2)]
    assert view["y"]["values"] == [v / 2 for v in range(20, 61)]
    assert np.array_equal(view["z"]["values"], values[20:61, 50:101])
    empty = await api.get(path, z="t", x0=5000)
    assert empty["shape"] == [400, 0] and empty["x"]["values"] == []


async def test_a_grid_without_coordinate_variables_is_indexed(api):
    dataset = await _upload_grid(
        api, "bare-grid.nc", {"g": (("row", "col"), np.ones((3, 4)), {"units": "1"})}
    )
    view = await api.get(f"dataset/{dataset['id']}/view", z="g")
    assert view["x"] == {"name": None, "units": None, "long_name": None, "values": [0, 1, 2, 3]}
    assert view["y"]["values"] == [0, 1, 2]


@pytest.mark.parametrize(
    ("params", "path", "says"),
    [
        ({"z": "nope"}, "/z", "no variable 'nope'"),
        ({"z": "amplitude"}, "/z", "(time)"),
        ({"z": "cube"}, "/z", "(time, a, b)"),
        ({"z": "plane", "y": "amplitude"}, "/y", "not with z"),
        ({"z": "plane", "points": "10"}, "/points", "not with z"),
        ({"z": "plane", "width": "0"}, "/width", "from 1 to"),
        ({"z": "plane", "height": "9999"}, "/height", "from 1 to"),
        ({"z": "plane", "y0": "high"}, "/y0", "not a number"),
        ({"z": "plane", "y0": "2", "y1": "1"}, "/y0", "greater than y1"),
        ({"z": "plane", "reduce": "median"}, "/reduce", "mean"),
        ({"width": "10"}, "/width", "only for a grid"),
        ({"y": "plane"}, "/y", "z=plane"),
    ],
)
async def test_bad_grid_requests_name_the_field(api, params, path, says):
    dataset = await _upload_grid(
        api,
        f"bad-{uuid.uuid4().hex[:8]}.nc",
        {
            "time": (("time",), np.arange(3.0), {"units": "s"}),
            "amplitude": (("time",), np.arange(3.0), {"units": "m"}),
            "plane": (("time", "a"), np.ones((3, 2)), {"units": "m"}),
            "cube": (("time", "a", "b"), np.ones((3, 2, 2)), {"units": "m"}),
        },
    )
    code, body = await api.call("GET", f"dataset/{dataset['id']}/view", **params)
    assert code == 400, body
    [detail] = body["error"]["details"]
    assert detail["path"] == path and says in detail["message"], detail
