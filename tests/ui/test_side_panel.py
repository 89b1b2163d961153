"""The side panel: projects, the live process tree and the balance."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.ui.lab import LabPage


def test_side_panel_shows_a_run_going_from_queued_to_completed_with_its_badge(page: LabPage):
    panel = page.open_panel()
    process = page.submit("sleep", "nap-panel", {"seconds": 4})
    row = page.process_row("nap-panel")
    expect(row).to_be_visible()
    expect(row).to_have_attribute("data-process-id", str(process["id"]))
    page.wait_row_state("nap-panel", "running")
    page.wait_row_state("nap-panel", "completed")
    expect(panel.locator(".nf-TypeGroup-title", has_text="sleep")).to_be_visible()
    expect(panel.get_by_test_id("nf-balance")).to_contain_text("credits")
    page.screenshot("side-panel")


def test_clicking_a_process_makes_it_the_selection_and_keyboard_moves_along_the_tree(
    page: LabPage,
):
    page.open_panel()
    for name in ("kb-one", "kb-two"):
        page.submit("sleep", name, {"seconds": 0})
    first, second = page.process_row("kb-one"), page.process_row("kb-two")
    second.click()
    expect(second).to_have_attribute("aria-selected", "true")
    second.press("ArrowDown")
    page.page.keyboard.press("Enter")
    expect(first).to_have_attribute("aria-selected", "true")
    expect(second).to_have_attribute("aria-selected", "false")


def test_a_new_project_made_in_the_panel_becomes_the_active_one(page: LabPage):
    panel = page.open_panel()
    page.panel_button("+ Project").click()
    dialog = page.page.locator(".jp-Dialog")
    dialog.locator("input").fill("Alpine gravity")
    dialog.get_by_role("button", name="Ok").click()
    select = panel.get_by_label("Project")
    expect(select.locator("option:checked")).to_have_text("Alpine gravity")
    expect(panel.locator(".nf-SidePanel-empty")).to_be_visible()
    projects = page.api("GET", "projects")["items"]
    assert "Alpine gravity" in [p["name"] for p in projects]


def test_a_lab_whose_server_extension_did_not_load_says_so_instead_of_an_empty_project(
    page: LabPage,
):
    page.page.route(
        "**/nagelfluh/api/**",
        lambda route: route.fulfill(
            status=404, content_type="text/html", body="<html><body>404 : Not Found</body></html>"
        ),
    )
    page.open(workspace="no-extension")
    panel = page.open_panel()
    expect(panel.get_by_test_id("nf-unavailable")).to_contain_text(
        "The nagelfluh server extension is not available: its API answers 404"
    )
    expect(panel).not_to_contain_text("no project yet")
    expect(panel).not_to_contain_text("No processes yet")
