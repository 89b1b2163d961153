"""Who may see what: users, their projects and membership checks.

Everything outside the caller's projects answers 404 (not 403), so that ids of
other people's work cannot even be probed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..db.models import Process, Project, ProjectMember, User
from ..db.session import Database
from ..errors import NotFound, field_error

T = TypeVar("T")

DEFAULT_PROJECT_NAME = "My project"
# Ids (and log seqs) are the databases' signed 64-bit integers: a larger number names
# nothing, and SQLite cannot even compare a column with it (OverflowError).
MAX_ID = 2**63 - 1


def ensure_user(session: Session, name: str) -> User:
    """The caller's user row; a first-time user also gets a personal default project."""
    user = session.scalar(select(User).where(User.name == name))
    if user is not None:
        return user
    try:
        with session.begin_nested():
            user = User(name=name)
            session.add(user)
            session.flush()
    except IntegrityError:  # another request created it first
        return session.scalars(select(User).where(User.name == name)).one()
    create_project(session, user, DEFAULT_PROJECT_NAME)
    return user


async def as_user(db: Database, user_name: str, query: Callable[[Session, User], T]) -> T:
    """``query`` run in one transaction for the user named ``user_name``."""
    return await db.run(lambda session: query(session, ensure_user(session, user_name)))


def create_project(session: Session, user: User, name: object) -> Project:
    if not isinstance(name, str) or not name.strip():
        raise field_error("/name", "a project needs a non-empty name")
    if len(name) > 255:
        raise field_error("/name", "must be at most 255 characters")
    project = Project(name=name.strip())
    project.members.append(ProjectMember(user_id=user.id, role="owner"))
    session.add(project)
    session.flush()
    return project


def user_projects(session: Session, user: User) -> list[Project]:
    return list(
        session.scalars(
            select(Project)
            .join(ProjectMember)
            .where(ProjectMember.user_id == user.id)
            .order_by(Project.id)
        )
    )


def project_ids(session: Session, user: User) -> list[int]:
    return list(
        session.scalars(select(ProjectMember.project_id).where(ProjectMember.user_id == user.id))
    )


def visible_project_ids(session: Session, user: User, project: object | None) -> list[int]:
    """The one project asked for (404 unless the user's), or all of the user's projects."""
    if project is not None:
        return [get_project(session, user, project).id]
    return project_ids(session, user)


def get_project(session: Session, user: User, project_id: object) -> Project:
    pid = parse_id(project_id, "project")
    project = session.scalar(
        select(Project)
        .join(ProjectMember)
        .where(Project.id == pid, ProjectMember.user_id == user.id)
    )
    if project is None:
        raise NotFound(f"project {project_id} not found", {"project": project_id})
    return project


def get_process(session: Session, user: User, process_id: object) -> Process:
    pid = parse_id(process_id, "process")
    process = session.scalar(
        select(Process)
        .join(ProjectMember, ProjectMember.project_id == Process.project_id)
        .where(Process.id == pid, ProjectMember.user_id == user.id)
    )
    if process is None:
        raise NotFound(f"process {process_id} not found", {"process": process_id})
    return process


def natural(value: object, maximum: int = MAX_ID) -> int | None:
    """``value`` (an int, or a string of ASCII digits) if it is a whole number from 0 to
    ``maximum``, else None. Strings are checked before ``int`` sees them: ``"²"`` is a
    digit to ``str.isdigit`` that ``int`` refuses, and ``int`` refuses over 4300 digits."""
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit()) or len(value) > len(str(maximum)):
            return None
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= maximum:
        return value
    return None


def parse_id(value: object, field: str) -> int:
    """An id from a query or body; a malformed one, or one beyond MAX_ID, is a 400
    naming the field (path ids beyond it answer 404 before any handler runs)."""
    number = natural(value)
    if not number:
        raise field_error(f"/{field}", f"{value!r} is not a valid id")
    return number
