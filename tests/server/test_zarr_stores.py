"""Zarr stores as datasets through the API: a ZIP archive of a store's folder uploads
as a store (unpacked into storage, described with its units), downloads back as a
ZIP archive, plots as any dataset; a hostile archive stores nothing; a damaged store
is opaque, never a server error."""

from __future__ import annotations

import hashlib
import io
import random
import zipfile
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from nagelfluh_runner.datasets import read_zarr
from nagelfluh_runner.stores import store_digest

from nagelfluh_lab.errors import ApiError
from nagelfluh_lab.services import formats, views
from nagelfluh_lab.services.views import ViewRequest

from .conftest import stored_files

ZIP = {"Content-Type": "application/zip"}


def _model() -> xr.Dataset:
    """A density model on a depth x position grid, as the inversion makes."""
    depth = np.linspace(0.0, 900.0, 10)
    position = np.linspace(0.0, 5000.0, 25)
    density = np.sin(depth[:, None] / 300.0) * np.cos(position[None, :] / 1000.0) * 50.0
    return xr.Dataset(
        {"density_contrast": (("depth", "position"), density, {"units": "kg m-3"})},
        coords={
            "depth": ("depth", depth, {"units": "m"}),
            "position": ("position", position, {"units": "m"}),
        },
    )


def _store(tmp_path: Path, name: str = "model.zarr", zarr_format: int = 3) -> Path:
    folder = tmp_path / "made" / name
    _model().to_zarr(folder, zarr_format=zarr_format, consolidated=False)
    return folder


def _zip(folder: Path, top: str | None = None) -> bytes:
    """The folder's files as a ZIP archive, under ``top/`` (default: the folder's name)."""
    top = folder.name if top is None else top
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                relative = path.relative_to(folder).as_posix()
                archive.write(path, f"{top}/{relative}" if top else relative)
    return out.getvalue()


def _archive(members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return out.getvalue()


async def _project(api) -> int:
    return (await api.get("projects"))["items"][0]["id"]


async def _upload(api, name: str, body: bytes, expect: int = 201) -> dict:
    return await api.post(
        "dataset", body, expect=expect, project=await _project(api), name=name, headers=ZIP
    )


def _uploads(tmp_path: Path) -> list[str]:
    root = tmp_path / "storage"
    return [f for f in stored_files(root) if "/uploads/" in f] if root.exists() else []


async def test_a_zipped_zarr_folder_uploads_as_a_store_described_with_its_units(api, tmp_path):
    folder = _store(tmp_path)

    uploaded = await _upload(api, "model.zarr", _zip(folder))

    assert uploaded["mime_type"] == "application/x-zarr"
    assert uploaded["key"].endswith("/model.zarr/")
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    assert uploaded["size"] == sum(p.stat().st_size for p in files)
    listing = [
        (p.relative_to(folder).as_posix(), len(data), hashlib.sha256(data).hexdigest())
        for p in files
        for data in [p.read_bytes()]
    ]
    assert uploaded["digest"] == store_digest(listing)
    meta = await api.get(f"dataset/{uploaded['id']}/meta")
    assert meta["dims"] == {"depth": 10, "position": 25}
    assert meta["units"] == {"depth": "m", "position": "m", "density_contrast": "kg m-3"}
    assert meta["metadata"]["format"] == "zarr"
    assert meta["metadata"]["objects"] == len(files)


async def test_a_zarr_v2_archive_with_its_store_at_the_top_uploads_too(api, tmp_path):
    uploaded = await _upload(api, "v2.zarr", _zip(_store(tmp_path, "v2.zarr", 2), top=""))

    meta = await api.get(f"dataset/{uploaded['id']}/meta")
    assert meta["metadata"]["format"] == "zarr"
    assert meta["units"]["density_contrast"] == "kg m-3"


async def test_a_stores_download_is_a_zip_archive_that_opens_as_the_same_dataset(api, tmp_path):
    uploaded = await _upload(api, "model.zarr", _zip(_store(tmp_path)))

    response = await api.fetch("GET", f"dataset/{uploaded['id']}")

    assert response.code == 200
    assert response.headers["Content-Type"] == "application/zip"
    assert 'filename="model.zarr.zip"' in response.headers["Content-Disposition"]
    target = tmp_path / "downloaded"
    with zipfile.ZipFile(io.BytesIO(response.body)) as archive:
        assert all(n.startswith("model.zarr/") for n in archive.namelist())
        archive.extractall(target)
    xr.testing.assert_identical(read_zarr(str(target / "model.zarr")), _model())


async def test_a_range_request_for_a_store_gets_the_whole_archive(api, tmp_path):
    uploaded = await _upload(api, "model.zarr", _zip(_store(tmp_path)))

    response = await api.fetch("GET", f"dataset/{uploaded['id']}", headers={"Range": "bytes=0-9"})

    assert response.code == 200 and response.headers["Accept-Ranges"] == "none"
    assert zipfile.ZipFile(io.BytesIO(response.body)).testzip() is None


async def test_a_store_plots_as_a_heatmap_with_its_units(api, tmp_path):
    uploaded = await _upload(api, "model.zarr", _zip(_store(tmp_path)))

    grid = await api.get(f"dataset/{uploaded['id']}/view", z="density_contrast")

    assert (grid["x"]["name"], grid["y"]["name"]) == ("position", "depth")
    assert grid["z"]["units"] == "kg m-3"
    assert len(grid["z"]["values"]) == 10 and len(grid["z"]["values"][0]) == 25


async def test_a_zip_archive_that_holds_no_zarr_store_is_kept_as_an_opaque_file(api):
    body = _archive({"notes/readme.txt": b"field notes"})

    uploaded = await _upload(api, "notes.zip", body)

    assert (uploaded["mime_type"], uploaded["key"][-1]) == ("application/zip", "p")
    code, got = await api.call("GET", f"dataset/{uploaded['id']}")
    assert (code, got) == (200, body)
    meta = await api.get(f"dataset/{uploaded['id']}/meta")
    assert meta["variables"] == [] and "not_described" in meta["metadata"]


HOSTILE = {
    "a member climbing out with ..": (
        {"m.zarr/zarr.json": b"{}", "m.zarr/../../../escape": b"x"}, "'..' segment"),
    "an absolute member path": (
        {"zarr.json": b"{}", "/etc/cron.d/evil": b"x"}, "is absolute"),
    "a member given twice": (
        {"zarr.json": b"{}", "a//b": b"1", "a/b": b"2"}, "twice"),
}


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
async def test_a_hostile_store_archive_is_a_400_naming_the_body_and_stores_nothing(
        api, tmp_path, case):
    members, said = HOSTILE[case]

    error = await _upload(api, "m.zarr", _archive(members), expect=400)

    assert error["error"]["details"][0]["path"] == "/body", error
    assert said in error["error"]["message"], error
    assert _uploads(tmp_path) == []
    assert (await api.get("dataset"))["items"] == []
    assert not (tmp_path / "escape").exists()


async def test_a_damaged_member_is_a_400_and_stores_nothing(api, tmp_path):
    body = bytearray(_archive({"zarr.json": b"{}", "c/0": b"chunk-bytes" * 100}))
    at = body.index(b"chunk-bytes")
    body[at : at + 4] = b"XXXX"  # the member no longer matches its CRC-32

    error = await _upload(api, "m.zarr", bytes(body), expect=400)

    assert "does not unpack" in error["error"]["message"], error
    assert _uploads(tmp_path) == []


@pytest.mark.parametrize("nagelfluh_config", [{"max_upload_bytes": 64 * 1024}])
async def test_an_archive_unpacking_past_the_upload_limit_is_a_400_and_stores_nothing(
        api, tmp_path):
    bomb = _archive({"zarr.json": b"{}", "c/0": bytes(10 * 2**20)}, zipfile.ZIP_DEFLATED)
    assert len(bomb) < 64 * 1024

    error = await _upload(api, "m.zarr", bomb, expect=400)

    assert "unpacks to over 65536 bytes" in error["error"]["message"], error
    assert _uploads(tmp_path) == []


async def test_a_second_store_of_the_same_name_is_a_conflict_and_the_first_stays(api, tmp_path):
    body = _zip(_store(tmp_path))
    first = await _upload(api, "model.zarr", body)

    await _upload(api, "model.zarr", body, expect=409)

    assert [d["id"] for d in (await api.get("dataset"))["items"]] == [first["id"]]
    stored = [f for f in _uploads(tmp_path) if "/model.zarr/" in f]
    assert len(stored) == (await api.get(f"dataset/{first['id']}/meta"))["metadata"]["objects"]


async def test_the_start_up_sweep_keeps_a_registered_store(api, jp_serverapp, tmp_path):
    uploaded = await _upload(api, "model.zarr", _zip(_store(tmp_path)))
    before = _uploads(tmp_path)

    app = next(iter(jp_serverapp.extension_manager.extension_apps["nagelfluh_lab"]))
    removed = await app.datasets.sweep_uploads(grace=-1e9)

    assert removed == 0 and _uploads(tmp_path) == before
    assert (await api.get(f"dataset/{uploaded['id']}/view", z="density_contrast"))["z"]


def _damaged_stores(tmp_path: Path, rng: random.Random, count: int):
    """Copies of a Zarr store with one object truncated, overwritten, emptied or gone."""
    folder = _store(tmp_path)
    objects = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    for n in range(count):
        members = {name: (folder / name).read_bytes() for name in objects}
        victim = rng.choice(objects)
        data = bytearray(members[victim])
        match rng.randrange(4):
            case 0:
                members[victim] = bytes(data[: rng.randrange(max(1, len(data)))])
            case 1:
                for _ in range(rng.randint(1, 8)):
                    data[rng.randrange(len(data))] = rng.randrange(256)
                members[victim] = bytes(data)
            case 2:
                members[victim] = b""
            case _:
                del members[victim]
        yield n, members


def test_damaged_stores_fail_only_with_the_format_error(tmp_path):
    from nagelfluh_runner.storage import FileStorage

    storage = FileStorage((tmp_path / "storage").as_uri())
    rng = random.Random("zarr-stores")
    readable = 0
    for n, members in _damaged_stores(tmp_path, rng, 120):
        prefix = f"damaged/{n}/m.zarr/"
        for name, data in members.items():
            storage.write_bytes(prefix + name, data)
        try:
            described = formats.describe_store(storage, prefix)
        except formats.FormatError:
            continue
        readable += 1
        assert isinstance(described["variables"], list)
        data = formats.read_store(storage, prefix)
        for request in (ViewRequest(None, [], 500, None, None),
                        ViewRequest(None, [], 500, None, None, z="density_contrast")):
            try:
                views.view(data, request)
            except ApiError as error:
                assert error.status == 400, error
    assert readable < 120  # the damage shows


async def test_viewing_a_store_whose_objects_are_gone_is_a_400_not_a_500(api, tmp_path):
    uploaded = await _upload(api, "model.zarr", _zip(_store(tmp_path)))
    for path in (tmp_path / "storage").rglob("zarr.json"):
        path.unlink()

    code, body = await api.call("GET", f"dataset/{uploaded['id']}/view", z="density_contrast")

    assert code == 400 and "not a readable" in body["error"]["message"], body
