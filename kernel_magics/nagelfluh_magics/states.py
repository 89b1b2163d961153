"""How a version's state reads to a user: cancelled, deadline and out-of-memory
runs are failures to the server (``failed`` with a ``reason``) but outcomes of
their own to whoever started them. The side panel uses the same words."""

from __future__ import annotations

OUTCOMES = {"cancelled": "cancelled", "deadline": "deadline exceeded", "oom": "out of memory"}


def state_text(state: str, reason: str | None) -> str:
    """``"cancelled"``, ``"deadline exceeded"``, ``"out of memory"``; any other
    state as it is, with its reason: ``"failed (error)"``."""
    if state == "failed" and reason in OUTCOMES:
        return OUTCOMES[reason]
    return state + (f" ({reason})" if reason else "")
