"""Following one pod's log into a run's ``LogBatcher``, from a thread of its own.

The log is read with the kubelet's timestamps, which become the lines' times.
Times are cut to milliseconds: consecutive lines of one millisecond then share a
time and are stored as one row, as the local executor's lines of one read are,
and a cut time is still a function of the line alone, so positions stay exact.

A dropped stream resumes from the last time delivered. ``sinceTime`` reaches the
kubelet in whole seconds, so the resumed stream repeats lines; they are skipped by
position: lines before the last time delivered, and at that time as many as were
delivered (``LogTail``). The same rule skips what a previous server stored when a
recovered run's pod is followed again. Once the pod has ended, one more read
without ``follow`` catches anything a dropped stream missed.
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import json
import logging
import math
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from itertools import groupby
from operator import itemgetter

from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException
from urllib3 import BaseHTTPResponse

from ..executors.base import STDOUT, LogTail
from ..executors.lines import CHUNK_SIZE, LineSplitter, LogBatcher
from .api import CONNECT_SECONDS, api_message, interrupt, request

log = logging.getLogger(__name__)

# Lines read but not yet taken by the loop, beyond which reading waits: a slow
# consumer slows the reading instead of growing the server's memory.
MAX_WAITING_LINES = 20_000
# While waiting for the loop, how often the thread checks whether it must stop.
POLL_SECONDS = 0.2
ENDED_PHASES = ("Succeeded", "Failed")


@lru_cache(maxsize=16)
def _epoch(head: str) -> int:
    """``YYYY-MM-DDTHH:MM:SS`` (UTC) in seconds since the epoch; cached, as every
    line of one second shares it."""
    return calendar.timegm(time.strptime(head, "%Y-%m-%dT%H:%M:%S"))


def kubelet_time(stamp: str) -> float | None:
    """A kubelet timestamp (RFC 3339 in UTC, e.g. ``2026-11-22T21:50:01.123456789Z``)
    in epoch seconds cut to milliseconds; None if ``stamp`` is not one."""
    if len(stamp) < 20 or stamp[-1] != "Z":
        return None
    fraction = stamp[20:-1] if stamp[19] == "." else ""
    if fraction and not fraction.isdigit():
        return None
    try:
        seconds = _epoch(stamp[:19])
    except ValueError:
        return None
    return seconds + int(fraction[:3].ljust(3, "0")) / 1000


def since_time(tail: LogTail) -> str:
    """A ``sinceTime`` that surely precedes every line after ``tail``: whole seconds
    (all the kubelet honours), a second early in case the cut rounded up."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(math.floor(tail.time) - 1))


class _Stopped(Exception):
    """The follower was told to stop."""


Group = tuple[float | None, list[str]]  # lines of one time (None: unknown, i.e. now)


class PodLog:
    """Follows pod ``pod`` of ``namespace`` into ``batcher``; ``run`` returns once its
    container has ended and its log is delivered, or it is stopped.

    The thread reads and splits; a task on the loop feeds the batcher. The kubelet
    sends a chunk per line, and a thread-to-loop handoff per chunk would cap a
    noisy pod at a few thousand lines a second, so lines queue between the two and
    the task takes whatever has gathered each time it comes back for more.
    """

    def __init__(
        self,
        api: ApiClient,
        namespace: str,
        pod: str,
        batcher: LogBatcher,
        *,
        backoff: float,
        backoff_max: float,
        read_timeout: float,
    ) -> None:
        self._api = api
        self._path = f"/api/v1/namespaces/{namespace}/pods/{pod}"
        self._pod = pod
        self._batcher = batcher
        self._backoff = backoff
        self._backoff_max = backoff_max
        self._read_timeout = read_timeout
        self._stopped = threading.Event()
        self._response: BaseHTTPResponse | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tail: LogTail | None = None
        self._seen = 0  # lines at the tail's time seen on the current connection
        # Shared by the thread and the loop, under _handoff's lock.
        self._handoff = threading.Condition()
        self._waiting: list[Group] = []
        self._waiting_lines = 0
        self._feeding = False  # a task on the loop is feeding the batcher
        self._feeder: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None

    async def run(self, tail: LogTail | None) -> LogTail | None:
        """Deliver the lines after ``tail``; returns the tail of what was delivered."""
        self._tail = tail
        if self._stopped.is_set():
            return tail
        # A thread of its own, not the loop's default executor: a long-lived reader
        # per running pod would exhaust that pool, which short calls need.
        loop = self._loop = asyncio.get_running_loop()
        done = loop.create_future()

        def follow() -> None:
            try:
                self._follow()
            finally:
                with contextlib.suppress(RuntimeError):  # the loop is closed
                    loop.call_soon_threadsafe(_resolve, done)

        threading.Thread(target=follow, name=f"k8s log {self._pod}", daemon=True).start()
        await done
        return self._tail

    def stop(self) -> None:
        """Stop at once (the run ended without it, or the server is stopping)."""
        self._stopped.set()
        interrupt(self._response)
        if self._feeder is not None:
            self._feeder.cancel()

    # -- the thread

    def _follow(self) -> None:
        try:
            self._follow_until_ended()
            self._read_final()
        except _Stopped:
            pass
        except Exception as error:
            log.warning("could not read the log of pod %s: %s", self._pod, api_message(error))

    def _follow_until_ended(self) -> None:
        idle = 0  # connections in a row that delivered nothing
        while True:
            try:
                delivered = self._read(follow=True)
            except ApiException as error:
                if error.status == 404:
                    return  # the pod is gone, and its log with it
                delivered = False  # e.g. 400: the container is not running yet
            except (_Stopped, _Failed):
                raise
            except Exception as error:  # a dropped stream
                log.debug("log of pod %s dropped: %s", self._pod, api_message(error))
                delivered = False
            if self._ended():
                return
            idle = 0 if delivered else idle + 1
            if idle and self._stopped.wait(min(self._backoff * 2 ** (idle - 1), self._backoff_max)):
                raise _Stopped

    def _read_final(self) -> None:
        """One read without follow, for what a dropped stream may have missed."""
        try:
            self._read(follow=False)
        except ApiException as error:
            if error.status not in (400, 404):  # never started, or gone
                raise

    def _ended(self) -> bool:
        """Whether the pod's container has ended (or the pod is gone)."""
        try:
            response = request(self._api, self._path, [], (CONNECT_SECONDS, CONNECT_SECONDS))
        except ApiException as error:
            if error.status == 404:
                return True
            raise
        try:
            status = json.loads(response.data).get("status", {})
        finally:
            response.release_conn()
        container = (status.get("containerStatuses") or [{}])[0]
        return status.get("phase") in ENDED_PHASES or "terminated" in container.get("state", {})

    def _read(self, follow: bool) -> bool:
        """Read the log once (to its end, or until the stream drops) and wait until
        the batcher has what was read; whether any new line was."""
        query: list[tuple[str, str]] = [("timestamps", "true")]
        if follow:
            query.append(("follow", "true"))
        if self._tail is not None:
            query.append(("sinceTime", since_time(self._tail)))
        response = self._response = request(
            self._api, self._path + "/log", query, (CONNECT_SECONDS, self._read_timeout)
        )
        self._seen = 0
        splitter = LineSplitter()
        delivered = False
        try:
            if self._stopped.is_set():
                raise _Stopped
            for chunk in response.stream(CHUNK_SIZE, decode_content=False):
                delivered |= self._queue(splitter.feed(chunk))
            delivered |= self._queue(splitter.close())
        finally:
            self._response = None
            response.close()
            response.release_conn()
            if delivered:
                self._wait(lambda: not self._feeding)
        return delivered

    def _queue(self, lines: list[str]) -> bool:
        """Queue the new ones of ``lines`` for the batcher; whether there were any."""
        fresh: list[tuple[float | None, str]] = []
        for line in lines:
            stamp, _, text = line.partition(" ")
            at = kubelet_time(stamp)
            if at is None:
                fresh.append((None, line))
            elif self._is_new(at):
                fresh.append((at, text))
        if not fresh:
            return False
        groups = [(at, [text for _, text in run]) for at, run in groupby(fresh, key=itemgetter(0))]
        self._wait(lambda: self._waiting_lines < MAX_WAITING_LINES)
        with self._handoff:
            self._waiting += groups
            self._waiting_lines += len(fresh)
            if not self._feeding:
                self._feeding = True
                assert self._loop is not None  # run() sets it before it starts the thread
                self._loop.call_soon_threadsafe(self._start_feeding)
        return True

    def _wait(self, ready: Callable[[], bool]) -> None:
        """Wait until ``ready()`` (checked under the handoff lock), the loop fails
        to take lines, or the follower is stopped."""
        with self._handoff:
            while not ready():
                if self._failure is not None:
                    raise _Failed from self._failure
                if self._stopped.is_set():
                    raise _Stopped
                self._handoff.wait(POLL_SECONDS)
            if self._failure is not None:
                raise _Failed from self._failure

    def _is_new(self, at: float) -> bool:
        """Whether a line at time ``at`` comes after the tail, which it then becomes."""
        tail = self._tail
        if tail is not None and at <= tail.time:
            if at < tail.time:
                return False
            self._seen += 1
            if self._seen <= tail.count_at_time:
                return False
            self._tail = LogTail(at, self._seen)
            return True
        self._tail = LogTail(at, 1)
        self._seen = 1
        return True

    # -- on the loop

    def _start_feeding(self) -> None:
        self._feeder = asyncio.create_task(self._feed())

    async def _feed(self) -> None:
        """Feed the batcher what the thread queued, until nothing waits."""
        try:
            while True:
                with self._handoff:
                    groups, self._waiting = self._waiting, []
                    if not groups:
                        self._feeding = False
                        self._handoff.notify_all()
                        return
                for at, texts in groups:
                    await self._batcher.add(STDOUT, texts, at)
                with self._handoff:
                    self._waiting_lines -= sum(len(texts) for _, texts in groups)
                    self._handoff.notify_all()
        except BaseException as error:
            with self._handoff:
                self._failure = error
                self._feeding = False
                self._handoff.notify_all()
            if not isinstance(error, Exception):
                raise


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _Failed(Exception):
    """The loop could not take the lines (delivering them failed)."""
