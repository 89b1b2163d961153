"""SQLAlchemy models: the whole data model of DESIGN §2.

Money is stored in integer micro-credits so that HOLD = DEBIT + RELEASE holds
exactly; the API shows credits.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    FetchedValue,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from ..resources import Resources


def now() -> float:
    return time.time()


class Base(DeclarativeBase):
    pass


class Installation(Base):
    """The one row naming this database, made by its migration: a label value that
    tells this server's Kubernetes objects from those of another database sharing
    the namespace (process ids and versions, hence Job names, repeat across databases)."""

    __tablename__ = "installation"

    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    created: Mapped[float] = mapped_column(Float, default=now)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    created: Mapped[float] = mapped_column(Float, default=now)


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    created: Mapped[float] = mapped_column(Float, default=now)
    members: Mapped[list[ProjectMember]] = relationship(
        back_populates="project", cascade="all, delete-orphan", lazy="selectin"
    )


class ProjectMember(Base):
    __tablename__ = "project_members"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), default="owner")
    project: Mapped[Project] = relationship(back_populates="members")
    user: Mapped[User] = relationship(lazy="joined")


class Environment(Base):
    """An image (or the server's own Python) and the process types it offers.

    ``image`` is the image those types came from, which runs use; a registration
    under way or failed names its own in ``requested_image``, so the types and
    image in use stay until the new ones are good. ``attempt`` counts
    registrations: the result of an older one never overwrites a newer one's.
    """

    __tablename__ = "environments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    image: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    created: Mapped[float] = mapped_column(Float, default=now)
    state: Mapped[str] = mapped_column(String(16), default="ready", server_default="ready")
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    requested_image: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    attempt: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Entry points it offers that could not be loaded or described, each
    # {"name", "entry_point", "error"}: listed beside its types, so a broken one
    # shows as broken instead of vanishing (None: none known).
    broken: Mapped[list[dict[str, str]] | None] = mapped_column(JSON, nullable=True)
    # Neither set: the installation's (bootstrap, configured, or an admin's). Else the
    # user's own, or a project's: visible and usable by its owner or members only.
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    owner_project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), nullable=True)
    owner_user: Mapped[User | None] = relationship(lazy="selectin")
    # What cache keys name it by: the image digest its schema pod ran, or the local
    # interpreter's and distributions' digest; None while unresolved (nothing is cached).
    digest: Mapped[str | None] = mapped_column(String(71), nullable=True)
    runner_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    process_types: Mapped[list[ProcessTypeRecord]] = relationship(
        back_populates="environment",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="ProcessTypeRecord.name",
    )


# The kinds of process type: a packaged class named by an entry point (the installation's,
# or an environment image's), or a project's own, registered from a notebook or from a
# function (stored as the notebook it generates).
PACKAGE, NOTEBOOK, FUNCTION = "package", "notebook", "function"


class ProcessTypeRecord(Base):
    """A process type. A packaged one (``project_id`` None) has a name unique in the
    installation; a project's own (a notebook or a function) a name unique in its project,
    never an installation type's, and ``revision`` counts its registrations: its current
    revision is the ``ProcessTypeRevision`` of that number (its notebook, its history)."""

    __tablename__ = "process_types"
    __table_args__ = (
        Index(
            "uq_process_types_installation_name",
            "name",
            unique=True,
            sqlite_where=text("project_id IS NULL"),
            postgresql_where=text("project_id IS NULL"),
        ),
        UniqueConstraint("project_id", "name", name="uq_process_types_project_name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id"))
    name: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    # ProcessType.version as the environment's runner described it (None: an old runner).
    version: Mapped[str | None] = mapped_column(String(255), nullable=True)
    cacheable: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    kind: Mapped[str] = mapped_column(String(16), default=PACKAGE, server_default=PACKAGE)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), nullable=True)
    revision: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # When a project's type was retired (None: in use). Retiring keeps the row and its
    # revisions: versions and their provenance name them.
    retired: Mapped[float | None] = mapped_column(Float, nullable=True)
    environment: Mapped[Environment] = relationship(back_populates="process_types")
    revisions: Mapped[list[ProcessTypeRevision]] = relationship(
        lazy="selectin", order_by="ProcessTypeRevision.number.desc()"
    )

    @property
    def current(self) -> ProcessTypeRevision | None:
        """The revision new versions run (None: a packaged type)."""
        return next((r for r in self.revisions if r.number == self.revision), None)


class ProcessTypeRevision(Base):
    """One registration of a project's type: the exact notebook its versions run, stored
    content-addressed (``key``), and the schema and texts it was registered with. A version
    names the revision it was submitted with, so a queued version, a restart and an exact
    re-run run that notebook, whatever was registered since."""

    __tablename__ = "process_type_revisions"
    __table_args__ = (UniqueConstraint("type_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type_id: Mapped[int] = mapped_column(ForeignKey("process_types.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(71))  # sha256:<hex> of the stored notebook
    key: Mapped[str] = mapped_column(String(2048))
    schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    title: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    # The Jupyter contents path it was registered from (None: sent as a document).
    path: Mapped[str | None] = mapped_column(String(4096), nullable=True)
    created: Mapped[float] = mapped_column(Float, default=now)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    creator: Mapped[User] = relationship(lazy="joined")


class Process(Base):
    __tablename__ = "processes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    type_name: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created: Mapped[float] = mapped_column(Float, default=now)
    versions: Mapped[list[ProcessVersion]] = relationship(
        back_populates="process", order_by="ProcessVersion.number", lazy="selectin"
    )


# The states a version ends in; nothing changes a version in one of them.
TERMINAL = ("completed", "failed")
# The states of a version that has not ended.
ACTIVE = ("pending", "queued", "running")


class ProcessVersion(Base):
    __tablename__ = "process_versions"
    __table_args__ = (UniqueConstraint("process_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id"))
    number: Mapped[int] = mapped_column(Integer)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    cpu: Mapped[float] = mapped_column(Float)
    memory: Mapped[int] = mapped_column(BigInteger)
    deadline_seconds: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    created: Mapped[float] = mapped_column(Float, default=now)
    started: Mapped[float | None] = mapped_column(Float, nullable=True)
    finished: Mapped[float | None] = mapped_column(Float, nullable=True)
    cost_estimated: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_actual: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    log_count: Mapped[int] = mapped_column(Integer, default=0)
    # Kept with the outputs as they are registered: a version shows its count without
    # counting a hundred thousand rows.
    output_count: Mapped[int] = mapped_column(Integer, default=0)
    # The server that runs it (NagelfluhApp.server_id); None from before servers were told apart.
    server: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # Its executor's ``kind``; None from before it was recorded.
    executor: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # services.provenance: what produced it (shapes.Provenance, but started and finished,
    # which are the columns above); None from before it was recorded.
    provenance: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # services.cache: the key of its work (None: not cacheable), the version whose outputs it
    # reuses, the identical one it waits for, the one it re-runs exactly and how they compare.
    cache_key: Mapped[str | None] = mapped_column(String(71), nullable=True, index=True)
    cached_from_id: Mapped[int | None] = mapped_column(
        ForeignKey("process_versions.id"), nullable=True
    )
    waiting_for_id: Mapped[int | None] = mapped_column(
        ForeignKey("process_versions.id"), nullable=True
    )
    rerun_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("process_versions.id"), nullable=True
    )
    reproducibility: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # The revision of a project's type it runs (None: a packaged type).
    type_revision_id: Mapped[int | None] = mapped_column(
        ForeignKey("process_type_revisions.id"), nullable=True
    )
    type_revision: Mapped[ProcessTypeRevision | None] = relationship(lazy="selectin")
    process: Mapped[Process] = relationship(back_populates="versions")
    inputs: Mapped[list[VersionInput]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    cached_from: Mapped[ProcessVersion | None] = relationship(
        remote_side=[id], foreign_keys=[cached_from_id], lazy="selectin"
    )
    rerun_of: Mapped[ProcessVersion | None] = relationship(
        remote_side=[id], foreign_keys=[rerun_of_id], lazy="selectin"
    )

    @property
    def resources(self) -> Resources:
        return Resources(self.cpu, self.memory, self.deadline_seconds)


class VersionInput(Base):
    """An edge of the flow graph: a version reads a dataset through its parameters."""

    __tablename__ = "version_inputs"

    version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"), primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), primary_key=True)


class ProcessLog(Base):
    """A run of consecutive log lines of one stream, read at one time.

    Lines are addressed one by one (``seq`` counts 1, 2, 3, ... per version), but
    stored ``count`` at a time, newline-joined: a process printing a million
    lines then costs a few hundred rows instead of a million. A line never
    contains a newline (the executors split on it), so the join is lossless.
    """

    __tablename__ = "process_logs"
    __table_args__ = (UniqueConstraint("version_id", "seq"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"))
    seq: Mapped[int] = mapped_column(Integer)  # the seq of the first line
    count: Mapped[int] = mapped_column(Integer)
    time: Mapped[float] = mapped_column(Float)
    stream: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)


class Dataset(Base):
    __tablename__ = "datasets"
    # Pages of a project's datasets and of a version's outputs, newest or oldest first,
    # are index range scans however many a project holds.
    __table_args__ = (
        Index("ix_datasets_project_version", "project_id", "version_id"),
        Index("ix_datasets_project_id", "project_id", "id"),
        Index("ix_datasets_version_id", "version_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    version_id: Mapped[int | None] = mapped_column(ForeignKey("process_versions.id"), nullable=True)
    name: Mapped[str] = mapped_column(String(1024))
    key: Mapped[str] = mapped_column(String(2048))
    mime_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    # "sha256:<hex>" of the stored bytes, computed by the server as it stored or checked them.
    digest: Mapped[str | None] = mapped_column(String(71), nullable=True)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created: Mapped[float] = mapped_column(Float, default=now)
    producer: Mapped[ProcessVersion | None] = relationship()


class Upload(Base):
    """A user's file. Two uploads of one name race; the unique constraint picks the one
    that registers first, and each wrote its bytes under a key of its own."""

    __tablename__ = "uploads"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_uploads_project_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), unique=True)
    name: Mapped[str] = mapped_column(String(1024))
    created: Mapped[float] = mapped_column(Float, default=now)


class Transaction(Base):
    __tablename__ = "transactions"
    __table_args__ = (Index("ix_transactions_user", "user_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"))
    process_id: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8))
    amount: Mapped[int] = mapped_column(BigInteger)
    time: Mapped[float] = mapped_column(Float, default=now)


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id"))
    created: Mapped[float] = mapped_column(Float, default=now)


class Event(Base):
    """A live event a server stored, for the other servers sharing a PostgreSQL database
    (``services.event_relay``): written in the transaction that stores what it announces,
    and announced by NOTIFY (a trigger) when that commits. It holds where the content
    is, not the content: a log event the seqs ``first``..``last`` of the version's
    lines, a datasets event the ids ``first``..``last`` of its outputs; a state or
    progress event the new values in ``data``, as no other row keeps them.

    ``xid`` is the writing transaction's id (PostgreSQL fills it in): a reader that
    takes only events of transactions older than every one still running never sees
    a later event before an earlier one commits, so ``(xid, id)`` is a cursor without
    gaps. Rows are deleted once older than any reader can need. SQLite, one server's
    database, never writes any.
    """

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_xid_id", "xid", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    xid: Mapped[int] = mapped_column(BigInteger, server_default=FetchedValue())
    origin: Mapped[str] = mapped_column(String(16))  # event_relay.origin_of(the writer's server_id)
    kind: Mapped[str] = mapped_column(String(8))  # log, state, progress, datasets
    version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"))
    first: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created: Mapped[float] = mapped_column(Float, default=now)
