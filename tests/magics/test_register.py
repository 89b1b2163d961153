"""Notebooks and functions made process types from a kernel (``%nagel register``,
``@nagel.process_type``, ``Client.register``) on a real server, and run like any type."""

from __future__ import annotations

import uuid

import nbformat
import numpy as np
import pytest
import xarray as xr
from nagelfluh_magics import NagelfluhError, ProcessHandle
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from tests.magics.conftest import wait_until_ended
from tests.magics.test_magics import one_line_error

RUN_SECONDS = 180

BODY = (
    "import pathlib\n"
    "print(f'{greeting}, {count} times')\n"
    "pathlib.Path(nagelfluh_output_dir, 'counts.csv').write_text(\n"
    "    'i,value\\n' + ''.join(f'{i},{i * count}\\n' for i in range(3)))\n"
)


def write_notebook(path, parameters: str, body: str = BODY) -> str:
    cell = new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[new_markdown_cell("# Greetings"), cell, new_code_cell(body)])
    path.write_text(nbformat.writes(nb))
    return str(path)


@pytest.fixture
def project(client) -> int:
    """A project of its own, so the types a test registers are its alone."""
    return client.create_project(f"types {uuid.uuid4().hex[:8]}")["id"]


def log_text(client, process: int, version: int = 1) -> str:
    return "\n".join(line["line"] for line in client.log_lines(process, version))


def ended(client, process: int, version: int = 1) -> dict:
    info = wait_until_ended(client, process, version, timeout=RUN_SECONDS)
    assert info["state"] == "completed", log_text(client, process, version)
    return info


def test_a_notebook_registered_with_the_magic_runs_with_its_parameter_injected(
    kernel, client, project, tmp_path
):
    path = write_notebook(
        tmp_path / "My greetings.ipynb",
        "greeting = 'hello'  #: What to say\ncount: int = 2  # 1 <= count <= 10\n",
    )
    registered = kernel.run(f"%nagel register '{path}' --project {project}").stdout.strip()
    assert registered == (
        f"Registered process type My-greetings (revision 1, project {project}): 2 parameters"
    )
    kind = client.process_type("My-greetings", project=project)
    assert (kind["kind"], kind["revision"], kind["title"]) == ("notebook", 1, "Greetings")
    assert kind["schema"]["properties"]["count"]["maximum"] == 10

    kernel.run(f"%%nagel run My-greetings --project {project} --wait\ngreeting: good day")
    process = client.processes(project)[0]
    info = ended(client, process["id"])
    assert "good day, 2 times" in log_text(client, process["id"])
    names = {o["name"]: o for o in info["outputs"]}
    assert client.dataset_bytes(names["counts.csv"]["id"]) == b"i,value\n0,0\n1,2\n2,4\n"
    assert "My-greetings.executed.ipynb" in names
    assert info["provenance"]["process_type"]["revision"] == 1


def test_a_syntax_error_in_the_parameters_cell_is_refused_naming_the_line(
    kernel, client, project, tmp_path
):
    path = write_notebook(tmp_path / "broken.ipynb", "count = 1\ngreeting = 'unclosed\n")
    refused = one_line_error(kernel.run(f"%nagel register {path} --project {project}", fails=True))
    assert refused.startswith("UsageError: %nagel register: ")
    assert "line 2" in refused, refused
    with pytest.raises(NagelfluhError) as raised:
        client.register(path, project=project)
    assert raised.value.status == 400 and "line 2" in str(raised.value)
    assert "broken" not in [t["name"] for t in client.types(project)]


def test_a_changed_notebook_is_revision_2_while_versions_of_revision_1_keep_theirs(
    kernel, client, project, tmp_path
):
    path = tmp_path / "evolving.ipynb"
    parameters = "greeting = 'hi'\ncount = 1\n"
    first = client.register(write_notebook(path, parameters), project=project)
    assert (first["revision"], first["created"], first["kind"]) == (1, True, "notebook")
    process = client.submit("evolving", {"count": 3}, project=project)
    ended(client, process["id"])

    write_notebook(path, parameters, BODY.replace("times')", "times, revision two')"))
    shown = kernel.run(f"%nagel register {path} --project {project}").stdout.strip()
    assert (
        shown == f"Registered process type evolving (revision 2, project {project}): 2 parameters"
    )
    again = kernel.run(f"%nagel register {path} --project {project}").stdout.strip()
    assert again == (
        f"Process type evolving (project {project}) unchanged: the content is identical to "
        "revision 2"
    )
    revisions = client.process_type("evolving", project=project)["revisions"]
    assert [r["revision"] for r in revisions] == [2, 1]

    rerun = client.rerun(process["id"], 1)
    rerun_info = ended(client, process["id"], rerun["version"])
    assert rerun_info["provenance"]["process_type"]["revision"] == 1
    assert "hi, 3 times" in log_text(client, process["id"], rerun["version"])
    assert "revision two" not in log_text(client, process["id"], rerun["version"])
    newer = client.new_version(process["id"], {"count": 3})
    newer_info = ended(client, process["id"], newer["version"])
    assert newer_info["provenance"]["process_type"]["revision"] == 2
    assert "hi, 3 times, revision two" in log_text(client, process["id"], newer["version"])


def test_a_decorated_function_is_a_type_whose_runs_read_a_dataset_and_return_one(
    kernel, client, project, tmp_path
):
    source = tmp_path / "signal.nc"
    xr.Dataset(
        {"amplitude": ("time", np.array([1.0, -2.0, 3.0]), {"units": "mm/s"})},
        coords={"time": ("time", np.array([0.0, 0.5, 1.0]), {"units": "s"})},
    ).to_netcdf(source)
    signal = client.upload(project, "signal.nc", source)
    name = f"rectified-{uuid.uuid4().hex[:6]}"
    kernel.run(
        "import numpy as np\nimport xarray as xr\nimport nagelfluh_magics as nagel\n"
        "GAIN = 2.5\n"
        "def rectify(values):\n    return np.abs(values) * GAIN\n"
    )
    decorated = (
        f"@nagel.process_type(name={name!r}, project={project})\n"
        "def rectified(signal: nagel.Dataset['netcdf'], offset: float = 0.0) -> xr.Dataset:\n"
        '    """Rectified signal.\n\n'
        "    Parameters\n    ----------\n    offset : float\n        Added after the gain.\n"
        '    """\n'
        "    data = xr.load_dataset(signal)\n"
        "    print('read', signal.rsplit('/', 1)[-1], data.sizes['time'], 'samples')\n"
        "    out = xr.Dataset({'rectified': ('time', rectify(data['amplitude'].values) + offset,\n"
        "                                    {'units': 'mm/s'})}, coords={'time': data['time']})\n"
        "    return {'rectified': out}\n"
    )
    registered = kernel.run(decorated).stdout.strip()
    assert registered == (
        f"Registered process type {name} (revision 1, project {project}): 2 parameters"
    )
    assert kernel.run("print(rectify(np.array([-2.0])))").stdout.strip() == "[5.]"  # unchanged
    again = kernel.run(decorated).stdout.strip()
    assert again.endswith("unchanged: the content is identical to revision 1")

    kind = client.process_type(name, project=project)
    assert (kind["kind"], kind["title"]) == ("function", "Rectified signal")
    offset = kind["schema"]["properties"]["offset"]
    assert (offset["description"], offset["default"]) == ("Added after the gain.", 0.0)
    assert kind["schema"]["required"] == ["signal"]

    process = client.submit(  # a kernel importing xarray and pandas needs more than 512Mi
        name,
        {"signal": f"dataset:{signal['id']}", "offset": 1.0},
        project=project,
        resources={"memory": "2Gi"},
    )
    info = ended(client, process["id"])
    assert "samples" in log_text(client, process["id"])
    (output,) = [o for o in info["outputs"] if o["name"] == "rectified.nc"]
    units = {v["name"]: v["units"] for v in output["variables"]}
    assert units["rectified"] == "mm/s"
    read_back = ProcessHandle.of(client, info).load("rectified.nc")
    assert read_back["rectified"].values.tolist() == [3.5, 6.0, 8.5]
    assert info["provenance"]["process_type"]["kind"] == "function"


def test_the_notebook_generated_from_a_function_runs_in_the_runners_engine_alone(tmp_path):
    """What a run does with a function type's notebook, without a server: the runner's
    own engine, a dataset parameter bound to a local file, the return value saved."""
    from nagelfluh_magics.functions import function_notebook
    from nagelfluh_runner.notebook_run import run_notebook

    from tests.magics.test_function_capture import notebook

    namespace = notebook(
        "import numpy as np\nimport pandas as pd\nSTEP = 0.5\n",
        "def ramp(n):\n    return np.arange(n) * STEP\n",
        "def table(source: str, n: int = 3):\n"
        "    print('reading', source.rsplit('/', 1)[-1])\n"
        "    return {'ramp': pd.DataFrame({'x': ramp(n)}), 'raw': np.ones(n)}\n",
    )
    generated = function_notebook(namespace["table"])
    (tmp_path / "input.csv").write_text("a\n1\n")
    lines: list[str] = []
    run_notebook(
        generated,
        {"source": "dataset:1", "n": 4},
        output_dir=tmp_path / "out",
        paths={"/source": tmp_path / "input.csv"},
        name="table",
        log=lines.append,
        progress=lambda _: None,
    )
    assert "reading input.csv" in lines
    assert (tmp_path / "out" / "ramp.csv").read_text() == "x\n0.0\n0.5\n1.0\n1.5\n"
    assert np.load(tmp_path / "out" / "raw.npy").tolist() == [1.0] * 4
    assert "[result] ['ramp.csv', 'raw.npy']" in lines


def test_a_function_using_an_open_file_is_refused_naming_the_global(kernel, client, project):
    name = f"logging-{uuid.uuid4().hex[:6]}"
    cell = kernel.run(
        "import os\nimport nagelfluh_magics as nagel\nlogbook = open(os.devnull, 'w')\n"
        f"@nagel.process_type(name={name!r}, project={project})\n"
        "def noisy(n: int = 1):\n    print(n, file=logbook)\n",
        fails=True,
    )
    (error,) = cell.errors
    assert error.ename == "CaptureError"
    assert error.evalue.startswith(
        "noisy uses the global 'logbook' (a _io.TextIOWrapper), which cannot be captured"
    )
    assert "create it inside the function" in error.evalue
    assert name not in [t["name"] for t in client.types(project)]


def test_a_retired_type_takes_no_new_version_until_its_notebook_is_registered_again(
    kernel, client, project, tmp_path
):
    path = write_notebook(tmp_path / "seasonal.ipynb", "greeting = 'hi'\ncount = 1\n")
    client.register(path, project=project)
    process = client.submit("seasonal", {"count": 2}, project=project)
    ended(client, process["id"])

    retired = kernel.run(f"%nagel retire seasonal --project {project}").stdout.strip()
    assert retired.startswith("Retired process type seasonal of project ")
    assert "seasonal" not in [t["name"] for t in client.types(project)]
    refused = one_line_error(kernel.run(f"%nagel run seasonal --project {project}", fails=True))
    assert refused.startswith("UsageError: %nagel run: ") and "retired" in refused, refused
    with pytest.raises(NagelfluhError) as raised:
        client.new_version(process["id"], {"count": 3})
    assert raised.value.status == 409 and "retired" in str(raised.value)
    assert "hi, 2 times" in log_text(client, process["id"])  # what it made stays

    back = kernel.run(f"%nagel register {path} --project {project}").stdout.strip()
    assert back.startswith("Registered process type seasonal (revision 1, ")
    newer = client.new_version(process["id"], {"count": 3})["version"]
    ended(client, process["id"], newer)
    assert "hi, 3 times" in log_text(client, process["id"], newer)


def test_retiring_an_installed_type_is_refused(kernel, project):
    refused = one_line_error(kernel.run(f"%nagel retire fft --project {project}", fails=True))
    assert refused.startswith("UsageError: %nagel retire: ") and "installed" in refused, refused
