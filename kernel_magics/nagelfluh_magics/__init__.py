"""The notebook side of nagelfluh-lab: ``Client`` for scripts and kernels, and the
``%nagel`` magics (``%load_ext nagelfluh_magics``)."""

from __future__ import annotations

from typing import Any

from .client import Client, NagelfluhError, discover
from .handle import ProcessHandle
from .stores import StoreError

__all__ = [
    "Client",
    "NagelfluhError",
    "ProcessHandle",
    "StoreError",
    "discover",
    "load_ipython_extension",
]


def load_ipython_extension(ipython: Any) -> None:
    from .magics import NagelMagics

    ipython.register_magics(NagelMagics)
