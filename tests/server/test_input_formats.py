"""Uploads of every described format as process inputs; opaque ones refused at submit."""

from __future__ import annotations

import io

import numpy as np
import xarray as xr


async def _project(api) -> int:
    return (await api.get("projects"))["items"][0]["id"]


async def _upload(api, name: str, data: bytes, content_type: str) -> dict:
    return await api.post(
        "dataset",
        data,
        headers={"Content-Type": content_type},
        project=await _project(api),
        name=name,
    )


def _netcdf4_signal() -> bytes:
    time = np.arange(400) / 50.0
    ds = xr.Dataset(
        {"velocity": ("time", 4.0 * np.sin(2 * np.pi * 6.0 * time), {"units": "mm/s"})},
        coords={"time": ("time", time, {"units": "s"})},
    )
    return bytes(ds.to_netcdf(engine="h5netcdf"))


async def test_an_xarray_netcdf4_upload_runs_through_fft(api):
    raw = _netcdf4_signal()
    assert raw[:4] == b"\x89HDF"
    uploaded = await _upload(api, "field/velocity.nc", raw, "application/x-netcdf")
    assert uploaded["variables"], uploaded  # the server described it
    created = await api.submit("fft", {"signal": f"dataset:{uploaded['id']}"})
    done = await api.wait(created["id"])
    assert done["state"] == "completed", done
    assert done["inputs"] == [uploaded["id"]]
    [spectrum] = done["outputs"]
    code, data = await api.call("GET", f"dataset/{spectrum['id']}")
    assert code == 200
    with xr.open_dataset(io.BytesIO(data)) as ds:
        assert ds["amplitude"].attrs["units"] == "mm/s"
        peak = int(np.argmax(ds["amplitude"].values))
        assert abs(float(ds["frequency"][peak]) - 6.0) < 1e-9
        assert abs(float(ds["amplitude"][peak]) - 4.0) < 0.2


async def test_an_opaque_upload_as_a_data_input_is_a_400_naming_the_field(api):
    notes = await _upload(api, "notes.txt", b"just some notes\n", "text/plain")
    assert not notes["variables"]
    code, body = await api.call(
        "POST", "process", {"type": "fft", "parameters": {"signal": f"dataset:{notes['id']}"}}
    )
    assert code == 400, body
    [detail] = body["error"]["details"]
    assert detail["path"] == "/parameters/signal"
    assert detail["message"].startswith(
        f"dataset {notes['id']} ('notes.txt') is not a readable NetCDF/CSV file or Zarr store: "
    )
    assert body["error"]["message"].startswith("/parameters/signal: dataset ")
    # and a new version of an existing process is checked alike
    good = await _upload(api, "good.nc", _netcdf4_signal(), "application/x-netcdf")
    created = await api.submit("fft", {"signal": f"dataset:{good['id']}"})
    await api.wait(created["id"])
    code, body = await api.call(
        "POST",
        f"process/{created['id']}/versions",
        {"parameters": {"signal": f"dataset:{notes['id']}"}},
    )
    assert code == 400, body
    assert body["error"]["details"][0]["path"] == "/parameters/signal"
    assert len((await api.get(f"process/{created['id']}"))["versions"]) == 1


async def test_a_csv_survey_upload_runs_through_the_inversion(api):
    rng = np.random.default_rng(3)
    lat = rng.uniform(47.0, 47.1, 30)
    lon = rng.uniform(8.45, 8.55, 30)
    anomaly = 2.0 * np.exp(-((lat - 47.05) ** 2 + (lon - 8.5) ** 2) / 0.001)
    rows = "".join(f"{a:.6f},{o:.6f},{g:.6f}\n" for a, o, g in zip(lat, lon, anomaly, strict=True))
    csv = "latitude [degrees_north],longitude [degrees_east],gravity_anomaly [mGal]\n" + rows
    uploaded = await _upload(api, "survey.csv", csv.encode(), "text/csv")
    assert {v["name"] for v in uploaded["variables"]} >= {"latitude", "gravity_anomaly"}
    created = await api.submit(
        "inversion", {"survey": f"dataset:{uploaded['id']}", "nx": 4, "ny": 4}
    )
    done = await api.wait(created["id"])
    assert done["state"] == "completed", done
    assert {o["key"].rpartition("/")[2] for o in done["outputs"]} == {"model.nc", "misfit.nc"}
