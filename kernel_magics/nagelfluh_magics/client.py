"""A client of the nagelfluh-lab API, for kernels and plain Python scripts.

The kernel often lives in another Python environment than the server, so this
speaks HTTP and WebSocket only and never imports the server's code. Every
method returns the API's JSON as plain dicts and lists.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import requests
import websocket
from nagelfluh_runner.notebook_schema import type_name_of

from . import stores

API_PATH = "nagelfluh/api/"
TERMINAL = ("completed", "failed")
SUBMIT_ATTEMPTS = 3
RECONNECTS = 3
RECONNECT_DELAY = 0.2
DOWNLOAD_CHUNK = 1 << 20


class NagelfluhError(Exception):
    """An error answer of the server (or no answer at all: ``status`` None).

    ``fields`` lists the offending fields of a validation error, each
    ``{"path": "/parameters/seconds", "message": ...}``.
    """

    def __init__(self, status: int | None, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    @property
    def fields(self) -> list[dict[str, Any]]:
        if not isinstance(self.details, list):
            return []
        return [d for d in self.details if isinstance(d, dict) and "path" in d]

    def __str__(self) -> str:
        fields = self.fields
        text = (
            "; ".join(f"{f['path']}: {f.get('message', '')}" for f in fields)
            if len(fields) > 1
            else self.message
        )
        status = f" {self.status}" if self.status is not None else ""
        return f"{text} ({self.code}{status})"


def discover() -> tuple[str, str]:
    """The URL (with its base_url) and token of the Jupyter server to talk to.

    ``NAGELFLUH_URL``/``NAGELFLUH_TOKEN`` name a server explicitly (a remote one,
    or from a script); otherwise a kernel finds the server that started it:
    the server passes its pid as ``JPY_PARENT_PID`` and writes its URL and token
    to ``jpserver-<pid>.json`` in the Jupyter runtime directory.
    """
    url = os.environ.get("NAGELFLUH_URL")
    if url:
        return url, os.environ.get("NAGELFLUH_TOKEN", "")
    pid = os.environ.get("JPY_PARENT_PID")
    if not pid:
        raise NagelfluhError(
            None,
            "no_server",
            "not started by a Jupyter server: set NAGELFLUH_URL (and NAGELFLUH_TOKEN)",
        )
    from jupyter_core.paths import jupyter_runtime_dir

    runtime = Path(jupyter_runtime_dir()) / f"jpserver-{pid}.json"
    try:
        info = json.loads(runtime.read_text())
    except (OSError, ValueError) as error:
        raise NagelfluhError(
            None,
            "no_server",
            f"no readable runtime file of the Jupyter server {pid} ({runtime}): "
            "set NAGELFLUH_URL (and NAGELFLUH_TOKEN)",
        ) from error
    if info.get("sock"):
        raise NagelfluhError(
            None, "no_server", "the server listens on a UNIX socket: set NAGELFLUH_URL"
        )
    return info["url"], info.get("token", "")


def _error_from(response: requests.Response) -> NagelfluhError:
    try:
        error = response.json()["error"]
        return NagelfluhError(
            response.status_code, error["code"], error["message"], error.get("details")
        )
    except (ValueError, KeyError, TypeError):
        text = response.text.strip().splitlines()
        return NagelfluhError(
            response.status_code, "http_error", text[0][:200] if text else response.reason
        )


def _cache_field(cache: bool) -> dict[str, bool]:
    """The body's ``cache`` field, sent only to bypass the cache: a server that
    predates the cache then still takes the request."""
    return {} if cache else {"cache": False}


def _sized(data: bytes | IO[bytes]) -> tuple[IO[bytes], int] | None:
    """``data`` as a file object with the number of bytes left in it, if it can tell."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return io.BytesIO(data), len(data)
    try:
        start = data.tell()
        end = data.seek(0, os.SEEK_END)
        data.seek(start)
    except (AttributeError, OSError, ValueError):  # a pipe, a socket
        return None
    return data, end - start


class _Sending:
    """An upload's body that tells ``progress`` how much of it the HTTP library has
    read, i.e. sent. Its length gives the request a Content-Length (not chunked), so
    the server can refuse a file over its limit before a byte of it arrives."""

    def __init__(self, source: IO[bytes], size: int, progress: Callable[[int, int], None]):
        self._source = source
        self._size = size
        self._progress = progress
        self._sent = 0

    def __len__(self) -> int:
        return self._size

    def read(self, size: int = -1) -> bytes:
        chunk = self._source.read(size)
        self._sent += len(chunk)
        self._progress(self._sent, self._size)
        return chunk


class _Subscription:
    """One subscription of an events stream and how far it got, to renew it from there."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.target = {k: v for k, v in spec.items() if k != "since"}
        self.since = spec.get("since", 0)

    def matches(self, event: dict[str, Any]) -> bool:
        if "project" in self.target:
            return event.get("project") == self.target["project"]
        return event.get("process") == self.target["process"] and self.target.get(
            "version", event.get("version")
        ) == event.get("version")

    def note(self, event: dict[str, Any]) -> None:
        if "process" not in self.target:
            return
        self.target.setdefault("version", event["version"])  # renewals stay on this version
        if event["type"] == "log":
            self.since = event["lines"][-1]["seq"]
        elif event["type"] == "resync":
            self.since = event["since"]

    def message(self) -> str:
        if "project" in self.target:
            return json.dumps({"subscribe": self.target})
        return json.dumps({"subscribe": self.target, "since": self.since})


class Client:
    """Every route of the nagelfluh-lab API, and its live events.

    ``Client()`` finds its server by itself (see :func:`discover`);
    ``Client(url, token)`` names one, ``url`` being the Jupyter server's URL
    including its base_url (``http://host:8888/user/me/``).
    """

    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 60):
        if url is None:
            url, found_token = discover()
            token = found_token if token is None else token
        self.url = url.rstrip("/") + "/"
        self.api_url = self.url + API_PATH
        self.token = token or ""
        self.timeout = timeout
        self.session = requests.Session()
        if self.token:
            self.session.headers["Authorization"] = f"token {self.token}"

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    # ------------------------------------------------------------ transport

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        expect_json: bool = True,
        stream: bool = False,
    ) -> Any:
        """One call of the API (``path`` relative to ``nagelfluh/api/``); its JSON,
        or the response itself when ``expect_json`` is false (its body not read yet
        with ``stream``)."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self.session.request(
                method,
                self.api_url + path,
                params=query,
                json=json_body,
                data=data,
                headers=headers,
                timeout=self.timeout,
                stream=stream,
            )
        except requests.RequestException as error:
            raise NagelfluhError(None, "unreachable", f"{self.url}: {error}") from error
        if response.status_code >= 400:
            raise _error_from(response)
        return response.json() if expect_json else response

    def _get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def _post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, json_body=body, **kwargs)

    # --------------------------------------------------------------- catalog

    def environments(self) -> list[dict[str, Any]]:
        return self._get("environments")["items"]

    def environment(self, name: str) -> dict[str, Any]:
        return self._get(f"environments/{name}")

    def register_environment(
        self,
        name: str,
        image: str,
        wait: bool = True,
        timeout: float = 900,
        *,
        project: int | None = None,
        installation: bool = False,
    ) -> dict[str, Any]:
        """Register an environment from an image, or refresh it with a new one (the
        server runs the image's ``python -m nagelfluh_runner schema``; Kubernetes
        executor only). It is yours alone, or ``project``'s, or with ``installation``
        (admins only) every user's. With ``wait``, returns once the registration is
        over (or ``timeout`` seconds have passed): see its ``state`` and ``message``."""
        body: dict[str, Any] = {"name": name, "image": image}
        if project is not None:
            body["project"] = project
        if installation:
            body["installation"] = True
        env = self._post("environments", body)
        deadline = time.monotonic() + timeout
        while wait and env["state"] == "registering" and time.monotonic() < deadline:
            time.sleep(1.0)
            env = self.environment(name)
        return env

    def types(self, project: int | None = None) -> list[dict[str, Any]]:
        """Process types with their parameter schemas (with ``project``: those usable
        in it, the installation's and the project's own)."""
        return self.type_listing(project)["items"]

    def type_listing(self, project: int | None = None) -> dict[str, Any]:
        """``{"items": [TYPE...], "broken": [...]}``: the types, and those whose code
        failed to load, each ``{"name", "entry_point", "environment", "error"}``
        (an older server lists none)."""
        listing = self._get("process-types", project=project)
        listing.setdefault("broken", [])
        return listing

    def process_type(self, name: str, project: int | None = None) -> dict[str, Any]:
        """A type; with ``project``, that project's own type of that name first (with
        its ``revisions`` for a notebook or function type)."""
        return self._get(f"process-types/{name}", project=project)

    def register(
        self,
        notebook: str | os.PathLike[str] | dict[str, Any],
        project: int | None = None,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        environment: str | None = None,
    ) -> dict[str, Any]:
        """Register a notebook as a process type of ``project`` (your first by default),
        or a new revision of the project's type of that name; the type.

        ``notebook`` is a path, read here (the kernel need not share the server's
        files), or a notebook as an nbformat-4 dict. Its ``parameters`` cell gives the
        schema; ``name`` defaults to ``metadata.nagelfluh.name``, else the file's stem
        made a name (``My analysis.ipynb`` → ``My-analysis``). The type answered has
        ``"created": False`` when the notebook is identical to its current revision
        (no new revision was made), else True. A notebook the server cannot read as a
        type (e.g. a syntax error in its parameters cell) raises NagelfluhError whose
        message names the line.
        """
        if isinstance(notebook, (str, os.PathLike)):
            path = Path(notebook).expanduser()
            try:
                content = json.loads(path.read_text(encoding="utf-8"))
            except OSError as error:
                raise NagelfluhError(None, "no_notebook", f"cannot read {path}: {error}") from None
            except ValueError as error:
                raise NagelfluhError(
                    None, "no_notebook", f"{path} is not a notebook (no JSON: {error})"
                ) from None
            metadata = content.get("metadata") if isinstance(content, dict) else None
            settings = metadata.get("nagelfluh") if isinstance(metadata, dict) else None
            if name is None and not (isinstance(settings, dict) and settings.get("name")):
                name = type_name_of(path.stem)
        else:
            content = notebook
        body: dict[str, Any] = {"project": self.default_project(project), "notebook": content}
        fields = (("name", name), ("title", title), ("description", description))
        body.update((key, value) for key, value in fields if value is not None)
        if environment is not None:
            body["environment"] = environment
        response = self.request("POST", "process-types", json_body=body, expect_json=False)
        registered: dict[str, Any] = response.json()
        registered["created"] = response.status_code == 201
        return registered

    def retire(self, name: str, project: int | None = None) -> dict[str, Any]:
        """Retire ``project``'s (your first by default) own type ``name``; the type, its
        ``retired`` set. It takes no new process or version; its processes, versions,
        logs and datasets stay, queued versions still run, and registering its notebook
        again brings it back. An installed type raises NagelfluhError (``conflict``)."""
        return self.request(
            "DELETE", f"process-types/{name}", params={"project": self.default_project(project)}
        )

    def default_project(self, project: int | None = None) -> int:
        """``project``, or your first project's id when None."""
        if project is not None:
            return project
        projects = self.projects()
        if not projects:
            raise NagelfluhError(None, "no_project", "you have no project yet: create one")
        return int(projects[0]["id"])

    # -------------------------------------------------------------- projects

    def projects(self) -> list[dict[str, Any]]:
        return self._get("projects")["items"]

    def create_project(self, name: str) -> dict[str, Any]:
        return self._post("projects", {"name": name})

    # ------------------------------------------------------------- processes

    def submit(
        self,
        process_type: str,
        parameters: dict[str, Any] | None = None,
        *,
        project: int | None = None,
        name: str | None = None,
        resources: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        cache: bool = True,
    ) -> dict[str, Any]:
        """Create a process and run its version 1; the process.

        Identical work that completed before makes version 1 complete at once from
        its outputs (``cached_from``); ``cache=False`` runs it anyway. A connection
        that fails mid-request is retried with the same ``Idempotency-Key`` (a fresh
        one by default), so a retry never starts a second process.
        """
        body: dict[str, Any] = {"type": process_type, "parameters": parameters or {}}
        for key, value in (("project", project), ("name", name), ("resources", resources)):
            if value is not None:
                body[key] = value
        body.update(_cache_field(cache))
        headers = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
        for attempt in range(1, SUBMIT_ATTEMPTS + 1):
            try:
                return self._post("process", body, headers=headers)
            except NagelfluhError as error:
                if error.status is not None or attempt == SUBMIT_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    def process(self, process: int) -> dict[str, Any]:
        """A process with all its versions."""
        return self._get(f"process/{process}")

    def process_page(
        self, project: int | None = None, cursor: str | None = None, limit: int | None = None
    ) -> dict[str, Any]:
        """One page of processes, newest first: ``{"items", "next"}``."""
        return self._get("process", project=project, cursor=cursor, limit=limit)

    def processes(
        self, project: int | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Processes, newest first, following the pages up to ``limit`` (all by default)."""
        return self._pages("process", limit, project=project)

    def _pages(self, path: str, limit: int | None, **params: Any) -> list[dict[str, Any]]:
        """The items of a paged list, page after page, up to ``limit`` (all by default)."""
        found: list[dict[str, Any]] = []
        cursor = None
        while limit is None or len(found) < limit:
            size = None if limit is None else min(1000, limit - len(found))
            page = self._get(path, cursor=cursor, limit=size, **params)
            found.extend(page["items"])
            cursor = page["next"]
            if cursor is None:
                break
        return found

    # -------------------------------------------------------------- versions

    def version(self, process: int, version: int | None = None) -> dict[str, Any]:
        """One version (the latest by default)."""
        if version is None:
            return self.process(process)["versions"][-1]
        return self._get(f"process/{process}/versions/{version}")

    def new_version(
        self,
        process: int,
        parameters: dict[str, Any] | None = None,
        resources: dict[str, Any] | None = None,
        *,
        cache: bool = True,
    ) -> dict[str, Any]:
        """A new version with new parameters and/or resources (the rest from the
        latest version), run at once, or completed from the cache unless ``cache`` is
        false."""
        body = {
            k: v for k, v in (("parameters", parameters), ("resources", resources)) if v is not None
        }
        return self._post(f"process/{process}/versions", {**body, **_cache_field(cache)})

    def cancel(self, process: int, version: int) -> dict[str, Any]:
        """Cancel a queued or running version; the version once it has ended."""
        return self._post(f"process/{process}/versions/{version}/cancel")

    def restore(self, process: int, version: int, *, cache: bool = True) -> dict[str, Any]:
        """A new version with ``version``'s parameters, run at once. The restore route
        takes no ``cache`` setting, so ``cache=False`` asks for a new version with
        ``version``'s parameters and resources instead, which is the same version."""
        if cache:
            return self._post(f"process/{process}/versions/{version}/restore")
        old = self.version(process, version)
        return self.new_version(process, old["parameters"], old["resources"], cache=False)

    def rerun(self, process: int, version: int) -> dict[str, Any]:
        """Re-run an ended version exactly: a new version from its provenance (its
        parameters, inputs and resources; on Kubernetes its image by digest), the cache
        bypassed. Once it ends, its ``reproducibility`` tells whether its outputs'
        digests match the original's."""
        return self._post(f"process/{process}/versions/{version}/rerun")

    def compare(self, process: int, v1: int, v2: int) -> dict[str, Any]:
        """The structured differences from v1 to v2."""
        return self._get(f"process/{process}/versions/compare", v1=v1, v2=v2)

    def logs(
        self, process: int, version: int, since: int = 0, limit: int | None = None
    ) -> dict[str, Any]:
        """Persisted log lines after ``since``: ``{"items": [LINE...], "next": SEQ}``."""
        return self._get(f"process/{process}/versions/{version}/logs", since=since, limit=limit)

    def log_lines(self, process: int, version: int, since: int = 0) -> Iterator[dict[str, Any]]:
        """Every persisted line after ``since``, page after page."""
        while True:
            page = self.logs(process, version, since)
            yield from page["items"]
            if not page["items"]:
                return
            since = page["next"]

    # -------------------------------------------------------------- datasets

    def datasets(
        self,
        project: int | None = None,
        process: int | None = None,
        version: int | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Datasets (of a project, or the outputs of a process or version), newest first,
        following the pages up to ``limit`` (all by default)."""
        return self._pages("dataset", limit, project=project, process=process, version=version)

    def dataset_meta(self, dataset: int) -> dict[str, Any]:
        """Producer, key, MIME type, size, variables and their units."""
        return self._get(f"dataset/{dataset}/meta")

    def dataset_bytes(
        self, dataset: int, start: int | None = None, end: int | None = None
    ) -> bytes:
        """The dataset's bytes, or those from ``start`` to ``end`` (inclusive; a
        negative ``start`` alone counts from the end) through an HTTP Range."""
        headers = {}
        if start is not None or end is not None:
            if start is not None and start < 0:
                spec = f"bytes={start}"
            else:
                spec = f"bytes={start or 0}-{'' if end is None else end}"
            headers["Range"] = spec
        return self.request("GET", f"dataset/{dataset}", headers=headers, expect_json=False).content

    def dataset_view(
        self,
        dataset: int,
        x: str | None = None,
        y: list[str] | tuple[str, ...] = (),
        points: int | None = None,
        x0: float | None = None,
        x1: float | None = None,
    ) -> dict[str, Any]:
        """Plot-ready columns of a NetCDF dataset, decimated by the server to about
        ``points`` values over ``[x0, x1]`` (minimum and maximum kept per bucket)."""
        params: dict[str, Any] = {"x": x, "points": points, "x0": x0, "x1": x1}
        if y:
            params["y"] = list(y)
        return self._get(f"dataset/{dataset}/view", **params)

    def dataset_grid(
        self,
        dataset: int,
        z: str,
        width: int | None = None,
        height: int | None = None,
        x0: float | None = None,
        x1: float | None = None,
        y0: float | None = None,
        y1: float | None = None,
    ) -> dict[str, Any]:
        """A 2-D variable of a NetCDF dataset as a grid (rows along its first dimension),
        reduced by the server to at most ``height`` x ``width`` block means over the ranges."""
        return self._get(
            f"dataset/{dataset}/view",
            z=z, width=width, height=height, x0=x0, x1=x1, y0=y0, y1=y1,
        )  # fmt: skip

    def upload(
        self,
        project: int,
        name: str | None,
        data: bytes | IO[bytes] | str | os.PathLike[str],
        content_type: str | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, Any]:
        """Upload bytes, a binary file object, the file at a path or a Zarr store's
        folder as a dataset of ``project`` (stored under ``uploads/{name}``; ``name``
        None: the file's or folder's name); the new dataset.

        The body streams from the file, never whole in memory; ``progress(sent,
        total)`` is told the bytes sent as it goes (unless the size cannot be
        told, as of a pipe). A folder must be a Zarr store (``zarr.json``, or
        ``.zgroup``/``.zarray`` for Zarr v2, at its top; else ``StoreError``): it is
        zipped to a temporary file (members stored, not deflated) and sent as
        ``application/zip``, which the server unpacks into a store."""
        if isinstance(data, (str, os.PathLike)):
            path = Path(data)
            name = name or path.resolve().name
            if path.is_dir():
                with tempfile.TemporaryFile(prefix="nagelfluh-upload-", suffix=".zip") as archive:
                    stores.zip_store(path, archive)  # refuses a folder that is no store
                    archive.seek(0)
                    return self.upload(project, name, archive, stores.ZIP_MIME_TYPE, progress)
            with open(path, "rb") as handle:
                return self.upload(project, name, handle, content_type, progress)
        if not name:
            raise ValueError("upload: a dataset name is needed for bytes or a file object")
        headers = {"Content-Type": content_type} if content_type else {}
        params = {"project": project, "name": name}
        body: bytes | IO[bytes] | _Sending = data
        if progress is not None and (sized := _sized(data)) is not None:
            body = _Sending(*sized, progress)
        return self.request("POST", "dataset", params=params, data=body, headers=headers)

    def download(self, dataset: int, target: str | os.PathLike[str] | IO[bytes]) -> int:
        """Write a dataset's bytes (a store's: its ZIP archive) to a path or a binary
        file object as they arrive, never whole in memory; the bytes written."""
        if isinstance(target, (str, os.PathLike)):
            with open(target, "wb") as handle:
                return self.download(dataset, handle)
        response = self.request("GET", f"dataset/{dataset}", expect_json=False, stream=True)
        written = 0
        with response:
            try:
                for chunk in response.iter_content(DOWNLOAD_CHUNK):
                    target.write(chunk)
                    written += len(chunk)
            except requests.RequestException as error:
                raise NagelfluhError(
                    None, "unreachable", f"dataset {dataset} broke off: {error}"
                ) from error
        return written

    # --------------------------------------------------------------- billing

    def estimate(self, resources: dict[str, Any] | None = None) -> dict[str, Any]:
        """The HOLD a run with these resources would place (defaults filled in)."""
        return self._post("estimate", {"resources": resources or {}})

    def account(self) -> dict[str, Any]:
        """Balance and transactions (HOLD, DEBIT, RELEASE)."""
        return self._get("account")

    # ---------------------------------------------------------------- events

    def events(
        self, *subscriptions: dict[str, Any], timeout: float | None = None
    ) -> Iterator[dict[str, Any]]:
        """Live events of versions (``{"process": ID, "version": V, "since": SEQ}``,
        version and since optional) and projects (``{"project": ID}``).

        A ``resync`` (the server dropped this client's backlog) is answered by
        subscribing again from the last line the server sent, then passed on so
        that a consumer of project events knows some may be missing. A dropped
        connection is opened again (up to ``RECONNECTS`` times in a row) and every
        subscription renewed from the last line received. An ``error`` event (e.g.
        a subscription to an unknown process) raises. ``timeout`` bounds the wait
        for each event (``TimeoutError``); closing the generator closes the socket.
        """
        subs = [_Subscription(s) for s in subscriptions]
        connection: websocket.WebSocket | None = None
        failures = 0
        try:
            while True:
                if connection is None:
                    connection = self._connect(timeout)
                    for sub in subs:
                        connection.send(sub.message())
                try:
                    event = self._receive(connection)
                except websocket.WebSocketConnectionClosedException:
                    connection.close()
                    connection = None
                    failures += 1
                    if failures > RECONNECTS:
                        raise NagelfluhError(
                            None, "closed", "the server keeps closing the events stream"
                        ) from None
                    time.sleep(RECONNECT_DELAY * failures)
                    continue
                failures = 0
                if event.get("type") == "error":
                    raise NagelfluhError(
                        None, event["code"], event["message"], event.get("details")
                    )
                matched = next((sub for sub in subs if sub.matches(event)), None)
                if matched is not None:
                    matched.note(event)
                    if event["type"] == "resync":
                        connection.send(matched.message())
                yield event
        finally:
            if connection is not None:
                connection.close()

    def _connect(self, timeout: float | None) -> websocket.WebSocket:
        parts = self.api_url.split("://", 1)
        scheme = "wss" if parts[0] == "https" else "ws"
        header = [f"Authorization: token {self.token}"] if self.token else []
        try:
            connection = websocket.create_connection(
                f"{scheme}://{parts[1]}events", header=header, timeout=self.timeout
            )
        except (OSError, websocket.WebSocketException) as error:
            raise NagelfluhError(None, "unreachable", f"{self.url}: {error}") from error
        connection.settimeout(timeout)
        return connection

    def _receive(self, connection: websocket.WebSocket) -> dict[str, Any]:
        try:
            message = connection.recv()
        except websocket.WebSocketTimeoutException as error:
            raise TimeoutError("no event from the server in time") from error
        return json.loads(message)

    def follow(
        self,
        process: int,
        version: int | None = None,
        since: int = 0,
        timeout: float | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The events of one version until it has ended: its ``state`` changes,
        ``progress``, ``datasets`` (outputs, in batches) and ``log`` events whose lines follow
        ``since`` without gaps or duplicates, the last ones included.

        The stream stops at the final state; lines persisted after the server
        sent it are fetched from the logs route, up to the version's line count.
        """
        if version is None:
            version = self.version(process)["version"]
        last = since
        for event in self.events(
            {"process": process, "version": version, "since": since}, timeout=timeout
        ):
            kind = event["type"]
            if kind == "log":
                lines = [line for line in event["lines"] if line["seq"] > last]
                if lines and lines[0]["seq"] > last + 1:
                    first: int = lines[0]["seq"]
                    gap = []
                    for line in self.log_lines(process, version, last):
                        if line["seq"] >= first:
                            break
                        gap.append(line)
                    lines = [*gap, *lines]
                if lines:
                    last = lines[-1]["seq"]
                    yield {**event, "lines": lines}
            elif kind != "resync":
                yield event
                if kind == "state" and event["state"] in TERMINAL:
                    break
        if last < self.version(process, version)["log_lines"]:
            rest = list(self.log_lines(process, version, last))
            yield {"type": "log", "process": process, "version": version, "lines": rest}

    def follow_logs(
        self, process: int, version: int | None = None, since: int = 0
    ) -> Iterator[dict[str, Any]]:
        """Log lines (``{"seq", "time", "stream", "line"}``) of a version from
        ``since`` on, live, without gaps or duplicates, until the version ends."""
        for event in self.follow(process, version, since):
            if event["type"] == "log":
                yield from event["lines"]
