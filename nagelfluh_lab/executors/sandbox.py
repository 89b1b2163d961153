"""What a sandboxed local run sees: a bubblewrap command line built from an allow-list.

A run gets an empty root with only the system directories, the interpreter and
its import paths read-only, a private ``/tmp`` of bounded size, its project's
storage read-only and its own output prefix writable — nothing else of this
machine: not the Jupyter runtime dir (tokens), not the database, not other
projects. It has its own PID, IPC, UTS (and unless asked, network) namespaces,
dies with its shim, and never runs as root: a root server drops it to an
unprivileged uid inside the sandbox (bwrap keeps only the capabilities that
``setpriv`` needs for that), an unprivileged server runs it in a user namespace.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field

SYSTEM_DIRS = ("/usr", "/etc")
# Top-level names that merged-/usr systems keep as symlinks into /usr.
SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
SCRATCH = "/tmp"

_PATHS_PROBE = (
    "import json, sys; "
    "print(json.dumps([sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,"
    " *sys.path]))"
)


class SandboxUnavailable(Exception):
    """The sandbox cannot run here; the message says why and what to do."""


@dataclass(frozen=True)
class Layout:
    """The mounts and identity of one run's sandbox."""

    read_only: tuple[str, ...]  # the interpreter, its import paths, configured extras
    hidden: tuple[str, ...]  # never visible, even inside a read-only path
    storage_read: tuple[str, ...] = ()  # the project's storage
    storage_write: tuple[str, ...] = ()  # the version's own prefix
    network: bool = False
    scratch_bytes: int = 1024**3
    uid: int | None = None  # drop to this uid (and gid) inside: the server is root
    gid: int | None = None
    workdir: str = SCRATCH


@dataclass
class _Mounts:
    """bwrap arguments in order, creating each target's missing parents (bwrap would
    make them 0700, which an unprivileged run cannot traverse)."""

    args: list[str] = field(default_factory=list)
    _done: list[tuple[str, bool]] = field(default_factory=list)  # (target, shows a real tree)

    def add(self, option: str, source: str | None, target: str, *prefix: str) -> None:
        for parent in _ancestors(target):
            if not self._exists(parent):
                self.args += ["--perms", "0755", "--dir", parent]
                self._done.append((parent, False))
        self.args += [*prefix, option, *([source] if source else []), target]
        self._done.append((target, option in ("--ro-bind", "--bind")))

    def _exists(self, path: str) -> bool:
        """Whether ``path`` is there: the latest mount over it decides (a bind shows
        its source's tree, a tmpfs or a made directory only itself)."""
        for target, real_tree in reversed(self._done):
            if _within(path, target):
                return real_tree or path == target
        return False


def bwrap_command(bwrap: str, layout: Layout, command: list[str]) -> list[str]:
    """The bubblewrap command line that runs ``command`` inside ``layout``."""
    mounts = _Mounts()
    for path in SYSTEM_DIRS:
        mounts.add("--ro-bind", path, path)
    for path in SYSTEM_LINKS:
        if os.path.islink(path):
            mounts.args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            mounts.add("--ro-bind", path, path)
    mounts.args += ["--proc", "/proc", "--dev", "/dev"]
    mounts.add("--tmpfs", None, SCRATCH, "--perms", "01777", "--size", str(layout.scratch_bytes))
    for path in layout.read_only:
        mounts.add("--ro-bind", path, path)
    for path in layout.hidden:
        if any(_within(path, visible) for visible in layout.read_only):
            if os.path.isdir(path):
                mounts.add("--tmpfs", None, path)
            elif os.path.exists(path):
                mounts.add("--ro-bind", os.devnull, path)
    for path in layout.storage_read:
        mounts.add("--ro-bind", path, path)
    for path in layout.storage_write:
        mounts.add("--bind", path, path)
    namespaces = ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if not layout.network:
        namespaces.append("--unshare-net")
    if layout.uid is None:
        namespaces.append("--unshare-user")
        drop: list[str] = []
    else:
        namespaces += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        drop = [
            "setpriv",
            f"--reuid={layout.uid}",
            f"--regid={layout.gid}",
            "--clear-groups",
            "--inh-caps=-all",
            "--",
        ]
    return [
        bwrap,
        *namespaces,
        "--die-with-parent",
        "--hostname",
        "nagelfluh",
        *mounts.args,
        "--chdir",
        layout.workdir,
        "--",
        *drop,
        *command,
    ]


def python_paths(executable: str) -> list[str]:
    """Where ``executable`` loads code from (prefixes and import paths, as a run's
    scrubbed environment gives them): what a sandboxed run must see read-only."""
    try:
        found = subprocess.run(
            [executable, "-c", _PATHS_PROBE],
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": os.environ.get("PATH", os.defpath), "LANG": "C.UTF-8"},
            check=True,
        )
        paths = json.loads(found.stdout)
    except (OSError, subprocess.SubprocessError, ValueError) as error:
        raise SandboxUnavailable(f"cannot ask {executable} for its import paths: {error}") from (
            error
        )
    return outermost(os.path.realpath(p) for p in paths if p and os.path.exists(p))


def outermost(paths: Iterable[str]) -> list[str]:
    """``paths`` without duplicates and without those inside another of them."""
    kept: list[str] = []
    for path in sorted(set(paths), key=len):
        if path != "/" and not any(_within(path, other) for other in kept):
            kept.append(path)
    return kept


def _within(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def _ancestors(path: str) -> list[str]:
    parts = path.strip("/").split("/")[:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]
