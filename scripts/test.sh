#!/usr/bin/env bash
# Installs everything the test suite needs, then runs it: lint, type checks, the whole pytest
# suite (SQLite and PostgreSQL), and a check that no handler is unauthenticated.
# This is exactly what CI runs (.ci/run). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: PostgreSQL for the persistence tests, Chromium for the UI tests,
# Node.js for the labextension build (CI runs as root).
missing=()
command -v pg_createcluster >/dev/null 2>&1 || missing+=(postgresql)
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)  # the local runs' sandbox
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "note: missing Debian packages (${missing[*]}) need root; their tests will fail or skip" >&2
  fi
fi

# Python packages, from the committed constraints so installs repeat (uv: seconds, not minutes).
command -v uv >/dev/null 2>&1 || python3 -m pip install -q --disable-pip-version-check uv
[ -x .venv/bin/python ] || uv venv -q -p python3 .venv
# The labextension is built below with the venv's own jlpm (uv's isolated build
# environment has no jlpm on PATH), so the install skips the build hook.
# A re-install writes the wheel's install.json through the link `jupyter-builder develop`
# made into the built extension, where the next build would add it twice.
rm -f nagelfluh_lab/labextension/install.json
SKIP_JUPYTER_BUILDER=1 uv pip install -q -p .venv -c constraints.txt \
  -e ./runner -e ./kernel_magics -e ".[test]"

# The JupyterLab extension: locked npm packages, type check + build, unit tests, and a
# link into the venv so `jupyter lab` (and the UI tests) serve this very build.
(
  export PATH="$PWD/.venv/bin:$PATH"  # the package scripts call jlpm themselves
  cd labextension
  jlpm install --immutable >/dev/null
  jlpm build
  jlpm typecheck  # sources and unit tests together
  jlpm lint:check  # ESLint, Prettier and Stylelint with the extension template's settings
  jlpm vitest run
)
.venv/bin/jupyter-builder develop --overwrite . >/dev/null
bash scripts/install-hub-proxy.sh  # JupyterHub's proxy for tests/hub (npm, from tests/hub/package-lock.json)

.venv/bin/ruff check .
.venv/bin/mypy nagelfluh_lab runner/nagelfluh_runner kernel_magics/nagelfluh_magics  # strict: [tool.mypy]
# Three workers: most tests wait on servers, kernels and browsers (about 14½ min on three, on
# two cores; about twice that on one); `scripts/test.sh -n 0 ...` runs on one.
exec .venv/bin/pytest -n 3 --dist loadgroup "$@"
