"""Long-lived responses (watches, followed logs) are queues the HTTP handler drains;
these markers end them, and the registry lets a test cut them all at once."""

from __future__ import annotations

import asyncio

# Put on a stream's queue: END finishes the response properly (a watch timeout, a
# terminated container); ABORT drops the connection mid-response (a network cut).
END = object()
ABORT = object()


class Streams:
    def __init__(self) -> None:
        self._open: dict[str, set[asyncio.Queue]] = {"watch": set(), "log": set()}

    def add(self, kind: str, queue: asyncio.Queue) -> None:
        self._open[kind].add(queue)

    def discard(self, kind: str, queue: asyncio.Queue) -> None:
        self._open[kind].discard(queue)

    def cut(self, kind: str, clean: bool) -> int:
        """End every open stream of ``kind``; returns how many there were."""
        queues = self._open[kind]
        for queue in queues:
            queue.put_nowait(END if clean else ABORT)
        return len(queues)
