"""A live status widget of one process version, fed by the events stream.

``client.follow`` blocks on the WebSocket, so it runs in a daemon thread:
the kernel stays free for other cells while the widget updates (ipykernel
sends widget updates made from any thread).
"""

from __future__ import annotations

import html
import threading
from collections import deque
from typing import Any

import ipywidgets as widgets

from ..states import state_text

TERMINAL = frozenset({"completed", "failed"})
CANCELLABLE = frozenset({"queued", "running"})
SHOWN_OUTPUTS = 10
STATE_COLORS = {
    "pending": "#757575",
    "queued": "#757575",
    "running": "#1565c0",
    "completed": "#2e7d32",
    "failed": "#c62828",
}


class StatusWidget(widgets.VBox):  # type: ignore[misc]  # ipywidgets has no types
    """State, progress bar, last log lines and a Cancel button of one version.

    ``client`` needs ``follow(process_id, version)`` (an iterator of event
    dicts ending at a terminal state) and ``cancel(process_id, version)``.
    """

    def __init__(
        self,
        client: Any,
        process_id: int,
        version: int,
        *,
        state: str | None = None,
        log_lines: int = 20,
        start: bool = True,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.client = client
        self.process_id = process_id
        self.version = version
        self.state: str | None = None
        self.reason: str | None = None
        self.lines: deque[dict[str, Any]] = deque(maxlen=log_lines)
        self.outputs: list[dict[str, Any]] = []
        self._last_seq = 0
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.state_label = widgets.HTML()
        self.progress = widgets.FloatProgress(
            value=0.0, min=0.0, max=1.0, layout=widgets.Layout(width="20em")
        )
        self.cancel_button = widgets.Button(
            description="Cancel", icon="stop", button_style="warning", disabled=True
        )
        self.cancel_button.on_click(lambda button: self.cancel())
        self.log_view = widgets.HTML()
        self.message = widgets.HTML()
        self.children = [
            widgets.HBox([self.state_label, self.progress, self.cancel_button]),
            self.log_view,
            self.message,
        ]
        self.apply({"type": "state", "state": state or "pending", "reason": None})
        if start:
            self.start()

    def start(self) -> None:
        """Follow the version's events in a daemon thread."""
        self._thread = threading.Thread(
            target=self._follow, name=f"nagelfluh-status-{self.process_id}-v{self.version}",
            daemon=True,
        )  # fmt: skip
        self._thread.start()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the stream to end; True if it has."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self._thread is None or not self._thread.is_alive()

    def _follow(self) -> None:
        try:
            for event in self.client.follow(self.process_id, self.version):
                self.apply(event)
        except Exception as error:  # shown on the widget: a thread has nobody to raise to
            self._say(f"lost the event stream: {error}")
            return
        if self.state not in TERMINAL:
            self._say("the event stream ended before the run did")

    def apply(self, event: dict[str, Any]) -> None:
        """Update from one event of the stream (state, log, progress or dataset)."""
        with self._lock:
            kind = event.get("type")
            if kind == "state":
                self._set_state(event.get("state"), event.get("reason"), event.get("message"))
            elif kind == "progress":
                self.progress.value = min(1.0, max(0.0, float(event.get("progress") or 0.0)))
            elif kind == "log":
                fresh = [line for line in event.get("lines", []) if line["seq"] > self._last_seq]
                if fresh:
                    self._last_seq = fresh[-1]["seq"]
                    self.lines.extend(fresh)
                    self._render_log()
            elif kind == "datasets":
                self.outputs.extend(event["datasets"])
                self._say(_outputs_line(self.outputs), color="#2e7d32")

    def _set_state(self, state: str | None, reason: str | None, message: str | None) -> None:
        self.state, self.reason = state, reason
        color = STATE_COLORS.get(state or "", "#000")
        shown = state_text(str(state), reason)
        detail = f": {html.escape(message)}" if message else ""
        self.state_label.value = (
            f"<b>Process {self.process_id} v{self.version}</b> "
            f'<span style="color:{color}">{html.escape(shown)}</span>{detail}'
        )
        self.cancel_button.disabled = state not in CANCELLABLE
        if state == "completed":
            self.progress.value = 1.0
            self.progress.bar_style = "success"
        elif state == "failed":
            self.progress.bar_style = "danger"

    def _render_log(self) -> None:
        rows = [
            f'<span style="color:{"#c62828" if line.get("stream") == "stderr" else "inherit"}">'
            f"{html.escape(line['line'])}</span>"
            for line in self.lines
        ]
        self.log_view.value = (
            '<pre style="margin:0; max-height:16em; overflow-y:auto; font-size:90%">'
            + "\n".join(rows)
            + "</pre>"
        )

    def _say(self, text: str, color: str = "#c62828") -> None:
        self.message.value = f'<span style="color:{color}">{html.escape(text)}</span>'

    def cancel(self) -> None:
        """Ask the server to cancel; the stream then reports ``failed`` (``cancelled``)."""
        self.cancel_button.disabled = True
        try:
            self.client.cancel(self.process_id, self.version)
        except Exception as error:  # a 409 when the run just ended, a lost connection...
            self._say(f"cancel failed: {getattr(error, 'message', None) or error}")
            self.cancel_button.disabled = self.state not in CANCELLABLE


def _outputs_line(outputs: list[dict[str, Any]]) -> str:
    """Names the first outputs and counts the rest: a run may write thousands."""
    names = ", ".join(str(d.get("name")) for d in outputs[:SHOWN_OUTPUTS])
    more = len(outputs) - SHOWN_OUTPUTS
    return f"outputs: {names}" + (f" and {more} more" if more > 0 else "")
