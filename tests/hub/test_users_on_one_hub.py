"""Users on one JupyterHub, each with a server of their own running the extension
against one PostgreSQL: each sees their own work, and only through the Hub's identity."""

from __future__ import annotations

import json

import pytest

from tests.hub.hub import READER, Hub, call, events_socket, messages_until, submit_sleep, wait_state

pytestmark = pytest.mark.postgres


def test_each_users_server_on_the_hub_serves_the_extension_and_runs_their_process(servers):
    for name, server in servers.items():
        assert server.url.endswith(f"/user/{name}/")
        response = call(server, "GET", "process-types")
        assert response.status_code == 200, response.text
        assert "sleep" in {kind["name"] for kind in response.json()["items"]}
    process = submit_sleep(servers["alice"], "alice-nap", 0.5)
    assert wait_state(servers["alice"], process["id"], "completed", "failed")["state"] == (
        "completed"
    )


def test_a_user_sees_none_of_another_users_work_on_the_shared_database(servers):
    alice, bob = servers["alice"], servers["bob"]
    process = submit_sleep(alice, "alice-private", 0)
    wait_state(alice, process["id"], "completed")

    assert call(bob, "GET", f"process/{process['id']}").status_code == 404
    assert call(bob, "GET", f"process/{process['id']}/versions/1/logs").status_code == 404
    projects = {project["id"] for project in call(bob, "GET", "projects").json()["items"]}
    assert process["project"] not in projects
    assert call(bob, "GET", "process", params={"project": process["project"]}).status_code == 404
    assert process["id"] not in {item["id"] for item in call(bob, "GET", "process").json()["items"]}
    # and bob's own token opens nothing on alice's server: the Hub's identity decides
    assert call(alice, "GET", "projects", token=bob.token).status_code == 403


def test_a_user_hears_no_events_of_another_users_run_on_another_server(servers):
    alice, bob = servers["alice"], servers["bob"]
    own_project = call(bob, "GET", "projects").json()["items"][0]["id"]
    events = events_socket(bob)
    try:
        events.send(json.dumps({"subscribe": {"project": own_project}}))
        theirs = submit_sleep(alice, "alice-unheard", 0.2)
        received: list[dict] = []
        for target in ({"process": theirs["id"]}, {"project": theirs["project"]}):
            events.send(json.dumps({"subscribe": target}))
            received += [m for _, m in messages_until(events, lambda m: m["type"] == "error")]
        refusals = [message["code"] for message in received if message["type"] == "error"]
        assert refusals == ["not_found", "not_found"]
        wait_state(alice, theirs["id"], "completed")

        # bob's own run, after alice's: his project's events arrive, none of hers
        mine = submit_sleep(bob, "bob-heard", 0)
        received += [
            m
            for _, m in messages_until(
                events,
                lambda message: (
                    message.get("process") == mine["id"] and message.get("state") == "completed"
                ),
            )
        ]
    finally:
        events.close()
    heard = {message.get("process") for message in received if message["type"] != "error"}
    assert mine["id"] in heard and theirs["id"] not in heard


def test_a_user_without_the_hubs_run_scope_may_look_but_not_start_a_process(
    hub: Hub, tokens: dict[str, str]
):
    hub.start_server(READER)
    reader = hub.user_server(READER, tokens[READER])
    assert call(reader, "GET", "process-types").status_code == 200
    assert call(reader, "GET", "projects").status_code == 200
    refused = call(reader, "POST", "process", json={"type": "sleep", "parameters": {"seconds": 0}})
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"]
