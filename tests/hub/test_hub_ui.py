"""A user meets the extension through JupyterHub in a browser: logs in at the Hub,
lands in their own JupyterLab behind the Hub's proxy, and runs a process from the
side panel's form. Her server runs the README's scope authorizer, so this also shows
that the token her browser gets at login carries the Hub's run scope."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.hub.hub import PASSWORD, Hub
from tests.servers import Server
from tests.ui.conftest import SCREENSHOTS
from tests.ui.lab import Editor, LabPage

pytestmark = [pytest.mark.postgres, pytest.mark.ui]


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(30_000)
    yield context
    context.close()


def _log_in(context: BrowserContext, hub: Hub, server: Server) -> Page:
    """alice logs in at the Hub and lands in the Lab of her (default) ``server``."""
    page = context.new_page()
    page.goto(hub.url + "hub/login")
    page.locator("#username_input").fill("alice")
    page.locator("#password_input").fill(PASSWORD)
    page.locator("#login_submit").click()
    expect(page).to_have_url(f"{server.url}lab", timeout=60_000)
    return page


def test_a_user_logged_in_at_the_hub_runs_a_sleep_from_the_side_panel_form(
    hub: Hub, servers: dict[str, Server], context: BrowserContext
):
    page = _log_in(context, hub, servers["alice"])
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


def test_a_run_submitted_in_one_tab_is_seen_live_in_a_tab_on_the_users_other_server(
    hub: Hub, servers: dict[str, Server], second: Server, context: BrowserContext
):
    first = LabPage(_log_in(context, hub, servers["alice"]), servers["alice"], SCREENSHOTS)
    first.page.goto(f"{first.server.url}lab/workspaces/hub-first-tab?reset")
    first.wait_ready()
    other = LabPage(context.new_page(), second, SCREENSHOTS)  # her Hub login carries over
    other.page.goto(f"{second.url}lab/workspaces/hub-second-tab?reset")
    other.wait_ready()
    other.open_panel()
    expect(other.panel.locator("#nf-project-select option")).not_to_have_count(0)

    editor = Editor(first).new("sleep", "nap-seen-next-door")
    editor.field("/seconds").fill("10")
    editor.submit()
    # the other server never ran it: it hears of it through the database, as it happens
    other.wait_row_state("nap-seen-next-door", "running", timeout=60_000)
    other.process_row("nap-seen-next-door").click()
    other.panel_button("Log").click()
    status = other.page.get_by_test_id("nf-log").get_by_test_id("nf-log-status")
    expect(status).to_have_attribute("data-state", "running")
    expect(status).to_have_attribute("data-lines", re.compile(r"^([1-9]|10)$"))  # more to come
    expect(status).to_have_attribute("data-state", "completed", timeout=60_000)
    expect(status).to_have_attribute("data-lines", "12")
    other.screenshot("hub-second-server")
