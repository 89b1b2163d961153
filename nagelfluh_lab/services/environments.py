"""Environments: listing them, and registering one from an image in the background.

A registration answers at once with the environment in state "registering": the
extraction (a Kubernetes Job) takes seconds to minutes. A task then stores the
types it found ("ready") or why it could not ("failed"); the types and image in
use stay until a registration succeeds. Registrations under way when the server
stopped are taken up again when it starts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from nagelfluh_runner.registry import GROUP
from sqlalchemy.orm import Session

from .. import shapes
from ..db.models import User
from ..db.session import Database
from ..errors import field_error
from ..executors.schema import SchemaExtractionFailed, SchemaExtractor
from . import access, catalog, provenance
from .serialize import environment_json, type_detail_json, type_json

T = TypeVar("T")


class EnvironmentService:
    def __init__(
        self,
        db: Database,
        extractor: SchemaExtractor | None,
        executor: str,
        log: logging.Logger,
    ) -> None:
        """``extractor`` is None where processes do not run in images (the local
        executor, named ``executor`` in the refusal)."""
        self.db = db
        self.extractor = extractor
        self.executor = executor
        self.log = log
        self._tasks: set[asyncio.Task[None]] = set()

    async def list(self, user_name: str) -> shapes.EnvironmentList:
        envs = await self._as_user(
            user_name, lambda s, u: [environment_json(e) for e in catalog.environments(s, u)]
        )
        return {"items": envs, "next": None}

    async def get(self, user_name: str, name: str) -> shapes.Environment:
        return await self._as_user(
            user_name, lambda s, u: environment_json(catalog.get_environment(s, name, u))
        )

    async def types(self, user_name: str, project: str | None = None) -> shapes.ProcessTypeList:
        """The usable types (in ``project`` if given: the installation's and its own), and
        beside them the broken ones (entry points that could not be loaded), so that a
        broken one shows up as such instead of vanishing."""

        def query(
            session: Session, user: User
        ) -> tuple[list[shapes.ProcessType], list[shapes.BrokenProcessType]]:
            project_id = _project_id(session, user, project)
            return (
                [type_json(t) for t in catalog.process_types(session, user, project_id)],
                catalog.broken_types(session, user),
            )

        types, broken = await self._as_user(user_name, query)
        return {"items": types, "next": None, "broken": broken}

    async def type(
        self, user_name: str, name: str, project: str | None = None
    ) -> shapes.ProcessType:
        """The type ``name`` means (in ``project``, if given), with a project type's revisions:
        also a retired one, which versions' provenance still names."""
        return await self._as_user(
            user_name,
            lambda s, u: type_detail_json(
                catalog.get_type(
                    s, name, u, project_id=_project_id(s, u, project), retired_too=True
                )
            ),
        )

    async def _as_user(self, user_name: str, query: Callable[[Session, User], T]) -> T:
        """``query(session, user)`` as ``user_name``: what it sees depends on who asks."""
        return await self.db.run(lambda s: query(s, access.ensure_user(s, user_name)))

    async def register(self, user_name: str, body: Any, admin: bool) -> shapes.Environment:
        """Start registering ``{"name", "image"}`` (for a project, or for the installation
        if ``admin``); the environment as it is now."""
        request = catalog.validate_registration(body)
        if self.extractor is None:
            raise field_error(
                "/image",
                "registering an environment from an image needs "
                "c.NagelfluhApp.executor = 'kubernetes'; this server runs processes with the "
                f"{self.executor!r} executor, in its own Python, whose process types are the "
                f"installed packages' {GROUP!r} entry points (found when the server starts)",
            )

        def start(session: Session) -> tuple[shapes.Environment, int]:
            user = access.ensure_user(session, user_name)
            if request.installation:
                owner = catalog.INSTALLATION
            elif request.project is not None:
                owner = catalog.Owner(
                    project_id=access.get_project(session, user, request.project).id
                )
            else:
                owner = catalog.Owner(user_id=user.id)
            env = catalog.request_registration(
                session, request.name, request.image, owner, user, admin
            )
            return environment_json(env), env.attempt

        env, attempt = await self.db.run(start)
        self._extract(self.extractor, request.name, request.image, attempt)
        return env

    async def start(self) -> None:
        """Connect the extractor and take up the registrations left under way."""
        if self.extractor is not None:
            await self.extractor.start()
        left = await self.db.run(
            lambda s: [(e.name, e.requested_image, e.attempt) for e in catalog.registering(s)]
        )
        for name, image, attempt in left:
            if self.extractor is None:
                await self._fail(
                    name,
                    attempt,
                    f"The server was restarted with the {self.executor!r} executor, which "
                    "cannot register environments from images",
                )
            elif image is None:  # set with the state by request_registration: never so
                await self._fail(name, attempt, "The registration under way names no image")
            else:
                self._extract(self.extractor, name, image, attempt)

    async def stop(self) -> None:
        """Cancel the registrations under way (their Jobs stay, for the next start)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.extractor is not None:
            await self.extractor.stop()

    def _extract(self, extractor: SchemaExtractor, name: str, image: str, attempt: int) -> None:
        task = asyncio.create_task(
            self._register(extractor, name, image, attempt), name=f"nagelfluh environment {name}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _register(
        self, extractor: SchemaExtractor, name: str, image: str, attempt: int
    ) -> None:
        """Extract, then record the outcome: the only writer of the attempt's end, so it
        waits out a stalled database rather than leave the environment registering."""
        try:
            try:
                output, pinned = await extractor.extract(name, image, attempt)
                types, broken = catalog.parse_schema_output(output)
                identity = catalog.Identity(
                    provenance.image_digest(pinned), catalog.reported_runner_version(output)
                )
            except SchemaExtractionFailed as error:
                message = str(error)
            except ValueError as error:
                message = f"The process types of {image} are unusable: {error}"
            except Exception as error:
                self.log.exception("registering environment %s from %s failed", name, image)
                message = f"Schema extraction error: {error}"
            else:
                state = await self.db.run_durable(
                    lambda s: getattr(
                        catalog.complete_registration(s, name, attempt, types, broken, identity),
                        "state",
                        None,
                    )
                )
                self.log.info("environment %s from %s: %s", name, image, state or "superseded")
                if identity.digest is None:
                    self.log.warning(
                        "environment %s: the digest of %s could not be resolved from its "
                        "pod's status; its results will not be cached",
                        name,
                        image,
                    )
                return
            await self._fail(name, attempt, message)
        except Exception:
            self.log.exception("cannot record the registration of environment %s", name)

    async def _fail(self, name: str, attempt: int, message: str) -> None:
        self.log.warning("registering environment %s failed: %s", name, message)
        await self.db.run_durable(lambda s: catalog.fail_registration(s, name, attempt, message))


def _project_id(session: Session, user: User, project: str | None) -> int | None:
    """The project a query string names (404 unless the user's), or None."""
    return None if project is None else access.get_project(session, user, project).id
