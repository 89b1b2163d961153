"""A user meets the extension through JupyterHub in a browser: logs in at the Hub,
lands in their own JupyterLab behind the Hub's proxy, and runs a process from the
side panel's form. Her server runs the README's scope authorizer, so this also shows
that the token her browser gets at login carries the Hub's run scope."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.hub.hub import PASSWORD, Hub
from tests.servers import Server
from tests.ui.browser import CHROMIUM, CHROMIUM_ARGS
from tests.ui.conftest import SCREENSHOTS
from tests.ui.lab import Editor, LabPage

pytestmark = [pytest.mark.postgres, pytest.mark.ui]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium for this module alone: two sync Playwrights cannot share a thread,
    so this one ends with the module, before tests/ui's session-wide one starts."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def test_a_user_logged_in_at_the_hub_runs_a_sleep_from_the_side_panel_form(
    hub: Hub, servers: dict[str, Server], browser: Browser
):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(30_000)
    try:
        page = context.new_page()
        page.goto(hub.url + "hub/login")
        page.locator("#username_input").fill("alice")
        page.locator("#password_input").fill(PASSWORD)
        page.locator("#login_submit").click()
        expect(page).to_have_url(f"{servers['alice'].url}lab", timeout=60_000)

        lab = LabPage(page, servers["alice"], SCREENSHOTS)
        page.goto(f"{lab.server.url}lab/workspaces/hub-panel?reset")
        lab.wait_ready()
        editor = Editor(lab).new("sleep", "nap-through-the-hub")
        editor.field("/seconds").fill("1")
        editor.submit()
        editor.wait_version(1, "completed")
        lab.wait_row_state("nap-through-the-hub", "completed")
        assert lab.processes()[0]["name"] == "nap-through-the-hub"
        lab.screenshot("hub-panel")
    finally:
        context.close()
