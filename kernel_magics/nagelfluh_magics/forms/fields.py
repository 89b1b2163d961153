"""The fields of a schema form: one class per kind of schema node (string, number,
boolean, enum, dataset picker, raw JSON, object, array), each holding its widgets, its
JSON value and the errors shown under it."""

from __future__ import annotations

import copy
import html
import json
import math
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
from nagelfluh_runner.pointer import escape

from .schema_reading import (
    MISSING,
    dataset_label,
    initial_number,
    is_number,
    number_bounds,
    same_json,
)

if TYPE_CHECKING:
    from .schema_widgets import FieldBuilder

LONG_TEXT = 256  # a string allowed to be longer than this gets a Textarea
LABEL_WIDTH = "14em"
ERROR_COLOR = "#c62828"


class Field:
    """One schema node: the widgets editing it, its JSON value, the errors shown under it."""

    # Fields whose widget can show "no value" need no include checkbox.
    can_be_empty = False

    def __init__(
        self, schema: dict[str, Any], builder: FieldBuilder, *, title: str, optional: bool
    ):
        self.schema = schema
        self.builder = builder
        self.parent: Field | None = None
        self.token = ""
        self.messages: list[str] = []
        self._listeners: list[Callable[[Field], None]] = []
        self._ticking = False
        description = schema.get("description") or ""
        self.include = (
            widgets.Checkbox(
                value=False,
                indent=False,
                tooltip="Include this optional field",
                layout=widgets.Layout(width="1.8em"),
            )
            if optional and "default" not in schema and not self.can_be_empty
            else None
        )
        if self.include is not None:
            self.include.observe(self._include_toggled, "value")
        self.label = widgets.Label(
            title, tooltip=description or None, layout=widgets.Layout(width=LABEL_WIDTH)
        )
        if not title:
            self.label.layout.display = "none"
        self.help = widgets.HTML(
            f'<small style="color:#666">{html.escape(description)}</small>' if description else ""
        )
        if not description:
            self.help.layout.display = "none"
        self.error = widgets.HTML(layout=widgets.Layout(display="none"))
        self.widget = widgets.VBox()

    def _frame(self, head: list[widgets.Widget], body: Iterable[widgets.Widget] = ()) -> None:
        """Lay the field out: [include] label controls / help / error line / body."""
        include = [self.include] if self.include is not None else []
        row = widgets.HBox([*include, self.label, *head])
        self.widget.children = [row, self.help, self.error, *body]

    @property
    def present(self) -> bool:
        return self.include is None or self.include.value

    @property
    def pointer(self) -> str:
        return "" if self.parent is None else f"{self.parent.pointer}/{escape(self.token)}"

    def get(self) -> Any:
        """The JSON value, or MISSING when the field is left out."""
        raise NotImplementedError

    def set(self, value: Any) -> None:
        """Show ``value`` (MISSING: back to the default, left out if optional).

        Raises ValueError for a value these widgets cannot hold (a string for a
        number, a number outside a bounded box's range, an unknown enum member).
        """
        if value is MISSING:
            self._reset()
        else:
            self._assign(value)
        if self.include is not None:
            self._tick(self.include, value is not MISSING)

    def _assign(self, value: Any) -> None:
        raise NotImplementedError

    def _reset(self) -> None:
        raise NotImplementedError

    def _refuse(self, value: Any, why: str) -> ValueError:
        return ValueError(f"{self.pointer or '/'}: {value!r} {why}")

    def child(self, token: str) -> Field | None:
        return None

    def walk(self) -> Iterator[Field]:
        yield self

    def parse_errors(self) -> list[str]:
        """Errors jsonschema cannot see because the text never became a value."""
        return []

    def show(self, messages: list[str]) -> None:
        self.messages = list(messages)
        self.error.value = "<br>".join(
            f'<span style="color:{ERROR_COLOR}">&#9888; {html.escape(m)}</span>' for m in messages
        )
        self.error.layout.display = "" if messages else "none"

    def listen(self, callback: Callable[[Field], None]) -> None:
        """Call ``callback(field)`` with the edited field on every edit at or below this one."""
        self._listeners.append(callback)

    def _tick(self, include: widgets.Checkbox, value: bool) -> None:
        self._ticking = True
        try:
            include.value = value
        finally:
            self._ticking = False

    def _include_toggled(self, change: dict[str, Any]) -> None:
        if not self._ticking:
            self._notify(self)

    def _touched(self, source: Field) -> None:
        """An edit at or below this field: it is now included; tell the listeners."""
        if self.include is not None and not self.include.value:
            self._tick(self.include, True)
        self._notify(source)

    def _notify(self, source: Field) -> None:
        for listener in self._listeners:
            listener(source)

    def _adopt(self, child: Field, token: str) -> None:
        child.parent = self
        child.token = token


class ScalarField(Field):
    """A field edited by one control widget; subclasses convert between it and JSON."""

    def __init__(
        self, schema: dict[str, Any], builder: FieldBuilder, *, title: str, optional: bool
    ):
        super().__init__(schema, builder, title=title, optional=optional)
        self.control = self._make_control()
        self._initial = copy.deepcopy(schema["default"]) if "default" in schema else self._empty()
        self._reset()
        self.control.observe(lambda change: self._touched(self), "value")
        self._frame([self.control, *self._extras()])

    def _make_control(self) -> widgets.ValueWidget:
        raise NotImplementedError

    def _empty(self) -> Any:
        """The initial value of a field without a default."""
        raise NotImplementedError

    def _extras(self) -> list[widgets.Widget]:
        return []

    def _reset(self) -> None:
        self._assign(copy.deepcopy(self._initial))

    def get(self) -> Any:
        return self.control.value if self.present else MISSING


class StringField(ScalarField):
    def _make_control(self) -> widgets.ValueWidget:
        long = self.schema.get("maxLength", 0) > LONG_TEXT
        return (widgets.Textarea if long else widgets.Text)(tooltip=self.label.tooltip)

    def _empty(self) -> str:
        return ""

    def _assign(self, value: Any) -> None:
        if not isinstance(value, str):
            raise self._refuse(value, "is not a string")
        self.control.value = value


class NumberField(ScalarField):
    """FloatText or IntText; bounded boxes when both ends are bounded (they clamp typing)."""

    def __init__(
        self,
        schema: dict[str, Any],
        builder: FieldBuilder,
        *,
        title: str,
        optional: bool,
        integer: bool,
    ):
        self.integer = integer
        super().__init__(schema, builder, title=title, optional=optional)

    def _make_control(self) -> widgets.ValueWidget:
        low, high = number_bounds(self.schema)
        tooltip = self.label.tooltip
        if low is not None and high is not None:
            box = widgets.BoundedIntText if self.integer else widgets.BoundedFloatText
            low, high = (math.ceil(low), math.floor(high)) if self.integer else (low, high)
            return box(min=low, max=max(low, high), value=low, tooltip=tooltip)
        return (widgets.IntText if self.integer else widgets.FloatText)(tooltip=tooltip)

    def _empty(self) -> float:
        return initial_number(self.schema, self.integer)

    def _assign(self, value: Any) -> None:
        if not is_number(value) or not math.isfinite(value):
            raise self._refuse(value, "is not a number")
        if self.integer and not float(value).is_integer():
            raise self._refuse(value, "is not an integer")
        box = self.control
        if isinstance(box, (widgets.BoundedFloatText, widgets.BoundedIntText)) and not (
            box.min <= value <= box.max
        ):
            raise self._refuse(value, f"is outside this field's range [{box.min}, {box.max}]")
        box.value = int(value) if self.integer else float(value)


class BooleanField(ScalarField):
    def _make_control(self) -> widgets.ValueWidget:
        return widgets.Checkbox(indent=False, tooltip=self.label.tooltip)

    def _empty(self) -> bool:
        return False

    def _assign(self, value: Any) -> None:
        if not isinstance(value, bool):
            raise self._refuse(value, "is not a boolean")
        self.control.value = value


class EnumField(ScalarField):
    def _make_control(self) -> widgets.ValueWidget:
        self.choices = list(
            self.schema["enum"] if "enum" in self.schema else [self.schema["const"]]
        )
        # Options map to indexes: members may be unhashable, and True == 1 in Python.
        readable = all(isinstance(c, str) for c in self.choices)
        labels = [c if readable else json.dumps(c) for c in self.choices]
        return widgets.Dropdown(
            options=list(zip(labels, range(len(labels)), strict=True)), tooltip=self.label.tooltip
        )

    def _empty(self) -> Any:
        return self.choices[0] if self.choices else None

    def _assign(self, value: Any) -> None:
        index = next((i for i, c in enumerate(self.choices) if same_json(c, value)), None)
        if index is None:
            raise self._refuse(value, f"is not one of {self.choices}")
        self.control.value = index

    def get(self) -> Any:
        if not self.present or self.control.value is None:
            return MISSING
        return copy.deepcopy(self.choices[self.control.value])


class DatasetField(ScalarField):
    """A picker of the project's datasets; its value is the reference ``dataset:<id>``."""

    can_be_empty = True
    PLACEHOLDER = "(choose a dataset)"
    NONE = ""  # the placeholder's value: a Dropdown at None shows a blank, not the placeholder

    def _make_control(self) -> widgets.ValueWidget:
        return widgets.Dropdown(options=[(self.PLACEHOLDER, self.NONE)], tooltip=self.label.tooltip)

    def _extras(self) -> list[widgets.Widget]:
        self.reload_button = widgets.Button(
            icon="refresh",
            tooltip="Reload the project's datasets",
            layout=widgets.Layout(width="2.6em"),
        )
        self.reload_button.on_click(self._reload)
        return [self.reload_button]

    def _reload(self, button: widgets.Button) -> None:
        form = self.builder.form
        assert form is not None, "a picker's button is on a built form"
        form.reload_datasets()

    def _empty(self) -> None:
        return None

    def set_datasets(self, datasets: list[dict[str, Any]]) -> None:
        """List ``datasets``; the chosen one stays chosen even if it is no longer listed."""
        self._list(datasets, self.control.value)

    def _list(self, datasets: list[dict[str, Any]], chosen: str) -> None:
        options = [(self.PLACEHOLDER, self.NONE)]
        options += [(dataset_label(d), f"dataset:{d['id']}") for d in datasets]
        if all(value != chosen for _, value in options):
            options.append((f"{chosen} (not in the project's datasets)", chosen))
        self.control.options = options
        self.control.value = chosen

    def _assign(self, value: Any) -> None:
        if value is not None and not isinstance(value, str):
            raise self._refuse(value, "is not a dataset reference")
        self._list(self.builder.datasets(), self.NONE if value is None else value)

    def get(self) -> Any:
        return MISSING if self.control.value == self.NONE else self.control.value


class JsonField(ScalarField):
    """Raw JSON text, for schemas no dedicated widget fits (anyOf, free-form objects, ...)."""

    can_be_empty = True

    def _make_control(self) -> widgets.ValueWidget:
        return widgets.Textarea(placeholder="JSON", tooltip=self.label.tooltip)

    def _empty(self) -> Any:
        return MISSING

    def _reset(self) -> None:
        self.control.value = "" if self._initial is MISSING else json.dumps(self._initial)

    def _assign(self, value: Any) -> None:
        self.control.value = json.dumps(value)

    def _parse(self) -> Any:
        return json.loads(self.control.value) if self.control.value.strip() else MISSING

    def get(self) -> Any:
        try:
            return self._parse()
        except ValueError:
            return MISSING

    def parse_errors(self) -> list[str]:
        try:
            self._parse()
        except ValueError as error:
            return [f"not valid JSON: {error}"]
        return []


class ObjectField(Field):
    """A titled sub-box of one field per property; unknown properties pass through."""

    def __init__(
        self, schema: dict[str, Any], builder: FieldBuilder, *, title: str, optional: bool
    ):
        super().__init__(schema, builder, title=title, optional=optional)
        self.label.style.font_weight = "bold"
        required = set(schema.get("required", []))
        self.fields: dict[str, Field] = {}
        for name, subschema in schema.get("properties", {}).items():
            resolved = builder.resolve(subschema)
            field = builder.build(
                resolved, title=resolved.get("title") or name, optional=name not in required
            )
            self._adopt(field, name)
            field.listen(self._touched)
            self.fields[name] = field
        self._extra: dict[str, Any] = {}
        body = widgets.VBox([f.widget for f in self.fields.values()])
        if title:
            body.layout = widgets.Layout(margin="0 0 0 1em", padding="0 0 0 .6em")
            body.layout.border_left = "2px solid #e0e0e0"
        self._frame([], [body])
        if "default" in schema:
            self._reset()

    def get(self) -> Any:
        if not self.present:
            return MISSING
        value = {name: f.get() for name, f in self.fields.items()}
        return {**{k: v for k, v in value.items() if v is not MISSING}, **self._extra}

    def _assign(self, value: Any) -> None:
        if not isinstance(value, dict):
            raise self._refuse(value, "is not an object")
        unknown = {k: v for k, v in value.items() if k not in self.fields}
        if unknown and self.schema.get("additionalProperties") is False:
            raise self._refuse(sorted(unknown), "are not properties of this object")
        self._extra = copy.deepcopy(unknown)
        for name, field in self.fields.items():
            field.set(value.get(name, MISSING))

    def _reset(self) -> None:
        self._assign(copy.deepcopy(self.schema.get("default", {})))

    def child(self, token: str) -> Field | None:
        return self.fields.get(token)

    def walk(self) -> Iterator[Field]:
        yield self
        for field in self.fields.values():
            yield from field.walk()


class ArrayField(Field):
    """A list editor: one item field per row with a remove button, and an Add button.

    Add is disabled at ``maxItems`` and remove at ``minItems``, so editing keeps
    the length valid; a value set from code may break either, and is flagged.
    """

    def __init__(
        self, schema: dict[str, Any], builder: FieldBuilder, *, title: str, optional: bool
    ):
        super().__init__(schema, builder, title=title, optional=optional)
        self.label.style.font_weight = "bold"
        self.item_schema = builder.resolve(schema["items"])
        self.items: list[Field] = []
        self._removers: list[widgets.Button] = []
        self.rows = widgets.VBox(layout=widgets.Layout(margin="0 0 0 1em", padding="0 0 0 .6em"))
        self.rows.layout.border_left = "2px solid #e0e0e0"
        self.add_button = widgets.Button(
            description="Add", icon="plus", tooltip=f"Add an item to {title or 'the list'}"
        )
        self.add_button.on_click(lambda button: self.add())
        self._frame([], [self.rows, self.add_button])
        self._reset()

    def add(self, value: Any = MISSING) -> Field:
        """Append an item (at the item schema's defaults unless ``value`` is given)."""
        item = self._append(value)
        self._sync()
        self._touched(self)
        return item

    def _append(self, value: Any) -> Field:
        item = self.builder.build(self.item_schema, title="#", optional=False)
        self._adopt(item, str(len(self.items)))
        item.set(value)
        item.listen(self._touched)  # only now: filling a new item is no edit
        remove = widgets.Button(
            icon="trash", tooltip="Remove this item", layout=widgets.Layout(width="2.6em")
        )
        remove.on_click(lambda button: self.remove(self.items.index(item)))
        self.items.append(item)
        self._removers.append(remove)
        return item

    def remove(self, index: int) -> None:
        del self.items[index], self._removers[index]
        self._sync()
        self._touched(self)

    def _sync(self) -> None:
        """Renumber the items and enable the buttons the length bounds allow."""
        for index, item in enumerate(self.items):
            item.token = str(index)
            item.label.value = f"#{index + 1}"
        self.rows.children = [
            widgets.HBox([item.widget, remove])
            for item, remove in zip(self.items, self._removers, strict=True)
        ]
        count = len(self.items)
        self.add_button.disabled = count >= self.schema.get("maxItems", math.inf)
        for remove in self._removers:
            remove.disabled = count <= self.schema.get("minItems", 0)

    def get(self) -> Any:
        if not self.present:
            return MISSING
        values = [item.get() for item in self.items]
        return [None if v is MISSING else v for v in values]

    def _assign(self, value: Any) -> None:
        if not isinstance(value, list):
            raise self._refuse(value, "is not an array")
        self.items, self._removers = [], []
        for item in value:
            self._append(copy.deepcopy(item))
        self._sync()

    def _reset(self) -> None:
        default = self.schema.get("default")
        self._assign(default if default is not None else [MISSING] * self.schema.get("minItems", 0))

    def child(self, token: str) -> Field | None:
        return self.items[int(token)] if token.isdigit() and int(token) < len(self.items) else None

    def walk(self) -> Iterator[Field]:
        yield self
        for item in self.items:
            yield from item.walk()
