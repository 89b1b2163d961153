"""Notebook types: what a run of a registered notebook costs against a packaged type doing
the same work, and what registering a notebook costs against listing the types.

1. The same work, ``--runs`` times each, interleaved, cache bypassed, submit → completed
   as the client sees it: ``synthetic-signal`` (a packaged type: the runner imports it) and a
   notebook type computing the same signal with numpy and writing it as CSV (the runner
   starts a kernel and executes three cells through nbclient). The difference is the price
   of "no packaging", judged against its floor measured here too: a bare kernel's life
   (jupyter_client starts ipykernel, runs ``pass``, shuts it down).
2. ``POST process-types`` of a notebook (schema inferred from its parameters cell, stored
   content-addressed, a new revision each time) against ``GET process-types?project=``.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time

import httpx
import nbformat
from _server import Server, Targets, api_client, argument_parser, describe_ms, jupyter_server
from nbformat.v4 import new_code_cell, new_notebook

# What a notebook run adds to the same work as a packaged type is a kernel's life and
# nbclient's bookkeeping: at most twice a bare kernel's life.
TARGET_OVERHEAD_VS_KERNEL = 2.0
TARGET_REGISTER_VS_LIST = 20.0

PARAMETERS = "duration: float = 1.0\nsample_rate: int = 100\nseed = 0\n"
BODY = """
import numpy as np
rng = np.random.default_rng(seed)
t = np.arange(int(duration * sample_rate)) / sample_rate
amplitude = np.sin(2 * np.pi * 4 * t) + 0.1 * rng.standard_normal(t.size)
with open(f"{nagelfluh_output_dir}/signal.csv", "w") as out:
    out.write("time [s],amplitude [mm/s]\\n")
    out.writelines(f"{a},{b}\\n" for a, b in zip(t, amplitude))
print("samples", t.size)
"""


def _notebook(revision: int = 0) -> dict:
    cell = new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]})
    body = new_code_cell(BODY + f"# revision {revision}\n")
    return json.loads(nbformat.writes(new_notebook(cells=[cell, body])))


async def _until_ended(client: httpx.AsyncClient, process: int) -> dict:
    while True:
        response = await client.get(f"process/{process}/versions/1")
        body = response.json()
        if body["state"] in ("completed", "failed"):
            return body
        await asyncio.sleep(0.01)


async def _timed(client: httpx.AsyncClient, type_name: str, parameters: dict) -> float:
    start = time.perf_counter()
    response = await client.post(
        "process", json={"type": type_name, "parameters": parameters, "cache": False}
    )
    if response.status_code != 201:
        raise RuntimeError(f"submit answered {response.status_code}: {response.text}")
    done = await _until_ended(client, response.json()["id"])
    if done["state"] != "completed":
        raise RuntimeError(f"{type_name} ended {done['state']}: {done['message']}")
    return time.perf_counter() - start


def kernel_life() -> float:
    """A bare kernel: started by jupyter_client, ``pass`` executed, shut down."""
    from jupyter_client.manager import start_new_kernel

    start = time.perf_counter()
    manager, client = start_new_kernel(kernel_name="python3")
    client.execute_interactive("pass", timeout=60)
    client.stop_channels()
    manager.shutdown_kernel()
    return time.perf_counter() - start


async def measure(server: Server, runs: int) -> dict[str, list[float]]:
    parameters = {"duration": 1.0, "sample_rate": 100, "seed": 0}
    figures: dict[str, list[float]] = {
        "packaged": [],
        "notebook": [],
        "kernel": [],
        "register": [],
        "list": [],
    }
    async with api_client(server) as client:
        project = (await client.get("projects")).json()["items"][0]["id"]
        for revision in range(runs):
            start = time.perf_counter()
            response = await client.post(
                "process-types",
                json={"project": project, "name": "signal-nb", "notebook": _notebook(revision)},
            )
            figures["register"].append(time.perf_counter() - start)
            if response.status_code != 201:
                raise RuntimeError(f"register answered {response.status_code}: {response.text}")
            start = time.perf_counter()
            (await client.get("process-types", params={"project": project})).raise_for_status()
            figures["list"].append(time.perf_counter() - start)
        await _timed(client, "signal-nb", parameters)  # warm both
        await _timed(client, "synthetic-signal", parameters)
        for _ in range(runs):
            figures["packaged"].append(await _timed(client, "synthetic-signal", parameters))
            figures["notebook"].append(await _timed(client, "signal-nb", parameters))
            figures["kernel"].append(await asyncio.to_thread(kernel_life))
    return figures


def main() -> int:
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs of each kind (default 10)")
    args = parser.parse_args()
    with jupyter_server() as server:
        figures = asyncio.run(measure(server, args.runs))
    print(f"the same signal (1 s at 100 Hz), {args.runs} runs of each kind, cache bypassed")
    print(describe_ms("packaged type (synthetic-signal)", figures["packaged"]))
    print(describe_ms("notebook type (a kernel, 3 cells)", figures["notebook"]))
    print(describe_ms("a bare kernel's life", figures["kernel"]))
    print(describe_ms("POST process-types (a revision)", figures["register"]))
    print(describe_ms("GET process-types?project=", figures["list"]))
    targets = Targets()
    median = statistics.median
    print(
        f"  {'median notebook run / packaged run':<36} "
        f"{median(figures['notebook']) / median(figures['packaged']):10.3f}   (informative)"
    )
    targets.judge(
        "notebook - packaged / a kernel's life",
        (median(figures["notebook"]) - median(figures["packaged"])) / median(figures["kernel"]),
        TARGET_OVERHEAD_VS_KERNEL,
        at_least=False,
    )
    targets.judge(
        "median register / list types",
        median(figures["register"]) / median(figures["list"]),
        TARGET_REGISTER_VS_LIST,
        at_least=False,
    )
    return targets.exit_code(args.check)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
