"""Engine, migrations and the worker thread that every database call runs on.

The server is a tornado event loop; SQLAlchemy sessions are synchronous. All
database work is shipped to a small thread pool (one thread for SQLite, whose
writers serialise anyway) so a large log batch never stalls the loop.

A busy or unreachable database is told apart from a bug (``is_transient``):
API requests make one attempt bounded in time and answer 503 (``run``);
background writers retry until the write is stored (``run_durable``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import pathlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, exc, select
from sqlalchemy.orm import Session, sessionmaker

from ..errors import ServiceUnavailable
from .models import Installation

T = TypeVar("T")

log = logging.getLogger(__name__)

MIGRATIONS = pathlib.Path(__file__).with_name("migrations")
DEFAULT_TIMEOUT = 5.0
# How long a starting server waits for another one's migration to finish.
MIGRATION_WAIT_SECONDS = 300.0
# The PostgreSQL advisory lock key of migrations (any constant the application owns).
MIGRATION_LOCK = 0x6E6167656C66  # "nagelf"
RETRY_FIRST_SECONDS = 0.05
RETRY_MAX_SECONDS = 5.0
# SQLite's primary result codes for "another connection holds the lock".
SQLITE_BUSY, SQLITE_LOCKED = 5, 6
_DATABASE_ERRORS = (exc.DBAPIError, exc.TimeoutError)


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` means the database is busy or out of reach, so the same work
    may succeed later: SQLite busy/locked, a refused or lost connection, PostgreSQL's
    lock_timeout (and its other OperationalErrors: shutdown, deadlock, serialization),
    a connection pool timeout. Anything else is a bug and must not be retried."""
    if isinstance(error, exc.TimeoutError):
        return True
    if not isinstance(error, exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    if not isinstance(error, exc.OperationalError):
        return False
    # Python's sqlite3 raises OperationalError for syntax errors and missing tables too.
    code = getattr(error.orig, "sqlite_errorcode", None)
    return code is None or code & 0xFF in (SQLITE_BUSY, SQLITE_LOCKED)


def make_engine(url: str, timeout: float = DEFAULT_TIMEOUT) -> Engine:
    """An engine whose waits for a lock or a connection end after ``timeout`` seconds."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": timeout})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            # pysqlite's own transaction handling breaks SAVEPOINTs (a RELEASE commits the
            # outer transaction); let SQLAlchemy emit BEGIN itself instead.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={round(timeout * 1000)}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection: Any) -> None:
            # IMMEDIATE takes the write lock first, waiting up to the busy timeout: a
            # deferred transaction that reads and then writes would fail at once, without
            # waiting, while another connection writes. All work is on one thread, so
            # taking the lock for reads too costs nothing here.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        pool_timeout=timeout,
        connect_args={
            "connect_timeout": max(1, math.ceil(timeout)),
            "options": f"-c lock_timeout={round(timeout * 1000)}",
        },
    )


def upgrade(engine: Engine, wait: float = MIGRATION_WAIT_SECONDS) -> None:
    """Apply every Alembic migration (idempotent; runs on each server start).

    Servers sharing a database may start at once: the migration holds a database-wide
    lock (PostgreSQL's transaction advisory lock; SQLite's write lock, taken by
    BEGIN IMMEDIATE), so one migrates and the others wait, up to ``wait`` seconds,
    then find nothing left to do."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    sqlite = engine.dialect.name == "sqlite"
    milliseconds = round(wait * 1000)
    with engine.connect() as connection:
        if sqlite:  # raw, outside any transaction: a PRAGMA through SQLAlchemy would begin one
            raw = connection.connection.driver_connection
            assert raw is not None  # None only once the connection is closed or invalidated
            raw.execute(f"PRAGMA busy_timeout={milliseconds}")
        with connection.begin():
            if not sqlite:
                connection.exec_driver_sql(f"SET LOCAL lock_timeout = {milliseconds}")
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        if sqlite:  # not back into the pool with the long timeout: a new one gets the usual
            connection.invalidate()


class Database:
    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        """``timeout``: how long one attempt may wait for a lock or a connection, and an
        API request for the database thread, before the database counts as unavailable."""
        self.url = url
        self.timeout = timeout
        self.engine = make_engine(url, timeout)
        upgrade(self.engine)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # This database's id (models.Installation): the label of its Kubernetes objects.
        self.installation: str = self.run_sync(lambda s: s.scalars(select(Installation.id)).one())
        workers = 1 if url.startswith("sqlite") else 4
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="nagelfluh-db")
        # Held by the one background writer that probes a stalled database; the others
        # queue behind it instead of each occupying the database thread.
        self._stall = asyncio.Lock()
        self._stalled_since: float | None = None

    async def run(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn(session)`` in one transaction on the database thread: one attempt,
        for API requests. A busy or unreachable database raises ServiceUnavailable (503)
        within about twice ``timeout`` (the wait for the thread, then the attempt's own
        lock or connect timeout) instead of letting the request hang."""
        future = self._pool.submit(self.run_sync, fn)
        waiting = asyncio.wrap_future(future)
        await asyncio.wait([waiting], timeout=self.timeout)
        if future.cancel():  # never started: the thread is busy with a stalled database
            log.info("no database thread free within %g s", self.timeout)
            raise self._unavailable()
        try:
            return await waiting
        except _DATABASE_ERRORS as error:
            if not is_transient(error):
                raise
            log.info("database unavailable: %s", _first_line(error))
            raise self._unavailable() from error

    async def run_durable(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn(session)`` in one transaction, retried for as long as the database is
        busy or unreachable (until the calling task is cancelled): for background writes
        whose loss would lose data (log lines, states, the ledger). Errors that are not
        transient propagate at once.

        Each attempt is its own transaction, so a failed one leaves nothing behind. While
        the database is stalled, one caller at a time probes it with exponential backoff,
        sleeping on the event loop, and the others wait their turn in order: the database
        thread stays free for API requests, which answer 503 meanwhile."""
        if not self._stall.locked():
            try:
                return await self._attempt(fn)
            except _DATABASE_ERRORS as error:
                self._note_stall(error)
        async with self._stall:
            delay = RETRY_FIRST_SECONDS
            while True:
                if self._stalled_since is not None:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RETRY_MAX_SECONDS)
                try:
                    result = await self._attempt(fn)
                except _DATABASE_ERRORS as error:
                    self._note_stall(error)
                    continue
                if self._stalled_since is not None:
                    log.info(
                        "the database is available again after %.1f s; background writes resume",
                        time.monotonic() - self._stalled_since,
                    )
                    self._stalled_since = None
                return result

    def run_sync(self, fn: Callable[[Session], T]) -> T:
        with self.sessions.begin() as session:
            return fn(session)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.engine.dispose()

    async def _attempt(self, fn: Callable[[Session], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self.run_sync, fn)

    def _note_stall(self, error: Exception) -> None:
        """Re-raise ``error`` unless transient; warn once when a stall begins."""
        if not is_transient(error):
            raise error
        if self._stalled_since is None:
            self._stalled_since = time.monotonic()
            log.warning(
                "the database is busy or unavailable (%s); background writes are retried "
                "until it is back",
                _first_line(error),
            )

    def _unavailable(self) -> ServiceUnavailable:
        retry_after = max(1, math.ceil(self.timeout))
        return ServiceUnavailable(
            f"the database is busy or unavailable; try again in {retry_after} s",
            {"retry_after": retry_after},
        )


def _first_line(error: Exception) -> str:
    """The driver's message without the SQL statement SQLAlchemy appends."""
    return str(error).splitlines()[0]
