"""From a process's byte streams to ordered, batched log and progress callbacks.

Shared by every executor that follows a byte stream (a local pipe today, a
Kubernetes pod log later), so both split, cap and batch lines the same way.
Throughput matters (a process may print a million lines a second), so work is
done per chunk wherever possible: one decode, one split and one clock reading
per chunk, and per line only the ``LogLine`` itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from functools import partial
from itertools import repeat
from typing import Protocol

from nagelfluh_runner.protocol import PROGRESS_PREFIX, parse_progress

from .base import STDOUT, LogLine

CHUNK_SIZE = 64 * 1024
MAX_LINE = 64 * 1024
SHORT_READ = 16 * 1024
SETTLE_SECONDS = 0.001
TRUNCATED = " … [line truncated]"

# LogLine(*fields) without the Python-level __new__ of a NamedTuple: a quarter
# less time per line, and this is the one per-line cost left.
_log_line = partial(tuple.__new__, LogLine)


class LineSplitter:
    """Splits a byte stream into text lines, carrying partial lines across chunks.

    Lines end at ``\\n`` (a ``\\r`` before it is dropped, as Kubernetes does not
    split on a lone ``\\r`` either); invalid UTF-8 becomes U+FFFD; a line longer
    than ``max_line`` keeps its head and ends with ``TRUNCATED``, so a process
    that never prints a newline cannot make the server buffer without bound.
    """

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self._max = max_line
        self._rest = b""  # the current partial line (at most max_line bytes)
        self._dropping = False  # the current partial line was too long: discard until \n

    def feed(self, chunk: bytes) -> list[str]:
        cut = chunk.rfind(b"\n")
        if cut < 0:
            self._hold(chunk)
            return []
        lines = []
        if self._dropping:
            first = chunk.find(b"\n")
            lines.append(self._truncated_line())
            complete = chunk[first + 1 : cut + 1]
        else:
            complete = self._rest + chunk[: cut + 1]
        self._rest = b""
        if complete:
            lines += self._split(complete)
        self._hold(chunk[cut + 1 :])
        return lines

    def close(self) -> list[str]:
        """The final line, if the stream did not end with a newline."""
        if self._dropping:
            return [self._truncated_line()]
        if not self._rest:
            return []
        return self._split(self._rest + b"\n")

    def _split(self, complete: bytes) -> list[str]:
        """Lines of ``complete``, which ends with a newline. A newline byte never
        occurs inside a UTF-8 sequence, so decoding the block at once is safe."""
        text = complete.decode("utf-8", "replace")
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        lines = text.split("\n")
        lines.pop()
        if len(text) > self._max and max(map(len, lines)) > self._max:
            lines = [
                line if len(line) <= self._max else line[: self._max] + TRUNCATED for line in lines
            ]
        return lines

    def _hold(self, partial: bytes) -> None:
        if self._dropping or not partial:
            return
        self._rest += partial
        if len(self._rest) > self._max:
            self._rest = self._rest[: self._max]
            self._dropping = True

    def _truncated_line(self) -> str:
        line = self._rest.decode("utf-8", "replace") + TRUNCATED
        self._rest = b""
        self._dropping = False
        return line


class LogBatcher:
    """Collects lines from a run's streams and delivers them in ordered batches.

    A batch goes out when it reaches ``max_lines`` (delivered by the producer
    itself, which therefore stops reading meanwhile: a slow consumer blocks the
    process instead of growing memory) or ``interval`` seconds after the first
    line of a quiet period. Progress lines of stdout are not logged: the latest
    progress is delivered right after the batch it arrived with, so it never
    overtakes the lines printed before it. One lock serialises deliveries, so
    callbacks are awaited one at a time and in order.
    """

    def __init__(
        self,
        on_logs: Callable[[list[LogLine]], Awaitable[None]],
        on_progress: Callable[[float], Awaitable[None]],
        max_lines: int,
        interval: float,
        skip: int = 0,
    ) -> None:
        self._on_logs = on_logs
        self._skip = skip  # lines delivered before (by a server that died): not again
        self._on_progress = on_progress
        self._max = max_lines
        self._interval = interval
        self._pending: list[LogLine] = []
        self._progress: float | None = None
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._closing = asyncio.get_running_loop().create_future()
        self._timer = asyncio.create_task(self._flush_quiet_periods())

    async def add(self, stream: str, lines: list[str], at: float | None = None) -> None:
        """Take ``lines`` of ``stream``, written at time ``at`` if the source says
        when (a kubelet's timestamps), else now."""
        if not lines:
            return
        # One substring search over the joined lines is ~6x cheaper than a
        # startswith per line; a hit only means "look closer".
        if stream == STDOUT and PROGRESS_PREFIX in "\n".join(lines):
            lines = self._take_progress(lines)
        if self._skip:
            skipped = min(self._skip, len(lines))
            self._skip -= skipped
            lines = lines[skipped:]
        stamp = time.time() if at is None else at
        self._pending += map(_log_line, zip(repeat(stamp), repeat(stream), lines))
        if len(self._pending) >= self._max:
            await self.flush()
        else:
            self._wake.set()

    async def flush(self) -> None:
        async with self._lock:
            lines, self._pending = self._pending, []
            progress, self._progress = self._progress, None
            for start in range(0, len(lines), self._max):
                await self._on_logs(lines[start : start + self._max])
            if progress is not None:
                await self._on_progress(progress)

    async def close(self) -> None:
        """Deliver what is left; raises what a delivery raised."""
        if not self._closing.done():
            self._closing.set_result(None)
        self._wake.set()
        await self._timer
        await self.flush()

    async def abort(self) -> None:
        """Stop delivering (the run failed or the executor is stopping)."""
        self._timer.cancel()
        await asyncio.gather(self._timer, return_exceptions=True)

    def _take_progress(self, lines: list[str]) -> list[str]:
        kept = []
        for line in lines:
            progress = parse_progress(line)
            if progress is None:
                kept.append(line)
            else:
                self._progress = progress
        return kept

    async def _flush_quiet_periods(self) -> None:
        while not self._closing.done():
            await self._wake.wait()
            await asyncio.wait([self._closing], timeout=self._interval)
            self._wake.clear()
            await self.flush()


class ByteSource(Protocol):
    """What ``pump`` reads: an asyncio StreamReader, or an HTTP response body."""

    async def read(self, n: int) -> bytes: ...


async def pump(source: ByteSource, stream: str, batcher: LogBatcher) -> None:
    """Read ``source`` to its end into ``batcher`` as lines of ``stream``.

    A short read means the reader is ahead of the writer: an unbuffered child
    (PYTHONUNBUFFERED) writes every line with its own system call, and reading
    each one as it comes costs ~10 µs of event loop per handful of lines. Pausing
    ``SETTLE_SECONDS`` lets the pipe gather a larger chunk meanwhile (at 1 M
    lines/s that is ~30 KiB, within the 64 KiB a pipe holds, so the writer does
    not block) for a third of the CPU, at a latency far below the batch interval.
    """
    splitter = LineSplitter()
    while chunk := await source.read(CHUNK_SIZE):
        await batcher.add(stream, splitter.feed(chunk))
        if len(chunk) < SHORT_READ:
            await asyncio.sleep(SETTLE_SECONDS)
    await batcher.add(stream, splitter.close())
