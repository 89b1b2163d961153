"""Fixtures shared by every suite: pytest-jupyter's server fixtures are loaded here
(pytest only honours ``pytest_plugins`` in the top-level conftest)."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Awaitable, Callable, Iterator
from typing import Protocol, TypeVar

import pytest
from hypothesis import settings
from playwright.sync_api import Browser, expect, sync_playwright

from tests.ui.browser import CHROMIUM, CHROMIUM_ARGS

pytest_plugins = ["pytest_jupyter.jupyter_server"]

# Property tests draw the same examples in every run (derandomize, no example
# database), so CI fails for a change and never for a draw, and no deadline trips on
# a loaded machine. `HYPOTHESIS_PROFILE=explore` draws new examples each run (and keeps
# what fails in .hypothesis/) when hunting for bugs.
settings.register_profile("repeatable", derandomize=True, database=None, deadline=None)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

# Playwright's assertions wait 5 s by default, its actions 30 s (set per context). A Lab
# sharing two cores with two other test workers took longer than 5 s to render its first
# Plotly figure (a 3.5 MB chunk loaded on first use) in CI: the assertions wait as long
# as the actions do.
expect.set_options(timeout=30_000)


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


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium for one module of browser tests (tests/ui, tests/hub). Sync
    Playwright runs an event loop in the test thread while it lives, so it must end with
    its module: two cannot share a thread, and the async tests that a worker runs next
    (pytest-jupyter's) start loops of their own there."""
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: scripts/test.sh installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The suite runs on three xdist workers (scripts/test.sh, ``--dist loadgroup``). Tests
    sharing what is costly to have twice stay on one worker: the browser tests (tests/ui's
    one Lab, and one Chromium, instead of a Lab and a browser per worker loading the two
    cores while their pages wait on timeouts) and the packaging tests (which build wheels
    in the source tree, where two builds at once would write over each other)."""
    for item in items:
        if item.path.parent.name == "ui" or item.get_closest_marker("ui"):
            item.add_marker(pytest.mark.xdist_group("browser"))
        elif item.path.parent.name == "packaging":
            item.add_marker(pytest.mark.xdist_group("packaging"))
