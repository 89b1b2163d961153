"""One client's view of the events WebSocket: subscribe, replay from ``since``, then follow live."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import Process, ProcessVersion
from ..db.session import Database
from ..errors import ApiError, BadRequest, NotFound, ServiceUnavailable, field_error
from ..shapes import StateEvent
from . import access
from .events import (
    EventHub,
    Message,
    Subscriber,
    Topic,
    VersionTopic,
    project_topic,
    version_topic,
)
from .log_store import read_logs
from .serialize import state_event

REPLAY_PAGE = 5000


class EventSession:
    def __init__(
        self,
        db: Database,
        hub: EventHub,
        user_name: str,
        send: Callable[[Message], Awaitable[None]],
        max_backlog_lines: int,
    ) -> None:
        self.db = db
        self.user_name = user_name
        self._send = send
        self.subscriber: Subscriber = hub.subscriber(send, max_backlog_lines)

    async def handle(self, message: Any) -> None:
        """Act on one client message; errors go back to the client as error events,
        except ServiceUnavailable, which is the connection's to handle (its replay
        may be cut short, so the subscription cannot simply go on)."""
        try:
            if not isinstance(message, dict):
                raise BadRequest("a message must be a JSON object")
            if "subscribe" in message:
                await self._subscribe(message["subscribe"], message.get("since", 0))
            elif "unsubscribe" in message:
                topic = await self._topic(message["unsubscribe"])
                self.subscriber.unfollow(topic)
            else:
                raise BadRequest("expected a 'subscribe' or 'unsubscribe' message")
        except ServiceUnavailable:
            raise
        except ApiError as error:
            await self._send({"type": "error", **error.to_json()["error"], "request": message})

    async def _topic(self, target: Any) -> Topic:
        return (await self._resolve(target))[0]

    async def _resolve(self, target: Any) -> tuple[Topic, int | None]:
        """The topic of a subscription target, checked for access, and of a version its
        row's id."""
        if not isinstance(target, dict) or not ({"process", "project"} & set(target)):
            raise field_error("/subscribe", "name a process (and version) or a project")

        def query(session: Session) -> tuple[Topic, int | None]:
            user = access.ensure_user(session, self.user_name)
            if "process" in target:
                process = access.get_process(session, user, target["process"])
                number = target.get("version") or process.versions[-1].number
                version = next((v for v in process.versions if v.number == number), None)
                if version is None:
                    raise NotFound(f"process {process.id} has no version {number}")
                return version_topic(process.id, version.number), version.id
            project = access.get_project(session, user, target["project"])
            return project_topic(project.id), None

        return await self.db.run(query)

    async def _subscribe(self, target: Any, since: Any) -> None:
        """Follow first, holding what is published meanwhile, then read the current
        state: a change stored while the state is read is in the read or among the held
        events, never in neither. Held events are sent after the state, so one stored
        during the read may come after the state it led to (the newer one follows)."""
        if isinstance(since, bool) or not isinstance(since, int) or not 0 <= since < access.MAX_ID:
            # read_logs asks for seq since + 1, which must fit the database's 64 bits
            raise field_error("/since", f"must be an integer from 0 to {access.MAX_ID - 1}")
        topic, version_id = await self._resolve(target)
        self.subscriber.unfollow(topic)
        self.subscriber.follow(topic, hold=True)
        try:
            for state in await self.db.run(partial(_states, topic=topic, version_id=version_id)):
                await self.subscriber.send_now(topic, state)
            if topic[0] == "version" and version_id is not None:
                self.subscriber.start_at(topic, since)
                await self._replay(topic, version_id, since)
        finally:
            if topic in self.subscriber.topics:
                self.subscriber.release(topic)

    async def _replay(self, topic: VersionTopic, version_id: int, since: int) -> None:
        after = since
        while topic in self.subscriber.topics:
            batch = await self.db.run(
                partial(read_logs, version_id=version_id, after=after, limit=REPLAY_PAGE)
            )
            if not batch:
                return
            await self.subscriber.send_now(
                topic, {"type": "log", "process": topic[1], "version": topic[2], "lines": batch}
            )
            after = batch.last

    def close(self) -> None:
        self.subscriber.close()


def _states(session: Session, topic: Topic, version_id: int | None) -> list[StateEvent]:
    """The state of a version as it is now, or of each process's newest version in a project."""
    if version_id is not None:
        return [state_event(session.get_one(ProcessVersion, version_id))]
    latest = session.scalars(
        select(ProcessVersion)
        .join(Process)
        .where(Process.project_id == topic[1])
        .order_by(ProcessVersion.process_id, ProcessVersion.number)
    ).all()
    return [state_event(v) for v in {v.process_id: v for v in latest}.values()]
