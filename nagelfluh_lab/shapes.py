"""The JSON shapes of the API (DESIGN §5): what every answer and event carries.

One ``TypedDict`` (or alias) per schema of ``openapi.json`` that an answer or an
event uses, named as the schema is. The serializers are typed to build them, so
mypy checks each one field by field; ``tests/server/test_contract.py`` checks the
document against them (properties, required fields, types, nullability, enums),
so neither can drift from the other. The document adds what types cannot say:
descriptions, bounds, patterns and examples.

``typing_extensions.TypedDict``: pydantic derives their JSON Schema in that test,
and reads only that one before Python 3.12.
"""

from __future__ import annotations

from typing import Any, Literal

from typing_extensions import NotRequired, TypedDict

ErrorCode = Literal[
    "bad_request",
    "validation_failed",
    "insufficient_balance",
    "forbidden",
    "not_found",
    "method_not_allowed",
    "conflict",
    "length_required",
    "too_large",
    "range_not_satisfiable",
    "http_error",
    "internal",
    "database_unavailable",
    "storage_unavailable",
    "insufficient_storage",
]
VersionState = Literal["pending", "queued", "running", "completed", "failed"]
EnvironmentState = Literal["registering", "ready", "failed"]
LogStream = Literal["stdout", "stderr", "system"]
CacheStatus = Literal["hit", "miss", "waiting", "bypassed", "uncacheable"]
ReproducibilityState = Literal["pending", "identical", "differs", "failed"]
TransactionKind = Literal["HOLD", "DEBIT", "RELEASE"]
Reduction = Literal["mean", "min", "max"]


# ----------------------------------------------------------------- errors


class FieldError(TypedDict):
    path: str
    message: str
    schema_path: NotRequired[str]


ErrorDetails = list[FieldError] | dict[str, Any] | None


class ErrorBody(TypedDict):
    code: ErrorCode
    message: str
    details: ErrorDetails


class Error(TypedDict):
    error: ErrorBody


# --------------------------------------------------------------- catalog


class ProjectMember(TypedDict):
    user: str
    role: str


class Project(TypedDict):
    id: int
    name: str
    created: float
    members: list[ProjectMember]


class ProjectList(TypedDict):
    items: list[Project]
    next: None


class BrokenProcessType(TypedDict):
    name: str
    entry_point: str
    environment: str
    error: str


class UserOwner(TypedDict):
    user: str


class ProjectOwner(TypedDict):
    project: int


class Environment(TypedDict):
    name: str
    image: str | None
    process_types: list[str]
    state: EnvironmentState
    message: str | None
    requested_image: str | None
    owner: UserOwner | ProjectOwner | None
    digest: str | None
    broken: NotRequired[list[BrokenProcessType]]


class EnvironmentList(TypedDict):
    items: list[Environment]
    next: None


ProcessTypeKind = Literal["package", "notebook", "function"]


class TypeSource(TypedDict):
    """The notebook a revision of a project's type runs: its contents path (None: sent as a
    document) and its digest, which names it in storage."""

    path: str | None
    digest: str


class TypeRevision(TypedDict):
    revision: int
    version: str
    title: str
    created: float
    created_by: str
    source: TypeSource


class ProcessType(TypedDict):
    name: str
    title: str
    description: str
    environment: str
    schema: dict[str, Any]
    version: str | None
    cacheable: bool
    project: int | None  # None: a packaged (installation or environment) type
    kind: ProcessTypeKind
    revision: int | None
    source: TypeSource | None
    retired: float | None  # a project's type that was retired: when
    revisions: NotRequired[list[TypeRevision]]


class ProcessTypeList(TypedDict):
    items: list[ProcessType]
    next: None
    broken: list[BrokenProcessType]


# -------------------------------------------------------------- datasets


class DatasetVariable(TypedDict):
    name: str
    units: NotRequired[str | None]
    long_name: NotRequired[str]
    dims: NotRequired[list[str]]
    shape: NotRequired[list[int]]
    dtype: NotRequired[str]


class Dataset(TypedDict):
    id: int
    project: int
    name: str
    key: str
    mime_type: str
    size: int
    digest: str | None
    created: float
    process: int | None
    version: int | None
    title: str | None
    variables: list[DatasetVariable]
    dims: dict[str, int]
    metadata: dict[str, Any]


class Producer(TypedDict):
    process: int
    version: int
    type: str
    provenance: Provenance | None


class DatasetMeta(Dataset):
    producer: Producer | None
    units: dict[str, str | None]


class DatasetList(TypedDict):
    items: list[Dataset]
    next: str | None


class ViewColumn(TypedDict):
    name: str | None
    units: str | None
    long_name: str | None
    values: list[float | None]


class DatasetView(TypedDict):
    dataset: int
    dimension: str
    total: int
    in_range: int
    decimated: bool
    x: ViewColumn
    y: list[ViewColumn]


class GridValues(TypedDict):
    name: str
    units: str | None
    long_name: str | None
    values: list[list[float | None]]


class DatasetGrid(TypedDict):
    dataset: int
    dims: list[str]
    total: list[int]
    in_range: list[int]
    shape: list[int]
    block: list[int]
    reduce: Reduction
    decimated: bool
    x: ViewColumn
    y: ViewColumn
    z: GridValues


# ------------------------------------------------------------- processes


class AppliedResources(TypedDict):
    """The ``Resources`` schema with the defaults applied: every field is there."""

    cpu: float | str
    memory: str | int
    deadline_seconds: float


class Cost(TypedDict):
    estimated: float
    actual: float | None


class VersionRef(TypedDict):
    process: int
    version: int


class Reproducibility(TypedDict):
    state: ReproducibilityState
    differing: list[str]


class ProvenanceType(TypedDict):
    name: str
    version: str | None
    cacheable: bool
    # Recorded since project types exist: "package", or a project's "notebook"/"function"
    # type with the revision the version runs.
    kind: NotRequired[ProcessTypeKind]
    revision: NotRequired[int | None]


class ProvenanceEnvironment(TypedDict):
    name: str
    image: str | None
    digest: str | None
    image_digest: str | None
    python: str | None


class ProvenanceInput(TypedDict):
    parameter: str
    dataset: int
    name: str
    digest: str | None


class ProvenanceOutput(TypedDict):
    name: str
    dataset: int
    digest: str | None


class CacheRecord(TypedDict):
    status: CacheStatus
    key: str | None
    reason: str | None


class Provenance(TypedDict):
    """What exactly produced a version (stored as it is on the version's row)."""

    process_type: ProvenanceType
    runner_version: str | None
    environment: ProvenanceEnvironment
    parameters: dict[str, Any]
    inputs: list[ProvenanceInput]
    resources: AppliedResources
    executor: str | None
    started: float | None
    finished: float | None
    exit_code: int | None
    outputs: list[ProvenanceOutput]
    cache: CacheRecord


class VersionStatus(TypedDict):
    """What a version and its ``state`` event both say about where its run is."""

    process: int
    version: int
    state: VersionState
    reason: str | None
    message: str | None


class Version(VersionStatus):
    progress: float
    parameters: dict[str, Any]
    resources: AppliedResources
    created: float
    started: float | None
    finished: float | None
    cost: Cost
    inputs: list[int]
    outputs: list[Dataset]
    output_count: int
    log_lines: int
    cached_from: VersionRef | None
    rerun_of: VersionRef | None
    reproducibility: Reproducibility | None
    provenance: Provenance | None


class Process(TypedDict):
    id: int
    project: int
    type: str
    name: str
    created: float
    versions: list[Version]


class ProcessPage(TypedDict):
    items: list[Process]
    next: str | None


class LogLine(TypedDict):
    seq: int
    time: float
    stream: LogStream
    line: str


class LogPage(TypedDict):
    items: list[LogLine]
    next: int


class Change(TypedDict):
    path: str
    op: Literal["added", "removed", "changed"]
    old: Any
    new: Any


class Compare(TypedDict):
    process: int
    v1: int
    v2: int
    parameters: list[Change]
    resources: list[Change]
    equal: bool


# --------------------------------------------------------------- billing


class Transaction(TypedDict):
    kind: TransactionKind
    amount: float
    process: int
    version: int
    project: int
    time: float


class Account(TypedDict):
    user: str
    balance: float
    transactions: list[Transaction]


class Rates(TypedDict):
    cpu_hour: float
    memory_gib_hour: float


class Estimate(TypedDict):
    resources: AppliedResources
    estimated: float
    rates: Rates


# ---------------------------------------------------------------- events


class LogEvent(TypedDict):
    type: Literal["log"]
    process: int
    version: int
    lines: list[LogLine]


class StateEvent(VersionStatus):
    type: Literal["state"]
    progress: NotRequired[float]


class ProgressEvent(TypedDict):
    type: Literal["progress"]
    process: int
    version: int
    progress: float


class DatasetsEvent(TypedDict):
    type: Literal["datasets"]
    process: int
    version: int
    datasets: list[Dataset]


class VersionResync(TypedDict):
    type: Literal["resync"]
    process: int
    version: int
    since: int


class ProjectResync(TypedDict):
    type: Literal["resync"]
    project: int


ResyncEvent = VersionResync | ProjectResync


class ErrorEvent(TypedDict):
    type: Literal["error"]
    code: ErrorCode
    message: str
    details: ErrorDetails
    request: Any


ServerEvent = LogEvent | StateEvent | ProgressEvent | DatasetsEvent | ResyncEvent | ErrorEvent
