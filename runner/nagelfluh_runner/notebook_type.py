"""A registered notebook run as a process type: ``run`` with ``NAGELFLUH_NOTEBOOK`` set.

The server stores a registered notebook content-addressed under its project
(``{project}/types/sha256-<hex>.ipynb``) and passes its key; the runner then runs it
as it runs a packaged type, with the same checks and the same outputs:

- **The notebook** is read through the run's storage (``file://`` and ``s3://`` alike,
  as inputs are), and only from the run's own project: a key outside
  ``{PROJECT_ID}/types/`` is refused (exit 2) before anything is read, so a run never
  executes another project's notebook.
- **Parameters** are validated against the schema ``notebook_schema`` infers from the
  notebook itself (not one the server sends: the notebook is the type), with its
  defaults applied; invalid ones exit 2 naming each, as for packaged types. Dataset
  parameters are bound from ``INPUT_DATASETS_JSON`` by the runner's one binder and
  arrive in the notebook as the paths of local copies.
- **Execution** is ``notebook_run.run_notebook``: live log lines, ``[cell N/T]``
  lines and progress.
- **Outputs** are what the notebook left in its output folder (``nagelfluh_output_dir``),
  each stored under the version's own prefix (the StorageContext allows nothing else):
  a Zarr directory (one holding ``zarr.json``, ``.zgroup`` or ``.zarray``) with
  ``write_zarr``, any other file with ``write_file`` (NetCDF and CSV described with
  their variables and units, the rest plain, by its name's media type); other folders
  are walked, symbolic links skipped. The executed notebook ``<type>.executed.ipynb``
  is always an output, a failed run's too, so the user can open it where it failed.
- **Failures** are one line, last on stderr: a failing cell (exception, syntax error,
  timeout, dead kernel) is ``cell N failed: <error>`` with exit 1, N being the cell's
  ``In [N]`` in the executed notebook; an output the context refuses (a NetCDF
  variable without units) fails the run the same way, naming the output, after every
  other output, the executed notebook and the manifest are written.
"""

from __future__ import annotations

import os

from nagelfluh_runner import protocol
from nagelfluh_runner.cli import RunFailed, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path
    from typing import Any

    from nagelfluh_runner.cli import Job
    from nagelfluh_runner.context import StorageContext
    from nagelfluh_runner.sdk import InputDataset
    from nagelfluh_runner.storage import Storage


def run(job: Job, key: str) -> int:
    """Run the notebook stored at ``key`` as ``job``; the exit code of the contract."""
    import shutil
    import sys
    import tempfile
    from pathlib import Path

    # nbformat imports jsonschema, which imports rfc3987_syntax where it is installed (as
    # with jupyter_events, in a server's Python) for its "iri" format checks: a grammar
    # built at import, ~1 s of every run. No notebook check uses that format; without it
    # jsonschema skips those checks, as where the package is absent (an environment image).
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]  # None: not importable
    from nagelfluh_runner.notebook_run import NotebookCellError, run_notebook
    from nagelfluh_runner.notebook_schema import NotebookSchemaError, notebook_schema

    storage = job.storage()
    key = notebook_key(job.project, key)
    notebook = read_notebook(storage, key)
    try:
        schema = notebook_schema(notebook)
    except NotebookSchemaError as error:
        raise UsageError(f"the notebook {key} gives no parameters schema: {error}") from None
    params = as_declared(schema, job.parameters(schema))
    _, inputs = job.bind_datasets(schema, params, storage)
    ctx = job.context(storage)
    scratch = Path(tempfile.mkdtemp(prefix="nagelfluh-notebook-"))
    output_dir = scratch / "outputs"
    failure: str | None = None
    try:
        try:
            executed = run_notebook(
                notebook,
                params,
                output_dir=output_dir,
                paths=_linked_inputs(inputs, scratch / "inputs"),
                name=job.type_name,
                log=ctx.log,
                progress=ctx.progress,
                cwd=scratch,
            ).path
        except NotebookCellError as error:
            failure = f"cell {error.number} failed: {error.ename}: {error.evalue}"
            executed = error.path
        except ValueError as error:  # parameters or a notebook it could not run at all
            raise UsageError(f"the notebook {key}: {error}") from None
        finally:
            for dataset in inputs:
                dataset.close()
        problems = store_outputs(ctx, output_dir, executed)
        ctx.write_manifest()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    reasons = [reason for reason in [failure, *problems] if reason]
    if reasons:
        raise RunFailed("; ".join(reasons))
    ctx.progress(1.0)
    return protocol.EXIT_OK


def notebook_key(project: str, key: str) -> str:
    """``key`` made a safe storage key, if it is a notebook of ``project``; else
    UsageError (the run must not read, let alone run, another project's notebook)."""
    from nagelfluh_runner.storage import StorageKeyError, safe_key

    try:
        normal = safe_key(key)
    except StorageKeyError as error:
        raise UsageError(f"{protocol.ENV_NOTEBOOK}: {error}") from None
    prefix = protocol.types_prefix(project)
    if not normal.startswith(prefix):
        raise UsageError(
            f"{protocol.ENV_NOTEBOOK} {key!r} is not a notebook of project {project} "
            f"(they lie under {prefix})"
        )
    return normal


def as_declared(schema: dict[str, Any], value: Any) -> Any:
    """``value`` with every whole number where ``schema`` declares a number (not an integer)
    made a float: JSON tells ``3`` from ``3.0`` no more than a form does, while the cell's
    ``x: float = 1.0`` promises a float (``f"{x} Hz"`` would print ``3 Hz``)."""
    types = schema.get("type")
    declared = set(types) if isinstance(types, list) else {types}
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value) if "number" in declared and "integer" not in declared else value
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        return {k: as_declared(properties.get(k) or {}, v) for k, v in value.items()}
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [as_declared(schema["items"], item) for item in value]
    return value


def _linked_inputs(inputs: list[InputDataset], folder: Path) -> dict[str, Path]:
    """Each input's local copy linked into ``folder`` under its dataset's file name (its
    parameter's pointer, by which run_notebook places it), so the injected cell names
    ``inputs/survey.nc`` in every run, wherever the copies were fetched to."""
    from pathlib import Path

    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for dataset in inputs:
        local = Path(dataset.local_path())
        name = local.name
        if (folder / name).exists() or (folder / name).is_symlink():
            name = f"{len(paths) + 1}-{name}"
        (folder / name).symlink_to(local.resolve(), target_is_directory=local.is_dir())
        paths[dataset.path or ""] = folder / name
    return paths


def read_notebook(storage: Storage, key: str) -> dict[str, Any]:
    """The notebook stored at ``key``, read as nbformat reads a file (sources stored as lists
    of lines, as nbformat writes them, joined again); UsageError if it is missing or no
    notebook."""
    from nagelfluh_runner.notebook_run import read_document

    try:
        raw = storage.read_bytes(key)
    except FileNotFoundError:
        raise UsageError(f"the notebook {key} is not in storage") from None
    try:
        return read_document(raw)
    except ValueError as error:
        raise UsageError(f"the notebook {key}: {error}") from None


def store_outputs(ctx: StorageContext, output_dir: Path, executed: Path) -> list[str]:
    """Store what the notebook left in ``output_dir`` and the ``executed`` notebook (which
    lies there too) as outputs; returns why each output the context refused was not
    stored (the others are)."""
    from nagelfluh_runner.notebook_run import NOTEBOOK_MIME_TYPE

    problems = []
    for name, path, is_store in _left(ctx, output_dir):
        if path == executed:
            continue
        try:
            if is_store:
                ctx.write_zarr(name, path)
            else:
                ctx.write_file(name, path)
        except (ValueError, ImportError) as error:  # StorageKeyError, DatasetFormatError too
            problems.append(f"output {name}: {error}")
    ctx.write_file(executed.name, executed, NOTEBOOK_MIME_TYPE)
    return problems


def _left(
    ctx: StorageContext, directory: Path, under: str = ""
) -> Iterator[tuple[str, Path, bool]]:
    """``(output name, path, is a Zarr store)`` of what lies in ``directory``, sorted;
    a symbolic link is skipped with a log line (an output is what the notebook wrote,
    not what a link points to)."""
    from nagelfluh_runner.stores import ROOT_MARKERS

    if not directory.is_dir():
        return
    for path in sorted(directory.iterdir()):
        name = f"{under}{path.name}"
        if path.is_symlink():
            ctx.log(f"[outputs] {name} skipped: a symbolic link")
        elif path.is_dir():
            if any(os.path.isfile(path / marker) for marker in ROOT_MARKERS):
                yield name, path, True
            else:
                yield from _left(ctx, path, f"{name}/")
        elif path.is_file():
            yield name, path, False
