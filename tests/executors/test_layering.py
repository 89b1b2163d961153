"""The layering of the two backends, read from the imports of their modules (ast).

``nagelfluh_lab/executors/`` holds the executor interface, the execution contract
both executors keep, and the local executor; ``nagelfluh_lab/cluster/`` the whole
Kubernetes backend. Neither backend imports the other, and neither imports a
service: the services drive executors, not the other way round.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import nagelfluh_lab
from nagelfluh_lab.cluster.moved import MOVED

ROOT = Path(nagelfluh_lab.__file__).parent
# What both backends may use of nagelfluh_lab.executors.
SHARED = {f"nagelfluh_lab.executors.{name}" for name in ("base", "contract", "lines", "schema")}
UPPER_LAYERS = ("nagelfluh_lab.services", "nagelfluh_lab.handlers", "nagelfluh_lab.app")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    """Whether ``name`` is a module or package of nagelfluh_lab (not a name in one)."""
    path = ROOT.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, as an absolute name: ``from m import n`` counts
    ``m``, and ``m.n`` too where ``n`` is a module."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            found.add(base)
            found.update(
                f"{base}.{alias.name}" for alias in node.names if is_module(f"{base}.{alias.name}")
            )
    return found


def modules(folder: str) -> dict[str, set[str]]:
    """The modules of ``nagelfluh_lab/{folder}`` but the old paths' shims, with what they
    import of nagelfluh_lab."""
    found = {}
    for path in sorted((ROOT / folder).glob("*.py")):
        name = module_name(path)
        if name not in MOVED:
            found[name] = {m for m in imported(path) if m.startswith("nagelfluh_lab")}
    return found


EXECUTORS = modules("executors")
CLUSTER = modules("cluster")


def test_the_import_reader_sees_what_the_modules_import():
    """Not vacuous: relative imports resolve, both backends use the contract."""
    assert {"nagelfluh_lab.executors.contract", "nagelfluh_lab.executors.shim"} <= EXECUTORS[
        "nagelfluh_lab.executors.local"
    ]
    assert "nagelfluh_lab.executors.contract" in CLUSTER["nagelfluh_lab.cluster.executor"]
    assert "nagelfluh_lab.cluster.api" in CLUSTER["nagelfluh_lab.cluster.schema"]


@pytest.mark.parametrize("module", sorted(EXECUTORS.keys() | CLUSTER.keys()))
def test_no_executor_module_imports_a_service(module):
    imports = EXECUTORS.get(module) or CLUSTER.get(module) or set()
    assert not [m for m in imports if m.startswith(UPPER_LAYERS)]


@pytest.mark.parametrize("module", sorted(EXECUTORS))
def test_the_executors_package_does_not_import_the_cluster_backend(module):
    assert not [m for m in EXECUTORS[module] if m.startswith("nagelfluh_lab.cluster")]


@pytest.mark.parametrize("module", sorted(CLUSTER))
def test_the_cluster_backend_uses_only_the_shared_part_of_executors(module):
    """Not the local executor, nor its shim, sandbox, limits or quota."""
    used = {m for m in CLUSTER[module] if m.startswith("nagelfluh_lab.executors.")}
    assert used <= SHARED


@pytest.mark.parametrize("module", sorted(SHARED))
def test_the_shared_modules_import_only_each_other(module):
    used = {m for m in EXECUTORS[module] if m.startswith("nagelfluh_lab.executors.")}
    assert used <= SHARED


def test_nothing_in_the_package_imports_an_old_path():
    """The shims are for configurations and code outside; the package names the new
    modules (its own shims only import ``cluster.moved``)."""
    old = (*MOVED, "nagelfluh_lab.kubernetes")
    offenders = {
        module_name(path): sorted(m for m in imported(path) if m.startswith(old))
        for path in ROOT.rglob("*.py")
    }
    assert {module: found for module, found in offenders.items() if found} == {}
