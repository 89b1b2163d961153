"""The JSON Schema of a notebook's parameters, read from its ``parameters`` cell.

A notebook becomes a process type without packaging: the cell tagged ``parameters``
(papermill's convention) already says, in Python, what the parameters are and what
their defaults are. This module turns that cell into a draft 2020-12 object schema in
the house style of every process type (each property with a title, a description and
a default; ``additionalProperties: false``), so the server, forms and runner treat a
notebook type like any other. The cell is parsed with :mod:`ast`, never executed: it
may come from anyone, and the server must not run it. It lives in the runner (no
Jupyter, no nbformat) so that the server, the runner and the kernel all share it.

The rules, made precise:

**Statements.** The cell holds assignments of one name each (``x = ...`` or
``x: T = ...`` or ``x: T``), imports (ignored: ``from nagelfluh_runner import
InputDataset`` is how an annotation's name exists when the notebook runs), ``pass``,
string statements (docstrings, below) and comments. IPython lines starting with ``%``
or ``!`` are ignored. Anything else (a call, an ``if``, ``a, b = 1, 2``, ``a = b = 1``,
``x += 1``) is an error, as is a name assigned twice. Properties keep the cell's order.

**Values are literals.** A value is evaluated without running anything: numbers,
strings, ``True``/``False``/``None``, lists, tuples (arrays) and dicts with string keys
(objects) of literals, a sign on a number (``-1``) and arithmetic between numbers
(``60 * 60``, ``1 / 3``). ``f()``, names, f-strings, sets, bytes, complex numbers and
non-finite numbers are errors. The value is the property's ``default``.

**Types.** Without an annotation the type comes from the value: ``bool`` → boolean,
``int`` → integer, ``float`` → number, ``str`` → string, ``None`` → any type; a list
→ array, with ``items`` when every element has the same schema (integers and floats
together are numbers); a dict → object, with ``additionalProperties`` when every value
has the same schema. An annotation (or a PEP 484 ``# type: T`` comment, not both)
gives the type instead: ``int``, ``float`` (an integer default becomes a float:
``x: float = 1`` has default 1.0), ``str``, ``bool``, ``list``/``List``/``tuple``/
``Sequence`` (``list[float]``, ``tuple[int, ...]``), ``dict``/``Dict``/``Mapping``
(``dict[str, int]``), ``Optional[T]``, ``T | None``, ``Union[...]`` of scalars (a
type list), ``Literal[...]`` (an ``enum``) and ``Any``; a string annotation (``x:
"float"``) is read as the expression it holds; dotted names (``typing.Optional``)
count by their last part. Other annotations are errors. An annotation without a value
is a required parameter, with no default. The default must fit the type (``x: int =
None`` is an error: ``Optional[int]``).

**Dataset inputs.** The annotation ``Dataset``, ``InputDataset`` or ``"dataset"``
(any case) declares a dataset input, with the schema ``dataset_parameter`` makes
(``"format": "nagelfluh-dataset"``: the server checks the ``dataset:<id>`` exists and
is the user's). ``Dataset["netcdf"]``, ``["csv"]`` or ``["zarr"]`` (``"dataset['csv']"``
as a string) says the notebook reads its arrays: ``x-nagelfluh-readable``, so the
server refuses an unreadable one at submit. A dataset input takes no default: it is
required, or ``Optional[Dataset] = None`` for an optional one (``None`` when not given).

**Comments and docstrings document.** A parameter's text is, in this order and joined
by spaces: the ``#:`` comment lines directly above its assignment (Sphinx's
convention: plain ``#`` lines above are left alone, they are usually section
headings), the trailing comments on its first and last line (papermill's "help"), and
a string statement right after it (an attribute docstring, plain text). Each comment
is cut into clauses at ``;`` and ``#``; a clause that is a directive is taken out of
the text:

- ``type: T`` a PEP 484 type comment (``type: ignore`` is dropped);
- ``range: LOW..HIGH`` inclusive bounds, either end may be left out (``range: 0..``);
- ``0 <= x < 100``, ``x > 0``, ``x <= 1`` ... a chained comparison of the parameter's
  own name with numbers (another name is an error): ``<=``/``>=`` give ``minimum``/
  ``maximum``, ``<``/``>`` the exclusive ones;
- ``choices: a, b, c`` an ``enum``: Python literals if the list is one (``1, 2``,
  ``"a", "b"``), else the comma-separated words as strings (always strings for a
  string parameter).

Bounds and choices of an array parameter apply to its items. The remaining text is the
description; if it starts with ``Title: ...`` (a capital letter, at most 40 characters
without ``.:;!?``, then a colon and a space) that part is the title. Otherwise the
title is the name made words (``sample_rate`` → "Sample rate", ``maxIter`` → "Max
iter", acronyms kept: ``FFT_size`` → "FFT size"), and a parameter with no text gets a
description naming it. A string statement before any assignment (the cell's
docstring) is the schema's ``description``.

**Overrides.** ``metadata["nagelfluh"]["schema"]`` of the notebook, a partial schema,
is applied to the inferred one as a JSON Merge Patch (RFC 7396): objects merge key by
key, recursively (so ``{"properties": {"x": {"maximum": 10}}}`` adds one keyword to
``x``), any other value replaces, and ``null`` removes the key (``{"properties":
{"x": null}}`` hides ``x``, which keeps the cell's value; it leaves ``required`` too).
Arrays such as ``required`` and ``enum`` are replaced whole. An override may only
name properties the cell assigns. The result must be a valid draft 2020-12 schema,
every property must keep a title and a description, every name in ``required`` must
be a property, and every default must validate against its property: each failure is
a :class:`NotebookSchemaError` naming the property.
"""

from __future__ import annotations

import ast
import io
import math
import re
import tokenize
from dataclasses import dataclass, field

from nagelfluh_runner.pointer import join
from nagelfluh_runner.protocol import DATASET_FORMAT
from nagelfluh_runner.sdk import dataset_parameter, object_schema

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PARAMETERS_TAG = "parameters"
# The variable a run sets to its output folder (notebook_run): no parameter may take it.
OUTPUT_DIR_VARIABLE = "nagelfluh_output_dir"
# Where a notebook's metadata holds its schema override.
METADATA_KEY = "nagelfluh"
DATASET_NAMES = frozenset({"dataset", "inputdataset"})
# Formats a dataset annotation may name: all read as arrays, so the server's
# readability check applies.
READABLE_FORMATS = frozenset({"netcdf", "csv", "zarr"})

_SCALARS = {"int": "integer", "float": "number", "str": "string", "bool": "boolean"}
_ARRAYS = frozenset({"list", "List", "tuple", "Tuple", "Sequence"})
_OBJECTS = frozenset({"dict", "Dict", "Mapping"})
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_RANGE = re.compile(rf"range:\s*({_NUMBER})?\s*\.\.\s*({_NUMBER})?", re.IGNORECASE)
_TITLED = re.compile(r"([A-Z][^.:;!?]{0,39}):(?:\s+(.*))?", re.DOTALL)
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
# Bounds of a comparison ``LOW op NAME`` (first) or ``NAME op HIGH`` (second).
_BOUND_LEFT = {"<=": "minimum", "<": "exclusiveMinimum", ">=": "maximum", ">": "exclusiveMaximum"}
_BOUND_RIGHT = {"<=": "maximum", "<": "exclusiveMaximum", ">=": "minimum", ">": "exclusiveMinimum"}
_MAX_EXPONENT = 1000


class NotebookSchemaError(ValueError):
    """A parameters cell (or its override) that gives no schema: the line (of the cell,
    counting from 1; None for the override or the notebook) and what is wrong there."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line is not None else message)
        self.message = message
        self.line = line


@dataclass
class _Parameter:
    name: str
    line: int
    schema: dict[str, Any]
    has_default: bool = False
    default: Any = None
    texts: list[str] = field(default_factory=list)


def parameters_cell(notebook: dict[str, Any]) -> str | None:
    """The source of the first code cell tagged ``parameters`` of an nbformat-4 notebook
    (its JSON as a dict), or None if no cell is."""
    if notebook.get("nbformat") != 4:
        raise NotebookSchemaError(
            f"not an nbformat 4 notebook (nbformat {notebook.get('nbformat')!r})"
        )
    for cell in notebook.get("cells") or ():
        tags = (cell.get("metadata") or {}).get("tags") or ()
        if cell.get("cell_type") == "code" and PARAMETERS_TAG in tags:
            source = cell.get("source", "")
            return source if isinstance(source, str) else "".join(source)
    return None


def notebook_schema(notebook: dict[str, Any]) -> dict[str, Any]:
    """The parameters schema of a notebook: its parameters cell's, with the override of
    its metadata applied. A notebook without a parameters cell is an error, as a user
    who forgot the tag would otherwise get a type that takes no parameters."""
    source = parameters_cell(notebook)
    if source is None:
        raise NotebookSchemaError(
            f"no code cell is tagged {PARAMETERS_TAG!r}: tag the cell that assigns the "
            "parameters (papermill's convention), even an empty one"
        )
    settings = (notebook.get("metadata") or {}).get(METADATA_KEY) or {}
    if not isinstance(settings, dict):
        raise NotebookSchemaError(f"metadata[{METADATA_KEY!r}] is not an object")
    return infer_schema(source, settings.get("schema"))


def infer_schema(source: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The draft 2020-12 schema of the parameters a parameters cell's ``source`` assigns,
    with ``overrides`` (a partial schema) merged over it: see the module's docstring."""
    lines = source.splitlines()
    code = "\n".join("" if ln.lstrip().startswith(("%", "!")) else ln for ln in lines)
    try:
        tree = ast.parse(code)
    except SyntaxError as error:
        raise NotebookSchemaError(f"syntax error: {error.msg}", error.lineno) from None
    parameters, docstring = _parameters(tree, lines, _comments(code))
    properties = {p.name: _property(p) for p in parameters}
    required = [p.name for p in parameters if not p.has_default]
    schema = object_schema(properties, required)
    if docstring:
        schema["description"] = docstring
    if overrides is not None:
        schema = _merge_overrides(schema, overrides)
    _check(schema, {p.name: p.line for p in parameters})
    return schema


def _comments(source: str) -> dict[int, tuple[str, bool]]:
    """Line -> (the comment's text after ``#``, whether it is the whole line)."""
    found: dict[int, tuple[str, bool]] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            whole = not token.line[: token.start[1]].strip()
            found[token.start[0]] = (token.string[1:], whole)
    return found


def _parameters(
    tree: ast.Module, lines: list[str], comments: dict[int, tuple[str, bool]]
) -> tuple[list[_Parameter], str | None]:
    parameters: list[_Parameter] = []
    seen: dict[str, int] = {}
    docstring: str | None = None
    previous: ast.stmt | None = None  # an attribute docstring follows its assignment
    for statement in tree.body:
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            if not isinstance(statement.value.value, str):
                raise NotebookSchemaError("a lone value is no parameter", statement.lineno)
            text = _clean(statement.value.value)
            if not parameters and docstring is None:
                docstring = text
            elif parameters and isinstance(previous, (ast.Assign, ast.AnnAssign)):
                parameters[-1].texts.append(text)
        elif isinstance(statement, (ast.Assign, ast.AnnAssign)):
            parameter = _assignment(statement, comments)
            if parameter.name == OUTPUT_DIR_VARIABLE:
                raise NotebookSchemaError(
                    f"{OUTPUT_DIR_VARIABLE!r} is set by the run to its output folder: "
                    "it cannot be a parameter",
                    statement.lineno,
                )
            if parameter.name in seen:
                raise NotebookSchemaError(
                    f"{parameter.name!r} is assigned twice (first on line "
                    f"{seen[parameter.name]}): a parameter has one default",
                    statement.lineno,
                )
            seen[parameter.name] = statement.lineno
            parameters.append(parameter)
        elif not isinstance(statement, (ast.Import, ast.ImportFrom, ast.Pass)):
            raise NotebookSchemaError(
                f"{_excerpt(lines, statement)!r} is not an assignment: the parameters cell "
                "holds only assignments of literal defaults (and imports)",
                statement.lineno,
            )
        previous = statement
    return parameters, docstring


def _clean(text: str) -> str:
    return " ".join(text.split())


def _excerpt(lines: list[str], node: ast.stmt) -> str:
    line = lines[node.lineno - 1].strip()
    return line if len(line) <= 60 else line[:57] + "..."


def _assignment(
    statement: ast.Assign | ast.AnnAssign, comments: dict[int, tuple[str, bool]]
) -> _Parameter:
    line = statement.lineno
    if isinstance(statement, ast.Assign):
        if len(statement.targets) != 1 or not isinstance(statement.targets[0], ast.Name):
            raise NotebookSchemaError("assign one name per statement: each is a parameter", line)
        name = statement.targets[0].id
        annotation: ast.expr | None = None
    else:
        if not isinstance(statement.target, ast.Name):
            raise NotebookSchemaError("assign one name per statement: each is a parameter", line)
        name = statement.target.id
        annotation = statement.annotation
    texts, directives = _documentation(statement, name, comments)
    type_comment = directives.pop("type", None)
    if type_comment is not None:
        if annotation is not None:
            raise NotebookSchemaError(
                f"{name!r} has both an annotation and a '# type:' comment: keep one", line
            )
        annotation = _type_comment(type_comment, line)
    dataset, schema = (False, {}) if annotation is None else _annotation(annotation, line)
    parameter = _Parameter(name, line, schema, texts=texts)
    if statement.value is not None:
        parameter.has_default = True
        parameter.default = _evaluate(statement.value, name)
        if annotation is None:
            parameter.schema = _value_schema(parameter.default)
        elif dataset and parameter.default is not None:
            raise NotebookSchemaError(
                f"dataset input {name!r} takes no default: leave it without a value, or "
                "annotate it Optional[Dataset] = None",
                line,
            )
        else:
            parameter.default = _as_typed(parameter.default, parameter.schema)
    _constrain(parameter, directives)
    return parameter


def _type_comment(text: str, line: int) -> ast.expr:
    try:
        return ast.parse(text, mode="eval").body
    except SyntaxError:
        raise NotebookSchemaError(f"'# type: {text}' is no type", line) from None


# Documentation: texts and directives from comments and docstrings.


def _documentation(
    statement: ast.stmt, name: str, comments: dict[int, tuple[str, bool]]
) -> tuple[list[str], dict[str, Any]]:
    first, last = statement.lineno, statement.end_lineno or statement.lineno
    above: list[str] = []
    line = first - 1
    while line in comments and comments[line][1] and comments[line][0].startswith(":"):
        above.insert(0, comments[line][0][1:])
        line -= 1
    trailing = [
        comments[n][0] for n in sorted({first, last}) if n in comments and not comments[n][1]
    ]
    texts: list[str] = []
    directives: dict[str, Any] = {}
    for comment in [" ".join(above), *trailing] if above else trailing:
        text = _directives(comment, directives, first, name)
        if text:
            texts.append(text)
    return texts, directives


def _directives(comment: str, found: dict[str, Any], line: int, name: str) -> str:
    """``comment`` without its directive clauses, which go into ``found``."""
    pieces = re.split(r"([;#])", comment)
    kept: list[str] = []
    for index in range(0, len(pieces), 2):
        clause = pieces[index].strip()
        if clause and _directive(clause, found, line, name):
            continue
        if kept and index > 0:
            kept.append(pieces[index - 1])
        kept.append(pieces[index])
    return _clean("".join(kept)).strip(" ;#")


def _directive(clause: str, found: dict[str, Any], line: int, name: str) -> bool:
    key, colon, value = clause.partition(":")
    keyword = key.strip().lower() if colon else ""
    if keyword == "type":
        if not value.strip().startswith("ignore"):
            found["type"] = value.strip()
        return True
    if keyword == "choices":
        found["choices"] = value.strip()
        return True
    ranged = _RANGE.fullmatch(clause)
    if ranged:
        low, high = ranged.groups()
        bounds = found.setdefault("bounds", {})
        if low is not None:
            bounds["minimum"] = _number(low)
        if high is not None:
            bounds["maximum"] = _number(high)
        return True
    compared = _comparison(clause, line, name)
    if compared is None:
        return False
    found.setdefault("bounds", {}).update(compared)
    return True


def _comparison(clause: str, line: int, name: str) -> dict[str, int | float] | None:
    """The bounds a chained comparison like ``0 <= x < 1`` sets, or None if it is none."""
    pieces = [piece.strip() for piece in re.split(r"(<=|>=|<|>)", clause)]
    operands, operators = pieces[::2], pieces[1::2]
    names = [o for o in operands if not re.fullmatch(_NUMBER, o)]
    if not operators or len(names) != 1 or not re.fullmatch(r"[A-Za-z_]\w*", names[0]):
        return None
    if names[0] != name:
        raise NotebookSchemaError(
            f"the range {clause!r} compares {names[0]!r}, not the parameter {name!r}", line
        )
    bounds: dict[str, int | float] = {}
    for left, operator, right in zip(operands[:-1], operators, operands[1:], strict=True):
        if left == name:
            bounds[_BOUND_RIGHT[operator]] = _number(right)
        elif right == name:
            bounds[_BOUND_LEFT[operator]] = _number(left)
        else:
            return None
    return bounds


def _number(text: str) -> int | float:
    return float(text) if any(c in text for c in ".eE") else int(text)


def _constrain(parameter: _Parameter, directives: dict[str, Any]) -> None:
    """Apply range and choices directives: to the items of an array, else the property."""
    schema = parameter.schema
    kinds = _types(schema)
    target = (
        schema["items"] if "array" in kinds and isinstance(schema.get("items"), dict) else schema
    )
    target_kinds = _types(target)
    if "bounds" in directives:
        if not target_kinds & {"number", "integer"}:
            raise NotebookSchemaError(
                f"{parameter.name!r} has a range but is not a number", parameter.line
            )
        target.update(directives["bounds"])
    if "choices" in directives:
        enum = _choices(directives["choices"], "string" in target_kinds)
        untyped_none = not target_kinds and target is schema and parameter.default is None
        if None not in enum and (
            "null" in target_kinds or (untyped_none and parameter.has_default)
        ):
            enum.append(None)
        target["enum"] = enum


def _types(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type", [])
    return {kind} if isinstance(kind, str) else set(kind)


def _choices(text: str, strings: bool) -> list[Any]:
    words = [word.strip() for word in text.split(",") if word.strip()]
    try:
        values = ast.literal_eval(f"[{text}]")
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return words
    scalars = (str, int, float, bool, type(None))
    if not all(isinstance(v, str if strings else scalars) for v in values):
        return words
    return list(values)


# Values: literals only, evaluated without running the cell.


def _not_literal(node: ast.expr, name: str, why: str = "") -> NotebookSchemaError:
    shown = ast.unparse(node)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return NotebookSchemaError(
        f"the value of {name!r} ({shown}) is not a literal{why}: a default is a number, a "
        "string, True, False, None, or a list or dict of them; the cell is never run",
        node.lineno,
    )


def _evaluate(node: ast.expr, name: str) -> Any:
    if isinstance(node, ast.Constant):
        value = node.value
        if value is None or isinstance(value, (bool, int, str)):
            return value
        if isinstance(value, float):
            if not math.isfinite(value):
                raise _not_literal(node, name, " (JSON has no infinite numbers)")
            return value
        raise _not_literal(node, name)
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_evaluate(item, name) for item in node.elts]
    if isinstance(node, ast.Dict):
        result: dict[str, Any] = {}
        for key, item in zip(node.keys, node.values, strict=True):
            if key is None or not isinstance(k := _evaluate(key, name), str):
                raise _not_literal(node, name, " (an object's keys are strings)")
            result[k] = _evaluate(item, name)
        return result
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _numeric(node.operand, name)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        return _arithmetic(node, name)
    raise _not_literal(node, name)


def _numeric(node: ast.expr, name: str) -> int | float:
    value = _evaluate(node, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _not_literal(node, name, " (arithmetic is on numbers only)")
    return value


def _arithmetic(node: ast.BinOp, name: str) -> int | float:
    left, right = _numeric(node.left, name), _numeric(node.right, name)
    try:
        if isinstance(node.op, ast.Add):
            result: int | float = left + right
        elif isinstance(node.op, ast.Sub):
            result = left - right
        elif isinstance(node.op, ast.Mult):
            result = left * right
        elif isinstance(node.op, ast.Div):
            result = left / right
        elif isinstance(node.op, ast.FloorDiv):
            result = left // right
        elif isinstance(node.op, ast.Mod):
            result = left % right
        elif isinstance(node.op, ast.Pow) and abs(right) <= _MAX_EXPONENT and abs(left) < 10**6:
            result = left**right
        else:
            raise _not_literal(node, name)
    except (ZeroDivisionError, OverflowError):
        raise _not_literal(node, name, " (it has no finite value)") from None
    if isinstance(result, complex) or not math.isfinite(result):
        raise _not_literal(node, name, " (it has no finite value)")
    return result


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _value_schema(value: Any) -> dict[str, Any]:
    """The schema a default alone implies; ``None`` implies nothing."""
    if value is None:
        return {}
    schema: dict[str, Any] = {"type": _json_type(value)}
    members = (
        value if isinstance(value, list) else value.values() if isinstance(value, dict) else None
    )
    if members:
        common = _common([_value_schema(member) for member in members])
        if common is not None:
            schema["items" if isinstance(value, list) else "additionalProperties"] = common
    return schema


def _common(schemas: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The one schema all members share (integers widen to numbers), or None."""
    if all(s == {"type": "integer"} or s == {"type": "number"} for s in schemas):
        return {"type": "number"} if {"type": "number"} in schemas else {"type": "integer"}
    first = schemas[0]
    return first if first and all(s == first for s in schemas) else None


def _as_typed(value: Any, schema: dict[str, Any]) -> Any:
    """``value`` with integers made floats where the schema says number (``x: float = 1``)."""
    kinds = _types(schema)
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value) if "number" in kinds and "integer" not in kinds else value
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_as_typed(item, schema["items"]) for item in value]
    if isinstance(value, dict) and isinstance(schema.get("additionalProperties"), dict):
        return {k: _as_typed(item, schema["additionalProperties"]) for k, item in value.items()}
    return value


# Annotations.


def _annotation(node: ast.expr, line: int) -> tuple[bool, dict[str, Any]]:
    """(whether it declares a dataset, the schema it gives)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            parsed = ast.parse(node.value.strip(), mode="eval").body
        except SyntaxError:
            raise NotebookSchemaError(f"annotation {node.value!r} is no type", line) from None
        return _annotation(parsed, line)
    if isinstance(node, ast.Constant) and node.value is None:
        return False, {"type": "null"}
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _union([node.left, node.right], line)
    base, arguments = node, None
    if isinstance(node, ast.Subscript):
        base = node.value
        inner = node.slice
        arguments = list(inner.elts) if isinstance(inner, ast.Tuple) else [inner]
    name = _dotted_last(base)
    if name is None:
        raise _unsupported(node, line)
    if name.lower() in DATASET_NAMES:
        return True, _dataset(arguments, line)
    if name in _SCALARS and arguments is None:
        return False, {"type": _SCALARS[name]}
    if name == "Any" and arguments is None:
        return False, {}
    if name == "NoneType" and arguments is None:
        return False, {"type": "null"}
    if name in _ARRAYS:
        return False, _array(name, arguments, node, line)
    if name in _OBJECTS:
        return False, _object(arguments, node, line)
    if name == "Optional" and arguments and len(arguments) == 1:
        return _union([arguments[0], ast.Constant(None)], line)
    if name == "Union" and arguments:
        return _union(arguments, line)
    if name == "Literal" and arguments:
        return False, _enum(arguments, line)
    raise _unsupported(node, line)


def _dotted_last(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _unsupported(node: ast.expr, line: int) -> NotebookSchemaError:
    return NotebookSchemaError(
        f"annotation {ast.unparse(node)!r} is not one this reads: int, float, str, bool, "
        "list[...], dict[str, ...], Optional[...], Literal[...], Any or Dataset",
        line,
    )


def _dataset(arguments: list[ast.expr] | None, line: int) -> dict[str, Any]:
    readable = False
    if arguments is not None:
        named = arguments[0] if len(arguments) == 1 else None
        if not (isinstance(named, ast.Constant) and isinstance(named.value, str)):
            raise NotebookSchemaError(
                "a dataset annotation names one format: Dataset['netcdf']", line
            )
        if named.value.lower() not in READABLE_FORMATS:
            known = ", ".join(sorted(READABLE_FORMATS))
            raise NotebookSchemaError(
                f"dataset format {named.value!r} is not one the runner reads ({known})", line
            )
        readable = True
    schema = dataset_parameter("", "", readable=readable)
    del schema["title"], schema["description"]
    return schema


def _member(node: ast.expr, line: int) -> dict[str, Any]:
    return _annotation(node, line)[1]


def _array(
    name: str, arguments: list[ast.expr] | None, node: ast.expr, line: int
) -> dict[str, Any]:
    if arguments is None:
        return {"type": "array"}
    if name in ("tuple", "Tuple") and len(arguments) == 2 and _is_ellipsis(arguments[1]):
        arguments = arguments[:1]
    if len(arguments) != 1:
        raise _unsupported(node, line)
    return {"type": "array", "items": _member(arguments[0], line)}


def _is_ellipsis(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is Ellipsis


def _object(arguments: list[ast.expr] | None, node: ast.expr, line: int) -> dict[str, Any]:
    if arguments is None:
        return {"type": "object"}
    if len(arguments) != 2 or _member(arguments[0], line) != {"type": "string"}:
        raise _unsupported(node, line)
    return {"type": "object", "additionalProperties": _member(arguments[1], line)}


def _enum(arguments: list[ast.expr], line: int) -> dict[str, Any]:
    try:
        values = [_evaluate(argument, "Literal") for argument in arguments]
    except NotebookSchemaError:
        shown = ", ".join(ast.unparse(argument) for argument in arguments)
        raise NotebookSchemaError(f"Literal[{shown}] holds other than literals", line) from None
    kinds = sorted({_json_type(value) for value in values})
    return {"type": kinds[0] if len(kinds) == 1 else kinds, "enum": values}


def _union(members: list[ast.expr], line: int) -> tuple[bool, dict[str, Any]]:
    """``A | B | None``: the members' types as a list; one member beside None keeps its
    other keywords (``Optional[list[int]]``, ``Optional[Dataset]``)."""
    flattened: list[ast.expr] = []
    for member in members:
        if isinstance(member, ast.BinOp) and isinstance(member.op, ast.BitOr):
            flattened += [member.left, member.right]
        else:
            flattened.append(member)
    parts = [_annotation(member, line) for member in flattened]
    dataset = any(is_dataset for is_dataset, _ in parts)
    schemas = [schema for _, schema in parts]
    nullable = {"type": "null"} in schemas
    rest = [schema for schema in schemas if schema != {"type": "null"}]
    if any(s == {} for s in rest):
        return dataset, {}
    if len(rest) == 1:
        merged = dict(rest[0])
        if nullable:
            merged["type"] = sorted(_types(merged) | {"null"}, key=_type_order)
            if "enum" in merged:
                merged["enum"] = [*merged["enum"], None]
        return dataset, merged
    if dataset or any(set(s) != {"type"} for s in rest):
        shown = " | ".join(ast.unparse(member) for member in flattened)
        raise NotebookSchemaError(
            f"the union {shown} is more than this reads: a union of plain types "
            "(int | str | None) or of one type and None",
            line,
        )
    kinds = {"null"} if nullable else set()
    for schema in rest:
        kinds |= _types(schema)
    return False, {"type": sorted(kinds, key=_type_order)}


def _type_order(kind: str) -> tuple[bool, str]:
    return kind == "null", kind


# The property, overrides and the final checks.


def title_of(name: str) -> str:
    words = [w if len(w) > 1 and w.isupper() else w.lower() for w in _WORDS.findall(name)]
    if not words:
        return name
    return " ".join([words[0][:1].upper() + words[0][1:], *words[1:]])


def type_name_of(stem: str) -> str:
    """A notebook file's stem made a process type's name (``My analysis`` → ``My-analysis``):
    runs of characters other than letters, digits, ``.``, ``_`` and ``-`` become one ``-``,
    and the name starts with a letter or digit (empty if nothing is left). The server names a
    notebook registered by path so, and the kernel side one registered from a file."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", stem).lstrip("._-")[:255]


def _property(parameter: _Parameter) -> dict[str, Any]:
    text = " ".join(parameter.texts)
    title = title_of(parameter.name)
    titled = _TITLED.fullmatch(text)
    if titled:
        title, text = titled.group(1).strip(), (titled.group(2) or "").strip()
    description = text or f"{parameter.name!r} in the notebook's parameters cell."
    result: dict[str, Any] = {"title": title, "description": description, **parameter.schema}
    if parameter.has_default:
        result["default"] = parameter.default
    return result


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: ``patch`` applied to ``target``."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _merge_patch(merged.get(key), value)
    return merged


def _merge_overrides(schema: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(overrides, dict):
        raise NotebookSchemaError("the schema override is not a JSON object")
    named = overrides.get("properties") or {}
    if not isinstance(named, dict):
        raise NotebookSchemaError("the schema override's 'properties' is not an object")
    unknown = sorted(set(named) - set(schema["properties"]))
    if unknown:
        raise NotebookSchemaError(
            f"the schema override names {', '.join(map(repr, unknown))}, which the "
            "parameters cell does not assign"
        )
    merged: dict[str, Any] = _merge_patch(schema, overrides)
    hidden = [name for name, value in named.items() if value is None]
    if hidden and isinstance(merged.get("required"), list):
        merged["required"] = [name for name in merged["required"] if name not in hidden]
        if not merged["required"]:
            del merged["required"]
    return merged


def _check(schema: dict[str, Any], lines: dict[str, int]) -> None:
    """The schema is one the server accepts and the defaults fit it (``lines``: where each
    parameter is assigned, for the errors)."""
    from jsonschema import Draft202012Validator, SchemaError

    from nagelfluh_runner.validation import validate

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        where = join("", *error.absolute_path) or "/"
        raise NotebookSchemaError(f"the schema is not valid at {where}: {error.message}") from None
    properties = schema.get("properties")
    if schema.get("type") != "object" or not isinstance(properties, dict):
        raise NotebookSchemaError("the schema is not an object schema with properties")
    for name in schema.get("required", []):
        if name not in properties:
            raise NotebookSchemaError(f"required parameter {name!r} is not a property")
    loose = {**schema, "required": []}
    for name, sub in properties.items():
        if not isinstance(sub, dict):
            raise NotebookSchemaError(f"parameter {name!r}: its schema is not an object")
        for keyword in ("title", "description"):
            if not isinstance(sub.get(keyword), str) or not sub[keyword].strip():
                raise NotebookSchemaError(f"parameter {name!r} has no {keyword}")
        if "default" in sub:
            issues = validate(loose, {name: sub["default"]})
            if issues:
                hint = " (Optional[...] allows None)" if sub["default"] is None else ""
                raise NotebookSchemaError(
                    f"parameter {name!r}: its default {sub['default']!r} does not fit its "
                    f"schema: {issues[0].message}{hint}",
                    lines.get(name),
                )
        if sub.get("format") == DATASET_FORMAT and "default" in sub and sub["default"] is not None:
            raise NotebookSchemaError(f"dataset input {name!r} takes no default")
