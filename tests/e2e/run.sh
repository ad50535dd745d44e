#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Runs the end-to-end tests: node:test + matrix-js-sdk against real Myelin
# processes (one per test file, each in its own temporary directory).
#
#   tests/e2e/run.sh                      all *.test.mjs
#   tests/e2e/run.sh login.test.mjs ...   some files
#
# Installs Node 22 (scripts/e2e-node.sh) and the npm dependencies (npm ci,
# when node_modules is missing or older than package-lock.json) first.
# Env: MYELIN_BIN (default build/myelin), MYELIN_E2E_KEEP=1 to keep the
# servers' directories, MYELIN_E2E_LOG_LEVEL, MYELIN_E2E_SDK_LOG.
# Exit code: the test runner's.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

node22=$("$root/scripts/e2e-node.sh")
# npm's own `#!/usr/bin/env node` then runs on Node 22 as well.
export PATH="$(dirname "$node22"):$PATH"

cd "$here"
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
	npm ci --no-audit --no-fund --loglevel=error >&2
fi

export MYELIN_BIN="${MYELIN_BIN:-$root/build/myelin}"

if [[ $# -gt 0 ]]; then
	files=("$@")
else
	files=(*.test.mjs)
fi
# --test-force-exit: matrix-js-sdk leaves a long /sync timer running after
# stopClient(), which would otherwise keep each file alive ~110 s.
exec "$node22" --test --test-concurrency=1 --test-force-exit "${files[@]}"
