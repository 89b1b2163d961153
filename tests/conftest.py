"""Fixtures shared by every suite: pytest-jupyter's server fixtures are loaded here
(pytest only honours ``pytest_plugins`` in the top-level conftest)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterator
from typing import Protocol, TypeVar

import pytest
from hypothesis import settings

pytest_plugins = ["pytest_jupyter.jupyter_server"]

# Property tests draw the same examples in every run (derandomize, no example
# database), so CI fails for a change and never for a draw, and no deadline trips on
# a loaded machine. `HYPOTHESIS_PROFILE=explore` draws new examples each run (and keeps
# what fails in .hypothesis/) when hunting for bugs.
settings.register_profile("repeatable", derandomize=True, database=None, deadline=None)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


class Startable(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


S = TypeVar("S", bound=Startable)


@pytest.fixture
def started(jp_asyncio_loop: asyncio.AbstractEventLoop) -> Iterator[Callable[[S], Awaitable[S]]]:
    """``await started(component)``: starts an executor or schema extractor and stops it
    after the test, so a test never leaves watches or child processes behind."""
    running: list[Startable] = []

    async def start(component: S) -> S:
        await component.start()
        running.append(component)
        return component

    yield start
    for component in running:
        jp_asyncio_loop.run_until_complete(component.stop())
