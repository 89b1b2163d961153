"""Processes and their versions as the API offers them: read, create, add a version,
restore, compare, cancel, read logs.

Each call is one transaction for one user, who sees only their projects' work. The
jobs behind them have their own modules: ``submission`` checks and stores a new
version, ``run_lifecycle`` runs it and follows it to its end, ``log_store`` reads
and writes its log lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nagelfluh_runner.pointer import join
from nagelfluh_runner.storage import Storage
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import shapes
from ..credentials import CredentialProvider
from ..db.models import TERMINAL, Process, ProcessVersion, User
from ..db.session import Database
from ..errors import Conflict, NotFound, field_error
from ..executors.base import Executor, RunKey
from ..resources import Resources
from . import access, catalog
from .billing import Billing
from .diff import diff
from .events import EventHub
from .log_store import read_logs
from .paging import page
from .run_lifecycle import RunLifecycle, StateListener
from .serialize import process_json, version_json
from .submission import (
    Submission,
    Submitter,
    idempotent_process,
    remember_key,
    request_hash,
)
from .version_outputs import first_outputs

CANCELLABLE = ("queued", "running")
VERSION_FIELDS = {"parameters", "resources", "cache"}

Json = dict[str, Any]


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
        on_state: StateListener = lambda event: None,
    ) -> None:
        """``server_id`` names this server among those sharing the database: the runs
        it starts are recorded as its own, and it takes up no other server's."""
        self.db = db
        self.billing = billing
        self.default_resources = default_resources
        self.runs = RunLifecycle(
            db, executor, storage, billing, hub, credentials, server_id, on_state
        )
        self.submitter = Submitter(
            billing, default_resources, executor, server_id, storage, self.runs.journal
        )

    def active_count(self) -> int:
        return self.runs.active_count()

    async def resume(self) -> None:
        await self.runs.resume()

    async def stop(self) -> None:
        await self.runs.stop()

    # ----------------------------------------------------------------- queries

    async def list_processes(
        self, user_name: str, project: str | None, cursor: str | None, size: int
    ) -> shapes.ProcessPage:
        def query(session: Session, user: User) -> shapes.ProcessPage:
            projects = access.visible_project_ids(session, user, project)
            stmt = select(Process).where(Process.project_id.in_(projects))
            return page(
                session, stmt, Process.id, cursor, size, lambda rows: _processes_json(session, rows)
            )

        return await access.as_user(self.db, user_name, query)

    async def get_process(self, user_name: str, process_id: str) -> shapes.Process:
        return await access.as_user(
            self.db,
            user_name,
            lambda session, user: _processes_json(
                session, [access.get_process(session, user, process_id)]
            )[0],
        )

    async def get_version(self, user_name: str, process_id: str, number: str) -> shapes.Version:
        return await access.as_user(
            self.db,
            user_name,
            lambda session, user: _version_json(
                session, _version(session, user, process_id, number)
            ),
        )

    async def compare(self, user_name: str, process_id: str, v1: str, v2: str) -> shapes.Compare:
        def query(session: Session, user: User) -> shapes.Compare:
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

        return await access.as_user(self.db, user_name, query)

    async def logs(
        self, user_name: str, process_id: str, number: str, after: int, size: int
    ) -> Json:
        """Up to ``size`` stored lines after seq ``after``, and the seq to ask after next."""

        def query(session: Session, user: User) -> Json:
            version = _version(session, user, process_id, number)
            batch = read_logs(session, version.id, after, size)
            return {"items": batch.rows(), "next": batch.last if batch else after}

        return await access.as_user(self.db, user_name, query)

    # ---------------------------------------------------------------- commands

    async def create(
        self, user_name: str, body: Json, idempotency_key: str | None
    ) -> shapes.Process:
        """A new process with its version 1, submitted; with an Idempotency-Key, the
        answer of the earlier request that used it, if there was one."""
        digest = request_hash(body)

        def create(session: Session, user: User) -> tuple[shapes.Process, Submission | None]:
            if idempotency_key is not None:
                seen = idempotent_process(session, user, idempotency_key, digest)
                if seen is not None:
                    return _processes_json(session, [seen])[0], None
            process, submission = self.submitter.new_process(session, user, body)
            if idempotency_key is not None:
                remember_key(session, user, idempotency_key, digest, process)
            session.flush()
            session.refresh(process)
            return _processes_json(session, [process])[0], submission

        try:
            result, submission = await access.as_user(self.db, user_name, create)
        except IntegrityError:
            if idempotency_key is None:
                raise
            # A concurrent request with the same key won the race: answer with its process.
            result, submission = await access.as_user(self.db, user_name, create)
        if submission is not None:
            await self.runs.accept(submission)
        return result

    async def add_version(
        self, user_name: str, process_id: str, body: Json, base: str | None = None
    ) -> shapes.Version:
        """A new version from ``body``; what it omits comes from version ``base`` (the latest
        by default). Restoring is adding a version with nothing changed from an old one."""
        unknown = set(body) - VERSION_FIELDS
        if unknown:
            raise field_error(join("", sorted(unknown)[0]), "unknown field")

        def add(session: Session, user: User) -> tuple[shapes.Version, Submission]:
            process = access.get_process(session, user, process_id)
            source = _version(session, user, process_id, base) if base else process.versions[-1]
            record = catalog.get_type(
                session, process.type_name, user, project_id=process.project_id
            )
            resources = body.get("resources", {})
            merged = {
                **body,
                "parameters": body.get("parameters", source.parameters),
                "resources": {**source.resources.to_json(), **resources}
                if isinstance(resources, dict)
                else resources,
            }
            submission = self.submitter.new_version(session, user, process, record, merged)
            return _version_json(session, process.versions[-1]), submission

        result, submission = await access.as_user(self.db, user_name, add)
        await self.runs.accept(submission)
        return result

    async def restore(self, user_name: str, process_id: str, number: str) -> shapes.Version:
        return await self.add_version(user_name, process_id, {}, base=number)

    async def rerun(self, user_name: str, process_id: str, number: str) -> shapes.Version:
        """Re-run version ``number`` exactly: a new version from its provenance (parameters,
        inputs, resources; on Kubernetes its image pinned by digest), the cache bypassed.
        Once it ends, its outputs are compared with the original's (``reproducibility``)."""

        def add(session: Session, user: User) -> tuple[shapes.Version, Submission]:
            original = _version(session, user, process_id, number)
            details = {"state": original.state, "reason": original.reason}
            if original.state not in TERMINAL:
                raise Conflict(
                    f"version {original.number} is {original.state}; only a version that "
                    "ended can be re-run",
                    details,
                )
            if original.provenance is None:
                raise Conflict(
                    f"version {original.number} has no provenance record (it ran before "
                    "they were kept): restore it instead",
                    details,
                )
            process = original.process
            record = catalog.get_type(
                session, process.type_name, user, project_id=process.project_id
            )
            body = {"parameters": original.parameters, "resources": original.resources.to_json()}
            submission = self.submitter.new_version(
                session, user, process, record, body, rerun_of=original
            )
            return _version_json(session, process.versions[-1]), submission

        result, submission = await access.as_user(self.db, user_name, add)
        await self.runs.accept(submission)
        return result

    async def cancel(self, user_name: str, process_id: str, number: str) -> shapes.Version:
        """Cancel a queued or running version of this server's (409 otherwise); the
        version as it is once cancelled."""

        def check(session: Session, user: User) -> RunKey:
            version = _version(session, user, process_id, number)
            if version.state not in CANCELLABLE:
                raise Conflict(
                    f"version {version.number} is {version.state}; only queued or running "
                    "versions can be cancelled",
                    {"state": version.state, "reason": version.reason},
                )
            if not self.runs.owns(version):
                raise Conflict(
                    f"version {version.number} is run by another server ({version.server}); "
                    "cancel it from there",
                    {"server": version.server},
                )
            return RunKey(version.process_id, version.number)

        key = await access.as_user(self.db, user_name, check)
        await self.runs.cancel(key)
        return await self.get_version(user_name, process_id, number)


def _processes_json(session: Session, processes: Sequence[Process]) -> list[shapes.Process]:
    outputs = first_outputs(session, [v for p in processes for v in p.versions])
    return [process_json(p, outputs) for p in processes]


def _version_json(session: Session, version: ProcessVersion) -> shapes.Version:
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
