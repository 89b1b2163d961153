"""Environments and their process types, and validation of parameters against a type's schema."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeAlias

import jsonschema
from nagelfluh_runner import registry
from nagelfluh_runner.pointer import join, located, tokens
from nagelfluh_runner.protocol import (
    DATASET_FORMAT,
    DATASET_READABLE,
    DATASET_REF_PREFIX,
    MANIFEST_CONTRACT_VERSION,
    RUNNER_SIDE,
    SERVER_SIDE,
    contract_mismatch,
)
from nagelfluh_runner.validation import apply_defaults
from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from ..db.models import Environment, ProcessTypeRecord, User
from ..errors import Conflict, Forbidden, NotFound, ValidationFailed, field_error
from ..shapes import BrokenProcessType, ErrorDetails, FieldError
from . import access

BOOTSTRAP_ENVIRONMENT = "bootstrap"
REGISTERING, READY, FAILED = "registering", "ready", "failed"
# A DNS-1123 label: it becomes part of a schema Job's name and a label value.
ENVIRONMENT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# Type names are path segments of the API (process-types/{name}).
TYPE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
BROKEN_FIELDS = ("name", "entry_point", "error")
MAX_BROKEN = 1000
MAX_BROKEN_TEXT = 2000
_DATASET_REF = re.compile(rf"^{DATASET_REF_PREFIX}[1-9][0-9]*$")

# A process type as ``python -m nagelfluh_runner schema`` describes it: {"name", "title",
# "description", "schema"}, the schema a JSON Schema.
Described: TypeAlias = dict[str, Any]
# An entry point that could not be used, as the runner's registry.discover reports it and
# Environment.broken stores it: {"name", "entry_point", "error"} (broken_json: the API's).
Broken: TypeAlias = dict[str, str]
# A JSON Schema, or the part of one that describes a field.
Schema: TypeAlias = dict[str, Any]

_format_checker = jsonschema.FormatChecker()


@_format_checker.checks(DATASET_FORMAT)
def _is_dataset_ref(value: object) -> bool:
    return not isinstance(value, str) or bool(_DATASET_REF.match(value))


def register_environment(
    session: Session,
    name: str,
    image: str | None,
    types: list[Described],
    broken: list[Broken] | None = None,
    identity: Identity | None = None,
) -> Environment:
    """Create or refresh an environment and the process types it offers, taking over
    types of the same name from other environments (the server's own come first);
    ``broken`` lists the entry points it offers that could not be loaded."""
    env = session.scalar(select(Environment).where(Environment.name == name))
    if env is None:
        env = Environment(name=name, image=image)
        session.add(env)
    env.image = env.requested_image = image
    env.state, env.message = READY, None
    env.broken = list(broken or []) or None
    env.digest, env.runner_version = identity or Identity()
    _store_types(session, env, types)
    return env


@dataclass(frozen=True)
class Identity:
    """What an environment's runs are recorded with: its digest in cache keys (None while
    unresolved) and its runner's version."""

    digest: str | None = None
    runner_version: str | None = None

    def __iter__(self) -> Iterator[str | None]:
        return iter((self.digest, self.runner_version))


def packaged_type(session: Session, name: str) -> ProcessTypeRecord | None:
    """The packaged (installation or image) type named ``name``: such a name is unique in
    the installation, so no project's type may take it."""
    return session.scalar(
        select(ProcessTypeRecord).where(
            ProcessTypeRecord.name == name, ProcessTypeRecord.project_id.is_(None)
        )
    )


def _store_types(session: Session, env: Environment, types: list[Described]) -> None:
    """Make ``types`` (as ``schema`` describes them) the packaged types of ``env``, and only
    them (projects' own types running in it stay)."""
    by_name = {t.name: t for t in env.process_types if t.project_id is None}
    for described in types:
        record = by_name.pop(described["name"], None) or packaged_type(
            session, described["name"]
        )
        if record is None:
            record = ProcessTypeRecord(name=described["name"])
        record.environment = env
        record.title = described.get("title") or described["name"]
        record.description = described.get("description") or ""
        record.schema = described["schema"]
        version = described.get("version")
        record.version = version if isinstance(version, str) and 0 < len(version) <= 255 else None
        record.cacheable = described.get("cacheable") is not False
        session.add(record)
    for stale in by_name.values():
        session.delete(stale)
    session.flush()


@dataclass(frozen=True)
class Owner:
    """Whose an environment is: a user's, a project's, or (neither) the installation's."""

    user_id: int | None = None
    project_id: int | None = None

    @classmethod
    def of(cls, env: Environment) -> Owner:
        return cls(env.owner_user_id, env.owner_project_id)

    @property
    def installation(self) -> bool:
        return self.user_id is None and self.project_id is None


INSTALLATION = Owner()


@dataclass(frozen=True)
class Registration:
    name: str
    image: str
    project: object | None  # the project id asked for, unchecked
    installation: bool


def validate_registration(body: Any) -> Registration:
    """A registration request, or a 400 naming the field."""
    if not isinstance(body, dict):
        raise field_error("/", "must be an object with the fields name and image")
    unknown = sorted(body.keys() - {"name", "image", "project", "installation"})
    if unknown:
        raise field_error(
            join("", unknown[0]),
            "unknown field; an environment has a name, an image and optionally a project "
            "or installation: true",
        )
    name, image = body.get("name"), body.get("image")
    if not isinstance(name, str) or len(name) > 63 or not ENVIRONMENT_NAME.match(name):
        raise field_error(
            "/name",
            "must be 1 to 63 lowercase letters, digits and '-', starting and ending "
            "with a letter or digit (a DNS-1123 label)",
        )
    if not isinstance(image, str) or not image.strip() or len(image) > 1024:
        raise field_error("/image", "must be a non-empty image reference")
    if any(c.isspace() for c in image):
        raise field_error("/image", "must not contain white space")
    installation = body.get("installation", False)
    if not isinstance(installation, bool):
        raise field_error("/installation", "must be true or false")
    if installation and body.get("project") is not None:
        raise field_error("/project", "an environment is a project's or the installation's")
    return Registration(name, image, body.get("project"), installation)


def visible_to(user: User, project_ids: list[int]) -> ColumnElement[bool]:
    """Which environments ``user`` (a member of ``project_ids``) may see and use."""
    return or_(
        and_(Environment.owner_user_id.is_(None), Environment.owner_project_id.is_(None)),
        Environment.owner_user_id == user.id,
        Environment.owner_project_id.in_(project_ids),
    )


def may_see(env: Environment, user: User, project_ids: list[int]) -> bool:
    owner = Owner.of(env)
    return owner.installation or owner.user_id == user.id or owner.project_id in project_ids


def request_registration(
    session: Session,
    name: str,
    image: str,
    owner: Owner,
    user: User,
    admin: bool,
) -> Environment:
    """Start a new registration attempt of ``name`` from ``image`` for ``owner``; the
    types and image of an existing environment stay in use until the attempt succeeds.

    Only its owner may register a name again (a project's members, or an admin for the
    installation's): anyone else would swap the code that the owner's runs execute."""
    if name == BOOTSTRAP_ENVIRONMENT:
        raise Conflict(
            "the bootstrap environment is the server's own Python: it cannot be registered "
            "from an image",
            [{"path": "/name", "message": "is the bootstrap environment's name"}],
        )
    env = session.scalar(select(Environment).where(Environment.name == name).with_for_update())
    if env is None:
        if owner.installation and not admin:
            raise Forbidden(
                "only an admin may register an environment for the whole installation",
                [{"path": "/installation", "message": "needs an admin"}],
            )
        env = Environment(
            name=name,
            image=None,
            attempt=0,
            owner_user_id=owner.user_id,
            owner_project_id=owner.project_id,
        )
        session.add(env)
    else:
        current = Owner.of(env)
        projects = [] if current.project_id is None else access.project_ids(session, user)
        if current.installation and not admin:
            raise Forbidden(
                f"environment {name!r} is the installation's: only an admin may register it again",
                [{"path": "/name", "message": "is an installation environment"}],
            )
        if not current.installation and not may_see(env, user, projects):
            raise Forbidden(
                f"the environment name {name!r} is taken",
                [{"path": "/name", "message": "is another owner's environment"}],
            )
        if current != owner:
            raise Conflict(
                f"environment {name!r} belongs to {_owner_text(current)}; registering it "
                "again keeps its owner",
                [{"path": "/name", "message": "has another owner than the one asked for"}],
            )
    env.state, env.message, env.requested_image = REGISTERING, None, image
    env.attempt = (env.attempt or 0) + 1
    session.flush()
    return env


def _owner_text(owner: Owner) -> str:
    if owner.installation:
        return "the installation"
    if owner.project_id is not None:
        return f"project {owner.project_id}"
    return "its user"


def _attempt(
    session: Session, name: str, attempt: int, states: tuple[str, ...] = (REGISTERING,)
) -> Environment | None:
    """The environment, if ``attempt`` is its latest registration and in ``states``."""
    env = session.scalar(select(Environment).where(Environment.name == name).with_for_update())
    if env is None or env.attempt != attempt or env.state not in states:
        return None
    return env


def complete_registration(
    session: Session,
    name: str,
    attempt: int,
    types: list[Described],
    broken: list[Broken] | None = None,
    identity: Identity | None = None,
) -> Environment | None:
    """Store what ``attempt`` found: the types it offers, and its image as the one in
    use; ``broken``, the entry points of the image that could not be used, are shown
    beside them. Types of a name another environment offers stay there (every image with the
    runner offers the bootstrap types too); an image left with none of its own fails.
    None if a newer attempt superseded this one.

    A success overrides a failure of the same attempt: servers sharing the database
    all take up a registration left under way, and one of them may see the Job
    vanish because another has read and deleted it."""
    env = _attempt(session, name, attempt, (REGISTERING, FAILED))
    if env is None:
        return None
    holders = {
        record.name: record.environment
        for record in session.scalars(
            select(ProcessTypeRecord).where(
                ProcessTypeRecord.name.in_([t["name"] for t in types]),
                ProcessTypeRecord.project_id.is_(None),
            )
        )
    }
    own = [t for t in types if t["name"] not in holders or holders[t["name"]].name == name]
    # Another owner's environment is not named: its name is not this owner's to see.
    elsewhere = sorted(
        f"{t} ({e.name if Owner.of(e) in (INSTALLATION, Owner.of(env)) else 'another owner'})"
        for t, e in holders.items()
        if e.name != name
    )
    note = (
        "Process types of the same name as another environment's stay there: "
        + ", ".join(elsewhere)
        if elsewhere
        else None
    )
    if not own:
        env.state = FAILED
        unusable = "; ".join(f"{b['name']}: {b['error']}" for b in (broken or [])[:5])
        env.message = (
            f"The image {env.requested_image} offers no process types of its own"
            + (f". {note}" if note else "")
            + (f". Unusable: {unusable}" if unusable else "")
        )
        return env
    _store_types(session, env, own)
    env.image, env.state, env.message = env.requested_image, READY, note
    env.broken = list(broken or []) or None
    env.digest, env.runner_version = identity or Identity()
    return env


def fail_registration(
    session: Session, name: str, attempt: int, message: str
) -> Environment | None:
    """Record why ``attempt`` failed; the types and image in use stay. None if a newer
    attempt superseded it."""
    env = _attempt(session, name, attempt)
    if env is not None:
        env.state, env.message = FAILED, message
    return env


def registering(session: Session) -> list[Environment]:
    """Environments whose registration was under way (e.g. when the server stopped)."""
    return list(session.scalars(select(Environment).where(Environment.state == REGISTERING)))


def get_environment(session: Session, name: str, user: User) -> Environment:
    """The environment, if ``user`` may see it; 404 alike for unknown and unseen ones."""
    env = session.scalar(
        select(Environment).where(
            Environment.name == name, visible_to(user, access.project_ids(session, user))
        )
    )
    if env is None:
        raise NotFound(f"unknown environment {name!r}", {"environment": name})
    return env


def parse_schema_output(output: str) -> tuple[list[Described], list[Broken]]:
    """What ``python -m nagelfluh_runner schema`` printed in an image, as ``(types,
    broken)``: a JSON list of ``{"name", "title", "description", "schema"}``, then, from
    runners that report them, one line ``{"broken": [{"name", "entry_point", "error"}]}``
    of the entry points that did not load. A listed type whose description is unusable
    (``check_described``) is broken too, and the others stay usable. Raises ValueError
    saying what is wrong only for output that is no such list at all. Lines before the
    list (a warning on stderr, which shares the pod log) are skipped."""
    text = output.strip()
    start = 0 if text.startswith("[") else text.find("\n[") + 1
    if not start and not text.startswith("["):
        raise ValueError(f"its output holds no JSON list: {_excerpt(text)}")
    try:
        described, end = json.JSONDecoder().raw_decode(text, start)
    except ValueError as error:
        raise ValueError(f"its output is not valid JSON ({error}): {_excerpt(text)}") from None
    if not isinstance(described, list):
        raise ValueError("its output is not a JSON list of process types")
    names = [item.get("name") if isinstance(item, dict) else None for item in described]
    twice = sorted({n for n in names if isinstance(n, str) and names.count(n) > 1})
    if twice:
        raise ValueError(f"process type {twice[0]!r} is listed twice")
    try:
        contract = _reported(text[end:], MANIFEST_CONTRACT_VERSION)
    except (ValueError, TypeError) as error:
        raise ValueError(f"its job contract version is malformed: {error}") from None
    mismatch = contract_mismatch(contract, SERVER_SIDE, RUNNER_SIDE)
    if mismatch:
        raise ValueError(mismatch)
    types, broken = split_described(described, {})
    return types, sorted(broken + _reported_broken(text[end:]), key=lambda b: b["name"])


def reported_runner_version(output: str) -> str | None:
    """The runner version the ``schema`` output's ``environment`` line reports (None from
    runners before it, or where it is no short string)."""
    line = next((ln for ln in output.splitlines() if ln.startswith('{"environment"')), None)
    try:
        reported = json.loads(line)["environment"]["runner_version"] if line else None
    except (ValueError, KeyError, TypeError):
        return None
    return reported if isinstance(reported, str) and len(reported) <= 64 else None


def _reported(rest: str, field: str) -> object:
    """The value in the runner's line ``{"<field>": ...}`` after the list; None if
    there is none (runners from before it). ValueError if the line is not JSON."""
    line = next((ln for ln in rest.splitlines() if ln.startswith(f'{{"{field}"')), None)
    return None if line is None else json.loads(line)[field]


def _reported_broken(rest: str) -> list[Broken]:
    """The runner's ``{"broken": [...]}`` line after the list, each field cut to
    MAX_BROKEN_TEXT characters; none if absent. ValueError if it is malformed."""
    try:
        reported = _reported(rest, "broken")
        if reported is None:
            return []
        if not isinstance(reported, list) or len(reported) > MAX_BROKEN:
            raise ValueError(f"not a list of at most {MAX_BROKEN}")
        return [
            {field: _text(item[field])[:MAX_BROKEN_TEXT] for field in BROKEN_FIELDS}
            for item in reported
        ]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"its list of broken process types is malformed: {error}") from None


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{value!r} is not a string")
    return value


def check_described(item: object, where: str) -> str | None:
    """What is wrong with one process type as ``schema`` describes it (``{"name", "title",
    "description", "schema"}``, the schema a valid JSON Schema), or None."""
    if not isinstance(item, dict):
        return f"{where} is not a JSON object"
    name = item.get("name")
    if not isinstance(name, str) or len(name) > 255 or not TYPE_NAME.match(name):
        return f"{where}: name {name!r} is not letters, digits, '.', '_' or '-'"
    for field in ("title", "description"):
        if not isinstance(item.get(field, ""), str):
            return f"process type {name!r}: {field} is not a string"
    if len(item.get("title", "")) > 255:
        return f"process type {name!r}: title is longer than 255 characters"
    schema = item.get("schema")
    if not isinstance(schema, dict):
        return f"process type {name!r}: schema is not a JSON object"
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as error:
        path = join("", *error.absolute_path)
        return (
            f"process type {name!r}: its schema is not a valid JSON Schema "
            f"at {path or '/'}: {error.message}"
        )
    return None


def installed_types() -> tuple[list[Described], list[Broken]]:
    """The process types of the server's own Python (its ``nagelfluh.process_types`` entry
    points), each on its own: ``(types, broken)``. A type whose module fails to import,
    that names no ProcessType, or whose description fails ``check_described`` (its
    schema no valid JSON Schema, ...) is broken, ``{"name", "entry_point", "error"}``;
    the others are usable whatever the broken ones do."""
    points = registry.entry_points()
    described, broken = registry.discover()
    types, unusable = split_described(described, points)
    return types, sorted(broken + unusable, key=lambda b: b["name"])


def split_described(
    described: list[Any], points: dict[str, str]
) -> tuple[list[Described], list[Broken]]:
    """The usable types among ``described`` and, broken, those whose description fails
    ``check_described`` or is no storable JSON (``points``: entry points by name)."""
    types: list[Described] = []
    broken: list[Broken] = []
    for index, item in enumerate(described, 1):
        name = str(item.get("name")) if isinstance(item, dict) else f"process type {index}"
        try:
            problem = check_described(item, f"process type {name!r}")
            if problem is None:
                json.dumps(item, allow_nan=False)  # what the database's JSON column stores
        except (TypeError, ValueError, RecursionError) as error:
            problem = f"process type {name!r}: its description is not JSON: {error}"
        except Exception as error:  # a schema that breaks the metaschema check itself
            problem = f"process type {name!r}: {registry.error_text(error)}"
        if problem is None:
            types.append(item)
        else:
            reason = problem.removeprefix(f"process type {name!r}: ")
            broken.append({"name": name, "entry_point": points.get(name, ""), "error": reason})
    return types, broken


def _excerpt(text: str, limit: int = 300) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def environments(session: Session, user: User) -> list[Environment]:
    visible = visible_to(user, access.project_ids(session, user))
    return list(session.scalars(select(Environment).where(visible).order_by(Environment.name)))


def process_types(
    session: Session, user: User, project_id: int | None = None
) -> list[ProcessTypeRecord]:
    """The types ``user`` may use: the packaged ones of environments they may use, and their
    projects' own (only ``project_id``'s, where it is given: the types usable there) that
    were not retired."""
    projects = access.project_ids(session, user)
    own = _own_projects(projects, project_id)
    return list(
        session.scalars(
            select(ProcessTypeRecord)
            .join(Environment)
            .where(
                visible_to(user, projects),
                or_(
                    ProcessTypeRecord.project_id.is_(None),
                    ProcessTypeRecord.project_id.in_(own),
                ),
                ProcessTypeRecord.retired.is_(None),
            )
            .order_by(ProcessTypeRecord.name, ProcessTypeRecord.project_id)
        )
    )


def broken_types(session: Session, user: User) -> list[BrokenProcessType]:
    """The broken entry points of the environments ``user`` may use, by name."""
    found = [
        broken_json(env, item) for env in environments(session, user) for item in env.broken or ()
    ]
    return sorted(found, key=lambda b: (b["name"], b["environment"]))


def broken_json(env: Environment, item: Broken) -> BrokenProcessType:
    return {
        "name": item.get("name", ""),
        "entry_point": item.get("entry_point", ""),
        "environment": env.name,
        "error": item.get("error", ""),
    }


def _own_projects(projects: list[int], project_id: int | None) -> list[int]:
    """The projects whose own types count: ``project_id`` if given (and one of the user's
    ``projects``: another project's types are not there for them), else all of them."""
    if project_id is None:
        return projects
    return [project_id] if project_id in projects else []


def get_type(
    session: Session,
    name: object,
    user: User,
    path: str | None = None,
    project_id: int | None = None,
    *,
    retired_too: bool = False,
) -> ProcessTypeRecord:
    """The type ``name`` means in project ``project_id`` (its own type of that name, else the
    installation's), if its environment is one ``user`` may use: else unknown, as if it were
    not there (a 400 naming ``path`` where a request named it, else a 404). Without a
    project, an installation type, else the one of ``user``'s projects that has one.

    A type in use comes before a retired one, which is found only ``retired_too`` (to show
    it): else it is refused as such, for new work (a 400 naming ``path``, else a 409: the
    process is there, its type retired).
    """
    record = None
    retired = None
    if isinstance(name, str):
        projects = access.project_ids(session, user)
        own = _own_projects(projects, project_id)
        candidates = session.scalars(
            select(ProcessTypeRecord)
            .join(Environment)
            .where(
                ProcessTypeRecord.name == name,
                visible_to(user, projects),
                or_(
                    ProcessTypeRecord.project_id.is_(None),
                    ProcessTypeRecord.project_id.in_(own),
                ),
            )
            .order_by(ProcessTypeRecord.project_id.is_(None), ProcessTypeRecord.project_id)
        ).all()
        record = next((c for c in candidates if c.retired is None), None)
        retired = next((c for c in candidates if c.retired is not None), None)
        if retired_too and record is None:
            record = retired
    if record is None and retired is not None:
        message = (
            f"process type {retired.name!r} of project {retired.project_id} was retired: "
            "register its notebook again to use it"
        )
        if path:
            raise ValidationFailed(message, [{"path": path, "message": message}])
        raise Conflict(message, {"type": retired.name, "retired": retired.retired})
    if record is None:
        message = f"unknown process type {name!r}"
        for broken in broken_types(session, user) if isinstance(name, str) else ():
            if broken["name"] == name:
                message = (
                    f"process type {name!r} of environment {broken['environment']!r} is "
                    f"installed but broken: {broken['error']}"
                )
        details: ErrorDetails = [{"path": path, "message": message}] if path else {"type": name}
        raise (ValidationFailed(message, details) if path else NotFound(message, details))
    return record


def validate_parameters(schema: Schema, parameters: Any) -> dict[str, Any]:
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
    # A missing property is named at its own pointer, where a form has its field.
    located_errors = sorted(
        located(validator.iter_errors(complete)), key=lambda found: tokens(found[0])
    )
    if located_errors:
        details: list[FieldError] = [
            {
                "path": "/parameters" + pointer,
                "schema_path": join("", *error.absolute_schema_path),
                "message": error.message,
            }
            for pointer, error in located_errors
        ]
        first = details[0]
        raise ValidationFailed(f"{first['path']}: {first['message']}", details)
    return complete


def dataset_refs(schema: Schema, value: Any, path: str = "/parameters") -> list[tuple[str, int]]:
    """Every ``dataset:<id>`` in ``value`` held by a field of format nagelfluh-dataset."""
    return [(where, dataset_id) for where, dataset_id, _ in dataset_fields(schema, value, path)]


def dataset_fields(
    schema: Schema, value: Any, path: str = "/parameters"
) -> list[tuple[str, int, Schema]]:
    """``dataset_refs`` with the schema of the field that holds each reference."""
    found: list[tuple[str, int, Schema]] = []
    if schema.get("format") == DATASET_FORMAT and isinstance(value, str):
        if _DATASET_REF.match(value):
            found.append((path, int(value[len(DATASET_REF_PREFIX) :]), schema))
    elif isinstance(value, dict):
        for name, sub in (schema.get("properties") or {}).items():
            if name in value:
                found += dataset_fields(sub, value[name], join(path, name))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            found += dataset_fields(schema["items"], item, join(path, index))
    return found


def unreadable_reason(schema: Schema, dataset_meta: dict[str, Any] | None) -> str | None:
    """Why a dataset cannot go into a field whose schema asks for a readable dataset
    (``x-nagelfluh-readable``): the server found no variables in it (an opaque upload,
    or an output written as plain bytes). None when it may go there."""
    if schema.get(DATASET_READABLE) is not True:
        return None
    meta = dataset_meta or {}
    if meta.get("variables"):
        return None
    why = (meta.get("metadata") or {}).get("not_described")
    return str(why) if why else "no variables were found in it"
