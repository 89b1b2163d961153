"""Live events across the servers that share one PostgreSQL database (DESIGN §7).

A server publishes what it stores to its own subscribers (``events.EventHub``). For
the other servers, the transaction that stores a log batch, a state, a progress or
a batch of outputs also writes an ``Event`` row (``Journal``), which a trigger
announces with NOTIFY when that transaction commits. Every server LISTENs
(``EventRelay``): a notification (the writer's origin and transaction id) only
wakes it. It reads the events after its cursor and their content (log lines,
datasets) back from the database, and publishes them to its own hub, skipping its
own, which its hub has published already. Notifications sent while it is not
listening are lost, so it reads on from its cursor after every (re)connect, and
polls slowly besides.

The cursor is ``(xid, id)`` of the last event handled, and a read takes only events
of transactions older than every one still running (``pg_snapshot_xmin``). An
event's id is drawn when its row is written but shows when its transaction
commits, possibly after one with a higher id: a reader going by id alone would
pass over it for good. Events of one version are written by the one server that
runs it, one transaction after the other, so their order is their ``(xid, id)``
order, and a subscriber gets every log line once, in order.

SQLite is one server's database: nothing here runs on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

from sqlalchemy import BigInteger, delete, insert, literal_column, select, tuple_
from sqlalchemy.orm import Session, selectinload

from ..db.models import Dataset, Event, Process, ProcessVersion
from ..db.session import Database
from ..errors import ServiceUnavailable
from .access import MAX_ID
from .events import EventHub, Message, Topic, project_topic, version_topic
from .log_store import read_logs
from .serialize import dataset_json

log = logging.getLogger(__name__)

CHANNEL = "nagelfluh_events"
PAGE = 1000
# Servers' clocks may differ this much (at most a quarter of the retention): events
# are pruned by the clock of whichever server prunes them.
CLOCK_SKEW_SECONDS = 60.0
RECONNECT_FIRST_SECONDS = 0.5
RECONNECT_MAX_SECONDS = 10.0
# A notified event may be held back by an older transaction still running: how soon,
# and how many times, to look again before leaving it to the next wake-up or poll.
HELD_BACK_RETRY_SECONDS = 0.02
HELD_BACK_RETRIES = 100
_XMIN = literal_column("pg_snapshot_xmin(pg_current_snapshot())::text::bigint", BigInteger)

Cursor = tuple[int, int]  # (xid, id) of the last event handled


def origin_of(server_id: str) -> str:
    """The short name of a server in its events and notifications."""
    return hashlib.sha256(server_id.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Journal:
    """Writes the event rows of what one server stores, each in the transaction that
    stores it; on SQLite (``enabled`` false) nothing."""

    origin: str
    enabled: bool

    @classmethod
    def of(cls, db: Database, server_id: str) -> Journal:
        return cls(origin_of(server_id), db.engine.dialect.name == "postgresql")

    def log(self, session: Session, version_id: int, first: int, count: int) -> None:
        """``count`` lines stored from seq ``first`` on."""
        self._write(session, version_id, "log", first, first + count - 1)

    def state(
        self,
        session: Session,
        version_id: int,
        state: str,
        reason: str | None,
        message: str | None,
    ) -> None:
        data = {"state": state, "reason": reason, "message": message}
        self._write(session, version_id, "state", data=data)

    def progress(self, session: Session, version_id: int, progress: float) -> None:
        self._write(session, version_id, "progress", data={"progress": progress})

    def datasets(self, session: Session, version_id: int, ids: Sequence[int]) -> None:
        """Outputs registered, with ``ids`` (the version's only ones in their range)."""
        if ids:
            self._write(session, version_id, "datasets", min(ids), max(ids))

    def _write(
        self,
        session: Session,
        version_id: int,
        kind: str,
        first: int | None = None,
        last: int | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        if self.enabled:
            session.execute(
                insert(Event).values(
                    origin=self.origin,
                    kind=kind,
                    version_id=version_id,
                    first=first,
                    last=last,
                    data=data,
                )
            )


class _Row(NamedTuple):
    """An event as read, with the ids its topics are named by."""

    xid: int
    id: int
    origin: str
    kind: str
    version_id: int
    first: int | None
    last: int | None
    data: dict[str, Any] | None
    process_id: int
    version: int
    project_id: int

    def topics(self) -> tuple[Topic, ...]:
        """Log lines go to the version's subscribers, the rest to its project's too."""
        topic = version_topic(self.process_id, self.version)
        return (topic,) if self.kind == "log" else (topic, project_topic(self.project_id))

    def span(self) -> tuple[int, int]:
        """The seqs (a log event) or dataset ids (a datasets event) it announces."""
        assert self.first is not None and self.last is not None  # set for these kinds
        return self.first, self.last


def _head(session: Session) -> Cursor:
    """A cursor past every event of a transaction that has ended: a server starting
    has no subscriber yet, and one that subscribes reads what those stored."""
    return session.execute(select(_XMIN)).scalar_one() - 1, MAX_ID


def _events_after(session: Session, cursor: Cursor, limit: int) -> list[_Row]:
    rows = session.execute(
        select(
            Event.xid,
            Event.id,
            Event.origin,
            Event.kind,
            Event.version_id,
            Event.first,
            Event.last,
            Event.data,
            ProcessVersion.process_id,
            ProcessVersion.number,
            Process.project_id,
        )
        .join(ProcessVersion, ProcessVersion.id == Event.version_id)
        .join(Process, Process.id == ProcessVersion.process_id)
        .where(Event.xid < _XMIN, tuple_(Event.xid, Event.id) > tuple_(*cursor))
        .order_by(Event.xid, Event.id)
        .limit(limit)
    )
    return [_Row(*row) for row in rows]


def _joined(rows: list[_Row]) -> list[_Row]:
    """Consecutive log events of one version as one, read with one query."""
    out: list[_Row] = []
    for row in rows:
        previous = out[-1] if out else None
        if (
            previous is not None
            and row.kind == previous.kind == "log"
            and row.version_id == previous.version_id
            and row.span()[0] == previous.span()[1] + 1
        ):
            out[-1] = previous._replace(last=row.last)
        else:
            out.append(row)
    return out


def _messages(session: Session, rows: list[_Row]) -> list[Message]:
    """The events as their writer's hub published them, content read from the database."""
    messages: list[Message] = []
    for row in rows:
        head = {"type": row.kind, "process": row.process_id, "version": row.version}
        if row.kind == "log":
            first, last = row.span()
            lines = read_logs(session, row.version_id, after=first - 1, limit=last - first + 1)
            messages.append({**head, "lines": lines})
        elif row.kind == "datasets":
            datasets = session.scalars(
                select(Dataset)
                .options(selectinload(Dataset.producer))
                .where(Dataset.version_id == row.version_id, Dataset.id.between(*row.span()))
                .order_by(Dataset.id)
            )
            messages.append({**head, "datasets": [dataset_json(d) for d in datasets]})
        else:
            messages.append({**head, **(row.data or {})})
    return messages


def _prune(session: Session, before: float) -> None:
    session.execute(delete(Event).where(Event.created < before))


class EventRelay:
    """Publishes to this server's hub the events the other servers on the database store."""

    def __init__(
        self,
        db: Database,
        hub: EventHub,
        server_id: str,
        poll_seconds: float,
        retention_seconds: float,
    ) -> None:
        self.db = db
        self.hub = hub
        self.origin = origin_of(server_id)
        self.poll_seconds = poll_seconds
        self.retention_seconds = retention_seconds
        self.cursor: Cursor = (0, 0)
        self._current_at = time.time()  # when the cursor was last known to be current
        self._awaited = 0  # the newest transaction of another server notified
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        url = db.engine.url.set(drivername="postgresql")
        self._conninfo = url.render_as_string(hide_password=False)

    @property
    def application_name(self) -> str:
        """What the listening connection calls itself in ``pg_stat_activity``."""
        return f"nagelfluh-events {self.origin}"

    async def start(self) -> None:
        self._current_at = time.time()
        self.cursor = await self.db.run_durable(_head)
        self._tasks = [
            asyncio.create_task(self._listen(), name="nagelfluh events listener"),
            asyncio.create_task(self._follow(), name="nagelfluh events relay"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _listen(self) -> None:
        """LISTEN, reconnecting whenever the connection is lost, and catch up after each
        connect on what was missed meanwhile."""
        import psycopg  # PostgreSQL's driver is an extra: only a server using it listens

        delay = RECONNECT_FIRST_SECONDS
        while True:
            try:
                connection = await psycopg.AsyncConnection.connect(
                    self._conninfo,
                    autocommit=True,
                    application_name=self.application_name,
                    connect_timeout=max(1, round(self.db.timeout)),
                )
                async with connection:
                    await connection.execute(f"LISTEN {CHANNEL}")
                    delay = RECONNECT_FIRST_SECONDS
                    self._wake.set()
                    async for notify in connection.notifies():
                        origin, _, xid = notify.payload.partition(" ")
                        if origin != self.origin:
                            self._awaited = max(self._awaited, int(xid))
                            self._wake.set()
            except psycopg.Error as error:
                log.warning(
                    "not listening for other servers' events (%s); reconnecting in %.1f s",
                    error,
                    delay,
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_SECONDS)

    async def _follow(self) -> None:
        """Catch up whenever woken, and every ``poll_seconds`` in any case."""
        pruned = time.monotonic()
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            self._wake.clear()
            try:
                await self.catch_up()
                if time.monotonic() - pruned > min(300.0, self.retention_seconds / 4):
                    before = time.time() - self.retention_seconds
                    await self.db.run(partial(_prune, before=before))
                    pruned = time.monotonic()
            except ServiceUnavailable:
                log.info("the database is unavailable; other servers' events follow later")
            except Exception:
                log.exception("could not relay other servers' events")

    async def catch_up(self) -> None:
        """Publish every event after the cursor, looking again a few times while a
        notified one is held back by an older transaction."""
        for _ in range(HELD_BACK_RETRIES):
            while await self._relay_page():
                pass
            if self.cursor[0] >= self._awaited:
                return
            await asyncio.sleep(HELD_BACK_RETRY_SECONDS)

    async def _relay_page(self) -> bool:
        """Publish the next page of events; whether it was full (more may follow).

        A read made longer after the cursor was current than events are kept (the
        database out of reach, the machine asleep, even in the middle of this read) may
        have missed pruned ones: then this server starts again from the newest event,
        and every subscriber of its resyncs from the database, where the log lines,
        states and outputs themselves are kept."""
        began = time.time()
        rows = await self.db.run(partial(_events_after, cursor=self.cursor, limit=PAGE))
        skew = min(CLOCK_SKEW_SECONDS, self.retention_seconds / 4)
        unread = time.time() - self._current_at
        if unread > self.retention_seconds - skew:
            log.warning(
                "no events read for %.0f s, longer than they are kept: every subscriber "
                "resyncs from the database",
                unread,
            )
            self._current_at = time.time()
            self.cursor = await self.db.run(_head)
            self.hub.resync_all()
            return False
        self._current_at = began
        if not rows:
            return False
        # Which topics are followed is asked after the events were read: one followed
        # later replays from the database what they announce.
        wanted = [
            row
            for row in _joined([row for row in rows if row.origin != self.origin])
            if any(self.hub.follows(topic) for topic in row.topics())
        ]
        if wanted:
            messages = await self.db.run(partial(_messages, rows=wanted))
            for row, message in zip(wanted, messages, strict=True):
                for topic in row.topics():
                    self.hub.publish(topic, message)
        self.cursor = rows[-1].xid, rows[-1].id
        return len(rows) == PAGE
