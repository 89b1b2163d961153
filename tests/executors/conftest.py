"""Fixtures for executor tests: a recording ExecutorEvents, executors under test,
run specs, and child programs written as small Python scripts.

``async def`` tests run on pytest-jupyter's event loop (its plugin is loaded by
``tests/conftest.py``), so no pytest-asyncio is needed."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from nagelfluh_lab.executors.base import LogLine, RunKey, RunOutcome, RunSpec
from nagelfluh_lab.executors.local import LocalExecutor

MIB = 1024**2
GIB = 1024**3


class RecordingEvents:
    """An ExecutorEvents that records every call in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, RunKey, object]] = []
        self._changed: asyncio.Event | None = None

    async def run_queued(self, key: RunKey, message: str | None) -> None:
        self._record("queued", key, message)

    async def run_started(self, key: RunKey) -> None:
        self._record("started", key, None)

    async def run_logs(self, key: RunKey, lines: list[LogLine]) -> None:
        self._record("logs", key, lines)

    async def run_progress(self, key: RunKey, progress: float) -> None:
        self._record("progress", key, progress)

    async def run_finished(self, key: RunKey, outcome: RunOutcome) -> None:
        self._record("finished", key, outcome)

    def _record(self, name: str, key: RunKey, payload: object) -> None:
        self.calls.append((name, key, payload))
        if self._changed is not None:
            self._changed.set()

    async def wait_for(self, predicate: Callable[[], object], timeout: float = 30) -> None:
        """Wait until ``predicate()`` is true, re-checking after every call."""
        await asyncio.wait_for(self._until(predicate), timeout)

    async def _until(self, predicate: Callable[[], object]) -> None:
        self._changed = self._changed or asyncio.Event()
        while not predicate():
            self._changed.clear()
            await self._changed.wait()

    async def finished(self, key: RunKey, timeout: float = 30) -> RunOutcome:
        await self.wait_for(lambda: self.payloads(key, "finished"), timeout)
        (outcome,) = self.payloads(key, "finished")
        return outcome

    def payloads(self, key: RunKey, name: str) -> list:
        return [payload for call, k, payload in self.calls if k == key and call == name]

    def names(self, key: RunKey) -> list[str]:
        """The run's calls in order, consecutive log batches folded into one."""
        names: list[str] = []
        for call, k, _ in self.calls:
            if k == key and not (call == "logs" and names[-1:] == ["logs"]):
                names.append(call)
        return names

    def index(self, name: str, key: RunKey) -> int:
        """Position of the first ``name`` call of ``key`` among all calls."""
        return next(i for i, (call, k, _) in enumerate(self.calls) if (call, k) == (name, key))

    def log_lines(self, key: RunKey, stream: str | None = None) -> list[LogLine]:
        return [line for batch in self.payloads(key, "logs") for line in batch
                if stream is None or line.stream == stream]

    def lines(self, key: RunKey, stream: str | None = None) -> list[str]:
        return [line.line for line in self.log_lines(key, stream)]


@pytest.fixture
def events() -> RecordingEvents:
    return RecordingEvents()


@pytest.fixture
def work_dir(tmp_path: Path) -> Path:
    return tmp_path / "work"


@pytest.fixture
def programs(tmp_path: Path) -> Path:
    """Where tests write child programs: the one test path a sandboxed run may read."""
    path = tmp_path / "programs"
    path.mkdir()
    return path


@pytest.fixture
def make_executor(
    events: RecordingEvents, work_dir: Path, programs: Path, started: Callable
) -> Callable[..., Awaitable[LocalExecutor]]:
    """``await make_executor(**config)``: a started executor (short grace, generous
    quota unless told) whose runs see the test's programs; stopped after the test,
    its runs with it."""

    async def make(**config: object) -> LocalExecutor:
        settings: dict = {"work_dir": str(work_dir), "quota_cpu": 16.0,
                          "quota_memory": 64 * GIB, "kill_grace_seconds": 0.5,
                          "read_only_paths": [str(programs)], "stop_runs_on_shutdown": True,
                          **config}
        executor = LocalExecutor(**settings)
        executor.bind(events)
        return await started(executor)

    return make


@pytest.fixture
def script(programs: Path) -> Callable[[str], list[str]]:
    """Write a child program; returns the command that runs it."""
    count = 0

    def write(source: str) -> list[str]:
        nonlocal count
        count += 1
        path = programs / f"child{count}.py"
        path.write_text(textwrap.dedent(source))
        return [sys.executable, str(path)]

    return write


@pytest.fixture
def make_spec(tmp_path: Path) -> Callable[..., RunSpec]:
    """Specs with distinct keys and small, valid defaults."""
    count = 0

    def make(**fields: object) -> RunSpec:
        nonlocal count
        count += 1
        values: dict = {
            "key": RunKey(count, 1), "project_id": 7, "process_type": "test",
            "parameters": {}, "input_datasets": {}, "cpu": 1.0, "memory": 256 * MIB,
            "deadline_seconds": 60.0, "storage_base": (tmp_path / "storage").as_uri(),
            **fields,
        }
        return RunSpec(**values)

    return make


def _is_alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie (a dead child nobody reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


async def _wait_dead(pid: int, timeout: float = 5) -> bool:
    for _ in range(int(timeout / 0.05)):
        if not _is_alive(pid):
            return True
        await asyncio.sleep(0.05)
    return False


@pytest.fixture
def is_alive() -> Callable[[int], bool]:
    return _is_alive


@pytest.fixture
def wait_dead() -> Callable[..., Awaitable[bool]]:
    """``await wait_dead(pid)``: True once the process is gone (within 5 s)."""
    return _wait_dead


@pytest.fixture
def reap() -> Iterator[list[int]]:
    """Pids a test leaves behind on purpose; killed afterwards if still there."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        try:
            os.kill(pid, 9)
        except OSError:
            pass
