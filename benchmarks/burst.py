"""A burst of submissions of ``sleep`` 0 s: how fast the API accepts them, how fast
the quota queue works through them, and that none is lost.

Every created process must reach a terminal state, and the paginated process
list must hold exactly as many processes as were submitted. The baseline is the
same number of bare ``python -m nagelfluh_runner run`` invocations, run as many
at a time as the local quota admits (one per core, each version asking for one),
measured in the same run.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from _server import (
    CPUS,
    TERMINAL,
    Events,
    RssSampler,
    Server,
    Targets,
    api_client,
    argument_parser,
    bare_runner,
    cpu_seconds,
    describe_ms,
    get_json,
    jupyter_server,
    submit,
)

PARAMETERS = {"seconds": 0}
PAGE = 1000
IDLE_TIMEOUT = 120.0  # no event for this long: the rest is considered lost


@dataclass
class Burst:
    ids: list[int] = field(default_factory=list)
    post_seconds: list[float] = field(default_factory=list)  # each POST until its 201
    ended: dict[int, str] = field(default_factory=dict)  # terminal state per process
    posted_in: float = 0.0  # the POST phase
    last_end: float = 0.0  # from the first POST until the last terminal state seen
    listed: Counter[str] = field(default_factory=Counter)  # final state of each listed process
    reasons: Counter[str] = field(default_factory=Counter)  # why listed processes failed


async def measure(server: Server, count: int, concurrency: int) -> Burst:
    burst = Burst()
    async with api_client(server, connections=concurrency) as client:
        events = await Events.connect(server)
        try:
            project = await events.follow_project(client, PARAMETERS)
            changed = asyncio.Event()
            follower = asyncio.create_task(_follow(events, project, burst, changed))
            start = time.perf_counter()
            numbers = iter(range(count))
            await asyncio.gather(*(_post(client, numbers, burst) for _ in range(concurrency)))
            burst.posted_in = time.perf_counter() - start
            await _until_all_ended(burst, changed, follower)
            burst.last_end -= start
            follower.cancel()
        finally:
            events.close()
        await _list(client, project, burst)
    return burst


async def _post(client: httpx.AsyncClient, numbers: Iterator[int], burst: Burst) -> None:
    for _ in numbers:
        start = time.perf_counter()
        process = await submit(client, "sleep", PARAMETERS)
        burst.post_seconds.append(time.perf_counter() - start)
        burst.ids.append(process["id"])


async def _follow(events: Events, project: int, burst: Burst, changed: asyncio.Event) -> None:
    """Record every terminal state; on a resync, subscribe again (its answer is
    every process's current state, so nothing that ended meanwhile is missed)."""
    try:
        while True:
            message = await events.receive()
            if message.get("type") == "state" and message.get("state") in TERMINAL:
                if message["process"] not in burst.ended:
                    burst.ended[message["process"]] = message["state"]
                    burst.last_end = time.perf_counter()
                    changed.set()
            elif message.get("type") == "resync":
                await events.send({"subscribe": {"project": project}})
    finally:
        changed.set()  # wake the waiter if following fails


async def _until_all_ended(
    burst: Burst, changed: asyncio.Event, follower: asyncio.Task[None]
) -> None:
    """Wait until every submitted process has ended, or no event came for
    IDLE_TIMEOUT seconds (the processes still missing are then lost)."""
    while not set(burst.ids) <= burst.ended.keys():
        if follower.done():
            follower.result()  # raises what stopped it
        try:
            await asyncio.wait_for(changed.wait(), IDLE_TIMEOUT)
        except asyncio.TimeoutError:
            return
        changed.clear()


async def _list(client: httpx.AsyncClient, project: int, burst: Burst) -> None:
    """Walk the paginated process list of the project, counting final states."""
    cursor: str | None = None
    while True:
        params = {"project": project, "limit": PAGE} | ({"cursor": cursor} if cursor else {})
        page = await get_json(client, "process", **params)
        for process in page["items"]:
            latest = process["versions"][-1]
            burst.listed[latest["state"]] += 1
            if latest["state"] == "failed":
                burst.reasons[f"{latest['reason']}: {latest['message']}"] += 1
        cursor = page["next"]
        if cursor is None:
            return


def baseline(count: int, concurrency: int) -> float:
    """Bare runner invocations per second, ``concurrency`` at a time."""
    with tempfile.TemporaryDirectory(prefix="nagelfluh-bare-") as tmp:
        start = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(lambda i: bare_runner(Path(tmp), "sleep", PARAMETERS, i), range(count)))
        return count / (time.perf_counter() - start)


def main() -> int:
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="submissions (default 1000)")
    parser.add_argument("--concurrency", type=int, default=16, help="POSTs in flight (16)")
    args = parser.parse_args()

    with jupyter_server() as server:
        runners_at_once = CPUS  # a version asks for 1 core by default
        cpu_before = cpu_seconds(server.pid)
        with RssSampler(server.pid) as rss:
            burst = asyncio.run(measure(server, args.count, args.concurrency))
        server_cpu = cpu_seconds(server.pid) - cpu_before
    bare_rate = baseline(args.count, runners_at_once)

    submitted = len(burst.ids)
    ended = Counter(burst.ended[i] for i in burst.ids if i in burst.ended)
    lost = [i for i in burst.ids if i not in burst.ended]
    completion_rate = submitted / burst.last_end
    print(f"burst of {args.count} sleep(0) submissions, {args.concurrency} POSTs in flight")
    print(
        f"  POST phase                     {burst.posted_in:8.2f} s"
        f"   {submitted / burst.posted_in:8.1f} submissions/s"
    )
    print(describe_ms("  POST → 201 under load", burst.post_seconds))
    print(
        f"  all ended after                {burst.last_end:8.2f} s"
        f"   {completion_rate:8.1f} completions/s"
    )
    print(f"  bare runner, {runners_at_once} at a time                  {bare_rate:8.1f} runs/s")
    print(f"  completions/s / bare runner runs/s   {completion_rate / bare_rate:8.3f}")
    print(f"  seen on the WebSocket: {dict(ended)}, never ended: {len(lost)} {lost[:10]}")
    listed = sum(burst.listed.values())
    print(f"  process list: {listed} processes, {dict(burst.listed)}")
    for reason, times in burst.reasons.most_common(5):
        print(f"    failed {times}x: {reason}")
    print(f"  server CPU {server_cpu:.1f} s; RSS growth {rss.growth / 1e6:.1f} MB")
    targets = Targets()
    targets.require(f"all {submitted} submitted processes ended", not lost)
    targets.require(
        f"the process list holds {submitted} + 1 (the warm-up)",
        listed == submitted + 1,
    )
    targets.require("every listed process ended", sum(burst.listed[s] for s in TERMINAL) == listed)
    return targets.exit_code(args.check)


if __name__ == "__main__":
    sys.exit(main())
