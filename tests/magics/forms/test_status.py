"""StatusWidget: follows a version's events in a thread and cancels it."""

from __future__ import annotations

import time
from collections.abc import Callable

from nagelfluh_magics.forms import StatusWidget


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_status_shows_state_progress_and_the_last_log_lines(fake_client):
    client = fake_client([])
    line = client.line
    for event in [
        {"type": "state", "state": "queued", "reason": None},
        {"type": "state", "state": "running", "reason": None},
        {"type": "log", "lines": [line(1, "start"), line(2, "<b>2</b>"), line(3, "three")]},
        {"type": "log", "lines": [line(3, "three"), line(4, "four", "stderr")]},  # a replay
        {"type": "progress", "progress": 0.4},
        {"type": "datasets", "datasets": [{"id": 12, "name": "signal.nc"}]},
        {"type": "state", "state": "completed", "reason": None},
    ]:
        client.push(event)
    status = StatusWidget(client, 5, 2, log_lines=3)
    assert status.join(timeout=5)
    assert client.called("follow") == [(5, 2)]
    assert status.state == "completed" and "completed" in status.state_label.value
    assert (status.progress.value, status.progress.bar_style) == (1.0, "success")
    assert [entry["line"] for entry in status.lines] == ["<b>2</b>", "three", "four"]
    assert "&lt;b&gt;2&lt;/b&gt;" in status.log_view.value and "start" not in status.log_view.value
    assert "signal.nc" in status.message.value
    assert status.cancel_button.disabled


def test_progress_events_move_the_bar_while_running(fake_client):
    client = fake_client([])
    status = StatusWidget(client, 5, 1, state="running")
    client.push({"type": "progress", "progress": 0.25})
    wait_for(lambda: status.progress.value == 0.25)
    client.push({"type": "state", "state": "failed", "reason": "deadline"})
    assert status.join(timeout=5)
    assert status.progress.bar_style == "danger"
    assert "deadline" in status.state_label.value


def test_cancel_calls_the_server_and_is_disabled_once_the_run_ended(fake_client):
    client = fake_client([])
    status = StatusWidget(client, 8, 3, state="pending")
    assert status.cancel_button.disabled  # pending: nothing to cancel yet (409)
    client.push({"type": "state", "state": "running", "reason": None})
    wait_for(lambda: not status.cancel_button.disabled)
    status.cancel_button.click()
    assert client.called("cancel") == [(8, 3)]
    assert status.join(timeout=5)
    assert (status.state, status.reason) == ("failed", "cancelled")
    assert "cancelled" in status.state_label.value and "failed" not in status.state_label.value
    assert status.lines[-1]["line"] == "Process cancelled by user"
    assert status.cancel_button.disabled


def test_a_refused_cancel_is_shown_and_can_be_retried_while_running(fake_client, server_error):
    client = fake_client([])
    client.fail["cancel"] = server_error(409, "version 3 is not queued or running")
    status = StatusWidget(client, 8, 3, state="running", start=False)
    status.cancel()
    assert "version 3 is not queued or running" in status.message.value
    assert not status.cancel_button.disabled


def test_a_lost_event_stream_is_reported_on_the_widget(fake_client):
    client = fake_client([])
    client.fail["follow"] = ConnectionError("server went away")
    status = StatusWidget(client, 8, 3, state="queued")
    assert status.join(timeout=5)
    assert "lost the event stream: server went away" in status.message.value
    assert status.state == "queued"
