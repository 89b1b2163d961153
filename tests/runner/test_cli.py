"""The execution contract through real subprocesses: env in; outputs, manifest, logs, exit out."""

from __future__ import annotations

import json
import platform
import resource
import subprocess
import sys
import time

import numpy as np
import pytest
import xarray as xr
from nagelfluh_runner.bootstrap.gravity import MGAL, G
from nagelfluh_runner.protocol import (
    CONTRACT_VERSION,
    ENV_CONTRACT_VERSION,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_OOM,
    EXIT_USAGE,
    parse_progress,
)


def _progress(stdout: str) -> list[float]:
    return [p for p in map(parse_progress, stdout.splitlines()) if p is not None]


def _one_line_error(result: subprocess.CompletedProcess, code: int) -> str:
    assert result.returncode == code, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("nagelfluh-runner: error: ")
    return lines[0].removeprefix("nagelfluh-runner: error: ")


def test_synthetic_signal_writes_a_netcdf_with_units_and_a_manifest(jobs):
    result = jobs.run("synthetic-signal", {"duration": 2, "sample_rate": 80})
    assert result.returncode == EXIT_OK, result.stderr
    assert result.stderr == ""
    progress = _progress(result.stdout)
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert "generating 160 samples at 80 Hz" in result.stdout
    manifest = jobs.manifest()
    assert manifest["contract_version"] == CONTRACT_VERSION
    assert manifest["process_type"] == "synthetic-signal"
    assert (manifest["process"], manifest["version"], manifest["project"]) == (1, 1, 7)
    (signal,) = manifest["datasets"]
    assert signal["key"] == "signal.nc"
    assert signal["path"] == "7/processes/1/v1/signal.nc"
    assert signal["mime_type"] == "application/x-netcdf"
    assert signal["dims"] == {"time": 160}
    assert [(v["name"], v["units"]) for v in signal["variables"]] == [
        ("time", "s"),
        ("amplitude", "mm/s"),
    ]
    path = jobs.output_path(signal)
    assert signal["size"] == path.stat().st_size
    with xr.open_dataset(path) as ds:
        assert ds["amplitude"].attrs["units"] == "mm/s"
        assert ds["time"].attrs["units"] == "s"
        assert ds["time"].values[-1] == pytest.approx(1.9875)


def test_fft_of_a_synthetic_signal_peaks_at_the_component_frequency(jobs):
    signal_params = {
        "components": [{"frequency": 7.5, "amplitude": 2.0}, {"frequency": 20, "amplitude": 0.5}],
        "noise_level": 0.05,
        "units": "nm",
    }
    assert jobs.run("synthetic-signal", signal_params).returncode == EXIT_OK
    inputs = jobs.inputs_from(jobs.manifest(), "41", "signal.nc")
    result = jobs.run("fft", {"signal": "dataset:41"}, process=2, inputs=inputs)
    assert result.returncode == EXIT_OK, result.stderr
    assert "peak 1: 7.5 Hz" in result.stdout
    (spectrum,) = jobs.manifest(process=2)["datasets"]
    with xr.open_dataset(jobs.output_path(spectrum)) as ds:
        assert ds["frequency"].attrs["units"] == "Hz"
        assert ds["amplitude"].attrs["units"] == "nm"
        peak = int(np.argmax(ds["amplitude"].values))
        assert float(ds["frequency"][peak]) == pytest.approx(7.5)
        assert float(ds["amplitude"][peak]) == pytest.approx(2.0, rel=0.05)
        assert ds.attrs["window"] == "hann"


def test_synthetic_survey_peak_matches_the_attraction_of_a_sphere(jobs):
    body = {
        "latitude": 47.05,
        "longitude": 8.5,
        "depth": 1000.0,
        "radius": 400.0,
        "density_contrast": 500.0,
    }
    area = {"lat_min": 47.0, "lat_max": 47.1, "lon_min": 8.45, "lon_max": 8.55}
    params = {**area, "nx": 11, "ny": 11, "bodies": [body], "noise": 0}
    result = jobs.run("synthetic-survey", params)
    assert result.returncode == EXIT_OK, result.stderr
    (survey,) = jobs.manifest()["datasets"]
    with xr.open_dataset(jobs.output_path(survey)) as ds:
        assert ds.sizes["station"] == 121
        assert ds["latitude"].attrs["units"] == "degrees_north"
        assert ds["longitude"].attrs["units"] == "degrees_east"
        assert ds["gravity_anomaly"].attrs["units"] == "mGal"
        mass = 4 / 3 * np.pi * 400.0**3 * 500.0
        assert float(ds["gravity_anomaly"].max()) == pytest.approx(
            G * mass / 1000.0**2 * MGAL, rel=1e-6
        )
        top = int(np.argmax(ds["gravity_anomaly"].values))
        assert (float(ds["latitude"][top]), float(ds["longitude"][top])) == pytest.approx(
            (47.05, 8.5)
        )


@pytest.mark.parametrize("regularization", ["smoothness", "damping"])
def test_inversion_of_a_synthetic_survey_explains_the_data(jobs, regularization):
    assert jobs.run("synthetic-survey", {}).returncode == EXIT_OK
    inputs = jobs.inputs_from(jobs.manifest(), "9", "survey.nc")
    params = {"survey": "dataset:9", "regularization": regularization}
    result = jobs.run("inversion", params, process=2, inputs=inputs)
    assert result.returncode == EXIT_OK, result.stderr
    assert "RMS misfit" in result.stdout
    outputs = {d["key"]: d for d in jobs.manifest(process=2)["datasets"]}
    assert set(outputs) == {"model.nc", "misfit.nc"}
    with xr.open_dataset(jobs.output_path(outputs["misfit.nc"])) as misfit:
        observed_rms = float(np.sqrt((misfit["observed"] ** 2).mean()))
        assert misfit.attrs["rms_misfit"] < 0.15 * observed_rms
        assert float(np.sqrt((misfit["residual"] ** 2).mean())) == pytest.approx(
            misfit.attrs["rms_misfit"]
        )
        assert misfit["residual"].attrs["units"] == "mGal"
    with xr.open_dataset(jobs.output_path(outputs["model.nc"])) as model:
        density = model["density_contrast"]
        assert density.attrs["units"] == "kg/m^3"
        assert density.dims == ("latitude", "longitude")
        densest = density.where(density == density.max(), drop=True)
        # the default survey's dense sphere lies at 47.06 N, 8.45 E
        assert float(densest["latitude"][0]) == pytest.approx(47.06, abs=0.015)
        assert float(densest["longitude"][0]) == pytest.approx(8.45, abs=0.02)


def test_sleep_ticks_every_second_and_writes_an_empty_manifest(jobs):
    result = jobs.run("sleep", {"seconds": 1.2})
    assert result.returncode == EXIT_OK, result.stderr
    assert "tick 1: 1 of 1.2 s" in result.stdout
    assert "tick 2: 1.2 of 1.2 s" in result.stdout
    assert _progress(result.stdout)[-1] == 1.0
    assert jobs.manifest()["datasets"] == []


def test_logs_stream_while_the_process_runs(jobs):
    started = time.monotonic()
    with subprocess.Popen(
        [sys.executable, "-m", "nagelfluh_runner", "run"],
        env=jobs.env("sleep", {"seconds": 3}),
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        first = process.stdout.readline()
        first_at = time.monotonic() - started
        process.communicate()
    assert first == "sleeping 3 s\n"
    assert first_at < 2.5


def test_sleep_zero_starts_without_numpy_or_jsonschema(jobs):
    code = (
        "import runpy, sys\n"
        "sys.argv = ['nagelfluh_runner', 'run']\n"
        "try:\n"
        "    runpy.run_module('nagelfluh_runner', run_name='__main__')\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0, exit.code\n"
        "sys.stderr.write(' '.join(sys.modules))\n"
    )
    env = jobs.env("sleep", {"seconds": 0})
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    imported = set(result.stderr.split())
    assert "nagelfluh_runner.bootstrap.sleep" in imported
    assert not {m for m in imported if m.split(".")[0] in ("numpy", "jsonschema", "boto3")}


def test_invalid_parameter_exits_2_with_one_line_naming_its_path(jobs):
    result = jobs.run("sleep", {"seconds": -1})
    assert (
        _one_line_error(result, EXIT_USAGE)
        == "parameter /seconds: -1 is less than the minimum of 0"
    )
    assert result.stdout == ""


def test_every_invalid_parameter_is_reported_on_the_same_line(jobs):
    result = jobs.run(
        "synthetic-signal", {"duration": "long", "components": [{"frequency": -2}], "color": 1}
    )
    message = _one_line_error(result, EXIT_USAGE)
    assert "parameter /duration: 'long' is not of type 'number'" in message
    assert "parameter /components/0/frequency: -2 is less than the minimum of 0" in message
    assert "'color' was unexpected" in message


def test_unknown_type_exits_2_with_one_line_error(jobs):
    message = _one_line_error(jobs.run("no-such-type", {}), EXIT_USAGE)
    assert message.startswith("unknown process type 'no-such-type' (known: fft, inversion, sleep")


@pytest.mark.parametrize(
    "variable",
    ["PROCESS_TYPE", "PROCESS_ID", "VERSION", "PROJECT_ID", "PARAMETERS_JSON", "STORAGE_BASE"],
)
def test_missing_environment_exits_2_naming_the_variable(jobs, variable):
    env = jobs.env("sleep", {"seconds": 0})
    del env[variable]
    assert (
        _one_line_error(jobs.start(env), EXIT_USAGE) == f"missing environment variable {variable}"
    )


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("PARAMETERS_JSON", "{seconds: 1}", "PARAMETERS_JSON is not valid JSON"),
        ("PARAMETERS_JSON", '{"seconds": NaN}', "PARAMETERS_JSON is not valid JSON"),
        ("PARAMETERS_JSON", "[1]", "PARAMETERS_JSON must be a JSON object"),
        ("VERSION", "0", "VERSION must be a positive integer"),
        ("PROJECT_ID", "../8", "PROJECT_ID must be letters, digits"),
        ("PROCESS_ID", "1/v2", "PROCESS_ID must be letters, digits"),
        ("STORAGE_BASE", "ftp://x/y", "STORAGE_BASE: unsupported storage URL"),
    ],
)
def test_malformed_environment_exits_2_with_one_line(jobs, name, value, expected):
    env = jobs.env("sleep", {"seconds": 0})
    env[name] = value
    assert _one_line_error(jobs.start(env), EXIT_USAGE).startswith(expected)


def test_parameters_that_contradict_each_other_exit_2_naming_the_field(jobs):
    result = jobs.run("synthetic-signal", {"sample_rate": 20, "components": [{"frequency": 15}]})
    message = _one_line_error(result, EXIT_USAGE)
    assert message.startswith("parameter /components/0/frequency: 15 Hz is not below the Nyquist")


@pytest.fixture
def uploaded_csv(jobs):
    path = jobs.root / "7" / "uploads" / "notes.csv"
    path.parent.mkdir(parents=True)
    path.write_text("time,value\n0,1\n")
    return {"5": {"key": "7/uploads/notes.csv", "mime_type": "text/csv", "name": "notes.csv"}}


@pytest.mark.parametrize(
    ("signal", "inputs", "expected"),
    [
        (
            "dataset:5",
            {"5": {"key": "8/uploads/theirs.nc"}},
            "parameter /signal: dataset 5 is outside project 7",
        ),
        (
            "dataset:5",
            {"5": {"key": "7/../8/uploads/x.nc"}},
            "parameter /signal: dataset 5: storage key",
        ),
        (
            "dataset:6",
            {"5": {"key": "7/uploads/a.nc"}},
            "parameter /signal: dataset 6 is not in INPUT_DATASETS_JSON",
        ),
        ("notes.csv", {}, "parameter /signal: 'notes.csv' does not match '^dataset:.+'"),
    ],
)
def test_dataset_references_that_do_not_resolve_in_the_project_exit_2(
    jobs, signal, inputs, expected
):
    result = jobs.run("fft", {"signal": signal}, inputs=inputs)
    assert _one_line_error(result, EXIT_USAGE).startswith(expected)


def test_a_process_that_raises_exits_1_with_a_traceback_and_no_manifest(jobs, uploaded_csv):
    result = jobs.run("fft", {"signal": "dataset:5"}, inputs=uploaded_csv)
    assert result.returncode == EXIT_FAILED
    assert result.stderr.startswith("Traceback (most recent call last):")
    # the CSV reads now (one "row" dimension), but fft finds no sample spacing in it
    assert "ValueError: no coordinate 'row' and no sample_rate attribute" in result.stderr
    assert "reading notes.csv (dataset 5)" in result.stdout
    assert not (jobs.root / "7" / "processes" / "1" / "v1" / "_manifest.json").exists()


def _limit_address_space() -> None:
    limit = 1536 * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def test_a_runner_older_than_the_servers_contract_exits_2_saying_to_upgrade_it(jobs):
    env = jobs.env("sleep", {"seconds": 0})
    env[ENV_CONTRACT_VERSION] = str(CONTRACT_VERSION + 1)
    assert _one_line_error(jobs.start(env), EXIT_USAGE) == (
        f"the runner (nagelfluh-runner in the environment's image) speaks job contract "
        f"version {CONTRACT_VERSION} and the server (nagelfluh-lab) version "
        f"{CONTRACT_VERSION + 1}: upgrade the runner (nagelfluh-runner in the environment's image)"
    )
    assert not jobs.root.joinpath("7/processes/1/v1/_manifest.json").exists()


def test_a_runner_newer_than_the_servers_contract_says_to_upgrade_the_server(jobs):
    env = jobs.env("sleep", {"seconds": 0})
    env[ENV_CONTRACT_VERSION] = "0"
    assert _one_line_error(jobs.start(env), EXIT_USAGE).endswith(
        "upgrade the server (nagelfluh-lab)"
    )


@pytest.mark.parametrize("value", ["one", "-1", "1.0"])
def test_a_contract_version_that_is_no_number_is_a_usage_error(jobs, value):
    env = jobs.env("sleep", {"seconds": 0})
    env[ENV_CONTRACT_VERSION] = value
    assert _one_line_error(jobs.start(env), EXIT_USAGE).startswith(
        f"the server (nagelfluh-lab) sent job contract version {value!r}, which is not a version"
    )


def test_a_server_from_before_contract_versions_gets_contract_1(jobs):
    env = jobs.env("sleep", {"seconds": 0})
    del env[ENV_CONTRACT_VERSION]
    assert jobs.start(env).returncode == EXIT_OK
    assert jobs.manifest()["contract_version"] == 1


def test_running_out_of_memory_exits_3_with_one_line(jobs):
    env = jobs.env("synthetic-signal", {"duration": 86400, "sample_rate": 100000})
    env["OPENBLAS_NUM_THREADS"] = "1"
    result = jobs.start(env, preexec_fn=_limit_address_space)
    assert _one_line_error(result, EXIT_OOM).startswith("out of memory (")


def test_schema_prints_every_installed_type_as_json_then_the_contract_and_environment():
    result = subprocess.run(
        [sys.executable, "-m", "nagelfluh_runner", "schema"],
        capture_output=True,
        text=True,
        check=True,
    )
    described, end = json.JSONDecoder().raw_decode(result.stdout)
    contract, environment = map(json.loads, result.stdout[end:].strip().splitlines())
    assert contract == {"contract_version": CONTRACT_VERSION}
    assert environment["environment"]["digest"].startswith("sha256:")
    assert environment["environment"]["python"] == (
        f"{platform.python_implementation()} {platform.python_version()}"
    )
    names = [d["name"] for d in described]
    assert {"fft", "inversion", "sleep", "synthetic-signal", "synthetic-survey"} <= set(names)
    for item in described:
        assert set(item) == {"name", "title", "description", "schema", "version", "cacheable"}
        assert item["version"].startswith("sha256:")
    assert {d["name"]: d["cacheable"] for d in described}["sleep"] is False
    fft = next(d for d in described if d["name"] == "fft")
    assert fft["schema"]["properties"]["signal"]["format"] == "nagelfluh-dataset"
    assert fft["schema"]["required"] == ["signal"]


def test_schema_of_named_types_and_bad_commands():
    def runner(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "nagelfluh_runner", *args], capture_output=True, text=True
        )

    only = runner("schema", "sleep")
    assert [d["name"] for d in json.JSONDecoder().raw_decode(only.stdout)[0]] == ["sleep"]
    assert _one_line_error(runner("schema", "nope"), EXIT_USAGE).startswith(
        "unknown process type 'nope'"
    )
    assert _one_line_error(runner("launch"), EXIT_USAGE).startswith("expected 'run' or 'schema'")
    assert runner("--help").stdout.startswith("usage: python -m nagelfluh_runner run")


def test_runner_reads_and_writes_s3_storage(s3_storage):
    env = {
        **s3_storage.runner_env(),
        "PATH": "/usr/bin:/bin",
        "PROCESS_TYPE": "synthetic-signal",
        "PROCESS_ID": "1",
        "VERSION": "1",
        "PROJECT_ID": "7",
        "PARAMETERS_JSON": json.dumps({"duration": 4, "components": [{"frequency": 10}]}),
    }
    signal = subprocess.run(
        [sys.executable, "-m", "nagelfluh_runner", "run"], env=env, capture_output=True, text=True
    )
    assert signal.returncode == EXIT_OK, signal.stderr
    manifest = json.loads(s3_storage.read_bytes("7/processes/1/v1/_manifest.json"))
    path = manifest["datasets"][0]["path"]
    assert s3_storage.size(path) == manifest["datasets"][0]["size"]
    env.update(
        PROCESS_TYPE="fft",
        PROCESS_ID="2",
        PARAMETERS_JSON=json.dumps({"signal": "dataset:1"}),
        INPUT_DATASETS_JSON=json.dumps({"1": {"key": path}}),
    )
    fft = subprocess.run(
        [sys.executable, "-m", "nagelfluh_runner", "run"], env=env, capture_output=True, text=True
    )
    assert fft.returncode == EXIT_OK, fft.stderr
    assert "peak 1: 10 Hz" in fft.stdout
    assert s3_storage.list("7/processes/2/") == [
        "7/processes/2/v1/_manifest.json",
        "7/processes/2/v1/spectrum.nc",
    ]


def test_a_type_that_cannot_be_loaded_fails_the_run_with_its_name_and_error_last(jobs, tmp_path):
    site = tmp_path / "site"
    (site / "lab_types-1.0.dist-info").mkdir(parents=True)
    (site / "lab_types-1.0.dist-info" / "entry_points.txt").write_text(
        "[nagelfluh.process_types]\ngrid = lab_grid:Grid\n"
    )
    (site / "lab_grid.py").write_text("import geotools_not_installed\n")
    env = {**jobs.env("grid", {}), "PYTHONPATH": str(site)}

    result = jobs.start(env)

    assert result.returncode == EXIT_FAILED, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[-1] == (
        "nagelfluh-runner: error: process type 'grid' could not be loaded: "
        "ModuleNotFoundError: No module named 'geotools_not_installed'"
    )
