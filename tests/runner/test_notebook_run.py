"""A notebook runs as a process: parameters injected, output logged live, failures named.

Every notebook here runs on a real ipykernel. The successful run is shared by the tests
that read it (a kernel start costs a second or two); each failure runs its own.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import psutil
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from nagelfluh_runner.notebook_run import (
    ENV_OUTPUT_DIR,
    INJECTED_TAG,
    ExecutedNotebook,
    NotebookCellError,
    run_notebook,
)
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

# Every JSON kind, with the values a careless literal would get wrong.
KINDS = {
    "float": 0.1,
    "whole_float": 1.0,
    "huge": 1e300,
    "subnormal": 5e-324,
    "negative_zero": -0.0,
    "int": 12345678901234567890,
    "true": True,
    "false": False,
    "null": None,
    "text": "quotes ' \" backslash \\ newline \n tab \t é ☃ \u2028 \U0001f600",
    "empty": "",
    "list": [1, 2.5, [None, "a"], {}],
    "dict": {"nested": {"k": [], "with space": {"": 0}}},
}
TOTAL_CELLS = 8  # code cells that run in the shared notebook, the injected one included


@dataclass
class Run:
    """What a run of ``run_notebook`` reported: log lines with their time, progress."""

    lines: list[tuple[float, str]] = field(default_factory=list)
    progress: list[float] = field(default_factory=list)

    def log(self, line: str) -> None:
        self.lines.append((time.monotonic(), line))

    def text(self) -> list[str]:
        return [line for _, line in self.lines]

    def at(self, text: str) -> float:
        return next(when for when, line in self.lines if line == text)

    def pid(self) -> int:
        return int(next(line for line in self.text() if line.startswith("PID "))[4:])

    def run(self, notebook: dict[str, Any], parameters: dict[str, Any], **kwargs: Any) -> Any:
        return run_notebook(
            notebook, parameters, log=self.log, progress=self.progress.append, **kwargs
        )


def kernel_gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while True:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


def shared_notebook() -> dict[str, Any]:
    return new_notebook(
        cells=[
            new_markdown_cell("# A survey"),
            new_code_cell("import os, time, json\nprint('PID', os.getpid())"),
            new_code_cell(
                "alpha = 1.0  # the default\nkinds = None\nsurvey = None",
                metadata={"tags": ["parameters"]},
            ),
            new_code_cell("alpha = 99.0", metadata={"tags": [INJECTED_TAG]}),
            new_code_cell("print('alpha is', alpha)"),
            new_code_cell("print('first', flush=True)\ntime.sleep(1)\nprint('second')"),
            new_code_cell("print('KINDS', repr(kinds))\nprint('SURVEY', open(survey).read())"),
            new_code_cell(""),
            new_code_cell(
                "assert os.environ['NAGELFLUH_OUTPUT_DIR'] == nagelfluh_output_dir\n"
                "with open(os.path.join(nagelfluh_output_dir, 'result.csv'), 'w') as f:\n"
                "    f.write('depth,rho\\n1,2\\n')"
            ),
            new_code_cell("alpha * 2"),
        ]
    )


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, ExecutedNotebook, Path]:
    root = tmp_path_factory.mktemp("notebook")
    survey = root / "survey.txt"
    survey.write_text("resistivity")
    run = Run()
    executed = run.run(
        shared_notebook(),
        {"alpha": 2.0, "kinds": KINDS, "survey": "dataset:12"},
        paths={"/survey": survey},
        output_dir=root / "out",
        name="survey",
    )
    return run, executed, root / "out"


def test_parameters_are_injected_after_the_tagged_cell_and_override_its_defaults(shared):
    run, executed, _ = shared
    cells = executed.notebook["cells"]
    injected = [i for i, cell in enumerate(cells) if INJECTED_TAG in cell.metadata.get("tags", [])]
    assert len(injected) == 1, "the injected cell of an earlier run is replaced"
    assert "parameters" in cells[injected[0] - 1].metadata["tags"]
    assert "alpha = 2.0" in cells[injected[0]].source.splitlines()
    assert "alpha is 2.0" in run.text()


def test_every_json_value_kind_reaches_the_notebook_exactly(shared):
    run, _, _ = shared
    assert f"KINDS {KINDS!r}" in run.text()


def test_a_dataset_parameter_is_replaced_by_the_local_path_the_caller_gives(shared):
    run, _, _ = shared
    assert "SURVEY resistivity" in run.text()


def test_stdout_lines_are_logged_as_the_cell_prints_them(shared):
    run, _, _ = shared
    text = run.text()
    assert text.index("first") < text.index("second")
    assert run.at("second") - run.at("first") >= 0.8, "'first' waited for the cell's end"


def test_each_cell_start_is_logged_with_its_number_and_first_line(shared):
    run, _, _ = shared
    text = run.text()
    starts = [line for line in text if line.startswith("[cell ")]
    assert len(starts) == TOTAL_CELLS
    assert starts[0] == f"[cell 1/{TOTAL_CELLS}] import os, time, json"
    assert starts[2] == f"[cell 3/{TOTAL_CELLS}] # Parameters injected by nagelfluh"
    assert text.index(starts[4]) < text.index("first")


def test_cells_are_numbered_as_the_executed_notebooks_prompts(shared):
    _, executed, _ = shared
    counts = [
        cell.get("execution_count")
        for cell in executed.notebook["cells"]
        if cell.cell_type == "code" and cell.source.strip()
    ]
    assert counts == list(range(1, TOTAL_CELLS + 1))


def test_a_result_is_logged_as_one_line(shared):
    run, _, _ = shared
    assert "[result] 4.0" in run.text()


def test_progress_rises_to_one_cell_by_cell(shared):
    run, _, _ = shared
    assert run.progress == [n / TOTAL_CELLS for n in range(1, TOTAL_CELLS + 1)]


def test_a_file_the_notebook_writes_to_the_output_folder_is_there(shared):
    _, _, out = shared
    assert (out / "result.csv").read_text() == "depth,rho\n1,2\n"


def test_the_executed_notebook_is_written_valid_with_its_outputs(shared):
    _, executed, out = shared
    assert executed.path == out / "survey.executed.ipynb"
    on_disk = nbformat.read(executed.path, as_version=4)
    nbformat.validate(on_disk)
    texts = [output.get("text", "") for cell in on_disk.cells for output in cell.get("outputs", [])]
    assert "alpha is 2.0\n" in texts
    assert any(
        output.get("data", {}).get("text/plain") == "4.0"
        for cell in on_disk.cells
        for output in cell.get("outputs", [])
    )


def test_the_executed_notebook_names_the_kernel_that_ran_it_as_jupyterlab_does(shared):
    """The Lab records the kernel it starts for a notebook in its metadata: recorded the
    same way already, an executed notebook opened there is not modified by opening it."""
    _, executed, _ = shared
    spec = KernelSpecManager().get_kernel_spec("python3")
    recorded = nbformat.read(executed.path, as_version=4).metadata.kernelspec
    assert recorded == {"name": "python3", "display_name": spec.display_name, "language": "python"}


def test_the_kernel_is_gone_after_a_successful_run(shared):
    run, _, _ = shared
    assert kernel_gone(run.pid(), within=2.0)


def test_a_failing_cell_fails_the_run_naming_the_cell(tmp_path: Path):
    notebook = new_notebook(
        cells=[
            new_code_cell("import os\nprint('PID', os.getpid())"),
            new_markdown_cell("Now divide."),
            new_code_cell("ratio = 1 / 0\nprint('never')"),
            new_code_cell("print('not reached')"),
        ]
    )
    run = Run()
    with pytest.raises(NotebookCellError) as raised:
        run.run(notebook, {"alpha": 1}, output_dir=tmp_path)
    error = raised.value
    assert (error.number, error.ename, error.evalue) == (3, "ZeroDivisionError", "division by zero")
    assert error.first_line == "ratio = 1 / 0"
    assert str(error) == "cell 3 ('ratio = 1 / 0') failed: ZeroDivisionError: division by zero"
    assert INJECTED_TAG in error.notebook["cells"][0].metadata["tags"], "no parameters cell: top"
    written = nbformat.read(error.path, as_version=4)
    nbformat.validate(written)
    assert written.cells[error.cell_index].outputs[-1].ename == "ZeroDivisionError"
    text = run.text()
    assert any("ZeroDivisionError" in line for line in text), "the traceback is logged"
    assert not any("\x1b" in line for line in text), "without colour codes"
    assert "not reached" not in text
    assert kernel_gone(run.pid(), within=2.0)


def test_a_syntax_error_fails_the_run_naming_the_cell(tmp_path: Path):
    notebook = new_notebook(cells=[new_code_cell("x = 1"), new_code_cell("def broken(:")])
    notebook.nbformat_minor = 4  # stored by an older Jupyter: cells without ids
    for cell in notebook.cells:
        del cell["id"]
    run = Run()
    with pytest.raises(NotebookCellError) as raised:
        run.run(notebook, {}, output_dir=tmp_path)
    assert (raised.value.number, raised.value.ename) == (3, "SyntaxError")
    assert raised.value.first_line == "def broken(:"
    nbformat.validate(nbformat.read(raised.value.path, as_version=4))


def test_a_cell_running_past_the_timeout_fails_the_run_and_its_kernel_is_killed(tmp_path: Path):
    notebook = new_notebook(
        cells=[new_code_cell("import os, time\nprint('PID', os.getpid())\ntime.sleep(60)")]
    )
    run = Run()
    started = time.monotonic()
    with pytest.raises(NotebookCellError) as raised:
        run.run(notebook, {}, output_dir=tmp_path, timeout=1)
    assert time.monotonic() - started < 20
    assert (raised.value.number, raised.value.ename) == (2, "CellTimeoutError")
    assert "longer than 1 s" in str(raised.value)
    written = nbformat.read(raised.value.path, as_version=4)
    assert written.cells[1].outputs[-1].ename == "CellTimeoutError"
    assert kernel_gone(run.pid(), within=2.0)


RUNNER_SCRIPT = """
import sys
from pathlib import Path
from nbformat.v4 import new_code_cell, new_notebook
from nagelfluh_runner.notebook_run import run_notebook

cell = "import os, time\\nprint('PID', os.getpid())\\ntime.sleep(60)"
run_notebook(new_notebook(cells=[new_code_cell(cell)]), {}, output_dir=Path(sys.argv[1]))
"""


def test_the_kernel_exits_when_the_runner_is_killed(tmp_path: Path):
    runner = subprocess.Popen(
        [sys.executable, "-c", RUNNER_SCRIPT, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert runner.stdout is not None
        line = ""
        for line in runner.stdout:
            if line.startswith("PID "):
                break
        kernel = int(line[4:])
        runner.send_signal(signal.SIGKILL)
        runner.wait()
        assert kernel_gone(kernel, within=10.0), "the kernel outlived its runner"
    finally:
        runner.kill()
        runner.wait()


def test_the_environment_names_the_output_folder_for_interactive_notebooks(tmp_path: Path):
    notebook = new_notebook(
        cells=[new_code_cell(f"import os\nprint(os.environ['{ENV_OUTPUT_DIR}'])")]
    )
    run = Run()
    run.run(notebook, {}, output_dir=tmp_path / "out")
    assert str((tmp_path / "out").resolve()) in run.text()


def test_a_notebook_as_its_file_holds_it_runs_with_its_texts_split_into_lines(tmp_path: Path):
    """The JSON of a .ipynb file splits sources and outputs into lists of lines: given as
    it was read from a file with ``json.load``, the notebook runs as nbformat reads it."""
    tagged = new_code_cell("scale = 1.0\nlabel = 'a'\n", metadata={"tags": ["parameters"]})
    cells = [tagged, new_code_cell("print(label)\nprint(scale * 2)\n")]
    as_file = json.loads(nbformat.writes(new_notebook(cells=cells)))
    assert isinstance(as_file["cells"][0]["source"], list)
    run = Run()
    run.run(as_file, {"scale": 4.0}, output_dir=tmp_path / "out")
    assert ["a", "8.0"] == [line for line in run.text() if line in ("a", "8.0")]
    assert "[cell 3/3] print(label)" in run.text()


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"x": float("nan")}, "parameter /x: nan is not a JSON number"),
        ({"x": [1, float("inf")]}, "parameter /x/1: inf is not a JSON number"),
        ({"x": {"a": (1, 2)}}, "parameter /x/a: a tuple is not a JSON value"),
        ({"x": {1: 2}}, "key 1 is not a string"),
        ({"class": 1}, "'class' is not a Python name"),
        ({"two words": 1}, "'two words' is not a Python name"),
        ({"nagelfluh_output_dir": "/tmp"}, "the runner sets it"),
    ],
)
def test_parameters_python_could_not_read_back_are_refused_before_a_kernel_starts(
    tmp_path: Path, parameters: dict[str, Any], message: str
):
    run = Run()
    with pytest.raises(ValueError, match=re.escape(message)):
        run.run(new_notebook(cells=[new_code_cell("pass")]), parameters, output_dir=tmp_path)
    assert run.lines == []


def test_a_path_for_a_parameter_that_is_not_there_is_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="'/inputs/2' names no parameter value"):
        run_notebook(
            new_notebook(),
            {"inputs": ["dataset:1", "dataset:2"]},
            paths={"/inputs/2": "/data/x.nc"},
            output_dir=tmp_path,
        )


def test_importing_the_module_imports_no_jupyter():
    code = (
        "import sys, nagelfluh_runner.notebook_run\n"
        "print(*[m for m in ('nbclient', 'nbformat', 'jupyter_client') if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_a_kernel_that_dies_fails_the_run_naming_the_cell(tmp_path: Path):
    notebook = new_notebook(cells=[new_code_cell("import os\nos._exit(1)")])
    with pytest.raises(NotebookCellError) as raised:
        Run().run(notebook, {}, output_dir=tmp_path)
    assert (raised.value.number, raised.value.ename) == (2, "DeadKernelError")
    assert raised.value.first_line == "import os"
    assert raised.value.path.exists()
