"""Log lines are stored in runs but read back one by one, by seq, on every backend."""

from __future__ import annotations

import pytest

from nagelfluh_lab.db.session import Database
from nagelfluh_lab.executors.base import LogLine
from nagelfluh_lab.services.log_store import append_logs, read_logs
from tests.server.conftest import BACKENDS, seed_version

pytestmark = pytest.mark.parametrize("db_url", BACKENDS, indirect=True)


@pytest.fixture
def stored(db_url):
    db = Database(db_url)

    version_id = db.run_sync(seed_version)
    lines = [
        LogLine(1.0, "stdout", "a1"),
        LogLine(1.0, "stdout", ""),
        LogLine(1.0, "stderr", "e1"),
        LogLine(2.0, "stdout", "a3"),
        LogLine(2.0, "stdout", "two\nlines"),
    ]
    assert db.run_sync(lambda s: append_logs(s, version_id, lines[:3])) == 1
    assert db.run_sync(lambda s: append_logs(s, version_id, lines[3:])) == 4
    yield db, version_id
    db.close()


def test_lines_read_back_in_order_with_their_seq_time_and_stream(stored):
    db, version_id = stored
    rows = db.run_sync(lambda s: read_logs(s, version_id, 0, 100)).rows()
    assert [(r["seq"], r["time"], r["stream"], r["line"]) for r in rows] == [
        (1, 1.0, "stdout", "a1"),
        (2, 1.0, "stdout", ""),
        (3, 1.0, "stderr", "e1"),
        (4, 2.0, "stdout", "a3"),
        (5, 2.0, "stdout", "two lines"),
    ]


@pytest.mark.parametrize(
    ("after", "limit", "seqs"),
    [(1, 2, [2, 3]), (3, 10, [4, 5]), (0, 1, [1]), (5, 10, []), (9, 3, [])],
)
def test_reads_start_inside_a_stored_run_and_stop_at_the_limit(stored, after, limit, seqs):
    db, version_id = stored
    batch = db.run_sync(lambda s: read_logs(s, version_id, after, limit))
    assert [r["seq"] for r in batch.rows()] == seqs
