"""Uploads never corrupt a dataset: racing uploads of one name leave exactly the
winner's bytes, and a client that drops mid-upload leaves nothing held open."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time

from nagelfluh_lab.services.datasets import UPLOAD_GRACE_SECONDS
from tests.server.conftest import stored_files

CLIENTS = 8
MIB = 2**20


async def test_racing_uploads_of_one_name_store_exactly_the_winners_bytes(api, tmp_path):
    for round_ in range(4):
        contents = [os.urandom(4 * MIB) for _ in range(CLIENTS)]
        name = f"race-{round_}.bin"
        answers = await asyncio.gather(*(
            api.call("POST", "dataset", data, project=1, name=name) for data in contents))

        codes = sorted(code for code, _ in answers)
        assert codes == [201] + [409] * (CLIENTS - 1), codes
        [winner] = [body for code, body in answers if code == 201]
        index = [hashlib.sha256(c).hexdigest() for c in contents].index(
            winner["digest"].removeprefix("sha256:"))
        code, downloaded = await api.call("GET", f"dataset/{winner['id']}")
        assert code == 200 and downloaded == contents[index]
        assert winner["size"] == len(contents[index])
        stored = [path for path in stored_files(tmp_path / "storage") if path.endswith(name)]
        assert stored == [winner["key"]], "a loser's bytes were left in storage"


def _deleted_open_files() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").endswith("(deleted)")
        except OSError:
            pass
    return count


async def test_a_client_dropping_mid_upload_leaves_no_file_open_orstored_files(
        api, jp_base_url, jp_http_port, jp_auth_header, tmp_path):
    before = _deleted_open_files()
    path = f"{jp_base_url}nagelfluh/api/dataset?project=1&name=dropped.bin"
    for _ in range(3):
        _, writer = await asyncio.open_connection("127.0.0.1", jp_http_port)
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: localhost\r\nX-Test-User: tester\r\n"
            f"Authorization: {jp_auth_header['Authorization']}\r\n"
            f"Content-Length: {64 * MIB}\r\n\r\n".encode())
        writer.write(os.urandom(16 * MIB))  # past the in-memory part: a file on disk
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.close()  # 48 MiB short of what it announced
        await writer.wait_closed()

    deadline = time.monotonic() + 10
    while _deleted_open_files() > before and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert _deleted_open_files() <= before
    assert (await api.get("dataset"))["items"] == []
    assert not [p for p in stored_files(tmp_path / "storage") if "dropped" in p]



async def test_what_abandoned_uploads_left_is_swept_and_nothing_else(api, jp_serverapp, tmp_path):
    """A server killed mid-upload leaves a half-written file, or stored bytes it never
    registered; the sweep each start runs removes them once past the grace period,
    and never a registered upload or one another server may still be receiving."""
    kept = await api.post("dataset", b"registered", project=1, name="kept.bin")
    uploads = tmp_path / "storage" / "1" / "uploads"
    old = int(time.time() - 2 * UPLOAD_GRACE_SECONDS)
    abandoned = uploads / f"{old}-0a1b2c" / "abandoned.bin"
    recent = uploads / f"{int(time.time())}-3d4e5f" / "in-flight.bin"
    partial = uploads / f"{old}-6a7b8c" / ".nagelfluh-tmp-1-0123456789ab"
    for path in (abandoned, recent, partial):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"x" * 1000)
    os.utime(partial, (old, old))
    app = next(iter(jp_serverapp.extension_manager.extension_apps["nagelfluh_lab"]))

    assert await app.datasets.sweep_uploads() == 2

    assert not abandoned.exists() and not partial.exists()
    assert recent.exists()
    code, data = await api.call("GET", f"dataset/{kept['id']}")
    assert (code, data) == (200, b"registered")


async def test_the_start_up_sweep_never_takes_this_servers_own_upload_for_a_wreck(
        api, jp_serverapp, tmp_path):
    """Whatever the grace: the sweep reads what is registered, then lists storage, so an
    upload to this server that registers in between (or is still arriving) looked
    abandoned, and a registered upload lost its bytes (found by the kill -9 test)."""
    await api.post("dataset", b"registered", project=1, name="kept.bin")
    app = next(iter(jp_serverapp.extension_manager.extension_apps["nagelfluh_lab"]))
    uploads = tmp_path / "storage" / "1" / "uploads"
    started = app.datasets.created
    # Begun in the second the service was made, or after it: this server's own.
    own = [uploads / f"{int(started) + extra}-0a1b2{extra}" / "arriving.bin" for extra in (0, 1)]
    wreck = uploads / f"{int(started) - 1}-9f8e7d" / "wreck.bin"
    for path in (*own, wreck):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"x")

    assert await app.datasets.sweep_uploads(grace=-1e9, begun_before=started) == 1

    assert all(path.exists() for path in own) and not wreck.exists()
