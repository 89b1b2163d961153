"""The dataset view: chosen variables of a NetCDF dataset, decimated for plots and maps."""

from __future__ import annotations

import io

import numpy as np
import pytest
import xarray as xr

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
    project = (await api.get("projects"))["items"][0]["id"]
    upload = await api.post("dataset", b"a,b\n1,2\n", project=project, name="t.csv")
    code, body = await api.call("GET", f"dataset/{upload['id']}/view")
    assert code == 400 and "NetCDF" in body["error"]["message"]
    code, _ = await api.as_user("stranger").call("GET", f"dataset/{upload['id']}/view")
    assert code == 404
