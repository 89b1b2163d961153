"""nagelfluh-runner: the SDK process types are written against, and the program that runs them.

The SDK's public names are importable from here (``from nagelfluh_runner import
ProcessType``), each imported only when first used (PEP 562): ``python -m
nagelfluh_runner run`` imports this package on every process start, and must
not pay for what a run does not use.
"""

# Public name -> the module that defines it.
_EXPORTS = {
    "ProcessType": "nagelfluh_runner.sdk",
    "ParameterError": "nagelfluh_runner.sdk",
    "InputDataset": "nagelfluh_runner.sdk",
    "Dataset": "nagelfluh_runner.sdk",
    "parameter": "nagelfluh_runner.sdk",
    "object_schema": "nagelfluh_runner.sdk",
    "dataset_parameter": "nagelfluh_runner.sdk",
    "chunks": "nagelfluh_runner.sdk",
    "StorageContext": "nagelfluh_runner.context",
    "Variable": "nagelfluh_runner.netcdf",
    "NetCDFData": "nagelfluh_runner.netcdf",
}

__all__ = [
    "Dataset",
    "InputDataset",
    "NetCDFData",
    "ParameterError",
    "ProcessType",
    "StorageContext",
    "Variable",
    "chunks",
    "dataset_parameter",
    "object_schema",
    "parameter",
]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from nagelfluh_runner.context import StorageContext
    from nagelfluh_runner.netcdf import NetCDFData, Variable
    from nagelfluh_runner.sdk import (
        Dataset,
        InputDataset,
        ParameterError,
        ProcessType,
        chunks,
        dataset_parameter,
        object_schema,
        parameter,
    )


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        # Also how ``from nagelfluh_runner import registry`` falls back to the submodule.
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
