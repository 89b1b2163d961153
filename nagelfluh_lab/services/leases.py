"""Leases: exactly one server follows, finishes and bills each run (DESIGN §7).

Servers sharing a PostgreSQL database each hold a lease on every run they follow: a
session-level advisory lock ``(LEASE_NAMESPACE, version id)`` on a connection of
their own. PostgreSQL releases a session's locks when the session ends, so a server
that is killed, culled or cut off loses its leases by itself (within the TCP
keepalive settings below for a host that vanished): no expiry clock, no renewals.
Another live server then takes the lease and the run over (``RunLifecycle``).

Only runs another server can follow are leased: Kubernetes Jobs. A local run lives
on the machine of the server that started it and is never taken over; with SQLite
there is one server, and every lease is its own (``Leases``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import Connection, create_engine, exc, text
from sqlalchemy.pool import NullPool

from ..db.session import Database

T = TypeVar("T")

log = logging.getLogger(__name__)

# The first key of the two-key advisory locks that are leases (the second is the
# version's id); the migration lock is a one-key lock, in another key space.
LEASE_NAMESPACE = 0x6E66  # "nf"
# A dead peer is noticed within idle + interval * count seconds, on both ends: by
# PostgreSQL (which then releases the leases) and by the server (which then stops
# writing for the runs it no longer holds).
KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, KEEPALIVE_COUNT = 10, 5, 3


class LeasesUnavailable(Exception):
    """The lease connection failed: which leases are held cannot be told."""


class Leases:
    """One server on its database (SQLite), or runs that only their server can follow
    (local): every lease is this server's, and nothing is ever taken over."""

    shared = False

    def __init__(self) -> None:
        self.held: set[int] = set()

    async def take(self, version_id: int) -> bool:
        """Whether this server holds the lease of ``version_id`` now (taking it if it
        was free). Raises ``LeasesUnavailable`` if the database cannot tell."""
        self.held.add(version_id)
        return True

    async def release(self, version_id: int) -> None:
        self.held.discard(version_id)

    async def survey(self) -> set[int]:
        """The version ids whose lease any server holds. ``held`` drops those this
        server no longer holds (its connection failed unnoticed meanwhile)."""
        return set(self.held)

    async def close(self) -> None:
        self.held.clear()


class AdvisoryLeases(Leases):
    """Leases as PostgreSQL session-level advisory locks on a connection of their own.

    All calls run on one thread, one at a time. When the connection fails, every lease
    is gone with it (PostgreSQL released them): ``held`` is emptied and the next call
    opens a new connection, holding nothing."""

    shared = True

    def __init__(self, db: Database) -> None:
        super().__init__()
        timeout = max(1, round(db.timeout))
        keepalive = (
            f"-c tcp_keepalives_idle={KEEPALIVE_IDLE} "
            f"-c tcp_keepalives_interval={KEEPALIVE_INTERVAL} "
            f"-c tcp_keepalives_count={KEEPALIVE_COUNT}"
        )
        self._engine = create_engine(
            db.engine.url,
            poolclass=NullPool,
            isolation_level="AUTOCOMMIT",  # never idle in a transaction for hours
            connect_args={
                "connect_timeout": timeout,
                "options": keepalive,
                "keepalives": 1,
                "keepalives_idle": KEEPALIVE_IDLE,
                "keepalives_interval": KEEPALIVE_INTERVAL,
                "keepalives_count": KEEPALIVE_COUNT,
                "tcp_user_timeout": (KEEPALIVE_IDLE + KEEPALIVE_INTERVAL * KEEPALIVE_COUNT) * 1000,
            },
        )
        self._connection: Connection | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="nagelfluh-leases")

    async def take(self, version_id: int) -> bool:
        if version_id in self.held:  # advisory locks stack: take each once
            return True
        taken = await self._call(
            lambda c: bool(
                c.execute(
                    text("SELECT pg_try_advisory_lock(:space, :id)"),
                    {"space": LEASE_NAMESPACE, "id": version_id},
                ).scalar_one()
            )
        )
        if taken:
            self.held.add(version_id)
        return taken

    async def release(self, version_id: int) -> None:
        if version_id not in self.held:
            return
        self.held.discard(version_id)
        await self._call(
            lambda c: c.execute(
                text("SELECT pg_advisory_unlock(:space, :id)"),
                {"space": LEASE_NAMESPACE, "id": version_id},
            )
        )

    async def survey(self) -> set[int]:
        rows = await self._call(
            lambda c: c.execute(
                text(
                    "SELECT objid::bigint, pid = pg_backend_pid() FROM pg_locks "
                    "WHERE locktype = 'advisory' AND objsubid = 2 AND classid = :space "
                    "AND granted AND database = (SELECT oid FROM pg_database "
                    "WHERE datname = current_database())"
                ),
                {"space": LEASE_NAMESPACE},
            ).all()
        )
        self.held &= {int(version_id) for version_id, mine in rows if mine}
        return {int(version_id) for version_id, _ in rows}

    async def close(self) -> None:
        """Release every lease (by closing the connection) and stop."""
        await asyncio.wrap_future(self._thread.submit(self._disconnect))
        self.held.clear()
        self._thread.shutdown(wait=True)
        self._engine.dispose()

    async def _call(self, fn: Callable[[Connection], T]) -> T:
        try:
            return await asyncio.wrap_future(self._thread.submit(self._run, fn))
        except Exception as error:
            if self.held:
                log.warning(
                    "the lease connection failed (%s): the %d runs this server followed "
                    "may be taken over by another server",
                    str(error).splitlines()[0],
                    len(self.held),
                )
            self.held.clear()
            raise LeasesUnavailable(str(error)) from error

    def _run(self, fn: Callable[[Connection], T]) -> T:
        """On the lease thread. Any failure ends the connection: SQLAlchemy would
        otherwise reconnect quietly, and the leases would be gone without a word."""
        if self._connection is None:
            self._connection = self._engine.connect()
        try:
            return fn(self._connection)
        except Exception:
            self._disconnect()
            raise

    def _disconnect(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            with contextlib.suppress(exc.DBAPIError):
                connection.close()


def open_leases(db: Database, takes_over: bool) -> Leases:
    """Advisory leases on PostgreSQL for runs another server can take over, else none."""
    if takes_over and db.engine.dialect.name == "postgresql":
        return AdvisoryLeases(db)
    return Leases()
