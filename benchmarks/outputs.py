"""Many outputs: a run's 100,000 outputs registered while the server stays responsive,
and pages of a project holding 1,000,000 datasets.

Part one runs ``_outputs_process.py``, which writes ``--outputs`` small outputs
and their manifest, while a prober sends a cheap request (``GET projects``) every
20 ms and records how long each waited. Its baseline is the same prober against
the idle server just before. Then the version's own JSON is measured (it carries
its first outputs and a count), and the dataset list pages through all outputs.

Part two puts ``--datasets`` dataset rows into a second project straight through
SQLite (as a long-lived installation accumulates them) and times pages of the
project's dataset list at its newest, its middle and its oldest end, against the
same pages of a project of 1,000 datasets.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import statistics
import sys
import time
from pathlib import Path

import httpx
from _server import (
    PYTHON,
    Events,
    RssSampler,
    Targets,
    api_client,
    argument_parser,
    describe_ms,
    get_json,
    jupyter_server,
    percentile,
)

PRODUCER = str(Path(__file__).with_name("_outputs_process.py"))
PROBE_INTERVAL = 0.02
TARGET_WAIT = 0.5  # seconds: no request waits longer while outputs are registered
TARGET_VERSION_BYTES = 100_000
TARGET_PAGE = 0.05  # seconds per page of a project of a million datasets
MB = 2**20


async def probe(client: httpx.AsyncClient, stop: asyncio.Event) -> list[float]:
    """How long each ``GET projects`` took, one every PROBE_INTERVAL until ``stop``."""
    waits: list[float] = []
    while not stop.is_set():
        start = time.perf_counter()
        (await client.get("projects")).raise_for_status()
        waits.append(time.perf_counter() - start)
        await asyncio.sleep(PROBE_INTERVAL)
    return waits


async def idle_baseline(client: httpx.AsyncClient, seconds: float = 2.0) -> list[float]:
    stop = asyncio.Event()
    task = asyncio.create_task(probe(client, stop))
    await asyncio.sleep(seconds)
    stop.set()
    return await task


async def many_outputs(server, count: int) -> dict:
    async with api_client(server) as client, api_client(server, connections=1) as prober:
        idle = await idle_baseline(prober)
        events = await Events.connect(server)
        try:
            first = await client.post("process", json={"type": "sleep", "parameters": {}})
            project = first.json()["project"]
            await events.send({"subscribe": {"project": project}})
            await events.until_terminal(first.json()["id"])  # warmed up, subscribed
            stop = asyncio.Event()
            probing = asyncio.create_task(probe(prober, stop))
            start = time.perf_counter()
            created = (await client.post("process", json={"type": "sleep"})).json()
            batches = received = 0
            while True:
                message = await events.receive()
                if message.get("process") != created["id"]:
                    continue
                if message["type"] == "datasets":
                    batches += 1
                    received += len(message["datasets"])
                if message["type"] == "state" and message["state"] in ("completed", "failed"):
                    state = message["state"]
                    break
            elapsed = time.perf_counter() - start
            seen_at = time.time()
            stop.set()
            busy = await probing
        finally:
            events.close()
        version = await client.get(f"process/{created['id']}/versions/1")
        body = version.json()
        listed, pages, cursor = set(), [], None
        while True:
            params = {"process": created["id"], "version": 1, "limit": 1000}
            if cursor:
                params["cursor"] = cursor
            page_start = time.perf_counter()
            page = await get_json(client, "dataset", **params)
            pages.append(time.perf_counter() - page_start)
            listed.update(d["id"] for d in page["items"])
            cursor = page["next"]
            if cursor is None:
                break
    return {
        "state": state,
        "elapsed": elapsed,
        "ran": body["finished"] - body["started"],
        "registering": seen_at - body["finished"],
        "idle": idle,
        "busy": busy,
        "version_bytes": len(version.content),
        "output_count": body["output_count"],
        "inline": len(body["outputs"]),
        "events": (batches, received),
        "listed": len(listed),
        "pages": pages,
    }


def fill(database: Path, project: int, count: int) -> None:
    """``count`` upload-like dataset rows in ``project``, in one transaction."""
    meta = json.dumps({"title": None})
    now = time.time()
    with sqlite3.connect(database) as connection:
        connection.executemany(
            "INSERT INTO datasets (project_id, version_id, name, key, mime_type, size, digest,"
            " meta, created) VALUES (?, NULL, ?, ?, 'text/plain', 10, NULL, ?, ?)",
            (
                (project, f"d{n}.txt", f"{project}/uploads/0-bench/d{n}.txt", meta, now)
                for n in range(count)
            ),
        )


async def page_times(
    server, project: int, low: int, high: int, repeats: int = 20
) -> dict[str, list[float]]:
    """Time the newest, a middle and the oldest page (100 rows) of the project's list,
    whose dataset ids run from ``low`` to ``high``."""
    cursors = {"newest": None, "middle": str((low + high) // 2), "oldest": str(low + 101)}
    times: dict[str, list[float]] = {}
    async with api_client(server) as client:
        for name, cursor in cursors.items():
            params = {"project": project, "limit": 100, **({"cursor": cursor} if cursor else {})}
            samples = []
            for _ in range(repeats):
                start = time.perf_counter()
                page = await get_json(client, "dataset", **params)
                samples.append(time.perf_counter() - start)
                if len(page["items"]) != 100:
                    raise RuntimeError(f"the {name} page has {len(page['items'])} datasets")
            times[name] = samples
    return times


def id_range(database: Path, project: int) -> tuple[int, int]:
    with sqlite3.connect(database) as connection:
        return connection.execute(
            "SELECT min(id), max(id) FROM datasets WHERE project_id = ?", (project,)
        ).fetchone()


async def create_project(server, name: str) -> int:
    async with api_client(server) as client:
        response = await client.post("projects", json={"name": name})
        response.raise_for_status()
        return response.json()["id"]


def main() -> int:
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--outputs", type=int, default=100_000, help="default 100,000")
    parser.add_argument("--datasets", type=int, default=1_000_000, help="default 1,000,000")
    args = parser.parse_args()
    targets = Targets()

    with jupyter_server(
        {
            "command": [PYTHON, PRODUCER, str(args.outputs)],
            "read_only_paths": [str(Path(PRODUCER).parent)],
        }
    ) as server:
        with RssSampler(server.pid) as rss:
            run = asyncio.run(many_outputs(server, args.outputs))
        print(f"{args.outputs:,} outputs from one run")
        print(
            f"  run: {run['state']} after {run['elapsed']:.2f} s (submit to final state): "
            f"the process ran {run['ran']:.2f} s, its outputs were checked and registered "
            f"in {run['registering']:.2f} s"
        )
        print("  " + describe_ms("GET projects, idle", run["idle"]))
        print("  " + describe_ms("GET projects, registering", run["busy"]))
        worst = max(run["busy"])
        print(
            f"  worst wait while registering: {worst * 1000:.1f} ms = "
            f"{worst / statistics.median(run['idle']):.1f}x the idle median "
            f"(p99 {percentile(run['busy'], 99) * 1000:.1f} ms)"
        )
        print(
            f"  GET version: {run['version_bytes']:,} bytes, {run['inline']} outputs inline, "
            f"output_count {run['output_count']:,}"
        )
        print(f"  events: {run['events'][1]:,} outputs in {run['events'][0]} datasets messages")
        print("  " + describe_ms("dataset list, 1,000 a page", run["pages"]))
        print(f"  server RSS growth: {rss.growth / MB:.1f} MB (peak {rss.peak / MB:.1f} MB)")
        targets.require(
            "every output registered, listed once and sent once",
            run["state"] == "completed"
            and run["output_count"] == run["listed"] == run["events"][1] == args.outputs,
        )
        targets.judge("worst request wait", worst, TARGET_WAIT, at_least=False, unit=" s")
        targets.judge("GET version size", run["version_bytes"], TARGET_VERSION_BYTES, False, " B")

        big = asyncio.run(create_project(server, "a million datasets"))
        small = asyncio.run(create_project(server, "a thousand datasets"))
        database = server.root / "nagelfluh.db"
        start = time.perf_counter()
        fill(database, small, 1000)
        fill(database, big, args.datasets)
        print(
            f"\n{args.datasets:,} datasets in one project "
            f"(rows written in {time.perf_counter() - start:.1f} s)"
        )
        baseline = asyncio.run(page_times(server, small, *id_range(database, small)))
        measured = asyncio.run(page_times(server, big, *id_range(database, big)))
        for name in measured:
            base = statistics.median(baseline[name])
            value = statistics.median(measured[name])
            print(
                f"  {name:<7} page: {value * 1000:7.2f} ms median "
                f"(max {max(measured[name]) * 1000:.2f} ms) vs {base * 1000:.2f} ms with 1,000 "
                f"datasets: {value / base:.2f}x"
            )
            targets.judge(f"{name} page, slowest", max(measured[name]), TARGET_PAGE, False, " s")
    return targets.exit_code(args.check)


if __name__ == "__main__":
    sys.exit(main())
