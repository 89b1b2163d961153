"""The process of the log benchmark: prints N numbered lines (N = argv[1]), then
writes the empty manifest that makes a run count as completed.

It speaks the execution contract without the runner (the server starts it through
``LocalExecutor.command``), so that the benchmark measures the server's log path
and not a process type; the same program piped to ``wc -l`` is the baseline.
Each line is one ``write`` of an unbuffered stream (PYTHONUNBUFFERED, as the
executor sets it), as a process that flushes every line writes it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

from nagelfluh_runner import protocol


def main() -> None:
    write = sys.stdout.write
    for number in range(1, int(sys.argv[1]) + 1):
        write(f"line {number}: the quick brown fox jumps over the lazy dog\n")
    sys.stdout.flush()
    base = Path(url2pathname(urlparse(os.environ[protocol.ENV_STORAGE_BASE]).path))
    prefix = protocol.version_prefix(
        os.environ[protocol.ENV_PROJECT_ID],
        os.environ[protocol.ENV_PROCESS_ID],
        os.environ[protocol.ENV_VERSION],
    )
    manifest = base / prefix / protocol.MANIFEST_NAME
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({"datasets": []}))


if __name__ == "__main__":
    main()
