"""What a server restart does to work it finds in the database."""

from __future__ import annotations

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


@pytest.fixture
def seeded(db_url) -> dict:
    """The database as an old server left it: one version running, one queued."""
    db = Database(db_url)

    def seed(session) -> dict:
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

    ids = db.run_sync(seed)
    db.close()
    return ids


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
