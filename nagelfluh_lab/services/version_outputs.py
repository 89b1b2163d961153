"""A version's outputs as the API shows them, and their registration when a run ends.

A run may write a hundred thousand outputs. So a version carries only its first
``INLINE`` outputs and their count (the rest are pages of ``GET dataset``), and a
finished run's outputs are registered ``BATCH`` at a time, each batch its own
short transaction: the database thread serves requests in between, and the
events stream gets one message per batch instead of one per output.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from .. import shapes
from ..db.models import TERMINAL, Dataset, ProcessVersion
from ..db.session import Database
from .outputs import Output
from .serialize import dataset_json

INLINE = 100
BATCH = 1000


def first_outputs(
    session: Session, versions: Collection[ProcessVersion]
) -> dict[int, list[Dataset]]:
    """The first ``INLINE`` outputs of each of ``versions``, oldest first, by version row
    id. Versions with few outputs share one query; each big one reads only its first."""
    small = [v.id for v in versions if 0 < v.output_count <= INLINE]
    big = [v.id for v in versions if v.output_count > INLINE]
    first: dict[int, list[Dataset]] = {v.id: [] for v in versions}
    loaded = select(Dataset).options(selectinload(Dataset.producer)).order_by(Dataset.id)
    if small:
        for dataset in session.scalars(loaded.where(Dataset.version_id.in_(small))):
            assert dataset.version_id is not None  # it is one of ``small``
            first[dataset.version_id].append(dataset)
    for version_id in big:
        first[version_id] = list(
            session.scalars(loaded.where(Dataset.version_id == version_id).limit(INLINE))
        )
    return first


Publish = Callable[[list[shapes.Dataset]], None]
# Called in the transaction that registers a batch, with its datasets' ids.
Record = Callable[[Session, list[int]], None]


def _record_nothing(session: Session, ids: list[int]) -> None:
    """The default ``record``."""


async def register(
    db: Database,
    version_id: int,
    project_id: int,
    outputs: Sequence[Output],
    publish: Publish,
    record: Record = _record_nothing,
) -> bool:
    """Register ``outputs`` as datasets of the version, publishing each batch's datasets
    (after ``record`` has seen them in the batch's transaction).

    Outputs already registered (a server that died half-way through is finishing the
    run again) are skipped, so each is registered once. False if the version ended
    meanwhile: nothing more is registered for it."""
    registered = await db.run_durable(
        lambda s: set(s.scalars(select(Dataset.key).where(Dataset.version_id == version_id)))
    )
    todo = [o for o in outputs if o.key not in registered]
    for start in range(0, len(todo), BATCH):
        batch = todo[start : start + BATCH]
        saved = await db.run_durable(
            partial(_save, version_id=version_id, project_id=project_id, batch=batch, record=record)
        )
        if saved is None:
            return False
        publish(saved)
    return True


def _save(
    session: Session, version_id: int, project_id: int, batch: Sequence[Output], record: Record
) -> list[shapes.Dataset] | None:
    version = session.get(ProcessVersion, version_id)
    if version is None or version.state in TERMINAL:
        return None
    datasets = [
        Dataset(
            project_id=project_id,
            version_id=version_id,
            producer=version,
            name=output.name,
            key=output.key,
            mime_type=output.mime_type,
            size=output.size,
            digest=output.digest,
            meta=output.meta,
        )
        for output in batch
    ]
    session.add_all(datasets)
    version.output_count += len(datasets)
    session.flush()
    record(session, [d.id for d in datasets])
    return [dataset_json(d) for d in datasets]
