"""Manifest ingestion: the outputs a completed run (or one that failed after writing its
manifest) lists in its ``_manifest.json`` become datasets of its version.

The server reads the manifest when the run ends, so no network path from the job
back to the server is needed (DESIGN §3). Its entries are checked against storage
(``outputs.read_outputs``) and registered batch by batch, each batch announced on
the events stream as it lands; a manifest that cannot be trusted fails the run.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

from nagelfluh_runner.storage import Storage
from sqlalchemy.orm import Session

from .. import shapes
from ..db.session import Database
from ..executors.base import RunKey, RunOutcome
from . import version_outputs
from .event_relay import Journal
from .outputs import ManifestError, read_outputs


@dataclasses.dataclass(frozen=True)
class Ingestion:
    """Where a run's outputs are read from and registered in, and the journal their
    registration is announced to other servers in."""

    db: Database
    storage: Storage
    journal: Journal

    async def ingest(
        self,
        key: RunKey,
        version_id: int,
        project_id: int,
        outcome: RunOutcome,
        announce: Callable[[dict[str, Any]], None],
    ) -> RunOutcome | None:
        """The outcome to record once a completed run's outputs are registered (each
        batch's ``datasets`` event handed to ``announce``): a failure with reason
        "manifest" if its manifest cannot be trusted, ``outcome`` itself otherwise (and
        for a run that did not complete); None if the version ended meanwhile, and
        nothing more is registered for it.

        A run that failed on its own (reason "error") and still wrote a manifest keeps
        what it lists: a notebook's run lists the executed notebook, which shows the cell
        that failed. Such a run stays failed, whatever its manifest holds."""
        failed = outcome.state != "completed"
        if failed and outcome.reason != "error":
            return outcome
        try:
            outputs = await asyncio.to_thread(
                read_outputs, self.storage, project_id, key.process_id, key.version
            )
        except ManifestError as error:
            if failed:
                return outcome
            return dataclasses.replace(
                outcome, state="failed", reason="manifest", message=str(error)
            )

        def publish(datasets: list[shapes.Dataset]) -> None:
            announce(
                {
                    "type": "datasets",
                    "process": key.process_id,
                    "version": key.version,
                    "datasets": datasets,
                }
            )

        def record(session: Session, ids: list[int]) -> None:
            self.journal.datasets(session, version_id, ids)

        if outputs and not await version_outputs.register(
            self.db, version_id, project_id, outputs, publish, record
        ):
            return None
        return outcome
