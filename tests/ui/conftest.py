"""End-to-end tests of the side panel: a real ``jupyter lab`` with the built
extension, driven in Debian's headless Chromium by Playwright (never a downloaded
browser). Screenshots land in docs/screenshots/, which the README shows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.servers import Server, running_server
from tests.ui.browser import lab_config
from tests.ui.lab import LabPage

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
EXTENSION = Path(__file__).resolve().parents[2] / "nagelfluh_lab" / "labextension" / "package.json"

pytestmark = pytest.mark.ui


def start_lab(root: Path, **settings: object):
    """``jupyter lab`` with the extension and an app handle for waiting on commands."""
    if not EXTENSION.exists():
        pytest.fail("the labextension is not built: run scripts/test.sh (it builds it)")
    return running_server(root, lab=True, app_config=lab_config(root), **settings)


@pytest.fixture(scope="session")
def lab(tmp_path_factory) -> Iterator[Server]:
    """One Lab for the suite, with billing on so balances and estimates mean something."""
    with start_lab(
        tmp_path_factory.mktemp("lab"),
        rate_cpu_hour=0.5,
        rate_memory_gib_hour=0.1,
        starting_balance=500.0,
    ) as server:
        yield server


@pytest.fixture
def page(browser: Browser, lab: Server, request) -> Iterator[LabPage]:
    """A fresh browser context on a fresh workspace, so tests don't see each other's layout."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(30_000)
    lab_page = LabPage(context.new_page(), lab, SCREENSHOTS)
    lab_page.open(workspace=request.node.name)
    yield lab_page
    call = getattr(request.node, "rep_call", None)
    if call is not None and call.failed:
        lab_page.screenshot(f"failed-{request.node.name}", keep=False)
    context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def jp_asyncio_loop() -> None:
    """Replaces pytest-jupyter's autouse loop (and its clean-up below): the UI tests'
    server is a subprocess, and closing "the" loop here would close Playwright's."""


@pytest.fixture
def jp_server_cleanup() -> None:
    """No in-process server to clean up (see ``jp_asyncio_loop``)."""
