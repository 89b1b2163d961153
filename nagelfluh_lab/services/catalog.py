"""Environments and their process types, and validation of parameters against a type's schema."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
from nagelfluh_runner.protocol import DATASET_FORMAT, DATASET_REF_PREFIX
from nagelfluh_runner.validation import apply_defaults
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import Environment, ProcessTypeRecord
from ..errors import NotFound, ValidationFailed

BOOTSTRAP_ENVIRONMENT = "bootstrap"
BOOTSTRAP_IMAGE = "nagelfluh-base-runner:latest"
_DATASET_REF = re.compile(rf"^{DATASET_REF_PREFIX}[1-9][0-9]*$")

_format_checker = jsonschema.FormatChecker()


@_format_checker.checks(DATASET_FORMAT)
def _is_dataset_ref(value: object) -> bool:
    return not isinstance(value, str) or bool(_DATASET_REF.match(value))


def register_environment(
    session: Session, name: str, image: str | None, types: list[dict]
) -> Environment:
    """Create or refresh an environment and the process types it offers."""
    env = session.scalar(select(Environment).where(Environment.name == name))
    if env is None:
        env = Environment(name=name, image=image)
        session.add(env)
    env.image = image
    by_name = {t.name: t for t in env.process_types}
    for described in types:
        record = by_name.pop(described["name"], None) or session.scalar(
            select(ProcessTypeRecord).where(ProcessTypeRecord.name == described["name"])
        )
        if record is None:
            record = ProcessTypeRecord(name=described["name"])
        record.environment = env
        record.title = described.get("title") or described["name"]
        record.description = described.get("description") or ""
        record.schema = described["schema"]
        session.add(record)
    for stale in by_name.values():
        session.delete(stale)
    session.flush()
    return env


def environments(session: Session) -> list[Environment]:
    return list(session.scalars(select(Environment).order_by(Environment.name)))


def process_types(session: Session) -> list[ProcessTypeRecord]:
    return list(session.scalars(select(ProcessTypeRecord).order_by(ProcessTypeRecord.name)))


def get_type(session: Session, name: object, path: str | None = None) -> ProcessTypeRecord:
    record = (
        session.scalar(select(ProcessTypeRecord).where(ProcessTypeRecord.name == name))
        if isinstance(name, str)
        else None
    )
    if record is None:
        message = f"unknown process type {name!r}"
        details = [{"path": path, "message": message}] if path else {"type": name}
        raise (ValidationFailed(message, details) if path else NotFound(message, details))
    return record


def validate_parameters(schema: dict, parameters: Any) -> dict:
    """Parameters with defaults applied, or a 400 naming every offending field."""
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        raise ValidationFailed(
            "parameters must be an object",
            [{"path": "/parameters", "message": "must be an object"}],
        )
    complete = apply_defaults(schema, parameters)
    validator = jsonschema.Draft202012Validator(schema, format_checker=_format_checker)
    errors = sorted(validator.iter_errors(complete), key=lambda e: list(e.absolute_path))
    if errors:
        details = [
            {
                "path": "/parameters" + "".join(f"/{p}" for p in error.absolute_path),
                "schema_path": "/" + "/".join(str(p) for p in error.absolute_schema_path),
                "message": error.message,
            }
            for error in errors
        ]
        first = details[0]
        raise ValidationFailed(f"{first['path']}: {first['message']}", details)
    return complete


def dataset_refs(schema: dict, value: Any, path: str = "/parameters") -> list[tuple[str, int]]:
    """Every ``dataset:<id>`` in ``value`` held by a field of format nagelfluh-dataset."""
    found: list[tuple[str, int]] = []
    if schema.get("format") == DATASET_FORMAT and isinstance(value, str):
        if _DATASET_REF.match(value):
            found.append((path, int(value[len(DATASET_REF_PREFIX) :])))
    elif isinstance(value, dict):
        for name, sub in (schema.get("properties") or {}).items():
            if name in value:
                found += dataset_refs(sub, value[name], f"{path}/{name}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            found += dataset_refs(schema["items"], item, f"{path}/{index}")
    return found
