"""The result cache: identical work is computed once.

A version's work is named by a key: SHA-256 of the canonical JSON of the process
type's name and version, the environment's digest, and the validated parameters
(defaults applied) with every dataset reference replaced by that dataset's content
digest. Never ids, run numbers, names or times, which would make identical work
look different; never the tag of an image, which would make changed code look the same.
Where a part is unknown (a type that opted out, an environment whose digest is
unresolved, an input without a digest) there is no key, and nothing is cached.

A submission whose key matches a completed version of the same project whose
outputs are all still in storage completes at once from it: its outputs are new
dataset rows naming the same objects (no byte is copied), its log says why, and
its bill is a HOLD released whole. One whose key matches a version still running
waits for it (state ``queued``) and then completes from it, or runs itself if that
one failed: identical work submitted at the same time is computed once. Servers
sharing a PostgreSQL database see each other's versions, and a transaction-scoped
advisory lock on the key makes two submissions of one key decide one after the
other (SQLite's write lock does the same for one server's).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from nagelfluh_runner.pointer import tokens
from nagelfluh_runner.storage import Storage
from nagelfluh_runner.stores import is_store
from sqlalchemy import insert, literal, select, text
from sqlalchemy.orm import Session, aliased

from .. import shapes
from ..db.models import ACTIVE, Dataset, Process, ProcessVersion
from ..executors.base import SYSTEM, LogLine, RunOutcome
from . import provenance
from .billing import Billing
from .event_relay import Journal
from .events import LogBatch
from .log_store import append_logs
from .serialize import dataset_json

# The first key of the two-key advisory locks on cache keys (leases use 0x6E66).
CACHE_LOCK_SPACE = 0x6E63  # "nc"
# Completed versions of a key looked at for one whose outputs are all still there.
CANDIDATES = 5


def key_of(record: shapes.Provenance, environment_digest: str | None) -> shapes.CacheRecord:
    """The cache record of the work ``record`` (a provenance) describes, in the environment of
    ``environment_digest``: a key, or why there is none (status ``uncacheable``)."""
    process_type = record["process_type"]
    name = process_type["name"]
    reason = None
    if not process_type["cacheable"]:
        reason = f"process type {name!r} opted out of caching (its results are not deterministic)"
    elif process_type["version"] is None:
        reason = f"the runner of process type {name!r} does not report the type's version"
    elif environment_digest is None:
        reason = f"the digest of environment {record['environment']['name']!r} is unresolved"
    else:
        missing = next((i for i in record["inputs"] if i["digest"] is None), None)
        if missing is not None:
            reason = f"input dataset {missing['dataset']} has no content digest"
    if reason is not None:
        return {"status": "uncacheable", "key": None, "reason": reason}
    parameters: Any = record["parameters"]
    for reference in record["inputs"]:
        parameters = _replaced(parameters, tokens(reference["parameter"])[1:], reference["digest"])
    canonical = json.dumps(
        {
            "type": name,
            "type_version": process_type["version"],
            "environment": environment_digest,
            "parameters": _canonical(parameters),
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    key = "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    return {"status": "miss", "key": key, "reason": None}


def _replaced(value: Any, path: list[str], replacement: Any) -> Any:
    """``value`` with what ``path`` (reference tokens) points at replaced, copied on the way."""
    if not path:
        return replacement
    head, rest = path[0], path[1:]
    if isinstance(value, list):
        index = int(head)
        return [_replaced(v, rest, replacement) if i == index else v for i, v in enumerate(value)]
    return {k: _replaced(v, rest, replacement) if k == head else v for k, v in value.items()}


def _canonical(value: Any) -> Any:
    """JSON numbers by value: ``1.0`` and ``1`` are one number to a schema, and to the key."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def lock(session: Session, key: str) -> None:
    """Serialise the decisions on ``key`` across servers until the transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:space, :id)"),
            {
                "space": CACHE_LOCK_SPACE,
                "id": int.from_bytes(bytes.fromhex(key[7:15]), "big", signed=True),
            },
        )


def _same_work(key: str, project_id: int, version_id: int) -> Any:
    return (
        select(ProcessVersion)
        .join(Process, Process.id == ProcessVersion.process_id)
        .where(
            ProcessVersion.cache_key == key,
            Process.project_id == project_id,
            ProcessVersion.id != version_id,
        )
    )


def reusable(
    session: Session, storage: Storage, key: str, project_id: int, version_id: int
) -> ProcessVersion | None:
    """The newest completed version of ``key`` in the project whose outputs are all still
    in storage, one that computed them before one that reused them (so a hit names the
    run that made its outputs). A version of another project is not reused: its outputs
    are not this project's to read."""
    candidates = session.scalars(
        _same_work(key, project_id, version_id)
        .where(ProcessVersion.state == "completed")
        .order_by(ProcessVersion.cached_from_id.is_not(None), ProcessVersion.id.desc())
        .limit(CANDIDATES)
    )
    for candidate in candidates:
        outputs = session.scalars(select(Dataset.key).where(Dataset.version_id == candidate.id))
        if all_present(storage, list(outputs)):
            return candidate
    return None


def in_flight(
    session: Session, key: str, project_id: int, version_id: int
) -> ProcessVersion | None:
    """The version of ``key`` in the project that is computing it now (not one waiting)."""
    return session.scalar(
        _same_work(key, project_id, version_id)
        .where(ProcessVersion.state.in_(ACTIVE), ProcessVersion.waiting_for_id.is_(None))
        .order_by(ProcessVersion.id)
        .limit(1)
    )


def all_present(storage: Storage, keys: list[str]) -> bool:
    """Whether storage still holds every key (a store's: some object under it). One
    listing of each folder the keys are in, not a request per key: this runs while the
    submission holds the database, and a run may have a hundred thousand outputs."""
    listed: dict[str, list[str]] = {}
    try:
        for key in keys:
            folder = key.rstrip("/").rpartition("/")[0] + "/"
            if folder not in listed:
                listed[folder] = storage.list(folder)  # sorted
            found = listed[folder]
            at = bisect.bisect_left(found, key)
            first = found[at] if at < len(found) else ""
            if not (first.startswith(key) if is_store(key) else first == key):
                return False
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class Reused:
    """A version completed from the cache, as it is to be announced once committed."""

    state: shapes.StateEvent
    log: list[LogLine]
    first_seq: int
    datasets: list[shapes.Dataset]


def hit_message(source: ProcessVersion, key: str) -> str:
    return (
        f"Cache hit: same inputs as process {source.process_id} version {source.number} "
        f"(key {key}): its outputs are reused, nothing runs"
    )


def wait_message(first: ProcessVersion, key: str) -> str:
    return (
        f"Waiting for process {first.process_id} version {first.number}, which is computing "
        f"the same work (key {key}): this version completes from its outputs, or runs "
        "itself if it fails"
    )


def reuse(
    session: Session, journal: Journal, version: ProcessVersion, source: ProcessVersion, key: str
) -> Reused:
    """Complete ``version`` with the outputs of ``source`` (new rows naming the same objects
    and digests), its log line and state journaled for the other servers. The caller
    settles the bill and completes the provenance."""
    now = time.time()
    columns = ("project_id", "version_id", "name", "key", "mime_type", "size", "digest", "meta")
    session.execute(
        insert(Dataset).from_select(
            [*columns, "created"],
            select(
                Dataset.project_id,
                literal(version.id),
                Dataset.name,
                Dataset.key,
                Dataset.mime_type,
                Dataset.size,
                Dataset.digest,
                Dataset.meta,
                literal(now),
            )
            .where(Dataset.version_id == source.id)
            .order_by(Dataset.id),
        )
    )
    outputs = list(
        session.scalars(
            select(Dataset).where(Dataset.version_id == version.id).order_by(Dataset.id)
        )
    )
    message = hit_message(source, key)
    line = [LogLine(now, SYSTEM, message)]
    first = append_logs(session, version.id, line)
    journal.log(session, version.id, first, 1)
    version.cached_from_id = source.id
    version.waiting_for_id = None
    version.output_count = len(outputs)
    version.state, version.reason, version.message = "completed", None, message
    version.progress = 1.0
    version.started = version.started or now
    version.finished = now
    journal.datasets(session, version.id, [d.id for d in outputs])
    journal.state(session, version.id, "completed", None, message)
    provenance.finish(version, None, outputs)
    provenance.set_cache(version, {"status": "hit", "key": key, "reason": message})
    session.flush()
    return Reused(
        {
            "type": "state",
            "process": version.process_id,
            "version": version.number,
            "state": "completed",
            "reason": None,
            "message": message,
            "progress": 1.0,
        },
        line,
        first,
        [dataset_json(d) for d in outputs],
    )


def output_digests(session: Session, version_id: int) -> dict[str, str | None]:
    """Every output of a version by name, with its digest."""
    rows = session.execute(
        select(Dataset.name, Dataset.digest).where(Dataset.version_id == version_id)
    )
    return {name: digest for name, digest in rows}


def waits_over(session: Session, version_ids: list[int]) -> set[int]:
    """Those of the waiting versions ``version_ids`` with something to settle: the work
    they wait for has ended, or they no longer wait. One query however many wait."""
    awaited = aliased(ProcessVersion)
    waiting = session.execute(
        select(ProcessVersion.id)
        .outerjoin(awaited, awaited.id == ProcessVersion.waiting_for_id)
        .where(
            ProcessVersion.id.in_(version_ids),
            ProcessVersion.state == "queued",
            awaited.state.in_(ACTIVE),
        )
    )
    return set(version_ids) - set(waiting.scalars())


def settle_waiting(
    session: Session, storage: Storage, journal: Journal, billing: Billing, version_id: int
) -> Reused | LogBatch | str | None:
    """Settle a version waiting for identical work once that has ended: complete it from
    the cache (``Reused``); wait on for another identical version in flight (the new
    message); or let it run (its log line saying why). None while it still waits, or if
    it no longer does (cancelled meanwhile)."""
    version = session.get(ProcessVersion, version_id, with_for_update=True)
    if version is None or version.state != "queued" or version.waiting_for_id is None:
        return None
    first = session.get_one(ProcessVersion, version.waiting_for_id)
    if first.state in ACTIVE or version.cache_key is None:
        return None
    key, project_id = version.cache_key, version.process.project_id
    lock(session, key)
    source = reusable(session, storage, key, project_id, version.id)
    if source is not None:
        reused = reuse(session, journal, version, source, key)
        billing.settle(session, version, 0.0)
        return reused
    other = in_flight(session, key, project_id, version.id)
    if other is not None:
        message = wait_message(other, key)
        version.waiting_for_id, version.message = other.id, message
        provenance.set_cache(version, {"status": "waiting", "key": key, "reason": message})
        journal.state(session, version.id, "queued", None, message)
        return message
    why = (
        f"Process {first.process_id} version {first.number}, which this one waited for, "
        f"{'failed' if first.state == 'failed' else 'left no outputs to reuse'}: running itself"
    )
    version.waiting_for_id = None
    provenance.set_cache(version, {"status": "miss", "key": key, "reason": why})
    line = [LogLine(time.time(), SYSTEM, why)]
    seq = append_logs(session, version.id, line)
    journal.log(session, version.id, seq, 1)
    return LogBatch(seq, line)


def record_end(session: Session, version: ProcessVersion, outcome: RunOutcome) -> None:
    """Complete the provenance of a version whose run ended (its exit status, the image
    its pod ran, its outputs' digests); key it by the image digest its pod actually ran
    where that is not the environment's (a tag moved meanwhile); compare an exact
    re-run's outputs with the original's."""
    outputs = session.scalars(
        select(Dataset)
        .where(Dataset.version_id == version.id)
        .order_by(Dataset.id)
        .limit(provenance.OUTPUTS_LISTED)
    )
    provenance.finish(version, outcome, list(outputs))
    record = provenance.stored(version)
    if record is not None and version.cache_key is not None:
        ran, registered = record["environment"]["image_digest"], record["environment"]["digest"]
        if ran is not None and ran != registered:
            decided = key_of(record, ran)
            version.cache_key = decided["key"]
            provenance.set_cache(
                version,
                {
                    **record["cache"],
                    "key": decided["key"],
                    "reason": f"keyed by the image its pod ran, {ran}, not {registered}",
                },
            )
    if version.rerun_of_id is not None:
        version.reproducibility = dict(_reproducibility(session, version))


def _reproducibility(session: Session, version: ProcessVersion) -> shapes.Reproducibility:
    if version.state != "completed":
        return {"state": "failed", "differing": []}
    assert version.rerun_of_id is not None  # only re-runs are compared
    differing = provenance.compare(
        output_digests(session, version.rerun_of_id), output_digests(session, version.id)
    )
    return {"state": "differs" if differing else "identical", "differing": differing}
