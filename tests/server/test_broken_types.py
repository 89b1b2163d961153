"""A broken process type (one entry point of a user-installed distribution) is listed as
broken, and everything else works; a run that cannot start its type, or that the runner
refuses, fails saying why in the version's message.

Against a real ``jupyter server`` whose Python finds an extra distribution (a dist-info
with an ``entry_points.txt``, made in tmp) on its PYTHONPATH, as a user's ``pip install``
would put one in site-packages; its runs see the same (a sandboxed run reads it through
``LocalExecutor.read_only_paths``, as code of one's own is configured)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from nagelfluh_runner import registry

from nagelfluh_lab.db.session import Database
from nagelfluh_lab.executors.base import LogLine, RunOutcome
from nagelfluh_lab.executors.contract import exit_outcome
from nagelfluh_lab.services import catalog
from nagelfluh_lab.services.log_store import append_logs
from nagelfluh_lab.services.run_lifecycle import with_reason_line
from tests.server.conftest import seed_version
from tests.server.test_openapi import check_response, load_document
from tests.servers import Server, running_server

ENTRY_POINTS = """\
[nagelfluh.process_types]
missing-module = nagelfluh_no_such_module:Grid
not-a-type = lab_types:NotAType
bad-schema = lab_types:BadSchema
misnamed = lab_types:Echo
fails-in-run = lab_run_only:Survey
echo = lab_types:Echo
raises = lab_types:Raises
"""

LAB_TYPES = '''\
from nagelfluh_runner import ProcessType


class Echo(ProcessType):
    name = "echo"
    title = "Echo"
    description = "Prints its text."
    schema = {"type": "object", "properties": {"text": {
        "type": "string", "title": "Text", "description": "What to print.", "default": "hi"}}}

    def run(self, ctx, text):
        ctx.log(text)


class Raises(ProcessType):
    name = "raises"

    def run(self, ctx):
        raise ValueError("the grid is empty")


class NotAType:
    pass


class BadSchema(ProcessType):
    name = "bad-schema"
    schema = {"type": "object", "properties": {"n": {"type": "integr"}}}
'''

# Imports in the server, whose environment has what it needs; not inside a run, whose
# environment lacks it: as a dependency missing from an image or a sandbox.
LAB_RUN_ONLY = '''\
import os

if "PROCESS_TYPE" in os.environ:
    import geotools_missing_in_the_run  # noqa: F401

from nagelfluh_runner import ProcessType


class Survey(ProcessType):
    name = "fails-in-run"
    title = "Fails in its run"
    description = "Its module imports in the server but not in a run."
'''


def _distribution(root: Path) -> Path:
    """A directory holding an installed distribution of process types, readable by the
    sandbox's unprivileged user."""
    site = root / "site"
    info = site / "lab_extra_types-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lab-extra-types\nVersion: 1.0\n")
    (site / "lab_types.py").write_text(LAB_TYPES)
    (site / "lab_run_only.py").write_text(LAB_RUN_ONLY)
    for path in (site, info, *site.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return site


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("broken-types")
    site = _distribution(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", str(site))
        with running_server(
            root / "server",
            local_executor={
                "command": [
                    "/usr/bin/env",
                    f"PYTHONPATH={site}",
                    sys.executable,
                    "-m",
                    "nagelfluh_runner",
                    "run",
                ],
                "read_only_paths": [str(site)],
            },
        ) as running:
            yield running


def _call(server: Server, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(
        method, server.api_url + path, headers=server.headers, timeout=30, **kwargs
    )


def _run(server: Server, type_name: str, parameters: dict) -> dict:
    """Submit, and the version once it has ended."""
    created = _call(server, "POST", "process", json={"type": type_name, "parameters": parameters})
    assert created.status_code == 201, created.text
    path = f"process/{created.json()['id']}/versions/1"
    deadline = time.monotonic() + 60
    while (version := _call(server, "GET", path).json())["state"] not in ("completed", "failed"):
        assert time.monotonic() < deadline, version
        time.sleep(0.1)
    return version


def test_a_type_that_fails_to_import_is_listed_as_broken_and_the_rest_work(server):
    listed = _call(server, "GET", "process-types")

    assert listed.status_code == 200, listed.text
    body = listed.json()
    check_response(load_document(), "/process-types", "get", 200, body)
    broken = {b["name"]: b for b in body["broken"]}
    assert sorted(broken) == ["bad-schema", "misnamed", "missing-module", "not-a-type"]
    assert broken["missing-module"] == {
        "name": "missing-module",
        "entry_point": "nagelfluh_no_such_module:Grid",
        "environment": "bootstrap",
        "error": "ModuleNotFoundError: No module named 'nagelfluh_no_such_module'",
    }
    assert broken["not-a-type"]["error"] == (
        "TypeError: entry point 'not-a-type' (lab_types:NotAType) is not a ProcessType subclass"
    )
    assert broken["bad-schema"]["error"].startswith(
        "its schema is not a valid JSON Schema at /properties/n/type:"
    )
    assert "whose name is 'echo'" in broken["misnamed"]["error"]
    usable = {t["name"] for t in body["items"]}
    assert {"echo", "fails-in-run", "sleep", "fft", "synthetic-signal"} <= usable
    assert not usable & set(broken)

    bootstrap = _call(server, "GET", "environments/bootstrap").json()
    check_response(load_document(), "/environments/{name}", "get", 200, bootstrap)
    assert bootstrap["state"] == "ready"
    assert bootstrap["broken"] == body["broken"]

    missing = _call(server, "GET", "process-types/missing-module")
    assert missing.status_code == 404
    assert "installed but broken: ModuleNotFoundError" in missing.json()["error"]["message"]
    refused = _call(server, "POST", "process", json={"type": "bad-schema"})
    assert refused.status_code == 400
    assert refused.json()["error"]["details"][0]["path"] == "/type"
    assert "installed but broken" in refused.json()["error"]["message"]

    assert _run(server, "echo", {"text": "still works"})["state"] == "completed"
    assert _run(server, "sleep", {"seconds": 0})["state"] == "completed"
    log = server.log_path.read_text(errors="replace")
    assert "process type missing-module (nagelfluh_no_such_module:Grid) is broken" in log


def test_a_type_that_cannot_be_loaded_in_its_run_fails_it_naming_the_type_and_error(server):
    version = _run(server, "fails-in-run", {})

    assert (version["state"], version["reason"]) == ("failed", "error")
    assert version["message"] == (
        "Exited with code 1: process type 'fails-in-run' could not be loaded: "
        "ModuleNotFoundError: No module named 'geotools_missing_in_the_run'"
    )
    logs = _call(server, "GET", f"process/{version['process']}/versions/1/logs").json()
    lines = [line["line"] for line in logs["items"]]
    assert "Traceback (most recent call last):" in lines  # the details stay in the log


def test_a_run_the_runner_refuses_says_why_in_the_versions_message(server):
    """Parameters that fit the schema but not each other: the runner exits 2 with its
    reason as its last line, and the versions table shows that line."""
    version = _run(
        server,
        "synthetic-signal",
        {"sample_rate": 10, "components": [{"frequency": 7, "amplitude": 1}]},
    )

    assert (version["state"], version["reason"]) == ("failed", "invalid")
    assert version["message"] == (
        "Exited with code 2: parameter /components/0/frequency: 7 Hz is not below the "
        "Nyquist frequency 5 Hz of a 10 Hz sample rate"
    )


def test_a_process_that_raises_shows_its_exception_in_the_versions_message(server):
    version = _run(server, "raises", {})

    assert (version["state"], version["reason"]) == ("failed", "error")
    assert version["message"] == "Exited with code 1: ValueError: the grid is empty"


# ------------------------------------------- the reason line, whichever executor ran it


@pytest.fixture
def version_log(db_url):
    """A version in the database, and a function storing log lines of it."""
    db = Database(db_url)

    version_id = db.run_sync(seed_version)

    def message(lines: list[tuple[str, str]], outcome: RunOutcome) -> str | None:
        if lines:
            logged = [LogLine(float(i), stream, line) for i, (stream, line) in enumerate(lines)]
            db.run_sync(lambda s: append_logs(s, version_id, logged))
        return db.run_sync(lambda s: with_reason_line(s, version_id, outcome))

    yield message
    db.close()


RUNNER_EXIT_2 = exit_outcome(2, 2**30, 60)


def test_a_local_runs_message_takes_its_last_stderr_line(version_log):
    lines = [("stdout", "working"), ("stderr", "nagelfluh-runner: error: parameter /n: too big"),
             ("stdout", "late stdout")]  # fmt: skip

    assert version_log(lines, RUNNER_EXIT_2) == "Exited with code 2: parameter /n: too big"


def test_a_pods_message_takes_the_last_line_of_its_one_stream(version_log):
    lines = [("stdout", "Traceback (most recent call last):"), ("stdout", "ValueError: x"),
             ("stdout", "")]  # fmt: skip

    assert version_log(lines, exit_outcome(1, 2**30, 60)) == "Exited with code 1: ValueError: x"


@pytest.mark.parametrize(
    "outcome",
    [
        RunOutcome("completed", exit_code=0),
        RunOutcome("failed", "cancelled", "Process cancelled by user", 143),
        exit_outcome(-9, 2**30, 60),
    ],
    ids=["completed", "cancelled", "killed"],
)
def test_other_outcomes_keep_their_own_message(version_log, outcome):
    assert version_log([("stderr", "nagelfluh-runner: error: x")], outcome) == outcome.message


def test_a_run_that_printed_nothing_keeps_the_generic_message(version_log):
    assert version_log([], RUNNER_EXIT_2) == RUNNER_EXIT_2.message


def test_a_huge_last_line_is_cut(version_log):
    message = version_log([("stderr", "x" * 100_000)], exit_outcome(1, 2**30, 60))

    assert len(message) < 600 and message.endswith("...")


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"n": {"type": "number", "default": float("nan")}}},
        {"type": "object", "properties": {"n": {"enum": {1, 2}}}},
        {"type": "object", "properties": {"n": {"type": "integr"}}},
    ],
    ids=["nan default", "a set", "no JSON Schema"],
)
def test_a_description_the_server_cannot_store_is_broken_not_a_crash(monkeypatch, schema):
    good = {"name": "good", "title": "Good", "description": "", "schema": {"type": "object"}}
    bad = {"name": "bad", "title": "Bad", "description": "", "schema": schema}
    monkeypatch.setattr(registry, "discover", lambda: ([bad, good], []))
    monkeypatch.setattr(registry, "entry_points", lambda: {"bad": "m:Bad", "good": "m:Good"})

    types, broken = catalog.installed_types()

    assert types == [good]
    [entry] = broken
    assert (entry["name"], entry["entry_point"]) == ("bad", "m:Bad")
    assert entry["error"]
