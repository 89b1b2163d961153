"""sleep: waits, ticking once a second; the cheapest process, for testing the machinery."""

from __future__ import annotations

import time

from nagelfluh_runner.sdk import ProcessType, object_schema, parameter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from nagelfluh_runner.context import StorageContext


class Sleep(ProcessType):
    name = "sleep"
    title = "Sleep"
    description = (
        "Waits the given number of seconds, logging a tick and reporting progress "
        "every second. Writes no dataset: useful to try queues, cancel and deadlines."
    )
    # Its work is the time it takes: a result reused from the cache would skip just that.
    cacheable = False
    schema = object_schema(
        {
            "seconds": parameter(
                "number",
                "Seconds",
                "How long to wait, in seconds.",
                5,
                minimum=0,
                maximum=86400,
            )
        }
    )

    def run(self, ctx: StorageContext, seconds: float = 5) -> None:
        ctx.log(f"sleeping {seconds:g} s")
        start = time.monotonic()
        tick = 0
        while (remaining := seconds - (time.monotonic() - start)) > 0:
            time.sleep(min(1.0, remaining))
            tick += 1
            # The time it meant to wake at, not the one it woke at: a loaded machine
            # wakes it late, and its log stays the same wherever it runs.
            elapsed = min(float(tick), seconds)
            ctx.log(f"tick {tick}: {elapsed:g} of {seconds:g} s")
            ctx.progress(elapsed / seconds)
        ctx.log("done sleeping")
