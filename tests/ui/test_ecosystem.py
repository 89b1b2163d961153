"""How the extension fits JupyterLab: palette, launcher, shortcuts, settings, themes."""

from __future__ import annotations

import json

import requests
from playwright.sync_api import expect

from tests.ui.lab import Editor, LabPage


def test_the_command_palette_lists_the_nagelfluh_commands(page: LabPage):
    items = page.palette_items("Nagelfluh")
    assert len([item for item in items if "New Nagelfluh Process" in item]) == 1, items
    assert len([item for item in items if "Open Flow View" in item]) == 1, items


def test_the_launcher_card_opens_the_create_form(page: LabPage):
    page.page.locator(".jp-LauncherCard", has_text="New Nagelfluh Process").click()
    expect(Editor(page).root).to_have_attribute("data-mode", "create")


def test_keyboard_shortcuts_open_the_editor_and_the_log(page: LabPage):
    page.page.locator("#jp-main-dock-panel").click()
    page.page.keyboard.press("Alt+Shift+N")
    expect(Editor(page).root).to_have_attribute("data-mode", "create")
    page.page.keyboard.press("Alt+Shift+L")
    expect(page.page.get_by_test_id("nf-log")).to_be_visible()


def test_default_resources_come_from_the_user_settings(page: LabPage):
    url = f"{page.server.url}lab/api/settings/nagelfluh-lab:plugin"
    raw = json.dumps({"defaultResources": {"cpu": 2, "memory": "768Mi", "deadline_seconds": 90}})
    response = requests.put(url, json={"raw": raw}, headers=page.server.headers, timeout=10)
    assert response.status_code == 204, response.text
    try:
        page.open(workspace="settings")
        editor = Editor(page).new("sleep", "with-my-defaults")
        expect(editor.by_id("nf-editor-cpu")).to_have_value("2")
        expect(editor.by_id("nf-editor-memory")).to_have_value("768Mi")
        expect(editor.by_id("nf-editor-deadline")).to_have_value("90")
    finally:
        requests.put(url, json={"raw": "{}"}, headers=page.server.headers, timeout=10)


def test_the_views_follow_the_dark_theme(page: LabPage):
    signal = page.submit("synthetic-signal", "dark-signal", {"duration": 1})
    page.wait_version(signal["id"])
    page.open_panel()
    page.process_row("dark-signal").click()
    page.panel_button("Flow").click()
    page.set_theme(dark=True)
    background = page.page.get_by_test_id("nf-flow").evaluate(
        "node => getComputedStyle(node.closest('.nf-View') || node).backgroundColor"
    )
    red, green, blue = (int(v) for v in background[background.index("(") + 1 : -1].split(",")[:3])
    assert red + green + blue < 3 * 100, background
    page.screenshot("dark-theme")
    page.set_theme(dark=False)


def test_open_views_come_back_when_the_workspace_is_reloaded(page: LabPage, browser):
    page.open_panel()
    page.panel_button("Flow").click()
    page.panel_button("Log").click()
    expect(page.tab("Flow")).to_be_visible()
    page.page.wait_for_timeout(2000)  # the Lab saves its workspace after a short debounce
    workspace = page.page.url.split("/workspaces/")[1].split("?")[0]
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        again = LabPage(context.new_page(), page.server, page.screenshots)
        again.page.goto(f"{page.server.url}lab/workspaces/{workspace}?token={page.server.token}")
        again.wait_ready()
        expect(again.tab("Flow")).to_be_visible()
        expect(again.tab("Log")).to_be_visible()
        expect(again.page.get_by_test_id("nf-flow")).to_have_count(1)
    finally:
        context.close()
