#!/usr/bin/env bash
# Installs everything the test suite needs, then runs it: lint, the whole pytest
# suite (SQLite and PostgreSQL), and a check that no handler is unauthenticated.
# This is exactly what CI runs (.ci/run). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: PostgreSQL for the persistence tests (CI runs as root).
if ! command -v pg_createcluster >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "note: PostgreSQL tests need Debian's postgresql and root; they will be skipped" >&2
  fi
fi

# Python packages, from the committed constraints so installs repeat (uv: seconds, not minutes).
command -v uv >/dev/null 2>&1 || python3 -m pip install -q --disable-pip-version-check uv
[ -x .venv/bin/python ] || uv venv -q -p python3 .venv
uv pip install -q -p .venv -c constraints.txt -e ./runner -e ./kernel_magics -e ".[test]"

.venv/bin/ruff check .
exec .venv/bin/pytest "$@"
