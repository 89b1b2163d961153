"""The process of the outputs benchmark: writes N small outputs (N = argv[1]) and
the manifest listing them, as a run that tiles a survey into many files does.

It speaks the execution contract without the runner (the server starts it through
``LocalExecutor.command``), so the benchmark measures how the server checks and
registers outputs, not how a process type makes them.
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
    count = int(sys.argv[1])
    base = Path(url2pathname(urlparse(os.environ[protocol.ENV_STORAGE_BASE]).path))
    prefix = protocol.version_prefix(
        os.environ[protocol.ENV_PROJECT_ID],
        os.environ[protocol.ENV_PROCESS_ID],
        os.environ[protocol.ENV_VERSION],
    )
    folder = base / prefix
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for number in range(count):
        name = f"tile-{number:07d}.txt"
        (folder / name).write_text(f"tile {number}\n")
        entries.append({"path": prefix + name, "key": name, "mime_type": "text/plain"})
    (folder / protocol.MANIFEST_NAME).write_text(json.dumps({"datasets": entries}))
    print(f"wrote {count} outputs")


if __name__ == "__main__":
    main()
