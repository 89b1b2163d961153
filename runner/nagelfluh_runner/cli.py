"""``python -m nagelfluh_runner run | schema``: the execution contract of DESIGN §3.

``run`` reads the job's environment, validates and binds the parameters,
runs the type and writes ``_manifest.json``; with ``NAGELFLUH_NOTEBOOK`` set it runs
that stored notebook instead (``nagelfluh_runner.notebook_type``). Exit codes: 0
done, 1 the process raised (traceback on stderr), its type could not be loaded (the
traceback, then one line naming the type and the error) or a notebook's cell failed
(one line naming the cell), 2 bad invocation (one line on stderr), 3 out of memory
(one line), 4 storage refused an output (one line). The one-line reasons start with
``nagelfluh-runner: error:`` (``protocol.RUNNER_ERROR_PREFIX``) and come last, so
executors show them as the run's message. Only what the requested type needs is
imported, so a trivial process starts nearly as fast as Python itself.
"""

from __future__ import annotations

import json
import os
import sys

from nagelfluh_runner import protocol

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from nagelfluh_runner.context import StorageContext
    from nagelfluh_runner.sdk import InputDataset
    from nagelfluh_runner.storage import Storage

USAGE = """usage: python -m nagelfluh_runner run       run the process the environment describes
       python -m nagelfluh_runner schema [NAME...]  print the installed process types as JSON"""
_REQUIRED_ENV = (
    protocol.ENV_PROCESS_TYPE,
    protocol.ENV_PROCESS_ID,
    protocol.ENV_VERSION,
    protocol.ENV_PROJECT_ID,
    protocol.ENV_PARAMETERS_JSON,
    protocol.ENV_STORAGE_BASE,
)


class UsageError(Exception):
    """A bad invocation: reported as one line on stderr with exit code 2."""


class RunFailed(Exception):
    """The process failed and says why in one line (a notebook's failing cell): that
    line on stderr, last, with exit code 1."""


class TypeLoadError(Exception):
    """The requested type is installed but cannot start (its module fails to import,
    it is no ProcessType, it cannot be instantiated): its traceback, then one line
    naming the type and the error, with exit code 1 (the process failed, not the call).
    """

    def __init__(self, name: str, error: BaseException) -> None:
        from nagelfluh_runner.registry import error_text

        super().__init__(f"process type {name!r} could not be loaded: {error_text(error)}")
        self.error = error


def _error(message: str) -> None:
    sys.stdout.flush()
    one_line = " ".join(str(message).split())
    print(f"{protocol.RUNNER_ERROR_PREFIX}{one_line}", file=sys.stderr, flush=True)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _json_env(environ: Mapping[str, str], name: str, default: str | None = None) -> Any:
    text = environ.get(name, default)
    if text is None:
        raise UsageError(f"missing environment variable {name}")
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except ValueError as error:
        raise UsageError(f"{name} is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise UsageError(f"{name} must be a JSON object, not {type(value).__name__}")
    return value


def _bind_datasets(
    schema: Any, value: Any, path: str, root: Any, bind: Callable[[str, str], InputDataset]
) -> Any:
    """``value`` with every ``format: nagelfluh-dataset`` string replaced by bind(path, ref),
    ``path`` the string's JSON pointer."""
    from nagelfluh_runner.pointer import join
    from nagelfluh_runner.validation import resolve

    schema = resolve(schema, root)
    if not isinstance(schema, dict):
        return value
    if schema.get("format") == protocol.DATASET_FORMAT and isinstance(value, str):
        return bind(path, value)
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        return {
            name: _bind_datasets(properties.get(name, extra), item, join(path, name), root, bind)
            for name, item in value.items()
        }
    if isinstance(value, list):
        items = schema.get("items", True)
        return [
            _bind_datasets(items, item, join(path, i), root, bind) for i, item in enumerate(value)
        ]
    return value


def _dataset_binder(
    environ: Mapping[str, str], storage: Storage, project: str, bound: list[InputDataset]
) -> Callable[[str, str], InputDataset]:
    """Turns ``dataset:<id>`` into an InputDataset, refusing what lies outside the project;
    each one made is appended to ``bound`` (the run closes them at its end)."""
    from nagelfluh_runner.sdk import InputDataset
    from nagelfluh_runner.storage import StorageKeyError, safe_key

    known = _json_env(environ, protocol.ENV_INPUT_DATASETS_JSON, "{}")
    prefix = protocol.project_prefix(project)

    def bind(path: str, ref: str) -> InputDataset:
        if not ref.startswith(protocol.DATASET_REF_PREFIX):
            raise UsageError(f"parameter {path}: {ref!r} is not a dataset reference 'dataset:<id>'")
        dataset_id = ref[len(protocol.DATASET_REF_PREFIX) :]
        info = known.get(dataset_id)
        if not isinstance(info, dict) or not isinstance(info.get("key"), str):
            raise UsageError(
                f"parameter {path}: dataset {dataset_id} is not in "
                f"{protocol.ENV_INPUT_DATASETS_JSON}"
            )
        try:
            # A store's key keeps its trailing "/": it is what marks the dataset a store.
            key = safe_key(info["key"]) + ("/" if info["key"].endswith("/") else "")
        except StorageKeyError as error:
            raise UsageError(f"parameter {path}: dataset {dataset_id}: {error}") from None
        if not key.startswith(prefix):
            raise UsageError(f"parameter {path}: dataset {dataset_id} is outside project {project}")
        dataset = InputDataset(
            dataset_id,
            key,
            info.get("mime_type") or "application/octet-stream",
            info.get("name") or key.rstrip("/").rpartition("/")[2],
            storage,
            info.get("metadata"),
            path=path,
        )
        bound.append(dataset)
        return dataset

    return bind


class Job:
    """The run ``environ`` describes, checked: what packaged and notebook types share.
    (A plain class: importing dataclasses would slow every runner's start.)"""

    def __init__(
        self,
        environ: Mapping[str, str],
        type_name: str,
        process_id: str,
        project: str,
        version: str,
        params: dict[str, Any],
    ) -> None:
        self.environ = environ
        self.type_name = type_name
        self.process_id = process_id
        self.project = project
        self.version = version
        self.params = params

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Job:
        mismatch = protocol.contract_mismatch(
            environ.get(protocol.ENV_CONTRACT_VERSION), protocol.RUNNER_SIDE, protocol.SERVER_SIDE
        )
        if mismatch:
            raise UsageError(mismatch)
        missing = [name for name in _REQUIRED_ENV if not environ.get(name)]
        if missing:
            raise UsageError(f"missing environment variable {', '.join(missing)}")
        process_id = environ[protocol.ENV_PROCESS_ID]
        project = environ[protocol.ENV_PROJECT_ID]
        version = environ[protocol.ENV_VERSION]
        if not version.isdigit() or int(version) < 1:
            raise UsageError(f"{protocol.ENV_VERSION} must be a positive integer, not {version!r}")
        for name, value in (
            (protocol.ENV_PROJECT_ID, project),
            (protocol.ENV_PROCESS_ID, process_id),
        ):
            if not value.replace("-", "").replace("_", "").isalnum() or not value.isascii():
                raise UsageError(f"{name} must be letters, digits, '-' or '_', not {value!r}")
        params = _json_env(environ, protocol.ENV_PARAMETERS_JSON)
        return cls(
            environ, environ[protocol.ENV_PROCESS_TYPE], process_id, project, version, params
        )

    def parameters(self, schema: dict[str, Any]) -> dict[str, Any]:
        """The parameters with ``schema``'s defaults applied, or UsageError naming each
        invalid one."""
        from nagelfluh_runner.validation import apply_defaults, validate

        params: dict[str, Any] = apply_defaults(schema, self.params)
        issues = validate(schema, params)
        if issues:
            raise UsageError("; ".join(f"parameter {issue}" for issue in issues))
        return params

    def storage(self) -> Storage:
        from nagelfluh_runner.storage import open_storage

        try:
            return open_storage(
                self.environ[protocol.ENV_STORAGE_BASE],
                self.environ.get(protocol.ENV_STORAGE_ENDPOINT) or None,
            )
        except ValueError as error:
            raise UsageError(f"{protocol.ENV_STORAGE_BASE}: {error}") from None

    def context(self, storage: Storage) -> StorageContext:
        from nagelfluh_runner.context import StorageContext

        return StorageContext(
            storage, self.project, self.process_id, self.version, process_type=self.type_name
        )

    def bind_datasets(
        self, schema: dict[str, Any], params: dict[str, Any], storage: Storage
    ) -> tuple[dict[str, Any], list[InputDataset]]:
        """``params`` with every dataset reference an InputDataset (from
        INPUT_DATASETS_JSON, refusing what lies outside the project), and those made:
        the run closes them at its end."""
        inputs: list[InputDataset] = []
        bind = _dataset_binder(self.environ, storage, self.project, inputs)
        return _bind_datasets(schema, params, "", schema, bind), inputs


def _run(environ: Mapping[str, str]) -> int:
    job = Job.from_environ(environ)
    if environ.get(protocol.ENV_NOTEBOOK):
        from nagelfluh_runner import notebook_type

        return notebook_type.run(job, environ[protocol.ENV_NOTEBOOK])

    from nagelfluh_runner import registry

    try:
        process_type = registry.load(job.type_name)
    except registry.UnknownProcessType as error:
        raise UsageError(str(error)) from None
    except (Exception, SystemExit) as error:
        raise TypeLoadError(job.type_name, error) from None
    schema = process_type.schema
    params = job.parameters(schema)
    storage = job.storage()
    params, inputs = job.bind_datasets(schema, params, storage)
    ctx = job.context(storage)
    try:
        instance = process_type()
    except Exception as error:
        raise TypeLoadError(job.type_name, error) from None
    try:
        instance.run(ctx, **params)
    finally:
        for dataset in inputs:
            dataset.close()  # local copies (local_path) go with the run
    ctx.write_manifest()
    ctx.progress(1.0)
    return protocol.EXIT_OK


def run(environ: Mapping[str, str] | None = None) -> int:
    """Run the process ``environ`` describes; returns the exit code of the contract."""
    from nagelfluh_runner.context import OutputWriteError
    from nagelfluh_runner.sdk import ParameterError

    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(line_buffering=True)  # a pipe is block-buffered: logs must stream live
    try:
        return _run(os.environ if environ is None else environ)
    except UsageError as error:
        _error(str(error))
        return protocol.EXIT_USAGE
    except RunFailed as error:
        _error(str(error))
        return protocol.EXIT_FAILED
    except ParameterError as error:
        _error(f"parameter {error.path}: {error.message}")
        return protocol.EXIT_USAGE
    except MemoryError as error:
        _error(f"out of memory ({type(error).__name__}: {error})")
        return protocol.EXIT_OOM
    except OutputWriteError as error:
        _error(f"storage: {error}")
        return protocol.EXIT_STORAGE
    except TypeLoadError as error:
        import traceback

        sys.stdout.flush()
        traceback.print_exception(error.error)
        _error(str(error))
        return protocol.EXIT_FAILED
    except Exception:
        import traceback

        sys.stdout.flush()
        traceback.print_exc()
        sys.stderr.flush()
        return protocol.EXIT_FAILED


def schema(names: list[str]) -> int:
    """Print the named types, or every installed one that loads, as a JSON list; then
    one line ``{"contract_version": N}``, the job contract this runner speaks; one line
    ``{"environment": {"runner_version", "python", "digest"}}`` (``environment``); then, if
    some entry points do not load, one line ``{"broken": [...]}`` naming each with its
    error: one broken distribution in an image leaves the others registrable."""
    from nagelfluh_runner import registry

    broken: list[dict[str, str]] = []
    if names:
        try:
            described = [registry.load(name).describe() for name in names]
        except registry.UnknownProcessType as error:
            _error(str(error))
            return protocol.EXIT_USAGE
    else:
        described, broken = registry.discover()
    from nagelfluh_runner import environment

    print(json.dumps(described, indent=2))
    print(json.dumps({protocol.MANIFEST_CONTRACT_VERSION: protocol.CONTRACT_VERSION}))
    print(json.dumps({"environment": environment.describe()}))
    if broken:
        print(json.dumps({"broken": broken}))
    return protocol.EXIT_OK


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = argv[0] if argv else ""
    if command == "run" and len(argv) == 1:
        return run()
    if command == "schema":
        return schema(argv[1:])
    if command in ("-h", "--help", "help"):
        print(USAGE)
        return protocol.EXIT_OK
    _error(f"expected 'run' or 'schema', got {' '.join(argv) or 'nothing'} (see --help)")
    return protocol.EXIT_USAGE
