"""Handlers stay thin, services stay HTTP-free: read from the modules' imports (ast).

A handler parses the request, authorizes it, calls a service and sends its answer:
it runs no query, so it imports neither SQLAlchemy nor the database layer. A service
knows nothing of HTTP, so it imports neither tornado, jupyter_server nor a handler.
"""

from __future__ import annotations

import pytest

from tests.executors.test_layering import ROOT, imported, module_name

HANDLERS = {module_name(path): imported(path) for path in sorted((ROOT / "handlers").glob("*.py"))}
SERVICES = {module_name(path): imported(path) for path in sorted((ROOT / "services").glob("*.py"))}
DATABASE = ("sqlalchemy", "nagelfluh_lab.db")
HTTP = ("tornado", "jupyter_server", "nagelfluh_lab.handlers")


def starts_with(modules: set[str], prefixes: tuple[str, ...]) -> list[str]:
    """The modules that are, or are inside, one of ``prefixes``."""
    return sorted(
        m for m in modules if m in prefixes or m.startswith(tuple(f"{p}." for p in prefixes))
    )


def test_the_import_reader_sees_what_the_modules_import():
    """Not vacuous: a handler's services and tornado, a service's database."""
    assert {"nagelfluh_lab.services.processes", "tornado"} <= HANDLERS[
        "nagelfluh_lab.handlers.base"
    ]
    assert "nagelfluh_lab.db.models" in SERVICES["nagelfluh_lab.services.submission"]
    assert starts_with(SERVICES["nagelfluh_lab.services.log_store"], DATABASE)


@pytest.mark.parametrize("module", sorted(HANDLERS))
def test_no_handler_imports_the_database(module):
    assert starts_with(HANDLERS[module], DATABASE) == []


@pytest.mark.parametrize("module", sorted(SERVICES))
def test_no_service_imports_http(module):
    assert starts_with(SERVICES[module], HTTP) == []
