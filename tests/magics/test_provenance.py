"""Provenance, the result cache and exact re-runs from a notebook: the ``Client`` and
``ProcessHandle`` against a real server, the ``%nagel`` magics in a real kernel.

Each test works in a project of its own: the cache answers only from the same
project, so no other test's runs can make a hit here or a miss elsewhere."""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest
from nagelfluh_magics import Client, ProcessHandle
from nagelfluh_magics.forms import ProcessForm

from tests.magics.conftest import version_rows, wait_until_ended

SIGNAL = {"duration": 1, "sample_rate": 100, "seed": 11}
DIGEST = r"sha256:[0-9a-f]{12}"  # as shown: the first 12 hex digits


@pytest.fixture
def project(client: Client) -> int:
    return client.create_project(f"provenance {uuid.uuid4().hex[:6]}")["id"]


def submitted(client: Client, type_name: str, parameters: dict, **options) -> ProcessHandle:
    """The handle of a new process's version 1."""
    process = client.submit(type_name, parameters, **options)
    return ProcessHandle.of(client, process["versions"][0])


def test_a_resubmission_completes_from_the_cache_and_cache_false_runs_it_again(client, project):
    first = submitted(client, "synthetic-signal", SIGNAL, project=project).wait(show=False)
    assert first.state == "completed" and first.cached_from is None
    assert first.provenance["cache"]["status"] == "miss"

    again = submitted(client, "synthetic-signal", SIGNAL, project=project)
    assert again.state == "completed" and again.cached_from == {
        "process": first.process,
        "version": 1,
    }
    assert again.provenance["cache"]["status"] == "hit"
    assert [o["digest"] for o in again.provenance["outputs"]] == [
        o["digest"] for o in first.provenance["outputs"]
    ]

    bypassed = submitted(client, "synthetic-signal", SIGNAL, project=project, cache=False)
    bypassed.wait(show=False)
    assert bypassed.state == "completed" and bypassed.cached_from is None
    assert bypassed.provenance["cache"]["status"] == "bypassed"
    assert bypassed.provenance["exit_code"] == 0  # it ran


def test_a_new_version_or_a_restore_without_the_cache_runs_again(client, project):
    process = client.submit("synthetic-signal", SIGNAL, project=project)["id"]
    wait_until_ended(client, process)
    cached = client.new_version(process, SIGNAL)
    assert cached["cached_from"] == {"process": process, "version": 1}

    fresh = client.new_version(process, SIGNAL, cache=False)
    restored = client.restore(process, 1, cache=False)
    for version in (fresh, restored):
        ran = wait_until_ended(client, process, version["version"])
        assert ran["cached_from"] is None and ran["provenance"]["exit_code"] == 0
        assert ran["provenance"]["cache"]["status"] == "bypassed"
        assert ran["parameters"] == cached["parameters"]
        assert ran["resources"] == cached["resources"]


def test_an_exact_rerun_of_a_deterministic_type_reproduces_its_outputs(client, project):
    survey = {"nx": 4, "ny": 3}
    original = submitted(client, "synthetic-survey", survey, project=project).wait(show=False)

    rerun = original.rerun(wait=True, show=False)

    assert (rerun.process, rerun.version, rerun.state) == (original.process, 2, "completed")
    assert rerun.info["rerun_of"] == {"process": original.process, "version": 1}
    assert rerun.reproducibility == {"state": "identical", "differing": []}
    assert rerun.provenance["cache"]["status"] == "bypassed"
    assert rerun.provenance["parameters"] == original.provenance["parameters"]
    assert "reproducibility: identical" in repr(rerun)
    assert f"re-run of: process {original.process} v1" in repr(rerun)


def test_the_form_can_bypass_the_cache_except_for_a_type_that_is_never_cached(client, project):
    first = client.submit("synthetic-signal", SIGNAL, project=project)["id"]
    wait_until_ended(client, first)
    assert ProcessForm(client, "sleep", project).use_cache.disabled

    form = ProcessForm(client, "synthetic-signal", project, estimate_delay=0)
    assert form.use_cache.value and not form.use_cache.disabled
    form.form.value = SIGNAL
    cached = form.submit()
    assert f"completed at once from the cache (process {first} v1)" in form.message.value
    form.use_cache.value = False
    ran = form.submit()

    assert cached["versions"][0]["cached_from"] == {"process": first, "version": 1}
    version = wait_until_ended(client, ran["id"])
    assert version["cached_from"] is None and version["provenance"]["exit_code"] == 0
    assert version["provenance"]["cache"]["status"] == "bypassed"
    assert "from the cache" not in form.message.value


def test_run_no_cache_runs_identical_work_again_in_a_notebook(kernel, client, project):
    def run(options: str = ""):
        return kernel.run(
            f"%%nagel run synthetic-signal --project {project} --wait{options}\n"
            + json.dumps(SIGNAL)
        )

    first = run().result["text/plain"]
    cached = run()
    ran = run(" --no-cache")

    process = int(re.search(r"process: (\d+)/1", first).group(1))
    assert f"cached from: process {process} v1" in cached.result["text/plain"]
    assert cached.stdout.startswith(f"Cache hit: same inputs as process {process} version 1")
    assert "cached from" not in ran.result["text/plain"]
    assert "Cache hit" not in ran.stdout


def test_rerun_shows_that_a_deterministic_type_reproduced_its_outputs(kernel, client, project):
    process = client.submit("synthetic-signal", SIGNAL, project=project)["id"]
    wait_until_ended(client, process)

    shown = kernel.run(f"%nagel rerun {process} --wait").result["text/plain"]

    assert f"process: {process}/2" in shown and "state: completed" in shown
    assert f"re-run of: process {process} v1" in shown
    assert "reproducibility: identical" in shown
    printed = kernel.run("print(_.reproducibility['state'], _.version)").stdout
    assert printed.split() == ["identical", "2"]


def provenance_block(text: str, version: int) -> dict[str, str]:
    """The labelled lines of one version's provenance in ``%nagel versions``' text."""
    block = text.split(f"v{version} provenance\n")[1].split("\n\n")[0]
    labelled = (re.fullmatch(r"  (\S+(?: \S+)?)\s{2,}(.*)", line) for line in block.splitlines())
    return dict(match.groups() for match in labelled if match)


def test_versions_shows_how_each_version_was_produced(kernel, client, project):
    signal = client.submit("synthetic-signal", SIGNAL, project=project)["id"]
    source = wait_until_ended(client, signal)["outputs"][0]
    process = client.submit("fft", {"signal": f"dataset:{source['id']}"}, project=project)["id"]
    first = wait_until_ended(client, process)
    client.new_version(process, first["parameters"])  # a cache hit
    client.rerun(process, 1)
    wait_until_ended(client, process, 3)

    cell = kernel.run(f"%nagel versions {process}")
    text = cell.result["text/plain"]

    rows = {line.split()[0]: line for line in version_rows(cell)[3:]}
    assert f"cached from process {process} v1" in rows["2"]
    assert f"re-run of process {process} v1: identical" in rows["3"]
    v1 = provenance_block(text, 1)
    output = first["outputs"][0]
    assert re.fullmatch(rf"fft {DIGEST}", v1["process type"])
    assert v1["runner"] == first["provenance"]["runner_version"]
    assert re.fullmatch(rf"bootstrap, digest {DIGEST}, (CPython|PyPy) .+", v1["environment"])
    assert v1["executor"] == "local"
    assert f'"signal":"dataset:{source["id"]}"' in v1["parameters"]
    assert '"window":"hann"' in v1["parameters"]  # defaults applied
    assert v1["inputs"] == (
        f"/parameters/signal: dataset {source['id']} signal.nc {source['digest'][:19]}"
    )
    assert re.fullmatch(r"cpu \S+, memory 512Mi, deadline 3600 s", v1["resources"])
    assert v1["started"] and v1["finished"]
    assert v1["exit status"] == "0"
    assert v1["outputs"] == f"spectrum.nc (dataset {output['id']}) {output['digest'][:19]}"
    assert re.fullmatch(rf"miss \(key {DIGEST}\)", v1["cache"])
    v2 = provenance_block(text, 2)
    assert v2["cache"] == f"hit: cached from process {process} v1"
    assert v2["exit status"] == "none: nothing ran (cache hit)"
    assert v2["outputs"].endswith(output["digest"][:19])
    v3 = provenance_block(text, 3)
    assert v3["re-run of"] == f"process {process} v1"
    assert v3["reproducibility"] == "identical"
    assert v3["cache"] == "bypassed: an exact re-run of version 1"
    html = cell.result["text/html"]
    assert html.count("<details>") == 3 and output["digest"][:19] in html


def test_rerun_of_a_version_still_running_is_refused_in_one_line(kernel, client, project):
    process = client.submit("sleep", {"seconds": 30}, project=project)["id"]
    deadline = time.monotonic() + 30
    while client.version(process, 1)["state"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    try:
        cell = kernel.run(f"%nagel rerun {process} 1", fails=True)
    finally:
        client.cancel(process, 1)
    (line,) = cell.stderr.strip().splitlines()
    assert line == (
        "UsageError: %nagel rerun: version 1 is running; only a version that ended "
        "can be re-run (conflict 409)"
    )
