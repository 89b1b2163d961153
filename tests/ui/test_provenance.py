"""Provenance, the result cache and exact re-runs in the process editor: an identical
submission completes from the cache (and says from which version), unchecking "Use
cached results" runs it again, and "Re-run exactly" repeats a version and compares
its outputs' digests with the original's."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.ui.lab import Editor, LabPage


def short(digest: str) -> str:
    """A digest as the Versions view shows it: sha256 and 12 hex digits."""
    return digest[: len("sha256:") + 12]


def fill_signal(editor: Editor, duration: str, seed: str) -> None:
    editor.field("/duration").fill(duration)
    editor.field("/seed").fill(seed)


def test_an_identical_process_completes_from_the_cache_and_an_unchecked_box_runs_it_again(
    page: LabPage,
):
    editor = Editor(page).new("synthetic-signal", "cache-first")
    expect(editor.cache_box).to_be_checked()
    fill_signal(editor, "1.5", "7101")
    editor.submit()
    editor.wait_version(1, "completed")
    first = page.processes()[0]
    assert first["name"] == "cache-first"
    assert first["versions"][0]["provenance"]["cache"]["status"] == "miss"
    expect(editor.cached_from(1)).to_have_count(0)

    editor.new("synthetic-signal", "cache-second")
    fill_signal(editor, "1.5", "7101")
    editor.submit()
    editor.wait_version(1, "completed")
    expect(editor.cached_from(1)).to_have_text(f"cached from process {first['id']} v1")
    second = page.processes()[0]
    assert second["name"] == "cache-second"
    assert second["versions"][0]["cached_from"] == {"process": first["id"], "version": 1}
    assert second["versions"][0]["cost"]["actual"] == 0

    editor.new("synthetic-signal", "cache-third")
    fill_signal(editor, "1.5", "7101")
    editor.cache_box.uncheck()
    editor.submit()
    editor.wait_version(1, "completed")
    third = page.processes()[0]
    assert third["name"] == "cache-third"
    ran = third["versions"][0]
    assert ran["cached_from"] is None
    assert (ran["provenance"]["cache"]["status"], ran["provenance"]["exit_code"]) == ("bypassed", 0)
    expect(editor.cached_from(1)).to_have_count(0)


def test_the_cache_badge_selects_the_version_whose_outputs_were_reused(page: LabPage):
    source = page.submit("synthetic-signal", "badge-source", {"duration": 1, "seed": 7505})
    page.wait_version(source["id"])
    hit = page.submit("synthetic-signal", "badge-hit", {"duration": 1, "seed": 7505})
    assert page.wait_version(hit["id"])["cached_from"] == {"process": source["id"], "version": 1}
    editor = Editor(page).open_versions("badge-hit")
    editor.cached_from(1).click()
    expect(editor.root.locator(".nf-Editor-title")).to_contain_text("badge-source")
    expect(editor.version_row(1)).to_have_attribute("aria-selected", "true")
    expect(page.process_row("badge-source")).to_have_class(re.compile(r"\bnf-selected\b"))


def test_a_new_version_is_a_cache_hit_unless_the_box_is_unchecked(page: LabPage):
    signal = page.submit("synthetic-signal", "versions-cache", {"duration": 1.5, "seed": 7202})
    page.wait_version(signal["id"])
    editor = Editor(page).open_versions("versions-cache")
    expect(editor.cache_box).to_be_checked()
    editor.run_new_version()
    editor.wait_version(2, "completed")
    expect(editor.cached_from(2)).to_have_text(f"cached from process {signal['id']} v1")

    editor.cache_box.uncheck()
    editor.run_new_version()
    editor.wait_version(3, "completed")
    expect(editor.cached_from(3)).to_have_count(0)
    third = page.api("GET", f"process/{signal['id']}/versions/3")
    assert third["cached_from"] is None
    assert third["provenance"]["cache"]["status"] == "bypassed"
    assert third["provenance"]["exit_code"] == 0


def test_the_box_is_disabled_saying_why_for_a_type_that_always_runs(page: LabPage):
    editor = Editor(page).new("sleep", "never-cached")
    expect(editor.cache_box).to_be_disabled()
    expect(editor.cache_box).not_to_be_checked()
    expect(editor.cache_hint).to_contain_text("sleep always runs")
    editor.new("synthetic-signal", "cached-again")
    expect(editor.cache_box).to_be_enabled()
    expect(editor.cache_box).to_be_checked()


def test_re_run_exactly_repeats_a_version_and_finds_its_outputs_identical(page: LabPage):
    signal = page.submit("synthetic-signal", "rerun-signal", {"duration": 2, "seed": 7303})
    dataset = page.wait_version(signal["id"])["outputs"][0]
    fft = page.submit("fft", "rerun-spectrum", {"signal": f"dataset:{dataset['id']}"})
    original = page.wait_version(fft["id"])
    assert original["state"] == "completed"

    editor = Editor(page).open_versions("rerun-spectrum")
    editor.rerun_exactly(1)
    expect(editor.by_id("nf-editor-message")).to_contain_text(
        "Version 2 re-runs version 1 exactly"
    )
    expect(editor.version_row(2)).to_have_attribute("aria-selected", "true")
    expect(editor.version_row(2).get_by_test_id("nf-rerun-of")).to_have_text("v1")
    result = editor.reproducibility(2)
    expect(result).to_have_attribute("data-state", "identical", timeout=60_000)
    expect(result).to_have_text("identical outputs")

    rerun = page.api("GET", f"process/{fft['id']}/versions/2")
    assert rerun["reproducibility"] == {"state": "identical", "differing": []}
    details = editor.provenance(2)
    expect(details.locator('[data-fact="Process type"]')).to_contain_text("fft sha256:")
    expect(details.locator('[data-fact="Cache"]')).to_contain_text("bypassed")
    expect(details.locator('[data-fact="Exit status"]')).to_have_text("0 (success)")
    inputs = details.get_by_test_id("nf-provenance-inputs")
    expect(inputs).to_contain_text(f"dataset {dataset['id']} {short(dataset['digest'])}")
    outputs = details.get_by_test_id("nf-provenance-outputs").locator("li")
    expect(outputs).to_have_count(len(original["outputs"]))
    for output in original["outputs"]:
        expect(outputs.filter(has_text=output["name"])).to_contain_text(short(output["digest"]))
    page.screenshot("provenance")


def test_a_refused_re_run_shows_the_servers_message(page: LabPage):
    signal = page.submit("synthetic-signal", "refused-rerun", {"duration": 1, "seed": 7404})
    page.wait_version(signal["id"])
    message = (
        "version 1 has no provenance record (it ran before they were kept): restore it instead"
    )
    page.page.route(
        re.compile(rf"/nagelfluh/api/process/{signal['id']}/versions/1/rerun(\?.*)?$"),
        lambda route: route.fulfill(
            status=409,
            json={"error": {"code": "conflict", "message": message, "details": {}}},
        ),
    )
    editor = Editor(page).open_versions("refused-rerun")
    editor.rerun_exactly(1)
    expect(editor.by_id("nf-editor-message")).to_have_text(message[0].upper() + message[1:])
    expect(editor.by_id("nf-editor-message")).to_have_attribute("role", "alert")
    expect(editor.version_row(2)).to_have_count(0)
