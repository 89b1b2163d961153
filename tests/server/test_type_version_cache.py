"""A result is never reused once its type's code changed: the type's version (by default
the digest of its module) is part of the cache key, and a server reads it when it starts.

Against real ``jupyter server`` processes started twice on one database and storage,
whose Python finds a user's distribution of process types (made in tmp), as after a
``pip install``; the second start sees the module edited, or a declared version raised."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.servers import Server, running_server

MODULE = '''\
from nagelfluh_runner import ProcessType


class Scale(ProcessType):
    name = "lab-scale"
    title = "Scale"
    description = "Writes its number times a factor."
    schema = {"type": "object", "properties": {"x": {
        "type": "number", "title": "x", "description": "The number.", "default": 1}}}
    {version}

    def run(self, ctx, x):
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


def _submit(server: Server) -> dict:
    """Submit the same work, and its version once it has ended."""
    created = requests.post(
        server.api_url + "process",
        json={"type": "lab-scale", "parameters": {"x": 2}},
        headers=server.headers,
        timeout=30,
    )
    assert created.status_code == 201, created.text
    path = server.api_url + f"process/{created.json()['id']}/versions/1"
    deadline = time.monotonic() + 60
    while (version := requests.get(path, headers=server.headers, timeout=30).json())[
        "state"
    ] not in ("completed", "failed"):
        assert time.monotonic() < deadline, version
        time.sleep(0.05)
    assert version["state"] == "completed", version
    return version


def _twice(root: Path, before: tuple[int, str], after: tuple[int, str]) -> tuple[dict, dict]:
    """The same submission on a server with the type as ``before`` (factor, declared
    version), then on one started again with it as ``after``."""
    versions = []
    for factor, version in (before, after):
        site = _site(root, factor, version)
        command = ["/usr/bin/env", f"PYTHONPATH={site}", sys.executable, "-m", "nagelfluh_runner"]
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("PYTHONPATH", str(site))
            with running_server(
                root / "server",
                local_executor={"command": [*command, "run"], "read_only_paths": [str(site)]},
            ) as server:
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


def test_unchanged_code_reuses_results_across_server_restarts(tmp_path):
    first, second = _twice(tmp_path, (3, ""), (3, ""))

    assert second["cached_from"] == {"process": first["process"], "version": 1}


def test_a_declared_version_is_the_types_version_and_raising_it_misses(tmp_path):
    first, second = _twice(tmp_path, (3, "1"), (3, "2"))

    assert first["provenance"]["process_type"]["version"] == "1"
    assert second["cached_from"] is None
