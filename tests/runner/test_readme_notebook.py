"""The README's "From notebook to process type in one minute" works as written: its two
Python blocks, made a notebook (the first tagged ``parameters``), give the schema it
describes and run through the runner's contract on a real kernel, writing ``scaled.nc``
with its units. Edit the README and this follows; break it and it fails."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import xarray as xr
from nagelfluh_runner.notebook_schema import notebook_schema
from nbformat.v4 import new_code_cell, new_notebook

from .conftest import PROJECT, RunnerJobs
from .test_notebook_type import by_key, run_notebook_job, units

README = Path(__file__).resolve().parents[2] / "README.md"
HEADING = "## From notebook to process type in one minute"


def walkthrough() -> dict:
    text = README.read_text()
    start = text.index(HEADING + "\n")
    end = re.compile(r"^## ", re.M).search(text, start + len(HEADING))
    parameters, body = re.findall(r"^```python\n(.*?)^```", text[start : end.start()], re.M | re.S)[
        :2
    ]
    cell = new_code_cell(parameters, metadata={"tags": ["parameters"]})
    return new_notebook(cells=[cell, new_code_cell(body)])


def test_the_readme_notebooks_schema_is_the_one_it_describes():
    schema = notebook_schema(walkthrough())
    properties = schema["properties"]
    assert list(properties) == ["signal", "scale", "window"]
    assert properties["signal"]["format"] == "nagelfluh-dataset"
    assert properties["signal"]["x-nagelfluh-readable"] is True
    assert (properties["scale"]["title"], properties["scale"]["maximum"]) == ("Scale", 10)
    assert properties["window"]["enum"] == ["none", "hann", "hamming"]
    assert schema["required"] == ["signal"]
    assert schema["description"] == "Scales a signal and writes it as a table."


def test_the_readme_notebook_runs_and_writes_its_output_with_units(tmp_path: Path):
    uploads = tmp_path / str(PROJECT) / "uploads" / "1"
    uploads.mkdir(parents=True)
    xr.Dataset(
        {"amplitude": ("time", np.array([1.0, -1.0]), {"units": "mm/s"})},
        coords={"time": ("time", np.array([0.0, 0.5]), {"units": "s"})},
    ).to_netcdf(uploads / "signal.nc", engine="scipy")
    inputs = {
        "3": {
            "key": f"{PROJECT}/uploads/1/signal.nc",
            "mime_type": "application/x-netcdf",
            "name": "signal.nc",
        }
    }
    jobs = RunnerJobs(tmp_path)

    done = run_notebook_job(
        jobs, walkthrough(), {"signal": "dataset:3", "scale": 3.0}, inputs=inputs
    )

    assert done.returncode == 0, done.stderr
    assert "rms 3.0" in done.stdout.splitlines()
    scaled = by_key(jobs.manifest())["scaled.nc"]
    assert units(scaled)["amplitude"] == "mm/s"
