"""What a server restart does to work it finds in the database."""

from __future__ import annotations

import asyncio
import time

import pytest

from nagelfluh_lab.db.models import (
    Process,
    ProcessLog,
    ProcessVersion,
    Project,
    ProjectMember,
    Transaction,
    User,
)
from nagelfluh_lab.db.session import Database
from tests.server.conftest import BACKENDS


def seed(db_url: str, server: str | None) -> dict:
    """The database as a server named ``server`` left it: one version running, one
    queued (``None``: a server from before versions recorded theirs)."""
    db = Database(db_url)

    def rows(session) -> dict:
        user = User(name="restart-user")
        session.add(user)
        session.flush()
        project = Project(name="My project")
        project.members.append(ProjectMember(user_id=user.id))
        session.add(project)
        session.flush()
        ids = {}
        for name, state in (("was-running", "running"), ("was-queued", "queued")):
            process = Process(
                project_id=project.id, type_name="sleep", name=name, created_by=user.id
            )
            session.add(process)
            session.flush()
            version = ProcessVersion(
                process_id=process.id,
                number=1,
                parameters={"seconds": 0},
                cpu=1,
                memory=256 * 2**20,
                deadline_seconds=60,
                state=state,
                created_by=user.id,
                started=time.time() if state == "running" else None,
                log_count=1,
                server=server,
            )
            session.add(version)
            session.flush()
            session.add(
                ProcessLog(
                    version_id=version.id,
                    seq=1,
                    count=1,
                    time=time.time(),
                    stream="stdout",
                    text="before the restart",
                )
            )
            session.add(
                Transaction(
                    user_id=user.id,
                    project_id=project.id,
                    version_id=version.id,
                    process_id=process.id,
                    version=1,
                    kind="HOLD",
                    amount=0,
                )
            )
            ids[name] = process.id
        return ids

    ids = db.run_sync(rows)
    db.close()
    return ids


@pytest.fixture
def seeded(request, db_url) -> dict:
    """Seeded before the server starts; ``server`` as the parameter says (indirect)."""
    return seed(db_url, getattr(request, "param", None))


@pytest.fixture
def jp_server_config(seeded, jp_server_config):
    return jp_server_config


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
async def test_restart_fails_orphaned_runs_and_resumes_queued_ones(api, seeded):
    user = api.as_user("restart-user")
    orphan = await user.wait(seeded["was-running"])
    assert (orphan["state"], orphan["reason"]) == ("failed", "server-restart")
    logs = (await user.get(f"process/{seeded['was-running']}/versions/1/logs"))["items"]
    assert logs[0]["line"] == "before the restart"
    assert logs[-1]["stream"] == "system" and logs[-1]["seq"] == 2
    resumed = await user.wait(seeded["was-queued"])
    assert resumed["state"] == "completed"
    account = await user.get("account")
    kinds = sorted(t["kind"] for t in account["transactions"])
    assert kinds == ["DEBIT", "DEBIT", "HOLD", "HOLD", "RELEASE", "RELEASE"]


@pytest.mark.parametrize("seeded", ["another-host:/srv/jupyter/data"], indirect=True)
async def test_restart_leaves_versions_of_another_server_on_the_database_alone(
        api, seeded, started):
    """Another live server may be running them: failing or re-running them would lose them."""
    user = api.as_user("restart-user")
    await asyncio.sleep(2)  # long enough to fail or finish them, were they taken up

    running = await user.get(f"process/{seeded['was-running']}/versions/1")
    queued = await user.get(f"process/{seeded['was-queued']}/versions/1")
    assert (running["state"], running["reason"]) == ("running", None)
    assert queued["state"] == "queued"
    code, body = await user.call("POST", f"process/{seeded['was-running']}/versions/1/cancel")
    assert code == 409 and "another server" in body["error"]["message"]
    assert [t["kind"] for t in (await user.get("account"))["transactions"]] == ["HOLD", "HOLD"]


async def test_versions_submitted_while_the_server_starts_are_not_taken_up_twice(
        api, jp_serverapp):
    """The server answers requests before the extension's start-up has resumed what the
    database holds: a version submitted meanwhile is already in hand, not started again
    (which failed the whole start-up with 'already submitted')."""
    app = next(iter(jp_serverapp.extension_manager.extension_apps["nagelfluh_lab"]))
    running = await api.submit("sleep", {"seconds": 2})
    await api.wait(running["id"], states=("running",))
    queued = await api.submit("sleep", {"seconds": 1}, resources={"cpu": 2})

    await app.processes.resume()

    for process in (running, queued):
        done = await api.wait(process["id"])
        assert done["state"] == "completed", done
        lines = await api.get(f"process/{process['id']}/versions/1/logs")
        starts = [line for line in lines["items"] if line["line"].startswith("sleeping")]
        assert len(starts) == 1, lines["items"]
