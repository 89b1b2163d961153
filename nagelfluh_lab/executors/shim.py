"""The supervisor of one local run: it owns the run's process, log and exit status.

Usage: ``python -I -S shim.py RUN_DIR WORKDIR DEADLINE GRACE MAX_LOG_BYTES -- COMMAND...``
(the command starts in WORKDIR)

The server starts one shim per run in a session of its own and never holds a
pipe to it, so the run does not notice when the server dies, restarts or is
upgraded — the way a containerd shim keeps a container alive across a kubelet
restart. Everything the server needs to find the run again lives in RUN_DIR,
which the run itself (sandboxed) never sees:

- ``shim.json``: who the shim is (pid, start time, boot id) and, once started,
  who its command is; written before anything else, so it is always there;
- ``output.log``: append-only records of what the command printed, each a
  ``RECORD`` header (stream, epoch time, length) and the bytes read;
- ``status.json``: how the command ended, written atomically once, last.

The shim enforces the deadline itself and takes SIGTERM as "cancel", so both
keep working while no server is there. It imports only the standard library,
and the server imports its format from here: one definition of the files.
"""

from __future__ import annotations

import json
import os
import select
import signal
import struct
import sys
import time
from collections.abc import Mapping

SHIM_FILE = "shim.json"
LOG_FILE = "output.log"
STATUS_FILE = "status.json"

RECORD = struct.Struct("<BdI")  # stream, epoch seconds, payload length
STDOUT, STDERR = 1, 2

EXIT_CANNOT_START = 127  # as a shell reports a command it cannot run
CHUNK = 64 * 1024
SHORT_READ = 16 * 1024
SETTLE_SECONDS = 0.001  # after a short read, let the pipe gather a larger chunk


def boot_id() -> str | None:
    try:
        with open("/proc/sys/kernel/random/boot_id") as handle:
            return handle.read().strip()
    except OSError:
        return None


def start_time(pid: int) -> str | None:
    """Start time of ``pid`` in clock ticks since boot (field 22 of /proc/pid/stat):
    with the boot id, it tells a process from a later one that reused its pid."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            stat = handle.read()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[19]


def write_json(path: str, record: Mapping[str, object]) -> None:
    """Replace ``path`` atomically: a reader sees the old record or the new, whole."""
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "w") as handle:
        json.dump(record, handle)
    os.replace(temporary, path)


class Shim:
    def __init__(self, run_dir: str, deadline: float, grace: float, max_log: int) -> None:
        self.run_dir = run_dir
        self.grace = grace
        self.max_log = max_log
        self.identity = {
            "pid": os.getpid(),
            "start_time": start_time(os.getpid()),
            "boot_id": boot_id(),
        }
        write_json(self._path(SHIM_FILE), self.identity)
        self.log_fd = os.open(self._path(LOG_FILE), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.logged = 0
        self.log_error: str | None = None
        self.deadline_at = time.monotonic() + deadline
        self.kill_at: float | None = None
        self.stop_reason: str | None = None
        self.cancel_requested = False
        self.status: int | None = None  # the command's wait status, once it exited
        self.exited_at = 0.0
        self.last_output = 0.0
        self.child = 0

    def _path(self, name: str) -> str:
        return os.path.join(self.run_dir, name)

    def run(self, command: list[str]) -> None:
        wake_read, wake_write = os.pipe()
        for fd in (wake_read, wake_write):
            os.set_blocking(fd, False)
        signal.set_wakeup_fd(wake_write)
        signal.signal(signal.SIGTERM, self._on_cancel)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # only to wake the poll
        for sig in (signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        pipes = self._spawn(command)
        if not pipes:
            self._finish()
            return
        poller = select.poll()
        for fd in (*pipes, wake_read):
            poller.register(fd, select.POLLIN)
        while pipes or self.status is None:
            for fd, _ in poller.poll(self._timeout_ms(bool(pipes))):
                if fd == wake_read:
                    _drain(wake_read)
                elif not self._forward(fd, pipes[fd]):
                    poller.unregister(fd)
                    os.close(fd)
                    del pipes[fd]
            self._tend(pipes, poller)
        self._finish()

    def _spawn(self, command: list[str]) -> dict[int, int]:
        """Start the command in a process group of its own; its pipes by stream."""
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        try:
            self.child = os.posix_spawn(
                command[0],
                command,
                os.environ,
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_DUP2, out_write, 1),
                    (os.POSIX_SPAWN_DUP2, err_write, 2),
                ],
                setpgroup=0,
                # Python ignores these; a child should start with the defaults.
                setsigdef=(signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGHUP),
            )
        except OSError as error:
            self._record(STDERR, f"cannot start {command[0]}: {error.strerror}\n".encode())
            self.status = EXIT_CANNOT_START << 8
            os.close(out_read)
            os.close(err_read)
            return {}
        finally:
            os.close(out_write)
            os.close(err_write)
        write_json(
            self._path(SHIM_FILE),
            {**self.identity, "child": self.child, "child_start_time": start_time(self.child)},
        )
        self.last_output = time.monotonic()
        return {out_read: STDOUT, err_read: STDERR}

    def _timeout_ms(self, reading: bool) -> int:
        now = time.monotonic()
        moments = [self.deadline_at] if self.stop_reason is None else []
        if self.kill_at is not None:
            moments.append(self.kill_at)
        if self.status is not None and reading:
            moments.append(self.last_output + self.grace)
        if not moments:
            return -1
        return max(0, int((min(moments) - now) * 1000) + 1)

    def _forward(self, fd: int, stream: int) -> bool:
        """Copy what one pipe holds into the log; False at its end."""
        data = os.read(fd, CHUNK)
        if not data:
            return False
        if len(data) < SHORT_READ:
            time.sleep(SETTLE_SECONDS)
            data += _read_more(fd, CHUNK - len(data))
        self.last_output = time.monotonic()
        self._record(stream, data)
        return True

    def _record(self, stream: int, data: bytes) -> None:
        """Append one record, unless the log is full or cannot be written: the command
        still runs (its pipes are drained), only its output is no longer kept."""
        if self.log_error is not None:
            return
        if self.logged + len(data) > self.max_log:
            self.log_error = f"the log reached its limit of {self.max_log} bytes"
            data = (
                f"[log limit of {self.max_log} bytes reached: "
                "further output of this run is discarded]\n"
            ).encode()
            stream = STDERR
        try:
            os.write(self.log_fd, RECORD.pack(stream, time.time(), len(data)) + data)
        except OSError as error:
            self.log_error = f"the log could not be written: {error.strerror}"
        self.logged += len(data)

    def _tend(self, pipes: dict[int, int], poller: select.poll) -> None:
        """Act on cancel, deadline, kill timer and exit, whatever woke the poll."""
        now = time.monotonic()
        if self.status is None:
            if self.cancel_requested and self.stop_reason is None:
                self._stop("cancelled", now)
            elif now >= self.deadline_at and self.stop_reason is None:
                self._stop("deadline", now)
            if self.kill_at is not None and now >= self.kill_at:
                _kill_group(self.child, signal.SIGKILL)
            pid, status = os.waitpid(self.child, os.WNOHANG)
            if pid:
                self.status = status
                self.exited_at = now
                # Whatever the command left in its group ends with it, as in a container.
                _kill_group(self.child, signal.SIGKILL)
        elif pipes and now - max(self.last_output, self.exited_at) >= self.grace:
            # Still open and idle a grace period after the exit: held by a process that
            # left the group (setsid). Only unsandboxed runs can do that.
            for fd in list(pipes):
                poller.unregister(fd)
                os.close(fd)
                del pipes[fd]

    def _stop(self, reason: str, now: float) -> None:
        self.stop_reason = reason
        self.kill_at = now + self.grace
        _kill_group(self.child, signal.SIGTERM)

    def _on_cancel(self, *_: object) -> None:
        self.cancel_requested = True

    def _finish(self) -> None:
        status = self.status if self.status is not None else 0
        record: dict[str, object] = {
            "stop_reason": self.stop_reason,
            "finished": time.time(),
            "log_error": self.log_error,
        }
        if os.WIFSIGNALED(status):
            record["signal"] = os.WTERMSIG(status)
        else:
            record["exit_code"] = os.waitstatus_to_exitcode(status)
        os.close(self.log_fd)
        write_json(self._path(STATUS_FILE), record)


def _read_more(fd: int, n: int) -> bytes:
    os.set_blocking(fd, False)
    try:
        return os.read(fd, n)
    except BlockingIOError:
        return b""
    finally:
        os.set_blocking(fd, True)


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def _kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def main(argv: list[str]) -> None:
    run_dir, workdir, deadline, grace, max_log, separator, *command = argv
    if separator != "--" or not command:
        raise SystemExit(
            "usage: shim.py RUN_DIR WORKDIR DEADLINE GRACE MAX_LOG_BYTES -- COMMAND..."
        )
    os.chdir(workdir)
    Shim(run_dir, float(deadline), float(grace), int(max_log)).run(command)


if __name__ == "__main__":
    main(sys.argv[1:])
