"""The flow graph and the log view follow runs live."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.ui.lab import Editor, LabPage


def select(page: LabPage, name: str) -> None:
    page.open_panel()
    expect(page.panel.locator("#nf-project-select option")).not_to_have_count(0)
    page.process_row(name).click()


def test_the_flow_view_draws_a_signal_feeding_its_spectrum_and_colours_them_by_state(
    page: LabPage,
):
    signal = page.submit("synthetic-signal", "flow-signal", {"duration": 1})
    dataset = page.wait_version(signal["id"])["outputs"][0]
    page.open_panel()
    page.panel_button("Flow").click()
    graph = page.page.get_by_test_id("nf-flow")
    node = graph.locator(f'[data-testid="nf-flow-node"][data-process-id="{signal["id"]}"]')
    expect(node).to_have_attribute("data-state", "completed")
    fft = page.submit("fft", "flow-spectrum", {"signal": f"dataset:{dataset['id']}"})
    spectrum = graph.locator(f'[data-testid="nf-flow-node"][data-process-id="{fft["id"]}"]')
    expect(spectrum).to_be_attached()
    expect(spectrum).to_have_attribute("data-state", "completed", timeout=60_000)
    expect(graph.locator(".nf-Flow-edge.nf-mod-current")).not_to_have_attribute("d", "")
    spectrum.click()
    expect(spectrum).to_have_attribute("aria-selected", "true")
    expect(page.process_row("flow-spectrum")).to_have_attribute("aria-selected", "true")
    page.page.get_by_test_id("nf-flow-fit").click()
    page.screenshot("flow")


def test_the_log_view_streams_a_running_process_and_filters_it(page: LabPage):
    editor = Editor(page).new("sleep", "chatty-nap")
    editor.field("/seconds").fill("3")
    editor.submit()
    editor.wait_version(1, "running", "completed")  # a loaded machine may be quick to finish
    page.panel_button("Log").click()
    log = page.page.get_by_test_id("nf-log")
    status = log.get_by_test_id("nf-log-status")
    expect(status).to_have_attribute("data-connection", "open")
    expect(status).to_have_attribute("data-state", "completed", timeout=60_000)
    lines = int(status.get_attribute("data-lines") or 0)
    assert lines >= 3
    seqs = [
        int(s)
        for s in log.get_by_test_id("nf-log-line").evaluate_all(
            "rows => rows.map(r => r.dataset.seq)"
        )
    ]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))) and seqs[-1] == lines
    log.get_by_test_id("nf-log-filter").fill("TICK")
    expect(status).to_have_attribute("data-matches", re.compile(r"^[1-9]\d*$"))
    page.screenshot("log")


def test_a_popped_out_view_follows_the_selection_of_the_main_window(page: LabPage):
    for name in ("pop-one", "pop-two"):
        page.wait_version(page.submit("sleep", name, {"seconds": 0})["id"])
    select(page, "pop-one")
    page.panel_button("Log").click()
    with page.page.context.expect_page() as popup_info:
        page.page.locator(".nf-PopOut").first.click()
    popup = LabPage(popup_info.value, page.server, page.screenshots)
    popup.wait_ready()
    popped = popup.page.get_by_test_id("nf-log")
    expect(popped).to_be_visible()
    expect(popup.page.locator("#nagelfluh-side-panel")).to_have_count(0)
    select(page, "pop-two")
    expect(popup.page.locator(".lm-TabBar-tab.lm-mod-current")).to_contain_text("pop-two")
