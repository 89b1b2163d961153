"""Cross-server live logs: how late a line stored by server A reaches a WebSocket
client of server B, both servers on one PostgreSQL database.

A process on A prints lines at a steady rate (default 10,000 lines/s). Two clients
subscribe to its version from the start: one on B, whose lines travel A's
database transaction, its NOTIFY, B's listening connection and B's read-back; and
one on A itself, the baseline measured in the same run, whose lines go from A's
store straight to its own hub. A line's delay is from the time A read it from the
pipe (its ``time``, taken just before A stores it) until the client received the
message that carried it.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from _server import (
    PYTHON,
    TERMINAL,
    Events,
    Server,
    Targets,
    api_client,
    argument_parser,
    cpu_seconds,
    percentile,
    submit,
)

from tests import postgres
from tests.servers import running_server

TARGET_P95_MS = 250.0
# After a second (both clients subscribe meanwhile), prints argv[1] lines per second
# for argv[2] seconds, catching up every millisecond as a steadily busy process does,
# then writes the empty manifest of a completed run.
PRODUCER = """
import json, os, sys, time
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname
from nagelfluh_runner import protocol

rate, seconds = float(sys.argv[1]), float(sys.argv[2])
time.sleep(1)
total, printed, start = int(rate * seconds), 0, time.monotonic()
write = sys.stdout.write
while printed < total:
    due = min(total, int((time.monotonic() - start) * rate) + 1)
    while printed < due:
        printed += 1
        write(f"line {printed}: the quick brown fox jumps over the lazy dog\\n")
    sys.stdout.flush()
    time.sleep(0.001)
base = Path(url2pathname(urlparse(os.environ[protocol.ENV_STORAGE_BASE]).path))
prefix = protocol.version_prefix(
    os.environ[protocol.ENV_PROJECT_ID], os.environ[protocol.ENV_PROCESS_ID],
    os.environ[protocol.ENV_VERSION])
(base / prefix).mkdir(parents=True, exist_ok=True)
(base / prefix / protocol.MANIFEST_NAME).write_text(json.dumps({"datasets": []}))
"""


@dataclass
class Delivery:
    """What one client saw: each line's delay, and whether seqs came once, in order."""

    expected: int
    delays: list[float] = field(default_factory=list)
    next_seq: int = 1
    in_order: bool = True
    messages: int = 0
    state: str | None = None

    def add(self, lines: list[dict], received: float) -> None:
        self.messages += 1
        seqs = [line["seq"] for line in lines]
        if seqs != list(range(self.next_seq, self.next_seq + len(seqs))):
            self.in_order = False
        self.next_seq = seqs[-1] + 1
        self.delays += [received - line["time"] for line in lines]

    @property
    def complete(self) -> bool:
        return self.in_order and self.next_seq == self.expected + 1

    def describe(self, label: str) -> str:
        ms = [d * 1000 for d in self.delays]
        return (
            f"  {label:<30} p50 {statistics.median(ms):7.1f} ms   p95 {percentile(ms, 95):7.1f} ms"
            f"   p99 {percentile(ms, 99):7.1f} ms   max {max(ms):7.1f} ms"
            f"   ({len(ms):,} lines in {self.messages:,} messages)"
        )


async def _follow(server: Server, process: int, delivery: Delivery) -> None:
    events = await Events.connect(server)
    try:
        await events.send({"subscribe": {"process": process, "version": 1}, "since": 0})
        while not (delivery.state in TERMINAL and delivery.next_seq > delivery.expected):
            message = await events.receive()
            received = time.time()
            if message["type"] == "log":
                delivery.add(message["lines"], received)
            elif message["type"] == "state":
                delivery.state = message["state"]
            elif message["type"] in ("resync", "error"):
                raise RuntimeError(f"the client was sent {message}")
    finally:
        events.close()


async def measure(a: Server, b: Server, lines: int, timeout: float) -> tuple[Delivery, Delivery]:
    on_a, on_b = Delivery(lines), Delivery(lines)
    async with api_client(a) as client:
        process = (await submit(client, "sleep", {"seconds": 0}))["id"]
        await asyncio.wait_for(
            asyncio.gather(_follow(a, process, on_a), _follow(b, process, on_b)), timeout
        )
    return on_a, on_b


def main() -> int:
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=10_000, help="lines/s (default 10,000)")
    parser.add_argument("--seconds", type=float, default=10, help="how long (default 10)")
    args = parser.parse_args()
    if not postgres.available():
        print("needs Debian's postgresql and root, as the PostgreSQL tests do")
        return 1
    lines = int(args.rate * args.seconds)
    command = [PYTHON, "-c", PRODUCER, str(args.rate), str(args.seconds)]
    with tempfile.TemporaryDirectory(prefix="nagelfluh-bench-") as tmp, postgres.cluster() as port:
        settings = {
            "db_url": postgres.create_database(port),
            "local_executor": {"command": command},
            "base_url": "/",
        }
        with (
            running_server(Path(tmp) / "a", server_id="a", **settings) as a,
            running_server(Path(tmp) / "b", server_id="b", **settings) as b,
        ):
            cpu_a, cpu_b = cpu_seconds(a.pid), cpu_seconds(b.pid)
            start = time.perf_counter()
            on_a, on_b = asyncio.run(measure(a, b, lines, max(120.0, 5 * args.seconds)))
            elapsed = time.perf_counter() - start
            cpu_a, cpu_b = cpu_seconds(a.pid) - cpu_a, cpu_seconds(b.pid) - cpu_b

    print(f"cross-server log delay, {lines:,} lines at {args.rate:,.0f} lines/s on server A")
    print(on_a.describe("subscriber on A (baseline)"))
    print(on_b.describe("subscriber on B"))
    print(f"  run from POST to both clients done   {elapsed:8.2f} s")
    print(f"  server CPU: A {cpu_a:.2f} s, B {cpu_b:.2f} s")
    p95_a = percentile(on_a.delays, 95) * 1000
    p95_b = percentile(on_b.delays, 95) * 1000
    print(f"  p95 B - A                            {p95_b - p95_a:8.1f} ms")
    print(f"  p95 B / A                            {p95_b / p95_a:8.2f}")
    targets = Targets()
    for label, delivery in (("A", on_a), ("B", on_b)):
        targets.require(
            f"client on {label} got lines 1..{lines:,} once each, in order",
            delivery.complete and len(delivery.delays) == lines,
        )
    targets.judge("p95 delay on B", p95_b, TARGET_P95_MS, at_least=False, unit=" ms")
    return targets.exit_code(args.check)


if __name__ == "__main__":
    sys.exit(main())
