"""The README's "Writing a process type" runs as written: its Python blocks make the
example type, its TOML block registers it, its bash block's environment runs it through
the runner's contract, and every example of its helper table runs against a real
StorageContext. Edit the README and these follow; break it and they fail."""

from __future__ import annotations

import importlib
import json
import os
import re
import shlex
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import xarray as xr
from nagelfluh_runner import InputDataset, ParameterError, StorageContext
from nagelfluh_runner.netcdf import prepare, write_netcdf
from nagelfluh_runner.protocol import EXIT_OK, EXIT_USAGE, PROGRESS_PREFIX
from nagelfluh_runner.registry import GROUP
from nagelfluh_runner.storage import open_storage

from tests.runner.conftest import RunnerJobs

README = Path(__file__).resolve().parents[2] / "README.md"
HEADING = "### Writing a process type"
SAMPLES, RATE = 1000, 100.0


def section() -> str:
    text = README.read_text()
    start = text.index(HEADING + "\n") + len(HEADING)
    end = re.compile(r"^#{2,3} ", re.M).search(text, start)
    return text[start : end.start() if end else None]


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", section(), re.M | re.S)


def table_examples() -> list[str]:
    """The inline code of the helper table's example column, row by row."""
    rows = [line for line in section().splitlines() if line.startswith("| ")]
    assert rows[0].split("|")[1:3] == [" helper ", " example "], rows[0]
    examples = []
    for row in rows[1:]:
        cell = row.rstrip().rstrip("|").rsplit("|", 1)[1].strip()
        assert cell.startswith("`") and cell.endswith("`"), row
        examples.append(cell[1:-1])
    return examples


def contract_env() -> dict[str, str]:
    """The variables the bash block sets before ``python -m nagelfluh_runner run``."""
    [block] = blocks("bash")
    words = shlex.split(block.replace("\\\n", " "))
    assert words[-4:] == ["python", "-m", "nagelfluh_runner", "run"], words
    return dict(word.split("=", 1) for word in words[:-4])


def entry_point() -> tuple[str, str]:
    """``(name, "module:attr")`` of the TOML block's one entry point."""
    [toml] = blocks("toml")
    header, *entries = toml.splitlines()
    assert header == f'[project.entry-points."{GROUP}"]', header
    [entry] = entries
    name, target = re.fullmatch(r'([\w.-]+) = "([\w.]+:[\w.]+)"', entry).groups()
    return name, target


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """The example as an installed distribution: its module from the Python blocks, its
    entry point from the TOML block."""
    site = tmp_path / "site"
    name, target = entry_point()
    module = target.partition(":")[0]
    (site / "readme_example-1.0.dist-info").mkdir(parents=True)
    (site / "readme_example-1.0.dist-info" / "entry_points.txt").write_text(
        f"[{GROUP}]\n{name} = {target}\n"
    )
    (site / f"{module}.py").write_text("\n".join(blocks("python")))
    return site


@pytest.fixture
def storage_root(tmp_path: Path) -> Path:
    """File storage holding the input the bash block names: a noisy 2 Hz signal."""
    root = tmp_path / "store"
    key = json.loads(contract_env()["INPUT_DATASETS_JSON"])["1"]["key"]
    time = np.arange(SAMPLES) / RATE
    amplitude = np.sin(2 * np.pi * 2 * time) + np.random.default_rng(3).normal(0, 0.1, SAMPLES)
    amplitude[700] = 5.0
    sizes, variables = prepare(
        None,
        {
            "time": (("time",), time, {"units": "s"}),
            "amplitude": (("time",), amplitude, {"units": "mm/s"}),
        },
    )
    (root / key).parent.mkdir(parents=True)
    with open(root / key, "wb") as handle:
        write_netcdf(handle, sizes, variables, {})
    return root


def run_example(site: Path, storage_root: Path, **parameters: object):
    env = {
        **contract_env(),
        "STORAGE_BASE": storage_root.as_uri(),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(site),
    }
    if parameters:
        env["PARAMETERS_JSON"] = json.dumps({**json.loads(env["PARAMETERS_JSON"]), **parameters})
    return RunnerJobs(storage_root).start(env)


def test_the_readme_type_runs_through_the_runners_contract(site, storage_root):
    result = run_example(site, storage_root)

    assert result.returncode == EXIT_OK, result.stderr
    assert result.stderr == ""
    env = contract_env()
    window = json.loads(env["PARAMETERS_JSON"])["window"]
    lines = result.stdout.splitlines()
    assert f"signal.nc: {SAMPLES} samples in mm/s, {SAMPLES // window} windows" in lines
    assert f"{PROGRESS_PREFIX}0.5" in lines
    version = storage_root / env["PROJECT_ID"] / "processes" / env["PROCESS_ID"] / "v1"
    manifest = json.loads((version / "_manifest.json").read_text())
    outputs = {d["key"]: d for d in manifest["datasets"]}
    assert sorted(outputs) == ["envelope.nc", "loudest.csv"]
    assert outputs["loudest.csv"]["metadata"] == {"units": {"time": "s", "envelope": "mm/s"}}
    with xr.open_dataset(version / "envelope.nc") as envelope:
        assert envelope["envelope"].attrs["units"] == "mm/s"
        assert envelope["envelope"].size == SAMPLES // window
        assert float(envelope["envelope"].max()) == 5.0
    assert (version / "loudest.csv").read_text() == "time,envelope\n7.0,5.0\n"


def test_a_parameter_the_readme_type_refuses_exits_2_naming_it(site, storage_root):
    result = run_example(site, storage_root, window=SAMPLES + 1)

    assert result.returncode == EXIT_USAGE
    assert result.stderr.splitlines() == [
        f"nagelfluh-runner: error: parameter /window: {SAMPLES + 1} is longer than the signal"
    ]


def test_the_readme_types_schema_makes_a_form(site, monkeypatch):
    monkeypatch.syspath_prepend(str(site))
    module, _, attr = entry_point()[1].partition(":")
    described = getattr(importlib.import_module(module), attr).describe()

    jsonschema.Draft202012Validator.check_schema(described["schema"])
    assert described["title"] and described["description"]
    for name, prop in described["schema"]["properties"].items():
        assert prop["title"] and prop["description"], name
        assert "default" in prop or prop.get("format") == "nagelfluh-dataset", name


def test_every_example_of_the_readme_helper_table_runs(storage_root):
    storage = open_storage(storage_root.as_uri())
    env = contract_env()
    key = json.loads(env["INPUT_DATASETS_JSON"])["1"]["key"]
    namespace = {
        "ctx": StorageContext(storage, env["PROJECT_ID"], "2", 1, process_type="envelope"),
        "signal": InputDataset("1", key, "application/x-netcdf", "signal.nc", storage),
        "ParameterError": ParameterError,
    }
    examples = table_examples()
    assert len(examples) >= 10

    for example in examples:
        if example.startswith("raise "):
            with pytest.raises(ParameterError):
                exec(example, namespace)
        else:
            exec(example, namespace)

    ctx = namespace["ctx"]
    assert sorted(ctx.outputs) == ["gain.nc", "notes.txt", "signal.zarr", "trace.bin"]
    assert namespace["units"] == "mm/s" and namespace["uploads"] == [key]
    ctx.write_manifest()
    with xr.open_dataset(storage_root / ctx.prefix / "gain.nc") as gain:
        assert gain["gain"].attrs["units"] == "1"
    with xr.open_zarr(storage_root / ctx.prefix / "signal.zarr", consolidated=False) as store:
        assert store["amplitude"].attrs["units"] == "mm/s"
        assert store.attrs["title"] == "Signal, as Zarr"


def test_the_readme_zarr_example_writes_a_store_that_reads_back_chunk_by_chunk(
    site, storage_root, monkeypatch
):
    monkeypatch.syspath_prepend(str(site))
    module = importlib.import_module(entry_point()[1].partition(":")[0])
    storage = open_storage(storage_root.as_uri())
    env = contract_env()
    key = json.loads(env["INPUT_DATASETS_JSON"])["1"]["key"]
    ctx = StorageContext(storage, env["PROJECT_ID"], "3", 1, process_type="envelope")
    signal = InputDataset("1", key, "application/x-netcdf", "signal.nc", storage)

    entry = module.envelope_store(ctx, signal)

    assert entry["path"].endswith("/envelope.zarr/") and entry["objects"] > 1
    store = InputDataset("2", entry["path"], entry["mime_type"], "envelope.zarr", storage)
    assert store.load()["envelope"].attrs["units"] == "mm/s"
    expected = np.abs(signal.load()["amplitude"].values[:10])
    np.testing.assert_array_equal(module.first_values(store, "envelope"), expected)
    store.close()


def test_every_public_helper_of_the_storage_context_is_in_the_readme():
    documented = section()
    public = [n for n in vars(StorageContext) if not n.startswith("_")]
    helpers = {"read_bytes", "open_read", "exists", "list", "write_bytes", "open_write",
               "write_netcdf", "write_zarr", "log", "progress"}  # fmt: skip
    assert helpers <= set(public)
    for name in helpers:
        assert f"ctx.{name}(" in documented, name
    for name in ("load", "read_bytes", "open", "size", "local_path"):
        assert f"signal.{name}(" in documented, name
