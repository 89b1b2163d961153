"""Runs a notebook as a process: parameters injected, output logged live, failures named.

Issue 13 makes a notebook a process type. This is its engine, independent of storage and
of the CLI: the caller (the runner's notebook type) hands over the notebook and its
validated parameters, uploads what lands in ``output_dir`` and registers it.

- **Execution** is nbclient's, on a real kernel (``python3``: ipykernel in the runner's
  own Python, so the sandbox, limits and installed packages are the run's). nbclient,
  nbformat and ipykernel are imported only here, when a notebook runs, so ``import
  nagelfluh_runner`` stays lean for every other type.
- **Parameters** are injected papermill's way: a code cell tagged ``injected-parameters``
  right after the first cell tagged ``parameters`` (at the top if none), one ``name =
  repr(value)`` line each. For JSON values ``repr`` is an exact Python literal (floats
  round-trip by their shortest repr, ``true`` → ``True``, ``null`` → ``None``); what is
  not a JSON value (NaN, infinity, a tuple, a non-string key) is refused with a
  ValueError before any kernel starts, since it could not be written back faithfully.
  A previously injected cell (a re-run of an executed notebook) is replaced.
- **The output folder** is told twice: the variable ``nagelfluh_output_dir`` (absolute
  path, last line of the injected cell, so it wins) and the environment variable
  ``NAGELFLUH_OUTPUT_DIR`` of the kernel's environment. The variable is the short way;
  the environment lets the same notebook run interactively too
  (``os.environ.get("NAGELFLUH_OUTPUT_DIR", "outputs")``) with no parameter for it, which
  would show in its form. ``nagelfluh_output_dir`` is thus no parameter name.
- **The log** gets a line ``[cell N/T] <first source line>`` as each cell starts, then the
  cell's stdout and stderr line by line as the kernel sends them (nbclient's ``output``
  is extended, so a line is logged while the cell still runs), an error's traceback as
  lines without ANSI colours, and one line per rich output (``[result] 42``,
  ``[display image/png] <Figure ...>``). Progress is N/T after each cell succeeds (the
  injected cell always runs, so it ends at 1.0).
- **Cells are numbered** as the executed notebook's ``In [N]`` prompts: N counts the code
  cells that run (non-empty, not tagged ``skip-execution``), the injected cell included,
  so "cell 4" is the cell the user finds under ``[4]`` when opening the executed notebook.
- **A failing cell** (an exception, a syntax error, the cell timeout, the kernel dying)
  raises :class:`NotebookCellError` naming the cell, after the executed notebook, error
  output included, is written: the user opens it to see what happened.
- **The kernel's sockets** are encrypted (CurveZMQ, ``kernel_config``) where its
  libraries can: the kernel then has no reason to warn about plain TCP in every log.
- **The kernel** is shut down in every case (nbclient's ``finally``): gracefully after
  success or an error, so the notebook's open files are flushed, and at once after a
  timeout or dead kernel. The kernel runs in its own session and exits by itself if the
  runner is killed (ipykernel polls its parent), so no kernel outlives the run.
"""

from __future__ import annotations

import keyword
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from nagelfluh_runner.notebook_schema import OUTPUT_DIR_VARIABLE, PARAMETERS_TAG
from nagelfluh_runner.pointer import join
from nagelfluh_runner.protocol import PROGRESS_PREFIX

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from typing import Any

    from nbclient import NotebookClient
    from nbformat import NotebookNode

INJECTED_TAG = "injected-parameters"
ENV_OUTPUT_DIR = "NAGELFLUH_OUTPUT_DIR"
EXECUTED_SUFFIX = ".executed.ipynb"
NOTEBOOK_MIME_TYPE = "application/x-ipynb+json"
# nbclient's default: cells so tagged do not run, and so are not numbered either.
SKIP_TAG = "skip-execution"
INJECTED_HEADER = "# Parameters injected by nagelfluh"

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
_SHOWN = 200  # characters of a source or rich output line shown in the log


class NotebookCellError(Exception):
    """A cell of the notebook failed: raised error, syntax error, timeout or dead kernel.

    ``number`` is the cell's ``In [N]`` prompt in the executed notebook (1-based among the
    code cells that ran), ``cell_index`` its index among all the executed notebook's
    cells; ``notebook`` is the executed notebook, already written to ``path``.
    """

    def __init__(
        self,
        number: int,
        cell_index: int,
        first_line: str,
        ename: str,
        evalue: str,
        notebook: dict[str, Any],
        path: Path,
    ) -> None:
        super().__init__(f"cell {number} ({first_line!r}) failed: {ename}: {evalue}")
        self.number = number
        self.cell_index = cell_index
        self.first_line = first_line
        self.ename = ename
        self.evalue = evalue
        self.notebook = notebook
        self.path = path


@dataclass(frozen=True)
class ExecutedNotebook:
    """The executed notebook (nbformat v4) and the file in the output folder holding it."""

    notebook: dict[str, Any]
    path: Path


def log_to_stdout(line: str) -> None:
    print(line, flush=True)


def progress_to_stdout(fraction: float) -> None:
    """Progress as the protocol's progress line, which executors read from the log."""
    print(f"{PROGRESS_PREFIX}{fraction:.4g}", flush=True)


def run_notebook(
    notebook: Mapping[str, Any],
    parameters: Mapping[str, Any],
    *,
    output_dir: Path,
    paths: Mapping[str, str | os.PathLike[str]] | None = None,
    name: str = "notebook",
    log: Callable[[str], None] = log_to_stdout,
    progress: Callable[[float], None] = progress_to_stdout,
    kernel_name: str = "python3",
    timeout: int | None = None,
    cwd: Path | None = None,
) -> ExecutedNotebook:
    """Execute ``notebook`` (an nbformat dict, v4 or older) with ``parameters`` injected.

    ``paths`` replaces dataset parameters by local files: keys are JSON pointers into
    ``parameters`` (``"/survey"``, ``"/inputs/0"``), values the local paths the caller
    fetched the datasets to; a pointer that names no value is a ValueError. Keyed by
    pointer, not by ``dataset:<id>``, so that a plain string equal to a reference is never
    replaced and nested dataset lists work. The executed notebook is written to
    ``output_dir / (name + ".executed.ipynb")``; ``output_dir`` is created if missing.
    ``timeout`` is the most seconds one cell may run (nbclient counts whole seconds).
    ``log`` and ``progress`` fit ``StorageContext.log`` and ``.progress``. ``cwd`` is the
    kernel's working folder (default: this process's); paths inside it are injected relative
    to it, so that two runs in different folders execute, and record, the same cell.

    Raises NotebookCellError when a cell fails, ValueError for parameters that cannot be
    injected or a notebook nbformat rejects.
    """
    if not name or Path(name).name != name or name in (".", ".."):
        raise ValueError(f"name {name!r} is not a file name")
    local = {pointer: _shown(where, cwd) for pointer, where in (paths or {}).items()}
    values = _with_paths(dict(parameters), local)
    source = injected_source(values, _shown(output_dir.resolve(), cwd))
    nb = _prepared(notebook, source)
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / f"{name}{EXECUTED_SUFFIX}"
    client = _client(nb, path, _LiveLog(log), progress, kernel_name, timeout, cwd)
    env = {**os.environ, ENV_OUTPUT_DIR: str(output_dir.resolve())}
    try:
        client.execute(env=env)
    except NotebookCellError:
        _write_executed(nb, path, kernel_name)  # the kernel is down: the notebook as it ended
        raise
    _write_executed(nb, path, kernel_name)
    return ExecutedNotebook(nb, path)


def _shown(path: str | os.PathLike[str], cwd: Path | None) -> str:
    """``path`` as the injected cell gives it: relative to ``cwd`` when it lies inside it."""
    if cwd is None:
        return str(path)
    relative = os.path.relpath(os.path.abspath(path), cwd.resolve())
    return str(path) if relative.startswith("..") else relative


def injected_source(parameters: Mapping[str, Any], output_dir: str | os.PathLike[str]) -> str:
    """The injected cell's source: one ``name = literal`` line per parameter, then the
    output folder's variable."""
    lines = [INJECTED_HEADER]
    for key, value in parameters.items():
        if not key.isidentifier() or keyword.iskeyword(key):
            raise ValueError(f"parameter {key!r} is not a Python name")
        if key == OUTPUT_DIR_VARIABLE:
            raise ValueError(f"parameter {key!r}: the runner sets it to the output folder")
        _check_json(value, join("", key))
        lines.append(f"{key} = {value!r}")
    lines.append(f"{OUTPUT_DIR_VARIABLE} = {str(output_dir)!r}")
    return "\n".join(lines)


def _check_json(value: Any, where: str) -> None:
    """Refuse what is no JSON value: its ``repr`` would not be the value it stands for."""
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return
    if kind is float:
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"parameter {where}: {value!r} is not a JSON number")
        return
    if kind is list:
        for index, item in enumerate(value):
            _check_json(item, join(where, index))
        return
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise ValueError(f"parameter {where}: key {key!r} is not a string")
            _check_json(item, join(where, key))
        return
    raise ValueError(f"parameter {where}: a {kind.__name__} is not a JSON value")


def _with_paths(
    parameters: dict[str, Any], paths: Mapping[str, str | os.PathLike[str]]
) -> dict[str, Any]:
    """``parameters`` with the value at each pointer of ``paths`` replaced by its path."""
    import copy

    from nagelfluh_runner.pointer import tokens

    result: Any = copy.deepcopy(parameters)
    for pointer, local in paths.items():
        parts = tokens(pointer)
        if not parts:
            raise ValueError("paths: the empty pointer names no parameter")
        parent: Any = result
        for depth, token in enumerate(parts[:-1]):
            parent = _child(parent, token, pointer, depth)
        _child(parent, parts[-1], pointer, len(parts) - 1)  # a path replaces, never adds
        last: int | str = int(parts[-1]) if isinstance(parent, list) else parts[-1]
        parent[last] = os.fspath(local)
    return result


def _child(container: Any, token: str, pointer: str, depth: int) -> Any:
    if isinstance(container, dict) and token in container:
        return container[token]
    if isinstance(container, list) and token.isdigit() and int(token) < len(container):
        return container[int(token)]
    raise ValueError(f"paths: {pointer!r} names no parameter value (at token {depth + 1})")


def _nbformat() -> Any:
    """nbformat, imported when a notebook runs; its functions carry no annotations, so it
    is typed Any here once rather than each call being excused."""
    import nbformat

    return nbformat


@contextmanager
def _unreadable_as_value_error() -> Iterator[None]:
    """What nbformat raises for a document it cannot read or convert, as one ValueError:
    ValueError itself (NotJSONError, UnicodeDecodeError), its schema's ValidationError,
    and AttributeError, KeyError or TypeError for JSON that is no notebook."""
    nbformat = _nbformat()
    try:
        yield
    except (ValueError, nbformat.ValidationError, AttributeError, TypeError, KeyError) as error:
        raise ValueError(f"not a notebook nbformat reads: {error}") from None


def read_document(raw: bytes) -> dict[str, Any]:
    """A notebook file's bytes as nbformat 4 reads them: sources split into lines joined.
    ValueError for what nbformat cannot read (no UTF-8, no JSON, no notebook)."""
    with _unreadable_as_value_error():
        node: dict[str, Any] = _nbformat().reads(raw.decode(), as_version=4)
    return node


def _prepared(notebook: Mapping[str, Any], source: str) -> NotebookNode:
    """A v4.5 copy of ``notebook`` with ``source`` injected after its parameters cell. Texts
    split into lists of lines, as a notebook file's JSON holds them, are joined as nbformat
    joins them when it reads a file."""
    import copy

    nbformat = _nbformat()
    from nbformat.v4.rwbase import rejoin_lines

    with _unreadable_as_value_error():
        nb = nbformat.convert(nbformat.from_dict(copy.deepcopy(notebook)), 4)
        nb = nbformat.v4.upgrade(rejoin_lines(nb))  # type: ignore[no-untyped-call]
        nbformat.validate(nb)
    cells = [cell for cell in nb.cells if INJECTED_TAG not in _tags(cell)]
    tagged = [i for i, cell in enumerate(cells) if PARAMETERS_TAG in _tags(cell)]
    injected = nbformat.v4.new_code_cell(source, metadata={"tags": [INJECTED_TAG]})
    injected.id = INJECTED_TAG  # not a random one: the executed notebook repeats exactly
    cells.insert(tagged[0] + 1 if tagged else 0, injected)
    nb.cells = cells
    return nb


def _tags(cell: Mapping[str, Any]) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _runs(cell: Mapping[str, Any]) -> bool:
    """Whether nbclient executes ``cell`` (the same test as its own)."""
    return (
        cell.get("cell_type") == "code"
        and bool(str(cell.get("source", "")).strip())
        and SKIP_TAG not in _tags(cell)
    )


def first_line(source: str) -> str:
    """The first line of ``source`` with text, shortened for a log line or a message."""
    line = next((line.strip() for line in source.splitlines() if line.strip()), "")
    return line if len(line) <= _SHOWN else line[: _SHOWN - 1] + "…"


def _write_executed(nb: NotebookNode, path: Path, kernel_name: str) -> None:
    """Write the executed notebook, naming the kernel that ran it in its metadata as
    JupyterLab does when it starts one for a notebook (nbclient records only
    ``language_info``): opened in the Lab, it shows unmodified once its kernel is up."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec(kernel_name)
    nb.metadata["kernelspec"] = {
        "name": kernel_name,
        "display_name": spec.display_name,
        "language": spec.language,
    }
    _nbformat().write(nb, str(path))


class _LiveLog:
    """Turns output messages into log lines as they arrive.

    A stream's text is cut at newlines; a partial line waits for its end or the cell's.
    Carriage returns overwrite as on a terminal (a progress bar logs its last state), and
    ANSI colour codes are dropped: the log is plain text.
    """

    def __init__(self, log: Callable[[str], None]) -> None:
        self._log = log
        self._partial: dict[str, str] = {}

    def line(self, text: str) -> None:
        segments = [segment for segment in _ANSI.sub("", text).split("\r") if segment]
        self._log(segments[-1] if segments else "")

    def message(self, msg_type: str, content: Mapping[str, Any]) -> None:
        if msg_type == "stream":
            self._stream(str(content.get("name", "stdout")), str(content.get("text", "")))
        elif msg_type == "error":
            traceback = "\n".join(content.get("traceback") or [])
            summary = f"{content.get('ename')}: {content.get('evalue')}"
            for text in (traceback or summary).split("\n"):
                self.line(text)
        elif msg_type in ("execute_result", "display_data"):
            self._rich("result" if msg_type == "execute_result" else "display", content)

    def flush(self) -> None:
        for name in list(self._partial):
            self.line(self._partial.pop(name))

    def _stream(self, name: str, text: str) -> None:
        *lines, rest = (self._partial.pop(name, "") + text).split("\n")
        for line in lines:
            self.line(line)
        cut = rest.rfind("\r", 0, len(rest) - 1)  # what a later \r overwrote is gone
        if cut > 0:
            rest = rest[cut:]
        if rest:
            self._partial[name] = rest

    def _rich(self, kind: str, content: Mapping[str, Any]) -> None:
        data = content.get("data") or {}
        others = sorted(mime for mime in data if mime != "text/plain")
        plain = data.get("text/plain", "")
        text = "".join(plain) if isinstance(plain, list) else str(plain)
        lines = text.splitlines() or [""]
        more = f" (+{len(lines) - 1} lines)" if len(lines) > 1 else ""
        label = " ".join([kind, *others])
        self.line(f"[{label}] {lines[0][:_SHOWN]}{more}".rstrip())


def _client(
    nb: NotebookNode,
    path: Path,
    live: _LiveLog,
    progress: Callable[[float], None],
    kernel_name: str,
    timeout: int | None,
    cwd: Path | None = None,
) -> NotebookClient:
    """An nbclient NotebookClient that logs live, reports progress and raises a failing
    cell as NotebookCellError (the executed notebook to be written to ``path``)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    numbers: dict[int, int] = {}
    for index, cell in enumerate(nb.cells):
        if _runs(cell):
            numbers[index] = len(numbers) + 1
    total = len(numbers)

    class LiveClient(NotebookClient):
        def output(
            self,
            outs: list[NotebookNode],
            msg: dict[str, Any],
            display_id: str | None,
            cell_index: int,
        ) -> NotebookNode | None:
            """nbclient's, then the message to the log while the cell still runs."""
            out = super().output(outs, msg, display_id, cell_index)
            live.message(msg["msg_type"], msg["content"])
            return out

        async def async_execute_cell(
            self,
            cell: NotebookNode,
            cell_index: int,
            execution_count: int | None = None,
            store_history: bool = True,
        ) -> NotebookNode:
            number = numbers.get(cell_index)
            if number is None:
                return await super().async_execute_cell(
                    cell, cell_index, execution_count, store_history
                )
            line = first_line(cell.source)
            live.line(f"[cell {number}/{total}] {line}")
            try:
                done = await super().async_execute_cell(
                    cell, cell_index, execution_count, store_history
                )
            except CellExecutionError as error:
                live.flush()
                raise NotebookCellError(
                    number, cell_index, line, error.ename, error.evalue, nb, path
                ) from None
            except (CellTimeoutError, DeadKernelError) as error:
                live.flush()
                self.shutdown_kernel = "immediate"  # a busy or dead kernel needs no goodbye
                ename, evalue = (
                    ("CellTimeoutError", f"the cell ran longer than {timeout} s")
                    if isinstance(error, CellTimeoutError)
                    else ("DeadKernelError", "the kernel died (out of memory, or it exited)")
                )
                live.line(f"{ename}: {evalue}")
                cell.outputs.append(
                    _nbformat().v4.new_output(
                        "error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]
                    )
                )
                raise NotebookCellError(
                    number, cell_index, line, ename, evalue, nb, path
                ) from error
            live.flush()
            progress(number / total)
            return done

    return LiveClient(
        nb,
        kernel_name=kernel_name,
        timeout=timeout,
        shutdown_kernel="graceful",
        skip_cells_with_tag=SKIP_TAG,
        # No start and end times in the cells' metadata: the executed notebook of an exact
        # re-run compares identical when the cells printed the same.
        record_timing=False,
        resources={"metadata": {"path": str(cwd)}} if cwd is not None else {},
        config=kernel_config(),
    )


def kernel_config() -> Any:
    """The traitlets config of the run's kernel manager: CurveZMQ encryption of the
    kernel's sockets where the kernel supports it.

    ipykernel 7 warns on every start over plain TCP ("Kernel is running over TCP without
    encryption ...": any local user may connect to a loopback port) and names the
    remedies: IPC sockets, or CurveZMQ keys the kernel manager provisions, which
    jupyter_client >= 8.10 does with ``KernelManager.transport_encryption = "auto"`` for
    a kernelspec declaring ``supported_encryption: ["curve"]`` (ipykernel's does). That
    fixes what the warning is about, so it is no longer printed into every run's log.
    Older jupyter_client (no such trait) or a libzmq without CURVE keep plain TCP:
    setting an unknown trait would log a warning of its own."""
    import zmq
    from jupyter_client.manager import KernelManager
    from traitlets.config import Config

    config = Config()
    if zmq.has("curve") and KernelManager.class_traits().get("transport_encryption"):
        config.KernelManager.transport_encryption = "auto"
    return config
