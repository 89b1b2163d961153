"""End to end: the local executor runs the real ``python -m nagelfluh_runner run``."""

from __future__ import annotations

import json
from pathlib import Path

from nagelfluh_runner.protocol import MANIFEST_NAME, version_prefix

from nagelfluh_lab.executors.base import RunOutcome


async def test_runner_sleep_completes_with_logs_progress_and_manifest(
        make_executor, make_spec, events, tmp_path):
    executor = await make_executor()  # the default command: the real runner
    quick, slow = (make_spec(process_type="sleep", parameters={"seconds": seconds})
                   for seconds in (0, 2))
    unknown = make_spec(process_type="no-such-type")
    for spec in (quick, slow, unknown):
        await executor.submit(spec)

    assert await events.finished(quick.key) == RunOutcome("completed", exit_code=0)
    assert events.lines(quick.key) == ["sleeping 0 s", "done sleeping"]
    manifest = Path(tmp_path / "storage" / version_prefix(7, quick.key.process_id, 1)
                    / MANIFEST_NAME)
    assert json.loads(manifest.read_text())["datasets"] == []

    outcome = await events.finished(unknown.key)
    assert (outcome.state, outcome.reason) == ("failed", "invalid")
    assert events.lines(unknown.key, "stderr")[0].startswith("nagelfluh-runner: error:")

    assert await events.finished(slow.key) == RunOutcome("completed", exit_code=0)
    assert events.lines(slow.key)[1:] == ["tick 1: 1 of 2 s", "tick 2: 2 of 2 s",
                                          "done sleeping"]
    assert events.payloads(slow.key, "progress")[-1] == 1.0
