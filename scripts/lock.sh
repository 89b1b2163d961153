#!/usr/bin/env bash
# Regenerates constraints.txt: the exact versions every install uses (run after changing dependencies).
set -euo pipefail
cd "$(dirname "$0")/.."
printf -- "-e ./runner[s3,data]\n-e ./kernel_magics[data]\n-e .[test,postgres]\n" > /tmp/nagelfluh-req.in
# Seeded with the current pins, so only what the change needs moves.
cp constraints.txt /tmp/nagelfluh-constraints.txt
uv pip compile -q -p 3.11 /tmp/nagelfluh-req.in -o /tmp/nagelfluh-constraints.txt
{
  echo "# Pinned versions for every install (regenerate with scripts/lock.sh)."
  grep -v -e '^\s*#' -e '^-e' -e '^\s*$' /tmp/nagelfluh-constraints.txt
} > constraints.txt
