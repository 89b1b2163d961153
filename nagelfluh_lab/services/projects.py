"""A user's projects, listed and created: the answers of the projects route."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from .. import shapes
from ..db.models import User
from ..db.session import Database
from . import access
from .serialize import project_json


@dataclass(frozen=True)
class ProjectService:
    db: Database

    async def list(self, user_name: str) -> shapes.ProjectList:
        """The user's projects, oldest first, in one page (a user has few)."""

        def query(session: Session, user: User) -> list[shapes.Project]:
            return [project_json(p) for p in access.user_projects(session, user)]

        return {"items": await access.as_user(self.db, user_name, query), "next": None}

    async def create(self, user_name: str, name: object) -> shapes.Project:
        """A new project named ``name``, its creator its owner (a 400 unless a name)."""
        return await access.as_user(
            self.db,
            user_name,
            lambda session, user: project_json(access.create_project(session, user, name)),
        )
