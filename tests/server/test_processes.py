"""The process loop through the REST API: submit, states, logs, versions, cancel, errors."""

from __future__ import annotations

import asyncio

import pytest

from nagelfluh_lab.credentials import CredentialProvider, CredentialsError
from tests.server.conftest import BACKENDS


async def test_process_types_are_listed_with_schemas_and_environment(api):
    body = await api.get("process-types")
    by_name = {t["name"]: t for t in body["items"]}
    assert {"sleep", "fft", "synthetic-signal", "synthetic-survey", "inversion"} <= set(by_name)
    sleep = by_name["sleep"]
    assert sleep["environment"] == "bootstrap"
    assert sleep["schema"]["properties"]["seconds"]["type"] == "number"
    one = await api.get("process-types/fft")
    assert one["schema"]["properties"]["signal"]["format"] == "nagelfluh-dataset"
    envs = await api.get("environments")
    assert envs["items"][0]["name"] == "bootstrap"
    assert envs["items"][0]["image"] == "nagelfluh-base-runner:latest"
    assert "sleep" in envs["items"][0]["process_types"]


async def test_unknown_process_type_is_a_json_404(api):
    code, body = await api.call("GET", "process-types/nope")
    assert code == 404
    assert body["error"]["code"] == "not_found"


async def test_sleep_runs_to_completion_with_logs_timings_and_defaults(api):
    created = await api.submit("sleep", {"seconds": 1}, name="nap")
    assert created["name"] == "nap"
    assert created["type"] == "sleep"
    [first] = created["versions"]
    assert first["version"] == 1
    assert first["state"] in ("pending", "queued", "running")
    assert first["resources"] == {"cpu": 1.0, "memory": "512Mi", "deadline_seconds": 3600.0}
    done = await api.wait(created["id"])
    assert done["state"] == "completed", done
    assert done["reason"] is None
    assert done["progress"] == 1.0
    assert done["created"] <= done["started"] <= done["finished"]
    logs = await api.get(f"process/{created['id']}/versions/1/logs")
    assert [line["seq"] for line in logs["items"]] == list(range(1, len(logs["items"]) + 1))
    assert logs["next"] == logs["items"][-1]["seq"]
    assert any("tick" in line["line"].lower() for line in logs["items"])
    assert {line["stream"] for line in logs["items"]} <= {"stdout", "stderr", "system"}
    page = await api.get(f"process/{created['id']}/versions/1/logs", since=1, limit=1)
    assert [line["seq"] for line in page["items"]] == [2]


async def test_parameters_snapshot_has_defaults_applied(api):
    created = await api.submit("sleep")
    assert created["versions"][0]["parameters"]["seconds"] >= 0


async def test_invalid_parameters_answer_400_with_the_offending_field(api):
    code, body = await api.call("POST", "process", {"type": "sleep", "parameters": {"seconds": -1}})
    assert code == 400
    assert body["error"]["code"] == "validation_failed"
    assert body["error"]["details"][0]["path"] == "/parameters/seconds"
    assert "minimum" in body["error"]["details"][0]["schema_path"]
    listing = await api.get("process")
    assert listing["items"] == []


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"type": "nope"}, "/type"),
        ({"type": "sleep", "parameters": []}, "/parameters"),
        ({"type": "sleep", "resources": {"cpu": "lots"}}, "/resources/cpu"),
        ({"type": "sleep", "resources": {"memory": "12Qi"}}, "/resources/memory"),
        ({"type": "sleep", "resources": {"deadline_seconds": 0}}, "/resources/deadline_seconds"),
        ({"type": "sleep", "resources": {"cpu": 64}}, "/resources/cpu"),
        ({"type": "sleep", "resources": {"gpu": 1}}, "/resources/gpu"),
        ({"type": "sleep", "name": ""}, "/name"),
        ({"type": "sleep", "colour": "red"}, "/colour"),
        ({"type": "sleep", "project": 999}, None),
    ],
)
async def test_bad_submissions_name_the_field_and_store_nothing(api, body, path):
    code, reply = await api.call("POST", "process", body)
    if path is None:
        assert code == 404
    else:
        assert code == 400, reply
        assert reply["error"]["details"][0]["path"] == path
    assert (await api.get("process"))["items"] == []


async def test_malformed_json_body_is_a_400_not_a_500(api):
    code, body = await api.call("POST", "process", b"{not json")
    assert code == 400
    assert body["error"]["code"] == "bad_request"


async def test_unknown_api_route_answers_json_404(api):
    code, body = await api.call("GET", "no/such/route")
    assert code == 404
    assert body["error"]["code"] == "not_found"


async def test_cpu_accepts_kubernetes_quantities(api):
    created = await api.submit(
        "sleep", {"seconds": 0}, resources={"cpu": "500m", "memory": "256Mi"}
    )
    assert created["versions"][0]["resources"]["cpu"] == 0.5
    assert created["versions"][0]["resources"]["memory"] == "256Mi"


async def test_new_version_restore_and_compare(api):
    created = await api.submit("sleep", {"seconds": 0})
    pid = created["id"]
    await api.wait(pid, 1)
    v2 = await api.post(f"process/{pid}/versions", {"parameters": {"seconds": 0.2}})
    assert v2["version"] == 2
    assert v2["parameters"]["seconds"] == 0.2
    await api.wait(pid, 2)
    diff = await api.get(f"process/{pid}/versions/compare", v1=1, v2=2)
    assert diff["equal"] is False
    assert diff["parameters"] == [{"path": "/seconds", "op": "changed", "old": 0, "new": 0.2}]
    restored = await api.post(f"process/{pid}/versions/1/restore")
    assert restored["version"] == 3
    assert restored["parameters"] == created["versions"][0]["parameters"]
    same = await api.get(f"process/{pid}/versions/compare", v1=1, v2=3)
    assert same["equal"] is True
    process = await api.get(f"process/{pid}")
    assert [v["version"] for v in process["versions"]] == [1, 2, 3]
    await api.wait(pid, 3)


async def test_new_version_with_only_resources_keeps_parameters(api):
    created = await api.submit("sleep", {"seconds": 0})
    pid = created["id"]
    v2 = await api.post(f"process/{pid}/versions", {"resources": {"cpu": 0.25}})
    assert v2["parameters"] == created["versions"][0]["parameters"]
    assert v2["resources"]["cpu"] == 0.25
    assert v2["resources"]["memory"] == "512Mi"
    await api.wait(pid, 2)


async def test_compare_needs_both_versions(api):
    created = await api.submit("sleep", {"seconds": 0})
    code, body = await api.call("GET", f"process/{created['id']}/versions/compare", v1=1)
    assert code == 400
    assert body["error"]["details"][0]["path"] == "/v2"
    code, _ = await api.call("GET", f"process/{created['id']}/versions/compare", v1=1, v2=9)
    assert code == 404


async def test_cancel_of_running_version_fails_it_as_cancelled_and_logs_it(api):
    created = await api.submit("sleep", {"seconds": 30})
    pid = created["id"]
    await api.wait(pid, 1, states=("running",))
    cancelled = await api.post(f"process/{pid}/versions/1/cancel", expect=200)
    assert cancelled["state"] == "failed"
    assert cancelled["reason"] == "cancelled"
    logs = await api.get(f"process/{pid}/versions/1/logs")
    assert logs["items"][-1]["line"] == "Process cancelled by user"
    assert logs["items"][-1]["stream"] == "system"


async def test_cancel_of_finished_version_is_conflict(api):
    created = await api.submit("sleep", {"seconds": 0})
    await api.wait(created["id"])
    code, body = await api.call("POST", f"process/{created['id']}/versions/1/cancel")
    assert code == 409
    assert body["error"]["code"] == "conflict"
    assert body["error"]["details"]["state"] == "completed"


@pytest.mark.parametrize("nagelfluh_config", [{"local_quota_cpu": 1.0}])
async def test_queued_version_waits_for_quota_and_can_be_cancelled(api):
    first = await api.submit("sleep", {"seconds": 30}, resources={"cpu": 1})
    await api.wait(first["id"], 1, states=("running",))
    second = await api.submit("sleep", {"seconds": 0}, resources={"cpu": 1})
    queued = await api.wait(second["id"], 1, states=("queued",))
    assert "quota" in (queued["message"] or "")
    cancelled = await api.post(f"process/{second['id']}/versions/1/cancel", expect=200)
    assert (cancelled["state"], cancelled["reason"]) == ("failed", "cancelled")
    assert cancelled["started"] is None
    await api.post(f"process/{first['id']}/versions/1/cancel", expect=200)


async def test_deadline_overrun_fails_with_reason_deadline(api):
    created = await api.submit("sleep", {"seconds": 30}, resources={"deadline_seconds": 1})
    done = await api.wait(created["id"], timeout=30)
    assert (done["state"], done["reason"]) == ("failed", "deadline")
    logs = await api.get(f"process/{created['id']}/versions/1/logs")
    assert "deadline" in logs["items"][-1]["line"].lower()


async def test_idempotency_key_returns_the_same_process_once(api):
    headers = {"Idempotency-Key": "abc-123"}
    body = {"type": "sleep", "parameters": {"seconds": 0}}
    first = await api.post("process", body, headers=headers)
    again = await api.post("process", body, headers=headers)
    assert again["id"] == first["id"]
    assert len((await api.get("process"))["items"]) == 1
    code, reply = await api.call(
        "POST", "process", {"type": "sleep", "parameters": {"seconds": 1}}, headers=headers
    )
    assert code == 409
    assert reply["error"]["details"]["process"] == first["id"]
    await api.wait(first["id"])


async def test_process_list_is_newest_first_and_paginated(api):
    ids = [(await api.submit("sleep", {"seconds": 0}))["id"] for _ in range(5)]
    page = await api.get("process", limit=2)
    assert [p["id"] for p in page["items"]] == ids[::-1][:2]
    rest = await api.get("process", limit=10, cursor=page["next"])
    assert [p["id"] for p in rest["items"]] == ids[::-1][2:]
    assert rest["next"] is None
    code, body = await api.call("GET", "process", limit=0)
    assert code == 400 and body["error"]["details"][0]["path"] == "/limit"
    await asyncio.gather(*(api.wait(i) for i in ids))


async def test_new_version_with_unknown_fields_is_refused(api):
    created = await api.submit("sleep", {"seconds": 0})
    code, body = await api.call("POST", f"process/{created['id']}/versions", {"colour": "red"})
    assert code == 400 and body["error"]["details"][0]["path"] == "/colour"
    code, body = await api.call(
        "POST", f"process/{created['id']}/versions", {"parameters": {"seconds": "long"}}
    )
    assert code == 400 and body["error"]["details"][0]["path"] == "/parameters/seconds"
    assert len((await api.get(f"process/{created['id']}"))["versions"]) == 1
    await api.wait(created["id"])


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
async def test_concurrent_retries_with_one_idempotency_key_create_one_process(api):
    body = {"type": "sleep", "parameters": {"seconds": 0}}
    headers = {"Idempotency-Key": "retry-storm"}
    replies = await asyncio.gather(
        *(api.call("POST", "process", body, headers=headers) for _ in range(8))
    )
    assert {code for code, _ in replies} == {201}
    assert len({reply["id"] for _, reply in replies}) == 1
    assert len((await api.get("process"))["items"]) == 1
    await api.wait(replies[0][1]["id"])


class _RefusingCredentials(CredentialProvider):
    def for_run(self, spec):
        raise CredentialsError("STS refused AssumeRole: AccessDenied")


@pytest.mark.parametrize("nagelfluh_config", [{"credentials_class": _RefusingCredentials}])
async def test_run_whose_storage_credentials_cannot_be_minted_fails_with_the_reason(api):
    created = await api.submit("sleep", {"seconds": 0})
    done = await api.wait(created["id"])
    assert (done["state"], done["reason"]) == ("failed", "storage-credentials")
    assert "AccessDenied" in done["message"]
    kinds = sorted(t["kind"] for t in (await api.get("account"))["transactions"])
    assert kinds == ["DEBIT", "HOLD", "RELEASE"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "process/132552420553289212787148455936"),
        ("GET", "process/9223372036854775808"),
        ("POST", "process/9223372036854775808/versions"),
        ("GET", "process/1/versions/18446744073709551616/logs"),
        ("GET", "dataset/" + "9" * 5000),
        ("GET", "process/0"),
    ],
)
async def test_an_id_beyond_64_bits_is_404(api, method, path):
    await api.submit("sleep", {"seconds": 0})  # process 1 exists: its version cannot
    code, body = await api.call(method, path)
    assert code == 404 and body["error"]["code"] == "not_found", body


async def test_the_cors_preflight_of_an_id_beyond_64_bits_or_an_unknown_route_is_404(api):
    for path in ("process/9223372036854775808", "dataset/0/meta", "no/such/route"):
        code, body = await api.call("OPTIONS", path)
        assert code == 404 and body["error"]["code"] == "not_found", path
    response = await api.fetch("OPTIONS", "process/9223372036854775807")
    assert response.code == 200 and "GET" in response.headers["Access-Control-Allow-Methods"]


@pytest.mark.parametrize(
    ("method", "path", "body", "params", "field"),
    [
        ("GET", "process", None, {"cursor": "9223372036854775808"}, "/cursor"),
        ("GET", "process", None, {"project": "132552420553289212787148455936"}, "/project"),
        ("GET", "dataset", None, {"project": "9" * 5000}, "/project"),
        ("POST", "process", {"type": "sleep", "project": 2**64}, {}, "/project"),
        ("GET", "process/1/versions/1/logs", None, {"since": str(2**63)}, "/since"),
        # Digits to str.isdigit that int() refuses: not a 500 either.
        ("GET", "process", None, {"limit": "²"}, "/limit"),
        ("GET", "process/1/versions/1/logs", None, {"since": "1" * 5000}, "/since"),
        ("GET", "dataset/1/view", None, {"points": "²"}, "/points"),
    ],
)
async def test_ids_cursors_and_counts_out_of_range_in_a_query_or_body_are_400_naming_them(
    api, method, path, body, params, field
):
    code, reply = await api.call(method, path, body, **params)
    assert code == 400, reply
    assert reply["error"]["details"][0]["path"] == field


@pytest.mark.parametrize(
    ("route", "raw", "field"),
    [
        ("process", b'{"type": "\\ud800"}', "/type"),
        ("process", b'{"type": "sleep", "parameters": {"\\udfff": 1}}', "/parameters/\\udfff"),
        (
            "process",
            b'{"type": "sleep", "parameters": {"x": ["ok", "a\\udbff"]}}',
            "/parameters/x/1",
        ),
        ("projects", b'{"name": "survey \\udc00"}', "/name"),
    ],
)
async def test_a_lone_surrogate_in_a_json_body_is_400_naming_its_field(api, route, raw, field):
    code, body = await api.call("POST", route, raw)
    assert code == 400 and body["error"]["code"] == "validation_failed", body
    assert [d["path"] for d in body["error"]["details"]] == [field]
    assert (await api.get("process"))["items"] == []


@pytest.mark.parametrize(
    "raw",
    [
        b'{"type": "caf\xe9"}',  # Latin-1, not UTF-8
        b'{"type": "sleep", "parameters": {"seconds": NaN}}',
        b'{"type": "sleep", "parameters": {"seconds": 1e999}}',  # a float's infinity
        b"[" * 100_000 + b"]" * 100_000,
    ],
    ids=["latin-1", "nan", "1e999", "nested"],
)
async def test_a_body_that_is_not_json_text_is_400(api, raw):
    code, body = await api.call("POST", "process", raw)
    assert code == 400 and body["error"]["code"] == "bad_request", body
    assert (await api.get("process"))["items"] == []


async def test_null_parameters_or_resources_are_400_not_the_defaults(api):
    for field in ("parameters", "resources"):
        code, body = await api.call("POST", "process", {"type": "sleep", field: None})
        assert code == 400 and body["error"]["details"][0]["path"] == f"/{field}", body
    created = await api.submit("sleep", {"seconds": 0})
    for field in ("parameters", "resources"):
        code, body = await api.call("POST", f"process/{created['id']}/versions", {field: None})
        assert code == 400 and body["error"]["details"][0]["path"] == f"/{field}", body
    assert len((await api.get(f"process/{created['id']}"))["versions"]) == 1
    await api.wait(created["id"])


async def test_a_new_version_takes_only_parameters_and_resources(api):
    created = await api.submit("sleep", {"seconds": 0})
    for field, value in (("type", "fft"), ("name", "renamed"), ("project", created["project"])):
        code, body = await api.call("POST", f"process/{created['id']}/versions", {field: value})
        assert code == 400 and body["error"]["details"][0]["path"] == f"/{field}", body
    assert len((await api.get(f"process/{created['id']}"))["versions"]) == 1
    await api.wait(created["id"])
