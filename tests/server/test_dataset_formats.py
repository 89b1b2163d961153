"""Reading and describing datasets: NetCDF-3, NetCDF-4/HDF5 and CSV uploads are
described (variables, units, dims) and viewable; anything else, damaged or not,
stays an opaque file whose view is a 400 — never a server error."""

from __future__ import annotations

import mimetypes
import random

import numpy as np
import pytest
import xarray as xr
from nagelfluh_runner.datasets import HDF5_MAGIC
from nagelfluh_runner.netcdf import write_netcdf

from nagelfluh_lab.errors import ApiError
from nagelfluh_lab.services import formats, views
from nagelfluh_lab.services.views import ViewRequest


def _dataset() -> xr.Dataset:
    time = np.arange(200) * 0.5
    return xr.Dataset(
        {
            "amplitude": ("time", np.sin(time), {"units": "mm/s", "long_name": "Amplitude"}),
            "depth": (("time", "layer"), np.ones((200, 4)), {"units": "m"}),
        },
        coords={"time": ("time", time, {"units": "s"}), "layer": ("layer", np.arange(4.0))},
    )


def _netcdf4() -> bytes:
    return bytes(_dataset().to_netcdf(engine="h5netcdf"))


def _netcdf3() -> bytes:
    return bytes(_dataset().to_netcdf(engine="scipy"))


def _runner_netcdf3() -> bytes:
    import io

    handle = io.BytesIO()
    ds = _dataset()
    write_netcdf(
        handle,
        dict(ds.sizes),
        {n: (v.dims, v.values, dict(v.attrs)) for n, v in ds.variables.items()},
        {},
    )
    return handle.getvalue()


async def _project(api) -> int:
    return (await api.get("projects"))["items"][0]["id"]


async def _upload(api, name: str, data: bytes) -> dict:
    """``data`` uploaded with the MIME type its name suggests, as a browser sends it."""
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return await api.post(
        "dataset",
        data,
        project=await _project(api),
        name=name,
        headers={"Content-Type": content_type},
    )


def _by_name(described: list[dict]) -> dict[str, dict]:
    return {v["name"]: v for v in described}


# ------------------------------------------------------------------ the reader


def test_netcdf3_and_netcdf4_are_described_alike():
    for raw, kind in ((_netcdf3(), "netcdf3"), (_netcdf4(), "netcdf4")):
        described = formats.describe_bytes(raw)
        assert described["format"] == kind
        assert described["dims"] == {"time": 200, "layer": 4}
        variables = _by_name(described["variables"])
        assert variables["amplitude"] == {
            "name": "amplitude",
            "units": "mm/s",
            "long_name": "Amplitude",
            "dims": ["time"],
            "shape": [200],
            "dtype": "float64",
        }
        assert variables["depth"]["dims"] == ["time", "layer"]
        assert variables["time"]["units"] == "s" and variables["layer"]["units"] is None


def test_csv_units_come_from_the_header_or_a_units_row():
    bracketed = formats.describe_bytes(b"time [s],speed [m/s]\n0,1.5\n1,2.5\n", "text/csv")
    units_row = formats.describe_bytes(b"time,speed,site\ns,m/s,-\n0,1.5,a\n1,2.5,b\n", "", "a.csv")
    plain = formats.describe_bytes(b"time,speed\n0,1.5\n1,2.5\n", "", "plain.csv")
    assert [(v["name"], v["units"]) for v in bracketed["variables"]] == [
        ("time", "s"),
        ("speed", "m/s"),
    ]
    assert [(v["name"], v["units"], v["dtype"]) for v in units_row["variables"]] == [
        ("time", "s", "int64"),
        ("speed", "m/s", "float64"),
        ("site", "-", "string"),
    ]
    assert bracketed["dims"] == units_row["dims"] == plain["dims"] == {"row": 2}
    assert [v["units"] for v in plain["variables"]] == [None, None]


@pytest.mark.parametrize(
    ("raw", "mime_type", "name"),
    [
        (b"", "application/x-netcdf", "empty.nc"),
        (b"", "text/csv", "empty.csv"),
        (b"\x00\xffgarbage" * 10, "application/octet-stream", "garbage.bin"),
        (b"a,b\n1,2\n", "text/plain", "notes.txt"),  # text is CSV only by its type or name
        (b"CDF\x01" + bytes(40), "", "zeros.nc"),
        (HDF5_MAGIC + bytes(100), "", "fake.h5"),
        (b"\n\n", "text/csv", "blank.csv"),
        (b"a,a\n1,2\n", "text/csv", "same.csv"),
    ],
)
def test_unreadable_files_raise_the_one_error(raw, mime_type, name):
    with pytest.raises(formats.FormatError):
        formats.describe_bytes(raw, mime_type, name)


def _mutations(raw: bytes, rng: random.Random, count: int) -> list[bytes]:
    """Truncations, byte flips and both, of ``raw``."""
    cases = []
    for i in range(count):
        data = bytearray(raw)
        if i % 3 != 1:
            data = data[: rng.randrange(len(data))]
        if i % 3 != 0 and data:
            for _ in range(rng.choice((1, 1, 2, 8))):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        cases.append(bytes(data))
    return cases


SOURCES = {"netcdf3": _netcdf3, "netcdf4": _netcdf4, "runner-netcdf3": _runner_netcdf3}


# h5netcdf's File.__del__ trips over a file it failed to open (it is already our FormatError).
H5NETCDF_DEL = pytest.mark.filterwarnings(
    "ignore:Exception ignored in.*File.close:pytest.PytestUnraisableExceptionWarning"
)


@H5NETCDF_DEL
@pytest.mark.parametrize("source", SOURCES)
def test_damaged_files_fail_only_with_the_format_error(source):
    rng = random.Random(f"formats-{source}")
    raw = SOURCES[source]()
    readable = 0
    for case in _mutations(raw, rng, 150):
        try:
            described = formats.describe_bytes(case)
        except formats.FormatError:
            continue
        readable += 1
        assert isinstance(described["variables"], list)
        for request in (
            ViewRequest(None, [], 500, None, None),
            ViewRequest(None, [], 500, None, None, z="depth"),
        ):
            try:
                views.view(formats.read(case), request)
            except ApiError as error:
                assert error.status == 400, error
    assert readable < 150  # the mutations do damage


# ------------------------------------------------------------------ through the API


async def test_an_xarray_netcdf4_upload_is_described_and_viewed(api):
    uploaded = await _upload(api, "survey/profile.nc", _netcdf4())
    assert uploaded["mime_type"] == "application/x-netcdf"
    meta = await api.get(f"dataset/{uploaded['id']}/meta")
    assert meta["dims"] == {"time": 200, "layer": 4}
    assert meta["units"] == {"time": "s", "layer": None, "amplitude": "mm/s", "depth": "m"}
    assert meta["metadata"]["format"] == "netcdf4"
    assert _by_name(meta["variables"])["amplitude"]["long_name"] == "Amplitude"
    view = await api.get(f"dataset/{uploaded['id']}/view", y="amplitude", points=50)
    assert view["x"]["name"] == "time" and view["x"]["units"] == "s"
    assert view["y"][0]["units"] == "mm/s" and view["total"] == 200 and view["decimated"]
    grid = await api.get(f"dataset/{uploaded['id']}/view", z="depth")
    assert grid["dims"] == ["time", "layer"] and grid["z"]["units"] == "m"
    listed = await api.get("dataset", project=await _project(api))
    assert any(d["id"] == uploaded["id"] and d["variables"] for d in listed["items"])


async def test_a_csv_upload_with_units_is_described_and_viewed(api):
    data = b"time [s],speed [m/s]\n" + b"".join(f"{i},{i * 0.5}\n".encode() for i in range(100))
    uploaded = await _upload(api, "speeds.csv", data)
    meta = await api.get(f"dataset/{uploaded['id']}/meta")
    assert meta["units"] == {"time": "s", "speed": "m/s"} and meta["dims"] == {"row": 100}
    view = await api.get(f"dataset/{uploaded['id']}/view", x="time", y="speed")
    assert view["x"]["units"] == "s" and view["y"][0]["values"][-1] == 49.5


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("empty.nc", b""),
        ("garbage.nc", b"\x89PNG\r\n\x1a\n not a dataset at all"),
        ("cut.nc", _netcdf4()[:2000]),
        ("empty.csv", b""),
    ],
)
async def test_empty_and_garbage_uploads_stay_opaque_and_have_no_view(api, name, data):
    uploaded = await _upload(api, name, data)
    meta = await api.get(f"dataset/{uploaded['id']}/meta")
    assert meta["variables"] == [] and meta["dims"] == {}
    assert meta["metadata"]["not_described"]
    code, body = await api.call("GET", f"dataset/{uploaded['id']}/view")
    assert code == 400, body
    assert "not a readable NetCDF/CSV file" in body["error"]["message"]
    assert name in body["error"]["message"]


@H5NETCDF_DEL
async def test_damaged_uploads_are_never_a_server_error(api):
    rng = random.Random("formats-api")
    cases = [
        (f"{kind}-{i}.nc", case)
        for kind, make in (("nc3", _netcdf3), ("nc4", _netcdf4))
        for i, case in enumerate(_mutations(make(), rng, 20))
    ]
    for name, case in cases:
        uploaded = await _upload(api, name, case)
        meta = await api.get(f"dataset/{uploaded['id']}/meta")
        assert bool(meta["variables"]) != ("not_described" in meta["metadata"])
        for params in ({}, {"z": "depth"}, {"y": "amplitude", "points": 10}):
            code, body = await api.call("GET", f"dataset/{uploaded['id']}/view", **params)
            assert code in (200, 400), (name, params, code, body)


async def test_uploads_stored_before_uploads_were_described_are_described_at_start(
        api, jp_serverapp):
    from nagelfluh_lab.db.models import Dataset

    kept = await _upload(api, "survey/profile.nc", _netcdf4())
    opaque = await _upload(api, "notes.txt", b"field notes")
    app = next(iter(jp_serverapp.extension_manager.extension_apps["nagelfluh_lab"]))

    def as_before(session) -> None:  # what an upload of an older server stored
        for dataset_id in (kept["id"], opaque["id"]):
            session.get(Dataset, dataset_id).meta = {"metadata": {"uploaded_by": "tester"}}

    await app.database.run(as_before)

    assert await app.datasets.describe_old_uploads() == 2
    assert await app.datasets.describe_old_uploads() == 0

    meta = await api.get(f"dataset/{kept['id']}/meta")
    assert meta["dims"] == {"time": 200, "layer": 4}
    assert meta["metadata"] == {"uploaded_by": "tester", "format": "netcdf4"}
    notes = await api.get(f"dataset/{opaque['id']}/meta")
    assert notes["variables"] == [] and "not_described" in notes["metadata"]
