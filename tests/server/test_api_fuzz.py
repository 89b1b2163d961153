"""Schemathesis against a real server: every phase of ``st run`` (examples, coverage,
fuzzing, stateful links) and every check, with a fixed seed and a bounded budget, finds
nothing: no 500 (nor a traceback in the server's log), no undocumented status, no answer
off the document, no schema-valid request refused nor schema-violating one accepted, 405
with ``Allow`` for any other method. What the document cannot state is in
schemathesis.toml, each with its reason.

A failure prints Schemathesis' own report: each case with a ``curl`` line to reproduce
it (against a server started with ``running_server``)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.servers import Server, running_server

SEED = 20261207
CONFIG = Path(__file__).with_name("schemathesis.toml")
ST = Path(sys.executable).with_name("st")
PHASES = "examples,coverage,fuzzing,stateful"
SIGNAL = {"type": "synthetic-signal", "parameters": {"duration": 1, "sample_rate": 100}}


def _seed_data(server: Server) -> None:
    """A completed process (id 1, version 1, its NetCDF output) and an upload, so that the
    smallest ids the fuzzer draws reach real data rather than only 404s."""
    created = requests.post(
        server.api_url + "process", json=SIGNAL, headers=server.headers, timeout=30
    )
    assert created.status_code == 201, created.text
    version = f"process/{created.json()['id']}/versions/1"
    deadline = time.monotonic() + 60
    while (state := _get(server, version)["state"]) not in ("completed", "failed"):
        assert time.monotonic() < deadline, f"the seed process is still {state}"
        time.sleep(0.1)
    assert state == "completed", _get(server, version)
    uploaded = requests.post(
        server.api_url + "dataset",
        params={"project": created.json()["project"], "name": "table.csv"},
        data=b"a,b\n1,2\n",
        headers={**server.headers, "Content-Type": "text/csv"},
        timeout=30,
    )
    assert uploaded.status_code == 201, uploaded.text


def _get(server: Server, path: str) -> dict:
    response = requests.get(server.api_url + path, headers=server.headers, timeout=30)
    response.raise_for_status()
    return response.json()


def _schemathesis(server: Server, reports: Path, max_examples: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            str(ST),
            "--config-file",
            str(CONFIG),
            "--no-color",
            "run",
            server.api_url + "openapi.json",
            "--checks=all",
            f"--phases={PHASES}",
            f"--seed={SEED}",
            f"--max-examples={max_examples}",
            "--workers=1",  # one request at a time: the same seed makes the same run
            "--generation-database=none",  # no replay of an earlier run's finds
            f"--header=Authorization: token {server.token}",
            "--report=json,ndjson",
            f"--report-json-path={reports / 'summary.json'}",
            f"--report-ndjson-path={reports / 'events.ndjson'}",
        ],
        cwd=reports,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.parametrize(
    "max_examples",
    [
        pytest.param(5, id="smoke"),
        pytest.param(200, id="full", marks=[pytest.mark.slow, pytest.mark.timeout(900)]),
    ],
)
def test_schemathesis_finds_nothing_wrong_with_the_api(tmp_path: Path, max_examples: int) -> None:
    with running_server(tmp_path / "server") as server:
        _seed_data(server)
        result = _schemathesis(server, tmp_path, max_examples)
    log = server.log_path.read_text(errors="replace")
    assert "Traceback" not in log, log[log.find("Traceback") - 2000 :][:6000]
    output = result.stdout + result.stderr
    report = _failures(output)
    assert (tmp_path / "summary.json").exists(), output[-5000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["complete"] and not summary["errors"], report
    assert not summary["failures"] and result.returncode == 0, report
    assert summary["operations"]["tested"] == summary["operations"]["selected"], output[-5000:]
    cases = _cases_per_phase(tmp_path / "events.ndjson")
    assert set(cases) == set(PHASES.split(",")) and all(cases.values()), cases
    print(f"{summary['test_cases']['generated']} cases, no failure: {cases}")  # shown with -s


def _failures(output: str) -> str:
    """Schemathesis' report from its FAILURES section on (each case with a ``curl`` line
    to reproduce it), or the end of its output."""
    start = output.find(" FAILURES ")
    return output[output.rfind("\n", 0, start) + 1 :] if start >= 0 else output[-20000:]


def _cases_per_phase(events: Path) -> dict[str, int]:
    """Test cases Schemathesis ran in each phase, from its NDJSON event log."""
    cases: dict[str, int] = {}
    with events.open() as lines:
        for line in lines:
            finished = json.loads(line).get("ScenarioFinished")
            if finished is not None and finished["status"] != "skip":
                phase = finished["phase"]
                cases[phase] = cases.get(phase, 0) + len(finished["recorder"]["cases"])
    return cases
