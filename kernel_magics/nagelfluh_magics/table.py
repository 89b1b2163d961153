"""Rich tables: HTML in Jupyter, aligned plain text in a terminal or a script."""

from __future__ import annotations

import html
import time
from collections.abc import Sequence
from typing import Any

MAX_CELL = 60


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _clip(cell: str) -> str:
    return cell if len(cell) <= MAX_CELL else cell[: MAX_CELL - 1] + "…"


def when(timestamp: float | None) -> str:
    """A time of the API (seconds since the epoch) in the kernel's local time; "" for none."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp)) if timestamp else ""


def pairs_html(rows: Sequence[tuple[str, str]]) -> str:
    """Labelled values as an HTML table, a value's lines kept apart (``<br>``)."""
    cells = "".join(
        f"<tr><th style='text-align:left;vertical-align:top'>{html.escape(label)}</th>"
        f"<td style='text-align:left'>{'<br>'.join(map(html.escape, value.splitlines()))}</td></tr>"
        for label, value in rows
    )
    return f"<table>{cells}</table>"


def pairs_text(rows: Sequence[tuple[str, str]], indent: str = "  ") -> str:
    """Labelled values as aligned text; a value's further lines under its first one.
    Nothing is clipped: these are read one by one, not scanned in columns."""
    width = max((len(label) for label, _ in rows), default=0)
    lines = []
    for label, value in rows:
        first, *more = value.splitlines() or [""]
        lines.append(f"{indent}{label.ljust(width)}  {first}".rstrip())
        lines += [f"{indent}{' ' * width}  {line}" for line in more]
    return "\n".join(lines)


class Table:
    """Rows under named columns; ``items`` keeps the API objects they came from,
    so ``t = %nagel ls`` gives the data and not only its picture."""

    def __init__(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        items: Sequence[Any] = (),
        caption: str | None = None,
    ) -> None:
        self.columns = list(columns)
        self.rows = [[_text(value) for value in row] for row in rows]
        self.items = list(items)
        self.caption = caption

    def __repr__(self) -> str:
        shown = [[_clip(cell) for cell in row] for row in self.rows]
        widths = [
            max([len(name), *(len(row[i]) for row in shown)]) for i, name in enumerate(self.columns)
        ]
        lines = [
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in [self.columns, ["-" * w for w in widths], *shown]
        ]
        if not self.rows:
            lines.append("(none)")
        if self.caption:
            lines.insert(0, self.caption)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:left'>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>"
            + "".join(f"<td style='text-align:left'>{html.escape(cell)}</td>" for cell in row)
            + "</tr>"
            for row in self.rows
        )
        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        empty = "" if self.rows else f"<tr><td colspan='{len(self.columns)}'>(none)</td></tr>"
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}{empty}</tbody></table>"
