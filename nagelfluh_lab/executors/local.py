"""The embedded default executor: each version runs on this machine, supervised by a
shim, sandboxed, and admitted by a quota queue.

A run is started through a shim (``shim.py``) in a session of its own, which owns
the run's process, log file and exit status — so a run outlives its server. The
server follows a run by tailing that log file into ``ExecutorEvents``; after a
restart (kill -9 included) it finds the shims still alive, re-attaches, ingests
what it had not stored (the service tells how many lines that was), and finishes
the runs that ended meanwhile from their status files. The shim enforces the
deadline itself and takes SIGTERM as cancel, so both hold across a restart. The
command runs under rlimits (``prlimit``) inside bubblewrap (``sandbox.py``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import getpass
import json
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Coroutine
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_data_dir
from nagelfluh_runner import protocol
from nagelfluh_runner.storage import FileStorage
from traitlets import Bool, Enum, Float, Int, List, Unicode, default

from . import limits, shim
from .base import STDERR, STDOUT, Executor, LogTail, RunKey, RunOutcome, RunSpec
from .contract import CANCELLED, GIB, MIB, exit_outcome, run_environment, threads
from .lines import LineSplitter, LogBatcher
from .quota import QuotaQueue
from .sandbox import Layout, SandboxUnavailable, bwrap_command, outermost, python_paths

HOME = "home"  # an unsandboxed run's home and scratch directory, inside its run directory
SANDBOX_HOME = "/tmp"
STREAMS = {shim.STDOUT: STDOUT, shim.STDERR: STDERR}
READ_SIZE = 1024 * 1024
# A live run's log file is polled: at once again after data, backing off to this when quiet.
POLL_MIN_SECONDS = 0.005
POLL_MAX_SECONDS = 0.1

# Address space is not memory: Python maps ~12 MiB, ``import numpy`` ~100 MiB
# (OpenBLAS reserves its buffers up front) and each BLAS thread another ~40 MiB
# (measured VmPeak after a matmul: 133 MiB with 1 thread, 174 MiB with 2), while
# the resident size stays ~30 MiB. RLIMIT_AS is the request plus this allowance,
# or a 100 MiB request could not even import numpy.
ADDRESS_SPACE_PER_THREAD = 64 * MIB
# util-linux's rlimit wrapper, ~1 ms per start where limits.py costs ~6 ms.
PRLIMIT = shutil.which("prlimit")


class LocalExecutor(Executor):
    """Runs versions on this machine, each under its own shim and sandbox."""

    kind = "local"
    quota_cpu = Float(help="CPU cores that running versions may request in total.").tag(config=True)
    quota_memory = Int(help="Bytes of memory that running versions may request in total.").tag(
        config=True
    )
    work_dir = Unicode(
        help="Where each run's shim keeps its files (log, status); never visible to runs."
    ).tag(config=True)
    command = List(
        Unicode(),
        default_value=[sys.executable, "-m", "nagelfluh_runner", "run"],
        help="The program a run executes; the contract variables tell it what to do.",
    ).tag(config=True)
    sandbox = Enum(
        ["bubblewrap", "none"],
        "bubblewrap",
        help="How runs are isolated. 'bubblewrap' (bwrap): read-only system, private /tmp, "
        "only the project's storage, no network, never root; runs are refused when bwrap "
        "cannot start. 'none': runs execute unsandboxed with the server's own access.",
    ).tag(config=True)
    sandbox_uid = Int(
        65534, help="The unprivileged uid (and gid) a sandboxed run gets when the server is root."
    ).tag(config=True)
    read_only_paths = List(
        Unicode(),
        help="Further paths a sandboxed run may read (reference data, code of your own); "
        "the interpreter and its import paths are always visible.",
    ).tag(config=True)
    hidden_paths = List(
        Unicode(),
        help="Paths no sandboxed run may see, even inside a read-only path (the app adds "
        "the Jupyter data, runtime and config dirs, the database and the storage root).",
    ).tag(config=True)
    scratch_bytes = Int(GIB, help="Size of a sandboxed run's private /tmp (its home).").tag(
        config=True
    )
    max_file_bytes = Int(64 * GIB, help="Largest file a run may write (RLIMIT_FSIZE).").tag(
        config=True
    )
    max_processes = Int(256, help="Processes a run may have at once (RLIMIT_NPROC).").tag(
        config=True
    )
    max_log_bytes = Int(
        2 * GIB, help="Output a run may print; what comes after is discarded, with a note."
    ).tag(config=True)
    stop_runs_on_shutdown = Bool(
        False,
        help="Kill running versions when the server shuts down. By default they go on and "
        "are re-attached when the server starts again.",
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
        self._bwrap: str | None = None
        self._visible: tuple[str, ...] = ()  # what every sandbox shows read-only
        self._refusal: str | None = None  # why no run can start here

    def capacity(self) -> tuple[float, int]:
        return (self.quota_cpu, self.quota_memory)

    async def start(self) -> None:
        os.makedirs(self.work_dir, mode=0o700, exist_ok=True)
        if self.sandbox == "none":
            self.log.warning(
                "LocalExecutor.sandbox = 'none': runs execute UNSANDBOXED as %s, with this "
                "server's access to its files, database, tokens and network",
                getpass.getuser(),
            )
            return
        try:
            await asyncio.to_thread(self._probe)
        except SandboxUnavailable as error:
            self._refusal = f"Local runs are refused: {error}"
            self.log.error("%s", self._refusal)

    def _probe(self) -> None:
        """Find bwrap and what a run must see, and start one trial sandbox: a machine
        where it cannot run says so now, not at the first user's run."""
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            raise SandboxUnavailable(
                "bubblewrap (bwrap) is not installed. Install it (Debian/Ubuntu: apt-get "
                "install bubblewrap; Fedora: dnf install bubblewrap), or set "
                "c.LocalExecutor.sandbox = 'none' to run processes unsandboxed"
            )
        self._visible = tuple(
            outermost([*python_paths(sys.executable), *map(os.path.realpath, self.read_only_paths)])
        )
        self._bwrap = bwrap
        trial = bwrap_command(bwrap, self._layout(None), [sys.executable, "-c", "pass"])
        try:
            subprocess.run(trial, capture_output=True, text=True, timeout=60, check=True)
        except subprocess.CalledProcessError as error:
            self._bwrap = None
            raise SandboxUnavailable(
                f"bubblewrap cannot start a sandbox here ({error.stderr.strip()}); "
                "unprivileged user namespaces may be disabled (sysctl "
                "kernel.unprivileged_userns_clone=1), or set c.LocalExecutor.sandbox = 'none'"
            ) from error

    async def stop(self) -> None:
        """Stop following runs. The runs go on (their shims own them) and ``recover``
        re-attaches them on the next start, unless ``stop_runs_on_shutdown``."""
        if self.stop_runs_on_shutdown:
            for run in self._runs.values():
                if run.shim is not None:
                    run.shim.kill()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def submit(self, spec: RunSpec) -> None:
        key = spec.key
        if key in self._runs:
            raise ValueError(f"{key} is already submitted")
        run = self._runs[key] = _Run(spec)
        # A shim may be running already: the previous server died after starting it but
        # before the start was stored. Take it over rather than start the work again.
        found = _ShimHandle.find(self._run_dir(key))  # two small files: quick
        if found is not None:
            self._quota.occupy(key, spec.cpu, spec.memory)
            self._launch(run, self._attach(run, found, skip=0, announce=True))
            return
        refusal = self._refusal
        reason = "sandbox"
        if refusal is None:
            refusal, reason = self._quota.refusal(spec.cpu, spec.memory), "quota"
        if refusal is None:
            self._quota.add(key, spec.cpu, spec.memory)
        self._launch(run, self._queue_and_run(run, refusal, reason))
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
        run.cancelled = True
        if run.shim is not None:
            run.shim.cancel()
        run.wake.set()
        return True

    async def recover(self, key: RunKey, spec: RunSpec, stored: LogTail | None = None) -> bool:
        """Re-attach to the shim of a run that was running when the server stopped, or
        finish it from its status file; False only if it is gone without a trace."""
        if key in self._runs:
            return True
        found = _ShimHandle.find(self._run_dir(key))
        if found is None:
            await asyncio.to_thread(_clear_run_dir, self._run_dir(key))
            return False
        run = self._runs[key] = _Run(spec)
        self._quota.occupy(key, spec.cpu, spec.memory)
        skip = stored.lines if stored is not None else 0
        self._launch(run, self._attach(run, found, skip=skip, announce=False))
        return True

    def _launch(self, run: _Run, work: Coroutine[Any, Any, RunOutcome]) -> None:
        task = asyncio.create_task(self._run(run, work), name=f"nagelfluh {run.spec.key}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _schedule(self) -> None:
        """Admit what fits and wake the runs admitted. Only those: waking every
        waiting run on every change made a burst of N submissions cost O(N²)."""
        for key in self._quota.admit():
            self._runs[key].wake.set()

    async def _run(self, run: _Run, work: Coroutine[Any, Any, RunOutcome]) -> None:
        """The life of one version; the only place that calls its events, so they
        arrive in order. Its files go only once its outcome is stored: a server
        killed before that finds them again."""
        key = run.spec.key
        try:
            try:
                outcome = await work
            except Exception as exc:
                self.log.exception("Executor error in %s", key)
                outcome = RunOutcome("failed", "error", f"Executor error: {exc}")
            finally:
                self._quota.remove(key)
                self._quota.release(key)
                self._schedule()
            await self.events.run_finished(key, outcome)
            del self._runs[key]  # reported: no longer cancellable
            await asyncio.to_thread(_clear_run_dir, self._run_dir(key))
        except Exception:
            self.log.exception("run_finished(%s) failed", key)
        finally:
            self._runs.pop(key, None)

    async def _queue_and_run(self, run: _Run, refusal: str | None, reason: str) -> RunOutcome:
        if refusal is not None:
            return RunOutcome("failed", reason, refusal)
        if not await self._wait_for_admission(run):
            return CANCELLED
        shim_handle = await self._spawn(run.spec)
        return await self._attach(run, shim_handle, skip=0, announce=True)

    async def _wait_for_admission(self, run: _Run) -> bool:
        """Report why the run waits, as it stands when it starts waiting (like a
        Kueue admission message), until the quota admits it (True) or it is
        cancelled (False)."""
        key = run.spec.key
        await self.events.run_queued(key, self._quota.message(key))
        while True:
            run.wake.clear()
            if run.cancelled:
                return False
            if self._quota.is_admitted(key):
                return True
            await run.wake.wait()

    async def _spawn(self, spec: RunSpec) -> _ShimHandle:
        run_dir = self._run_dir(spec.key)
        await asyncio.to_thread(self._prepare, spec, run_dir)
        home = SANDBOX_HOME if self._bwrap else str(run_dir / HOME)
        argv = [
            sys.executable,
            "-I",
            "-S",
            shim.__file__,
            str(run_dir),
            home if not self._bwrap else str(run_dir),
            repr(spec.deadline_seconds),
            repr(self.kill_grace_seconds),
            str(self.max_log_bytes),
            "--",
            *self._argv(spec),
        ]
        pid = os.posix_spawn(
            argv[0],
            argv,
            run_environment(spec, Path(home)),
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                (
                    os.POSIX_SPAWN_OPEN,
                    2,
                    str(run_dir / "shim.err"),
                    os.O_WRONLY | os.O_CREAT,
                    0o600,
                ),
            ],
            setsid=True,
        )
        return _ShimHandle(run_dir, pid, os.pidfd_open(pid), own=True)

    def _prepare(self, spec: RunSpec, run_dir: Path) -> None:
        """A clean run directory and, for a sandbox on file storage, the directories
        it binds: the project's (read-only) and the version's prefix (its own)."""
        _clear_run_dir(run_dir)
        run_dir.mkdir(mode=0o700, parents=True)
        if not self._bwrap:
            (run_dir / HOME).mkdir(mode=0o700)
            return
        for path, writable in self._storage_dirs(spec):
            os.makedirs(path, exist_ok=True)
            if writable and self._drop_to_uid() is not None:
                os.chown(path, self.sandbox_uid, self.sandbox_uid)

    def _storage_dirs(self, spec: RunSpec) -> list[tuple[str, bool]]:
        if not spec.storage_base.startswith("file:"):
            return []
        root = FileStorage(spec.storage_base).root
        prefix = protocol.version_prefix(spec.project_id, spec.key.process_id, spec.key.version)
        return [
            (os.path.join(root, str(spec.project_id)), False),
            (os.path.join(root, prefix.rstrip("/")), True),
        ]

    def _drop_to_uid(self) -> int | None:
        return self.sandbox_uid if os.geteuid() == 0 else None

    def _layout(self, spec: RunSpec | None) -> Layout:
        dirs = self._storage_dirs(spec) if spec is not None else []
        uid = self._drop_to_uid()
        return Layout(
            read_only=self._visible,
            # The work dir too: a run must not forge its own status or log.
            hidden=tuple(os.path.realpath(p) for p in [*self.hidden_paths, self.work_dir]),
            storage_read=tuple(path for path, writable in dirs if not writable),
            storage_write=tuple(path for path, writable in dirs if writable),
            # Object storage is reached over the network, with credentials scoped to the run.
            network=spec is not None and not spec.storage_base.startswith("file:"),
            scratch_bytes=self.scratch_bytes,
            uid=uid,
            gid=uid,
        )

    async def _attach(
        self, run: _Run, handle: _ShimHandle, skip: int, announce: bool
    ) -> RunOutcome:
        """Follow a run's shim to its end; ``skip`` lines of its log are stored already."""
        run.shim = handle
        key = run.spec.key
        try:
            if run.cancelled:
                handle.cancel()
            if announce:
                await self.events.run_started(key)
            await self._follow(key, handle, skip)
        except asyncio.CancelledError:
            raise  # the executor stops: the run goes on without us
        except Exception:
            handle.kill()
            raise
        finally:
            handle.close()
        return self._outcome(run, handle.status())

    async def _follow(self, key: RunKey, handle: _ShimHandle, skip: int) -> None:
        """Tail the shim's log into the events until the shim has exited and every
        record it wrote is delivered."""
        batcher = LogBatcher(
            partial(self.events.run_logs, key),
            partial(self.events.run_progress, key),
            self.log_batch_lines,
            self.log_batch_interval,
            skip=skip,
        )
        reader = _LogReader(handle.run_dir / shim.LOG_FILE)
        try:
            wait = POLL_MIN_SECONDS
            while True:
                exited = handle.exited.done()
                if await reader.forward(batcher):
                    wait = POLL_MIN_SECONDS
                elif exited:
                    break
                else:
                    await asyncio.wait([handle.exited], timeout=wait)
                    wait = min(2 * wait, POLL_MAX_SECONDS)
            await reader.close(batcher)
            await batcher.close()
        except BaseException:
            await batcher.abort()
            raise
        finally:
            reader.release()

    def _outcome(self, run: _Run, status: dict[str, Any] | None) -> RunOutcome:
        spec = run.spec
        if status is None and run.cancelled:
            return CANCELLED  # the shim took the SIGTERM before it could handle it
        if status is None:
            return RunOutcome(
                "failed", "error", "The run's supervisor died without recording how it ended"
            )
        if "signal" in status:
            returncode = -int(status["signal"])
        else:
            returncode = int(status["exit_code"])
            if self._bwrap and returncode > 128 and returncode - 128 in signal.valid_signals():
                returncode = 128 - returncode  # bwrap reports a signal N as exit 128 + N
        exit_code = returncode if returncode >= 0 else 128 - returncode
        if status.get("stop_reason") == "cancelled":
            outcome = dataclasses.replace(CANCELLED, exit_code=exit_code)
        elif status.get("stop_reason") == "deadline":
            outcome = RunOutcome(
                "failed",
                "deadline",
                f"Deadline of {spec.deadline_seconds:g} s exceeded: process stopped",
                exit_code,
            )
        else:
            outcome = exit_outcome(returncode, spec.memory, self._cpu_limits(spec)[0])
        message = outcome.message
        if status.get("log_error"):
            message = "; ".join(filter(None, [message, f"Log incomplete: {status['log_error']}"]))
        return dataclasses.replace(outcome, message=message, ended=status.get("finished"))

    def _run_dir(self, key: RunKey) -> Path:
        return Path(self.work_dir) / str(key)

    def _cpu_limits(self, spec: RunSpec) -> tuple[int, int]:
        """RLIMIT_CPU (soft, hard): SIGXCPU at soft, SIGKILL at hard."""
        soft = math.ceil(spec.cpu * spec.deadline_seconds + self.cpu_time_slack_seconds)
        return soft, soft + math.ceil(self.kill_grace_seconds) + 1

    def _argv(self, spec: RunSpec) -> list[str]:
        """The run's command under its rlimits, inside its sandbox if there is one."""
        limited = self._limited(spec)
        if self._bwrap is None:
            return limited
        return bwrap_command(self._bwrap, self._layout(spec), limited)

    def _limited(self, spec: RunSpec) -> list[str]:
        address_space = (
            spec.memory + self.address_space_allowance + threads(spec) * ADDRESS_SPACE_PER_THREAD
        )
        cpu_soft, cpu_hard = self._cpu_limits(spec)
        if PRLIMIT is not None:
            cpu = limits.capped(resource.RLIMIT_CPU, cpu_soft, cpu_hard)
            memory = limits.capped(resource.RLIMIT_AS, address_space, address_space)
            size = limits.capped(resource.RLIMIT_FSIZE, self.max_file_bytes, self.max_file_bytes)
            procs = limits.capped(resource.RLIMIT_NPROC, self.max_processes, self.max_processes)
            return [
                PRLIMIT,
                "--core=0:0",
                "--cpu={}:{}".format(*cpu),
                "--as={}:{}".format(*memory),
                "--fsize={}:{}".format(*size),
                "--nproc={}:{}".format(*procs),
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
            str(self.max_file_bytes),
            str(self.max_processes),
            *self.command,
        ]


@dataclass(eq=False)
class _Run:
    """What the executor tracks of one submitted version."""

    spec: RunSpec
    cancelled: bool = False
    shim: _ShimHandle | None = None  # once started (or found again after a restart)
    wake: asyncio.Event = field(default_factory=asyncio.Event)  # its queue state changed


class _ShimHandle:
    """The server's hold on one shim: its exit (through a pidfd, which no later
    process reusing the pid can be mistaken for), its signals and its files."""

    def __init__(self, run_dir: Path, pid: int, pidfd: int | None, own: bool) -> None:
        self.run_dir = run_dir
        self.pid = pid
        self._pidfd = pidfd
        self._own = own  # started by this server: reap it
        self._loop = asyncio.get_running_loop()
        self.exited: asyncio.Future[None] = self._loop.create_future()
        if pidfd is None:
            self.exited.set_result(None)
        else:
            self._loop.add_reader(pidfd, self._on_exit, pidfd)

    @classmethod
    def find(cls, run_dir: Path) -> _ShimHandle | None:
        """The shim a previous server left in ``run_dir``, alive or ended with a
        status; None if there is none, or it died without telling how the run went."""
        record = _read_json(run_dir / shim.SHIM_FILE)
        if record is None:
            return None
        pidfd = None
        if record.get("boot_id") == shim.boot_id():
            pid = int(record["pid"])
            try:
                pidfd = os.pidfd_open(pid)
            except ProcessLookupError:
                pass
            if pidfd is not None and shim.start_time(pid) != record.get("start_time"):
                os.close(pidfd)  # the pid belongs to someone else now
                pidfd = None
        if pidfd is None and _read_json(run_dir / shim.STATUS_FILE) is None:
            return None
        return cls(run_dir, int(record["pid"]), pidfd, own=False)

    def _on_exit(self, pidfd: int) -> None:
        self._loop.remove_reader(pidfd)
        if self._own:
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
        if not self.exited.done():
            self.exited.set_result(None)

    def status(self) -> dict[str, Any] | None:
        return _read_json(self.run_dir / shim.STATUS_FILE)

    def cancel(self) -> None:
        """Ask the shim to stop the run (SIGTERM, then SIGKILL after its grace)."""
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        """End the shim and its command at once (the sandbox dies with its shim)."""
        record = _read_json(self.run_dir / shim.SHIM_FILE) or {}
        self._signal(signal.SIGKILL)
        if record.get("child"):
            _signal_group(int(record["child"]), signal.SIGKILL)

    def _signal(self, sig: int) -> None:
        if self._pidfd is not None and not self.exited.done():
            try:
                signal.pidfd_send_signal(self._pidfd, sig)
            except ProcessLookupError:
                pass

    def close(self) -> None:
        if self._pidfd is not None:
            self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None


class _LogReader:
    """Reads the shim's log records from where it last stopped, into lines per stream."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd = -1
        self._rest = b""  # an incomplete record at the end of the file
        self._splitters = {STDOUT: LineSplitter(), STDERR: LineSplitter()}
        self._last = 0.0

    async def forward(self, batcher: LogBatcher) -> bool:
        """Deliver what was appended since the last call; False if nothing was.
        A page-cache read of a regular file does not block the loop noticeably."""
        if self._fd < 0:
            try:
                self._fd = os.open(self._path, os.O_RDONLY)
            except FileNotFoundError:
                return False
        data = os.read(self._fd, READ_SIZE)
        if not data:
            return False
        buffer = self._rest + data if self._rest else data
        offset, header = 0, shim.RECORD.size
        while len(buffer) - offset >= header:
            stream, at, size = shim.RECORD.unpack_from(buffer, offset)
            end = offset + header + size
            if end > len(buffer):
                break
            name = STREAMS[stream]
            self._last = at
            await batcher.add(name, self._splitters[name].feed(buffer[offset + header : end]), at)
            offset = end
        self._rest = buffer[offset:]
        return True

    async def close(self, batcher: LogBatcher) -> None:
        """Deliver the last line of each stream if it had no newline."""
        for name, splitter in self._splitters.items():
            await batcher.add(name, splitter.close(), self._last)

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _clear_run_dir(run_dir: Path) -> None:
    """Kill whatever a previous attempt left running from ``run_dir`` (shim and
    command, if they are still the processes recorded), and remove it."""
    record = _read_json(run_dir / shim.SHIM_FILE)
    if record is not None and record.get("boot_id") == shim.boot_id():
        for pid_field, start_field in (("pid", "start_time"), ("child", "child_start_time")):
            pid = record.get(pid_field)
            if pid and shim.start_time(int(pid)) == record.get(start_field):
                _signal_group(int(pid), signal.SIGKILL)
    shutil.rmtree(run_dir, ignore_errors=True)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
