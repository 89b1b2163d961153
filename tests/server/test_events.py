"""The events WebSocket: current state, replay from since, live stream, resync for slow clients."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest

from nagelfluh_lab.executors.base import RunKey
from nagelfluh_lab.services.events import EventHub, LogBatch, encode_event, version_topic
from tests.server.conftest import ws_recv


async def _collect_until_terminal(ws) -> tuple[list[dict], list[dict]]:
    lines, states = [], []
    while True:
        message = await ws_recv(ws)
        if message["type"] == "log":
            lines += message["lines"]
        elif message["type"] == "state":
            states.append(message)
            if message["state"] in ("completed", "failed"):
                return lines, states


async def test_subscriber_gets_state_then_every_line_live_without_gaps(api, ws_connect):
    ws = await ws_connect()
    created = await api.submit("sleep", {"seconds": 2})
    ws.write_message(json.dumps({"subscribe": {"process": created["id"], "version": 1}}))
    first = await ws_recv(ws)
    assert first["type"] == "state" and first["process"] == created["id"]
    lines, states = await _collect_until_terminal(ws)
    assert states[-1]["state"] == "completed"
    assert [line["seq"] for line in lines] == list(range(1, len(lines) + 1))
    stored = await api.get(f"process/{created['id']}/versions/1/logs")
    assert lines == stored["items"]
    ws.close()


async def test_subscribe_since_replays_only_what_came_after(api, ws_connect):
    created = await api.submit("sleep", {"seconds": 1})
    await api.wait(created["id"])
    stored = (await api.get(f"process/{created['id']}/versions/1/logs"))["items"]
    ws = await ws_connect()
    ws.write_message(json.dumps({"subscribe": {"process": created["id"]}, "since": 1}))
    state = await ws_recv(ws)
    assert state["state"] == "completed"
    replay = await ws_recv(ws)
    assert replay["type"] == "log"
    assert replay["lines"] == stored[1:]
    # the socket outlives the replay: it still answers the next subscription
    ws.write_message(json.dumps({"subscribe": {"process": created["id"]}, "since": 0}))
    assert (await ws_recv(ws))["type"] == "state"
    assert (await ws_recv(ws))["lines"] == stored
    ws.close()


async def test_replay_longer_than_a_page_arrives_whole_and_in_order(api, ws_connect, monkeypatch):
    from nagelfluh_lab.services import subscriptions

    monkeypatch.setattr(subscriptions, "REPLAY_PAGE", 2)
    created = await api.submit("sleep", {"seconds": 2})
    await api.wait(created["id"])
    stored = (await api.get(f"process/{created['id']}/versions/1/logs"))["items"]
    assert len(stored) > 2  # several pages
    ws = await ws_connect()
    ws.write_message(json.dumps({"subscribe": {"process": created["id"]}}))
    assert (await ws_recv(ws))["type"] == "state"
    replayed = []
    while len(replayed) < len(stored):
        replayed += (await ws_recv(ws))["lines"]
    assert replayed == stored
    ws.close()


async def test_project_subscription_sees_states_and_datasets_of_every_process(api, ws_connect):
    project = (await api.get("projects"))["items"][0]["id"]
    ws = await ws_connect()
    ws.write_message(json.dumps({"subscribe": {"project": project}}))
    created = await api.submit("synthetic-signal", {"duration": 1, "sample_rate": 100})
    seen = []
    while not any(m["type"] == "state" and m["state"] == "completed" for m in seen):
        seen.append(await ws_recv(ws))
    kinds = {m["type"] for m in seen}
    assert {"state", "datasets"} <= kinds
    assert "log" not in kinds
    outputs = next(m for m in seen if m["type"] == "datasets")
    assert outputs["process"] == created["id"] and outputs["datasets"][0]["mime_type"]
    ws.close()


@pytest.mark.parametrize("target", ["version", "project"])
@pytest.mark.parametrize("nth_read", [1, 2])
async def test_a_state_change_stored_while_subscribing_reaches_the_subscriber(
        api, ws_connect, jp_serverapp, monkeypatch, target, nth_read):
    # The run is sent back to the queue (as a preempted Kubernetes run is) right after
    # the subscription's nth database read: before, between or after whatever it reads.
    app = next(iter(jp_serverapp.extension_manager.extension_apps["nagelfluh_lab"]))
    created = await api.submit("sleep", {"seconds": 30})
    await api.wait(created["id"], states=("running",))
    key = RunKey(created["id"], 1)
    reads, changed, original = 0, asyncio.Event(), app.database.run

    async def run(fn):
        nonlocal reads
        result = await original(fn)
        reads += 1
        if reads == nth_read:
            await app.processes.runs.run_queued(key, "preempted")
            changed.set()
        return result

    ws = await ws_connect()
    monkeypatch.setattr(app.database, "run", run)
    subscribe = {"process": created["id"], "version": 1} if target == "version" else {
        "project": created["project"]}
    ws.write_message(json.dumps({"subscribe": subscribe}))
    await asyncio.wait_for(changed.wait(), 20)
    states = []
    with contextlib.suppress(asyncio.TimeoutError):
        while True:
            message = await ws_recv(ws, timeout=1)
            if message["type"] == "state":
                states.append(message["state"])
    monkeypatch.undo()
    assert (await api.get(f"process/{created['id']}/versions/1"))["state"] == "queued"
    assert states and states[-1] == "queued", states
    ws.close()
    await api.post(f"process/{created['id']}/versions/1/cancel", expect=200)
    await api.wait(created["id"])


async def test_bad_messages_get_error_events_not_a_closed_socket(api, ws_connect):
    ws = await ws_connect()
    for bad in (
        "not json",
        "[]",
        '{"dance": 1}',
        '{"subscribe": {}}',
        '{"subscribe": {"process": 1}, "since": -3}',
    ):
        ws.write_message(bad)
        reply = await ws_recv(ws)
        assert reply["type"] == "error", bad
    ws.write_message(json.dumps({"subscribe": {"process": 424242}}))
    assert (await ws_recv(ws))["code"] == "not_found"
    ws.close()


async def test_a_subscription_since_or_to_an_id_beyond_64_bits_is_an_error_event(api, ws_connect):
    created = await api.submit("sleep", {"seconds": 0})
    ws = await ws_connect()
    for message in (
        {"subscribe": {"process": created["id"], "version": 1}, "since": 2**63 - 1},
        {"subscribe": {"process": 2**64}},
    ):
        ws.write_message(json.dumps(message))
        reply = await ws_recv(ws)
        assert (reply["type"], reply["code"]) == ("error", "validation_failed"), reply
    ws.close()
    await api.wait(created["id"])


async def test_unsubscribe_stops_the_stream(api, ws_connect):
    created = await api.submit("sleep", {"seconds": 3})
    ws = await ws_connect()
    ws.write_message(json.dumps({"subscribe": {"process": created["id"]}}))
    await ws_recv(ws)
    ws.write_message(json.dumps({"unsubscribe": {"process": created["id"]}}))
    await asyncio.sleep(0.2)
    drained = []
    while True:
        try:
            drained.append(await asyncio.wait_for(ws.read_message(), 1.5))
        except asyncio.TimeoutError:
            break
    assert len(drained) <= 2  # at most what was already in flight
    ws.close()
    await api.wait(created["id"])


def _log(seq_from: int, count: int) -> dict:
    lines = [(0.0, "stdout", f"line {s}") for s in range(seq_from, seq_from + count)]
    return {"type": "log", "process": 1, "version": 1, "lines": LogBatch(seq_from, lines)}


async def test_stalled_client_is_told_to_resync_and_memory_stays_bounded():
    hub = EventHub()
    gate = asyncio.Event()
    sent: list[dict] = []

    async def send(message: dict) -> None:
        await gate.wait()
        sent.append(message)

    stalled = hub.subscriber(send, max_backlog_lines=1000)
    healthy_seen: list[dict] = []

    async def healthy_send(message: dict) -> None:
        healthy_seen.append(message)

    healthy = hub.subscriber(healthy_send, max_backlog_lines=1000)
    topic = version_topic(1, 1)
    stalled.follow(topic)
    healthy.follow(topic)
    for batch in range(50):
        hub.publish(topic, _log(batch * 100 + 1, 100))
        await asyncio.sleep(0)
    assert sum(len(m["lines"]) for m in healthy_seen) == 5000  # the others never wait
    assert stalled._backlog_lines <= 1000
    assert topic not in stalled.topics  # stopped following until it resubscribes
    gate.set()
    await asyncio.sleep(0.05)
    resync = [m for m in sent if m["type"] == "resync"]
    assert len(resync) == 1
    delivered = [row["seq"] for m in sent if m["type"] == "log" for row in m["lines"].rows()]
    assert resync[0]["since"] == (delivered[-1] if delivered else 0)
    stalled.close()
    healthy.close()


async def test_queued_log_messages_are_coalesced_into_batches():
    hub = EventHub()
    sent: list[dict] = []
    gate = asyncio.Event()

    async def send(message: dict) -> None:
        await gate.wait()
        sent.append(message)

    sub = hub.subscriber(send, max_backlog_lines=100_000)
    topic = version_topic(1, 1)
    sub.follow(topic)
    hub.publish(topic, _log(1, 1))
    await asyncio.sleep(0)
    for i in range(2, 12):
        hub.publish(topic, _log(i, 1))
    gate.set()
    await asyncio.sleep(0.05)
    assert [len(m["lines"]) for m in sent] == [1, 10]
    decoded = [json.loads(encode_event(m)) for m in sent]
    assert [row["seq"] for m in decoded for row in m["lines"]] == list(range(1, 12))
    assert decoded[1]["lines"][0] == {"seq": 2, "time": 0.0, "stream": "stdout", "line": "line 2"}
    sub.close()


async def test_live_lines_held_during_a_long_replay_are_bounded_too():
    hub = EventHub()
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    sub = hub.subscriber(send, max_backlog_lines=1000)
    topic = version_topic(1, 1)
    sub.follow(topic, hold=True)
    for batch in range(20):
        hub.publish(topic, _log(batch * 100 + 1, 100))
    assert topic not in sub.topics and topic not in sub.held
    await asyncio.sleep(0.01)
    assert [m["type"] for m in sent] == ["resync"]
    sub.close()


async def test_a_line_a_replay_sent_before_another_server_announced_it_is_not_sent_again():
    # A subscriber on a server that relays another server's events: the replay reads
    # lines 1-10 from the database before the relay has read the event announcing 9-12.
    hub = EventHub()
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    sub = hub.subscriber(send, max_backlog_lines=1000)
    topic = version_topic(1, 1)
    sub.follow(topic, hold=True)
    sub.start_at(topic, 0)
    await sub.send_now(topic, _log(1, 10))  # the replay
    sub.release(topic)
    hub.publish(topic, _log(9, 4))  # relayed after the replay ended
    hub.publish(topic, _log(13, 2))
    await asyncio.sleep(0.01)
    seqs = [row["seq"] for m in sent for row in m["lines"].rows()]
    assert seqs == list(range(1, 15))
    sub.close()


def test_a_log_batch_encodes_to_the_documented_line_objects():
    batch = LogBatch(7, [(1.5, "stderr", 'say "hi" \u00e9\n')])
    event = json.loads(encode_event({"type": "log", "process": 3, "version": 2, "lines": batch}))
    assert event == {
        "type": "log",
        "process": 3,
        "version": 2,
        "lines": [{"seq": 7, "time": 1.5, "stream": "stderr", "line": 'say "hi" \u00e9\n'}],
    }
    assert batch.after(6) is batch and len(batch.after(7)) == 0
