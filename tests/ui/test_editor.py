"""The process editor: forms generated from the type's schema, the dataset picker,
versions, cancel, compare and restore — all with the mouse."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.ui.lab import Editor, LabPage


def test_a_synthetic_signal_made_from_the_form_runs_and_completes(page: LabPage):
    editor = Editor(page).new("synthetic-signal", "signal-from-form")
    expect(editor.field("/duration")).to_have_value("10")
    editor.field("/duration").fill("2")
    expect(editor.by_id("nf-editor-estimate")).to_be_visible()
    page.screenshot("editor-create")
    editor.submit()
    expect(editor.root).to_have_attribute("data-mode", "edit")
    editor.wait_version(1, "completed")
    page.wait_row_state("signal-from-form", "completed")
    process = page.processes()[0]
    assert process["name"] == "signal-from-form"
    assert process["versions"][0]["parameters"]["duration"] == 2


def test_a_bad_value_is_shown_on_its_field_and_nothing_is_submitted(page: LabPage):
    before = len(page.processes())
    editor = Editor(page).new("synthetic-signal", "never-runs")
    editor.field("/duration").fill("-1")
    editor.submit()
    expect(editor.by_id("nf-editor-form")).to_contain_text(re.compile("must be > ?0"))
    expect(editor.by_id("nf-editor-message")).to_contain_text("fix")
    assert len(page.processes()) == before


def test_an_fft_takes_its_signal_through_the_dataset_picker(page: LabPage):
    signal = page.submit("synthetic-signal", "picked-signal", {"duration": 2})
    dataset = page.wait_version(signal["id"])["outputs"][0]
    editor = Editor(page).new("fft", "spectrum-of-picked")
    picker = editor.root.locator('[data-testid="nf-dataset-picker"][data-field="/signal"]')
    picker.select_option(f"dataset:{dataset['id']}")
    editor.submit()
    editor.wait_version(1, "completed")
    fft = page.processes()[0]
    assert fft["versions"][0]["inputs"] == [dataset["id"]]


def test_the_picker_takes_the_output_of_a_process_clicked_in_the_side_panel(page: LabPage):
    signal = page.submit("synthetic-signal", "clicked-signal", {"duration": 1})
    dataset = page.wait_version(signal["id"])["outputs"][0]
    editor = Editor(page).new("fft", "spectrum-of-clicked")
    editor.by_id("nf-dataset-pick-flow").click()
    page.process_row("clicked-signal").click()
    picker = editor.root.locator('[data-testid="nf-dataset-picker"][data-field="/signal"]')
    expect(picker).to_have_value(f"dataset:{dataset['id']}")


def test_cancelling_a_running_sleep_ends_it_as_cancelled_in_every_word_shown(page: LabPage):
    editor = Editor(page).new("sleep", "long-nap")
    editor.field("/seconds").fill("120")
    editor.submit()
    editor.wait_version(1, "running")
    editor.root.locator('[data-testid="nf-version-cancel"][data-version="1"]').click()
    editor.wait_version(1, "cancelled")
    page.wait_row_state("long-nap", "cancelled")
    version = page.processes()[0]["versions"][0]
    assert (version["state"], version["reason"]) == ("failed", "cancelled")
    expect(editor.version_row(1).locator(".nf-Badge")).to_have_text("cancelled")
    expect(page.process_row("long-nap").locator(".nf-Badge")).to_have_text("cancelled")
    expect(page.toast("long-nap v1 cancelled")).to_be_visible()
    expect(page.toast("long-nap v1 failed")).to_have_count(0)


def test_switching_to_a_process_of_another_type_leaves_the_errors_of_the_first_behind(
    page: LabPage,
):
    page.submit("sleep", "errs-sleep", {"seconds": 0})
    page.submit("synthetic-signal", "errs-signal", {"duration": 1})
    page.open_panel()
    page.process_row("errs-sleep").click()
    page.panel_button("Versions").click()
    editor = Editor(page)
    expect(editor.field("/seconds")).to_be_visible()
    editor.field("/seconds").fill("-1")
    editor.by_id("nf-version-run").click()
    errors = editor.root.locator(".jp-errorIndicator")
    expect(errors).not_to_have_count(0)
    expect(editor.by_id("nf-editor-message")).to_contain_text("fix")
    page.process_row("errs-signal").click()
    expect(editor.field("/duration")).to_have_value("1")
    expect(errors).to_have_count(0)
    expect(editor.by_id("nf-editor-message")).to_have_text("")


def test_a_type_that_failed_to_load_is_shown_as_broken_with_its_error(page: LabPage):
    """A server that lists a broken type (its entry point raised on import): the
    create form names it and its error instead of leaving it out silently."""
    error = "ImportError: No module named 'pyproj'"
    environment = page.api("GET", "process-types")["items"][0]["environment"]
    broken = {
        "name": "magnetics",
        "entry_point": "magnetics = geo.mag:Magnetics",
        "environment": environment,
        "error": error,
    }
    page.page.route(
        re.compile(r"/nagelfluh/api/process-types(\?[^/]*)?$"),
        lambda route: route.fulfill(json={**route.fetch().json(), "broken": [broken]}),
    )
    page.open(workspace="broken-type")
    editor = Editor(page)
    page.open_panel()
    page.panel_button("New process").click()
    editor.by_id("nf-editor-environment").select_option(environment)
    expect(editor.by_id("nf-broken-types")).to_have_text(f"magnetics (broken): {error}")
    option = editor.by_id("nf-editor-type").locator("option", has_text="magnetics (broken)")
    expect(option).to_be_disabled()
    expect(editor.by_id("nf-editor-type").locator("option:checked")).not_to_have_text(
        re.compile("broken")
    )


def test_versions_are_compared_previous_against_latest_and_an_old_one_restored(page: LabPage):
    signal = page.submit("synthetic-signal", "versioned-signal", {"duration": 1})
    page.wait_version(signal["id"])
    page.open_panel()
    page.process_row("versioned-signal").click()
    page.panel_button("Versions").click()
    editor = Editor(page)
    expect(editor.root).to_have_attribute("data-mode", "edit")
    editor.version_row(1).click()
    editor.field("/duration").fill("3")
    editor.by_id("nf-version-run").click()
    editor.wait_version(2, "completed")
    # The compare was drawn at v1 vs v1; the new version moves it to v1 vs v2 by itself.
    expect(editor.by_id("nf-compare-v1")).to_have_value("1")
    expect(editor.by_id("nf-compare-v2")).to_have_value("2")
    editor.by_id("nf-compare").click()
    table = editor.by_id("nf-compare-table")
    changed = table.locator("tr.nf-changed")
    expect(changed).to_have_count(1)
    expect(changed).to_have_attribute("data-path", "/duration")
    page.screenshot("editor-compare")
    editor.root.locator('[data-testid="nf-version-restore"][data-version="1"]').click()
    editor.wait_version(3, "completed")
    versions = page.api("GET", f"process/{signal['id']}")["versions"]
    assert [v["parameters"]["duration"] for v in versions] == [1, 3, 1]
