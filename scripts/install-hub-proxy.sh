#!/usr/bin/env bash
# Installs JupyterHub's proxy (configurable-http-proxy, from npm) for tests/hub, exactly as
# tests/hub/package-lock.json pins it, with the machine's Node.js and npm (Debian's npm
# package when the nodejs at hand came without one). Re-running it is cheap: it installs
# again only when the lock file changed.
set -euo pipefail
cd "$(dirname "$0")/../tests/hub"
if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "npm is missing: install Debian's nodejs and npm (needs root)" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
stamp=node_modules/.installed-from-lock
if [ -x node_modules/.bin/configurable-http-proxy ] && cmp -s package-lock.json "$stamp"; then
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
cp package-lock.json "$stamp"
