"""The SDK is typed for the process types users write: mypy, run as a user would on their
own module (nagelfluh-runner installed, its py.typed marker read), accepts under --strict
a type written with named parameters and the README's example type (envelope.py) as it
stands, and reports the mistakes a user makes."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.runner.test_readme import blocks

pytest.importorskip("mypy", reason="the type check needs mypy (the test extra)")

# A process type as a user writes one: parameters by name, a dataset input, every
# writer of the StorageContext, outputs returned or not.
USER_TYPE = """
from __future__ import annotations

from typing import Any

import numpy as np

from nagelfluh_runner import (
    InputDataset,
    NetCDFData,
    ParameterError,
    ProcessType,
    StorageContext,
    Variable,
    chunks,
    dataset_parameter,
    object_schema,
    parameter,
)


class Smooth(ProcessType):
    name = "smooth"
    title = "Smoothed signal"
    description = "Running mean of a signal."
    schema = object_schema(
        {
            "signal": dataset_parameter("Signal", "A signal.", readable=True),
            "window": parameter("integer", "Window", "Samples averaged.", 5, minimum=1),
            "as_zarr": parameter("boolean", "As Zarr", "Also write a Zarr store.", False),
        },
        required=["signal"],
    )

    def run(
        self, ctx: StorageContext, signal: InputDataset, window: int, as_zarr: bool = False
    ) -> None:
        data: NetCDFData = signal.arrays(["time", "amplitude"])
        amplitude: Variable = data["amplitude"]
        if amplitude.data.size < window:
            raise ParameterError("/window", "longer than the signal")
        for step, (start, stop) in enumerate(chunks(amplitude.data.size, 4)):
            ctx.log(f"samples {start} to {stop}")
            ctx.progress((step + 1) / 4)
        smooth = np.convolve(amplitude.data, np.ones(window) / window, mode="same")
        entry: dict[str, Any] = ctx.write_netcdf(
            "smooth.nc",
            None,
            {
                "time": (("time",), data["time"].data, {"units": "s"}),
                "smooth": (("time",), smooth, {"units": amplitude.units or "1"}),
                "window": Variable((), np.asarray(window), {"units": "1"}),
            },
            {"window": window},
            title="Smoothed",
            format="netcdf4",
        )
        ctx.log(f"wrote {entry['key']}")
        with signal.open(0, 3) as head:
            ctx.log(repr(head.read()))
        ctx.write_bytes("notes.txt", b"smooth\\n", "text/plain", units={"smooth": "mm/s"})
        with ctx.open_write("raw.bin", metadata={"dtype": "float64"}) as out:
            out.write(smooth.tobytes())
        if as_zarr:
            ds = signal.load(["amplitude"])
            ds["smooth"] = ds["amplitude"].rolling(time=window).mean()
            ctx.write_zarr("smooth.zarr", ds, title="Smoothed, as Zarr")
            ctx.write_zarr("copy.zarr", signal.local_path())


class Wait(ProcessType):
    name = "wait"
    title = "Wait"
    description = "Waits."
    schema = object_schema({"seconds": parameter("number", "Seconds", "How long.", 1.0)})

    def run(self, ctx: StorageContext, seconds: float = 1.0) -> dict[str, float]:
        return {"seconds": seconds}


def run_any(process_type: ProcessType, ctx: StorageContext, params: dict[str, Any]) -> None:
    process_type.run(ctx, **params)  # as the runner calls every type
"""

# Mistakes the SDK's types catch, each on the line marked with its error code.
MISUSE = """
from __future__ import annotations

from nagelfluh_runner import InputDataset, ProcessType, StorageContext


class Broken(ProcessType):
    def run(self, ctx: int, signal: InputDataset) -> None:  # override
        signal.arrays("amplitude")  # arg-type


def write(ctx: StorageContext) -> None:
    ctx.write_netcdf("a.nc", None, {"a": (("t",), [1.0], {"units": "1"})}, titel="A")  # call-arg
    ctx.write_netcdf("b.nc", {"t": "one"}, {})  # dict-item
    ctx.progress("half")  # arg-type
    with ctx.open_read(ctx.project_prefix + "a.nc") as reader:
        reader.seek(0)  # attr-defined
"""

CONFIG = """\
[mypy]
strict = True
warn_unreachable = True

"""


@pytest.fixture(scope="module")
def mypy_output(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """mypy's errors, by module, over the three modules checked in one run (one run:
    mypy reads numpy's and xarray's stubs once)."""
    work = tmp_path_factory.mktemp("typing")
    (work / "user_type.py").write_text(USER_TYPE)
    (work / "misuse.py").write_text(MISUSE)
    (work / "readme_example.py").write_text(blocks("python")[0])
    (work / "mypy.ini").write_text(CONFIG)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", "mypy.ini", "--cache-dir", ".cache",
         "--no-error-summary", "--hide-error-context", "--show-error-codes",
         "user_type.py", "misuse.py", "readme_example.py"],
        cwd=work, capture_output=True, text=True, timeout=280,
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stdout + result.stderr  # 2: mypy itself failed
    errors: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        if ": error: " in line:
            errors.setdefault(line.split(".py:", 1)[0], []).append(line)
    return errors


def test_a_user_type_with_named_parameters_checks_under_strict(mypy_output):
    assert mypy_output.get("user_type", []) == []


def test_the_readmes_example_type_checks_under_strict(mypy_output):
    assert mypy_output.get("readme_example", []) == []


def test_misuse_of_the_sdk_is_reported_on_its_line(mypy_output):
    expected = {}
    for number, line in enumerate(MISUSE.splitlines(), start=1):
        if "  # " in line:
            expected[number] = line.rsplit("  # ", 1)[1]
    found = {}
    for error in mypy_output.get("misuse", []):
        match = re.match(r"misuse\.py:(\d+): error: .*\[([\w-]+)\]$", error)
        assert match, error
        found.setdefault(int(match[1]), match[2])
    assert found == expected, "\n".join(mypy_output.get("misuse", []))


def test_the_wheel_marks_the_sdk_as_typed(tmp_path):
    """Without ``py.typed`` in the installed package, mypy treats the SDK as untyped."""
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    if not Path(uv).exists():
        pytest.fail("uv is needed to build the wheel (scripts/test.sh installs it)")
    runner = Path(__file__).resolve().parents[2] / "runner"
    subprocess.run(
        [uv, "build", "-q", "--wheel", "--out-dir", str(tmp_path), str(runner)],
        check=True, stdin=subprocess.DEVNULL, timeout=120,
    )  # fmt: skip
    [wheel] = tmp_path.glob("nagelfluh_runner-*.whl")
    assert "nagelfluh_runner/py.typed" in zipfile.ZipFile(wheel).namelist()
