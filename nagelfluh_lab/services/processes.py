"""Processes and their versions: submit, follow the executor, cancel, compare, restore.

This service is the executor's only partner (it implements ``ExecutorEvents``):
it persists every state change and log batch first, then publishes it, so the
database is always at least as new as anything a client saw. It persists them
with ``Database.run_durable``: a busy or unreachable database delays an event
(and, through ``run_logs``, the executor's reading) but never drops it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import groupby, repeat
from typing import Any

from nagelfluh_runner.storage import Storage
from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..credentials import CredentialProvider, CredentialsError
from ..db.models import (
    TERMINAL,
    Dataset,
    Environment,
    IdempotencyKey,
    Process,
    ProcessLog,
    ProcessTypeRecord,
    ProcessVersion,
    User,
    VersionInput,
)
from ..db.session import Database
from ..errors import Conflict, NotFound, ValidationFailed, field_error
from ..executors.base import (
    STDERR,
    SYSTEM,
    Executor,
    LogLine,
    LogTail,
    RunKey,
    RunOutcome,
    RunSpec,
)
from ..resources import Resources, parse_resources
from . import access, catalog, version_outputs
from .billing import Billing
from .diff import diff
from .events import (
    EventHub,
    LogBatch,
    line_text,
    line_time_and_stream,
    project_topic,
    version_topic,
)
from .outputs import ManifestError, Output, read_outputs
from .paging import page, page_size
from .serialize import process_json, version_json
from .version_outputs import first_outputs

log = logging.getLogger(__name__)

ACTIVE = ("pending", "queued", "running")
CANCELLABLE = ("queued", "running")
MAX_PAGE = 1000
MAX_LOG_PAGE = 10000

Submission = tuple[RunSpec, int]  # what to run, and the version's row id


@dataclass
class _Run:
    """What the service remembers about a run in flight, to avoid a lookup per log batch."""

    version_id: int
    project_id: int
    done: asyncio.Event
    writing: asyncio.Future | None = None  # the log batch being stored, at most one

    async def drain(self) -> None:
        """Wait until every log batch handed in so far is stored and published."""
        if self.writing is not None:
            await self.writing


class ProcessService:
    def __init__(
        self,
        db: Database,
        executor: Executor,
        storage: Storage,
        billing: Billing,
        hub: EventHub,
        default_resources: Resources,
        credentials: CredentialProvider,
        server_id: str,
        on_state: Callable[[dict], None] = lambda event: None,
    ) -> None:
        """``server_id`` names this server among those sharing the database: the runs
        it starts are recorded as its own, and it takes up no other server's."""
        self.db = db
        self.server_id = server_id
        self.executor = executor
        self.storage = storage
        self.billing = billing
        self.hub = hub
        self.default_resources = default_resources
        self.credentials = credentials
        self.on_state = on_state
        self._runs: dict[RunKey, _Run] = {}
        executor.bind(self)

    # ----------------------------------------------------------------- queries

    def active_count(self) -> int:
        return len(self._runs)

    async def list_processes(
        self, user_name: str, project: str | None, cursor: str | None, limit: str | None
    ) -> dict:
        size = page_size(limit, MAX_PAGE, 50)

        def query(session: Session) -> dict:
            user = access.ensure_user(session, user_name)
            projects = access.visible_project_ids(session, user, project)
            stmt = select(Process).where(Process.project_id.in_(projects))
            return page(
                session, stmt, Process.id, cursor, size, lambda rows: _processes_json(session, rows)
            )

        return await self.db.run(query)

    async def get_process(self, user_name: str, process_id: str) -> dict:
        def query(session: Session) -> dict:
            user = access.ensure_user(session, user_name)
            return _processes_json(session, [access.get_process(session, user, process_id)])[0]

        return await self.db.run(query)

    async def get_version(self, user_name: str, process_id: str, number: str) -> dict:
        def query(session: Session) -> dict:
            user = access.ensure_user(session, user_name)
            return _version_json(session, _version(session, user, process_id, number))

        return await self.db.run(query)

    async def compare(
        self, user_name: str, process_id: str, v1: str | None, v2: str | None
    ) -> dict:
        if v1 is None or v2 is None:
            raise field_error("/v1" if v1 is None else "/v2", "both v1 and v2 are required")

        def query(session: Session) -> dict:
            user = access.ensure_user(session, user_name)
            a = _version(session, user, process_id, v1)
            b = _version(session, user, process_id, v2)
            ra = a.resources.to_json()
            rb = b.resources.to_json()
            return {
                "process": a.process_id,
                "v1": a.number,
                "v2": b.number,
                "parameters": diff(a.parameters, b.parameters),
                "resources": diff(ra, rb),
                "equal": a.parameters == b.parameters and ra == rb,
            }

        return await self.db.run(query)

    async def logs(
        self, user_name: str, process_id: str, number: str, since: str | None, limit: str | None
    ) -> dict:
        after = _non_negative(since, "since")
        size = page_size(limit, MAX_LOG_PAGE, 1000)

        def query(session: Session) -> dict:
            user = access.ensure_user(session, user_name)
            version = _version(session, user, process_id, number)
            batch = read_logs(session, version.id, after, size)
            return {"items": batch.rows(), "next": batch.last if batch else after}

        return await self.db.run(query)

    # ---------------------------------------------------------------- commands

    async def create(self, user_name: str, body: Any, idempotency_key: str | None) -> dict:
        _require_object(body)
        request_hash = hashlib.sha256(
            json.dumps(body, sort_keys=True, default=str).encode()
        ).hexdigest()

        def create(session: Session) -> tuple[dict, Submission | None]:
            user = access.ensure_user(session, user_name)
            if idempotency_key is not None:
                seen = session.scalar(
                    select(IdempotencyKey).where(
                        IdempotencyKey.user_id == user.id, IdempotencyKey.key == idempotency_key
                    )
                )
                if seen is not None:
                    if seen.request_hash != request_hash:
                        raise Conflict(
                            "this Idempotency-Key was already used for a different request",
                            {"idempotency_key": idempotency_key, "process": seen.process_id},
                        )
                    process = session.get(Process, seen.process_id)
                    return _processes_json(session, [process])[0], None
            if "project" in body:
                project = access.get_project(session, user, body["project"])
            else:
                project = access.user_projects(session, user)[0]
            record = catalog.get_type(session, body.get("type"), user, "/type")
            name = body.get("name", record.title or record.name)
            if not isinstance(name, str) or not name.strip() or len(name) > 255:
                raise field_error("/name", "must be a non-empty string of at most 255 characters")
            process = Process(
                project_id=project.id, type_name=record.name, name=name.strip(), created_by=user.id
            )
            session.add(process)
            session.flush()
            submission = self._new_version(session, user, process, record, body)
            if idempotency_key is not None:
                session.add(
                    IdempotencyKey(
                        user_id=user.id,
                        key=idempotency_key,
                        request_hash=request_hash,
                        process_id=process.id,
                    )
                )
            session.flush()
            session.refresh(process)
            return _processes_json(session, [process])[0], submission

        try:
            result, submission = await self.db.run(create)
        except IntegrityError:
            if idempotency_key is None:
                raise
            # A concurrent request with the same key won the race: answer with its process.
            result, submission = await self.db.run(create)
        if submission is not None:
            await self._submit(*submission)
        return result

    async def add_version(
        self, user_name: str, process_id: str, body: Any, base: str | None = None
    ) -> dict:
        """A new version from ``body``; what it omits comes from version ``base`` (the latest
        by default). Restoring is adding a version with nothing changed from an old one."""
        _require_object(body)
        unknown = set(body) - {"parameters", "resources"}
        if unknown:
            raise field_error(f"/{sorted(unknown)[0]}", "unknown field")

        def add(session: Session) -> tuple[dict, Submission]:
            user = access.ensure_user(session, user_name)
            process = access.get_process(session, user, process_id)
            source = _version(session, user, process_id, base) if base else process.versions[-1]
            record = catalog.get_type(session, process.type_name, user)
            resources = body.get("resources", {})
            merged = {
                **body,
                "parameters": body.get("parameters", source.parameters),
                "resources": {**source.resources.to_json(), **resources}
                if isinstance(resources, dict)
                else resources,
            }
            submission = self._new_version(session, user, process, record, merged)
            return _version_json(session, process.versions[-1]), submission

        result, submission = await self.db.run(add)
        await self._submit(*submission)
        return result

    async def restore(self, user_name: str, process_id: str, number: str) -> dict:
        return await self.add_version(user_name, process_id, {}, base=number)

    async def cancel(self, user_name: str, process_id: str, number: str) -> dict:
        def check(session: Session) -> RunKey:
            user = access.ensure_user(session, user_name)
            version = _version(session, user, process_id, number)
            if version.state not in CANCELLABLE:
                raise Conflict(
                    f"version {version.number} is {version.state}; only queued or running "
                    "versions can be cancelled",
                    {"state": version.state, "reason": version.reason},
                )
            if not self._owns(version):
                raise Conflict(
                    f"version {version.number} is run by another server ({version.server}); "
                    "cancel it from there",
                    {"server": version.server},
                )
            return RunKey(version.process_id, version.number)

        key = await self.db.run(check)
        run = self._runs.get(key)
        if not await self.executor.cancel(key):
            await self.run_finished(
                key, RunOutcome("failed", "cancelled", "Process cancelled by user")
            )
        elif run is not None:
            try:
                await asyncio.wait_for(run.done.wait(), timeout=30)
            except asyncio.TimeoutError:
                log.warning("cancel of %s did not finish within 30 s", key)
        return await self.get_version(user_name, process_id, number)

    def _new_version(
        self,
        session: Session,
        user: User,
        process: Process,
        record: ProcessTypeRecord,
        body: dict,
    ) -> Submission:
        """Validate and store a new version (HOLD placed); the spec to run it with, and
        the version's row id."""
        unknown = set(body) - {"project", "type", "name", "parameters", "resources"}
        if unknown:
            raise field_error(f"/{sorted(unknown)[0]}", "unknown field")
        for field in ("parameters", "resources"):
            if field in body and body[field] is None:  # absent takes defaults; null is no object
                raise field_error(f"/{field}", "must be an object")
        parameters = catalog.validate_parameters(record.schema, body.get("parameters"))
        resources = parse_resources(body.get("resources"), self.default_resources)
        self._check_capacity(resources)
        inputs = self._resolve_inputs(session, process.project_id, record.schema, parameters)
        number = (process.versions[-1].number + 1) if process.versions else 1
        version = ProcessVersion(
            process_id=process.id,
            number=number,
            parameters=parameters,
            cpu=resources.cpu,
            memory=resources.memory,
            deadline_seconds=resources.deadline_seconds,
            state="pending",
            cost_estimated=self.billing.estimate(resources),
            created_by=user.id,
            server=self.server_id,
            inputs=[VersionInput(dataset_id=d.id) for d in inputs],
        )
        process.versions.append(version)
        session.flush()
        self.billing.hold(session, user, version, process.project_id)
        session.flush()
        return self._spec(process, version, record.environment, inputs), version.id

    def _check_capacity(self, resources: Resources) -> None:
        capacity = self.executor.capacity()
        if capacity is None:
            return
        cpu, memory = capacity
        if resources.cpu > cpu:
            raise field_error("/resources/cpu", f"{resources.cpu} cores exceed the quota of {cpu}")
        if resources.memory > memory:
            raise field_error(
                "/resources/memory",
                f"{resources.memory} bytes exceed the quota of {memory} bytes",
            )

    @staticmethod
    def _resolve_inputs(
        session: Session, project_id: int, schema: dict, parameters: dict
    ) -> list[Dataset]:
        inputs: dict[int, Dataset] = {}
        for path, dataset_id, field in catalog.dataset_fields(schema, parameters):
            dataset = session.get(Dataset, dataset_id)
            if dataset is None or dataset.project_id != project_id:
                raise field_error(
                    path, f"dataset {dataset_id} does not exist in this process's project"
                )
            why = catalog.unreadable_reason(field, dataset.meta)
            if why is not None:
                raise field_error(
                    path,
                    f"dataset {dataset_id} ({dataset.name!r}) is not a readable NetCDF/CSV "
                    f"file or Zarr store: {why}",
                )
            inputs[dataset.id] = dataset
        return list(inputs.values())

    def _spec(
        self,
        process: Process,
        version: ProcessVersion,
        environment: Environment,
        inputs: list[Dataset],
    ) -> RunSpec:
        return RunSpec(
            key=RunKey(process.id, version.number),
            project_id=process.project_id,
            process_type=process.type_name,
            parameters=version.parameters,
            input_datasets={
                str(d.id): {"key": d.key, "mime_type": d.mime_type, "name": d.name} for d in inputs
            },
            cpu=version.cpu,
            memory=version.memory,
            deadline_seconds=version.deadline_seconds,
            storage_base=self.storage.url,
            image=environment.image,
            # Filled just before submitting (see _start): credentials may be minted per run.
        )

    async def _submit(self, spec: RunSpec, version_id: int) -> None:
        self._track(spec, version_id)
        await self._start(spec)

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

    # ------------------------------------------------------------ start / stop

    def _owns(self, version: ProcessVersion) -> bool:
        """Whether this server runs ``version``. One from before servers were recorded
        has none, and is taken up as before by whichever server starts."""
        return version.server in (None, self.server_id)

    async def resume(self) -> None:
        """After a restart: re-queue what waited, re-attach or fail what was running.

        Only this server's own versions: another server on the same database may be
        running its own right now, and failing or starting them a second time here
        would lose them."""

        def load(session: Session) -> list[tuple[str, RunSpec, int, LogTail | None]]:
            versions = session.scalars(
                select(ProcessVersion)
                .where(
                    ProcessVersion.state.in_(ACTIVE),
                    or_(
                        ProcessVersion.server.is_(None),
                        ProcessVersion.server == self.server_id,
                    ),
                )
                .order_by(ProcessVersion.created, ProcessVersion.id)
            ).all()
            out = []
            for version in versions:
                process = version.process
                record = session.scalar(
                    select(ProcessTypeRecord).where(ProcessTypeRecord.name == process.type_name)
                )
                inputs = [session.get(Dataset, i.dataset_id) for i in version.inputs]
                env = record.environment if record else Environment(name="missing", image=None)
                tail = stored_tail(session, version.id) if version.state == "running" else None
                out.append(
                    (version.state, self._spec(process, version, env, inputs), version.id, tail)
                )
            return out

        # Running versions first: they hold their quota again before any waiting one is admitted.
        found = sorted(await self.db.run(load), key=lambda row: row[0] != "running")
        for state, spec, version_id, tail in found:
            if spec.key in self._runs:
                # Submitted by a request served while this loaded: the server takes
                # requests before its extensions have started.
                continue
            self._track(spec, version_id)
            if state == "running" and not await self.executor.recover(spec.key, spec, tail):
                await self.run_finished(
                    spec.key,
                    RunOutcome(
                        "failed",
                        "server-restart",
                        "The server stopped while this process was running",
                    ),
                )
            elif state != "running":
                await self._start(spec)

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
        try:
            first = await self.db.run_durable(lambda s: append_logs(s, run.version_id, lines))
        except Exception:
            # Not a stall (those are retried) but a bug: the run must still reach a final
            # state; the failure is the server's to report.
            log.exception("could not store %d log lines of %s", len(lines), key)
            return
        self.hub.publish(
            version_topic(key.process_id, key.version),
            {
                "type": "log",
                "process": key.process_id,
                "version": key.version,
                "lines": LogBatch(first, lines),
            },
        )

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

        await self.db.run_durable(save)
        message = {
            "type": "progress",
            "process": key.process_id,
            "version": key.version,
            "progress": progress,
        }
        self.hub.publish(version_topic(key.process_id, key.version), message)
        self.hub.publish(project_topic(run.project_id), message)

    async def run_finished(self, key: RunKey, outcome: RunOutcome) -> None:
        run = self._runs.get(key)
        if run is None:
            return
        # Taken before waiting for the database: a stall must not be billed as run time.
        finished = outcome.ended or time.time()
        await run.drain()
        state, reason, message = outcome.state, outcome.reason, outcome.message
        outputs: list[Output] = []
        if state == "completed":
            try:
                outputs = await asyncio.to_thread(
                    read_outputs, self.storage, run.project_id, key.process_id, key.version
                )
            except ManifestError as error:
                state, reason, message = "failed", "manifest", str(error)

        topic = version_topic(key.process_id, key.version)

        def publish(datasets: list[dict]) -> None:
            event = {
                "type": "datasets",
                "process": key.process_id,
                "version": key.version,
                "datasets": datasets,
            }
            self.hub.publish(topic, event)
            self.hub.publish(project_topic(run.project_id), event)

        if outputs and not await version_outputs.register(
            self.db, run.version_id, run.project_id, outputs, publish
        ):
            self._forget(key, run)
            return

        def finish(session: Session) -> tuple[bool, LogBatch | None]:
            """Whether this ended the version (not if it had already ended), and the
            system line appended, if any. Nothing outlives a failed attempt."""
            version = session.get(ProcessVersion, run.version_id)
            if version is None or version.state in TERMINAL:
                return False, None
            tail = None
            text = with_reason_line(session, version.id, outcome, message)
            if text:
                line = [LogLine(finished, SYSTEM, text)]
                tail = LogBatch(append_logs(session, version.id, line), line)
            version.state = state
            version.reason = reason
            version.message = text
            version.finished = finished
            if state == "completed":
                version.progress = 1.0
            ran = (finished - version.started) if version.started else 0.0
            self.billing.settle(session, version, ran)
            return True, tail

        ended, tail = await self.db.run_durable(finish)
        self._forget(key, run)
        if not ended:
            return
        if tail is not None:
            self.hub.publish(
                topic,
                {
                    "type": "log",
                    "process": key.process_id,
                    "version": key.version,
                    "lines": tail,
                },
            )
        self._publish_state(key, run.project_id, state, reason, message)

    def _forget(self, key: RunKey, run: _Run) -> None:
        self._runs.pop(key, None)
        run.done.set()

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
                .where(ProcessVersion.id == run.version_id, ProcessVersion.state.in_(from_states))
                .values(**values)
            )
            return result.rowcount > 0

        if await self.db.run_durable(save):
            self._publish_state(key, run.project_id, state, reason, message)

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
        self.hub.publish(version_topic(key.process_id, key.version), event)
        self.hub.publish(project_topic(project_id), event)
        self.on_state({**event, "project": project_id})


# ------------------------------------------------------------------ helpers


def append_logs(session: Session, version_id: int, lines: list[LogLine]) -> int:
    """Store lines with the next contiguous seq numbers; the first seq used."""
    first = (
        session.execute(
            update(ProcessVersion)
            .where(ProcessVersion.id == version_id)
            .values(log_count=ProcessVersion.log_count + len(lines))
            .returning(ProcessVersion.log_count)
        ).scalar_one()
        - len(lines)
        + 1
    )
    rows = []
    seq = first
    for (t, stream), run in groupby(lines, key=line_time_and_stream):
        texts = list(map(line_text, run))
        joined = "\n".join(texts)
        if joined.count("\n") != len(texts) - 1:  # a line with a newline of its own
            joined = "\n".join(text.replace("\n", " ") for text in texts)
        rows.append(
            {
                "version_id": version_id,
                "seq": seq,
                "count": len(texts),
                "time": t,
                "stream": stream,
                "text": joined,
            }
        )
        seq += len(texts)
    session.execute(insert(ProcessLog), rows)
    return first


# The runner prints why it gave up as its last line, with this prefix (exit codes 1, 2, 4).
RUNNER_ERROR_PREFIX = "nagelfluh-runner: error: "
REASON_LINE_LIMIT = 500
_TAIL_ROWS = 20


def with_reason_line(
    session: Session, version_id: int, outcome: RunOutcome, message: str | None
) -> str | None:
    """``message``, and for a run that exited on its own with a bare "Exited with code
    N", the last line it printed: the runner's one-line reason (a bad parameter, a type
    that cannot be loaded) or a traceback's exception, so a versions table shows why."""
    code = outcome.exit_code
    generic = f"Exited with code {code}"
    if outcome.state != "failed" or not message or not message.startswith(generic):
        return message
    line = last_output_line(session, version_id)
    if line is None:
        return message
    line = line.removeprefix(RUNNER_ERROR_PREFIX)
    if len(line) > REASON_LINE_LIMIT:
        line = line[: REASON_LINE_LIMIT - 3] + "..."
    return f"{generic}: {line}"


def last_output_line(session: Session, version_id: int) -> str | None:
    """The last non-blank line of the run's stderr, or of its output where the executor
    has one stream only (a pod's log); None if it printed nothing."""
    rows = session.execute(
        select(ProcessLog.stream, ProcessLog.text)
        .where(ProcessLog.version_id == version_id, ProcessLog.stream != SYSTEM)
        .order_by(ProcessLog.seq.desc())
        .limit(_TAIL_ROWS)
    ).all()
    if any(stream == STDERR for stream, _ in rows):
        rows = [row for row in rows if row[0] == STDERR]
    for _, text in rows:
        for line in reversed(text.split("\n")):
            if line.strip():
                return line.strip()
    return None


def stored_tail(session: Session, version_id: int) -> LogTail | None:
    """Where the version's stored log ends (its last line's time, and how many
    stored lines have that time), or None if it has none."""
    last = session.scalar(
        select(ProcessLog.time)
        .where(ProcessLog.version_id == version_id)
        .order_by(ProcessLog.seq.desc())
        .limit(1)
    )
    if last is None:
        return None
    count = session.scalar(
        select(func.sum(ProcessLog.count)).where(
            ProcessLog.version_id == version_id, ProcessLog.time == last
        )
    )
    own = session.scalar(
        select(func.coalesce(func.sum(ProcessLog.count), 0)).where(
            ProcessLog.version_id == version_id, ProcessLog.stream != SYSTEM
        )
    )
    return LogTail(last, int(count), int(own))


def read_logs(session: Session, version_id: int, after: int, limit: int) -> LogBatch:
    """Up to ``limit`` stored lines after seq ``after``, as one contiguous batch."""
    containing = (
        select(func.coalesce(func.max(ProcessLog.seq), 0))
        .where(ProcessLog.version_id == version_id, ProcessLog.seq <= after + 1)
        .scalar_subquery()
    )
    chunks = session.execute(
        select(ProcessLog.seq, ProcessLog.time, ProcessLog.stream, ProcessLog.text)
        .where(ProcessLog.version_id == version_id, ProcessLog.seq >= containing)
        .order_by(ProcessLog.seq)
        .limit(limit)
    )
    lines: list[tuple] = []
    for seq, t, stream, text in chunks:
        texts = text.split("\n")[max(0, after + 1 - seq) :]
        lines += zip(repeat(t), repeat(stream), texts[: limit - len(lines)])
        if len(lines) >= limit:
            break
    return LogBatch(after + 1, lines)


def _processes_json(session: Session, processes: list[Process]) -> list[dict]:
    outputs = first_outputs(session, [v for p in processes for v in p.versions])
    return [process_json(p, outputs) for p in processes]


def _version_json(session: Session, version: ProcessVersion) -> dict:
    return version_json(version, first_outputs(session, [version])[version.id])


def _version(session: Session, user: User, process_id: object, number: object) -> ProcessVersion:
    process = access.get_process(session, user, process_id)
    parsed = access.natural(number)
    if parsed is None:
        raise NotFound(f"version {number} not found", {"version": number})
    version = session.scalar(
        select(ProcessVersion).where(
            ProcessVersion.process_id == process.id, ProcessVersion.number == parsed
        )
    )
    if version is None:
        raise NotFound(
            f"process {process.id} has no version {number}",
            {"process": process.id, "version": number},
        )
    return version


def _non_negative(value: str | None, name: str) -> int:
    if value is None:
        return 0
    parsed = access.natural(value, access.MAX_ID - 1)  # read_logs asks for seq value + 1
    if parsed is None:
        raise field_error(f"/{name}", f"must be an integer from 0 to {access.MAX_ID - 1}")
    return parsed


def _require_object(body: Any) -> None:
    if not isinstance(body, dict):
        raise ValidationFailed(
            "the body must be a JSON object", [{"path": "/", "message": "must be an object"}]
        )
