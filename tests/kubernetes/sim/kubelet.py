"""The kubelet: runs each pod's single container as a real local process and reports
it as the real kubelet does (phases, container states, reasons, exit codes).

- the command runs with exactly the container's environment (plus PATH, HOSTNAME
  and HOME, which a container runtime provides), ``valueFrom.secretKeyRef``
  resolved from the Secret: a missing Secret or key keeps the pod Pending in
  CreateContainerConfigError, retried until it appears;
- ``python``/``python3`` is this interpreter, so the venv's packages are the image's;
- each emptyDir is a temporary directory, and env values, arguments and the
  working directory under its mountPath point into it;
- images in ``Knobs.missing_images`` wait in ErrImagePull / ImagePullBackOff; an
  image of ``Knobs.images`` adds its environment (as its ENV lines would), under the
  container's own;
- a pulled image is resolved to its digest (``Knobs.digests``, else one derived from
  its name), reported as the container status's ``imageID`` the way kubelets do
  (``docker-pullable://name@sha256:...`` for a Docker Hub name, ``registry/name@sha256:...``
  for one with a registry host); an image named by digest (``name@sha256:...``) runs
  what a tag brought when it was pulled with that digest (after the tag moved on too),
  else whichever tag has that digest now;
- ``limits.memory`` is enforced like a cgroup: resident memory above the limit
  gets SIGKILL, reason OOMKilled, exit code 137. RLIMIT_AS is only a ceiling
  (limit + 1 GiB) so a runaway allocation fails before it hurts the host: an
  address-space limit alone makes malloc fail (MemoryError, exit 1), which is not
  what a pod over its limit sees, and counts virtual memory that threads and
  numpy reserve without using;
- stdout and stderr are one log, each line stamped when it is read.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import resource
import signal
import sys
import time
from pathlib import Path

from kubernetes.utils import parse_quantity

from .controller import Controller, Knobs, unless_gone
from .errors import ApiError
from .meta import set_condition, timestamp
from .store import PODS, SECRETS, Store
from .streams import END

NODE = "sim-node"
HOST_IP = "127.0.0.1"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
RETRY_SECONDS = 1.0  # simulated seconds between image pulls / config retries
MEMORY_POLL_SECONDS = 0.01
ADDRESS_SPACE_HEADROOM = 1 << 30
LINE_LIMIT = 1 << 20  # longer lines are split, as the container runtime splits them
PYTHONS = ("python", "python3")
# The kubelet's phrase for a container that has not started, in a log request's 400.
WAITING_PHRASES = {"ErrImagePull": "trying and failing to pull image",
                   "ImagePullBackOff": "image can't be pulled"}


class ContainerLog:
    """A container's output: (nanosecond timestamp, line), and the followers to feed."""

    def __init__(self) -> None:
        self.lines: list[tuple[int, str]] = []
        self.closed = False
        self._followers: set[asyncio.Queue] = set()

    def append(self, text: str) -> None:
        item = (time.time_ns(), text)
        self.lines.append(item)
        for queue in self._followers:
            queue.put_nowait(item)

    def follow(self, queue: asyncio.Queue) -> None:
        if self.closed:
            queue.put_nowait(END)
        else:
            self._followers.add(queue)

    def unfollow(self, queue: asyncio.Queue) -> None:
        self._followers.discard(queue)

    def close(self) -> None:
        self.closed = True
        for queue in self._followers:
            queue.put_nowait(END)


class Container:
    """The kubelet's record of one pod's container."""

    def __init__(self, pod: dict, root: Path) -> None:
        meta, spec = pod["metadata"], pod["spec"]
        self.namespace, self.pod, self.uid = meta["namespace"], meta["name"], meta["uid"]
        self.spec: dict = spec["containers"][0]
        self.name: str = self.spec["name"]
        self.root = root
        self.log = ContainerLog()
        self.image_id = ""  # set once the image is pulled
        self.state: dict = {"waiting": {"reason": "ContainerCreating"}}
        self.phase = "Pending"
        self.started = timestamp()
        self.process: asyncio.subprocess.Process | None = None
        self.oom = False
        self.stopping = asyncio.Event()
        self.task: asyncio.Task | None = None

    @property
    def container_id(self) -> str:
        return "containerd://" + hashlib.sha256(self.uid.encode()).hexdigest()

    def waiting_reason(self) -> str | None:
        waiting = self.state.get("waiting")
        return None if waiting is None else waiting["reason"]

    async def stopped_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self.stopping.wait(), seconds)
        except asyncio.TimeoutError:
            return False
        return True

    def stop(self, grace: float) -> None:
        """SIGTERM now, SIGKILL after ``grace`` seconds, as for a deleted pod."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        if self.process is not None and self.process.returncode is None:
            self.signal(signal.SIGTERM)
            asyncio.get_running_loop().call_later(grace, self.signal, signal.SIGKILL)

    def signal(self, number: int) -> None:
        """Signal the whole process group: a container's processes die together."""
        if self.process is not None:
            try:
                os.killpg(self.process.pid, number)
            except ProcessLookupError:
                pass


def _resident_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


async def _capture(stream: asyncio.StreamReader, log: ContainerLog) -> None:
    while True:
        try:
            line = await stream.readuntil(b"\n")
        except asyncio.IncompleteReadError as end:
            line = end.partial
        except asyncio.LimitOverrunError as long:
            line = await stream.readexactly(long.consumed)
        if not line:
            return
        log.append(line.rstrip(b"\n").decode("utf-8", "replace"))


class Kubelet(Controller):
    def __init__(self, store: Store, knobs: Knobs, root: Path) -> None:
        super().__init__(store, knobs)
        self._root = root
        self._containers: dict[str, Container] = {}
        # What each digest pulled by tag brought: a registry keeps it after the tag moves.
        self._contents: dict[str, dict[str, str]] = {}
        self.errors: list[BaseException] = []  # of pod tasks, re-raised when the cluster stops

    def container(self, uid: str) -> Container | None:
        return self._containers.get(uid)

    def reconcile(self) -> None:
        pods = self.store.list(PODS)
        for pod in pods:
            meta = pod["metadata"]
            container = self._containers.get(meta["uid"])
            if container is None and "deletionTimestamp" not in meta:
                container = self._containers[meta["uid"]] = Container(
                    pod, self._root / meta["uid"])
                container.task = asyncio.create_task(self._run(container))
                container.task.add_done_callback(self._check)
            if "deletionTimestamp" in meta:
                if container is None or container.task.done():
                    # The container is gone: the kubelet's final delete (grace 0).
                    with unless_gone():
                        self.store.delete(PODS, meta["namespace"], meta["name"], grace=0)
                else:
                    container.stop(meta["deletionGracePeriodSeconds"] * self.knobs.time_scale)
        live = {pod["metadata"]["uid"] for pod in pods}
        for uid in self._containers.keys() - live:
            self._containers.pop(uid).stop(0)

    def _check(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.errors.append(task.exception())

    def stop_all(self) -> None:
        for container in self._containers.values():
            container.stop(0)

    async def _run(self, container: Container) -> None:
        try:
            self._bind(container)
            env = await self._wait_until_ready(container)
            if env is None:
                container.phase = "Failed"  # deleted before it started
            else:
                await self._execute(container, env)
            self._publish(container)
        except ApiError as error:
            if error.code != 404:
                raise
        finally:
            container.log.close()
            self.store.poke()

    def _bind(self, container: Container) -> None:
        """The scheduler's part: every pod lands on the one node."""
        pod = self.store.get(PODS, container.namespace, container.pod)
        pod["spec"]["nodeName"] = NODE
        self.store.replace(PODS, pod)
        self._publish(container)

    async def _wait_until_ready(self, container: Container) -> dict[str, str] | None:
        """The environment to start with, once the image is there and the config
        resolves; None if the pod is deleted while it waits."""
        attempt = 0
        while True:
            ready = self._prepare(container, attempt)
            if isinstance(ready, dict):
                return ready
            reason, message = ready
            container.state = {"waiting": {"reason": reason, "message": message}}
            self._publish(container)
            attempt += 1
            if await container.stopped_within(RETRY_SECONDS * self.knobs.time_scale):
                return None

    def _digest(self, image: str) -> str:
        """The digest ``image`` names now: its own if pinned, else its tag's."""
        _, at, digest = image.rpartition("@")
        if at:
            return digest
        return self.knobs.digests.get(image) or (
            "sha256:" + hashlib.sha256(image.encode()).hexdigest())

    def _tag_of(self, image: str) -> str:
        """The image of ``Knobs.images`` that a pinned ``image`` names, else ``image``."""
        if "@" not in image:
            return image
        digest = image.rpartition("@")[2]
        tags = {*self.knobs.images, *self.knobs.digests}
        return next((tag for tag in sorted(tags) if self._digest(tag) == digest), image)

    def _prepare(self, container: Container, attempt: int) -> dict[str, str] | tuple[str, str]:
        """The container's environment, or why it cannot start yet (reason, message)."""
        pod = self.store.get(PODS, container.namespace, container.pod)
        spec = container.spec
        if len(pod["spec"]["containers"]) != 1 or pod["spec"].get("initContainers") or not (
            spec.get("command")
        ):
            return ("CreateContainerConfigError",
                    "the simulated kubelet runs exactly one container, given by its command")
        if any(set(volume) - {"name", "emptyDir"} for volume in pod["spec"].get("volumes", [])):
            return ("CreateContainerConfigError", "the simulated kubelet mounts only emptyDir")
        image = spec["image"]
        if image in self.knobs.missing_images:
            if attempt % 2:
                return "ImagePullBackOff", f'Back-off pulling image "{image}"'
            return ("ErrImagePull", f'rpc error: code = NotFound desc = failed to pull and unpack '
                                    f'image "{image}": failed to resolve reference "{image}": '
                                    f"{image}: not found")
        digest = self._digest(image)
        container.image_id = image_id(image, digest)
        if "@" not in image:
            self._contents[digest] = dict(self.knobs.images.get(image, {}))
        contents = self._contents.get(digest) or self.knobs.images.get(self._tag_of(image), {})
        env = {"PATH": DEFAULT_PATH, "HOSTNAME": container.pod, "HOME": str(container.root),
               **contents}
        for var in spec.get("env", []):
            source = var.get("valueFrom")
            if source is None:
                env[var["name"]] = var.get("value", "")
                continue
            ref = source.get("secretKeyRef")
            if ref is None:
                return ("CreateContainerConfigError",
                        f"the simulated kubelet resolves only secretKeyRef, not {sorted(source)}")
            secret = self.store.find(SECRETS, container.namespace, ref["name"])
            data = {} if secret is None else secret.get("data", {})
            if ref["key"] in data:
                env[var["name"]] = base64.b64decode(data[ref["key"]]).decode()
            elif not ref.get("optional"):
                return ("CreateContainerConfigError", f'secret "{ref["name"]}" not found'
                        if secret is None else f"couldn't find key {ref['key']} in Secret "
                                               f"{container.namespace}/{ref['name']}")
        return env

    def _mounts(self, container: Container) -> dict[str, Path]:
        """Container paths of the emptyDir mounts → their host directories."""
        mounts = {}
        for mount in container.spec.get("volumeMounts", []):
            host = container.root / "volumes" / mount["name"]
            host.mkdir(parents=True, exist_ok=True)
            mounts[mount["mountPath"].rstrip("/")] = host
        return mounts

    async def _execute(self, container: Container, env: dict[str, str]) -> None:
        mounts = self._mounts(container)

        def host_path(value: str) -> str:
            for path, host in mounts.items():
                if value == path or value.startswith(path + "/"):
                    return str(host) + value[len(path):]
            return value

        spec = container.spec
        argv = [host_path(arg) for arg in [*spec["command"], *spec.get("args", [])]]
        if argv[0] in PYTHONS:
            argv[0] = sys.executable
        workdir = Path(host_path(spec.get("workingDir", str(container.root))))
        workdir.mkdir(parents=True, exist_ok=True)
        try:
            process = await asyncio.create_subprocess_exec(
                *argv, cwd=workdir, env={name: host_path(value) for name, value in env.items()},
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT, start_new_session=True, limit=LINE_LIMIT)
        except OSError as error:
            self._terminate(container, 128, "StartError", f"failed to create containerd task: "
                            f'exec: "{argv[0]}": {error.strerror}', timestamp())
            return
        container.process = process
        if container.stopping.is_set():  # deleted while it was starting
            container.signal(signal.SIGTERM)
        started = timestamp()
        container.state = {"running": {"startedAt": started}}
        container.phase = "Running"
        self._publish(container)
        limit = spec.get("resources", {}).get("limits", {}).get("memory")
        watchdog = None
        if limit is not None:
            limit_bytes = int(parse_quantity(limit))
            ceiling = limit_bytes + ADDRESS_SPACE_HEADROOM
            try:
                resource.prlimit(process.pid, resource.RLIMIT_AS, (ceiling, ceiling))
            except ProcessLookupError:
                pass
            watchdog = asyncio.create_task(self._watch_memory(container, limit_bytes))
        output = asyncio.create_task(_capture(process.stdout, container.log))
        code = await process.wait()
        container.signal(signal.SIGKILL)  # what the main process left behind dies with it
        if watchdog is not None:
            watchdog.cancel()
        await output
        if container.oom:
            self._terminate(container, 137, "OOMKilled", "", started)
        else:
            exit_code = 128 - code if code < 0 else code
            self._terminate(container, exit_code, "Completed" if code == 0 else "Error",
                            self._termination_message(container, exit_code), started)

    async def _watch_memory(self, container: Container, limit: int) -> None:
        while True:
            await asyncio.sleep(MEMORY_POLL_SECONDS)
            if _resident_bytes(container.process.pid) > limit:
                container.oom = True
                container.signal(signal.SIGKILL)
                return

    @staticmethod
    def _termination_message(container: Container, exit_code: int) -> str:
        """FallbackToLogsOnError: a failed container's last log lines (80, 2 KiB)."""
        if exit_code == 0 or container.spec.get("terminationMessagePolicy") != (
            "FallbackToLogsOnError"
        ):
            return ""
        return "\n".join(text for _, text in container.log.lines[-80:])[-2048:]

    @staticmethod
    def _terminate(
        container: Container, exit_code: int, reason: str, message: str, started: str
    ) -> None:
        terminated = {"exitCode": exit_code, "reason": reason, "startedAt": started,
                      "finishedAt": timestamp(), "containerID": container.container_id}
        if message:
            terminated["message"] = message
        container.state = {"terminated": terminated}
        container.phase = "Succeeded" if exit_code == 0 else "Failed"

    def _publish(self, container: Container) -> None:
        """Write the pod's status from the container's state."""
        pod = self.store.get(PODS, container.namespace, container.pod)
        status = pod["status"]
        running = "running" in container.state
        terminated = "terminated" in container.state
        status.update(phase=container.phase, hostIP=HOST_IP, hostIPs=[{"ip": HOST_IP}],
                      podIP=HOST_IP, podIPs=[{"ip": HOST_IP}], startTime=container.started)
        for kind in ("PodScheduled", "Initialized", "PodReadyToStartContainers"):
            set_condition(status, kind, True, "", "")
        reason = "" if running else "PodCompleted" if terminated else "ContainersNotReady"
        message = "" if running or terminated else (
            f"containers with unready status: [{container.name}]")
        for kind in ("ContainersReady", "Ready"):
            set_condition(status, kind, running, reason, message)
        started = container.waiting_reason() is None
        status["containerStatuses"] = [{
            "name": container.name, "image": container.spec["image"],
            "imageID": container.image_id if started else "",
            **({"containerID": container.container_id} if started else {}),
            "ready": running, "started": running, "restartCount": 0,
            "state": container.state, "lastState": {},
        }]
        self.store.replace(PODS, pod, "status")


def image_id(image: str, digest: str) -> str:
    """The ``imageID`` a kubelet reports for ``image`` pulled as ``digest``: Docker's form
    for a Docker Hub name, containerd's for one with a registry host."""
    name = image.rpartition("@")[0] or image
    last = name.rpartition("/")[2]
    if ":" in last:  # a tag, not a registry's port
        name = name[: len(name) - len(last)] + last.partition(":")[0]
    first = name.partition("/")[0]
    if "/" in name and ("." in first or ":" in first or first == "localhost"):
        return f"{name}@{digest}"
    return f"docker-pullable://{name}@{digest}"
