"""HOLD at submit, DEBIT and RELEASE at the end, 402 when the balance cannot cover a run."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from nagelfluh_lab.db.models import Process, ProcessVersion, Project, Transaction, User
from nagelfluh_lab.db.session import Database
from nagelfluh_lab.errors import PaymentRequired
from nagelfluh_lab.resources import Resources
from nagelfluh_lab.services.billing import Billing

RATES = {"rate_cpu_hour": 3.6, "rate_memory_gib_hour": 0.0, "starting_balance": 10.0}


def _ledger(account: dict, process: int, version: int) -> dict[str, float]:
    return {
        t["kind"]: t["amount"]
        for t in account["transactions"]
        if (t["process"], t["version"]) == (process, version)
    }


async def test_default_billing_never_refuses_but_records_the_hold(api):
    created = await api.submit("sleep", {"seconds": 0})
    await api.wait(created["id"])
    account = await api.get("account")
    assert account["balance"] == 0
    assert _ledger(account, created["id"], 1) == {"HOLD": 0, "DEBIT": 0, "RELEASE": 0}


@pytest.mark.parametrize("nagelfluh_config", [RATES])
async def test_estimate_is_resources_times_rates_times_deadline(api):
    body = await api.post(
        "estimate", {"resources": {"cpu": 2, "deadline_seconds": 1800}}, expect=200
    )
    assert body["estimated"] == pytest.approx(3.6)
    assert body["rates"] == {"cpu_hour": 3.6, "memory_gib_hour": 0.0}
    code, error = await api.call("POST", "estimate", {"resources": {"cpu": -1}})
    assert code == 400 and error["error"]["details"][0]["path"] == "/resources/cpu"


async def test_estimate_takes_resources_or_bare_resources_but_not_both_nor_null(api):
    wrapped = await api.post("estimate", {"resources": {"cpu": 2}}, expect=200)
    assert await api.post("estimate", {"cpu": 2}, expect=200) == wrapped
    for body, field in (({"resources": None}, "/resources"), ({"resources": {}, "cpu": 1}, "/cpu")):
        code, error = await api.call("POST", "estimate", body)
        assert code == 400 and error["error"]["details"][0]["path"] == field, error


@pytest.mark.parametrize("nagelfluh_config", [RATES])
async def test_completed_run_debits_actual_cost_and_releases_the_rest(api):
    created = await api.submit("sleep", {"seconds": 0}, resources={"deadline_seconds": 1000})
    version = await api.wait(created["id"])
    assert version["cost"]["estimated"] == pytest.approx(1.0)
    ledger = _ledger(await api.get("account"), created["id"], 1)
    assert ledger["HOLD"] == pytest.approx(1.0)
    assert ledger["DEBIT"] + ledger["RELEASE"] == pytest.approx(ledger["HOLD"])
    assert 0 < ledger["DEBIT"] < 0.05
    assert version["cost"]["actual"] == pytest.approx(ledger["DEBIT"])
    assert (await api.get("account"))["balance"] == pytest.approx(10 - ledger["DEBIT"])


@pytest.mark.parametrize("nagelfluh_config", [RATES])
async def test_submission_beyond_the_balance_is_refused_with_402_and_nothing_stored(api):
    code, body = await api.call(
        "POST", "process", {"type": "sleep", "resources": {"deadline_seconds": 11000}}
    )
    assert code == 402
    assert body["error"]["code"] == "insufficient_balance"
    assert body["error"]["details"]["balance"] == pytest.approx(10.0)
    assert (await api.get("process"))["items"] == []
    assert (await api.get("account"))["transactions"] == []


@pytest.mark.parametrize("nagelfluh_config", [{**RATES, "user_balances": {"rich": 1e6}}])
async def test_starting_balance_is_configurable_per_user(api):
    assert (await api.as_user("rich").get("account"))["balance"] == 1e6
    assert (await api.as_user("poor").get("account"))["balance"] == 10.0


@pytest.mark.parametrize("nagelfluh_config", [RATES])
async def test_cancelled_run_releases_its_hold(api):
    created = await api.submit("sleep", {"seconds": 30}, resources={"deadline_seconds": 100})
    await api.wait(created["id"], states=("running",))
    await api.post(f"process/{created['id']}/versions/1/cancel", expect=200)
    ledger = _ledger(await api.get("account"), created["id"], 1)
    assert ledger["DEBIT"] + ledger["RELEASE"] == pytest.approx(ledger["HOLD"])
    assert ledger["RELEASE"] > 0.9 * ledger["HOLD"]


# ------------------------------------------------ the ledger invariant (property)

_end = st.sampled_from(["never-started", "short", "long", "overrun"])


@settings(max_examples=60, deadline=None)
@given(
    runs=st.lists(
        st.tuples(
            st.floats(0.1, 8),  # cpu
            st.integers(16, 4096),  # memory MiB
            st.floats(1, 86400),  # deadline
            _end,
        ),
        min_size=1,
        max_size=8,
    ),
    rate_cpu=st.floats(0, 50),
    rate_mem=st.floats(0, 5),
    balance=st.floats(0, 1e4),
)
def test_every_version_settles_hold_into_debit_plus_release(
    tmp_path_factory, runs, rate_cpu, rate_mem, balance
):
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('ledger') / 'l.db'}")
    billing = Billing(rate_cpu, rate_mem, balance, {})

    def scenario(session):
        user = User(name="u")
        project = Project(name="p")
        session.add_all([user, project])
        session.flush()
        process = Process(project_id=project.id, type_name="sleep", name="x", created_by=user.id)
        session.add(process)
        session.flush()
        for number, (cpu, mem, deadline, end) in enumerate(runs, start=1):
            res = Resources(cpu, mem * 2**20, deadline)
            version = ProcessVersion(
                process_id=process.id,
                number=number,
                parameters={},
                cpu=cpu,
                memory=res.memory,
                deadline_seconds=deadline,
                created_by=user.id,
                cost_estimated=billing.estimate(res),
            )
            session.add(version)
            session.flush()
            before = billing.balance(session, user)
            try:
                billing.hold(session, user, version, project.id)
            except PaymentRequired:
                assert version.cost_estimated > before
                continue
            ran = {
                "never-started": 0,
                "short": deadline / 3,
                "long": deadline,
                "overrun": deadline * 2,
            }[end]
            billing.settle(session, version, ran)
            billing.settle(session, version, ran)  # settling twice changes nothing
            assert billing.balance(session, user) >= 0
        totals: dict[int, dict[str, int]] = {}
        for tx in session.scalars(select(Transaction)):
            totals.setdefault(tx.version_id, {}).setdefault(tx.kind, 0)
            totals[tx.version_id][tx.kind] += tx.amount
        for kinds in totals.values():
            assert kinds["HOLD"] == kinds["DEBIT"] + kinds["RELEASE"]
            assert kinds["DEBIT"] >= 0 and kinds["RELEASE"] >= 0

    db.run_sync(scenario)
    db.close()
