"""How the extension fits Jupyter: the event bus, idle-culling activity, the auth check."""

from __future__ import annotations

import asyncio

import pytest

from nagelfluh_lab.app import EVENT_SCHEMA_ID, NagelfluhApp
from nagelfluh_lab.handlers import routes


async def test_state_changes_are_emitted_on_the_jupyter_event_bus(api, jp_serverapp):
    seen: list[dict] = []

    async def listener(logger, schema_id, data) -> None:
        seen.append(data)

    jp_serverapp.event_logger.add_listener(schema_id=EVENT_SCHEMA_ID, listener=listener)
    created = await api.submit("sleep", {"seconds": 0})
    await api.wait(created["id"])
    await asyncio.sleep(0.1)
    states = [d["state"] for d in seen if d["process"] == created["id"]]
    assert states[-1] == "completed"
    assert "running" in states


async def test_running_versions_count_as_server_activity(api, jp_serverapp):
    app: NagelfluhApp = next(iter(jp_serverapp.extension_manager.extension_apps["nagelfluh_lab"]))
    assert app.current_activity() is None
    created = await api.submit("sleep", {"seconds": 30})
    await api.wait(created["id"], states=("running",))
    assert app.current_activity()
    assert "nagelfluh" in jp_serverapp.web_app.settings["last_activity_times"]
    await api.post(f"process/{created['id']}/versions/1/cancel", expect=200)
    assert app.current_activity() is None


def test_every_handler_is_authenticated(jp_serverapp):
    """No method of any route may skip Jupyter's authentication (the same check that makes
    jupyter_server warn, turned into a failure for this extension's routes)."""
    for pattern, handler, *_ in routes():
        assert jp_serverapp.web_app._check_handler_auth(pattern, handler) == [], pattern


def test_unknown_executor_name_is_refused_with_the_choices():
    app = NagelfluhApp(executor="nonsense")
    with pytest.raises(ValueError, match="must be one of"):
        app._make_executor()


@pytest.mark.parametrize("nagelfluh_config", [{"activity_refresh_seconds": 0.1}])
async def test_a_run_going_on_its_own_keeps_the_server_active_for_jupyterhub(
        api, jp_serverapp, nagelfluh_config):
    """JupyterHub reads ``web_app.last_activity()`` and never asks the extension: without
    a browser open, only the refresh keeps the Hub's idle culler off a server whose user
    has a run going (tests/hub/test_idle_culler.py does this against a real Hub)."""
    created = await api.submit("sleep", {"seconds": 30})
    await api.wait(created["id"], states=("running",))
    first = jp_serverapp.web_app.last_activity()
    await asyncio.sleep(0.5)
    assert jp_serverapp.web_app.last_activity() > first
    await api.post(f"process/{created['id']}/versions/1/cancel", expect=200)
    await api.wait(created["id"], states=("failed", "cancelled"))
    await asyncio.sleep(0.3)
    idle = jp_serverapp.web_app.settings["last_activity_times"]["nagelfluh"]
    await asyncio.sleep(0.5)
    assert jp_serverapp.web_app.settings["last_activity_times"]["nagelfluh"] == idle


def test_under_jupyterhub_activity_is_refreshed_twice_per_reporting_interval(monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_ACTIVITY_INTERVAL", "4")
    assert NagelfluhApp().activity_refresh_seconds == 2
    monkeypatch.delenv("JUPYTERHUB_ACTIVITY_INTERVAL")
    assert NagelfluhApp().activity_refresh_seconds == 30
