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


def test_cancelling_a_running_sleep_ends_it_as_cancelled(page: LabPage):
    editor = Editor(page).new("sleep", "long-nap")
    editor.field("/seconds").fill("120")
    editor.submit()
    editor.wait_version(1, "running")
    editor.root.locator('[data-testid="nf-version-cancel"][data-version="1"]').click()
    editor.wait_version(1, "cancelled")
    page.wait_row_state("long-nap", "cancelled")
    version = page.processes()[0]["versions"][0]
    assert (version["state"], version["reason"]) == ("failed", "cancelled")


def test_versions_are_compared_side_by_side_and_an_old_one_restored(page: LabPage):
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
    editor.by_id("nf-compare-v1").select_option("1")
    editor.by_id("nf-compare-v2").select_option("2")
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
