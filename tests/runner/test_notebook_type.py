"""A registered notebook run through ``python -m nagelfluh_runner run`` with
``NAGELFLUH_NOTEBOOK`` set: parameters, dataset inputs, outputs described with their
units, the executed notebook always stored, failures naming the cell; and the same run
inside the local executor's sandbox. Real kernels, as a user's run gets them."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pytest
import xarray as xr
from nagelfluh_runner.notebook_run import NOTEBOOK_MIME_TYPE
from nagelfluh_runner.protocol import ENV_NOTEBOOK, PROGRESS_PREFIX, RUNNER_ERROR_PREFIX
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from .conftest import PROJECT, RunnerJobs

TYPE = "scale-survey"
TCP_WARNING = "without encryption"

PARAMETERS = '''"""Scale a resistivity survey."""
from nagelfluh_runner import Dataset
survey: Dataset["netcdf"]  #: Survey: the resistivity profile
table: Dataset["csv"]  # the depth table
scale: float = 1.0  # range: 0..10
label = "run"
'''

BODY = """
import os
import numpy as np
import xarray as xr

ds = xr.open_dataset(survey)
print("SURVEY", ds["rho"].attrs["units"], float(ds["rho"][0]))
print("TABLE", open(table).read().splitlines()[0])
out = xr.Dataset(
    {"rho": ("depth", ds["rho"].values * scale, {"units": "ohm m"})},
    coords={"depth": ("depth", ds["depth"].values, {"units": "m"})},
    attrs={"title": "Scaled survey"},
)
out.to_netcdf(os.path.join(nagelfluh_output_dir, "scaled.nc"))
out.to_zarr(os.path.join(nagelfluh_output_dir, "scaled.zarr"), zarr_format=3, consolidated=False)
with open(os.path.join(nagelfluh_output_dir, "summary.csv"), "w") as f:
    f.write("depth [m],rho [ohm m]\\n1,2\\n3,4\\n")
os.makedirs(os.path.join(nagelfluh_output_dir, "notes"))
with open(os.path.join(nagelfluh_output_dir, "notes", "label.txt"), "w") as f:
    f.write(label)
"""


def notebook(*body: str, parameters: str = PARAMETERS) -> dict[str, Any]:
    cells = [new_markdown_cell("# Scale a survey")]
    cells.append(new_code_cell(parameters, metadata={"tags": ["parameters"]}))
    cells += [new_code_cell(source) for source in body]
    return new_notebook(cells=cells)


def store_notebook(root: Path, nb: dict[str, Any], project: int = PROJECT) -> str:
    """Store ``nb`` as the server does (content-addressed, under the project's types/)."""
    raw = json.dumps(nb, sort_keys=True, indent=1).encode()
    key = f"{project}/types/sha256-{hashlib.sha256(raw).hexdigest()}.ipynb"
    (root / key).parent.mkdir(parents=True, exist_ok=True)
    (root / key).write_bytes(raw)
    return key


def store_inputs(root: Path) -> dict[str, dict[str, str]]:
    """A NetCDF survey (dataset 11) and a CSV table (dataset 12) uploaded to the project;
    INPUT_DATASETS_JSON for them."""
    uploads = root / str(PROJECT) / "uploads" / "1"
    uploads.mkdir(parents=True)
    survey = xr.Dataset(
        {"rho": ("depth", np.array([10.0, 20.0, 30.0]), {"units": "ohm m"})},
        coords={"depth": ("depth", np.array([1.0, 2.0, 3.0]), {"units": "m"})},
    )
    survey.to_netcdf(uploads / "survey.nc", engine="scipy")
    (uploads / "table.csv").write_text("depth [m],layer\n1,clay\n")
    prefix = f"{PROJECT}/uploads/1/"
    return {
        "11": {"key": f"{prefix}survey.nc", "mime_type": "application/x-netcdf", "name": "x.nc"},
        "12": {"key": f"{prefix}table.csv", "mime_type": "text/csv", "name": "table.csv"},
    }


def run_notebook_job(jobs: RunnerJobs, nb: dict[str, Any], params: dict[str, Any], **kwargs: Any):
    env = jobs.env(TYPE, params, **kwargs)
    env[ENV_NOTEBOOK] = store_notebook(jobs.root, nb)
    return jobs.start(env)


def by_key(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["key"]: entry for entry in manifest["datasets"]}


def units(entry: dict[str, Any]) -> dict[str, str | None]:
    return {variable["name"]: variable["units"] for variable in entry["variables"]}


def last_error(stderr: str) -> str:
    return stderr.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def survey_run(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("storage")
    jobs = RunnerJobs(root)
    params = {"survey": "dataset:11", "table": "dataset:12", "scale": 2.0}
    done = run_notebook_job(jobs, notebook(BODY), params, inputs=store_inputs(root))
    return jobs, done


def test_a_notebook_type_runs_with_its_parameters_and_dataset_inputs(survey_run):
    _, done = survey_run
    assert done.returncode == 0, done.stderr
    assert "SURVEY ohm m 10.0" in done.stdout.splitlines()
    assert "TABLE depth [m],layer" in done.stdout.splitlines()


def test_the_log_shows_each_cell_and_progress_ends_at_one(survey_run):
    _, done = survey_run
    lines = done.stdout.splitlines()
    assert any(line.startswith("[cell 1/3] ") for line in lines)
    assert [line for line in lines if line.startswith(PROGRESS_PREFIX)][-1] == PROGRESS_PREFIX + "1"


def test_no_line_of_the_log_warns_about_unencrypted_kernel_sockets(survey_run):
    _, done = survey_run
    assert TCP_WARNING not in done.stdout + done.stderr


def test_netcdf_csv_and_zarr_outputs_are_registered_with_their_units(survey_run):
    jobs, _ = survey_run
    outputs = by_key(jobs.manifest())
    netcdf = outputs["scaled.nc"]
    assert netcdf["mime_type"] == "application/x-netcdf"
    assert netcdf["title"] == "Scaled survey"
    assert units(netcdf) == {"depth": "m", "rho": "ohm m"}
    assert netcdf["dims"] == {"depth": 3}
    csv = outputs["summary.csv"]
    assert csv["mime_type"] == "text/csv"
    assert csv["metadata"]["units"] == {"depth": "m", "rho": "ohm m"}
    assert units(csv) == {"depth": "m", "rho": "ohm m"}
    zarr = outputs["scaled.zarr"]
    assert zarr["path"].endswith("/scaled.zarr/")
    assert units(zarr) == {"depth": "m", "rho": "ohm m"}


def test_other_files_and_files_in_folders_are_plain_outputs(survey_run):
    jobs, _ = survey_run
    label = by_key(jobs.manifest())["notes/label.txt"]
    assert label["mime_type"] == "text/plain"
    assert jobs.output_path(label).read_text() == "run"


def test_every_output_lies_under_the_versions_own_prefix(survey_run):
    jobs, _ = survey_run
    for entry in jobs.manifest()["datasets"]:
        assert entry["path"].startswith(f"{PROJECT}/processes/1/v1/")
        assert jobs.output_path(entry).exists()


def test_the_executed_notebook_is_an_output_with_the_cells_outputs(survey_run):
    jobs, _ = survey_run
    entry = by_key(jobs.manifest())[f"{TYPE}.executed.ipynb"]
    assert entry["mime_type"] == NOTEBOOK_MIME_TYPE
    executed = nbformat.read(jobs.output_path(entry), as_version=4)
    nbformat.validate(executed)
    printed = "".join(
        output.get("text", "") for cell in executed.cells for output in cell.get("outputs", [])
    )
    assert "SURVEY ohm m 10.0" in printed


def test_a_failing_cell_exits_1_naming_the_cell_and_keeps_the_executed_notebook(jobs):
    nb = notebook("x = 1", "y = 1 / 0", "print('never')")
    done = run_notebook_job(jobs, nb, {"survey": "dataset:11", "table": "dataset:12"},
                            inputs=store_inputs(jobs.root))  # fmt: skip
    assert done.returncode == 1
    # cell 1 is the injected parameters, cell 2 the parameters cell
    expected = f"{RUNNER_ERROR_PREFIX}cell 4 failed: ZeroDivisionError: division by zero"
    assert last_error(done.stderr) == expected
    entry = by_key(jobs.manifest())[f"{TYPE}.executed.ipynb"]
    executed = nbformat.read(jobs.output_path(entry), as_version=4)
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert [error.ename for error in errors] == ["ZeroDivisionError"]


def test_a_syntax_error_exits_1_naming_the_cell_and_keeps_the_executed_notebook(jobs):
    nb = notebook("def broken(:", parameters="scale = 1.0")
    done = run_notebook_job(jobs, nb, {})
    assert done.returncode == 1
    assert last_error(done.stderr).startswith(f"{RUNNER_ERROR_PREFIX}cell 3 failed: SyntaxError")
    assert f"{TYPE}.executed.ipynb" in by_key(jobs.manifest())


def test_a_netcdf_output_without_units_fails_the_run_naming_it_after_storing_the_rest(jobs):
    body = """
import os
import xarray as xr
xr.Dataset({"rho": ("x", [1.0, 2.0])}).to_netcdf(os.path.join(nagelfluh_output_dir, "bare.nc"))
open(os.path.join(nagelfluh_output_dir, "ok.txt"), "w").write("fine")
"""
    done = run_notebook_job(jobs, notebook(body, parameters="scale = 1.0"), {})
    assert done.returncode == 1
    assert last_error(done.stderr).startswith(
        f"{RUNNER_ERROR_PREFIX}output bare.nc: bare.nc: variable 'rho' has no 'units' attribute"
    )
    assert set(by_key(jobs.manifest())) == {"ok.txt", f"{TYPE}.executed.ipynb"}


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"scale": 20.0}, "parameter /scale: 20.0 is greater than the maximum of 10"),
        ({"scale": "big"}, "parameter /scale: 'big' is not of type 'number'"),
        ({"scale": 1.0, "other": 1}, "parameter"),
    ],
)
def test_invalid_parameters_exit_2_with_one_line_before_any_kernel_starts(jobs, params, reason):
    nb = notebook("raise SystemExit('must not run')", parameters="scale = 1.0  # range: 0..10")
    done = run_notebook_job(jobs, nb, params)
    assert done.returncode == 2
    assert last_error(done.stderr).startswith(f"{RUNNER_ERROR_PREFIX}{reason}")
    assert "[cell" not in done.stdout


@pytest.mark.parametrize(
    "key",
    [
        "8/types/sha256-abc.ipynb",  # another project's notebook
        f"{PROJECT}/types/../../8/types/sha256-abc.ipynb",
        f"{PROJECT}/uploads/1/mine.ipynb",  # the project's, but no registered type
        f"/{PROJECT}/types/sha256-abc.ipynb",
    ],
)
def test_a_notebook_outside_the_projects_types_is_refused(jobs, key):
    other = jobs.root / "8" / "types"
    other.mkdir(parents=True)
    (other / "sha256-abc.ipynb").write_text(json.dumps(notebook("print('ran')")))
    env = jobs.env(TYPE, {})
    env[ENV_NOTEBOOK] = key
    done = jobs.start(env)
    assert done.returncode == 2
    assert last_error(done.stderr).startswith(RUNNER_ERROR_PREFIX)
    assert "ran" not in done.stdout


def test_a_notebook_missing_from_storage_exits_2(jobs):
    env = jobs.env(TYPE, {})
    env[ENV_NOTEBOOK] = f"{PROJECT}/types/sha256-gone.ipynb"
    done = jobs.start(env)
    assert done.returncode == 2
    assert last_error(done.stderr) == (
        f"{RUNNER_ERROR_PREFIX}the notebook {PROJECT}/types/sha256-gone.ipynb is not in storage"
    )


class _Events:
    """The ExecutorEvents of one run: its log lines and its outcome."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.outcome: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def run_queued(self, key: Any, message: str | None) -> None: ...

    async def run_started(self, key: Any) -> None: ...

    async def run_progress(self, key: Any, progress: float) -> None: ...

    async def run_logs(self, key: Any, lines: list[Any]) -> None:
        self.lines += [line.line for line in lines]

    async def run_finished(self, key: Any, outcome: Any) -> None:
        self.outcome.set_result(outcome)


async def test_a_notebook_runs_in_the_local_executors_sandbox(tmp_path: Path, started):
    """The local executor's own command line (bubblewrap: no network, read-only root,
    HOME and TMPDIR its private /tmp): the kernel starts, talks to nbclient over the
    sandbox's loopback, and the outputs land in storage."""
    from nagelfluh_lab.executors.base import RunKey, RunSpec
    from nagelfluh_lab.executors.local import LocalExecutor

    root = tmp_path / "storage"
    root.mkdir()
    inputs = store_inputs(root)
    key = store_notebook(root, notebook(BODY, "import socket; print('HOST', socket.gethostname())"))
    events = _Events()
    executor = LocalExecutor(
        work_dir=str(tmp_path / "work"), quota_cpu=4.0, quota_memory=8 * 2**30,
        stop_runs_on_shutdown=True,
    )  # fmt: skip
    executor.bind(events)
    await started(executor)
    assert executor._bwrap is not None, "bubblewrap is not usable here"
    spec = RunSpec(
        key=RunKey(1, 1), project_id=PROJECT, process_type=TYPE,
        parameters={"survey": "dataset:11", "table": "dataset:12", "scale": 3.0},
        input_datasets=inputs, cpu=1.0, memory=2 * 2**30, deadline_seconds=120.0,
        storage_base=root.as_uri(), storage_env={ENV_NOTEBOOK: key},
    )  # fmt: skip
    await executor.submit(spec)
    outcome = await asyncio.wait_for(events.outcome, 120)
    assert outcome.state == "completed", (outcome, events.lines[-20:])
    assert "HOST nagelfluh" in events.lines  # the sandbox's own hostname: it ran inside
    assert TCP_WARNING not in "\n".join(events.lines)
    manifest = RunnerJobs(root).manifest()
    outputs = by_key(manifest)
    assert units(outputs["scaled.nc"]) == {"depth": "m", "rho": "ohm m"}
    assert f"{TYPE}.executed.ipynb" in outputs


def test_a_notebook_is_read_from_and_writes_to_s3_storage(s3_storage, jobs):
    body = """
import os
open(os.path.join(nagelfluh_output_dir, "scale.txt"), "w").write(str(scale))
"""
    raw = json.dumps(notebook(body, parameters="scale = 1.0")).encode()
    key = f"{PROJECT}/types/sha256-{hashlib.sha256(raw).hexdigest()}.ipynb"
    s3_storage.write_bytes(key, raw)
    env = {**jobs.env(TYPE, {"scale": 4.5}), **s3_storage.runner_env(), ENV_NOTEBOOK: key}
    done = jobs.start(env)
    assert done.returncode == 0, done.stderr
    manifest = json.loads(s3_storage.read_bytes(f"{PROJECT}/processes/1/v1/_manifest.json"))
    outputs = by_key(manifest)
    assert s3_storage.read_bytes(outputs["scale.txt"]["path"]) == b"4.5"
    assert outputs[f"{TYPE}.executed.ipynb"]["mime_type"] == NOTEBOOK_MIME_TYPE


def test_a_whole_number_for_a_float_parameter_arrives_as_a_float(tmp_path: Path):
    jobs = RunnerJobs(tmp_path)
    nb = notebook(
        "print('SCALE', repr(scale), repr(sizes), repr(count))",
        parameters="scale: float = 1.0\nsizes: list[float] = [0.5]\ncount = 2\n",
    )

    done = run_notebook_job(jobs, nb, {"scale": 3, "sizes": [1, 2], "count": 4})

    assert done.returncode == 0, done.stderr
    assert "SCALE 3.0 [1.0, 2.0] 4" in done.stdout.splitlines()


@pytest.mark.parametrize("stored", [b"not json", b"\xff\xfe", b"[1, 2]", b"{}"])
def test_stored_bytes_that_are_no_notebook_exit_2_naming_the_key(jobs, stored):
    key = f"{PROJECT}/types/sha256-broken.ipynb"
    (jobs.root / key).parent.mkdir(parents=True, exist_ok=True)
    (jobs.root / key).write_bytes(stored)
    env = jobs.env(TYPE, {})
    env[ENV_NOTEBOOK] = key
    done = jobs.start(env)
    assert done.returncode == 2
    assert last_error(done.stderr).startswith(
        f"{RUNNER_ERROR_PREFIX}the notebook {key}: not a notebook nbformat reads: ")
