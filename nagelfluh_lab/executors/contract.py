"""The execution contract both executors keep (DESIGN §3), as code they share.

What a run is given (its environment variables, the bootstrap image when its
environment names none) and how its end is told (an exit status as a
``RunOutcome``, in the same words whichever executor ran it). Neutral ground: the
local executor (``executors/local.py``) and the cluster backend
(``nagelfluh_lab/cluster/``) both import it and never each other, and it imports
no service: the server takes ``BOOTSTRAP_IMAGE`` from here for its bootstrap
environment.
"""

from __future__ import annotations

import json
import math
import os
import signal
from pathlib import Path

from nagelfluh_runner import protocol

from .base import RunOutcome, RunSpec

# The image of the bootstrap environment, and of a version whose environment names none.
BOOTSTRAP_IMAGE = "nagelfluh-base-runner:latest"
CANCELLED = RunOutcome("failed", "cancelled", "Process cancelled by user")

GIB = 1024**3
MIB = 1024**2

# What a run killed by a signal that nagelfluh did not send was told. Only SIGKILL
# means out of memory: it is what the kernel's OOM killer sends. A crash (SIGSEGV,
# SIGABRT, SIGBUS) is a crash, whatever caused it.
SIGNAL_CAUSES: dict[int, str] = {
    signal.SIGSEGV: "segmentation fault: the program (or a library it uses) crashed",
    signal.SIGBUS: "bus error: the program crashed",
    signal.SIGABRT: "aborted: the program (or a library it uses) gave up",
    signal.SIGFPE: "arithmetic fault: the program crashed",
    signal.SIGILL: "illegal instruction: the program crashed",
}


def format_memory(memory: int) -> str:
    """Bytes for a message, e.g. ``1 GiB`` (``resources.format_memory`` writes quantities)."""
    if memory >= GIB:
        return f"{memory / GIB:.3g} GiB"
    return f"{memory / MIB:.3g} MiB"


def threads(spec: RunSpec) -> int:
    """Threads a run's numeric libraries may start: its CPU request, rounded up."""
    return max(1, math.ceil(spec.cpu))


def run_environment(spec: RunSpec, run_dir: Path) -> dict[str, str]:
    """The whole environment of a run: only what the contract names, so the
    server's own environment (tokens, credentials) never reaches a process."""
    count = str(threads(spec))
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "HOME": str(run_dir),
        "TMPDIR": str(run_dir),
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": count,
        "OPENBLAS_NUM_THREADS": count,
        "MKL_NUM_THREADS": count,
    }
    if "LC_ALL" in os.environ:
        env["LC_ALL"] = os.environ["LC_ALL"]
    env.update(spec.storage_env)
    env.setdefault(protocol.ENV_STORAGE_BASE, spec.storage_base)
    env.update(
        {
            protocol.ENV_CONTRACT_VERSION: str(protocol.CONTRACT_VERSION),
            protocol.ENV_PROCESS_TYPE: spec.process_type,
            protocol.ENV_PROCESS_ID: str(spec.key.process_id),
            protocol.ENV_VERSION: str(spec.key.version),
            protocol.ENV_PROJECT_ID: str(spec.project_id),
            protocol.ENV_PARAMETERS_JSON: json.dumps(spec.parameters),
            protocol.ENV_INPUT_DATASETS_JSON: json.dumps(spec.input_datasets),
        }
    )
    if spec.notebook is not None:
        env[protocol.ENV_NOTEBOOK] = spec.notebook
    return env


def exit_outcome(returncode: int, memory: int, cpu_seconds: int) -> RunOutcome:
    """How a process that ended on its own (not stopped by us) went."""
    if returncode == protocol.EXIT_OK:
        return RunOutcome("completed", exit_code=0)
    if returncode < 0:
        sig = _signal_name(-returncode)
        exit_code = 128 - returncode
        if -returncode == signal.SIGKILL:
            return RunOutcome(
                "failed",
                "oom",
                f"Killed by {sig}, which nagelfluh did not send: the kernel's out-of-memory "
                f"killer, most likely (request {format_memory(memory)})",
                exit_code,
            )
        if -returncode == signal.SIGXCPU:
            return RunOutcome(
                "failed",
                "deadline",
                f"CPU time limit of {cpu_seconds} s exceeded: process stopped",
                exit_code,
            )
        cause = SIGNAL_CAUSES.get(-returncode)
        return RunOutcome(
            "failed", "error", f"Killed by {sig}" + (f" ({cause})" if cause else ""), exit_code
        )
    if returncode == protocol.EXIT_OOM:
        return RunOutcome(
            "failed",
            "oom",
            f"Out of memory: the process needed more than its request of {format_memory(memory)}",
            returncode,
        )
    if returncode == protocol.EXIT_STORAGE:
        return RunOutcome(
            "failed",
            "storage",
            "Storage would not take an output (full, read-only or refusing; see the log): "
            "what was written before stays under the version's own prefix, unregistered",
            returncode,
        )
    if returncode == protocol.EXIT_USAGE:
        return RunOutcome(
            "failed",
            "invalid",
            "Exited with code 2: invalid parameters, "
            "unknown process type or incomplete environment (see the log)",
            returncode,
        )
    return RunOutcome("failed", "error", f"Exited with code {returncode}", returncode)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
