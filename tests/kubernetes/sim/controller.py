"""What every simulated controller shares: the cluster's knobs and a level-triggered
loop (reconcile everything on each change, and on a short tick for timers), so that
controllers are idempotent like the real ones and need no event plumbing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

from .errors import ApiError
from .store import Store

TICK_SECONDS = 0.02


@dataclass
class Knobs:
    """Settings a test may change while the cluster runs (plain attributes, read on
    every reconcile)."""

    quota: dict[str, Decimal]
    local_queue: str
    cluster_queue: str
    flavor: str = "default-flavor"
    # Real seconds per simulated second for activeDeadlineSeconds, grace periods
    # and the kubelet's retries; ttlSecondsAfterFinished has its own scale because
    # manifests set it to an hour.
    time_scale: float = 1.0
    ttl_scale: float = 1.0
    missing_images: set[str] = field(default_factory=set)
    # What an image brings: the environment its ENV lines set (say, a PYTHONPATH with the
    # packages it adds). Unlisted images are this machine's Python and nothing more.
    images: dict[str, dict[str, str]] = field(default_factory=dict)
    # The digest an image's tag names now (a push moves it); unlisted: one from its name.
    digests: dict[str, str] = field(default_factory=dict)
    bookmark_seconds: float = 1.0


class Controller:
    def __init__(self, store: Store, knobs: Knobs) -> None:
        self.store, self.knobs = store, knobs

    def reconcile(self) -> None:
        raise NotImplementedError

    async def run(self) -> None:
        wakeup = self.store.wakeup()
        while True:
            try:
                self.reconcile()
            except Exception:
                # The task ends with the error; the cluster re-raises it at stop().
                logging.getLogger(__name__).exception("%s failed", type(self).__name__)
                raise
            try:
                await asyncio.wait_for(wakeup.wait(), TICK_SECONDS)
            except asyncio.TimeoutError:
                pass
            wakeup.clear()


def prune(memory: dict[str, float], live: set[str]) -> None:
    """Forget what a controller remembered about objects (by uid) that are gone."""
    for uid in memory.keys() - live:
        del memory[uid]


@contextmanager
def unless_gone() -> Iterator[None]:
    """Treat NotFound as done, as real controllers do: the object went away meanwhile."""
    try:
        yield
    except ApiError as error:
        if error.code != 404:
            raise
