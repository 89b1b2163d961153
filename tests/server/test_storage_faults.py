"""Storage that is full or read-only, for real: a 1 MiB tmpfs mounted as the server's
storage. Uploads answer 507 or 503 naming the cause and leave nothing behind; a run
that cannot write its outputs fails with ``reason: storage``."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.server.conftest import stored_files

SIZE = 2**20


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


@pytest.fixture
def small_storage(tmp_path):
    """The conftest's storage dir, as a filesystem of 1 MiB (mounting needs root, as CI)."""
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("CI runs as root and must run the storage fault tests")
        pytest.skip("mounting a small filesystem needs root")
    path = tmp_path / "storage"
    path.mkdir()
    _mount("-t", "tmpfs", "-o", f"size={SIZE},mode=0755", "tmpfs", str(path))
    yield path
    subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.fixture
def jp_server_config(small_storage, jp_server_config):
    return jp_server_config


async def test_an_upload_to_full_storage_is_507_and_leaves_nothing_behind(api, small_storage):
    code, body = await api.call("POST", "dataset", os.urandom(2 * SIZE), project=1, name="a.bin")

    assert code == 507, body
    assert body["error"]["code"] == "insufficient_storage"
    assert "storage is full" in body["error"]["message"]
    assert (await api.get("dataset"))["items"] == []
    assert stored_files(small_storage) == []
    small = await api.post("dataset", b"fits", project=1, name="a.bin")
    assert small["size"] == 4  # the name was not taken by the failed attempt


async def test_an_upload_to_read_only_storage_is_503_naming_the_cause(api, small_storage):
    _mount("-o", "remount,ro", str(small_storage))

    response = await api.fetch("POST", "dataset", b"data", project=1, name="a.bin")

    assert response.code == 503
    assert b"storage_unavailable" in response.body and b"Read-only" in response.body
    assert int(response.headers["Retry-After"]) >= 1
    assert (await api.get("dataset"))["items"] == []


async def test_a_run_that_cannot_write_its_output_fails_with_reason_storage(api, small_storage):
    created = await api.submit("synthetic-signal", {"duration": 1000, "sample_rate": 1000})

    done = await api.wait(created["id"])

    assert (done["state"], done["reason"]) == ("failed", "storage"), done
    assert "Storage would not take an output" in done["message"]
    lines = [line["line"] for line in
             (await api.get(f"process/{created['id']}/versions/1/logs"))["items"]]
    assert any("No space left on device" in line for line in lines), lines
    prefix = f"{created['project']}/processes/{created['id']}/v1/"
    assert all(path.startswith(prefix) for path in stored_files(small_storage))
    assert done["outputs"] == []


async def test_a_dataset_whose_bytes_left_storage_is_404_naming_the_key(api, small_storage):
    uploaded = await api.post("dataset", b"soon gone", project=1, name="gone.bin")
    (small_storage / uploaded["key"]).unlink()

    for path in (f"dataset/{uploaded['id']}", f"dataset/{uploaded['id']}/view"):
        code, body = await api.call("GET", path)
        assert code == 404, (path, body)
        assert uploaded["key"] in body["error"]["message"]
