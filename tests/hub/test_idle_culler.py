"""The Hub's idle culler (jupyterhub-idle-culler, a Hub service) against servers running
the extension: an idle server is culled, a server with a run going is not (DESIGN §5)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone

import pytest

from tests.hub.hub import ACTIVITY_SECONDS, Hub, call, submit_sleep, wait_state

pytestmark = pytest.mark.postgres

TIMEOUT = 8  # seconds idle before the culler stops a server
EVERY = 2  # how often it looks


@pytest.fixture
def start_culler(hub: Hub, servers) -> Iterator[Callable[[], None]]:
    """``start_culler()`` starts the culler (once the test has set the scene, so nothing
    it did before counts as idleness); it is stopped after the test."""
    started: list[subprocess.Popen] = []
    yield lambda: started.append(hub.start_culler(TIMEOUT, EVERY))
    for process in started:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _culled_within(hub: Hub, name: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if hub.server_model(name) is None:
            return True
        time.sleep(0.5)
    return False


def _wait_for_activity_after(hub: Hub, name: str, moment: datetime, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        model = hub.server_model(name)
        last = model and model.get("last_activity")
        if last and datetime.fromisoformat(last.replace("Z", "+00:00")) >= moment:
            return
        time.sleep(0.5)
    raise AssertionError(f"the Hub heard of no activity of {name} since {moment}")


def test_the_idle_culler_stops_a_server_nobody_uses(hub: Hub, start_culler):
    start_culler()
    assert _culled_within(hub, "bob", TIMEOUT + 2 * EVERY + 2 * ACTIVITY_SECONDS + 10)


def test_the_idle_culler_leaves_a_server_alone_while_its_user_has_a_run_going(
    hub: Hub, servers, start_culler
):
    alice = servers["alice"]
    process = submit_sleep(alice, "long-nap", 60)["id"]
    wait_state(alice, process, "running", timeout=30)
    running = datetime.now(timezone.utc)
    # The Hub learns of activity every ACTIVITY_SECONDS: a culler started before then
    # would judge the server by what it did before the run (up to TIMEOUT ago).
    _wait_for_activity_after(hub, "alice", running, 3 * ACTIVITY_SECONDS + 10)
    # from here on nobody touches alice's server: only her run keeps it busy
    start_culler()
    try:
        assert not _culled_within(hub, "alice", TIMEOUT + 3 * EVERY + 2 * ACTIVITY_SECONDS + 6)
    finally:
        if hub.server_model("alice") is not None:
            call(alice, "POST", f"process/{process}/versions/1/cancel")
