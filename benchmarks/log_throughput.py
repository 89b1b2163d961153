"""End-to-end log throughput: a process printing N lines, every line stored in the
database and delivered to a WebSocket client subscribed from the start.

The baseline is the same line producer piped to ``wc -l``, measured in the same
run: the ratio says how much of the producer's own speed survives the server's
pipe reading, batching, SQLite inserts and WebSocket fan-out. The server's
resident memory is sampled throughout, since a log path that buffers instead of
applying back-pressure shows up there first.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from _server import (
    PYTHON,
    TERMINAL,
    Events,
    RssSampler,
    Server,
    Targets,
    api_client,
    argument_parser,
    contract_env,
    cpu_seconds,
    get_json,
    jupyter_server,
    submit,
)

PRODUCER = str(Path(__file__).with_name("_line_process.py"))
BASELINE_RUNS = 3
TARGET_RATIO = 0.25
TARGET_GROWTH_MB = 100.0
MB = 1e6


@dataclass
class Delivery:
    """What the WebSocket client saw of one version's log."""

    expected: int
    received: int = 0
    next_seq: int = 1
    gaps: int = 0  # messages whose first seq skipped ahead
    disorder: int = 0  # messages with duplicate or non-consecutive seqs
    messages: int = 0
    resyncs: int = 0
    state: str | None = None
    reason: str | None = None
    completed_at: float = 0.0  # when the terminal state arrived
    last_line_at: float = 0.0
    extra: list[str] = field(default_factory=list)  # lines after the expected N

    def add(self, lines: list[dict]) -> None:
        self.messages += 1
        seqs = [line["seq"] for line in lines]
        if seqs[0] > self.next_seq:
            self.gaps += 1
        if seqs != list(range(seqs[0], seqs[0] + len(seqs))) or seqs[0] < self.next_seq:
            self.disorder += 1
        self.next_seq = seqs[-1] + 1
        self.received += len(lines)
        self.extra += [line["line"] for line in lines if line["seq"] > self.expected]
        self.last_line_at = time.perf_counter()

    @property
    def done(self) -> bool:
        return self.state in TERMINAL and self.received >= self.expected


def baseline(lines: int) -> float:
    """Lines/s of the producer piped to ``wc -l``, in the executor's environment."""
    with tempfile.TemporaryDirectory(prefix="nagelfluh-bare-") as tmp:
        env = contract_env(Path(tmp).as_uri(), Path(tmp), "sleep", {}, 1)
        start = time.perf_counter()
        producer = subprocess.Popen([PYTHON, PRODUCER, str(lines)], env=env, stdout=subprocess.PIPE)
        counted = subprocess.run(["wc", "-l"], stdin=producer.stdout, capture_output=True)
        producer.stdout.close()
        if producer.wait() != 0 or int(counted.stdout) != lines:
            raise RuntimeError(f"the producer failed or wc counted {counted.stdout!r}")
        return lines / (time.perf_counter() - start)


async def measure(server: Server, lines: int, timeout: float) -> tuple[Delivery, float, dict]:
    """Run the producer under the server and follow it; the delivery, the seconds
    from POST until the last line and the terminal state were both seen, and the
    figures the server reports."""
    delivery = Delivery(lines)
    async with api_client(server) as client:
        events = await Events.connect(server)
        try:
            start = time.perf_counter()
            process = (await submit(client, "sleep", {"seconds": 0}))["id"]
            subscribe = {"subscribe": {"process": process, "version": 1}}
            await events.send({**subscribe, "since": 0})
            await asyncio.wait_for(_follow(events, delivery, subscribe), timeout)
            elapsed = max(delivery.completed_at, delivery.last_line_at) - start
            delivery.completed_at -= start
            delivery.last_line_at -= start
        finally:
            events.close()
        stored = await _stored(client, process, lines)
    return delivery, elapsed, stored


async def _follow(events: Events, delivery: Delivery, subscribe: dict) -> None:
    while not delivery.done:
        message = await events.receive()
        kind = message.get("type")
        if kind == "log":
            delivery.add(message["lines"])
        elif kind == "state":
            delivery.state, delivery.reason = message["state"], message.get("reason")
            if delivery.state in TERMINAL:
                delivery.completed_at = time.perf_counter()
            if delivery.state == "failed":
                raise RuntimeError(f"the run failed: {message}")
        elif kind == "resync":
            delivery.resyncs += 1
            await events.send({**subscribe, "since": message["since"]})
        elif kind == "error":
            raise RuntimeError(f"the server answered an error: {message}")


async def _stored(client: httpx.AsyncClient, process: int, lines: int) -> dict:
    """What the database holds: the version's line count and its last lines."""
    version = await get_json(client, f"process/{process}/versions/1")
    tail = await get_json(client, f"process/{process}/versions/1/logs", since=lines - 1)
    return {"log_lines": version["log_lines"], "tail": [item["seq"] for item in tail["items"]]}


def main() -> int:
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000, help="default 1,000,000")
    args = parser.parse_args()
    lines = args.lines
    timeout = max(120.0, lines / 5000)

    bare = statistics.median(baseline(lines) for _ in range(BASELINE_RUNS))
    with jupyter_server({"command": [PYTHON, PRODUCER, str(lines)]}) as server:
        cpu_before = cpu_seconds(server.pid)
        with RssSampler(server.pid) as rss:
            delivery, elapsed, stored = asyncio.run(measure(server, lines, timeout))
        server_cpu = cpu_seconds(server.pid) - cpu_before

    rate = lines / elapsed
    contiguous = delivery.gaps == delivery.disorder == 0 and delivery.next_seq == lines + 1
    print(f"log throughput, {lines:,} lines")
    print(f"  producer | wc -l                   {bare:12,.0f} lines/s (median of {BASELINE_RUNS})")
    print(f"  through the server, end to end     {rate:12,.0f} lines/s ({elapsed:.2f} s)")
    print(f"    terminal state seen at           {delivery.completed_at:12.2f} s")
    print(f"    last line received at            {delivery.last_line_at:12.2f} s")
    print(f"    server CPU during the run        {server_cpu:12.2f} s")
    print(
        f"  WebSocket: {delivery.received:,} lines in {delivery.messages:,} messages, "
        f"{delivery.resyncs} resyncs, seqs 1..{delivery.next_seq - 1:,} "
        f"{'contiguous' if contiguous else 'NOT contiguous'} "
        f"({delivery.gaps} gaps, {delivery.disorder} out of order)"
    )
    print(
        f"  database: log_lines {stored['log_lines']:,}, seqs after {lines - 1:,}: {stored['tail']}"
    )
    print(
        f"  server RSS: baseline {rss.baseline / MB:.1f} MB, peak {rss.peak / MB:.1f} MB, "
        f"growth {rss.growth / MB:.1f} MB"
    )
    if delivery.extra:
        print(f"  unexpected lines after the last one: {delivery.extra[:5]}")
    targets = Targets()
    targets.require(
        f"WebSocket delivered lines 1..{lines:,} once each, in order",
        contiguous and delivery.received == lines and not delivery.extra,
    )
    targets.require(
        f"database holds {lines:,} lines, the last with seq {lines:,}",
        stored["log_lines"] == lines and stored["tail"] == [lines],
    )
    targets.judge("end to end / producer | wc -l", rate / bare, TARGET_RATIO, at_least=True)
    targets.judge("server RSS growth", rss.growth / MB, TARGET_GROWTH_MB, False, " MB")
    return targets.exit_code(args.check)


if __name__ == "__main__":
    sys.exit(main())
