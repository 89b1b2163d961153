"""A hostile process type against the sandbox: each escape that worked before it
(issue 9) is tried from inside a real bubblewrap run and must be refused or contained."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from pathlib import Path

import pytest

from nagelfluh_lab.executors import local
from nagelfluh_lab.executors.base import RunOutcome

MIB = 1024**2

# Tries every escape and reports what happened to each as one JSON line.
HOSTILE = """
    import json, os, socket, subprocess, sys, time
    targets = json.loads(sys.argv[1])
    report = {"uid": os.getuid()}

    def attempt(name, action):
        try:
            action()
            report[name] = "done"
        except Exception as error:
            report[name] = type(error).__name__

    def read(path):
        return lambda: open(path, "rb").read(1)

    def write(path, size=1):
        def action():
            with open(path, "wb") as handle:
                for _ in range(max(1, size // 2**20)):
                    handle.write(b"x" * min(size, 2**20))
        return action

    attempt("read_other_project", read(targets["other_project_file"]))
    report["storage_listing"] = sorted(os.listdir(targets["storage_root"]))
    attempt("read_database", read(targets["database"]))
    attempt("read_runtime_token", read(targets["runtime_file"]))
    attempt("read_own_project", read(targets["own_project_file"]))
    attempt("write_own_project", write(targets["own_project_dir"] + "/planted.bin"))
    attempt("overwrite_other_upload", write(targets["other_project_file"]))
    attempt("write_outside_storage", write(targets["outside_dir"] + "/planted.bin"))
    attempt("write_system", write("/usr/planted.bin"))
    attempt("write_own_prefix", write(targets["own_prefix"] + "/result.bin"))
    attempt("huge_scratch_file", write("/tmp/scratch.bin", 64 * 2**20))
    attempt("huge_output_file", write(targets["own_prefix"] + "/huge.bin", 64 * 2**20))
    attempt("connect_to_server", lambda: socket.create_connection(
        ("127.0.0.1", targets["port"]), timeout=2).close())
    report["server_env"] = sorted(k for k in os.environ if "SECRET" in k or "TOKEN" in k)
    report["visible_pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    # A child that leaves the group and the session, to outlive the run.
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", targets["marker"]],
                     start_new_session=True)
    print(json.dumps(report), flush=True)
"""


@pytest.fixture
def hostile_world(tmp_path: Path, monkeypatch):
    """Another project's upload, a database, a runtime file and a listening server."""
    storage = tmp_path / "storage"
    (storage / "8" / "uploads").mkdir(parents=True)
    (storage / "8" / "uploads" / "secret.bin").write_bytes(b"other user's data")
    (storage / "7" / "uploads").mkdir(parents=True)
    (storage / "7" / "uploads" / "mine.csv").write_text("a,b\n1,2\n")
    data = tmp_path / "jupyter-data"
    (data / "runtime").mkdir(parents=True)
    (data / "nagelfluh.db").write_bytes(b"SQLite format 3\0")
    (data / "runtime" / "jpserver-1.json").write_text('{"token": "server-token"}')
    outside = tmp_path / "outside"
    outside.mkdir()
    listener = socket.create_server(("127.0.0.1", 0))
    monkeypatch.setenv("JUPYTER_TOKEN", "server-token")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "server-credential")
    yield {
        "storage": storage,
        "data": data,
        "targets": {
            "other_project_file": str(storage / "8" / "uploads" / "secret.bin"),
            "storage_root": str(storage),
            "database": str(data / "nagelfluh.db"),
            "runtime_file": str(data / "runtime" / "jpserver-1.json"),
            "own_project_file": str(storage / "7" / "uploads" / "mine.csv"),
            "own_project_dir": str(storage / "7"),
            "outside_dir": str(outside),
            "own_prefix": str(storage / "7" / "processes" / "1" / "v1"),
            "port": listener.getsockname()[1],
            "marker": f"nagelfluh-escapee-{os.getpid()}-{tmp_path.name}",
        },
    }
    listener.close()


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            pass
    return found


async def test_hostile_process_is_refused_or_contained_at_every_escape(
        make_executor, make_spec, script, events, hostile_world, tmp_path):
    targets = hostile_world["targets"]
    tmp_path.chmod(0o755)  # readable by the sandbox's unprivileged user, as a shared dir is
    executor = await make_executor(
        command=[*script(HOSTILE), json.dumps(targets)],
        # the sensitive dirs sit inside a read-only path here, the hardest case
        read_only_paths=[str(tmp_path / "programs"), str(tmp_path)],
        hidden_paths=[str(hostile_world["data"]), str(hostile_world["storage"])],
        max_file_bytes=16 * MIB, scratch_bytes=16 * MIB)
    spec = make_spec(key=local.RunKey(1, 1), project_id=7,
                     storage_base=hostile_world["storage"].as_uri())
    await executor.submit(spec)
    outcome = await events.finished(spec.key)
    assert outcome == RunOutcome("completed", exit_code=0), (outcome, events.lines(spec.key))
    report = json.loads(events.lines(spec.key)[0])

    assert report["uid"] != 0 or os.geteuid() != 0, "a root server's run is not root"
    refused = {name: report[name] for name in (
        "read_other_project", "read_database", "read_runtime_token",
        "write_own_project", "overwrite_other_upload", "write_outside_storage",
        "write_system", "huge_scratch_file", "huge_output_file", "connect_to_server")}
    assert "done" not in refused.values(), refused
    assert report["storage_listing"] == ["7"], "only its own project's storage is there"
    assert report["read_own_project"] == "done"
    assert report["write_own_prefix"] == "done"
    assert report["server_env"] == []
    assert max(report["visible_pids"]) < 10, "only its own processes are visible"
    assert (hostile_world["storage"] / "8" / "uploads" / "secret.bin").read_bytes() == (
        b"other user's data")
    assert not (hostile_world["storage"] / "7" / "planted.bin").exists()
    assert (hostile_world["storage"] / "7" / "processes" / "1" / "v1" / "result.bin").exists()
    for _ in range(50):  # the escapee dies with the run's PID namespace
        if not _processes_with(targets["marker"]):
            break
        await asyncio.sleep(0.1)
    assert _processes_with(targets["marker"]) == [], "a child outlived its run"


async def test_fork_bomb_is_stopped_by_the_process_limit(
        make_executor, make_spec, script, events):
    executor = await make_executor(command=script("""
        import os, sys
        children = 0
        try:
            for _ in range(200):
                if os.fork() == 0:
                    import time; time.sleep(5); os._exit(0)
                children += 1
        except OSError as error:
            print("refused after", children, type(error).__name__, flush=True)
    """), max_processes=20)
    spec = make_spec()
    await executor.submit(spec)
    assert (await events.finished(spec.key, timeout=20)).state == "completed"
    (line,) = events.lines(spec.key)
    assert line.startswith("refused after") and int(line.split()[2]) < 20


async def test_missing_bubblewrap_refuses_runs_with_a_plain_reason(
        make_executor, make_spec, events, monkeypatch):
    real_which = local.shutil.which
    monkeypatch.setattr(local.shutil, "which",
                        lambda name: None if name == "bwrap" else real_which(name))
    executor = await make_executor()
    spec = make_spec()
    await executor.submit(spec)
    outcome = await events.finished(spec.key)
    assert (outcome.state, outcome.reason) == ("failed", "sandbox")
    assert "bubblewrap (bwrap) is not installed" in outcome.message
    assert "c.LocalExecutor.sandbox = 'none'" in outcome.message


async def test_unsandboxed_mode_is_explicit_and_logged(make_executor, make_spec, script, events,
                                                       caplog):
    executor = await make_executor(command=script("import os; print(os.getcwd())"),
                                   sandbox="none")
    assert any("UNSANDBOXED" in record.getMessage() for record in caplog.records)
    spec = make_spec()
    await executor.submit(spec)
    assert (await events.finished(spec.key)).state == "completed"
    assert events.lines(spec.key) == [str(Path(executor.work_dir) / str(spec.key) / "home")]
