"""The log-row codec: a version's log lines stored as rows, and read back by seq.

A noisy run prints millions of lines, so lines are not stored one per row: the
consecutive lines of a batch that share a time and a stream are one row (their
texts joined by newlines, ``count`` of them, the first one's ``seq``). Seqs still
count 1, 2, 3, ... per version with no gaps, and a read may start mid-row.
"""

from __future__ import annotations

from itertools import groupby, repeat
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from ..db.models import ProcessLog, ProcessVersion
from ..executors.base import STDERR, SYSTEM, LogLine, LogTail
from .events import Line, LogBatch, line_text, line_time_and_stream

# How many of the last rows a run's last printed line is looked for in.
_TAIL_ROWS = 20


def append_logs(session: Session, version_id: int, lines: list[LogLine]) -> int:
    """Store lines with the next contiguous seq numbers; the first seq used."""
    first: int = (
        session.execute(
            update(ProcessVersion)
            .where(ProcessVersion.id == version_id)
            .values(log_count=ProcessVersion.log_count + len(lines))
            .returning(ProcessVersion.log_count)
        ).scalar_one()
        - len(lines)
        + 1
    )
    rows: list[dict[str, Any]] = []
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
    lines: list[Line] = []
    for seq, t, stream, text in chunks:
        texts = text.split("\n")[max(0, after + 1 - seq) :]
        lines += zip(repeat(t), repeat(stream), texts[: limit - len(lines)])
        if len(lines) >= limit:
            break
    return LogBatch(after + 1, lines)


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
    return LogTail(last, int(count or 0), int(own or 0))


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
