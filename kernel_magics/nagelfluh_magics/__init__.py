"""The notebook side of nagelfluh-lab: ``Client`` for scripts and kernels, the
``%nagel`` magics (``%load_ext nagelfluh_magics``), and ``@process_type``, which makes
a typed function of a notebook a process type (``import nagelfluh_magics as nagel``)."""

from __future__ import annotations

from typing import Any

from .capture import CaptureError, FunctionTypeError
from .client import Client, NagelfluhError, discover
from .functions import Dataset, process_type
from .handle import ProcessHandle
from .stores import StoreError

__all__ = [
    "CaptureError",
    "Client",
    "Dataset",
    "FunctionTypeError",
    "NagelfluhError",
    "ProcessHandle",
    "StoreError",
    "discover",
    "load_ipython_extension",
    "process_type",
]


def load_ipython_extension(ipython: Any) -> None:
    from .magics import NagelMagics

    ipython.register_magics(NagelMagics)
