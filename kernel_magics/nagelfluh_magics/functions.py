"""``@nagel.process_type``: a typed Python function of a notebook as a process type.

::

    import nagelfluh_magics as nagel

    @nagel.process_type
    def spectrum(signal: nagel.Dataset["netcdf"], window: int = 256) -> xr.Dataset:
        "Power spectrum of a signal."
        ...

registers ``spectrum`` as a process type of your first project (``project=``, ``name=``,
``environment=``, ``title=`` choose otherwise) and returns the function unchanged, still
callable here. How:

- **The schema** comes from the signature, through pydantic (``create_model`` of the
  parameters): type hints give types (``int``, ``float``, ``list[float]``, ``Literal``,
  ``Optional``, ``Annotated[float, Field(ge=0)]``, ...), defaults give defaults, and
  parameters without one are required. The docstring's first paragraph is the type's
  title (``title=`` wins), the rest of its prose the description, and a ``Parameters``
  section (numpy style) or ``Args:`` section (Google style) describes each parameter.
  A dataset input is annotated :class:`Dataset` (``Dataset["netcdf"]``, ``["csv"]``,
  ``["zarr"]`` when the function reads its arrays) and arrives as a local file path.
  Parameters arrive as JSON values: a ``tuple`` as a list, an ``Enum`` as its value.
- **The code** is captured as source (see :mod:`nagelfluh_magics.capture` for why not
  cloudpickle), with the imports, constants and notebook functions it uses.
- **A notebook** is generated from both and registered like any notebook
  (:meth:`Client.register`): a title cell, a ``parameters`` cell, the captured code, and
  a cell calling the function and saving what it returns into the run's output folder
  (:func:`nagelfluh_save`: an xarray Dataset or DataArray as NetCDF, a pandas DataFrame
  or Series as CSV, a numpy array as ``.npy``, a dict of those by name, None nothing).
  Its ``metadata.nagelfluh`` holds ``kind: "function"``, the function's name and a JSON
  Merge Patch over the schema the runner infers from the parameters cell, so that
  :func:`nagelfluh_runner.notebook_schema.notebook_schema` of the notebook is exactly the
  pydantic schema. The notebook is the same for the same function, so registering an
  unchanged function makes no new revision.
"""

from __future__ import annotations

import ast
import functools
import inspect
import json
import re
import typing
import warnings
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar, overload

from nagelfluh_runner.notebook_schema import (
    METADATA_KEY,
    OUTPUT_DIR_VARIABLE,
    PARAMETERS_TAG,
    READABLE_FORMATS,
    NotebookSchemaError,
    infer_schema,
    notebook_schema,
)
from nagelfluh_runner.notebook_schema import title_of as parameter_title
from nagelfluh_runner.sdk import dataset_parameter

from .capture import Captured, FunctionTypeError, capture
from .client import Client

F = TypeVar("F", bound=Callable[..., Any])
DECORATOR = "process_type"
FUNCTION_KIND = "function"
# Annotations a parameters cell can hold as they are: builtins, defined in any kernel.
_PLAIN_NAMES = frozenset({"int", "float", "str", "bool", "list", "dict", "tuple", "None"})
_NUMPY_RULE = re.compile(r"\s*-{3,}\s*")
_GOOGLE_HEADER = re.compile(r"([A-Z][A-Za-z ]*):")
_PARAMETER_SECTIONS = frozenset(
    {"parameters", "params", "args", "arguments", "keyword arguments", "other parameters"}
)
_OUTPUT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

_default_client: Client | None = None


class Dataset(str):
    """The annotation of a dataset input: ``def f(signal: Dataset["netcdf"])``.

    Its form field offers the project's datasets; the run receives the chosen dataset
    as a local file path (a ``str``). ``Dataset["netcdf"]`` (``"csv"``, ``"zarr"``) says
    the function reads its arrays, so the server refuses a dataset it could not read as
    such; plain ``Dataset`` takes any file. ``Optional[Dataset] = None`` is an optional
    input.
    """

    dataset_format: ClassVar[str | None] = None

    def __class_getitem__(cls, dataset_format: str) -> type[Dataset]:
        return _dataset_annotation(dataset_format)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.str_schema()

    @classmethod
    def __get_pydantic_json_schema__(cls, core: Any, handler: Any) -> dict[str, Any]:
        schema = dataset_parameter("", "", readable=cls.dataset_format is not None)
        del schema["title"], schema["description"]
        return schema


@functools.cache
def _dataset_annotation(dataset_format: str) -> type[Dataset]:
    named = str(dataset_format).lower()
    if named not in READABLE_FORMATS:
        known = ", ".join(repr(f) for f in sorted(READABLE_FORMATS))
        raise TypeError(f"Dataset[{dataset_format!r}]: the formats the runner reads are {known}")
    return type(f"Dataset[{named!r}]", (Dataset,), {"dataset_format": named})


# ------------------------------------------------------------------ the decorator


@overload
def process_type(function: F, /) -> F: ...


@overload
def process_type(
    *,
    name: str | None = None,
    project: int | None = None,
    environment: str | None = None,
    title: str | None = None,
    description: str | None = None,
    client: Client | None = None,
) -> Callable[[F], F]: ...


def process_type(
    function: F | None = None,
    /,
    *,
    name: str | None = None,
    project: int | None = None,
    environment: str | None = None,
    title: str | None = None,
    description: str | None = None,
    client: Client | None = None,
) -> F | Callable[[F], F]:
    """Register the decorated function as a process type (see the module's docstring)
    and print a line saying so; the function itself is returned unchanged.

    ``name`` defaults to the function's name, ``project`` to your first project,
    ``environment`` to the server's default (``bootstrap``), ``title`` and
    ``description`` to the docstring's. A function that cannot be a type raises
    :class:`FunctionTypeError` saying why; a refusal of the server, NagelfluhError.
    """

    def register(target: F) -> F:
        notebook = function_notebook(target, name=name, title=title, description=description)
        settings = notebook["metadata"][METADATA_KEY]
        registered = (client or _client()).register(
            notebook,
            project=project,
            name=settings["name"],
            title=settings["title"],
            description=settings["description"],
            environment=environment,
        )
        print(registration_text(registered))
        return target

    return register if function is None else register(function)


def _client() -> Client:
    global _default_client
    if _default_client is None:
        _default_client = Client()
    return _default_client


def registration_text(registered: dict[str, Any]) -> str:
    """One line on a registration: what was made, or that nothing changed."""
    count = len(registered.get("schema", {}).get("properties", {}))
    revision, project = registered.get("revision"), registered.get("project")
    if registered.get("created", True):
        return (
            f"Registered process type {registered['name']} (revision {revision}, project "
            f"{project}): {count} parameter{'' if count == 1 else 's'}"
        )
    return (
        f"Process type {registered['name']} (project {project}) unchanged: the content is "
        f"identical to revision {revision}"
    )


# --------------------------------------------------------------------- the schema


def function_schema(function: Callable[..., Any]) -> dict[str, Any]:
    """The JSON Schema of ``function``'s parameters, in the house style of every process
    type (each property titled and described, unknown keys refused)."""
    from pydantic import Field, create_model
    from pydantic.fields import FieldInfo
    from pydantic.json_schema import PydanticJsonSchemaWarning

    name = getattr(function, "__name__", repr(function))
    signature = inspect.signature(function)
    try:
        hints = typing.get_type_hints(function, include_extras=True)
    except Exception as error:  # a NameError, or an annotation that is no type
        raise FunctionTypeError(f"{name}: its annotations cannot be read: {error}") from None
    documented = parse_docstring(inspect.getdoc(function))[2]
    fields: dict[str, Any] = {}
    names = list(signature.parameters)
    for index, (parameter_name, parameter) in enumerate(signature.parameters.items()):
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise FunctionTypeError(
                f"{name}: *{parameter_name} cannot be a parameter of a process type: name "
                "each parameter"
            )
        if parameter.kind is parameter.POSITIONAL_ONLY:
            raise FunctionTypeError(
                f"{name}: {parameter_name} is positional-only: a process type's parameters "
                "are passed by name"
            )
        if parameter_name == OUTPUT_DIR_VARIABLE:
            raise FunctionTypeError(
                f"{name}: {OUTPUT_DIR_VARIABLE!r} is the variable a run sets to its output "
                "folder: it cannot be a parameter"
            )
        default = ... if parameter.default is parameter.empty else parameter.default
        fields[f"p{index}"] = (hints.get(parameter_name, Any), Field(default, alias=parameter_name))
    try:
        model = create_model(f"{name}_parameters", **fields)
        with warnings.catch_warnings():  # a default that is no JSON: refused below
            warnings.simplefilter("ignore", PydanticJsonSchemaWarning)
            generated = model.model_json_schema(by_alias=True)
    except Exception as error:  # pydantic's errors: a type it has no schema for
        raise FunctionTypeError(f"{name}: no JSON Schema for its parameters: {error}") from None
    definitions = generated.get("$defs")
    properties: dict[str, Any] = {}
    for index, parameter_name in enumerate(names):
        info: FieldInfo = model.model_fields[f"p{index}"]
        found = _simplified(generated["properties"][parameter_name])
        found.pop("title", None)
        if not info.is_required() and "default" not in found:
            raise FunctionTypeError(
                f"{name}: the default of {parameter_name} ({info.default!r}) is no JSON "
                "value: give a number, string, boolean, None, or a list or dict of those"
            )
        text = documented.get(parameter_name) or info.description
        found.pop("description", None)
        properties[parameter_name] = {
            "title": info.title or parameter_title(parameter_name),
            "description": text or f"{parameter_name!r}, a parameter of {name}.",
            **found,
        }
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    required = [n for n in generated.get("required", []) if n in properties]
    if required:
        schema["required"] = required
    if definitions:
        schema["$defs"] = {key: _simplified(value) for key, value in definitions.items()}
    return schema


def _simplified(node: Any) -> Any:
    """pydantic's ``anyOf`` of plain types as a type list (``int | None`` →
    ``"type": ["integer", "null"]``), as forms and the parameters cell read them."""
    if isinstance(node, list):
        return [_simplified(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _simplified(value) for key, value in node.items()}
    members = node.get("anyOf")
    if not (isinstance(members, list) and all(isinstance(m, dict) for m in members)):
        return node
    rest = {key: value for key, value in node.items() if key != "anyOf"}
    nullable = {"type": "null"} in members
    others = [m for m in members if m != {"type": "null"}]
    if others and all(set(m) == {"type"} and isinstance(m["type"], str) for m in others):
        kinds = [m["type"] for m in others] + (["null"] if nullable else [])
        return {**rest, "type": kinds if len(kinds) > 1 else kinds[0]}
    if len(others) == 1 and nullable and isinstance(others[0].get("type"), str):
        only = others[0]
        if set(only) & set(rest) - {"type"}:
            return node
        merged = {**only, **rest, "type": [only["type"], "null"]}
        if "const" in merged:  # Literal["a"]
            merged["enum"] = [merged.pop("const")]
        if "enum" in merged:
            merged["enum"] = [*merged["enum"], None]
        return merged
    return node


def parse_docstring(text: str | None) -> tuple[str, str, dict[str, str]]:
    """(title, description, {parameter: text}) of a docstring: the first paragraph, the
    rest of the prose before any section, and the items of a numpy-style
    ``Parameters`` or Google-style ``Args:`` section."""
    lines = inspect.cleandoc(text or "").splitlines()
    sections: list[tuple[str, bool, list[str]]] = []  # (header, numpy style, lines)
    prose: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if line.strip() and not line[:1].isspace() and _NUMPY_RULE.fullmatch(following):
            sections.append((line.strip().lower(), True, []))
            index += 2
            continue
        google = _GOOGLE_HEADER.fullmatch(line.rstrip())
        if google and google.group(1).lower() in _PARAMETER_SECTIONS | {"returns", "raises"}:
            sections.append((google.group(1).lower(), False, []))
        elif sections:
            sections[-1][2].append(line)
        else:
            prose.append(line)
        index += 1
    paragraphs = [" ".join(p.split()) for p in "\n".join(prose).split("\n\n") if p.strip()]
    title = paragraphs[0].rstrip(".") if paragraphs else ""
    description = " ".join(paragraphs[1:])
    documented: dict[str, str] = {}
    for header, numpy_style, body in sections:
        if header in _PARAMETER_SECTIONS:
            documented.update(_parameter_items(body, numpy_style))
    return title, description, documented


def _parameter_items(body: list[str], numpy_style: bool) -> dict[str, str]:
    """``name : type`` (numpy) or ``name (type): text`` (Google) items, each followed by
    more indented lines of text."""
    indents = [len(line) - len(line.lstrip()) for line in body if line.strip()]
    if not indents:
        return {}
    margin = min(indents)
    items: dict[str, str] = {}
    current: list[str] = []
    texts: list[str] = []
    for line in body:
        if not line.strip():
            continue
        if len(line) - len(line.lstrip()) == margin:
            head, _, rest = line.strip().partition(":")
            current = [n.strip().lstrip("*") for n in re.sub(r"\(.*\)", "", head).split(",")]
            texts = [] if numpy_style else [rest.strip()]
            for item in current:
                items[item] = ""
        else:
            texts.append(line.strip())
        for item in current:
            items[item] = " ".join(t for t in texts if t)
    return {key: value for key, value in items.items() if key.isidentifier() and value}


# ------------------------------------------------------------------- the notebook


def function_notebook(
    function: Callable[..., Any],
    *,
    name: str | None = None,
    title: str | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """The notebook (nbformat 4, as a dict) that runs ``function`` as a process type."""
    function_name = getattr(function, "__name__", repr(function))
    schema = function_schema(function)
    captured = capture(function, drop_decorator=DECORATOR)
    clashes = sorted(set(schema["properties"]) & captured.names)
    if clashes:
        raise FunctionTypeError(
            f"{function_name}: parameter {clashes[0]!r} has the name of a global the code "
            "uses: in the run both are globals of one notebook, so rename one"
        )
    doc_title, doc_description, _ = parse_docstring(inspect.getdoc(function))
    title = title or doc_title or parameter_title(function_name)
    if description is None:
        description = doc_description or (doc_title + "." if doc_title else "")
    if description:
        schema["description"] = description
    parameters = _parameters_cell(schema, _annotations(captured))
    settings = {
        "kind": FUNCTION_KIND,
        "function": function_name,
        "name": name or function_name,
        "title": title,
        "description": description,
        "schema": merge_patch_between(infer_schema(parameters), schema),
    }
    intro = (
        f"# {title}\n\n" + (f"{description}\n\n" if description else "") + "Generated from "
        f"the function `{function_name}` by `@nagel.process_type`: its parameters come "
        "first, then its code, then the cell that calls it and saves what it returns."
    )
    call = (
        "# The function called with the parameters above; what it returns goes to the run's\n"
        "# output folder, each file an output dataset.\n"
        + inspect.getsource(nagelfluh_save)
        + "\n\n"
        + f"{nagelfluh_save.__name__}(\n"
        + f"    {function_name}({', '.join(f'{p}={p}' for p in schema['properties'])}),\n"
        + f"    globals().get({OUTPUT_DIR_VARIABLE!r}),\n"
        + f"    {function_name!r},\n)\n"
    )
    notebook = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
            METADATA_KEY: settings,
        },
        "cells": [
            {"cell_type": "markdown", "id": "title", "metadata": {}, "source": intro},
            _code_cell("parameters", parameters, [PARAMETERS_TAG]),
            _code_cell("code", captured.source),
            _code_cell("call", call),
        ],
    }
    try:
        inferred = notebook_schema(notebook)
    except NotebookSchemaError as error:
        raise FunctionTypeError(f"{function_name}: {error}") from None
    if _canonical(inferred) != _canonical(schema):
        raise FunctionTypeError(
            f"{function_name}: its schema cannot be written as a notebook's (a null inside "
            "a default?): " + _canonical(schema)[:200]
        )
    return notebook


def _code_cell(cell_id: str, source: str, tags: list[str] | None = None) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "id": cell_id,
        "metadata": {"tags": tags} if tags else {},
        "source": source,
        "outputs": [],
        "execution_count": None,
    }


def _annotations(captured: Captured) -> dict[str, str]:
    """Each parameter's annotation as the function's source writes it."""
    tree = ast.parse(captured.definitions[-1])
    node = tree.body[0]
    assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    found = {}
    for argument in [*node.args.args, *node.args.kwonlyargs]:
        annotation = argument.annotation
        if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
            found[argument.arg] = annotation.value
        elif annotation is not None:
            found[argument.arg] = ast.unparse(annotation)
    return found


def _parameters_cell(schema: dict[str, Any], annotations: dict[str, str]) -> str:
    """One line per parameter, with its annotation where the runner's schema inference
    reads it (quoted unless made of builtins: the run's kernel need not know its names)
    and its default as a literal; the metadata's patch does the rest."""
    lines = []
    for name, prop in schema["properties"].items():
        value = f" = {prop['default']!r}" if "default" in prop else ""
        candidates = []
        annotation = annotations.get(name)
        if annotation is not None:
            names = {n.id for n in ast.walk(ast.parse(annotation)) if isinstance(n, ast.Name)}
            plain = names <= _PLAIN_NAMES and "." not in annotation
            candidates.append(f"{name}: {annotation if plain else repr(annotation)}{value}")
        candidates.append(f"{name}{value}" if value else f"{name}: 'Any'")
        for candidate in candidates:
            try:
                infer_schema(candidate)
            except NotebookSchemaError:
                continue
            lines.append(candidate)
            break
    return "\n".join(lines) + ("\n" if lines else "")


def merge_patch_between(source: Any, target: Any) -> Any:
    """The JSON Merge Patch (RFC 7396) that turns ``source`` into ``target`` (a null
    removes a key). Values compare as JSON: ``1`` is not ``1.0`` nor ``True``."""
    if not (isinstance(source, dict) and isinstance(target, dict)):
        return target
    patch: dict[str, Any] = {key: None for key in source if key not in target}
    for key, value in target.items():
        if key not in source:
            patch[key] = value
        elif _canonical(source[key]) != _canonical(value):
            patch[key] = merge_patch_between(source[key], value)
    return patch


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


# ------------------------------------------------------------- the run's outputs


def nagelfluh_save(value: object, folder: str | None, name: str) -> list[str]:
    """Write a function's return value into the output folder; the files written.
    An xarray Dataset or DataArray → NAME.nc, a pandas DataFrame or Series → NAME.csv,
    a numpy array → NAME.npy, a dict → each value under its key as NAME, None → none."""
    import os
    import re

    folder = folder or os.environ.get("NAGELFLUH_OUTPUT_DIR") or "outputs"
    os.makedirs(folder, exist_ok=True)
    if value is None:
        return []
    if isinstance(value, dict):
        written = []
        for key, item in value.items():
            if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z0-9][\w.-]*", key):
                raise ValueError(f"output name {key!r}: use letters, digits, '.', '_', '-'")
            if isinstance(item, dict) or item is None:
                raise TypeError(f"output {key!r}: a dict's values are data, not dicts or None")
            written += nagelfluh_save(item, folder, key)
        return written
    data: Any = value  # a local annotation: never evaluated, so the run needs no typing
    kind = type(data).__module__.split(".")[0] + "." + type(data).__name__
    suffixes = {
        "xarray.Dataset": ".nc",
        "xarray.DataArray": ".nc",
        "pandas.DataFrame": ".csv",
        "pandas.Series": ".csv",
        "numpy.ndarray": ".npy",
    }
    if kind not in suffixes:
        raise TypeError(
            f"{name} returned {kind}: return an xarray Dataset or DataArray, a pandas "
            "DataFrame or Series, a numpy array, a dict of those by name, or None (and "
            "write any other file into nagelfluh_output_dir yourself)"
        )
    suffix = suffixes[kind]
    path = os.path.join(folder, name if name.endswith(suffix) else name + suffix)
    if suffix == ".nc":
        data.to_netcdf(path)
    elif suffix == ".csv":
        data.to_csv(path, index=type(data.index).__name__ != "RangeIndex")
    else:
        import numpy

        numpy.save(path, data)
    return [os.path.basename(path)]
