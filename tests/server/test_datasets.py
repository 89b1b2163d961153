"""Output datasets, inputs by reference, byte ranges, metadata and uploads."""

from __future__ import annotations

import io
import re
from urllib.parse import unquote

import numpy as np
import xarray as xr


async def _signal(api) -> tuple[dict, dict]:
    created = await api.submit(
        "synthetic-signal",
        {"duration": 4, "sample_rate": 100, "components": [{"frequency": 7, "amplitude": 1}]},
    )
    done = await api.wait(created["id"])
    assert done["state"] == "completed", done
    [dataset] = done["outputs"]
    return done, dataset


async def test_outputs_are_registered_with_units_from_the_manifest(api):
    done, dataset = await _signal(api)
    assert dataset["mime_type"] == "application/x-netcdf"
    assert dataset["process"] == done["process"] and dataset["version"] == 1
    units = {v["name"]: v["units"] for v in dataset["variables"]}
    assert units["time"] == "s"
    meta = await api.get(f"dataset/{dataset['id']}/meta")
    assert meta["producer"] == {
        "process": done["process"],
        "version": 1,
        "type": "synthetic-signal",
        "provenance": done["provenance"],
    }
    assert meta["units"]["time"] == "s"
    assert meta["size"] == dataset["size"] > 0
    listed = await api.get("dataset", process=done["process"])
    assert [d["id"] for d in listed["items"]] == [dataset["id"]]


async def test_dataset_bytes_open_with_xarray_and_honour_ranges(api):
    _, dataset = await _signal(api)
    code, data = await api.call("GET", f"dataset/{dataset['id']}")
    assert code == 200 and len(data) == dataset["size"]
    with xr.open_dataset(io.BytesIO(data)) as ds:
        assert ds["time"].attrs["units"] == "s"
        assert ds.sizes["time"] == 400
    code, part = await api.call("GET", f"dataset/{dataset['id']}", headers={"Range": "bytes=4-11"})
    assert code == 206 and part == data[4:12]
    code, tail = await api.call("GET", f"dataset/{dataset['id']}", headers={"Range": "bytes=-5"})
    assert code == 206 and tail == data[-5:]
    code, body = await api.call(
        "GET", f"dataset/{dataset['id']}", headers={"Range": f"bytes={len(data)}-"}
    )
    assert code == 416 and body["error"]["code"] == "range_not_satisfiable"


async def test_fft_takes_a_signal_output_as_input_and_finds_its_frequency(api):
    _, signal = await _signal(api)
    created = await api.submit("fft", {"signal": f"dataset:{signal['id']}"})
    done = await api.wait(created["id"])
    assert done["state"] == "completed", done
    assert done["inputs"] == [signal["id"]]
    [spectrum] = done["outputs"]
    _, data = await api.call("GET", f"dataset/{spectrum['id']}")
    with xr.open_dataset(io.BytesIO(data)) as ds:
        assert ds["frequency"].attrs["units"] == "Hz"
        peak = float(ds["frequency"][int(np.argmax(ds["amplitude"].values))])
    assert abs(peak - 7) < 0.5


async def test_dataset_reference_to_missing_dataset_is_a_400_on_the_field(api):
    code, body = await api.call(
        "POST", "process", {"type": "fft", "parameters": {"signal": "dataset:999"}}
    )
    assert code == 400
    assert body["error"]["details"][0]["path"] == "/parameters/signal"
    code, body = await api.call(
        "POST", "process", {"type": "fft", "parameters": {"signal": "not-a-reference"}}
    )
    assert code == 400
    assert body["error"]["details"][0]["path"] == "/parameters/signal"


async def test_inputs_must_come_from_the_process_project(api):
    _, signal = await _signal(api)
    other = await api.post("projects", {"name": "elsewhere"})
    code, body = await api.call(
        "POST",
        "process",
        {
            "type": "fft",
            "project": other["id"],
            "parameters": {"signal": f"dataset:{signal['id']}"},
        },
    )
    assert code == 400
    assert body["error"]["details"][0]["path"] == "/parameters/signal"


async def test_upload_becomes_a_dataset_usable_as_input(api):
    _, signal = await _signal(api)
    _, data = await api.call("GET", f"dataset/{signal['id']}")
    project = (await api.get("projects"))["items"][0]["id"]
    uploaded = await api.post(
        "dataset",
        data,
        headers={"Content-Type": "application/x-netcdf"},
        project=project,
        name="field/recording.nc",
    )
    assert re.fullmatch(rf"{project}/uploads/\d+-[0-9a-f]+/field/recording\.nc", uploaded["key"])
    assert uploaded["name"] == "field/recording.nc"
    assert uploaded["size"] == len(data) and uploaded["process"] is None
    code, same = await api.call("GET", f"dataset/{uploaded['id']}")
    assert same == data
    created = await api.submit("fft", {"signal": f"dataset:{uploaded['id']}"})
    assert (await api.wait(created["id"]))["state"] == "completed"
    code, body = await api.call("POST", "dataset", data, project=project, name="field/recording.nc")
    assert code == 409 and body["error"]["details"] == {"name": "field/recording.nc"}


async def test_upload_names_cannot_escape_the_uploads_prefix(api):
    project = (await api.get("projects"))["items"][0]["id"]
    for name in ("../x", "/etc/passwd", "a/../../b", ""):
        code, body = await api.call("POST", "dataset", b"x", project=project, name=name)
        assert code == 400, name
        assert body["error"]["details"][0]["path"] == "/name"


async def test_unknown_dataset_is_404(api):
    code, body = await api.call("GET", "dataset/12345")
    assert code == 404 and body["error"]["code"] == "not_found"
    code, _ = await api.call("GET", "dataset/12345/meta")
    assert code == 404


async def _upload(api, name: str, data: bytes = b"a,b\n1,2\n", **headers: str) -> tuple[int, dict]:
    project = (await api.get("projects"))["items"][0]["id"]
    headers = headers or {"Content-Type": "text/csv"}
    return await api.call("POST", "dataset", data, headers=headers, project=project, name=name)


async def test_a_range_the_server_does_not_serve_is_ignored_for_the_whole_file(api):
    data = b"0123456789"
    code, dataset = await _upload(api, "digits.txt", data)
    assert code == 201, dataset
    for header in ("bytes=0-1,4-5", "items=0-1", "bytes=a-b", "bytes=5-2", f"bytes={'9' * 30}-"):
        response = await api.fetch("GET", f"dataset/{dataset['id']}", headers={"Range": header})
        assert (response.code, response.body) == (200, data), header
    code, body = await api.call("GET", f"dataset/{dataset['id']}", headers={"Range": "bytes=-0"})
    assert code == 416 and body["error"]["code"] == "range_not_satisfiable"


async def test_any_upload_name_downloads_with_a_well_formed_content_disposition(api):
    for name in ("café €.txt", 'say "hi".txt', "line\nbreak.txt"):
        code, dataset = await _upload(api, f"names/{name}")
        assert code == 201, dataset
        response = await api.fetch("GET", f"dataset/{dataset['id']}")
        assert response.code == 200, name
        disposition = response.headers["Content-Disposition"]
        assert disposition.isascii() and disposition.isprintable(), disposition
        assert unquote(disposition.split("filename*=UTF-8''")[1]) == name


async def test_an_upload_name_with_a_segment_over_255_bytes_is_400(api):
    for name in ("é" * 128 + ".txt", "short/" + "b" * 256):
        code, body = await _upload(api, name)
        assert code == 400 and body["error"]["details"][0]["path"] == "/name", body
    code, body = await _upload(api, "a" * 255)
    assert code == 201, body


async def test_an_upload_whose_content_type_is_no_media_type_is_400(api):
    for content_type in (";charset=utf-8", "text", "a" * 300 + "/b", "text/csv, text/plain"):
        code, body = await _upload(api, "odd.csv", **{"Content-Type": content_type})
        assert code == 400, (content_type, body)
        assert body["error"]["details"][0]["path"] == "/Content-Type"
    code, body = await _upload(api, "fine.csv", **{"Content-Type": "text/csv; charset=utf-8"})
    assert code == 201 and body["mime_type"] == "text/csv", body
