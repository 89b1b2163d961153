"""Submit-to-completed latency of the cheapest process (``sleep`` 0 s) through the API.

The API path adds HTTP, the database, the quota queue, the executor's wrapper
and the events WebSocket to what the process itself costs; it is compared with
the two floors under it, measured in the same run and interleaved with it so
that machine noise hits all three alike: the bare runner
(``python -m nagelfluh_runner run``, same type and environment) and a bare
interpreter start (``python -c pass``). A third, informative floor is the bare
runner behind the executor's rlimit wrapper (util-linux ``prlimit``, or
``python -I -S limits.py`` where it is missing), which every local run pays.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from _server import (
    PYTHON,
    Events,
    Server,
    Targets,
    api_client,
    argument_parser,
    bare_runner,
    cpu_seconds,
    describe_ms,
    get_json,
    jupyter_server,
    run_bare,
    submit,
)

from nagelfluh_lab.executors import limits
from nagelfluh_lab.executors.local import PRLIMIT

PARAMETERS = {"seconds": 0}
# The executor's rlimit wrapper, as LocalExecutor._argv starts it (the limit
# values do not change what it costs).
WRAPPER = (
    (PRLIMIT, "--core=0:0", "--cpu=3600:3600", f"--as={2**40}:{2**40}", "--")
    if PRLIMIT
    else (PYTHON, "-I", "-S", limits.__file__, str(2**40), "3600", "3600")
)
TARGET_VS_RUNNER = 2.0
TARGET_VS_PYTHON = 15.0


@dataclass
class Timings:
    api: list[float]
    post: list[float]  # POST until its 201 arrived
    phases: dict[str, list[float]]  # where the API time went, from the version's timestamps
    runner: list[float]
    wrapped: list[float]  # the bare runner behind the rlimit wrapper
    python: list[float]
    server_cpu: float = 0.0  # seconds of server CPU per API run (its GET version included)


async def measure(server: Server, runs: int, scratch: Path) -> Timings:
    timings = Timings([], [], {}, [], [], [])
    async with api_client(server) as client:
        events = await Events.connect(server)
        try:
            await events.follow_project(client, PARAMETERS)
            cpu_before = cpu_seconds(server.pid)
            for i in range(runs):
                await _api_run(client, events, timings)
                timings.runner.append(bare_runner(scratch, "sleep", PARAMETERS, 2 * i))
                timings.wrapped.append(
                    bare_runner(scratch, "sleep", PARAMETERS, 2 * i + 1, WRAPPER)
                )
                timings.python.append(run_bare([PYTHON, "-c", "pass"]))
        finally:
            events.close()
    timings.server_cpu = (cpu_seconds(server.pid) - cpu_before) / runs
    return timings


async def _api_run(client: httpx.AsyncClient, events: Events, timings: Timings) -> None:
    wall = time.time()
    start = time.perf_counter()
    process = await submit(client, "sleep", PARAMETERS)
    posted = time.perf_counter()
    state = await events.until_terminal(process["id"])
    observed = time.perf_counter()
    if state != "completed":
        raise RuntimeError(f"process {process['id']} ended {state}")
    timings.api.append(observed - start)
    timings.post.append(posted - start)
    version = await get_json(client, f"process/{process['id']}/versions/1")
    marks = {
        "POST → version row": version["created"] - wall,
        "version row → started": version["started"] - version["created"],
        "started → finished": version["finished"] - version["started"],
        "finished → client saw it": (wall + observed - start) - version["finished"],
    }
    for name, seconds in marks.items():
        timings.phases.setdefault(name, []).append(seconds)


def main() -> int:
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="runs of each kind (default 30)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nagelfluh-bare-") as scratch:
        with jupyter_server() as server:
            timings = asyncio.run(measure(server, args.runs, Path(scratch)))

    print(f"latency of sleep(0), {args.runs} sequential runs of each kind")
    print(describe_ms("API submit → completed", timings.api))
    print(describe_ms("  of which POST → 201", timings.post))
    for name, seconds in timings.phases.items():
        print(describe_ms(f"  {name}", seconds))
    print(f"  server CPU per run           {timings.server_cpu * 1000:8.1f} ms")
    print(describe_ms("bare runner", timings.runner))
    print(describe_ms("bare runner + rlimit wrapper", timings.wrapped))
    print(describe_ms("python -c pass", timings.python))
    api = statistics.median(timings.api)
    targets = Targets()
    targets.judge(
        "median API / bare runner",
        api / statistics.median(timings.runner),
        TARGET_VS_RUNNER,
        at_least=False,
    )
    targets.judge(
        "median API / python -c pass",
        api / statistics.median(timings.python),
        TARGET_VS_PYTHON,
        at_least=False,
    )
    return targets.exit_code(args.check)


if __name__ == "__main__":
    sys.exit(main())
