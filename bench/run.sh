#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Foundation benchmark: startup time, RSS idle and under load, and wrk
# throughput/latency of GET /versions and an authenticated GET /whoami, plus
# the disk writes of registrations and logins. Loopback only; bounded in time.
# Usage: bench/run.sh [BUILD_DIR]   (env: DURATION=10s CONNS=64 THREADS=2)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bin="$PWD/$build/myelin"
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
aport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$dir/homeserver.yaml" <<YAML
server_name: localhost
public_baseurl: http://127.0.0.1:$port/
listeners:
  - {port: $port, bind_addresses: ['127.0.0.1'], type: http, resources: [{names: [client, federation]}]}
  - {port: $aport, bind_addresses: ['127.0.0.1'], type: http, resources: [{names: [admin]}]}
database: {name: sqlite3, args: {database: $dir/homeserver.db}}
signing_key_path: $dir/localhost.signing.key
media_store_path: $dir/media
enable_registration: true
log_level: warn
rc_registration: {per_second: 100000, burst_count: 100000}
rc_login: {address: {per_second: 100000, burst_count: 100000}, account: {per_second: 100000, burst_count: 100000}, failed_attempts: {per_second: 100000, burst_count: 100000}}
YAML
base="http://127.0.0.1:$port"
t0=$(date +%s%N)
"$bin" serve -c "$dir/homeserver.yaml" 2>"$dir/server.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
until curl -sf "$base/_matrix/client/versions" >/dev/null; do sleep 0.005; done
t1=$(date +%s%N)
rss() { awk '/^VmRSS/ {print $2 " kB"}' /proc/$pid/status; }
hwm() { awk '/^VmHWM/ {print $2 " kB"}' /proc/$pid/status; }
echo "startup (exec to first answer, first run incl. key generation and migrations): $(((t1 - t0) / 1000000)) ms"
echo "RSS after start: $(rss)"

register() { # user -> access token
	local s
	s=$(curl -s -XPOST "$base/_matrix/client/v3/register" -d '{}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["session"])')
	curl -s -XPOST "$base/_matrix/client/v3/register" \
		-d "{\"username\":\"$1\",\"password\":\"benchpassword\",\"auth\":{\"type\":\"m.login.dummy\",\"session\":\"$s\"}}" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
token=$(register bench)

# Disk writes of 50 logins (each: device + token rows, one group commit).
read -r wb0 < <(awk '/^write_bytes/ {print $2}' /proc/$pid/io)
n=50
lt0=$(date +%s%N)
for i in $(seq $n); do
	curl -s -XPOST "$base/_matrix/client/v3/login" \
		-d '{"type":"m.login.password","identifier":{"type":"m.id.user","user":"bench"},"password":"benchpassword"}' >/dev/null
done
lt1=$(date +%s%N)
read -r wb1 < <(awk '/^write_bytes/ {print $2}' /proc/$pid/io)
echo "login (argon2id verify + durable write): $(((lt1 - lt0) / n / 1000000)) ms each; disk write_bytes per login: $(((wb1 - wb0) / n))"

echo
echo "== GET /_matrix/client/versions ($CONNS connections, $DURATION)"
wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$base/_matrix/client/versions" | grep -E 'Requests/sec|50%|90%|99%|Latency  '
echo "RSS under load (high-water mark): $(hwm)"
echo
echo "== GET /_matrix/client/v3/account/whoami with a valid token"
wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -H "Authorization: Bearer $token" \
	"$base/_matrix/client/v3/account/whoami" | grep -E 'Requests/sec|50%|90%|99%|Latency  '
echo "RSS under load (high-water mark): $(hwm); now $(rss)"
