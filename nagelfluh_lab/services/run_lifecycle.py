"""The run lifecycle: versions handed to the executor, and followed until they end.

This is the executor's only partner (it implements ``ExecutorEvents``): it
persists every state change and log batch first, then publishes it, so the
database is always at least as new as anything a client saw. What it persists is
journaled in the same transaction for the other servers sharing the database
(``event_relay``). It persists them
with ``Database.run_durable``: a busy or unreachable database delays an event
(and, through ``run_logs``, the executor's reading) but never drops it. The end
of a run settles its bill, whatever way it ended.

Servers sharing a PostgreSQL database each follow the runs they hold the lease of
(``leases``), and take over, every ``lease_scan_seconds``, the Kubernetes runs whose
server died, whether their Job had been created or not: exactly one server follows,
finishes and bills each run.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NamedTuple

from nagelfluh_runner.protocol import RUNNER_ERROR_PREFIX
from nagelfluh_runner.storage import Storage
from sqlalchemy import CursorResult, and_, or_, select, tuple_, update
from sqlalchemy.orm import Session

from ..credentials import CredentialProvider, CredentialsError
from ..db.models import ACTIVE, TERMINAL, Dataset, Environment, ProcessTypeRecord, ProcessVersion
from ..db.session import Database
from ..executors.base import SYSTEM, Executor, LogLine, LogTail, RunKey, RunOutcome, RunSpec
from . import cache
from .billing import Billing
from .event_relay import Journal
from .events import EventHub, LogBatch, project_topic, version_topic
from .leases import LeasesUnavailable, open_leases
from .log_store import append_logs, last_output_line, stored_tail
from .manifest_ingestion import Ingestion
from .submission import Submission, run_spec
from .version_outputs import BATCH

log = logging.getLogger(__name__)

REASON_LINE_LIMIT = 500
CANCEL_WAIT_SECONDS = 30
# How often a server sharing its database looks for runs to take over.
LEASE_SCAN_SECONDS = 5.0
# How often versions waiting for identical work look whether it ended (at once when it
# ends on this server; this bounds the delay when it runs on another).
WAIT_POLL_SECONDS = 0.25

StateListener = Callable[[dict[str, Any]], None]


@dataclass
class _Run:
    """What is remembered about a run in flight, to avoid a lookup per log batch."""

    version_id: int
    project_id: int
    done: asyncio.Event
    writing: asyncio.Future[None] | None = None  # the log batch being stored, at most one

    async def drain(self) -> None:
        """Wait until every log batch handed in so far is stored and published."""
        if self.writing is not None:
            await self.writing


@dataclass(eq=False)
class RunLifecycle:
    """This server's runs in flight, from submission to their end: it binds itself to
    ``executor``, whose events it receives. ``server_id`` names this server among those
    sharing the database: the runs it starts are recorded as its own, and it takes up
    another server's only once it holds the run's lease (that server died)."""

    db: Database
    executor: Executor
    storage: Storage
    billing: Billing
    hub: EventHub
    credentials: CredentialProvider
    server_id: str
    on_state: StateListener
    lease_scan_seconds: float = LEASE_SCAN_SECONDS
    _runs: dict[RunKey, _Run] = field(default_factory=dict, init=False)
    _scan: asyncio.Task[None] | None = field(default=None, init=False)
    # Versions waiting for identical work in flight (services.cache), by row id.
    _waiting: dict[int, RunSpec] = field(default_factory=dict, init=False)
    _waiter: asyncio.Task[None] | None = field(default=None, init=False)
    _wake: asyncio.Event = field(default_factory=asyncio.Event, init=False)

    def __post_init__(self) -> None:
        self.journal = Journal.of(self.db, self.server_id)
        self.ingestion = Ingestion(self.db, self.storage, self.journal)
        self.executor.bind(self)
        self.leases = open_leases(self.db, self.executor.adoptable() is not None)

    def active_count(self) -> int:
        return len(self._runs)

    def owns(self, version: ProcessVersion) -> bool:
        """Whether this server runs ``version``. One from before servers were recorded
        has none, and is taken up as before by whichever server starts."""
        return version.server in (None, self.server_id)

    async def accept(self, submission: Submission) -> None:
        """Do what is left of a stored submission: announce its log notes, then announce
        it completed from the cache, let it wait for identical work, or run it."""
        key, project_id = submission.spec.key, submission.project_id
        if submission.notes:
            self._publish_lines(key, LogBatch(submission.first_note, submission.notes))
        if submission.reused is not None:
            self._publish_reused(key, project_id, submission.reused)
        elif submission.waiting:
            self._track(submission.spec, submission.version_id)
            if await self._lease(submission.version_id):
                self._wait(submission.spec, submission.version_id)
                message = submission.notes[-1].line  # the wait's own note comes last
                self._publish_state(key, project_id, "queued", None, message)
            else:
                self._runs.pop(key, None)
        else:
            await self.submit(submission.spec, submission.version_id)

    def _publish_reused(self, key: RunKey, project_id: int, reused: cache.Reused) -> None:
        self._publish_lines(key, LogBatch(reused.first_seq, reused.log))
        for start in range(0, len(reused.datasets), BATCH):
            event = {
                "type": "datasets",
                "process": key.process_id,
                "version": key.version,
                "datasets": reused.datasets[start : start + BATCH],
            }
            self._announce(key, project_id, event)
        self._publish_state(key, project_id, "completed", None, reused.state["message"])

    def _wait(self, spec: RunSpec, version_id: int) -> None:
        self._waiting[version_id] = spec
        if self._waiter is None or self._waiter.done():
            self._waiter = asyncio.create_task(self._watch_waiting(), name="nagelfluh cache waits")
        self._wake.set()

    async def _watch_waiting(self) -> None:
        """Settle the waiting versions whenever a run ends here, and every
        ``WAIT_POLL_SECONDS`` (the identical work may run on another server)."""
        while self._waiting:
            self._wake.clear()
            waiting = list(self._waiting)
            try:
                ready = await self.db.run_durable(partial(cache.waits_over, version_ids=waiting))
            except Exception:
                log.exception("could not look at the work %d versions wait for", len(waiting))
                ready = set()
            for version_id in ready:
                spec = self._waiting.get(version_id)  # None: it ended meanwhile
                try:
                    if spec is not None:
                        await self._settle_waiting(version_id, spec)
                except Exception:
                    log.exception("could not settle version %d's wait", version_id)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), WAIT_POLL_SECONDS)

    async def _settle_waiting(self, version_id: int, spec: RunSpec) -> None:
        """Once the work a version waits for has ended: complete the version from its
        outputs, wait on for another identical version in flight, or run it."""
        settled = await self.db.run_durable(
            lambda s: cache.settle_waiting(s, self.storage, self.journal, self.billing, version_id)
        )
        if settled is None:
            return
        run = self._runs.get(spec.key)
        if isinstance(settled, cache.Reused):
            self._waiting.pop(version_id, None)
            if run is not None:
                self._publish_reused(spec.key, run.project_id, settled)
                await self._forget(spec.key, run)
        elif isinstance(settled, LogBatch):
            self._waiting.pop(version_id, None)
            self._publish_lines(spec.key, settled)
            if run is not None:
                await self._start(spec)
        elif run is not None:  # another identical version is in flight: waiting on
            self._publish_state(spec.key, run.project_id, "queued", None, settled)

    async def submit(self, spec: RunSpec, version_id: int) -> None:
        self._track(spec, version_id)
        if await self._lease(version_id):  # a new version's is free, unless ...
            await self._start(spec)
        else:  # ... this server stalled so long that another took it up as stranded
            self._runs.pop(spec.key, None)

    async def stop(self) -> None:
        """Stop taking runs over and give up the leases: call once the executor has
        stopped, so that whoever takes the runs over is alone with them."""
        for task in (self._scan, self._waiter):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await self.leases.close()

    async def cancel(self, key: RunKey) -> None:
        """Stop the run and wait (a while) until it has ended; a run the executor no
        longer has ends here, as cancelled."""
        run = self._runs.get(key)
        if not await self.executor.cancel(key):
            await self.run_finished(
                key, RunOutcome("failed", "cancelled", "Process cancelled by user")
            )
        elif run is not None:
            try:
                await asyncio.wait_for(run.done.wait(), timeout=CANCEL_WAIT_SECONDS)
            except asyncio.TimeoutError:
                log.warning("cancel of %s did not finish within %d s", key, CANCEL_WAIT_SECONDS)

    async def _start(self, spec: RunSpec) -> None:
        """Hand a run to the executor with its storage credentials, minted now (an STS call
        may take a moment, and credentials minted at create time could expire in the queue)."""
        try:
            env = await asyncio.to_thread(self.credentials.for_run, spec)
        except CredentialsError as error:
            await self.run_finished(
                spec.key, RunOutcome("failed", "storage-credentials", str(error))
            )
            return
        await self.executor.submit(dataclasses.replace(spec, storage_env=env))

    def _track(self, spec: RunSpec, version_id: int) -> None:
        self._runs[spec.key] = _Run(version_id, spec.project_id, asyncio.Event())

    async def resume(self) -> None:
        """After a restart: re-queue what waited, re-attach or fail what was running.

        Only this server's own versions: another server on the same database may be
        running its own right now, and failing or starting them a second time here
        would lose them."""
        # Running versions first: they hold their quota again before any waiting one is admitted.
        found = sorted(await self.db.run(self._unfinished), key=lambda row: row[0] != "running")
        waiting = await self.db.run(self._waiting_ids)
        for state, spec, version_id, tail in found:
            # One submitted by a request served while this loaded (the server takes
            # requests before its extensions have started) is followed already; one
            # whose lease another server holds was taken over while this one was down.
            if spec.key not in self._runs and await self._lease(version_id):
                await self._follow(state, spec, version_id, tail, version_id in waiting)
        if self.leases.shared:
            self._scan = asyncio.create_task(self._keep_leases(), name="nagelfluh leases")

    async def _take_up(
        self, state: str, spec: RunSpec, version_id: int, tail: LogTail | None
    ) -> None:
        """Follow a version no executor here follows: re-attach to it if it was running,
        else hand it to the executor again (a Kubernetes executor takes its Job over)."""
        self._track(spec, version_id)
        if state == "running" and not await self.executor.recover(spec.key, spec, tail):
            await self.run_finished(
                spec.key,
                RunOutcome(
                    "failed", "server-restart", "The server stopped while this process was running"
                ),
            )
        elif state != "running":
            await self._start(spec)

    async def _lease(self, version_id: int) -> bool:
        """Whether this server may follow the version: it holds its lease now, or the
        leases cannot be told (the next scan settles it)."""
        try:
            return await self.leases.take(version_id)
        except LeasesUnavailable:
            return True

    async def _keep_leases(self) -> None:
        while True:
            await asyncio.sleep(self.lease_scan_seconds)
            try:
                await self.scan_leases()
            except LeasesUnavailable as error:
                log.warning("cannot reach the leases (%s): trying again", error)
            except Exception:
                log.exception("the lease scan failed; trying again")

    async def scan_leases(self) -> None:
        """Give up the runs whose lease another server took (this one's lease connection
        failed meanwhile), and take over those whose server died: the executor's runs
        that no server holds the lease of and that have not ended."""
        leased = await self.leases.survey()
        for key, run in list(self._runs.items()):
            if not await self.leases.take(run.version_id):
                log.warning("%s was taken over by another server: no longer followed here", key)
                await self.executor.abandon(key)
                await self._forget(key, run)
        keys = self.executor.adoptable()
        if keys is None:
            return
        leased.update(run.version_id for run in self._runs.values())
        # A pending version's server takes its lease as it stores it: one still pending
        # and unleased after two scans lost its server before it reached the cluster.
        stranded = Stranded(self.executor.kind, time.time() - 2 * self.lease_scan_seconds)
        for version_id in await self.db.run(lambda s: _orphans(s, keys, stranded, leased)):
            if await self.leases.take(version_id):
                await self._adopt(version_id)

    async def _adopt(self, version_id: int) -> None:
        """Take over the version whose lease this server has just taken, if it has not
        ended meanwhile: record it as this server's, then follow it as after a restart."""

        def claim(
            session: Session,
        ) -> tuple[str, RunSpec, int, LogTail | None, str, bool] | None:
            version = session.get(ProcessVersion, version_id, with_for_update=True)
            if version is None or version.state not in ACTIVE:
                return None
            previous = version.server or "none"
            version.server = self.server_id
            waiting = version.waiting_for_id is not None
            return (*self._unfinished_row(session, version), previous, waiting)

        found = None
        try:
            found = await self.db.run(claim)
        finally:
            if found is None:  # ended meanwhile, or the database failed: not this one's
                with contextlib.suppress(LeasesUnavailable):
                    await self.leases.release(version_id)
        if found is None:
            return
        state, spec, _, tail, previous, waiting = found
        log.info("taking over %s (%s) from server %s, which stopped", spec.key, state, previous)
        await self._follow(state, spec, version_id, tail, waiting)

    async def _follow(
        self, state: str, spec: RunSpec, version_id: int, tail: LogTail | None, waiting: bool
    ) -> None:
        """Follow a version that was another server's, or this one's before it restarted:
        let it wait on for identical work, or take it up."""
        if waiting:
            self._track(spec, version_id)
            self._wait(spec, version_id)
        else:
            await self._take_up(state, spec, version_id, tail)

    def _unfinished(self, session: Session) -> list[tuple[str, RunSpec, int, LogTail | None]]:
        """This server's versions that had not ended: ``_unfinished_row`` of each."""
        versions = session.scalars(
            select(ProcessVersion)
            .where(
                ProcessVersion.state.in_(ACTIVE),
                or_(ProcessVersion.server.is_(None), ProcessVersion.server == self.server_id),
            )
            .order_by(ProcessVersion.created, ProcessVersion.id)
        ).all()
        return [self._unfinished_row(session, version) for version in versions]

    def _waiting_ids(self, session: Session) -> set[int]:
        """This server's versions waiting for identical work (services.cache)."""
        return set(
            session.scalars(
                select(ProcessVersion.id).where(
                    ProcessVersion.state == "queued",
                    ProcessVersion.waiting_for_id.is_not(None),
                    or_(ProcessVersion.server.is_(None), ProcessVersion.server == self.server_id),
                )
            )
        )

    def _unfinished_row(
        self, session: Session, version: ProcessVersion
    ) -> tuple[str, RunSpec, int, LogTail | None]:
        """A version that has not ended: state, spec, row id, and for a running one where
        its stored log ends."""
        process = version.process
        record = session.scalar(
            select(ProcessTypeRecord)
            .where(
                ProcessTypeRecord.name == process.type_name,
                or_(
                    ProcessTypeRecord.project_id.is_(None),
                    ProcessTypeRecord.project_id == process.project_id,
                ),
            )
            .order_by(ProcessTypeRecord.project_id.is_(None))
        )
        inputs = [session.get_one(Dataset, i.dataset_id) for i in version.inputs]
        env = record.environment if record else Environment(name="missing", image=None)
        tail = stored_tail(session, version.id) if version.state == "running" else None
        spec = run_spec(process, version, env, inputs, self.storage.url)
        return version.state, spec, version.id, tail

    # -------------------------------------------------------- executor events

    async def run_queued(self, key: RunKey, message: str | None) -> None:
        """Queued, or queued again: a preempted Kubernetes run waits for its queue anew.

        Its start is forgotten then. Billing stays one HOLD per version, settled once
        at the end for the time since the last start: an attempt the cluster
        preempted is not charged, and nothing is charged twice.
        """
        await self._transition(key, "queued", None, message, from_states=ACTIVE, started=None)

    async def run_started(self, key: RunKey) -> None:
        await self._transition(
            key, "running", None, None, from_states=("pending", "queued"), started=time.time()
        )

    async def run_logs(self, key: RunKey, lines: list[LogLine]) -> None:
        """Store and publish a batch while the executor reads the next one.

        Storing runs on the database thread; letting one batch be in flight
        overlaps it with reading the pipe, and waiting for the previous one
        keeps batches in order and the executor's backpressure intact: while the
        database is stalled, the batch is retried and the executor reads no further.
        """
        run = self._runs.get(key)
        if run is None or not lines:
            return
        await run.drain()
        run.writing = asyncio.ensure_future(self._store_logs(key, run, lines))

    async def _store_logs(self, key: RunKey, run: _Run, lines: list[LogLine]) -> None:
        def store(session: Session) -> int:
            first = append_logs(session, run.version_id, lines)
            self.journal.log(session, run.version_id, first, len(lines))
            return first

        try:
            first = await self.db.run_durable(store)
        except Exception:
            # Not a stall (those are retried) but a bug: the run must still reach a final
            # state; the failure is the server's to report.
            log.exception("could not store %d log lines of %s", len(lines), key)
            return
        self._publish_lines(key, LogBatch(first, lines))

    async def run_progress(self, key: RunKey, progress: float) -> None:
        run = self._runs.get(key)
        if run is None:
            return
        await run.drain()

        def save(session: Session) -> None:
            session.execute(
                update(ProcessVersion)
                .where(ProcessVersion.id == run.version_id)
                .values(progress=progress)
            )
            self.journal.progress(session, run.version_id, progress)

        await self.db.run_durable(save)
        self._announce(
            key,
            run.project_id,
            {
                "type": "progress",
                "process": key.process_id,
                "version": key.version,
                "progress": progress,
            },
        )

    async def run_finished(self, key: RunKey, outcome: RunOutcome) -> None:
        run = self._runs.get(key)
        if run is None:
            return
        # Taken before waiting for the database: a stall must not be billed as run time.
        finished = outcome.ended or time.time()
        await run.drain()
        ingested = await self.ingestion.ingest(
            key,
            run.version_id,
            run.project_id,
            outcome,
            lambda event: self._announce(key, run.project_id, event),
        )
        if ingested is None:
            await self._forget(key, run)
            return
        state, reason = ingested.state, ingested.reason

        def finish(session: Session) -> tuple[bool, LogBatch | None]:
            """Whether this ended the version (not if it had already ended), and the
            system line appended, if any. Nothing outlives a failed attempt. The row is
            locked, and a version another server took over is left to it: two servers
            cannot both end it, nor both settle its bill."""
            version = session.get(ProcessVersion, run.version_id, with_for_update=True)
            if version is None or version.state in TERMINAL or not self.owns(version):
                return False, None
            tail = None
            text = with_reason_line(session, version.id, ingested)
            if text:
                line = [LogLine(finished, SYSTEM, text)]
                tail = LogBatch(append_logs(session, version.id, line), line)
                self.journal.log(session, version.id, tail.first, 1)
            version.state = state
            version.reason = reason
            version.message = text
            version.finished = finished
            version.waiting_for_id = None
            if state == "completed":
                version.progress = 1.0
            ran = (finished - version.started) if version.started else 0.0
            self.billing.settle(session, version, ran)
            cache.record_end(session, version, ingested)
            self.journal.state(session, version.id, state, reason, ingested.message)
            return True, tail

        ended, tail = await self.db.run_durable(finish)
        await self._forget(key, run)
        if not ended:
            return
        if tail is not None:
            self._publish_lines(key, tail)
        self._publish_state(key, run.project_id, state, reason, ingested.message)

    async def _forget(self, key: RunKey, run: _Run) -> None:
        """Stop following the run here and give its lease up (once it has ended, or
        another server holds it); versions waiting for identical work look again."""
        self._runs.pop(key, None)
        self._waiting.pop(run.version_id, None)
        self._wake.set()
        run.done.set()
        with contextlib.suppress(LeasesUnavailable):  # lost with the connection anyway
            await self.leases.release(run.version_id)

    async def _transition(
        self,
        key: RunKey,
        state: str,
        reason: str | None,
        message: str | None,
        from_states: tuple[str, ...],
        started: float | None,
    ) -> None:
        run = self._runs.get(key)
        if run is None:
            return
        await run.drain()

        def save(session: Session) -> bool:
            values: dict[str, Any] = {
                "state": state,
                "reason": reason,
                "message": message,
                "started": started,
            }
            result = session.execute(
                update(ProcessVersion)
                .where(
                    ProcessVersion.id == run.version_id,
                    ProcessVersion.state.in_(from_states),
                    or_(ProcessVersion.server.is_(None), ProcessVersion.server == self.server_id),
                )
                .values(**values)
            )
            changed = isinstance(result, CursorResult) and result.rowcount > 0
            if changed:
                self.journal.state(session, run.version_id, state, reason, message)
            return changed

        if await self.db.run_durable(save):
            self._publish_state(key, run.project_id, state, reason, message)

    def _publish_lines(self, key: RunKey, lines: LogBatch) -> None:
        self.hub.publish(
            version_topic(key.process_id, key.version),
            {"type": "log", "process": key.process_id, "version": key.version, "lines": lines},
        )

    def _publish_state(
        self, key: RunKey, project_id: int, state: str, reason: str | None, message: str | None
    ) -> None:
        event = {
            "type": "state",
            "process": key.process_id,
            "version": key.version,
            "state": state,
            "reason": reason,
            "message": message,
        }
        self._announce(key, project_id, event)
        self.on_state({**event, "project": project_id})

    def _announce(self, key: RunKey, project_id: int, event: dict[str, Any]) -> None:
        """Publish to the version's subscribers and to its project's."""
        self.hub.publish(version_topic(key.process_id, key.version), event)
        self.hub.publish(project_topic(project_id), event)


def with_reason_line(session: Session, version_id: int, outcome: RunOutcome) -> str | None:
    """The outcome's message, and for a run that exited on its own with a bare "Exited
    with code N", the last line it printed: the runner's one-line reason (a bad
    parameter, a type that cannot be loaded) or a traceback's exception, so a versions
    table shows why."""
    message = outcome.message
    generic = f"Exited with code {outcome.exit_code}"
    if outcome.state != "failed" or not message or not message.startswith(generic):
        return message
    line = last_output_line(session, version_id)
    if line is None:
        return message
    line = line.removeprefix(RUNNER_ERROR_PREFIX)
    if len(line) > REASON_LINE_LIMIT:
        line = line[: REASON_LINE_LIMIT - 3] + "..."
    return f"{generic}: {line}"


class Stranded(NamedTuple):
    """Pending versions of executor ``kind`` stored before ``before`` (a time)."""

    kind: str
    before: float


def _orphans(
    session: Session, keys: list[RunKey], stranded: Stranded, leased: set[int]
) -> list[int]:
    """The ids of the versions that have not ended, whose ids are not in ``leased``, and
    that are either runs the executor sees (``keys``), ``stranded``, or waiting for
    identical work: taken over as they come, oldest first."""
    found = or_(
        and_(
            ProcessVersion.state == "pending",
            ProcessVersion.executor == stranded.kind,
            ProcessVersion.created < stranded.before,
        ),
        # Waiting for identical work (services.cache): no Job yet, its server holds its lease.
        and_(ProcessVersion.waiting_for_id.is_not(None), ProcessVersion.executor == stranded.kind),
    )
    if keys:
        found = or_(
            found,
            tuple_(ProcessVersion.process_id, ProcessVersion.number).in_(
                [(key.process_id, key.version) for key in keys]
            ),
        )
    return list(
        session.scalars(
            select(ProcessVersion.id)
            .where(found, ProcessVersion.state.in_(ACTIVE), ProcessVersion.id.not_in(leased))
            .order_by(ProcessVersion.id)
        )
    )
