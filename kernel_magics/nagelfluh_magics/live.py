"""Following a running version in a cell (or a terminal): its log lines and a progress bar."""

from __future__ import annotations

import sys
from itertools import groupby
from typing import TYPE_CHECKING, Any, Protocol

from .states import state_text

if TYPE_CHECKING:
    from .client import Client

TEXT_STEPS = 20


def widgets_available() -> bool:
    """Whether ipywidgets can be shown: in a Jupyter kernel (which has a front end
    to draw them) with ipywidgets installed; not in a terminal or a script."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return False
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


class Progress(Protocol):
    def update(self, state: str, fraction: float | None) -> None: ...

    def finish(self, state: str, reason: str | None) -> None: ...


class WidgetProgress:
    """An ipywidgets bar whose label tells the state."""

    def __init__(self, label: str) -> None:
        import ipywidgets
        from IPython.display import display

        self.label = label
        self.bar = ipywidgets.FloatProgress(
            value=0.0,
            min=0.0,
            max=1.0,
            description=label,
            bar_style="info",
            style={"description_width": "initial"},
        )
        display(self.bar)

    def update(self, state: str, fraction: float | None) -> None:
        if fraction is not None:
            self.bar.value = fraction
        self.bar.description = f"{self.label} {state}"

    def finish(self, state: str, reason: str | None) -> None:
        if state == "completed":
            self.bar.value = 1.0
        self.bar.bar_style = "success" if state == "completed" else "danger"
        self.bar.description = f"{self.label} {state_text(state, reason)}"


class TextProgress:
    """A bar printed as a line of text at each twentieth of progress or change of state."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.shown: tuple[str, int] | None = None
        self.fraction = 0.0

    def _print(self, state: str) -> None:
        steps = int(self.fraction * TEXT_STEPS)
        if self.shown != (state, steps):
            self.shown = (state, steps)
            bar = "#" * steps + "." * (TEXT_STEPS - steps)
            print(f"{self.label} [{bar}] {self.fraction:4.0%} {state}", flush=True)

    def update(self, state: str, fraction: float | None) -> None:
        if fraction is not None:
            self.fraction = fraction
        self._print(state)

    def finish(self, state: str, reason: str | None) -> None:
        if state == "completed":
            self.fraction = 1.0
        self._print(state_text(state, reason))


def print_lines(lines: list[dict[str, Any]]) -> None:
    """Log lines to the cell: stderr lines on stderr (drawn apart), the rest on stdout."""
    for stream, run in groupby(lines, key=lambda line: line["stream"]):
        out = sys.stderr if stream == "stderr" else sys.stdout
        print("\n".join(line["line"] for line in run), file=out, flush=True)


def wait(client: Client, process: int, version: int, show: bool = True) -> dict[str, Any] | None:
    """Follow a version until it ends; with ``show``, print its log lines and
    draw its progress. The last ``state`` event (None if none came)."""
    progress: Progress | None = None
    if show:
        label = f"{process}/{version}"
        progress = WidgetProgress(label) if widgets_available() else TextProgress(label)
    state = None
    for event in client.follow(process, version):
        kind = event["type"]
        if kind == "log" and show:
            print_lines(event["lines"])
        elif kind == "state":
            state = event
            if progress:
                progress.update(event["state"], event.get("progress"))
        elif kind == "progress" and progress and state:
            progress.update(state["state"], event["progress"])
    if progress and state:
        progress.finish(state["state"], state.get("reason"))
    return state
