"""Set a run's rlimits, then exec its command.

Usage: ``python -I -S limits.py ADDRESS_SPACE CPU_SOFT CPU_HARD FILE_SIZE PROCESSES COMMAND...``.

The limits must be set in the child between fork and exec. ``preexec_fn`` would
do that, but it runs Python in a forked copy of a multi-threaded server (Jupyter
has thread pools), which can deadlock. Where util-linux's ``prlimit`` exists
(every Linux distribution) the executor uses it instead, at ~1 ms; this script
is the portable fallback, at one short interpreter start (``-I -S`` keeps it
near 10 ms), and imports nothing from the server.
"""

from __future__ import annotations

import os
import resource
import sys

EXIT_CANNOT_START = 127  # as a shell reports a command it cannot run


def capped(kind: int, soft: int, hard: int) -> tuple[int, int]:
    """The limit to set: never above a hard limit the server itself was given
    (raising it would fail without privileges)."""
    _, current_hard = resource.getrlimit(kind)
    if current_hard != resource.RLIM_INFINITY:
        hard = min(hard, current_hard)
        soft = min(soft, hard)
    return soft, hard


def _limit(kind: int, soft: int, hard: int) -> None:
    resource.setrlimit(kind, capped(kind, soft, hard))


def main(argv: list[str]) -> None:
    address_space, cpu_soft, cpu_hard, file_size, processes = (int(value) for value in argv[:5])
    command = argv[5:]
    _limit(resource.RLIMIT_CORE, 0, 0)
    _limit(resource.RLIMIT_CPU, cpu_soft, cpu_hard)
    _limit(resource.RLIMIT_AS, address_space, address_space)
    _limit(resource.RLIMIT_FSIZE, file_size, file_size)
    _limit(resource.RLIMIT_NPROC, processes, processes)
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        sys.stderr.write(f"cannot start {command[0]}: {exc}\n")
        os._exit(EXIT_CANNOT_START)


if __name__ == "__main__":
    main(sys.argv[1:])
