#!/usr/bin/env bash
# Installs Sovra's npm dependencies (with the pinned Node.js runtime) if needed and starts the
# server on the embedded default: SQLite metadata and object data under ./data.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x node_modules/.bin/node ]; then npm ci --no-audit --no-fund; fi
exec bin/sovra server --data-dir "${SOVRA_DATA_DIR:-./data}" --listen "${SOVRA_LISTEN:-127.0.0.1:9000}" "$@"
