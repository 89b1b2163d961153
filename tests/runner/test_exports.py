"""The SDK's public names import from the package itself, each only when first used."""

from __future__ import annotations

import subprocess
import sys

import nagelfluh_runner
import pytest
from nagelfluh_runner import context, netcdf, sdk


def test_the_sdks_public_names_import_from_the_package():
    from nagelfluh_runner import InputDataset, ParameterError, ProcessType, StorageContext

    assert (ProcessType, ParameterError, InputDataset) == (
        sdk.ProcessType, sdk.ParameterError, sdk.InputDataset)
    assert StorageContext is context.StorageContext
    elsewhere = {"StorageContext": context, "Variable": netcdf, "NetCDFData": netcdf}
    for name in nagelfluh_runner.__all__:
        module = elsewhere.get(name, sdk)
        assert getattr(nagelfluh_runner, name) is getattr(module, name)
    assert sorted(nagelfluh_runner.__all__) == sorted(nagelfluh_runner._EXPORTS)
    assert set(nagelfluh_runner.__all__) <= set(dir(nagelfluh_runner))


def test_an_unknown_name_is_an_attribute_error_and_submodules_still_import():
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        nagelfluh_runner.Nope  # noqa: B018
    from nagelfluh_runner import registry

    assert registry.GROUP == "nagelfluh.process_types"


def test_importing_the_package_imports_no_sdk_module_until_a_name_is_used():
    code = (
        "import sys, nagelfluh_runner\n"
        "print(sorted(m for m in sys.modules if m.startswith('nagelfluh_runner.')))\n"
        "nagelfluh_runner.ProcessType\n"
        "print('nagelfluh_runner.sdk' in sys.modules, 'numpy' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines() == ["[]", "True False"]
