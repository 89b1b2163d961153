"""nagelfluh-lab: scientific process execution inside Jupyter."""

from __future__ import annotations

from importlib.metadata import version

__version__ = version("nagelfluh-lab")


def _jupyter_server_extension_points() -> list[dict[str, object]]:
    from .app import NagelfluhApp

    return [{"module": "nagelfluh_lab.app", "app": NagelfluhApp}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where `jupyter-builder develop` links the built side panel from."""
    return [{"src": "labextension", "dest": "nagelfluh-lab"}]
