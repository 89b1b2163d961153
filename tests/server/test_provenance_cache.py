"""Provenance, the result cache and exact re-runs, through the API of a real server."""

from __future__ import annotations

import asyncio

import pytest
from nagelfluh_runner.storage import open_storage
from sqlalchemy import update

from nagelfluh_lab.db.models import Dataset
from nagelfluh_lab.services import cache
from tests.server.conftest import BACKENDS

SIGNAL = {"duration": 1, "sample_rate": 100, "seed": 3}


async def _completed(api, type_name: str, parameters: dict, **extra) -> dict:
    created = await api.submit(type_name, parameters, **extra)
    done = await api.wait(created["id"])
    assert done["state"] == "completed", done
    return done


async def _log(api, process: int, version: int = 1) -> list[str]:
    body = await api.get(f"process/{process}/versions/{version}/logs")
    return [line["line"] for line in body["items"]]


def _digests(version: dict) -> dict[str, str]:
    return {o["name"]: o["digest"] for o in version["outputs"]}


async def test_a_version_records_what_exactly_produced_it(api):
    done = await _completed(api, "synthetic-signal", SIGNAL)
    record = done["provenance"]

    assert record["process_type"]["name"] == "synthetic-signal"
    assert record["process_type"]["version"].startswith("sha256:")
    assert record["process_type"]["cacheable"] is True
    assert record["runner_version"]
    assert record["environment"]["name"] == "bootstrap"
    assert record["environment"]["digest"].startswith("sha256:")
    assert record["environment"]["python"].startswith(("CPython", "PyPy"))
    assert record["parameters"] == done["parameters"]
    assert record["parameters"]["noise_level"] == 0.1  # defaults applied
    assert record["resources"] == done["resources"]
    assert record["executor"] == "local"
    assert record["exit_code"] == 0
    assert (record["started"], record["finished"]) == (done["started"], done["finished"])
    assert record["outputs"] == [
        {"name": o["name"], "dataset": o["id"], "digest": o["digest"]} for o in done["outputs"]
    ]
    assert all(o["digest"].startswith("sha256:") for o in record["outputs"])
    assert record["cache"]["status"] == "miss"
    assert record["cache"]["key"].startswith("sha256:")
    assert (done["cached_from"], done["rerun_of"], done["reproducibility"]) == (None, None, None)


async def test_an_output_names_its_producers_provenance(api):
    done = await _completed(api, "synthetic-signal", SIGNAL)
    meta = await api.get(f"dataset/{done['outputs'][0]['id']}/meta")

    assert meta["producer"]["process"] == done["process"]
    assert meta["producer"]["provenance"] == done["provenance"]


async def test_an_input_is_recorded_by_id_and_content_digest(api):
    signal = await _completed(api, "synthetic-signal", SIGNAL)
    dataset = signal["outputs"][0]
    done = await _completed(api, "fft", {"signal": f"dataset:{dataset['id']}"})

    assert done["provenance"]["inputs"] == [
        {
            "parameter": "/parameters/signal",
            "dataset": dataset["id"],
            "name": dataset["name"],
            "digest": dataset["digest"],
        }
    ]


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
async def test_a_resubmission_of_identical_work_completes_at_once_from_the_cache(api):
    first = await _completed(api, "synthetic-signal", SIGNAL)
    balance = (await api.get("account"))["balance"]

    again = await api.submit("synthetic-signal", SIGNAL)
    [version] = again["versions"]

    assert version["state"] == "completed"
    assert version["cached_from"] == {"process": first["process"], "version": 1}
    assert _digests(version) == _digests(first)
    assert [o["key"] for o in version["outputs"]] == [o["key"] for o in first["outputs"]]
    assert {o["id"] for o in version["outputs"]}.isdisjoint(o["id"] for o in first["outputs"])
    assert all(o["process"] == again["id"] for o in version["outputs"])
    assert version["cost"]["actual"] == 0
    assert version["provenance"]["cache"]["status"] == "hit"
    assert version["provenance"]["cache"]["key"] == first["provenance"]["cache"]["key"]
    [line] = await _log(api, again["id"])
    assert line.startswith(
        f"Cache hit: same inputs as process {first['process']} version 1 (key sha256:"
    )
    account = await api.get("account")
    assert account["balance"] == balance
    mine = [t for t in account["transactions"] if t["process"] == again["id"]]
    assert [t["kind"] for t in mine] == ["HOLD", "DEBIT", "RELEASE"]
    assert mine[1]["amount"] == 0 and mine[2]["amount"] == mine[0]["amount"]


async def test_a_cached_output_is_readable_like_the_original(api):
    first = await _completed(api, "synthetic-signal", SIGNAL)
    again = (await api.submit("synthetic-signal", SIGNAL))["versions"][0]

    original = await api.fetch("GET", f"dataset/{first['outputs'][0]['id']}")
    cached = await api.fetch("GET", f"dataset/{again['outputs'][0]['id']}")
    assert cached.code == 200 and cached.body == original.body


async def test_a_changed_parameter_misses_the_cache(api):
    await _completed(api, "synthetic-signal", SIGNAL)
    changed = await _completed(api, "synthetic-signal", {**SIGNAL, "seed": 4})

    assert changed["cached_from"] is None
    assert changed["provenance"]["cache"]["status"] == "miss"


async def test_a_parameter_equal_to_its_default_is_the_same_work(api):
    first = await _completed(api, "synthetic-signal", SIGNAL)
    explicit = await api.submit("synthetic-signal", {**SIGNAL, "noise_level": 0.1, "duration": 1.0})

    assert explicit["versions"][0]["cached_from"] == {"process": first["process"], "version": 1}


async def test_the_same_work_under_another_name_is_a_hit(api):
    first = await _completed(api, "synthetic-signal", SIGNAL, name="one")
    other = await api.submit("synthetic-signal", SIGNAL, name="two")

    assert other["versions"][0]["cached_from"] == {"process": first["process"], "version": 1}


async def test_an_input_whose_content_changed_under_the_same_name_misses_the_cache(api):
    signal = await _completed(api, "synthetic-signal", SIGNAL)
    first = await _completed(api, "fft", {"signal": f"dataset:{signal['outputs'][0]['id']}"})
    await api.post(f"process/{signal['process']}/versions", {"parameters": {**SIGNAL, "seed": 4}})
    changed = await api.wait(signal["process"], 2)
    assert changed["outputs"][0]["name"] == signal["outputs"][0]["name"]
    assert changed["outputs"][0]["digest"] != signal["outputs"][0]["digest"]

    again = await _completed(api, "fft", {"signal": f"dataset:{changed['outputs'][0]['id']}"})

    assert again["cached_from"] is None
    assert again["provenance"]["cache"]["key"] != first["provenance"]["cache"]["key"]


async def test_an_input_of_the_same_content_under_another_id_is_the_same_work(api):
    signal = await _completed(api, "synthetic-signal", SIGNAL)
    copy = (await api.submit("synthetic-signal", SIGNAL))["versions"][0]
    assert copy["outputs"][0]["id"] != signal["outputs"][0]["id"]
    first = await _completed(api, "fft", {"signal": f"dataset:{signal['outputs'][0]['id']}"})

    again = await api.submit("fft", {"signal": f"dataset:{copy['outputs'][0]['id']}"})

    assert again["versions"][0]["cached_from"] == {"process": first["process"], "version": 1}


async def test_identical_inputs_under_other_ids_give_identical_outputs(api):
    # what a cache hit on another id's input reuses is what running it would have made
    signal = await _completed(api, "synthetic-signal", SIGNAL)
    copy = await _completed(api, "synthetic-signal", SIGNAL, cache=False)
    assert copy["outputs"][0]["id"] != signal["outputs"][0]["id"]
    spectra = [
        await _completed(api, "fft", {"signal": f"dataset:{made['outputs'][0]['id']}"},
                         cache=False)
        for made in (signal, copy)
    ]

    assert _digests(spectra[0]) == _digests(spectra[1])


async def test_cache_false_runs_identical_work_again(api):
    first = await _completed(api, "synthetic-signal", SIGNAL)
    forced = await _completed(api, "synthetic-signal", SIGNAL, cache=False)

    assert forced["cached_from"] is None
    assert forced["provenance"]["cache"]["status"] == "bypassed"
    assert forced["provenance"]["cache"]["key"] == first["provenance"]["cache"]["key"]
    assert (await _log(api, forced["process"]))[0].startswith("Cache bypassed")
    assert forced["cost"]["actual"] > 0 or forced["started"] is not None


async def test_a_new_version_with_cache_false_runs_again(api):
    first = await _completed(api, "synthetic-signal", SIGNAL)
    again = await api.post(f"process/{first['process']}/versions", {"cache": False})

    assert again["cached_from"] is None and again["state"] != "completed"


async def test_cache_must_be_a_boolean(api):
    code, body = await api.call("POST", "process", {"type": "sleep", "cache": "no"})

    assert code == 400
    assert body["error"]["details"][0]["path"] == "/cache"


async def test_a_type_that_opted_out_always_runs(api):
    types = {t["name"]: t for t in (await api.get("process-types"))["items"]}
    assert types["sleep"]["cacheable"] is False
    assert types["synthetic-signal"]["cacheable"] is True
    await _completed(api, "sleep", {"seconds": 0})
    second = await _completed(api, "sleep", {"seconds": 0})

    assert second["cached_from"] is None
    cache = second["provenance"]["cache"]
    assert (cache["status"], cache["key"]) == ("uncacheable", None)
    assert "opted out" in cache["reason"]


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
async def test_concurrent_identical_submissions_compute_once(api):
    slow = {**SIGNAL, "duration": 30, "sample_rate": 2000}
    submitted = await asyncio.gather(*(api.submit("synthetic-signal", slow) for _ in range(3)))
    ids = [p["id"] for p in submitted]
    done = [await api.wait(i, timeout=120) for i in ids]

    ran = [v for v in done if v["cached_from"] is None]
    assert len(ran) == 1, done
    assert all(v["state"] == "completed" for v in done)
    for version in done:
        if version is not ran[0]:
            assert version["cached_from"] == {"process": ran[0]["process"], "version": 1}
            assert _digests(version) == _digests(ran[0])
            # It waited for the run (or, on a slow machine, came once that had ended).
            log = await _log(api, version["process"])
            assert log[-1].startswith(f"Cache hit: same inputs as process {ran[0]['process']}")


async def test_outputs_gone_from_storage_are_not_reused(api, tmp_path):
    first = await _completed(api, "synthetic-signal", SIGNAL)
    stored = tmp_path / "storage" / first["outputs"][0]["key"]
    stored.unlink()

    again = await _completed(api, "synthetic-signal", SIGNAL)

    assert again["cached_from"] is None


async def test_re_run_exactly_repeats_a_version_and_finds_it_identical(api):
    first = await _completed(api, "synthetic-signal", SIGNAL)

    rerun = await api.post(f"process/{first['process']}/versions/1/rerun")
    assert rerun["version"] == 2
    assert rerun["rerun_of"] == {"process": first["process"], "version": 1}
    assert rerun["reproducibility"] == {"state": "pending", "differing": []}
    assert rerun["parameters"] == first["parameters"]
    assert rerun["resources"] == first["resources"]
    done = await api.wait(first["process"], 2)

    assert done["state"] == "completed" and done["cached_from"] is None
    assert done["provenance"]["cache"]["status"] == "bypassed"
    assert done["reproducibility"] == {"state": "identical", "differing": []}
    assert _digests(done) == _digests(first)
    assert (await _log(api, first["process"], 2))[0].startswith("Exact re-run of version 1")


async def test_re_run_exactly_names_the_outputs_that_differ(api, jp_serverapp):
    first = await _completed(api, "synthetic-signal", SIGNAL)
    # As if the original run had written other bytes than its re-run does.
    output = first["outputs"][0]
    app = next(iter(jp_serverapp.extension_manager.extension_apps["nagelfluh_lab"]))
    app.database.run_sync(
        lambda s: s.execute(
            update(Dataset).where(Dataset.id == output["id"]).values(digest="sha256:" + "0" * 64)
        )
    )

    await api.post(f"process/{first['process']}/versions/1/rerun")
    done = await api.wait(first["process"], 2)

    assert done["reproducibility"] == {"state": "differs", "differing": [output["name"]]}


async def test_only_an_ended_version_can_be_re_run(api):
    created = await api.submit("sleep", {"seconds": 60})
    code, body = await api.call("POST", f"process/{created['id']}/versions/1/rerun")

    assert code == 409 and body["error"]["code"] == "conflict"
    await api.post(f"process/{created['id']}/versions/1/cancel", expect=200)


async def test_another_users_version_cannot_be_re_run(api):
    done = await _completed(api, "synthetic-signal", SIGNAL)
    code, body = await api.as_user("mallory").call(
        "POST", f"process/{done['process']}/versions/1/rerun"
    )

    assert code == 404 and body["error"]["code"] == "not_found"


def test_outputs_are_present_only_while_storage_holds_each_of_them(tmp_path):
    storage = open_storage((tmp_path / "storage").as_uri())
    prefix = "1/processes/1/v1/"
    for key in ("grid.nc", "grid.nc.bak", "model.zarr/zarr.json", "model.zarr/c/0"):
        storage.write_bytes(prefix + key, b"x")
    outputs = [prefix + "grid.nc", prefix + "model.zarr/"]

    assert cache.all_present(storage, outputs)
    assert not cache.all_present(storage, [prefix + "grid"])  # a prefix of a key is no key
    assert not cache.all_present(storage, [*outputs, prefix + "gone.nc"])
    for key in ("model.zarr/zarr.json", "model.zarr/c/0"):
        storage.delete(prefix + key)
    assert not cache.all_present(storage, outputs)
