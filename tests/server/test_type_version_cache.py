"""A result is never reused once its type's code changed: the type's version (by default
the digest of its module) is part of the cache key, and a server reads it when it starts.
A version waiting for identical work waits on across a restart of its server.

Against real ``jupyter server`` processes started twice on one database and storage,
whose Python finds a user's distribution of process types (made in tmp), as after a
``pip install``; the second start sees the module edited, or a declared version raised."""

from __future__ import annotations

import contextlib
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.servers import Server, running_server

MODULE = '''\
import time

from nagelfluh_runner import ProcessType


class Scale(ProcessType):
    name = "lab-scale"
    title = "Scale"
    description = "Writes its number times a factor."
    schema = {"type": "object", "properties": {
        "x": {"type": "number", "title": "x", "description": "The number.", "default": 1},
        "seconds": {"type": "number", "title": "Seconds", "description": "Time it takes.",
                    "default": 0}}}
    {version}

    def run(self, ctx, x, seconds):
        time.sleep(seconds)
        ctx.write_bytes("out.txt", str(x * {factor}).encode(), "text/plain")
'''


def _site(root: Path, factor: int, version: str = "") -> Path:
    site = root / "site"
    info = site / "lab_scale-1.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "entry_points.txt").write_text(
        "[nagelfluh.process_types]\nlab-scale = lab_scale:Scale\n"
    )
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lab-scale\nVersion: 1.0\n")
    declared = f"version = {version!r}" if version else ""
    module = MODULE.replace("{factor}", str(factor)).replace("{version}", declared)
    (site / "lab_scale.py").write_text(module)
    shutil.rmtree(site / "__pycache__", ignore_errors=True)  # an edit within its second
    for path in (site, info, *site.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return site


def _post(server: Server, seconds: float = 0) -> int:
    created = requests.post(
        server.api_url + "process",
        json={"type": "lab-scale", "parameters": {"x": 2, "seconds": seconds}},
        headers=server.headers,
        timeout=30,
    )
    assert created.status_code == 201, created.text
    return created.json()["id"]


def _until(server: Server, process: int, states: tuple[str, ...]) -> dict:
    path = server.api_url + f"process/{process}/versions/1"
    deadline = time.monotonic() + 60
    while (version := requests.get(path, headers=server.headers, timeout=30).json())[
        "state"
    ] not in states:
        assert time.monotonic() < deadline, version
        time.sleep(0.05)
    return version


def _submit(server: Server) -> dict:
    """Submit the same work, and its version once it has ended."""
    version = _until(server, _post(server), ("completed", "failed"))
    assert version["state"] == "completed", version
    return version


@contextlib.contextmanager
def _server(root: Path, site: Path, **executor: object) -> Iterator[Server]:
    """A server whose Python and runs find the distribution in ``site``."""
    command = ["/usr/bin/env", f"PYTHONPATH={site}", sys.executable, "-m", "nagelfluh_runner"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", str(site))
        with running_server(
            root / "server",
            local_executor={
                "command": [*command, "run"],
                "read_only_paths": [str(site)],
                **executor,
            },
        ) as server:
            yield server


def _twice(root: Path, before: tuple[int, str], after: tuple[int, str]) -> tuple[dict, dict]:
    """The same submission on a server with the type as ``before`` (factor, declared
    version), then on one started again with it as ``after``."""
    versions = []
    for factor, version in (before, after):
        with _server(root, _site(root, factor, version)) as server:
            versions.append(_submit(server))
    return versions[0], versions[1]


def test_changing_a_types_code_makes_its_old_results_stale(tmp_path):
    first, second = _twice(tmp_path, (3, ""), (5, ""))

    assert second["cached_from"] is None
    assert second["provenance"]["process_type"]["version"] != (
        first["provenance"]["process_type"]["version"]
    )
    assert second["provenance"]["cache"]["key"] != first["provenance"]["cache"]["key"]
    assert second["outputs"][0]["digest"] != first["outputs"][0]["digest"]


def test_a_type_edited_under_a_running_server_does_not_reuse_its_old_results(tmp_path):
    with _server(tmp_path, _site(tmp_path, 3)) as server:
        first = _submit(server)
        _site(tmp_path, 5)  # an editable install, edited: the next run imports the new code
        second = _submit(server)

    assert second["cached_from"] is None
    assert second["provenance"]["process_type"]["version"] != (
        first["provenance"]["process_type"]["version"]
    )
    assert second["outputs"][0]["digest"] != first["outputs"][0]["digest"]


def test_unchanged_code_reuses_results_across_server_restarts(tmp_path):
    first, second = _twice(tmp_path, (3, ""), (3, ""))

    assert second["cached_from"] == {"process": first["process"], "version": 1}


def test_a_declared_version_is_the_types_version_and_raising_it_misses(tmp_path):
    first, second = _twice(tmp_path, (3, "1"), (3, "2"))

    assert first["provenance"]["process_type"]["version"] == "1"
    assert second["cached_from"] is None


def test_a_version_waiting_for_identical_work_waits_on_across_a_server_restart(tmp_path):
    site = _site(tmp_path, 3)
    with _server(tmp_path, site, stop_runs_on_shutdown=False) as server:
        first = _post(server, seconds=6)
        _until(server, first, ("running",))
        second = _post(server, seconds=6)
        assert _until(server, second, ("queued",))["message"].startswith("Waiting for process")
    with _server(tmp_path, site) as server:  # the first run went on meanwhile
        reused = _until(server, second, ("completed", "failed"))
        ran = _until(server, first, ("completed", "failed"))

    assert ran["state"] == "completed" and ran["cached_from"] is None
    assert reused["cached_from"] == {"process": first, "version": 1}
    assert reused["outputs"][0]["digest"] == ran["outputs"][0]["digest"]


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("slow")
    with _server(root, _site(root, 3)) as server:
        yield server


def _cancel(server: Server, process: int) -> dict:
    response = requests.post(
        server.api_url + f"process/{process}/versions/1/cancel", headers=server.headers, timeout=60
    )
    assert response.status_code == 200, response.text
    return response.json()


def _log(server: Server, process: int) -> list[str]:
    response = requests.get(
        server.api_url + f"process/{process}/versions/1/logs", headers=server.headers, timeout=30
    )
    return [line["line"] for line in response.json()["items"]]


def test_a_version_waiting_for_identical_work_runs_itself_if_that_is_cancelled(slow_server):
    first = _post(slow_server, seconds=60)
    _until(slow_server, first, ("running",))
    second = _post(slow_server, seconds=60)
    assert _until(slow_server, second, ("queued",))["provenance"]["cache"]["status"] == "waiting"

    _cancel(slow_server, first)
    running = _until(slow_server, second, ("running", "completed", "failed"))

    assert running["state"] == "running" and running["cached_from"] is None
    assert running["provenance"]["cache"]["status"] == "miss"
    assert "which this one waited for, failed: running itself" in _log(slow_server, second)[1]
    _cancel(slow_server, second)


def test_a_version_waiting_for_identical_work_can_be_cancelled(slow_server):
    first = _post(slow_server, seconds=61)
    second = _post(slow_server, seconds=61)
    assert _until(slow_server, second, ("queued",))["provenance"]["cache"]["status"] == "waiting"

    cancelled = _cancel(slow_server, second)

    assert (cancelled["state"], cancelled["reason"]) == ("failed", "cancelled")
    assert _until(slow_server, first, ("running",))["cached_from"] is None
    _cancel(slow_server, first)
