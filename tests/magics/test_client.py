"""``nagelfluh_magics.Client`` against a real server: every route, errors, live events."""

from __future__ import annotations

import io
import os
import time
import uuid

import pytest
from nagelfluh_magics import Client, NagelfluhError, ProcessHandle, discover

from tests.magics.conftest import running_server, wait_until_ended


def test_catalog_projects_estimate_and_account(client):
    assert {"sleep", "synthetic-signal"} <= {t["name"] for t in client.types()}
    environment = client.environments()[0]
    assert "sleep" in environment["process_types"]
    sleep = client.process_type("sleep")
    assert sleep["schema"]["properties"]["seconds"]["type"] == "number"
    created = client.create_project(f"survey {uuid.uuid4().hex[:6]}")
    assert created["id"] in {p["id"] for p in client.projects()}
    estimate = client.estimate({"cpu": "500m", "memory": "1Gi", "deadline_seconds": 60})
    assert estimate["resources"]["cpu"] in (0.5, "500m")
    assert set(client.account()) >= {"balance", "transactions"}


def test_registering_an_environment_from_an_image_is_refused_by_a_local_server(client):
    assert client.environment("bootstrap")["state"] == "ready"
    with pytest.raises(NagelfluhError) as refused:
        client.register_environment("geo", "registry.example/geo:1")
    assert refused.value.status == 400
    assert [f["path"] for f in refused.value.fields] == ["/image"]
    assert "kubernetes" in str(refused.value)


def test_a_retried_submit_with_the_same_idempotency_key_creates_one_process(client):
    key = uuid.uuid4().hex
    first = client.submit("sleep", {"seconds": 0}, idempotency_key=key, name="once")
    again = client.submit("sleep", {"seconds": 0}, idempotency_key=key, name="once")
    assert again["id"] == first["id"]
    with pytest.raises(NagelfluhError) as refused:
        client.submit("sleep", {"seconds": 1}, idempotency_key=key, name="once")
    assert refused.value.status == 409


def test_process_lists_page_through_every_process(client):
    project = client.create_project("paging")["id"]
    ids = [client.submit("sleep", {"seconds": 0}, project=project)["id"] for _ in range(5)]
    page = client.process_page(project, limit=2)
    assert [p["id"] for p in page["items"]] == ids[::-1][:2]
    assert page["next"] is not None
    assert [p["id"] for p in client.processes(project)] == ids[::-1]
    assert [p["id"] for p in client.processes(project, limit=3)] == ids[::-1][:3]


def test_server_errors_carry_status_code_and_the_offending_fields(client):
    with pytest.raises(NagelfluhError) as invalid:
        client.submit("synthetic-signal", {"duration": -1, "seed": "x"})
    error = invalid.value
    assert (error.status, error.code) == (400, "validation_failed")
    assert {f["path"] for f in error.fields} == {"/parameters/duration", "/parameters/seed"}
    assert "/parameters/duration" in str(error) and "/parameters/seed" in str(error)
    with pytest.raises(NagelfluhError) as missing:
        client.process(987654)
    assert (missing.value.status, missing.value.code) == (404, "not_found")


def test_an_unreachable_server_is_an_error_without_status():
    with pytest.raises(NagelfluhError) as unreachable:
        Client("http://127.0.0.1:9/", "token").types()
    assert unreachable.value.status is None
    assert unreachable.value.code == "unreachable"


def test_versions_compare_restore_and_cancel(client):
    process = client.submit("sleep", {"seconds": 0})["id"]
    wait_until_ended(client, process)
    second = client.new_version(process, {"seconds": 0.1}, {"memory": "256Mi"})
    assert second["version"] == 2
    wait_until_ended(client, process, 2)
    diff = client.compare(process, 1, 2)
    assert [(c["path"], c["old"], c["new"]) for c in diff["parameters"]] == [("/seconds", 0, 0.1)]
    assert [c["path"] for c in diff["resources"]] == ["/memory"]
    restored = client.restore(process, 1)
    assert restored["version"] == 3 and restored["parameters"] == {"seconds": 0}
    assert client.version(process)["version"] == 3
    assert [v["version"] for v in client.process(process)["versions"]] == [1, 2, 3]
    wait_until_ended(client, process, 3)
    with pytest.raises(NagelfluhError) as ended:
        client.cancel(process, 3)
    assert ended.value.status == 409


def test_a_handle_cancels_its_running_version(client):
    process = client.submit("sleep", {"seconds": 60})
    handle = ProcessHandle.of(client, process["versions"][-1])
    deadline = time.monotonic() + 30
    while handle.refresh().state not in ("queued", "running"):
        assert time.monotonic() < deadline, handle
        time.sleep(0.05)
    assert handle.cancel().done
    assert (handle.state, handle.info["reason"]) == ("failed", "cancelled")
    assert "state: cancelled" in repr(handle)


def test_logs_page_by_since_and_limit(client):
    process = client.submit("sleep", {"seconds": 0.2})["id"]
    info = wait_until_ended(client, process)
    first = client.logs(process, 1, limit=2)
    assert [line["seq"] for line in first["items"]] == [1, 2]
    rest = client.logs(process, 1, since=first["next"])
    assert [line["seq"] for line in rest["items"]] == list(range(3, info["log_lines"] + 1))
    every = list(client.log_lines(process, 1))
    assert every[0]["line"] == "sleeping 0.2 s" and every[-1]["line"] == "done sleeping"


def test_datasets_meta_bytes_ranges_views_and_uploads(client, outputs, tmp_path):
    signal = outputs["signal_mm"]
    listed = client.datasets(process=signal["process"], version=1)
    assert [d["id"] for d in listed] == [signal["id"]]
    meta = client.dataset_meta(signal["id"])
    assert meta["units"] == {"time": "s", "amplitude": "mm/s"}
    whole = client.dataset_bytes(signal["id"])
    assert len(whole) == meta["size"] and whole[:3] == b"CDF"
    assert client.dataset_bytes(signal["id"], 10, 19) == whole[10:20]
    assert client.dataset_bytes(signal["id"], -5) == whole[-5:]
    view = client.dataset_view(signal["id"], y=["amplitude"], points=100)
    assert view["decimated"] and view["total"] == 2000
    assert len(view["x"]["values"]) <= 102 and view["y"][0]["units"] == "mm/s"
    project = signal["project"]
    path = tmp_path / "observations.csv"
    path.write_bytes(b"t,v\n0,1\n1,2\n")
    upload = client.upload(project, f"obs/{uuid.uuid4().hex[:8]}.csv", path, "text/csv")
    assert upload["process"] is None and upload["mime_type"] == "text/csv"
    assert client.dataset_bytes(upload["id"]) == b"t,v\n0,1\n1,2\n"
    assert upload["id"] in {d["id"] for d in client.datasets(project=project)}


def test_an_upload_streams_its_file_and_tells_the_bytes_sent_as_they_go(client, tmp_path):
    project = client.projects()[0]["id"]
    path = tmp_path / "noise.bin"
    path.write_bytes(os.urandom(3 * 2**20 + 5))
    size = path.stat().st_size
    seen: list[tuple[int, int]] = []
    upload = client.upload(
        project, f"noise-{uuid.uuid4().hex[:6]}.bin", path, progress=lambda *sent: seen.append(sent)
    )
    assert len(seen) > 10 and seen[-1] == (size, size)
    assert [sent for sent, _ in seen] == sorted(sent for sent, _ in seen)
    assert upload["size"] == size and client.dataset_bytes(upload["id"]) == path.read_bytes()
    rest = io.BytesIO(b"header\n0,1\n1,2\n")
    rest.seek(7)  # a file object goes from where it stands
    seen.clear()
    tail = client.upload(
        project, f"rest-{uuid.uuid4().hex[:6]}.csv", rest, progress=lambda *sent: seen.append(sent)
    )
    assert seen[-1] == (8, 8) and client.dataset_bytes(tail["id"]) == b"0,1\n1,2\n"


def test_following_logs_yields_every_line_once_until_the_version_ends(client):
    process = client.submit("sleep", {"seconds": 1.2})["id"]
    lines = list(client.follow_logs(process))
    info = client.version(process)
    assert info["state"] == "completed"
    assert [line["seq"] for line in lines] == list(range(1, info["log_lines"] + 1))
    assert lines[-1]["line"] == "done sleeping"


def test_following_logs_from_a_seq_gives_only_the_later_lines(client):
    process = client.submit("sleep", {"seconds": 0})["id"]
    total = wait_until_ended(client, process)["log_lines"]
    assert [line["seq"] for line in client.follow_logs(process, 1, since=1)] == list(
        range(2, total + 1)
    )


def test_events_of_a_project_bring_state_progress_and_datasets(client):
    project = client.create_project("events")["id"]
    stream = client.events({"project": project}, timeout=30)
    seen = []
    process = client.submit("synthetic-signal", {"duration": 1}, project=project)["id"]
    for event in stream:
        seen.append(event["type"])
        if event["type"] == "state" and event["state"] == "completed":
            break
    stream.close()
    assert {"state", "progress", "datasets"} <= set(seen), seen
    assert client.version(process)["state"] == "completed"


def test_subscribing_to_an_unknown_process_raises(client):
    with pytest.raises(NagelfluhError) as unknown:
        next(client.events({"process": 987654}, timeout=10))
    assert unknown.value.code == "not_found"


def test_a_client_that_falls_behind_resubscribes_and_misses_no_line(tmp_path):
    """With a backlog of a few lines, a burst of lines makes the server drop the
    client's backlog and send ``resync``: the stream subscribes again from there,
    so lines keep coming in order, and following a version still gives each once."""
    components = [{"frequency": f, "amplitude": 1.0} for f in range(1, 41)]
    parameters = {"duration": 1, "components": components}
    whole_quota = {"cpu": 1.0}
    with running_server(tmp_path, ws_backlog_lines=3, local_quota_cpu=1.0) as small:
        client = Client(small.url, small.token)
        # the run waits for the quota until the stream is subscribed, so its burst of
        # lines cannot end before the client listens
        blocker = client.submit("sleep", {"seconds": 600}, resources=whole_quota)["id"]
        process = client.submit("synthetic-signal", parameters, resources=whole_quota)["id"]
        events = []
        for event in client.events({"process": process}, timeout=60):
            if not events:
                client.cancel(blocker, 1)
            events.append(event)
            if event["type"] == "state" and event["state"] == "completed":
                break
        # the same work again: run it (a cache hit would log one line)
        followed = client.submit("synthetic-signal", parameters, cache=False)["id"]
        lines = [line["seq"] for line in client.follow_logs(followed)]
        total = client.version(followed)["log_lines"]
    assert events[0]["type"] == "state" and events[0]["state"] == "queued"
    assert "resync" in {e["type"] for e in events}
    streamed = [line["seq"] for e in events if e["type"] == "log" for line in e["lines"]]
    assert streamed == list(range(1, len(streamed) + 1))
    assert total > 40 and lines == list(range(1, total + 1))


def test_discovery_prefers_nagelfluh_url_and_token(monkeypatch, server):
    monkeypatch.setenv("NAGELFLUH_URL", "http://elsewhere:1/base/")
    monkeypatch.setenv("NAGELFLUH_TOKEN", "t0k")
    monkeypatch.setenv("JPY_PARENT_PID", str(server.pid))
    assert discover() == ("http://elsewhere:1/base/", "t0k")


def test_discovery_reads_the_runtime_file_of_the_parent_server(monkeypatch, server):
    monkeypatch.delenv("NAGELFLUH_URL", raising=False)
    monkeypatch.setenv("JPY_PARENT_PID", str(server.pid))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(server.runtime_dir))
    found = Client()
    assert (found.url, found.token) == (server.url, server.token)
    assert found.types()


def test_discovery_without_a_server_says_what_to_set(monkeypatch, tmp_path):
    monkeypatch.delenv("NAGELFLUH_URL", raising=False)
    monkeypatch.delenv("JPY_PARENT_PID", raising=False)
    with pytest.raises(NagelfluhError, match="NAGELFLUH_URL"):
        Client()
    monkeypatch.setenv("JPY_PARENT_PID", "1")
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path))
    with pytest.raises(NagelfluhError, match="runtime file"):
        Client()
