"""Zarr stores on S3 storage, as on file storage: an uploaded store's objects land under
its prefix in the bucket, it is described and plotted from there, and it downloads as
a ZIP archive of exactly those objects."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import xarray as xr

from nagelfluh_lab.db.session import Database
from nagelfluh_lab.services import access
from nagelfluh_lab.services.datasets import DatasetService
from nagelfluh_lab.services.views import ViewRequest


def _store_archive(tmp_path) -> bytes:
    grid = np.arange(12.0).reshape(3, 4)
    ds = xr.Dataset(
        {"g": (("y", "x"), grid, {"units": "mGal"})},
        coords={"y": ("y", [0.0, 1.0, 2.0], {"units": "km"})},
    )
    ds.to_zarr(tmp_path / "grid.zarr", consolidated=False)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for path in sorted((tmp_path / "grid.zarr").rglob("*")):
            if path.is_file():
                archive.write(
                    path, "grid.zarr/" + path.relative_to(tmp_path / "grid.zarr").as_posix()
                )
    return out.getvalue()


async def test_a_zarr_store_uploads_plots_and_downloads_on_s3(account, tmp_path):
    storage = account.storage()
    db = Database(f"sqlite:///{tmp_path / 'nagelfluh.db'}")
    service = DatasetService(db, storage)
    [project] = db.run_sync(lambda s: access.project_ids(s, access.ensure_user(s, "ada")))

    created = await service.upload(
        "ada",
        str(project),
        "grid.zarr",
        "application/zip",
        io.BytesIO(_store_archive(tmp_path)),
        2**30,
    )

    keys = storage.list(created["key"])
    assert created["key"].endswith("/grid.zarr/") and f"{created['key']}zarr.json" in keys
    assert created["size"] == sum(storage.size(k) for k in keys)
    meta = await service.meta("ada", str(created["id"]))
    assert meta["units"] == {"y": "km", "g": "mGal"}
    grid = await service.view(
        "ada", str(created["id"]), ViewRequest(None, [], 500, None, None, z="g")
    )
    assert grid["z"]["values"] == [
        [0.0, 1.0, 2.0, 3.0],
        [4.0, 5.0, 6.0, 7.0],
        [8.0, 9.0, 10.0, 11.0],
    ]
    file = await service.file("ada", str(created["id"]))
    archive = service.open(file, 0, file.size)
    with zipfile.ZipFile(io.BytesIO(archive.read())) as downloaded:
        assert sorted(downloaded.namelist()) == sorted(
            "grid.zarr/" + k[len(created["key"]) :] for k in keys
        )
        assert downloaded.read("grid.zarr/zarr.json") == storage.read_bytes(
            created["key"] + "zarr.json"
        )
