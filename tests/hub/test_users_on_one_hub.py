"""Two users on one JupyterHub, each with a server of their own running the extension
against one PostgreSQL: each sees their own work, and only through the Hub's identity."""

from __future__ import annotations

import pytest

from tests.hub.hub import call, submit_sleep, wait_state

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
