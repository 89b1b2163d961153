"""The execution contract shared by the runner and every executor (DESIGN §3).

It lives in the runner because the runner is the one package both sides
install: the server imports these names, the job's pod only ever runs them.
"""

from __future__ import annotations

# The version of this contract (the environment variables, the manifest, the exit
# codes and the schema command's output). Runners live on in users' images long after
# the server is upgraded, so both sides say which contract they speak: the executor
# sets ENV_CONTRACT_VERSION, a runner that does not speak it exits with EXIT_USAGE
# naming both; the runner writes the version into the manifest and into the schema
# command's output, and the server refuses a version it does not speak. A runner
# from before this field speaks contract 1 and says nothing: absent means 1.
CONTRACT_VERSION = 1
ENV_CONTRACT_VERSION = "NAGELFLUH_CONTRACT_VERSION"
MANIFEST_CONTRACT_VERSION = "contract_version"

# Environment variables the executor sets for ``python -m nagelfluh_runner run``.
ENV_PROCESS_TYPE = "PROCESS_TYPE"
ENV_PROCESS_ID = "PROCESS_ID"
ENV_VERSION = "VERSION"
ENV_PROJECT_ID = "PROJECT_ID"
ENV_PARAMETERS_JSON = "PARAMETERS_JSON"
ENV_STORAGE_BASE = "STORAGE_BASE"
ENV_STORAGE_ENDPOINT = "STORAGE_ENDPOINT"
# Addition to DESIGN §3: the runner has no database, so the server resolves every
# ``dataset:<id>`` reference in the parameters to its storage key and passes the
# map here as ``{"<id>": {"key": ..., "mime_type": ..., "name": ...}}``; a Zarr
# store's key ends in ``/`` (``nagelfluh_runner.stores``).
ENV_INPUT_DATASETS_JSON = "INPUT_DATASETS_JSON"
# Addition for notebook and function types (issue 13): the stored notebook's key,
# relative to STORAGE_BASE, under the run's own project (``types_prefix``). When it is
# set, the runner executes that notebook instead of loading PROCESS_TYPE's entry point.
ENV_NOTEBOOK = "NAGELFLUH_NOTEBOOK"
# Addition to DESIGN §3: a project's own type (registered from a notebook or a function)
# names no entry point; its run is given the storage key (relative to STORAGE_BASE, under
# ``{PROJECT_ID}/types/``) of the exact notebook its version runs.
ENV_NOTEBOOK = "NAGELFLUH_NOTEBOOK"

DATASET_REF_PREFIX = "dataset:"
DATASET_FORMAT = "nagelfluh-dataset"
# On a dataset parameter's schema: the type reads the dataset's arrays, so the server
# accepts only a dataset it could read (NetCDF-3, NetCDF-4/HDF5, CSV or a Zarr store)
# there.
DATASET_READABLE = "x-nagelfluh-readable"

MANIFEST_NAME = "_manifest.json"

# The runner's one-line reasons on stderr (a bad invocation, a failed notebook cell)
# start with this and come last: executors show the last such line as the run's message.
RUNNER_ERROR_PREFIX = "nagelfluh-runner: error: "

# A stdout line ``##nagelfluh:progress 0.42`` reports progress (0-1). Progress
# travels in the log stream because the log is the only channel a Kubernetes
# pod shares with the server; executors turn these lines into progress events
# instead of storing them as log lines.
PROGRESS_PREFIX = "##nagelfluh:progress "

# Exit codes: 0 success, 1 the process raised, 2 bad invocation (unknown type,
# invalid parameters, missing environment), 3 out of memory, 4 an output could not
# be written (storage full, read-only or refusing).
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_OOM = 3
EXIT_STORAGE = 4


RUNNER_SIDE = "the runner (nagelfluh-runner in the environment's image)"
SERVER_SIDE = "the server (nagelfluh-lab)"


def contract_mismatch(asked: object, mine: str, theirs: str) -> str | None:
    """Why ``mine`` (speaking :data:`CONTRACT_VERSION`) cannot work with ``theirs``,
    which speaks ``asked`` (None or "": a peer from before the field, speaking 1), or
    None when they agree. The message names the side to upgrade."""
    if asked is None or asked == "":
        asked = 1
    if isinstance(asked, bool) or not isinstance(asked, (int, str)) or not str(asked).isdigit():
        return f"{theirs} sent job contract version {asked!r}, which is not a version"
    if int(asked) == CONTRACT_VERSION:
        return None
    older = mine if int(asked) > CONTRACT_VERSION else theirs
    return (
        f"{mine} speaks job contract version {CONTRACT_VERSION} and {theirs} version "
        f"{int(asked)}: upgrade {older}"
    )


def version_prefix(project_id: int | str, process_id: int | str, version: int | str) -> str:
    """Storage prefix (relative to STORAGE_BASE) a version may write to."""
    return f"{project_id}/processes/{process_id}/v{version}/"


def project_prefix(project_id: int | str) -> str:
    return f"{project_id}/"


def types_prefix(project_id: int | str) -> str:
    """Where a project's registered notebooks lie (relative to STORAGE_BASE)."""
    return f"{project_id}/types/"


def uploads_prefix(project_id: int | str) -> str:
    return f"{project_id}/uploads/"


def parse_progress(line: str) -> float | None:
    """The progress a log line reports, clamped to 0-1, or None if it is an ordinary
    line (a job's hostile or broken ``nan`` included: it stays a log line)."""
    if not line.startswith(PROGRESS_PREFIX):
        return None
    try:
        value = float(line[len(PROGRESS_PREFIX) :])
    except ValueError:
        return None
    if value != value:  # NaN
        return None
    return min(1.0, max(0.0, value))
