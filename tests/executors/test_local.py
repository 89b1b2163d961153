"""The local executor with real child processes (small Python scripts)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nagelfluh_lab.executors import local
from nagelfluh_lab.executors.base import LogTail, RunOutcome
from nagelfluh_lab.executors.contract import CANCELLED
from nagelfluh_lab.executors.lines import TRUNCATED
from nagelfluh_lab.executors.local import ADDRESS_SPACE_PER_THREAD

MIB = 1024**2
GIB = 1024**3

# A child that starts a grandchild sleeping in its process group, tells its pid
# and waits; SIGTERM is ignored when "stubborn" is in argv, to need SIGKILL.
FAMILY = """
    import signal, subprocess, sys, time
    if "stubborn" in sys.argv:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    print("grandchild", grandchild.pid, flush=True)
    time.sleep(60)
"""


async def grandchild_of(events, key) -> int:
    await events.wait_for(lambda: any(line.startswith("grandchild ")
                                      for line in events.lines(key)))
    announced = next(line for line in events.lines(key) if line.startswith("grandchild "))
    return int(announced.split()[1])


async def test_process_sees_the_contract_and_nothing_else_of_the_server_environment(
        make_executor, make_spec, script, events, monkeypatch):
    monkeypatch.setenv("JUPYTER_TOKEN", "server-secret")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "server-credential")
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    executor = await make_executor(command=script("""
        import json, os
        print(json.dumps({"env": dict(os.environ), "cwd": os.getcwd()}))
    """))
    with_base = make_spec(cpu=1.5, parameters={"n": [1, 2]},
                          input_datasets={"3": {"key": "7/uploads/a.csv"}},
                          storage_env={"STORAGE_BASE": "s3://bucket/base",
                                       "STORAGE_ENDPOINT": "http://minio:9000"})
    without_base = make_spec()
    for spec in (with_base, without_base):
        await executor.submit(spec)
    reports = {}
    for spec in (with_base, without_base):
        assert await events.finished(spec.key) == RunOutcome("completed", exit_code=0)
        reports[spec.key] = json.loads(events.lines(spec.key)[0])

    env, cwd = reports[with_base.key]["env"], reports[with_base.key]["cwd"]
    assert env == {
        "PATH": os.environ["PATH"], "LANG": "C.UTF-8", "HOME": "/tmp", "TMPDIR": "/tmp",
        "PWD": "/tmp",
        "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2", "MKL_NUM_THREADS": "2",
        "NAGELFLUH_CONTRACT_VERSION": "1",
        "PROCESS_TYPE": "test", "PROCESS_ID": str(with_base.key.process_id), "VERSION": "1",
        "PROJECT_ID": "7", "PARAMETERS_JSON": '{"n": [1, 2]}',
        "INPUT_DATASETS_JSON": '{"3": {"key": "7/uploads/a.csv"}}',
        "STORAGE_BASE": "s3://bucket/base", "STORAGE_ENDPOINT": "http://minio:9000",
    }
    assert cwd == "/tmp", "a sandboxed run works in its private /tmp"
    assert reports[without_base.key]["env"]["STORAGE_BASE"] == without_base.storage_base
    for _ in range(100):  # removed once the outcome is reported
        if not any(Path(executor.work_dir).iterdir()):
            break
        await asyncio.sleep(0.05)
    assert not any(Path(executor.work_dir).iterdir()), "run directories go after the run"


@pytest.mark.parametrize("wrapper", ["prlimit", "limits.py"])
async def test_process_runs_under_limits_derived_from_its_request(
        make_executor, make_spec, script, events, monkeypatch, wrapper):
    if wrapper == "limits.py":  # the portable fallback where util-linux is missing
        monkeypatch.setattr(local, "PRLIMIT", None)
    else:
        assert local.PRLIMIT, "util-linux's prlimit is on every Linux this runs on"
    executor = await make_executor(command=script("""
        import resource
        for name in ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_CORE"):
            print(*resource.getrlimit(getattr(resource, name)))
    """), cpu_time_slack_seconds=3, kill_grace_seconds=2)
    spec = make_spec(cpu=2, memory=512 * MIB, deadline_seconds=10)
    await executor.submit(spec)
    await events.finished(spec.key)
    address_space = 512 * MIB + executor.address_space_allowance + 2 * ADDRESS_SPACE_PER_THREAD
    assert events.lines(spec.key) == [f"{address_space} {address_space}", "23 26", "0 0"]


async def test_logs_arrive_complete_in_order_with_their_stream(
        make_executor, make_spec, script, events):
    executor = await make_executor(command=script("""
        import sys
        out, err = sys.stdout.write, sys.stderr.write
        for i in range(200_000):
            out(f"out {i}\\n")
            if i % 10 == 0:
                err(f"err {i}\\n")
    """), log_batch_lines=5000)
    spec = make_spec()
    await executor.submit(spec)
    assert (await events.finished(spec.key)).state == "completed"
    assert events.lines(spec.key, "stdout") == [f"out {i}" for i in range(200_000)]
    assert events.lines(spec.key, "stderr") == [f"err {i}" for i in range(0, 200_000, 10)]
    assert events.names(spec.key) == ["queued", "started", "logs", "finished"]
    assert max(len(batch) for batch in events.payloads(spec.key, "logs")) <= 5000


async def test_split_crlf_invalid_and_overlong_output_becomes_clean_lines(
        make_executor, make_spec, script, events):
    executor = await make_executor(command=script("""
        import sys, time
        out = sys.stdout.buffer
        for piece in (b"hel", b"lo\\r\\nwor", b"ld\\n\\xff\\xfe bad\\n", b"x" * 300_000 + b"\\n"):
            out.write(piece)
            out.flush()
            time.sleep(0.05)
        out.write(b"no newline at the end")
    """))
    spec = make_spec()
    await executor.submit(spec)
    await events.finished(spec.key)
    lines = events.lines(spec.key)
    assert lines[:3] == ["hello", "world", "\ufffd\ufffd bad"]
    assert lines[3] == "x" * 64 * 1024 + TRUNCATED
    assert lines[4:] == ["no newline at the end"]


async def test_progress_lines_become_progress_events_not_log_lines(
        make_executor, make_spec, script, events):
    executor = await make_executor(command=script("""
        import time
        for line in ("start", "##nagelfluh:progress 0.5", "middle",
                     "##nagelfluh:progress oops", "##nagelfluh:progress 1"):
            print(line, flush=True)
            time.sleep(0.1)
    """))
    spec = make_spec()
    await executor.submit(spec)
    await events.finished(spec.key)
    assert events.lines(spec.key) == ["start", "middle", "##nagelfluh:progress oops"]
    assert events.payloads(spec.key, "progress") == [0.5, 1.0]
    assert events.names(spec.key) == ["queued", "started", "logs", "progress", "logs",
                                      "progress", "finished"]


async def test_quiet_process_lines_arrive_while_it_runs(make_executor, make_spec, script,
                                                         events):
    executor = await make_executor(command=script("""
        import time
        print("hello", flush=True)
        time.sleep(30)
    """))
    spec = make_spec()
    await executor.submit(spec)
    await events.wait_for(lambda: events.payloads(spec.key, "started"))
    started = time.monotonic()
    await events.wait_for(lambda: events.lines(spec.key) == ["hello"], timeout=5)
    assert time.monotonic() - started < 1
    await executor.cancel(spec.key)


def waits_for_file(path: Path) -> str:
    return f"""
        import os, time
        while not os.path.exists({str(path)!r}):
            time.sleep(0.02)
    """


async def test_big_run_waits_for_quota_while_smaller_ones_behind_it_start(
        make_executor, make_spec, script, events, programs):
    go = programs / "go"
    executor = await make_executor(command=script(waits_for_file(go)), quota_cpu=2,
                             quota_memory=GIB)
    first, big, small = (make_spec(cpu=cpu) for cpu in (1.5, 1, 0.5))
    for spec in (first, big, small):
        await executor.submit(spec)
    await events.wait_for(lambda: events.payloads(small.key, "started"))
    assert events.payloads(big.key, "queued") == [
        "waiting for quota: needs 1 CPU, 2 of 2 in use"]
    assert not events.payloads(big.key, "started")
    assert events.payloads(first.key, "queued") == [None]
    go.touch()
    for spec in (first, big, small):
        assert (await events.finished(spec.key)).state == "completed"
    assert events.index("started", big.key) > events.index("finished", first.key)
    assert events.payloads(big.key, "queued") == [
        "waiting for quota: needs 1 CPU, 2 of 2 in use"], "reported once, when it began to wait"


async def test_request_beyond_the_whole_quota_fails_with_reason_quota(
        make_executor, make_spec, events):
    executor = await make_executor(quota_cpu=2, quota_memory=GIB)
    assert executor.capacity() == (2, GIB)
    spec = make_spec(cpu=4)
    await executor.submit(spec)
    assert await events.finished(spec.key) == RunOutcome(
        "failed", "quota", "Requested 4 CPU, more than the local quota of 2 CPU")
    assert events.names(spec.key) == ["finished"]


async def test_cancel_of_a_queued_run_removes_it_before_it_starts(
        make_executor, make_spec, script, events, programs):
    go = programs / "go"
    executor = await make_executor(command=script(waits_for_file(go)), quota_cpu=1)
    running, queued = make_spec(), make_spec()
    await executor.submit(running)
    await executor.submit(queued)
    await events.wait_for(lambda: events.payloads(queued.key, "queued"))
    assert await executor.cancel(queued.key) is True
    assert await events.finished(queued.key) == CANCELLED
    assert events.names(queued.key) == ["queued", "finished"]
    go.touch()
    assert (await events.finished(running.key)).state == "completed"


async def test_cancel_of_a_running_run_kills_its_whole_process_group(
        make_executor, make_spec, script, events, is_alive, wait_dead, reap):
    executor = await make_executor(command=script(FAMILY), sandbox="none")
    spec = make_spec()
    await executor.submit(spec)
    grandchild = await grandchild_of(events, spec.key)
    reap.append(grandchild)
    assert is_alive(grandchild)
    assert await executor.cancel(spec.key) is True
    outcome = await events.finished(spec.key, timeout=10)
    assert (outcome.state, outcome.reason, outcome.message) == (
        "failed", "cancelled", "Process cancelled by user")
    assert await wait_dead(grandchild)


async def test_cancel_of_an_unknown_or_reported_run_returns_false(
        make_executor, make_spec, script, events):
    executor = await make_executor(command=script("pass"))
    spec = make_spec()
    assert await executor.cancel(spec.key) is False
    await executor.submit(spec)
    await events.finished(spec.key)
    assert await executor.cancel(spec.key) is False


async def test_deadline_kills_whole_process_group_even_if_it_ignores_sigterm(
        make_executor, make_spec, script, events, wait_dead, reap):
    executor = await make_executor(command=[*script(FAMILY), "stubborn"], kill_grace_seconds=0.5,
                                   sandbox="none")
    spec = make_spec(deadline_seconds=1)
    await executor.submit(spec)
    grandchild = await grandchild_of(events, spec.key)
    reap.append(grandchild)
    outcome = await events.finished(spec.key, timeout=10)
    assert outcome == RunOutcome("failed", "deadline", "Deadline of 1 s exceeded: process stopped",
                              128 + signal.SIGKILL)
    assert await wait_dead(grandchild)


async def test_cpu_time_beyond_cpu_times_deadline_is_stopped(
        make_executor, make_spec, script, events):
    executor = await make_executor(command=script("while True: pass"), cpu_time_slack_seconds=0)
    spec = make_spec(cpu=0.1, deadline_seconds=10)
    await executor.submit(spec)
    outcome = await events.finished(spec.key, timeout=10)
    assert outcome == RunOutcome("failed", "deadline",
                              "CPU time limit of 1 s exceeded: process stopped",
                              128 + signal.SIGXCPU)


async def test_allocation_beyond_the_memory_request_fails_with_oom(
        make_executor, make_spec, script, events):
    executor = await make_executor(command=script("""
        import sys
        import numpy
        small = numpy.ones((512, 512)) @ numpy.ones((512, 512))
        print("numpy works", flush=True)
        try:
            big = numpy.ones(2**28)  # 2 GiB
        except MemoryError:
            sys.exit(3)  # what the runner does with a MemoryError
    """))
    spec = make_spec(memory=64 * MIB)
    await executor.submit(spec)
    outcome = await events.finished(spec.key)
    assert (outcome.state, outcome.reason, outcome.exit_code) == ("failed", "oom", 3)
    assert events.lines(spec.key) == ["numpy works"]


@pytest.mark.parametrize(("code", "outcome"), [
    ("sys.exit(0)", ("completed", None, None, 0)),
    ("sys.exit(2)", ("failed", "invalid", None, 2)),
    ("sys.exit(3)", ("failed", "oom", None, 3)),
    ("sys.exit(7)", ("failed", "error", "Exited with code 7", 7)),
    ("os.kill(os.getpid(), signal.SIGKILL)", ("failed", "oom", None, 137)),
    ("os.kill(os.getpid(), signal.SIGSEGV)",
     ("failed", "error", "Killed by SIGSEGV (segmentation fault: the program (or a library "
                         "it uses) crashed)", 139)),
    ("os.abort()", ("failed", "error", None, 134)),
    ("os.kill(os.getpid(), signal.SIGTERM)", ("failed", "error", "Killed by SIGTERM", 143)),
])
async def test_exit_status_maps_to_outcome(make_executor, make_spec, script, events, code,
                                           outcome):
    executor = await make_executor(command=script(f"import os, signal, sys\n{code}\n"))
    spec = make_spec()
    await executor.submit(spec)
    got = await events.finished(spec.key)
    assert (got.state, got.reason, got.exit_code) == (outcome[0], outcome[1], outcome[3])
    if outcome[2] is not None:
        assert got.message == outcome[2]
    elif got.state == "failed":
        assert got.message


async def test_missing_program_fails_with_a_logged_reason(make_executor, make_spec, events):
    executor = await make_executor(command=["/nonexistent/program"])
    spec = make_spec()
    await executor.submit(spec)
    expected = RunOutcome("failed", "error", "Exited with code 127", 127)
    assert await events.finished(spec.key) == expected
    # from prlimit ("failed to execute") or the portable limits.py ("cannot start")
    first = events.lines(spec.key, "stderr")[0]
    assert re.search(r"(cannot start|failed to execute) /nonexistent/program", first), first


async def test_run_ends_when_its_process_exits_even_if_an_escaped_child_holds_the_pipe(
        make_executor, make_spec, script, events, reap):
    executor = await make_executor(command=script("""
        import subprocess, sys
        escaped = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                                   start_new_session=True)
        print("grandchild", escaped.pid, flush=True)
    """), kill_grace_seconds=0.3, sandbox="none")
    spec = make_spec()
    await executor.submit(spec)
    reap.append(await grandchild_of(events, spec.key))
    assert (await events.finished(spec.key, timeout=5)).state == "completed"


async def test_slow_log_consumer_does_not_block_the_process_its_lines_wait_in_the_log(
        make_executor, make_spec, script, events, work_dir):
    executor = await make_executor(command=script("""
        import sys
        block = (b"x" * 99 + b"\\n") * 640  # 64,000 bytes
        for i in range(320):  # 20 MB in all
            sys.stdout.buffer.write(block)
            sys.stdout.buffer.flush()
    """))
    spec = make_spec()
    status = work_dir / str(spec.key) / "status.json"
    ended_while_stalled = []
    record_logs = events.run_logs

    async def slow_logs(key, lines):
        if not ended_while_stalled:
            for _ in range(200):  # the consumer stalls until the process has ended
                if status.exists():
                    break
                await asyncio.sleep(0.05)
            ended_while_stalled.append(status.exists())
        await record_logs(key, lines)

    events.run_logs = slow_logs
    await executor.submit(spec)
    assert (await events.finished(spec.key)).state == "completed"
    assert ended_while_stalled == [True], "the process waited for the server to read"
    assert len(events.lines(spec.key)) == 320 * 640


# A run that prints a numbered line every 20 ms, "start" first, "end" last.
COUNTING = """
    import sys, time
    n = int(sys.argv[1])
    print("start", flush=True)
    for i in range(1, n + 1):
        print(f"line {i}", flush=True)
        time.sleep(0.02)
    print("end", flush=True)
"""

OLD_SERVER = """
import asyncio, json, sys
from nagelfluh_lab.executors.local import LocalExecutor
from nagelfluh_lab.executors.base import RunKey, RunSpec

class Events:
    async def run_queued(self, key, message): pass
    async def run_started(self, key): print("started", flush=True)
    async def run_progress(self, key, progress): pass
    async def run_finished(self, key, outcome): pass
    async def run_logs(self, key, lines):
        for line in lines:
            print(json.dumps(line), flush=True)

async def main():
    executor = LocalExecutor(**json.loads(sys.argv[1]))
    executor.bind(Events())
    await executor.start()
    await executor.submit(RunSpec(RunKey(*json.loads(sys.argv[2])), 7, "test", {}, {},
                                  1.0, 256 * 2**20, float(sys.argv[3]), sys.argv[4]))
    await asyncio.sleep(120)

asyncio.run(main())
"""


def kill_old_server(tmp_path, spec, settings, deadline, stored_until):
    """Run ``spec`` in another process's executor, SIGKILL that process once it has
    delivered a line for which ``stored_until(line)`` is true; the lines it delivered."""
    program = tmp_path / "old_server.py"
    program.write_text(OLD_SERVER)
    server = subprocess.Popen(
        [sys.executable, str(program), json.dumps(settings),
         json.dumps([spec.key.process_id, spec.key.version]), str(deadline), spec.storage_base],
        stdout=subprocess.PIPE, text=True)
    delivered = []
    try:
        assert server.stdout.readline() == "started\n"
        for raw in server.stdout:
            delivered.append(json.loads(raw))
            if stored_until(delivered[-1][2]):
                break
    finally:
        server.kill()
        server.wait()
        server.stdout.close()
    return delivered


async def test_run_outlives_a_killed_server_and_the_next_one_finishes_it_without_gap(
        make_executor, make_spec, script, events, work_dir, tmp_path, programs):
    spec = make_spec(deadline_seconds=60)
    command = [*script(COUNTING), "100"]
    settings = {"work_dir": str(work_dir), "command": command,
                "read_only_paths": [str(programs)]}
    stored = kill_old_server(tmp_path, spec, settings, 60, lambda line: line == "line 20")
    executor = await make_executor(command=command)
    tail = LogTail(stored[-1][0], 1, lines=len(stored))
    assert await executor.recover(spec.key, spec, tail) is True
    assert await events.finished(spec.key) == RunOutcome("completed", exit_code=0)
    lines = [line[2] for line in stored] + events.lines(spec.key)
    assert lines == ["start", *(f"line {i}" for i in range(1, 101)), "end"], "each line once"
    assert not events.payloads(spec.key, "started"), "it was running all along"


async def test_run_that_ended_while_no_server_ran_is_finished_from_its_status(
        make_executor, make_spec, script, events, work_dir, tmp_path, programs):
    spec = make_spec()
    command = [*script(COUNTING + "\n    sys.exit(7)\n"), "10"]
    settings = {"work_dir": str(work_dir), "command": command,
                "read_only_paths": [str(programs)]}
    stored = kill_old_server(tmp_path, spec, settings, 60, lambda line: line == "start")
    status = work_dir / str(spec.key) / "status.json"
    while not status.exists():
        await asyncio.sleep(0.05)
    ended = json.loads(status.read_text())["finished"]
    await asyncio.sleep(0.5)
    executor = await make_executor(command=command)
    assert await executor.recover(spec.key, spec, LogTail(stored[-1][0], 1, 1)) is True
    outcome = await events.finished(spec.key)
    assert outcome == RunOutcome("failed", "error", "Exited with code 7", 7)
    assert outcome.ended == ended, "billed until it ended, not until the server came back"
    assert events.lines(spec.key) == [*(f"line {i}" for i in range(1, 11)), "end"]


async def test_deadline_holds_while_no_server_runs(
        make_executor, make_spec, script, events, work_dir, tmp_path, programs):
    spec = make_spec(deadline_seconds=1.5)
    command = [*script(COUNTING), "1000"]
    settings = {"work_dir": str(work_dir), "command": command, "kill_grace_seconds": 0.5,
                "read_only_paths": [str(programs)]}
    stored = kill_old_server(tmp_path, spec, settings, 1.5, lambda line: line == "start")
    await asyncio.sleep(2.5)
    executor = await make_executor(command=command)
    assert await executor.recover(spec.key, spec, LogTail(stored[-1][0], 1, 1)) is True
    outcome = await events.finished(spec.key)
    assert (outcome.reason, outcome.message) == (
        "deadline", "Deadline of 1.5 s exceeded: process stopped")


async def test_cancel_reaches_a_run_started_by_a_previous_server(
        make_executor, make_spec, script, events, work_dir, tmp_path, programs):
    spec = make_spec()
    command = [*script(COUNTING), "1000"]
    settings = {"work_dir": str(work_dir), "command": command,
                "read_only_paths": [str(programs)]}
    stored = kill_old_server(tmp_path, spec, settings, 60, lambda line: line == "line 5")
    executor = await make_executor(command=command)
    assert await executor.recover(spec.key, spec, LogTail(0, 0, len(stored))) is True
    assert await executor.cancel(spec.key) is True
    outcome = await events.finished(spec.key, timeout=10)
    assert (outcome.state, outcome.reason) == ("failed", "cancelled")


async def test_resubmitted_version_whose_run_is_alive_is_taken_over_not_run_twice(
        make_executor, make_spec, script, events, work_dir, tmp_path, programs):
    """The old server died after starting the run but before the start was stored,
    so the service submits the version again: it must not start a second run."""
    spec = make_spec()
    command = [*script(COUNTING), "50"]
    settings = {"work_dir": str(work_dir), "command": command,
                "read_only_paths": [str(programs)]}
    kill_old_server(tmp_path, spec, settings, 60, lambda line: line == "line 3")
    executor = await make_executor(command=command)
    await executor.submit(spec)
    assert await events.finished(spec.key) == RunOutcome("completed", exit_code=0)
    assert events.names(spec.key) == ["started", "logs", "finished"]
    assert events.lines(spec.key) == ["start", *(f"line {i}" for i in range(1, 51)), "end"]


async def test_recover_of_a_run_gone_without_status_is_false_and_spares_a_pid_reuser(
        make_executor, make_spec, work_dir, is_alive, reap):
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                                start_new_session=True)
    reap.append(stranger.pid)
    spec = make_spec()
    run_dir = work_dir / str(spec.key)
    run_dir.mkdir(parents=True)
    boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    (run_dir / "shim.json").write_text(json.dumps({
        "pid": stranger.pid, "start_time": "1", "boot_id": boot_id,
        "child": stranger.pid, "child_start_time": "1"}))
    executor = await make_executor()
    assert await executor.recover(spec.key, spec) is False
    assert not run_dir.exists()
    assert is_alive(stranger.pid)
    stranger.kill()
    stranger.wait()


async def test_stop_leaves_runs_running_for_the_next_server(
        make_executor, make_spec, script, events, work_dir):
    command = [*script(COUNTING), "40"]
    executor = await make_executor(command=command, stop_runs_on_shutdown=False)
    spec = make_spec()
    await executor.submit(spec)
    await events.wait_for(lambda: "line 3" in events.lines(spec.key))
    await executor.stop()
    assert asyncio.all_tasks() == {asyncio.current_task()}
    assert not events.payloads(spec.key, "finished")
    delivered = len(events.lines(spec.key))
    successor = await make_executor(command=command)
    assert await successor.recover(spec.key, spec, LogTail(0, 0, delivered)) is True
    assert await events.finished(spec.key) == RunOutcome("completed", exit_code=0)
    assert events.lines(spec.key) == ["start", *(f"line {i}" for i in range(1, 41)), "end"]


async def test_stop_runs_on_shutdown_kills_running_groups_and_leaves_no_task_behind(
        make_executor, make_spec, script, events, wait_dead, reap):
    executor = await make_executor(command=script(FAMILY), quota_cpu=1, sandbox="none")
    running, queued = make_spec(), make_spec()
    await executor.submit(running)
    await executor.submit(queued)
    grandchild = await grandchild_of(events, running.key)
    reap.append(grandchild)
    await executor.stop()
    assert await wait_dead(grandchild)
    assert asyncio.all_tasks() == {asyncio.current_task()}
    assert not events.payloads(running.key, "finished")


async def test_log_path_keeps_up_with_a_process_printing_a_million_lines(
        make_executor, make_spec, script, events):
    """Project target: at least 25% of what a pipe into ``wc -l`` carries."""
    command = script("""
        import sys
        write = sys.stdout.write
        for i in range(1_000_000):
            write(f"line number {i}\\n")
    """)
    started = time.perf_counter()
    counted = subprocess.run(f"{' '.join(command)} | wc -l", shell=True, check=True,
                             capture_output=True, text=True).stdout
    wc_rate = 1_000_000 / (time.perf_counter() - started)
    assert int(counted) == 1_000_000

    received = 0

    async def count_logs(key, lines):
        nonlocal received
        received += len(lines)

    events.run_logs = count_logs
    executor = await make_executor(command=command)
    spec = make_spec()
    started = time.perf_counter()
    await executor.submit(spec)
    await events.finished(spec.key)
    rate = 1_000_000 / (time.perf_counter() - started)
    print(f"\nlog path {rate:,.0f} lines/s, pipe into wc -l {wc_rate:,.0f} lines/s")
    assert received == 1_000_000
    assert rate >= 0.25 * wc_rate
