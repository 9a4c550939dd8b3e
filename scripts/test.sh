#!/usr/bin/env bash
# The whole test suite: installs what is missing (npm packages with the pinned Node.js runtime,
# Debian packages, local services), then runs every test file with Node's test runner.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x node_modules/.bin/node ] || [ ! -d node_modules/@aws-sdk/client-s3 ]; then
  npm ci --no-audit --no-fund
fi
bash scripts/system-deps.sh
node=node_modules/.bin/node
"$node" --version
if [ "$#" -gt 0 ]; then files=("$@"); else mapfile -t files < <(find test -name '*.test.ts' | sort); fi
exec "$node" --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
