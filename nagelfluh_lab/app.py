"""The Jupyter server extension: configuration, wiring of services, start and stop."""

from __future__ import annotations

import asyncio
import gc
import getpass
import hashlib
import os
import pathlib
import socket
import sys
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeGuard

from jupyter_core.paths import jupyter_config_path, jupyter_data_dir, jupyter_runtime_dir
from jupyter_server.auth.identity import IdentityProvider
from jupyter_server.auth.identity import User as JupyterUser
from jupyter_server.extension.application import ExtensionApp
from nagelfluh_runner.storage import Storage, open_storage
from traitlets import Bool, Dict, Float, Instance, Integer, Set, Type, Unicode, default
from traitlets.utils.importstring import import_item

from .cluster.setup import NAMESPACE, QUEUE_NAME
from .credentials import CredentialProvider, StaticCredentials
from .db.session import Database
from .executors.base import Executor
from .executors.contract import BOOTSTRAP_IMAGE
from .executors.local import LocalExecutor
from .executors.schema import SchemaExtractor
from .resources import Resources, parse_cpu, parse_memory
from .services import catalog, provenance
from .services.billing import Billing
from .services.datasets import UPLOAD_GRACE_SECONDS, DatasetService
from .services.environments import EnvironmentService
from .services.event_relay import EventRelay
from .services.events import EventHub
from .services.notebook_types import NotebookTypeService
from .services.processes import ProcessService

if TYPE_CHECKING:
    from .cluster.executor import KubernetesExecutor

EVENT_SCHEMA_ID = "https://nagelfluh.dev/events/nagelfluh-lab/state/v1"
EVENT_SCHEMA = pathlib.Path(__file__).with_name("event_schemas") / "state.yaml"
# Jupyter's own token/password providers; JupyterHub's and custom ones live elsewhere.
JUPYTER_IDENTITY_MODULE = IdentityProvider.__module__
EXECUTORS = {
    "local": "nagelfluh_lab.executors.local.LocalExecutor",
    "kubernetes": "nagelfluh_lab.cluster.executor.KubernetesExecutor",
}
KUBERNETES_SCHEMA_EXTRACTOR = "nagelfluh_lab.cluster.schema.KubernetesSchemaExtractor"


def _is_kubernetes(cls: type) -> bool:
    """Whether ``cls`` is the Kubernetes executor (or derives from it), without
    importing the kubernetes client (over a second) for servers that run locally:
    a subclass exists only once its base's module is imported."""
    module = sys.modules.get(EXECUTORS["kubernetes"].rpartition(".")[0])
    return module is not None and issubclass(cls, module.KubernetesExecutor)


def _runs_on_kubernetes(executor: object) -> TypeGuard[KubernetesExecutor]:
    """Whether ``executor`` is the Kubernetes executor (see ``_is_kubernetes``)."""
    return _is_kubernetes(type(executor))


class NagelfluhApp(ExtensionApp):
    name = "nagelfluh_lab"
    description = "Scientific process execution inside Jupyter"

    executor = Unicode(
        "local",
        help="Where versions run: 'local' (subprocesses on this machine) or 'kubernetes' "
        "(Jobs queued by Kueue). executor_class, if set, takes precedence.",
    ).tag(config=True)
    executor_class = Type(
        default_value=None,
        klass=Executor,
        allow_none=True,
        help="Executor class to use instead of the one named by 'executor'.",
    ).tag(config=True)
    schema_extractor_class = Type(
        default_value=None,
        klass=SchemaExtractor,
        allow_none=True,
        help="How environments are registered from images (POST environments). Default: "
        "a Job per registration with the Kubernetes executor; none with the local executor, "
        "whose processes run in the server's own Python.",
    ).tag(config=True)
    db_url = Unicode(help="SQLAlchemy URL; SQLite in the Jupyter data dir by default.").tag(
        config=True
    )
    db_busy_timeout = Float(
        5.0,
        min=0.1,
        help="Seconds a database call may wait for a lock held by another writer (SQLite's "
        "busy timeout, PostgreSQL's lock_timeout) or for a connection. An API request that "
        "cannot get through within it answers 503 with Retry-After; background writes "
        "(logs, states, the ledger) retry until the database is back.",
    ).tag(config=True)
    storage_url = Unicode(
        help="Where datasets live: file:///path (default, in the Jupyter data dir) or s3://bucket/prefix."
    ).tag(config=True)
    storage_endpoint = Unicode(
        "", help="S3 endpoint URL for MinIO or GCS interoperability; empty for AWS."
    ).tag(config=True)
    local_quota_cpu = Float(
        0.0, help="CPUs the local executor may use at once; 0 means all of this machine's."
    ).tag(config=True)
    local_quota_memory = Unicode(
        "", help="Memory the local executor may use at once, e.g. '8Gi'; empty means all."
    ).tag(config=True)
    namespace = Unicode(NAMESPACE, help="Namespace of the Kubernetes executor's Jobs.").tag(
        config=True
    )
    queue_name = Unicode(
        QUEUE_NAME, help="Kueue LocalQueue the Kubernetes executor queues Jobs in."
    ).tag(config=True)
    kubeconfig = Unicode(
        "",
        help="kubeconfig file of the Kubernetes executor. Empty: the pod's service account "
        "when the server runs in the cluster, else the default kubeconfig.",
    ).tag(config=True)
    default_cpu = Unicode("1", help="CPU a version requests when it names none.").tag(config=True)
    default_memory = Unicode("1Gi", help="Memory a version requests when it names none.").tag(
        config=True
    )
    default_deadline_seconds = Float(3600.0, help="Deadline of a version that names none.").tag(
        config=True
    )
    rate_cpu_hour = Float(0.0, help="Credits per CPU core-hour; 0 makes CPU free.").tag(config=True)
    rate_memory_gib_hour = Float(0.0, help="Credits per GiB-hour of memory.").tag(config=True)
    starting_balance = Float(0.0, help="Credits every user starts with.").tag(config=True)
    user_balances = Dict(
        value_trait=Float(), help="Starting balance per user name, overriding starting_balance."
    ).tag(config=True)
    max_upload_bytes = Integer(10 * 2**30, help="Largest upload accepted.").tag(config=True)
    upload_sweep_grace_seconds = Float(
        UPLOAD_GRACE_SECONDS,
        help="At start, what uploads begun this long ago stored without registering it is "
        "deleted (their server died); younger ones are spared, another server sharing the "
        "storage may still be receiving them. A single server may set 0.",
    ).tag(config=True)
    activity_refresh_seconds = Float(
        help="While a version is queued or running, the server is marked active this often, "
        "so that JupyterHub (which reads the server's last activity every "
        "JUPYTERHUB_ACTIVITY_INTERVAL seconds) and its idle culler leave it alone. "
        "Default: half the Hub's interval under JupyterHub (at most 30 s), else 30 s.",
    ).tag(config=True)

    @default("activity_refresh_seconds")
    def _activity_refresh_default(self) -> float:
        try:
            reported = float(os.environ.get("JUPYTERHUB_ACTIVITY_INTERVAL", "60"))
        except ValueError:
            reported = 60.0
        return max(0.5, min(30.0, reported / 2))

    events_poll_seconds = Float(
        5.0,
        min=0.1,
        help="With servers sharing a PostgreSQL database: how often this one reads the "
        "events the others stored even without a notification (it reads them at once "
        "when notified, and after every reconnect of its listening connection).",
    ).tag(config=True)
    events_retention_seconds = Float(
        3600.0,
        min=1.0,
        help="With servers sharing a PostgreSQL database: how long the events they store "
        "for each other are kept (keep it far above events_poll_seconds). A server that "
        "could not read them for longer (its database out of reach, its machine asleep) "
        "tells its clients to resync from the database, so nothing is lost, only re-read.",
    ).tag(config=True)
    ws_backlog_lines = Integer(
        200_000,
        help="Log lines a slow WebSocket client may fall behind before it is told to resync.",
    ).tag(config=True)

    owner_name = Unicode(
        help="Whom requests act as on a single-user server with Jupyter's own token auth "
        "(whose users are anonymous per browser session); the OS user by default. "
        "Under JupyterHub or any other identity provider, its user name is used."
    ).tag(config=True)

    admin_users = Set(
        Unicode(),
        help="Users who administer the installation: they alone register or re-register "
        "environments every user sees (POST environments with installation: true). Empty "
        "(the default) on a single-user server with Jupyter's own auth makes its owner the "
        "admin; under JupyterHub it makes nobody one, unless authorizer_grants_admin.",
    ).tag(config=True)
    authorizer_grants_admin = Bool(
        False,
        help="Make whoever jupyter_server's authorizer allows 'write' on 'nagelfluh:admin' "
        "an admin, listed in admin_users or not: for an authorizer that checks JupyterHub "
        "scopes (see the README). Leave it off with an authorizer that allows everything, "
        "as Jupyter's and JupyterHub's default ones do.",
    ).tag(config=True)

    credentials_class = Type(
        default_value=StaticCredentials,
        klass=CredentialProvider,
        help="How runs get storage credentials: StaticCredentials (the server's own) or "
        "nagelfluh_lab.credentials.StsCredentials (temporary, scoped to the run's project and "
        "version; configure c.StsCredentials.role_arn and friends).",
    ).tag(config=True)
    freeze_gc_at_start = Bool(
        True,
        help="Move everything alive once the server has started into the garbage "
        "collector's permanent generation (gc.freeze). Full collections then skip the "
        "server's long-lived objects, which otherwise makes a process printing a million "
        "lines cost the server about half again as much CPU.",
    ).tag(config=True)

    server_id = Unicode(
        help="This server's name among servers sharing one database. Each version records "
        "the server that runs it, and a server starting up takes up (re-attaches, re-queues "
        "or fails) only its own. Default: this host's name and the Jupyter data dir, which "
        "stay the same when the server restarts. Servers that share a database must not "
        "share a name.",
    ).tag(config=True)

    database = Instance(Database, allow_none=True)
    storage = Instance(Storage, allow_none=True)
    hub = Instance(EventHub, allow_none=True)
    relay = Instance(EventRelay, allow_none=True)
    processes = Instance(ProcessService, allow_none=True)
    datasets = Instance(DatasetService, allow_none=True)
    environments = Instance(EnvironmentService, allow_none=True)
    notebook_types = Instance(NotebookTypeService, allow_none=True)
    runner_executor = Instance(Executor, allow_none=True)
    _sweep: asyncio.Task[None] | None = None
    _activity: asyncio.Task[None] | None = None

    @default("db_url")
    def _default_db_url(self) -> str:
        return f"sqlite:///{self._data_dir() / 'nagelfluh.db'}"

    @default("storage_url")
    def _default_storage_url(self) -> str:
        return (self._data_dir() / "storage").as_uri()

    @default("server_id")
    def _default_server_id(self) -> str:
        name = f"{socket.gethostname()}:{self._data_dir()}"
        if len(name) > 255:
            name = name[:190] + "~" + hashlib.sha256(name.encode()).hexdigest()
        return name

    @default("owner_name")
    def _default_owner_name(self) -> str:
        return getpass.getuser()

    def user_name(self, user: JupyterUser, identity_provider: IdentityProvider) -> str:
        """The nagelfluh user a request acts as.

        Jupyter's default provider invents a random anonymous user for every
        token-authenticated client without a cookie; on a single-user server
        they are all the owner, so they share one account and its projects.
        """
        if type(identity_provider).__module__ == JUPYTER_IDENTITY_MODULE:
            return self.owner_name
        return user.username

    def is_admin(self, user_name: str, identity_provider: IdentityProvider) -> bool:
        """Whether ``user_name`` is named an admin (the authorizer has its say as well)."""
        if self.admin_users:
            return user_name in self.admin_users
        return type(identity_provider).__module__ == JUPYTER_IDENTITY_MODULE

    @property
    def installation(self) -> str:
        """The database's id, which the Kubernetes executor and schema extractor label
        their objects with (see ``cluster.manifests``)."""
        if self.database is None:
            raise AttributeError("installation: the database is not open yet")
        return self.database.installation

    def _data_dir(self) -> pathlib.Path:
        path = pathlib.Path(jupyter_data_dir()) / "nagelfluh"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _secret_paths(self) -> list[str]:
        """What no sandboxed run may see: Jupyter's data (storage, database), runtime
        (tokens) and config dirs, wherever the database and file storage are."""
        paths = [jupyter_data_dir(), jupyter_runtime_dir(), *jupyter_config_path()]
        if self.db_url.startswith("sqlite:///"):
            paths.append(self.db_url[len("sqlite:///") :])
        if self.storage_url.startswith("file://"):
            paths.append(self.storage_url[len("file://") :])
        return paths

    def initialize_settings(self) -> None:
        self.database = Database(self.db_url, self.db_busy_timeout)
        self.storage = open_storage(self.storage_url, endpoint=self.storage_endpoint or None)
        types, broken = catalog.installed_types()
        for item in broken:
            self.log.warning(
                "process type %s (%s) is broken and not offered: %s",
                item["name"],
                item["entry_point"],
                item["error"],
            )
        self.runner_executor = self._make_executor()
        # Local runs use this Python; in a cluster the bootstrap image's digest is unknown
        # (no schema pod ran it), and its results are not cached.
        identity = (
            provenance.local_identity()
            if self.runner_executor.kind == provenance.LOCAL
            else catalog.Identity()
        )
        self.database.run_sync(
            lambda s: catalog.register_environment(
                s, catalog.BOOTSTRAP_ENVIRONMENT, BOOTSTRAP_IMAGE, types, broken, identity
            )
        )
        self.hub = EventHub()
        if self.database.engine.dialect.name == "postgresql":
            self.relay = EventRelay(
                self.database,
                self.hub,
                self.server_id,
                self.events_poll_seconds,
                self.events_retention_seconds,
            )
        self.processes = ProcessService(
            self.database,
            self.runner_executor,
            self.storage,
            self._billing(),
            self.hub,
            Resources(
                parse_cpu(self.default_cpu),
                parse_memory(self.default_memory),
                self.default_deadline_seconds,
            ),
            self.credentials_class(parent=self, storage=self.storage),
            self.server_id,
            on_state=self._on_state,
        )
        self.datasets = DatasetService(self.database, self.storage)
        self.notebook_types = NotebookTypeService(self.database, self.storage)
        self.environments = EnvironmentService(
            self.database,
            self._make_schema_extractor(),
            self.executor if self.executor_class is None else self.executor_class.__name__,
            self.log,
        )
        self._register_event_schema()
        self.settings.update({"nagelfluh": self})

    def _make_executor(self) -> Executor:
        cls = self.executor_class
        if cls is None:
            if self.executor not in EXECUTORS:
                raise ValueError(
                    f"NagelfluhApp.executor must be one of {sorted(EXECUTORS)}, "
                    f"not {self.executor!r}"
                )
            cls = import_item(EXECUTORS[self.executor])
        options: dict[str, Any] = {}
        if issubclass(cls, LocalExecutor):
            if self.local_quota_cpu:
                options["quota_cpu"] = self.local_quota_cpu
            if self.local_quota_memory:
                options["quota_memory"] = parse_memory(self.local_quota_memory)
        kubernetes = _is_kubernetes(cls)
        if kubernetes:
            options.update(
                namespace=self.namespace, queue_name=self.queue_name, kubeconfig=self.kubeconfig
            )
        executor = cls(parent=self, **options)
        if isinstance(executor, LocalExecutor):
            executor.hidden_paths = [*executor.hidden_paths, *self._secret_paths()]
        if (
            _runs_on_kubernetes(executor)
            and self.storage_url.startswith("file:")
            and not executor.allow_local_storage
        ):
            raise ValueError(
                f"The Kubernetes executor cannot use file storage ({self.storage_url}): "
                "its pods run on the cluster's nodes, which cannot reach this server's "
                "files. Set NagelfluhApp.storage_url to s3://bucket/prefix."
            )
        return executor

    def _make_schema_extractor(self) -> SchemaExtractor | None:
        cls = self.schema_extractor_class
        if cls is None:
            if not _runs_on_kubernetes(self.runner_executor):
                return None
            cls = import_item(KUBERNETES_SCHEMA_EXTRACTOR)
        return cls(parent=self)

    def _billing(self) -> Billing:
        return Billing(
            self.rate_cpu_hour,
            self.rate_memory_gib_hour,
            self.starting_balance,
            dict(self.user_balances),
        )

    def initialize_handlers(self) -> None:
        from .handlers import routes

        self.handlers.extend(routes())

    def _register_event_schema(self) -> None:
        logger = getattr(self.serverapp, "event_logger", None)
        if logger is not None and EVENT_SCHEMA_ID not in logger.schemas.schema_ids:
            logger.register_event_schema(EVENT_SCHEMA)

    def _on_state(self, event: dict[str, Any]) -> None:
        """Mirror state changes on jupyter_server's event bus and keep the server 'active'."""
        self.settings["last_activity_times"]["nagelfluh"] = datetime.now(timezone.utc)
        logger = getattr(self.serverapp, "event_logger", None)
        if logger is not None:
            logger.emit(
                schema_id=EVENT_SCHEMA_ID,
                data={k: event[k] for k in ("process", "version", "project", "state")}
                | {"reason": event.get("reason") or "", "time": time.time()},
            )

    def current_activity(self) -> list[str] | None:
        """Versions queued or running, so an idle-culler leaves the server alone."""
        if self.processes is None or not self.processes.active_count():
            return None
        self.settings["last_activity_times"]["nagelfluh"] = datetime.now(timezone.utc)
        return [f"{self.processes.active_count()} nagelfluh process version(s) active"]

    async def _start_jupyter_server_extension(self, serverapp: object) -> None:
        if self.freeze_gc_at_start:
            gc.freeze()
        executor, processes = self.runner_executor, self.processes
        environments, datasets = self.environments, self.datasets
        # all made by initialize_settings, which the server calls first
        assert executor is not None and processes is not None
        assert environments is not None and datasets is not None
        if self.relay is not None:
            await self.relay.start()
        await executor.start()
        await processes.resume()
        await environments.start()
        self._sweep = asyncio.create_task(self._sweep_uploads(datasets))
        self._activity = asyncio.create_task(self._keep_active(processes))

    async def _keep_active(self, processes: ProcessService) -> None:
        """JupyterHub asks the server when it was last active, which a run going on its own
        (no browser open) would not otherwise change: the Hub would cull its server."""
        while True:
            await asyncio.sleep(self.activity_refresh_seconds)
            if processes.active_count():
                self.settings["last_activity_times"]["nagelfluh"] = datetime.now(timezone.utc)

    async def _sweep_uploads(self, datasets: DatasetService) -> None:
        """In the background: a start must not wait on listing storage."""
        try:
            await datasets.sweep_uploads(self.upload_sweep_grace_seconds, datasets.created)
        except Exception:
            self.log.warning("could not sweep abandoned uploads", exc_info=True)
        try:
            await datasets.describe_old_uploads()
        except Exception:
            self.log.warning("could not describe uploads stored before", exc_info=True)

    async def stop_extension(self) -> None:
        for task in (self._sweep, self._activity):
            if task is not None:
                task.cancel()
        if self.relay is not None:
            await self.relay.stop()
        if self.environments is not None:
            await self.environments.stop()
        if self.runner_executor is not None:
            await self.runner_executor.stop()
        if self.processes is not None:  # after the executor: the leases go last
            await self.processes.stop()
        if self.database is not None:
            self.database.close()
