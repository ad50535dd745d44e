#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# `myelin media purge` against a real server: uploads two files (one of
# them twice, so two rows share a content-addressed file), checks that a
# purge before an old date removes nothing, that a purge before tomorrow
# removes the rows, files and thumbnails and prints them, and that the
# media is then gone for clients. Also checks date parsing errors.
#
# Environment: MYELIN_BIN, the server binary (default: build/myelin).
set -euo pipefail

. "$(dirname "$0")/lib.sh"

cli_setup
media=$(sed -n 's/^media_store_path: *"\(.*\)"$/\1/p' "$config")
[ -n "$media" ] || fail "no media_store_path in $config"

# Usage errors come before any work.
if "$bin" media purge -c "$config" >/dev/null 2>&1; then fail "purge without --before"; fi
if "$bin" media purge --before 2024-13-01 -c "$config" >/dev/null 2>&1; then
	fail "purge accepted month 13"
fi

cli_start_server

"$bin" register-user -c "$config" -u alice -p alicepw --no-admin </dev/null >/dev/null 2>&1 ||
	fail "register-user"
token=$(curl -fs -X POST "$client/_matrix/client/v3/login" -H 'Content-Type: application/json' \
	-d '{"type":"m.login.password","identifier":{"type":"m.id.user","user":"alice"},"password":"alicepw"}' |
	python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])') || fail "login"
auth="Authorization: Bearer $token"

upload() {
	curl -fs -X POST "$client/_matrix/media/v3/upload" -H "$auth" \
		-H 'Content-Type: text/plain' --data-binary "$1" |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["content_uri"].split("/")[-1])'
}
id1=$(upload "first file") || fail "upload 1"
id2=$(upload "second file") || fail "upload 2"
id3=$(upload "second file") || fail "upload 3"
[ "$(find "$media/content" -type f | wc -l)" = 2 ] || fail "expected 2 content files"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "$auth" \
	"$client/_matrix/client/v1/media/download/localhost/$id1")
[ "$code" = 200 ] || fail "download before purge: $code"

# 1. Nothing is older than 2001: nothing removed.
out=$("$bin" media purge --before 2001-01-01 -c "$config" 2>&1) || fail "purge 2001: $out"
grep -q '^purged 0 media, 0 cached remote media, 0 files' <<<"$out" || fail "purge 2001 printed: $out"
[ "$(find "$media/content" -type f | wc -l)" = 2 ] || fail "files removed by purge 2001"

# 2. Everything is older than tomorrow.
tomorrow=$(( ($(date +%s) + 86400) * 1000 ))
out=$("$bin" media purge --before "$tomorrow" -c "$config" 2>&1) || fail "purge: $out"
for id in "$id1" "$id2" "$id3"; do
	grep -q "^removed media mxc://localhost/$id\$" <<<"$out" || fail "$id not listed in: $out"
done
grep -q '^purged 3 media, 0 cached remote media, 2 files' <<<"$out" || fail "purge printed: $out"
[ "$(find "$media/content" -type f | wc -l)" = 0 ] || fail "content files left"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "$auth" \
	"$client/_matrix/client/v1/media/download/localhost/$id2")
[ "$code" = 404 ] || fail "download after purge: $code"

failed=0
echo "media_purge: all checks passed"
