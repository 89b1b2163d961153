"""The source of a function defined in a notebook, with everything at module level it uses.

``@nagel.process_type`` makes a function a process type whose runs happen elsewhere: in a
fresh kernel of the type's environment (on Kubernetes, its image), long after this kernel
is gone. So the function travels as **source**, not as a cloudpickle:

- the run happens in another interpreter, maybe another Python version with other package
  versions (the environment's image): pickled code objects and pickled objects are tied to
  the exact interpreter and library versions that made them, source is not;
- source is readable: the stored notebook shows exactly what a version ran, and a user
  can open it in the Lab, read it, re-run it by hand;
- source is stable: the same code gives the same notebook, whose digest is the type's
  version, so an unchanged function registers no new revision and the cache holds.

The price is that only what can be written as source travels. Every global name the
function uses (found with :mod:`symtable`, so locals, arguments and comprehension
variables are not mistaken for globals) is resolved in the function's module namespace
(the notebook's) and captured as

- a module → ``import numpy as np``;
- a function or class from an importable module → ``from scipy.signal import welch``
  (from the shortest public module that has it);
- a function or class defined in the notebook → its source, whose own globals are
  captured the same way, recursively (a decorated helper with its decorators);
- a literal constant (numbers, strings, bytes, booleans, None, and lists, tuples, dicts,
  sets of those) → ``NAME = repr(value)``;
- a builtin (not shadowed) → nothing.

Anything else (an open file, a random generator, a numpy array, a lambda, a closure) is a
:class:`CaptureError` naming the global and what to do instead. Annotations are not
evaluated in the run (the captured cell starts with ``from __future__ import
annotations``), so names used only in annotations (``Dataset``, ``Annotated``,
``Field``) need not exist there. A module whose file sits next to the notebook, not in
an installed package, is refused too: the run would not find it.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import linecache
import symtable
import sys
import textwrap
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nagelfluh_runner.notebook_schema import OUTPUT_DIR_VARIABLE

FUTURE = "from __future__ import annotations"
LITERAL_LIMIT = 100_000  # characters of a constant's repr
# Names a run's notebook has without capture: the output folder (notebook_run sets it) and
# what IPython itself puts in a kernel's namespace.
PROVIDED = frozenset({OUTPUT_DIR_VARIABLE, "get_ipython", "display"})
_LITERAL_TYPES = (int, float, complex, str, bytes, bool, type(None))


class FunctionTypeError(ValueError):
    """A function that cannot be a process type, and why (one line a user can act on)."""


class CaptureError(FunctionTypeError):
    """A function that cannot travel as source: the message names the global and why."""


@dataclass
class Captured:
    """The captured code: imports, constants, then definitions (each after what it needs)."""

    function: str
    imports: list[str] = field(default_factory=list)
    constants: list[str] = field(default_factory=list)
    definitions: list[str] = field(default_factory=list)
    names: set[str] = field(default_factory=set)  # every global captured

    @property
    def source(self) -> str:
        """The code of one notebook cell that defines the function as the kernel has it."""
        blocks = [FUTURE]
        for lines in (self.imports, self.constants):
            if lines:
                blocks.append("\n".join(lines))
        blocks += [definition.strip() for definition in self.definitions]
        return "\n\n\n".join(blocks) + "\n"


def capture(function: Any, drop_decorator: str | None = None) -> Captured:
    """The source of ``function`` and of the globals it uses; ``drop_decorator``: the name
    of a decorator (``process_type``) left out of the function's source."""
    if not isinstance(function, types.FunctionType):
        raise CaptureError(f"{function!r} is not a function defined with def")
    name = function.__name__
    if name == "<lambda>":
        raise CaptureError("a lambda cannot be a process type: define the function with def")
    if inspect.iscoroutinefunction(function) or inspect.isgeneratorfunction(function):
        raise CaptureError(f"{name} is async or a generator: a process type is a plain def")
    if function.__qualname__ != name or function.__closure__:
        raise CaptureError(
            f"{name} is defined inside another function or class: define it at the "
            "notebook's top level, so that the run can define it too"
        )
    source = _function_source(function)
    if drop_decorator is not None:
        source = _without_decorator(source, drop_decorator)
    state = _Capture(function.__globals__, Captured(name))
    state.definition(name, source)
    return state.captured


def free_names(source: str) -> list[str]:
    """The global names ``source`` (module-level code) reads but does not define, sorted.
    Names in annotations are left out (see the module's docstring)."""
    table = symtable.symtable(f"{FUTURE}\n{source}", "<captured>", "exec")
    found: set[str] = set()
    for symbol in table.get_symbols():
        if symbol.is_referenced() and not (symbol.is_assigned() or symbol.is_imported()):
            found.add(symbol.get_name())
    pending = list(table.get_children())
    while pending:
        scope = pending.pop()
        pending += scope.get_children()
        for symbol in scope.get_symbols():
            if symbol.is_global() and symbol.is_referenced():
                name = symbol.get_name()
                if not _defined_at_top(table, name):
                    found.add(name)
    return sorted(found)


def _defined_at_top(table: symtable.SymbolTable, name: str) -> bool:
    try:
        symbol = table.lookup(name)
    except KeyError:
        return False
    return symbol.is_assigned() or symbol.is_imported()


class _Capture:
    def __init__(self, namespace: dict[str, Any], captured: Captured) -> None:
        self.namespace = namespace
        self.captured = captured
        self.seen: set[str] = set()

    def definition(self, name: str, source: str) -> None:
        """``source`` (defining ``name``) after the definitions of the globals it uses."""
        self.seen.add(name)
        for used in free_names(source):
            self.resolve(used, name)
        self.captured.definitions.append(source)

    def resolve(self, name: str, user: str) -> None:
        if name in self.seen:
            return
        self.seen.add(name)
        if name not in self.namespace:
            if hasattr(builtins, name) or name in PROVIDED:
                return
            raise CaptureError(
                f"{user} uses the global {name!r}, which is not defined in this kernel: "
                "define it (in a cell run before this one) or import it"
            )
        value = self.namespace[name]
        self.captured.names.add(name)
        if value is getattr(builtins, name, None) or _provided(name, value):
            return
        if isinstance(value, types.ModuleType):
            self.captured.imports.append(_module_import(name, value, user))
        elif (defined := self._notebook_definition(value)) is not None:
            self._capture_definition(name, defined, user)
        elif (line := _object_import(name, value, user)) is not None:
            self.captured.imports.append(line)
        elif _is_literal(value):
            self.captured.constants.append(f"{name} = {value!r}")
        else:
            raise CaptureError(
                f"{user} uses the global {name!r} ({_kind(value)}), which cannot be captured "
                "for the run: a run happens in another Python process, without this "
                "kernel's objects. Make it a literal constant, an import, or a function or "
                "class defined in the notebook, or create it inside the function (or "
                "pass it as a parameter)"
            )

    def _notebook_definition(self, value: Any) -> Any:
        """The function or class ``value`` if it is defined in the notebook (the module
        whose namespace this is), unwrapping decorators; else None."""
        module = self.namespace.get("__name__")
        unwrapped = inspect.unwrap(value) if callable(value) else value
        if (
            inspect.isfunction(unwrapped) or inspect.isclass(unwrapped)
        ) and unwrapped.__module__ == module:
            return unwrapped
        return None

    def _capture_definition(self, name: str, value: Any, user: str) -> None:
        defined = value.__name__
        if defined == "<lambda>":
            raise CaptureError(
                f"{user} uses {name!r}, a lambda: define it with def, so its source can travel"
            )
        if getattr(value, "__qualname__", defined) != defined or getattr(
            value, "__closure__", None
        ):
            raise CaptureError(
                f"{user} uses {name!r}, which is defined inside a function or class: define "
                "it at the notebook's top level"
            )
        if defined != name:  # an alias: ``g = f``
            self.resolve(defined, user)
            self.captured.definitions.append(f"{name} = {defined}\n")  # after it
            return
        if inspect.isclass(value):
            source = _class_source(value)
        else:
            source = _function_source(value)
        self.definition(name, source)


def _provided(name: str, value: Any) -> bool:
    """The output folder's variable (set by the run, whatever this kernel holds), and
    IPython's own helpers, which a run's kernel has too."""
    if name == OUTPUT_DIR_VARIABLE:
        return True
    return name in PROVIDED and str(getattr(value, "__module__", "")).startswith("IPython")


def _function_source(function: Any) -> str:
    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):
        raise CaptureError(
            f"the source of {function.__name__} is not available: define it in a notebook "
            "cell or a file"
        ) from None
    return textwrap.dedent(source).rstrip() + "\n"


def _class_source(cls: type) -> str:
    """A class's source. ``inspect.getsource`` cannot find a class defined in a notebook
    cell (before Python 3.13), so it is looked up in the cell one of its methods was
    compiled from, which IPython keeps in ``linecache``."""
    try:
        return textwrap.dedent(inspect.getsource(cls)).rstrip() + "\n"
    except (OSError, TypeError):
        pass
    for member in vars(cls).values():
        function = getattr(member, "__func__", member)
        if isinstance(member, property):
            function = member.fget
        code = getattr(function, "__code__", None)
        if code is None:
            continue
        lines = linecache.getlines(code.co_filename)
        try:
            tree = ast.parse("".join(lines))
        except SyntaxError:
            continue
        for node in tree.body:
            if (
                isinstance(node, ast.ClassDef)
                and node.name == cls.__name__
                and node.lineno <= code.co_firstlineno <= (node.end_lineno or 0)
            ):
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                return "".join(lines[start - 1 : node.end_lineno]).rstrip() + "\n"
    raise CaptureError(
        f"the source of class {cls.__name__} is not available (a class is found through "
        "its methods): define at least one method in it, in a notebook cell"
    )


def _without_decorator(source: str, decorator: str) -> str:
    """``source`` (one def) without its decorators named ``decorator`` (``@x``,
    ``@m.x``, ``@x(...)``, ``@m.x(...)``)."""
    tree = ast.parse(source)
    node = tree.body[0]
    assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    lines = source.splitlines(keepends=True)
    dropped: set[int] = set()
    for expression in node.decorator_list:
        target = expression.func if isinstance(expression, ast.Call) else expression
        named = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
        if named == decorator:
            dropped.update(range(expression.lineno - 1, expression.end_lineno or expression.lineno))
    return "".join(line for index, line in enumerate(lines) if index not in dropped)


def _module_import(name: str, module: types.ModuleType, user: str) -> str:
    module_name = module.__name__
    _refuse_local(module, module_name, name, user)
    if module_name == name:
        return f"import {name}"
    parent, _, last = module_name.rpartition(".")
    if parent and last == name:
        return f"from {parent} import {name}"
    return f"import {module_name} as {name}"


def _refuse_local(module: types.ModuleType, module_name: str, name: str, user: str) -> None:
    """A module from a file beside the notebook is no installed package: the run (in its
    own folder, or an image) would not find it."""
    if module_name == "__main__":
        raise CaptureError(f"{user} uses {name!r}, the notebook's own module: leave it out")
    location = getattr(module, "__file__", None)
    if not location:
        return
    path = Path(location).resolve()
    installed = {"site-packages", "dist-packages"} & set(path.parts)
    if not installed and path.is_relative_to(Path.cwd().resolve()):
        raise CaptureError(
            f"{user} uses {name!r} from {path}, a file beside the notebook that the run "
            "does not have: install it as a package in the environment, or define what "
            "the function needs in the notebook"
        )


def _object_import(name: str, value: Any, user: str) -> str | None:
    """``from module import name`` if ``value`` is that module's attribute (a function, a
    class, a ufunc...), from the shortest already imported module that has it."""
    module_name = getattr(value, "__module__", None)
    own = getattr(value, "__name__", None)
    if not isinstance(module_name, str) or not isinstance(own, str) or module_name == "__main__":
        return None
    parts = module_name.split(".")
    for end in range(1, len(parts) + 1):
        candidate = ".".join(parts[:end])
        module = sys.modules.get(candidate)
        if module is not None and getattr(module, own, None) is value:
            _refuse_local(module, candidate, name, user)
            return f"from {candidate} import {own}" + (f" as {name}" if own != name else "")
    return None


def _is_literal(value: Any, depth: int = 0) -> bool:
    if depth > 20:
        return False
    if type(value) in _LITERAL_TYPES:
        if isinstance(value, (float, complex)):
            text = repr(value)
            return "nan" not in text and "inf" not in text
        return True
    if type(value) in (list, tuple, set, frozenset):
        if type(value) is frozenset:
            return False  # repr frozenset({...}) is a call, not a literal
        if isinstance(value, set) and not value:
            return False  # set() is a call too
        members = value
    elif type(value) is dict:
        members = [*value.keys(), *value.values()]
    else:
        return False
    if not all(_is_literal(member, depth + 1) for member in members):
        return False
    return depth > 0 or len(repr(value)) <= LITERAL_LIMIT


def _kind(value: Any) -> str:
    kind = type(value)
    module = kind.__module__
    return f"a {kind.__qualname__}" if module == "builtins" else f"a {module}.{kind.__qualname__}"
