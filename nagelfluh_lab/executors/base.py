"""The small interface every executor implements, so local and Kubernetes swap by config.

An executor knows nothing about the database: the process service hands it a
``RunSpec`` and receives what happens through ``ExecutorEvents``. The service
persists states, assigns log ``seq`` numbers and settles billing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple, Protocol

from traitlets import Float, Int
from traitlets.config import LoggingConfigurable

# Log streams. "system" marks lines the server writes itself (cancel, deadline, ...).
STDOUT = "stdout"
STDERR = "stderr"
SYSTEM = "system"


@dataclass(frozen=True)
class RunKey:
    process_id: int
    version: int

    def __str__(self) -> str:
        return f"process-{self.process_id}-v{self.version}"


@dataclass(frozen=True)
class RunSpec:
    """Everything needed to start one version, independent of where it runs."""

    key: RunKey
    project_id: int
    process_type: str
    parameters: dict[str, Any]  # JSON, valid against the process type's schema
    # by dataset id: {"key", "mime_type", "name"} (protocol.ENV_INPUT_DATASETS_JSON)
    input_datasets: dict[str, dict[str, str]]
    cpu: float  # cores
    memory: int  # bytes
    deadline_seconds: float
    storage_base: str
    image: str | None = None
    storage_env: dict[str, str] = field(default_factory=dict)
    # A project's type: its revision's notebook, a storage key (protocol.ENV_NOTEBOOK).
    notebook: str | None = None


class LogTail(NamedTuple):
    """Where a run's stored log ends, so an executor that re-reads a log after a
    restart skips what is stored: the time of its last line and how many stored
    lines have exactly that time (a pod's log, whose lines carry the kubelet's
    timestamps, is skipped by time), and how many lines of the run's own streams
    are stored in all (a local run's log file is skipped by count).

    Not ``count``: a field of that name would hide ``tuple.count``."""

    time: float
    count_at_time: int
    lines: int = 0


class LogLine(NamedTuple):
    """A named tuple, not a dataclass: a million of these are made per noisy run."""

    time: float  # epoch seconds
    stream: str
    line: str


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended. ``reason`` is None for success, else e.g. "error",
    "cancelled", "deadline", "oom"."""

    state: str  # "completed" | "failed"
    reason: str | None = None
    message: str | None = None
    exit_code: int | None = None
    # When the run ended, if the executor knows (a local run that ended while the
    # server was down): billing counts the run's time, not the server's downtime.
    ended: float | None = field(default=None, compare=False)
    # The image the run ran, pinned by digest (``name@sha256:...``), if the executor knows
    # (a pod's status): what its provenance records and an exact re-run pins.
    image: str | None = field(default=None, compare=False)


class ExecutorEvents(Protocol):
    """Callbacks the process service implements; all are awaited in order per run."""

    async def run_queued(self, key: RunKey, message: str | None) -> None: ...

    async def run_started(self, key: RunKey) -> None: ...

    async def run_logs(self, key: RunKey, lines: list[LogLine]) -> None: ...

    async def run_progress(self, key: RunKey, progress: float) -> None: ...

    async def run_finished(self, key: RunKey, outcome: RunOutcome) -> None: ...


class Executor(LoggingConfigurable):
    """Runs versions. Subclasses are chosen by ``NagelfluhApp.executor_class``."""

    events: ExecutorEvents
    # Recorded on every version it runs: a server takes over only versions of its own
    # kind, whose runs it can follow (a Kubernetes server never starts a local one).
    kind: ClassVar[str] = "custom"

    # Both executors deliver the lines they read through a ``lines.LogBatcher``.
    log_batch_lines = Int(5000, help="Deliver log lines in batches of at most this many.").tag(
        config=True
    )
    log_batch_interval = Float(
        0.02, help="Deliver a partial batch this many seconds after its first line."
    ).tag(config=True)

    def bind(self, events: ExecutorEvents) -> None:
        self.events = events

    async def start(self) -> None:
        """Begin work (watches, queue loop). Called once when the server starts."""

    async def stop(self) -> None:
        """Stop background work. Runs already started may keep running."""

    def capacity(self) -> tuple[float, int] | None:
        """Largest (cpu, memory bytes) one run may request, or None if unbounded."""
        raise NotImplementedError

    async def submit(self, spec: RunSpec) -> None:
        """Queue a run. Must return quickly; progress comes back through events."""
        raise NotImplementedError

    async def cancel(self, key: RunKey) -> bool:
        """Stop a queued or running run; False if this executor does not know it.

        A cancelled run still ends with ``run_finished(reason="cancelled")``.
        """
        raise NotImplementedError

    async def recover(self, key: RunKey, spec: RunSpec, stored: LogTail | None = None) -> bool:
        """Re-attach to a run that was running when the server stopped.

        True if it is still being tracked (it will report through events);
        False if it died with the old server. ``stored`` is where its stored log
        ends (None: no line yet), so that lines already stored are not reported again.
        """
        raise NotImplementedError

    def adoptable(self) -> list[RunKey] | None:
        """Runs this executor sees but does not follow: those another server sharing the
        database started, which this one takes over (``recover``, ``submit``) once their
        server has died. None if runs live on the machine of the server that started
        them, so that no other server can ever take them over (the local executor)."""
        return None

    async def abandon(self, key: RunKey) -> None:
        """Stop following a run without reporting anything: another server has taken it
        over. The run itself goes on."""
        raise NotImplementedError
