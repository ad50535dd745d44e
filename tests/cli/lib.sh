#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Sourced by the cli tests: a temporary directory, a generated config on two
# free loopback ports, and starting/stopping a real server.
#   cli_setup                 sets bin, tmp, config, client_port, admin_port,
#                             client, admin (URLs)
#   cli_start_server          starts it and waits for /health
#   fail MESSAGE              prints the message and the server log, exits 1
# Set failed=0 at the end of a passing test so its directory is removed.

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=${MYELIN_BIN:-$here/../../build/myelin}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/myelin-cli.XXXXXX")
server_pid=

cli_cleanup() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	if [ "${failed:-1}" = 0 ]; then rm -rf "$tmp"; else echo "kept $tmp" >&2; fi
}
trap cli_cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	if [ -f "$tmp/server.log" ]; then
		echo "--- server log (tail)" >&2
		tail -n 40 "$tmp/server.log" >&2
	fi
	exit 1
}

cli_setup() {
	# Two free TCP ports on 127.0.0.1 (bound to port 0 together, then released).
	read -r client_port admin_port < <(python3 -c '
import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])')
	config=$tmp/data/homeserver.yaml
	"$bin" generate-config --server-name localhost --data-dir "$tmp/data" >/dev/null
	sed -i -e "s/^  - port: 8008\$/  - port: $client_port/" \
		-e "s/^  - port: 8009\$/  - port: $admin_port/" "$config"
	grep -q "port: $client_port" "$config" && grep -q "port: $admin_port" "$config" ||
		fail "could not set the listener ports in $config"
	client=http://127.0.0.1:$client_port
	admin=http://127.0.0.1:$admin_port
}

cli_start_server() {
	"$bin" serve -c "$config" >"$tmp/server.log" 2>&1 &
	server_pid=$!
	for _ in $(seq 100); do
		curl -fs "$client/health" >/dev/null 2>&1 && break
		kill -0 "$server_pid" 2>/dev/null || fail "server exited at start-up"
		sleep 0.1
	done
	curl -fs "$client/health" >/dev/null || fail "server not ready after 10 s"
}
