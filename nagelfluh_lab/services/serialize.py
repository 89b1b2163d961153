"""ORM rows to the JSON shapes of DESIGN §5 (``nagelfluh_lab.shapes``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

from .. import shapes
from ..db.models import (
    Dataset,
    Environment,
    Process,
    ProcessTypeRecord,
    ProcessTypeRevision,
    ProcessVersion,
    Project,
    Transaction,
)
from .billing import credits
from .catalog import broken_json


def project_json(project: Project) -> shapes.Project:
    return {
        "id": project.id,
        "name": project.name,
        "created": project.created,
        "members": [{"user": m.user.name, "role": m.role} for m in project.members],
    }


def environment_json(env: Environment) -> shapes.Environment:
    described: shapes.Environment = {
        "name": env.name,
        "image": env.image,
        "process_types": [t.name for t in env.process_types if t.project_id is None],
        "state": cast(shapes.EnvironmentState, env.state),
        "message": env.message,
        "requested_image": env.requested_image,
        "owner": _owner_json(env),
        "digest": env.digest,
    }
    if env.broken:  # only where there are: GET process-types lists them always
        described["broken"] = [broken_json(env, item) for item in env.broken]
    return described


def _owner_json(env: Environment) -> shapes.UserOwner | shapes.ProjectOwner | None:
    """None for the installation's; else whose it is."""
    if env.owner_project_id is not None:
        return {"project": env.owner_project_id}
    if env.owner_user is not None:
        return {"user": env.owner_user.name}
    return None


def type_json(record: ProcessTypeRecord) -> shapes.ProcessType:
    current = record.current
    return {
        "name": record.name,
        "title": record.title,
        "description": record.description,
        "environment": record.environment.name,
        "schema": record.schema,
        "version": record.version,
        "cacheable": record.cacheable,
        "project": record.project_id,
        "kind": cast(shapes.ProcessTypeKind, record.kind),
        "revision": record.revision if current is not None else None,
        "source": revision_source(current) if current is not None else None,
        "retired": record.retired,
    }


def type_detail_json(record: ProcessTypeRecord) -> shapes.ProcessType:
    """A type with the history of a project's type: every revision, newest first."""
    described = type_json(record)
    if record.project_id is not None:
        described["revisions"] = [
            {
                "revision": r.number,
                "version": r.digest,
                "title": r.title,
                "created": r.created,
                "created_by": r.creator.name,
                "source": revision_source(r),
            }
            for r in record.revisions
        ]
    return described


def revision_source(revision: ProcessTypeRevision) -> shapes.TypeSource:
    return {"path": revision.path, "digest": revision.digest}


def dataset_json(dataset: Dataset) -> shapes.Dataset:
    producer = dataset.producer
    meta = dataset.meta or {}
    return {
        "id": dataset.id,
        "project": dataset.project_id,
        "name": dataset.name,
        "key": dataset.key,
        "mime_type": dataset.mime_type,
        "size": dataset.size,
        "digest": dataset.digest,
        "created": dataset.created,
        "process": producer.process_id if producer else None,
        "version": producer.number if producer else None,
        "title": meta.get("title"),
        "variables": meta.get("variables", []),
        "dims": meta.get("dims", {}),
        "metadata": meta.get("metadata", {}),
    }


def dataset_meta_json(dataset: Dataset) -> shapes.DatasetMeta:
    producer = dataset.producer
    body = dataset_json(dataset)
    return {
        **body,
        "producer": (
            {
                "process": producer.process_id,
                "version": producer.number,
                "type": producer.process.type_name,
                "provenance": provenance_json(producer),
            }
            if producer
            else None
        ),
        "units": {v["name"]: v.get("units") for v in body["variables"]},
    }


def _status(version: ProcessVersion) -> shapes.VersionStatus:
    return {
        "process": version.process_id,
        "version": version.number,
        "state": cast(shapes.VersionState, version.state),
        "reason": version.reason,
        "message": version.message,
    }


def state_event(version: ProcessVersion) -> shapes.StateEvent:
    """The ``state`` event of the events WebSocket for a version as it is now."""
    return {"type": "state", **_status(version), "progress": version.progress}


def version_json(version: ProcessVersion, outputs: Sequence[Dataset]) -> shapes.Version:
    """``outputs``: the first of its outputs (version_outputs.output_pages); all of
    them are pages of the dataset list, ``output_count`` says how many."""
    return {
        **_status(version),
        "progress": version.progress,
        "parameters": version.parameters,
        "resources": version.resources.to_json(),
        "created": version.created,
        "started": version.started,
        "finished": version.finished,
        "cost": {
            "estimated": credits(version.cost_estimated),
            "actual": credits(version.cost_actual),
        },
        "inputs": sorted(i.dataset_id for i in version.inputs),
        "outputs": [dataset_json(d) for d in outputs],
        "output_count": version.output_count,
        "log_lines": version.log_count,
        "cached_from": version_ref(version.cached_from),
        "rerun_of": version_ref(version.rerun_of),
        "reproducibility": cast(shapes.Reproducibility | None, version.reproducibility),
        "provenance": provenance_json(version),
    }


def version_ref(version: ProcessVersion | None) -> shapes.VersionRef | None:
    return None if version is None else {"process": version.process_id, "version": version.number}


def provenance_json(version: ProcessVersion) -> shapes.Provenance | None:
    """The stored record with the run's times, which the version's own columns keep."""
    if version.provenance is None:
        return None
    stored = cast(shapes.Provenance, version.provenance)
    return {**stored, "started": version.started, "finished": version.finished}


def process_json(process: Process, outputs: Mapping[int, Sequence[Dataset]]) -> shapes.Process:
    """``outputs``: the first outputs of each version, by version row id."""
    return {
        "id": process.id,
        "project": process.project_id,
        "type": process.type_name,
        "name": process.name,
        "created": process.created,
        "versions": [version_json(v, outputs[v.id]) for v in process.versions],
    }


def transaction_json(tx: Transaction) -> shapes.Transaction:
    return {
        "kind": cast(shapes.TransactionKind, tx.kind),
        "amount": credits(tx.amount),
        "process": tx.process_id,
        "version": tx.version,
        "project": tx.project_id,
        "time": tx.time,
    }
