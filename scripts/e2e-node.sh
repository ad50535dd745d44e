#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Installs Node 22 for the end-to-end tests and prints the path of its binary.
#
# matrix-js-sdk declares Node >= 22 (it uses Promise.withResolvers); Debian's
# Node is older. Node 22 comes from the npm registry as the prebuilt package
# node-linux-<arch> (a plain npm package that ships bin/node), installed into
# tests/e2e/.node (git-ignored). Idempotent: a second run only prints the path.
#
# Usage: NODE22=$(scripts/e2e-node.sh)
# Env:   MYELIN_NODE22  use this node binary instead (must be >= 22)
set -euo pipefail

NODE_VERSION=22.23.5

if [[ -n "${MYELIN_NODE22:-}" ]]; then
	echo "$MYELIN_NODE22"
	exit 0
fi

# A node already on PATH that is new enough will do.
if command -v node >/dev/null 2>&1; then
	major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
	if [[ "$major" -ge 22 ]]; then
		command -v node
		exit 0
	fi
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
prefix="$root/tests/e2e/.node"

case "$(uname -m)" in
x86_64 | amd64) arch=x64 ;;
aarch64 | arm64) arch=arm64 ;;
*)
	echo "e2e-node.sh: unsupported architecture $(uname -m)" >&2
	exit 1
	;;
esac
pkg="node-linux-$arch"
bin="$prefix/node_modules/$pkg/bin/node"

if [[ -x "$bin" ]] && [[ "$("$bin" --version 2>/dev/null)" == "v$NODE_VERSION" ]]; then
	echo "$bin"
	exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
	echo "e2e-node.sh: npm is needed to fetch Node $NODE_VERSION (apt-get install npm)" >&2
	exit 1
fi

mkdir -p "$prefix"
# A package.json of its own keeps npm from walking up to tests/e2e/package.json.
[[ -f "$prefix/package.json" ]] || echo '{"private": true}' >"$prefix/package.json"
npm install --prefix "$prefix" --no-save --no-audit --no-fund --loglevel=error \
	"$pkg@$NODE_VERSION" >&2

if [[ ! -x "$bin" ]]; then
	echo "e2e-node.sh: $bin missing after install" >&2
	exit 1
fi
echo "$bin"
