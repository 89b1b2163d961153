"""Engine, migrations and the worker thread that every database call runs on.

The server is a tornado event loop; SQLAlchemy sessions are synchronous. All
database work is shipped to a small thread pool (one thread for SQLite, whose
writers serialise anyway) so a large log batch never stalls the loop.
"""

from __future__ import annotations

import asyncio
import pathlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from .models import Installation

T = TypeVar("T")

MIGRATIONS = pathlib.Path(__file__).with_name("migrations")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            # pysqlite's own transaction handling breaks SAVEPOINTs (a RELEASE commits the
            # outer transaction); let SQLAlchemy emit BEGIN itself instead.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def upgrade(engine: Engine) -> None:
    """Apply every Alembic migration (idempotent; runs on each server start)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        upgrade(self.engine)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # This database's id (models.Installation): the label of its Kubernetes objects.
        self.installation: str = self.run_sync(lambda s: s.scalars(select(Installation.id)).one())
        workers = 1 if url.startswith("sqlite") else 4
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="nagelfluh-db")

    async def run(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn(session)`` in one transaction on the database thread."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, self.run_sync, fn)

    def run_sync(self, fn: Callable[[Session], T]) -> T:
        with self.sessions.begin() as session:
            return fn(session)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.engine.dispose()
