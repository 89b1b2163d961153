"""A real Jupyter server killed with SIGKILL while it stores what it was given — an
upload received but not yet registered, a run's outputs half registered — then started
again on the same database and storage: nothing is half done, nothing is lost, nothing
is registered twice."""

from __future__ import annotations

import io
import os
import signal
import sqlite3
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import requests
import xarray as xr

from tests.server.test_many_outputs import PROGRAM as MANY_OUTPUTS
from tests.servers import Server, running_server

# One server on this storage: what it left unregistered is swept at its next start.
SOLE_SERVER = {"upload_sweep_grace_seconds": 0.0}


def _wait(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _get(server: Server, path: str, **params: object) -> dict:
    response = requests.get(server.api_url + path, params=params, headers=server.headers,
                            timeout=30)
    response.raise_for_status()
    return response.json()


def _upload(server: Server, project: int, name: str, body: bytes, kind: str) -> requests.Response:
    return requests.post(
        server.api_url + "dataset",
        params={"project": project, "name": name},
        data=body,
        headers={**server.headers, "Content-Type": kind},
        timeout=120,
    )


def _big_csv() -> bytes:
    """A survey CSV whose description (pandas) keeps the server busy for a second or so
    after its bytes are stored."""
    rows = np.random.default_rng(7).normal(size=(1_000_000, 2))
    lines = [f"{i},{h:.4f},{g:.4f}" for i, (h, g) in enumerate(rows)]
    return ("station,height [m],anomaly [mGal]\n" + "\n".join(lines)).encode()


def _many_chunk_store() -> bytes:
    """A ZIP archive of a Zarr store of ~2,000 small chunks, unpacked one object at a time."""
    grid = np.random.default_rng(7).normal(size=(450, 450))
    ds = xr.Dataset({"g": (("y", "x"), grid, {"units": "mGal"})})
    out = io.BytesIO()
    with tempfile.TemporaryDirectory() as folder, zipfile.ZipFile(out, "w") as archive:
        ds.to_zarr(folder, encoding={"g": {"chunks": (10, 10)}}, consolidated=False)
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file():
                archive.write(path, "grid.zarr/" + path.relative_to(folder).as_posix())
    return out.getvalue()


UPLOADS = {
    # killed once the bytes are stored, while the server reads them to describe them
    "a CSV being described": ("survey.csv", _big_csv, "text/csv", "/survey.csv"),
    # killed once some of the store's objects are stored, the others not yet
    "a Zarr store being unpacked": ("grid.zarr", _many_chunk_store, "application/zip",
                                    "/grid.zarr/"),
}


def _stored_uploads(root: Path) -> list[str]:
    uploads = root / "storage"
    return sorted(
        os.path.relpath(os.path.join(folder, name), uploads)
        for folder, _, names in os.walk(uploads)
        for name in names
        if "/uploads/" in folder + "/"
    )


@pytest.mark.parametrize("case", UPLOADS, ids=list(UPLOADS))
def test_kill_9_mid_upload_leaves_nothing_half_stored_and_keeps_what_was_registered(
        tmp_path: Path, case: str) -> None:
    name, make, kind, marker = UPLOADS[case]
    body = make()
    with running_server(tmp_path, **SOLE_SERVER) as first:
        project = _get(first, "projects")["items"][0]["id"]
        kept = _upload(first, project, "kept.txt", b"registered before the kill\n", "text/plain")
        assert kept.status_code == 201, kept.text
        kept_files = _stored_uploads(tmp_path)
        sender = threading.Thread(
            target=lambda: _ignore_errors(lambda: _upload(first, project, name, body, kind)),
            daemon=True,
        )
        sender.start()
        _wait(lambda: any(marker in f for f in _stored_uploads(tmp_path)), 60,
              f"the server to store part of {name}")
        os.kill(first.pid, signal.SIGKILL)  # no shutdown hook runs
        sender.join(30)
        left = _stored_uploads(tmp_path)
        assert set(left) > set(kept_files), "the kill left the upload half done"
        assert [d["name"] for d in _registered(tmp_path)] == ["kept.txt"]

    with running_server(tmp_path, **SOLE_SERVER) as second:
        _wait(lambda: _stored_uploads(tmp_path) == kept_files, 60,
              f"the start-up sweep (left: {_stored_uploads(tmp_path)})")
        [dataset] = _get(second, "dataset")["items"]
        got = requests.get(second.api_url + f"dataset/{dataset['id']}", headers=second.headers,
                           timeout=30)
        assert got.content == b"registered before the kill\n", got.text
        again = _upload(second, project, name, body, kind)
        assert again.status_code == 201, again.text  # the name was not taken by the wreck
        assert _get(second, f"dataset/{again.json()['id']}/meta")["variables"]


def _ignore_errors(call: Callable[[], object]) -> None:
    try:
        call()
    except requests.RequestException:
        pass  # the server was killed under it


def _registered(root: Path) -> list[dict]:
    with sqlite3.connect(f"file:{root / 'nagelfluh.db'}?mode=ro", uri=True) as db:
        return [{"name": n, "key": k} for n, k in db.execute("SELECT name, key FROM datasets")]


OUTPUTS = 20_000


def test_kill_9_while_outputs_are_registered_registers_each_once_at_the_next_start(
        tmp_path: Path) -> None:
    command = {"command": [sys.executable, "-c", MANY_OUTPUTS, str(OUTPUTS)]}
    with running_server(tmp_path, local_executor=command) as first:
        created = requests.post(
            first.api_url + "process",
            json={"type": "sleep", "parameters": {"seconds": 1},
                  "resources": {"deadline_seconds": 300}},
            headers=first.headers, timeout=30,
        )
        assert created.status_code == 201, created.text
        process = created.json()["id"]
        _wait(lambda: _registered(tmp_path), 240, "the first outputs registered")
        os.kill(first.pid, signal.SIGKILL)
    halfway = len(_registered(tmp_path))
    assert 0 < halfway < OUTPUTS, f"killed with {halfway} of {OUTPUTS} registered"

    with running_server(tmp_path, local_executor=command) as second:
        _wait(lambda: _get(second, f"process/{process}/versions/1")["state"] == "completed", 240,
              "the version completed by the next server")
        version = _get(second, f"process/{process}/versions/1")
    registered = _registered(tmp_path)
    assert version["output_count"] == OUTPUTS
    assert len(registered) == OUTPUTS
    assert len({d["key"] for d in registered}) == OUTPUTS, "no output registered twice"
    assert {d["name"] for d in registered} == {f"part-{i:05d}.txt" for i in range(OUTPUTS)}
