"""Result cache and content digests: a cache hit against a real run of the same work, and
what the digest of a 1 GiB input costs against reading it once.

1. ``synthetic-signal`` (``--duration`` seconds of signal at 10 kHz, a NetCDF output),
   submit → completed as the client sees it, ``--runs`` times each, interleaved: a real
   run (``"cache": false``) and a resubmission of the same work (a cache hit).
2. A ``--gib`` GiB file uploaded through the API, whose SHA-256 the server computes as
   the bytes stream to storage, against the same bytes read once from the page cache
   (the floor of any digest) and hashed in that same loop; then a submission taking the
   upload as its input (the cache key uses the stored digest) against one taking a tiny
   upload and against hashing it: the digest is computed once per dataset, never per
   submission.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _server import (
    Server,
    Targets,
    api_client,
    argument_parser,
    describe_ms,
    get_json,
    jupyter_server,
)

CHUNK = 1 << 20
TARGET_HIT_VS_RUN = 0.5
TARGET_DIGEST_VS_READ = 1.0  # hashing adds no more than reading the bytes once costs
# A submission taking the input does not hash it again: a small fraction of one hash.
TARGET_SUBMIT_VS_HASH = 0.05


async def _until_ended(client: httpx.AsyncClient, process: int, version: int = 1) -> dict:
    while True:
        body = await get_json(client, f"process/{process}/versions/{version}")
        if body["state"] in ("completed", "failed"):
            return body
        await asyncio.sleep(0.005)


async def _timed_run(
    client: httpx.AsyncClient, parameters: dict, cache: bool
) -> tuple[float, dict]:
    start = time.perf_counter()
    response = await client.post(
        "process", json={"type": "synthetic-signal", "parameters": parameters, "cache": cache}
    )
    if response.status_code != 201:
        raise RuntimeError(f"submit answered {response.status_code}: {response.text}")
    created = response.json()
    version = created["versions"][0]
    if version["state"] not in ("completed", "failed"):
        version = await _until_ended(client, created["id"])
    elapsed = time.perf_counter() - start
    if version["state"] != "completed":
        raise RuntimeError(f"process {created['id']} ended {version['state']}")
    return elapsed, version


async def cache_hits(
    server: Server, runs: int, duration: float
) -> tuple[list[float], list[float], bool]:
    parameters = {"duration": duration, "sample_rate": 10000, "seed": 1}
    real: list[float] = []
    hits: list[float] = []
    same = True
    async with api_client(server) as client:
        _, first = await _timed_run(client, parameters, cache=False)  # warm, and the source
        for _ in range(runs):
            seconds, ran = await _timed_run(client, parameters, cache=False)
            real.append(seconds)
            seconds, hit = await _timed_run(client, parameters, cache=True)
            hits.append(seconds)
            same &= hit["cached_from"] is not None and ran["cached_from"] is None
            same &= [o["digest"] for o in hit["outputs"]] == [o["digest"] for o in first["outputs"]]
    return real, hits, same


def _read_once(path: Path, digest: bool) -> float:
    """Seconds to read ``path`` once (and hash it, if ``digest``), 1 MiB at a time."""
    start = time.perf_counter()
    hashing = hashlib.sha256() if digest else None
    with open(path, "rb", buffering=0) as handle:
        while chunk := handle.read(CHUNK):
            if hashing is not None:
                hashing.update(chunk)
    return time.perf_counter() - start


async def _upload(
    client: httpx.AsyncClient, project: int, name: str, path: Path
) -> tuple[float, dict]:
    async def body():
        with open(path, "rb") as handle:
            while chunk := handle.read(CHUNK):
                yield chunk

    start = time.perf_counter()
    response = await client.post(
        "dataset",
        params={"project": project, "name": name},
        content=body(),
        headers={"Content-Type": "text/csv", "Content-Length": str(path.stat().st_size)},
        timeout=600,
    )
    if response.status_code != 201:
        raise RuntimeError(f"upload answered {response.status_code}: {response.text}")
    return time.perf_counter() - start, response.json()


async def _submit_seconds(client: httpx.AsyncClient, dataset: int) -> float:
    """POST → 201 of a ``bench-input`` of ``dataset``: the submission records the input's
    digest and computes its cache key (``cache: false``, so no lookup adds to it)."""
    start = time.perf_counter()
    response = await client.post(
        "process",
        json={"type": "bench-input", "parameters": {"data": f"dataset:{dataset}"}, "cache": False},
    )
    seconds = time.perf_counter() - start
    if response.status_code != 201:
        raise RuntimeError(f"submit answered {response.status_code}: {response.text}")
    await _until_ended(client, response.json()["id"])
    return seconds


async def digests(server: Server, size: int, scratch: Path, runs: int) -> dict[str, object]:
    big, small = scratch / "big.csv", scratch / "small.csv"
    with open(big, "wb") as handle:
        line = b"".join(b"%d,%d\n" % (i, i * 7 % 1000) for i in range(1000))
        while handle.tell() < size:
            handle.write(line[: size - handle.tell()])
    small.write_bytes(b"time,value\n0,1\n1,2\n")
    _read_once(big, digest=False)  # into the page cache, as the upload will find it
    reads = [_read_once(big, digest=False) for _ in range(3)]
    hashed = [_read_once(big, digest=True) for _ in range(3)]
    async with api_client(server) as client:
        project = (await get_json(client, "projects"))["items"][0]["id"]
        upload_seconds, uploaded = await _upload(client, project, "big.csv", big)
        _, tiny = await _upload(client, project, "small.csv", small)
        expected = "sha256:" + hashlib.sha256(big.read_bytes()).hexdigest()
        submit_big: list[float] = []
        submit_small: list[float] = []
        for _ in range(runs):  # interleaved, so that the machine's noise hits both alike
            submit_big.append(await _submit_seconds(client, uploaded["id"]))
            submit_small.append(await _submit_seconds(client, tiny["id"]))
    return {
        "read": statistics.median(reads),
        "hashed": statistics.median(hashed),
        "upload": upload_seconds,
        "digest_ok": uploaded["digest"] == expected,
        "submit_big": submit_big,
        "submit_small": submit_small,
    }


# A type taking any dataset (no format it must be readable in), which does nothing with it.
BENCH_TYPE = """\
from nagelfluh_runner import ProcessType, dataset_parameter, object_schema


class Input(ProcessType):
    name = "bench-input"
    title = "Takes an input"
    description = "Takes a dataset and does nothing with it."
    schema = object_schema({"data": dataset_parameter("Data", "Any dataset.")}, ["data"])

    def run(self, ctx, data):
        pass
"""


def _bench_types(root: Path) -> Path:
    """A distribution offering ``bench-input``, on the server's and its runs' path."""
    site = root / "site"
    info = site / "nagelfluh_bench-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "entry_points.txt").write_text(
        "[nagelfluh.process_types]\nbench-input = nagelfluh_bench_types:Input\n"
    )
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: nagelfluh-bench\nVersion: 1.0\n")
    (site / "nagelfluh_bench_types.py").write_text(BENCH_TYPE)
    for path in (root, site, info, *site.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return site


def main() -> int:
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs of each kind (default 10)")
    parser.add_argument("--duration", type=float, default=60, help="signal seconds (default 60)")
    parser.add_argument("--gib", type=float, default=1.0, help="input size in GiB (default 1)")
    args = parser.parse_args()
    size = int(args.gib * 2**30)
    with tempfile.TemporaryDirectory(prefix="nagelfluh-bench-cache-") as tmp:
        site = _bench_types(Path(tmp))
        os.environ["PYTHONPATH"] = str(site)
        runner = ["/usr/bin/env", f"PYTHONPATH={site}", sys.executable, "-m", "nagelfluh_runner"]
        executor = {"command": [*runner, "run"], "read_only_paths": [str(site)]}
        with jupyter_server(executor) as server:
            real, hits, same = asyncio.run(cache_hits(server, args.runs, args.duration))
            figures = asyncio.run(digests(server, size, Path(tmp), 3 * args.runs))

    print(f"synthetic-signal ({args.duration:g} s at 10 kHz), {args.runs} runs of each kind")
    print(describe_ms("real run (cache: false)", real))
    print(describe_ms("cache hit", hits))
    gib = size / 2**30
    read, hashed, upload = figures["read"], figures["hashed"], figures["upload"]
    assert isinstance(read, float) and isinstance(hashed, float) and isinstance(upload, float)
    print(f"a {gib:g} GiB input")
    print(f"  read once (page cache, 1 MiB reads)  {read:8.3f} s   {gib / read:6.2f} GiB/s")
    print(f"  read once and SHA-256 it             {hashed:8.3f} s   {gib / hashed:6.2f} GiB/s")
    print(f"  upload through the API (digest kept) {upload:8.3f} s   {gib / upload:6.2f} GiB/s")
    big, small = figures["submit_big"], figures["submit_small"]
    assert isinstance(big, list) and isinstance(small, list)
    print(describe_ms("submit taking it as input", big))
    print(describe_ms("submit taking a tiny input", small))
    targets = Targets()
    targets.require("every hit reused the first run's outputs, every real run ran", same)
    targets.require("the upload's digest is the SHA-256 of its bytes", bool(figures["digest_ok"]))
    targets.judge(
        "median hit / median real run",
        statistics.median(hits) / statistics.median(real),
        TARGET_HIT_VS_RUN,
        at_least=False,
    )
    targets.judge(
        "digest cost / reading it once",
        (hashed - read) / read,
        TARGET_DIGEST_VS_READ,
        at_least=False,
    )
    print(f"  {'digest cost / its upload (informative)':<36} {(hashed - read) / upload:10.3f}")
    medians = statistics.median(big) / statistics.median(small)
    print(
        f"  {'submit, 1 GiB input / tiny input':<36} {medians:10.3f}"
        f"   (mins {min(big) / min(small):.3f}; informative)"
    )
    targets.judge(
        "submit with it / hashing it once",
        statistics.median(big) / (hashed - read),
        TARGET_SUBMIT_VS_HASH,
        at_least=False,
    )
    return targets.exit_code(args.check)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
