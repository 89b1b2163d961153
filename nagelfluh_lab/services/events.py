"""In-process publish/subscribe of live events with a bounded backlog per subscriber.

The process service publishes after it has persisted, so a subscriber that
replays from the database and then follows live sees every log line once.
A subscriber that cannot keep up never blocks the publisher: past its bound,
its backlog for a topic is dropped and it is told to resync from the last
``seq`` it was sent.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from itertools import count, groupby, repeat
from json.encoder import encode_basestring_ascii
from operator import itemgetter
from typing import Any, Literal, TypeAlias

VersionTopic: TypeAlias = tuple[Literal["version"], int, int]  # ("version", process_id, version)
ProjectTopic: TypeAlias = tuple[Literal["project"], int]  # ("project", project_id)
Topic: TypeAlias = VersionTopic | ProjectTopic
# An event as sent to clients: a JSON object keyed by "type", whose "lines", if any,
# are a LogBatch; its other values are whatever JSON that type of event carries. Never
# changed once published (a Mapping, so the shapes' event TypedDicts are ones too).
Message: TypeAlias = Mapping[str, Any]
# A log line as (time, stream, line): executors.base.LogLine, or a row read back.
Line: TypeAlias = tuple[float, str, str]

MAX_BATCH_LINES = 5000
_LINE_KEYS = ("seq", "time", "stream", "line")
# Fields of a (time, stream, line) tuple, as C-level callables for map() and groupby().
line_time_and_stream, line_text = itemgetter(0, 1), itemgetter(2)


class LogBatch:
    """Consecutive log lines of one version: ``first`` is the seq of ``lines[0]``.

    A log event carries one of these instead of a dict per line, and encodes
    itself to JSON once, however many subscribers it goes to; joined batches
    reuse their parts' JSON. A million-line run would otherwise spend most of
    its server time building and encoding dicts.
    """

    __slots__ = ("_json", "first", "lines")

    def __init__(self, first: int, lines: Sequence[Line], encoded: str | None = None) -> None:
        self.first = first
        self.lines = lines  # (time, stream, line) tuples
        self._json = encoded

    def __len__(self) -> int:
        return len(self.lines)

    @property
    def last(self) -> int:
        return self.first + len(self.lines) - 1

    def after(self, seq: int) -> LogBatch:
        """The lines with a seq above ``seq``."""
        skip = max(0, seq - self.first + 1)
        return self if skip == 0 else LogBatch(self.first + skip, self.lines[skip:])

    def rows(self) -> list[dict[str, int | float | str]]:
        """As ``{"seq", "time", "stream", "line"}`` dicts (built in C, not per line in Python)."""
        numbered: Iterator[tuple[int | float | str, ...]]
        numbered = map(tuple.__add__, zip(count(self.first)), self.lines)
        pairs: Iterator[Iterable[tuple[str, int | float | str]]]
        pairs = map(zip, repeat(_LINE_KEYS), numbered)
        return list(map(dict, pairs))

    def json(self) -> str:
        """The JSON array of line objects, built by C-level calls only: lines read
        together share a time and stream, so each run of them gets one template
        (3-5x faster than encoding dicts, the hottest code of a noisy run)."""
        if self._json is None:
            parts = []
            seq = self.first
            for (t, stream), run in groupby(self.lines, key=line_time_and_stream):
                texts = list(map(encode_basestring_ascii, map(line_text, run)))
                head = f',"time":{t!r},"stream":{encode_basestring_ascii(stream)},"line":'
                template = ('{"seq":%d' + head.replace("%", "%%") + "%s}").__mod__
                parts.append(",".join(map(template, zip(count(seq), texts))))
                seq += len(texts)
            self._json = "[" + ",".join(parts) + "]"
        return self._json

    @classmethod
    def join(cls, batches: list[LogBatch]) -> LogBatch:
        if len(batches) == 1:
            return batches[0]
        lines = [line for batch in batches for line in batch.lines]
        encoded = "[" + ",".join(b.json()[1:-1] for b in batches if b.lines) + "]"
        return cls(batches[0].first, lines, encoded)


def encode_event(message: Message) -> str:
    """An event as the JSON text sent to clients."""
    batch = message.get("lines")
    if isinstance(batch, LogBatch):
        head = json.dumps({k: v for k, v in message.items() if k != "lines"})
        return f'{head[:-1]}, "lines": {batch.json()}}}'
    return json.dumps(message)


def version_topic(process_id: int, version: int) -> VersionTopic:
    return ("version", process_id, version)


def project_topic(project_id: int) -> ProjectTopic:
    return ("project", project_id)


class Subscriber:
    """One client's outbound queue. ``send`` writes one message to the client."""

    def __init__(self, send: Callable[[Message], Awaitable[None]], max_backlog_lines: int) -> None:
        self._send = send
        self.max_backlog_lines = max_backlog_lines
        self._queue: deque[tuple[Topic, Message]] = deque()
        self._backlog_lines = 0
        self._wakeup = asyncio.Event()
        self.topics: set[Topic] = set()
        self.held: dict[Topic, list[Message]] = {}  # live messages held while a replay runs
        self._held_lines: dict[Topic, int] = {}
        self.last_seq: dict[Topic, int] = {}  # the last line sent, per version
        # The last line sent or queued: a line reaches the client once, even when a
        # replay read it from the database before a relayed event brought it too.
        self._queued_seq: dict[Topic, int] = {}
        self.hub: EventHub | None = None
        self._task = asyncio.ensure_future(self._pump())

    def offer(self, topic: Topic, message: Message) -> None:
        """Called by the hub for every live message; never blocks."""
        if topic in self.held:
            self.held[topic].append(message)
            self._held_lines[topic] += len(message.get("lines", ()))
            if self._held_lines[topic] > self.max_backlog_lines:
                self.resync(topic)
            return
        self.enqueue(topic, message)

    def enqueue(self, topic: Topic, message: Message) -> None:
        if message.get("type") == "log":
            batch = message["lines"].after(self._queued_seq.get(topic, 0))
            if not batch:
                return
            if batch is not message["lines"]:
                message = {**message, "lines": batch}
        lines = len(message.get("lines", ()))
        if self._backlog_lines + lines > self.max_backlog_lines and lines:
            self.resync(topic)
            return
        if lines:
            self._queued_seq[topic] = message["lines"].last
        self._queue.append((topic, message))
        self._backlog_lines += lines
        self._wakeup.set()

    def start_at(self, topic: Topic, seq: int) -> None:
        """The client has the version's lines up to ``seq``: send only those after it."""
        self.last_seq[topic] = self._queued_seq[topic] = seq

    def resync(self, topic: Topic) -> None:
        """Drop this topic's backlog, stop following it and ask the client to resubscribe."""
        kept: deque[tuple[Topic, Message]] = deque()
        for item in self._queue:
            if item[0] == topic:
                self._backlog_lines -= len(item[1].get("lines", ()))
            else:
                kept.append(item)
        self._queue = kept
        self._drop_held(topic)
        self.unfollow(topic)
        if topic[0] == "version":
            since = self.last_seq.get(topic, 0)
            self._queued_seq[topic] = since
            self._queue.append(
                (
                    topic,
                    {"type": "resync", "process": topic[1], "version": topic[2], "since": since},
                )
            )
        else:
            self._queue.append((topic, {"type": "resync", "project": topic[1]}))
        self._wakeup.set()

    def follow(self, topic: Topic, hold: bool = False) -> None:
        if hold:
            self.held[topic] = []
            self._held_lines[topic] = 0
        self.topics.add(topic)
        if self.hub is not None:
            self.hub.add(topic, self)

    def release(self, topic: Topic) -> None:
        """End a replay: queue the live messages held meanwhile, minus lines already sent."""
        for message in self._drop_held(topic):
            self.enqueue(topic, message)

    def unfollow(self, topic: Topic) -> None:
        self.topics.discard(topic)
        self._drop_held(topic)
        if self.hub is not None:
            self.hub.remove(topic, self)

    def _drop_held(self, topic: Topic) -> list[Message]:
        self._held_lines.pop(topic, None)
        return self.held.pop(topic, [])

    async def send_now(self, topic: Topic, message: Message) -> None:
        """Send directly (used by replays, which pace themselves on the client)."""
        self._note(topic, message)
        await self._send(message)

    def _note(self, topic: Topic, message: Message) -> None:
        if message.get("type") == "log" and message["lines"]:
            last = message["lines"].last
            self.last_seq[topic] = last
            self._queued_seq[topic] = max(self._queued_seq.get(topic, 0), last)

    async def _pump(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                topic, message = self._queue.popleft()
                self._backlog_lines -= len(message.get("lines", ()))
                message = self._coalesce(topic, message)
                self._note(topic, message)
                await self._send(message)

    def _coalesce(self, topic: Topic, message: Message) -> Message:
        """Merge queued log messages of one topic into one, so a busy stream costs few frames."""
        if message.get("type") != "log":
            return message
        batches = [message["lines"]]
        size = len(batches[0])
        while (
            self._queue
            and self._queue[0][0] == topic
            and self._queue[0][1].get("type") == "log"
            and size + len(self._queue[0][1]["lines"]) <= MAX_BATCH_LINES
        ):
            _, following = self._queue.popleft()
            self._backlog_lines -= len(following["lines"])
            size += len(following["lines"])
            batches.append(following["lines"])
        return message if len(batches) == 1 else {**message, "lines": LogBatch.join(batches)}

    def close(self) -> None:
        for topic in list(self.topics):
            self.unfollow(topic)
        self._task.cancel()


class EventHub:
    def __init__(self) -> None:
        self._subscribers: dict[Topic, set[Subscriber]] = {}

    def subscriber(
        self, send: Callable[[Message], Awaitable[None]], max_backlog_lines: int
    ) -> Subscriber:
        subscriber = Subscriber(send, max_backlog_lines)
        subscriber.hub = self
        return subscriber

    def add(self, topic: Topic, subscriber: Subscriber) -> None:
        self._subscribers.setdefault(topic, set()).add(subscriber)

    def remove(self, topic: Topic, subscriber: Subscriber) -> None:
        subscribers = self._subscribers.get(topic)
        if subscribers is not None:
            subscribers.discard(subscriber)
            if not subscribers:
                del self._subscribers[topic]

    def resync_all(self) -> None:
        """Every subscriber of every topic resyncs: events may have been missed."""
        for topic, subscribers in list(self._subscribers.items()):
            for subscriber in list(subscribers):
                subscriber.resync(topic)

    def follows(self, topic: Topic) -> bool:
        """Whether any subscriber follows ``topic``."""
        return topic in self._subscribers

    def publish(self, topic: Topic, message: Message) -> None:
        for subscriber in list(self._subscribers.get(topic, ())):
            subscriber.offer(topic, message)
