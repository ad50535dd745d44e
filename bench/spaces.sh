#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Run the spaces benchmark against BUILD_DIR/myelin (default build).
set -euo pipefail
cd "$(dirname "$0")/.."
node22=$(scripts/e2e-node.sh)
exec "$node22" bench/spaces.mjs "$PWD/${1:-build}/myelin"
