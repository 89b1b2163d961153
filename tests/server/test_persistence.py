"""The whole loop on each database backend: SQLite by default, PostgreSQL in production."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from nagelfluh_lab.db.session import Database
from tests.server.conftest import BACKENDS

pytestmark = pytest.mark.parametrize("db_url", BACKENDS, indirect=True)


async def test_signal_to_fft_loop_persists_versions_logs_datasets_and_ledger(api):
    signal = await api.submit("synthetic-signal", {"duration": 2, "sample_rate": 100})
    done = await api.wait(signal["id"])
    assert done["state"] == "completed", done
    dataset = done["outputs"][0]["id"]
    fft = await api.submit("fft", {"signal": f"dataset:{dataset}", "window": "hann"})
    v1 = await api.wait(fft["id"])
    assert v1["state"] == "completed" and v1["inputs"] == [dataset]
    v2 = await api.post(
        f"process/{fft['id']}/versions",
        {"parameters": {"signal": f"dataset:{dataset}", "window": "blackman"}},
    )
    await api.wait(fft["id"], v2["version"])
    diff = await api.get(f"process/{fft['id']}/versions/compare", v1=1, v2=2)
    assert {"path": "/window", "op": "changed", "old": "hann", "new": "blackman"} in diff[
        "parameters"
    ]
    logs = await api.get(f"process/{fft['id']}/versions/2/logs")
    assert [line["seq"] for line in logs["items"]] == list(range(1, len(logs["items"]) + 1))
    datasets = await api.get("dataset")
    assert len(datasets["items"]) == 3
    account = await api.get("account")
    assert len(account["transactions"]) == 9


def test_migrations_apply_again_without_change(db_url):
    first = Database(db_url)
    tables = set(inspect(first.engine).get_table_names())
    first.close()
    again = Database(db_url)
    assert set(inspect(again.engine).get_table_names()) == tables
    assert {"process_versions", "process_logs", "transactions", "alembic_version"} <= tables
    again.close()
