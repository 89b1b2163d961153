"""A real Jupyter server killed with SIGKILL mid-run, then started again on the same
database, storage and work dir: nothing that was running or queued is lost."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import requests

from tests.server.test_notebook_types import notebook
from tests.servers import Server, running_server

RUNNING, QUEUED = 5, 20
SECONDS = 3
RATES = {"rate_cpu_hour": 36.0, "starting_balance": 1000.0, "local_quota_cpu": 2.0}


def _get(server: Server, path: str) -> dict:
    response = requests.get(server.api_url + path, headers=server.headers, timeout=30)
    response.raise_for_status()
    return response.json()


def _states(server: Server, ids: list[int]) -> list[str]:
    return [_get(server, f"process/{i}/versions/1")["state"] for i in ids]


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_kill_9_of_the_server_loses_no_run_no_log_line_and_no_credit(tmp_path: Path) -> None:
    with running_server(tmp_path, **RATES) as first:
        ids = []
        for n in range(RUNNING + QUEUED):
            response = requests.post(
                first.api_url + "process",
                json={"type": "sleep", "name": f"run {n}", "parameters": {"seconds": SECONDS},
                      "resources": {"cpu": 2.0 / RUNNING, "deadline_seconds": 120}},
                headers=first.headers,
                timeout=30,
            )
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
        _wait(lambda: _states(first, ids).count("running") == RUNNING, 60, "5 running")
        time.sleep(1.5)  # some of their lines are stored, some not yet printed
        before = _states(first, ids)
        # Killed while some run and some wait. Not exactly RUNNING: a run whose process
        # ended frees its share at once and is stored as ended a moment later, so on a
        # loaded machine its successor may show running beside it.
        assert "running" in before and "queued" in before, before
        first_logs = {i: _get(first, f"process/{i}/versions/1/logs")["items"] for i in ids}
        # SIGKILL: no shutdown hook runs, as when the OOM killer or a culler strikes.
        os.kill(first.pid, signal.SIGKILL)

    with running_server(tmp_path, **RATES) as second:
        _wait(lambda: set(_states(second, ids)) == {"completed"}, 240,
              f"every version completed (states now {_states(second, ids)})")
        account = _get(second, "account")
        for i in ids:
            version = _get(second, f"process/{i}/versions/1")
            assert (version["state"], version["reason"]) == ("completed", None)
            items = _get(second, f"process/{i}/versions/1/logs")["items"]
            assert [item["seq"] for item in items] == list(range(1, len(items) + 1))
            assert [item["line"] for item in items] == [
                f"sleeping {SECONDS} s",
                *(f"tick {t}: {t} of {SECONDS} s" for t in range(1, SECONDS + 1)),
                "done sleeping",
            ], f"process {i}: every line once, in order"
            assert items[: len(first_logs[i])] == first_logs[i], "stored lines stay as they were"
            ledger = {kind: sum(t["amount"] for t in account["transactions"]
                                if t["process"] == i and t["kind"] == kind)
                      for kind in ("HOLD", "DEBIT", "RELEASE")}
            assert ledger["HOLD"] > 0
            assert abs(ledger["DEBIT"] + ledger["RELEASE"] - ledger["HOLD"]) < 1e-9


def _post(server: Server, path: str, body: dict) -> dict:
    response = requests.post(server.api_url + path, json=body, headers=server.headers, timeout=60)
    assert response.status_code in (200, 201), response.text
    return response.json()


def _lines(server: Server, process: int) -> list[str]:
    return [item["line"] for item in _get(server, f"process/{process}/versions/1/logs")["items"]]


def test_kill_9_keeps_each_notebook_version_on_the_revision_it_was_submitted_with(
        tmp_path: Path) -> None:
    # One version runs, one waits for the quota; revision 2 is registered meanwhile; then
    # the server dies. Both finish on revision 1 after the restart; a new version runs 2.
    def revised(words: str) -> dict:
        body = f"import time\nprint('{words}', scale, flush=True)\ntime.sleep(3)\n"
        return notebook(body=body)

    with running_server(tmp_path, local_quota_cpu=1.0) as first:
        project = _get(first, "projects")["items"][0]["id"]
        _post(first, "process-types",
              {"project": project, "name": "slow-scale", "notebook": revised("revision one")})
        ids = [_post(first, "process", {"type": "slow-scale", "parameters": {"scale": n},
                                        "resources": {"cpu": 1.0}})["id"] for n in (1, 2)]
        _wait(lambda: _states(first, ids) == ["running", "queued"], 60, "one running, one queued")
        _wait(lambda: "revision one 1.0" in _lines(first, ids[0]), 60, "the first one's line")
        assert _post(first, "process-types", {"project": project, "name": "slow-scale",
                                              "notebook": revised("revision two")})["revision"] == 2
        os.kill(first.pid, signal.SIGKILL)

    with running_server(tmp_path, local_quota_cpu=1.0) as second:
        _wait(lambda: set(_states(second, ids)) == {"completed"}, 120,
              f"both completed (states now {_states(second, ids)})")
        for process, scale in zip(ids, (1.0, 2.0), strict=True):
            version = _get(second, f"process/{process}/versions/1")
            assert version["provenance"]["process_type"]["revision"] == 1
            assert f"revision one {scale}" in _lines(second, process)
            assert not any(line.startswith("revision two") for line in _lines(second, process))
        newer = _post(second, "process", {"type": "slow-scale", "parameters": {"scale": 3}})
        _wait(lambda: _states(second, [newer["id"]]) == ["completed"], 120, "the new version")
        assert "revision two 3.0" in _lines(second, newer["id"])
