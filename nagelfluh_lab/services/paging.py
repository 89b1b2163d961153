"""Pages of a list, newest first: ``{"items": [...], "next": CURSOR_OR_NULL}``.

Keyset pages (``id < cursor``), not offsets, so that a page costs the same at the
millionth row as at the first and rows added meanwhile neither repeat nor vanish.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session
from typing_extensions import TypedDict  # generic TypedDicts before Python 3.11

from ..errors import field_error
from . import access


class _Identified(Protocol):
    @property
    def id(self) -> int: ...


R = TypeVar("R", bound=_Identified)
Item = TypeVar("Item")


class Page(TypedDict, Generic[Item]):
    """Of the shape of the API's pages (shapes.ProcessPage, shapes.DatasetList)."""

    items: list[Item]
    next: str | None


def page_size(value: str | None, maximum: int, default: int) -> int:
    """The ``limit`` query parameter: a 400 naming it unless 1 to ``maximum``."""
    if value is None:
        return default
    size = access.natural(value, maximum)
    if not size:
        raise field_error("/limit", f"must be an integer from 1 to {maximum}")
    return size


def page(
    session: Session,
    stmt: Select[R],
    id_column: InstrumentedAttribute[int],
    cursor: str | None,
    size: int,
    serialize: Callable[[list[R]], list[Item]],
) -> Page[Item]:
    """One page of ``stmt``'s rows (the rows it selects carry ``id_column``)."""
    if cursor is not None:
        stmt = stmt.where(id_column < access.parse_id(cursor, "cursor"))
    rows = list(session.scalars(stmt.order_by(id_column.desc()).limit(size + 1)))
    more = len(rows) > size
    rows = rows[:size]
    return {"items": serialize(rows), "next": str(rows[-1].id) if more else None}
