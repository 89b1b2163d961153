"""The embedded default executor: one subprocess per version on this machine.

Each version runs ``python -m nagelfluh_runner run`` (DESIGN §3) as the leader of
its own process group, in its own working directory, with a scrubbed environment
and rlimits, behind a quota queue. Everything it prints becomes log lines; the
run ends when the leader exits, and whatever it left in its group is killed then,
as a container's processes are when its main process exits.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from jupyter_core.paths import jupyter_data_dir
from nagelfluh_runner import protocol
from traitlets import Float, Int, List, Unicode, default

from . import limits
from .base import STDERR, STDOUT, Executor, LogTail, RunKey, RunOutcome, RunSpec
from .lines import LogBatcher, pump
from .quota import MIB, QuotaQueue, format_memory

CANCELLED = RunOutcome("failed", "cancelled", "Process cancelled by user")
PID_FILE = ".nagelfluh-run.json"

# Address space is not memory: Python maps ~12 MiB, ``import numpy`` ~100 MiB
# (OpenBLAS reserves its buffers up front) and each BLAS thread another ~40 MiB
# (measured VmPeak after a matmul: 133 MiB with 1 thread, 174 MiB with 2), while
# the resident size stays ~30 MiB. RLIMIT_AS is the request plus this allowance,
# or a 100 MiB request could not even import numpy.
ADDRESS_SPACE_PER_THREAD = 64 * MIB
# util-linux's rlimit wrapper, ~1 ms per start where limits.py costs ~6 ms.
PRLIMIT = shutil.which("prlimit")

# Signals that kill a process which ran out of memory: the kernel's OOM killer
# sends SIGKILL, and a failed allocation that is not checked ends in SIGSEGV.
OOM_SIGNALS = (signal.SIGKILL, signal.SIGSEGV)


class LocalExecutor(Executor):
    """Runs versions as local subprocesses, admitted by a CPU/memory quota."""

    quota_cpu = Float(help="CPU cores that running versions may request in total.").tag(config=True)
    quota_memory = Int(help="Bytes of memory that running versions may request in total.").tag(
        config=True
    )
    work_dir = Unicode(help="Where each run gets its scratch directory (also its HOME).").tag(
        config=True
    )
    command = List(
        Unicode(),
        default_value=[sys.executable, "-m", "nagelfluh_runner", "run"],
        help="The program a run executes; the contract variables tell it what to do.",
    ).tag(config=True)
    kill_grace_seconds = Float(
        5.0, help="Between SIGTERM and SIGKILL when a run is cancelled or overruns."
    ).tag(config=True)
    cpu_time_slack_seconds = Float(
        5.0,
        help="RLIMIT_CPU is cpu * deadline plus this, to cover interpreter start-up.",
    ).tag(config=True)
    address_space_allowance = Int(
        256 * MIB,
        help="Added to the memory request for RLIMIT_AS (plus 64 MiB per thread): "
        "mapped but unused address space of the interpreter and its libraries.",
    ).tag(config=True)

    @default("quota_cpu")
    def _default_quota_cpu(self) -> float:
        return float(os.cpu_count() or 1)

    @default("quota_memory")
    def _default_quota_memory(self) -> int:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")

    @default("work_dir")
    def _default_work_dir(self) -> str:
        return os.path.join(jupyter_data_dir(), "nagelfluh", "work")

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._quota: QuotaQueue[RunKey] = QuotaQueue(self.quota_cpu, self.quota_memory)
        self._runs: dict[RunKey, _Run] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def capacity(self) -> tuple[float, int]:
        return (self.quota_cpu, self.quota_memory)

    async def start(self) -> None:
        os.makedirs(self.work_dir, mode=0o700, exist_ok=True)

    async def stop(self) -> None:
        """Kill every run's process group and end its task, without reporting:
        the service finds these versions again through ``recover`` on its next start."""
        for run in self._runs.values():
            if run.child is not None:
                run.child.signal(signal.SIGKILL)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def submit(self, spec: RunSpec) -> None:
        key = spec.key
        if key in self._runs:
            raise ValueError(f"{key} is already submitted")
        refusal = self._quota.refusal(spec.cpu, spec.memory)
        if refusal is None:
            self._quota.add(key, spec.cpu, spec.memory)
        run = self._runs[key] = _Run(spec, exited=refusal is not None)
        task = asyncio.create_task(self._run(run, refusal), name=f"nagelfluh {key}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self._schedule()

    async def cancel(self, key: RunKey) -> bool:
        """Stop a queued or running version; False if it is unknown or already reported.

        A version whose process has just exited on its own is not stopped: it is
        still reported (True) and ends with its own outcome.
        """
        run = self._runs.get(key)
        if run is None:
            return False
        self._quota.remove(key)
        self._stop(run, "cancelled")
        return True

    async def recover(self, key: RunKey, spec: RunSpec, stored: LogTail | None = None) -> bool:
        """A subprocess cannot be re-attached after a restart: kill what is left of
        it, so no orphan keeps computing, and report it gone."""
        if key in self._runs:
            return True
        await self._clear_run_dir(self._run_dir(key))
        return False

    @staticmethod
    async def _clear_run_dir(run_dir: Path) -> None:
        """Kill the group a previous server started from ``run_dir``, if it is still
        alive, and remove the directory."""
        pgid = _leftover_group(run_dir)
        if pgid is not None:
            _signal_group(pgid, signal.SIGKILL)
        await asyncio.to_thread(shutil.rmtree, run_dir, ignore_errors=True)

    def _schedule(self) -> None:
        """Admit what fits and wake the runs admitted. Only those: waking every
        waiting run on every change made a burst of N submissions cost O(N²)."""
        for key in self._quota.admit():
            self._runs[key].wake.set()

    def _stop(self, run: _Run, reason: str) -> None:
        if run.exited:
            return
        if run.stop_reason is None:
            run.stop_reason = reason
        if run.child is None:
            run.wake.set()
        elif run.kill_timer is None:
            run.child.signal(signal.SIGTERM)
            run.kill_timer = asyncio.get_running_loop().call_later(
                self.kill_grace_seconds, run.child.signal, signal.SIGKILL
            )

    async def _run(self, run: _Run, refusal: str | None) -> None:
        """The life of one version; the only place that calls its events, so they
        arrive in order."""
        key = run.spec.key
        try:
            outcome = await self._settle(run, refusal)
            await self.events.run_finished(key, outcome)
        except Exception:
            self.log.exception("run_finished(%s) failed", key)
        finally:
            del self._runs[key]

    async def _settle(self, run: _Run, refusal: str | None) -> RunOutcome:
        """Queue and execute a version, then free its quota; an executor fault
        becomes a failed outcome rather than a version that never ends."""
        try:
            if refusal is not None:
                return RunOutcome("failed", "quota", refusal)
            if not await self._wait_for_admission(run):
                return CANCELLED
            return await self._execute(run)
        except Exception as exc:
            self.log.exception("Executor error in %s", run.spec.key)
            return RunOutcome("failed", "error", f"Executor error: {exc}")
        finally:
            self._quota.remove(run.spec.key)
            self._quota.release(run.spec.key)
            self._schedule()

    async def _wait_for_admission(self, run: _Run) -> bool:
        """Report why the run waits, as it stands when it starts waiting (like a
        Kueue admission message), until the quota admits it (True) or it is
        cancelled (False)."""
        key = run.spec.key
        await self.events.run_queued(key, self._quota.message(key))
        while True:
            run.wake.clear()
            if run.stop_reason is not None:
                return False
            if self._quota.is_admitted(key):
                return True
            await run.wake.wait()

    async def _execute(self, run: _Run) -> RunOutcome:
        if run.stop_reason is not None:
            return CANCELLED
        run_dir = self._run_dir(run.spec.key)
        await self._clear_run_dir(run_dir)  # a crash may have left it, even running
        run_dir.mkdir(mode=0o700, parents=True)
        try:
            returncode = await self._supervise(run, run_dir)
        finally:
            await asyncio.to_thread(shutil.rmtree, run_dir, ignore_errors=True)
        return self._outcome(run, returncode)

    async def _supervise(self, run: _Run, run_dir: Path) -> int:
        """Start the process, forward its output, and return its exit status."""
        spec = run.spec
        key = spec.key
        child = run.child = await _Child.spawn(
            self._argv(spec), run_dir, run_environment(spec, run_dir)
        )
        loop = asyncio.get_running_loop()
        deadline = loop.call_later(spec.deadline_seconds, self._stop, run, "deadline")
        readers: list[asyncio.Task[None]] = []
        batcher: LogBatcher | None = None
        done = False
        try:
            _write_pid_file(run_dir, child.pid)
            if run.stop_reason is not None:
                self._stop(run, run.stop_reason)
            await self.events.run_started(key)
            batcher = LogBatcher(
                partial(self.events.run_logs, key),
                partial(self.events.run_progress, key),
                self.log_batch_lines,
                self.log_batch_interval,
            )
            readers = [
                asyncio.create_task(child.forward(pipe, stream, batcher))
                for pipe, stream in zip(child.pipes, (STDOUT, STDERR), strict=True)
            ]
            returncode = await child.process.wait()
            run.exited = True
            child.signal(signal.SIGKILL)
            await self._drain(child, readers)
            await batcher.close()
            done = True
        finally:
            deadline.cancel()
            if run.kill_timer is not None:
                run.kill_timer.cancel()
            if not done:
                child.signal(signal.SIGKILL)
                for reader in readers:
                    reader.cancel()
                await asyncio.gather(*readers, return_exceptions=True)
                if batcher is not None:
                    await batcher.abort()
            child.close_pipes()
            await child.process.wait()
        return returncode

    async def _drain(self, child: _Child, readers: list[asyncio.Task[None]]) -> None:
        """Forward what is left once the group is dead. A pipe still open and idle
        for a whole grace period is held by a process that left the group (setsid):
        close it, or the run would never end."""
        grace = self.kill_grace_seconds
        exited_at = time.monotonic()
        pending: set[asyncio.Task[None]] = set(readers)
        while pending:
            _, pending = await asyncio.wait(pending, timeout=grace)
            now = time.monotonic()
            for pipe in child.pipes:
                if (
                    pipe.waiting_since is not None
                    and now - max(pipe.waiting_since, exited_at) >= grace
                ):
                    self.log.warning(
                        "Closing an output pipe of pgid %s held open by a "
                        "process outside the group",
                        child.pid,
                    )
                    pipe.close()
        await asyncio.gather(*readers)

    def _outcome(self, run: _Run, returncode: int) -> RunOutcome:
        spec = run.spec
        exit_code = returncode if returncode >= 0 else 128 - returncode
        if run.stop_reason == "cancelled":
            return RunOutcome("failed", "cancelled", CANCELLED.message, exit_code)
        if run.stop_reason == "deadline":
            return RunOutcome(
                "failed",
                "deadline",
                f"Deadline of {spec.deadline_seconds:g} s exceeded: process stopped",
                exit_code,
            )
        return exit_outcome(returncode, spec.memory, self._cpu_limits(spec)[0])

    def _run_dir(self, key: RunKey) -> Path:
        return Path(self.work_dir) / str(key)

    def _cpu_limits(self, spec: RunSpec) -> tuple[int, int]:
        """RLIMIT_CPU (soft, hard): SIGXCPU at soft, SIGKILL at hard."""
        soft = math.ceil(spec.cpu * spec.deadline_seconds + self.cpu_time_slack_seconds)
        return soft, soft + math.ceil(self.kill_grace_seconds) + 1

    def _argv(self, spec: RunSpec) -> list[str]:
        address_space = (
            spec.memory + self.address_space_allowance + _threads(spec) * ADDRESS_SPACE_PER_THREAD
        )
        cpu_soft, cpu_hard = self._cpu_limits(spec)
        if PRLIMIT is not None:
            cpu = limits.capped(resource.RLIMIT_CPU, cpu_soft, cpu_hard)
            memory = limits.capped(resource.RLIMIT_AS, address_space, address_space)
            return [
                PRLIMIT,
                "--core=0:0",
                "--cpu={}:{}".format(*cpu),
                "--as={}:{}".format(*memory),
                "--",
                *self.command,
            ]
        return [
            sys.executable,
            "-I",
            "-S",
            limits.__file__,
            str(address_space),
            str(cpu_soft),
            str(cpu_hard),
            *self.command,
        ]


def run_environment(spec: RunSpec, run_dir: Path) -> dict[str, str]:
    """The whole environment of a run: only what the contract names, so the
    server's own environment (tokens, credentials) never reaches a process."""
    threads = str(_threads(spec))
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "HOME": str(run_dir),
        "TMPDIR": str(run_dir),
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": threads,
        "OPENBLAS_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
    }
    if "LC_ALL" in os.environ:
        env["LC_ALL"] = os.environ["LC_ALL"]
    env.update(spec.storage_env)
    env.setdefault(protocol.ENV_STORAGE_BASE, spec.storage_base)
    env.update(
        {
            protocol.ENV_PROCESS_TYPE: spec.process_type,
            protocol.ENV_PROCESS_ID: str(spec.key.process_id),
            protocol.ENV_VERSION: str(spec.key.version),
            protocol.ENV_PROJECT_ID: str(spec.project_id),
            protocol.ENV_PARAMETERS_JSON: json.dumps(spec.parameters),
            protocol.ENV_INPUT_DATASETS_JSON: json.dumps(spec.input_datasets),
        }
    )
    return env


def exit_outcome(returncode: int, memory: int, cpu_seconds: int) -> RunOutcome:
    """How a process that ended on its own (not stopped by us) went."""
    if returncode == protocol.EXIT_OK:
        return RunOutcome("completed", exit_code=0)
    if returncode < 0:
        sig = _signal_name(-returncode)
        exit_code = 128 - returncode
        if -returncode in OOM_SIGNALS:
            return RunOutcome(
                "failed",
                "oom",
                f"Killed by {sig}: most likely out of memory (request {format_memory(memory)})",
                exit_code,
            )
        if -returncode == signal.SIGXCPU:
            return RunOutcome(
                "failed",
                "deadline",
                f"CPU time limit of {cpu_seconds} s exceeded: process stopped",
                exit_code,
            )
        return RunOutcome("failed", "error", f"Killed by {sig}", exit_code)
    if returncode == protocol.EXIT_OOM:
        return RunOutcome(
            "failed",
            "oom",
            f"Out of memory: the process needed more than its request of {format_memory(memory)}",
            returncode,
        )
    if returncode == protocol.EXIT_USAGE:
        return RunOutcome(
            "failed",
            "invalid",
            "Exited with code 2: invalid parameters, "
            "unknown process type or incomplete environment (see the log)",
            returncode,
        )
    return RunOutcome("failed", "error", f"Exited with code {returncode}", returncode)


@dataclass(eq=False)
class _Run:
    """What the executor tracks of one submitted version."""

    spec: RunSpec
    exited: bool = False  # its outcome is decided: stopping it no longer applies
    stop_reason: str | None = None  # "cancelled" | "deadline" once we stop it
    child: _Child | None = None
    kill_timer: asyncio.TimerHandle | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)  # its queue state changed


class _Pipe:
    """The read end of a child's stdout or stderr, read as a ``ByteSource``.

    Read directly (non-blocking ``os.read``, waiting on the event loop only when
    the pipe is empty), not through an asyncio transport: a transport reads on
    every readiness event, in pieces as small as one line of an unbuffered child,
    while this reads only when ``pump`` asks, so data left in the pipe meanwhile
    comes in one large chunk and a consumer that stops asking blocks the writer.
    The executor may close a pipe that a process outside the group keeps open;
    it tells such a pipe from a slow consumer by how long a read has waited.
    """

    def __init__(self, fd: int) -> None:
        os.set_blocking(fd, False)
        self._fd = fd
        self._loop = asyncio.get_running_loop()
        self._readable: asyncio.Future[None] | None = None
        self.waiting_since: float | None = None

    async def read(self, n: int) -> bytes:
        while self._fd >= 0:
            try:
                return os.read(self._fd, n)
            except BlockingIOError:
                await self._wait_readable()
        return b""

    async def _wait_readable(self) -> None:
        self._readable = self._loop.create_future()
        self._loop.add_reader(self._fd, _resolve, self._readable)
        self.waiting_since = time.monotonic()
        try:
            await self._readable
        finally:
            self.waiting_since = None
            if self._fd >= 0:
                self._loop.remove_reader(self._fd)

    def close(self) -> None:
        """Close the pipe; a pending read returns end of file."""
        if self._fd < 0:
            return
        self._loop.remove_reader(self._fd)
        os.close(self._fd)
        self._fd = -1
        if self._readable is not None:
            _resolve(self._readable)


class _Child:
    """A started process group and its stdout and stderr pipes."""

    def __init__(self, process: asyncio.subprocess.Process, pipes: list[_Pipe]) -> None:
        self.process = process
        self.pid = process.pid  # also its process group id (start_new_session)
        self.pipes = pipes

    @classmethod
    async def spawn(cls, argv: list[str], cwd: Path, env: dict[str, str]) -> _Child:
        fds = [os.pipe(), os.pipe()]
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=subprocess.DEVNULL,
                stdout=fds[0][1],
                stderr=fds[1][1],
                cwd=cwd,
                env=env,
                start_new_session=True,
            )
        except BaseException:
            for read, _ in fds:
                os.close(read)
            raise
        finally:
            for _, write in fds:
                os.close(write)
        return cls(process, [_Pipe(read) for read, _ in fds])

    async def forward(self, pipe: _Pipe, stream: str, batcher: LogBatcher) -> None:
        """Pump one pipe; if delivery fails, kill the group rather than leave it
        blocked on a pipe nobody reads."""
        try:
            await pump(pipe, stream, batcher)
        except BaseException:
            self.signal(signal.SIGKILL)
            raise

    def signal(self, sig: int) -> None:
        _signal_group(self.pid, sig)

    def close_pipes(self) -> None:
        for pipe in self.pipes:
            pipe.close()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _threads(spec: RunSpec) -> int:
    return max(1, math.ceil(spec.cpu))


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def _start_time(pid: int) -> str | None:
    """Start time of ``pid`` in clock ticks since boot (field 22 of /proc/pid/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[19]


def _write_pid_file(run_dir: Path, pid: int) -> None:
    record = {"pid": pid, "pgid": pid, "boot_id": _boot_id(), "start_time": _start_time(pid)}
    (run_dir / PID_FILE).write_text(json.dumps(record))


def _leftover_group(run_dir: Path) -> int | None:
    """The process group recorded in ``run_dir``'s pid file, unless that id may now
    belong to someone else. While a group has members the kernel does not hand its
    id to a new process; so within one boot, a group whose leader is gone, or whose
    leader has the recorded start time, is still the one we started."""
    try:
        record = json.loads((run_dir / PID_FILE).read_text())
        pid, pgid = int(record["pid"]), int(record["pgid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if record.get("boot_id") != _boot_id():
        return None
    start = _start_time(pid)
    if start is not None and start != record.get("start_time"):
        return None
    return pgid
