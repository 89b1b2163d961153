"""ipywidgets generated from a JSON Schema, editing one JSON value.

Every schema node becomes a ``Field``: the widgets that edit it, its JSON
value and the error line under it, so a validation error addressed by JSON
pointer lands on the widget the user has to fix. Optional properties without
a default get an "include" checkbox (ticked by any edit): a number box always
holds some number, so only the checkbox can say the property is left out.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import ipywidgets as widgets
from nagelfluh_runner.pointer import tokens

from .fields import (
    ArrayField,
    BooleanField,
    DatasetField,
    EnumField,
    Field,
    JsonField,
    NumberField,
    ObjectField,
    StringField,
)
from .schema_reading import MISSING, resolve_node, widget_kind
from .validation import validation_errors

DatasetsProvider = Callable[[], list[dict[str, Any]]]


class FieldBuilder:
    """Builds fields for one root schema and holds the datasets its pickers list."""

    def __init__(self, root: dict[str, Any], datasets_provider: DatasetsProvider | None):
        self.root = root
        self.datasets_provider = datasets_provider
        self._datasets: list[dict[str, Any]] | None = None
        self.form: SchemaForm | None = None

    def resolve(self, schema: Any) -> dict[str, Any]:
        return resolve_node(schema, self.root)

    def build(self, schema: dict[str, Any], *, title: str, optional: bool) -> Field:
        kind = widget_kind(schema)
        if kind == "dataset" and self.datasets_provider is None:
            kind = "string"
        if kind in ("number", "integer"):
            integer = kind == "integer"
            return NumberField(schema, self, integer=integer, title=title, optional=optional)
        field_class: type[Field] = {
            "string": StringField,
            "boolean": BooleanField,
            "enum": EnumField,
            "dataset": DatasetField,
            "object": ObjectField,
            "array": ArrayField,
            "json": JsonField,
        }[kind]
        return field_class(schema, self, title=title, optional=optional)

    def datasets(self, reload: bool = False) -> list[dict[str, Any]]:
        """The provider's datasets, asked once per form unless ``reload``."""
        if self._datasets is None or reload:
            self._datasets = list(self.datasets_provider()) if self.datasets_provider else []
        return self._datasets


class SchemaForm(widgets.VBox):  # type: ignore[misc]  # ipywidgets has no types
    """A form for a JSON Schema: ``.value`` is the JSON value, ``.errors()`` what is wrong.

    ``datasets_provider() -> [dataset, ...]`` (dicts with ``id``, ``name``,
    ``process``, ``version``, ``variables``) feeds every ``"format":
    "nagelfluh-dataset"`` string's picker; without one those are plain text.
    """

    def __init__(
        self,
        schema: dict[str, Any],
        value: Any = None,
        *,
        datasets_provider: DatasetsProvider | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.schema = schema
        self._builder = FieldBuilder(schema, datasets_provider)
        self._builder.form = self
        resolved = self._builder.resolve(schema)
        self.root = self._builder.build(resolved, title=resolved.get("title", ""), optional=False)
        self.root.listen(self._edited)
        self._edit_callbacks: list[Callable[[str], None]] = []
        self._setting = False
        self.children = [self.root.widget]
        if value is not None:
            self.value = value

    @property
    def value(self) -> Any:
        """The JSON value; optional fields left out are absent, not null."""
        value = self.root.get()
        return None if value is MISSING else copy.deepcopy(value)

    @value.setter
    def value(self, value: Any) -> None:
        """Show ``value``; a value the widgets cannot hold raises ValueError, changing nothing."""
        previous = self.root.get()
        self._setting = True
        try:
            self.root.set(copy.deepcopy(value))
        except ValueError:
            self.root.set(previous)
            raise
        finally:
            self._setting = False
        self._recheck(list(self.root.walk()))
        for callback in self._edit_callbacks:
            callback("")

    def errors(self) -> list[dict[str, str]]:
        """``[{"path": JSON pointer, "message"}]`` for the current value; empty when valid."""
        unparsed = [
            {"path": f.pointer, "message": m} for f in self.root.walk() for m in f.parse_errors()
        ]
        return unparsed + validation_errors(self.schema, self.value)

    def show_errors(self, errors: list[dict[str, Any]], prefix: str = "") -> list[dict[str, Any]]:
        """Show each error on its field, replacing what was shown; return those not placed.

        Only errors under ``prefix`` are placed, with it stripped: the server
        addresses parameters as ``/parameters/...``. A pointer to no field
        lands on its closest existing ancestor (an item removed since, say).
        """
        placed: dict[int, tuple[Field, list[str]]] = {id(f): (f, []) for f in self.root.walk()}
        rest = []
        for error in errors:
            path = str(error.get("path") or "")
            if prefix and path != prefix and not path.startswith(f"{prefix}/"):
                rest.append(error)
                continue
            field = self.nearest(path[len(prefix) :])
            placed[id(field)][1].append(str(error.get("message", "")))
        for field, messages in placed.values():
            field.show(messages)
        return rest

    def field(self, pointer: str) -> Field:
        """The field at ``pointer``; KeyError if the form has none there."""
        field = self.nearest(pointer)
        if field.pointer != pointer:
            raise KeyError(pointer)
        return field

    def nearest(self, pointer: str) -> Field:
        """The field at ``pointer``, or its closest ancestor that exists."""
        field = self.root
        try:
            path = tokens(pointer)
        except ValueError:
            return field
        for token in path:
            child = field.child(token)
            if child is None:
                break
            field = child
        return field

    def fields(self) -> Iterator[Field]:
        return self.root.walk()

    def observe_edits(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(pointer)`` after every edit (``""`` when ``.value`` is set)."""
        self._edit_callbacks.append(callback)

    def reload_datasets(self) -> None:
        """Ask the provider again, e.g. for the outputs of a run that just ended."""
        datasets = self._builder.datasets(reload=True)
        for field in self.root.walk():
            if isinstance(field, DatasetField):
                field.set_datasets(datasets)

    def _edited(self, source: Field) -> None:
        if self._setting:
            return
        chain = [source]
        while chain[-1].parent is not None:
            chain.append(chain[-1].parent)
        self._recheck(chain)
        for callback in self._edit_callbacks:
            callback(source.pointer)

    def _recheck(self, fields: list[Field]) -> None:
        """Errors shown stay until their field is edited; then only what still applies stays."""
        showing = [f for f in fields if f.messages]
        if not showing:
            return
        current = self.errors()
        for field in showing:
            field.show([e["message"] for e in current if self.nearest(e["path"]) is field])
