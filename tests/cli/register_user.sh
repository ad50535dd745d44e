#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# `myelin register-user` against a real server: starts one in a temporary
# directory on free ports, registers bob through the shared-secret admin
# API (finding the secret and the admin listener in the config), logs in
# as bob, and checks that a second registration, a wrong MAC and the admin
# API on the client listener are all refused.
#
# Environment: MYELIN_BIN, the server binary (default: build/myelin).
set -euo pipefail

. "$(dirname "$0")/lib.sh"

cli_setup
secret=$(sed -n 's/^registration_shared_secret: *"\(.*\)"$/\1/p' "$config")
[ -n "$secret" ] || fail "no registration_shared_secret in $config"

cli_start_server

# 1. Registration through the CLI, secret and admin URL taken from the config.
out=$("$bin" register-user -c "$config" -u bob -p secretpw --no-admin </dev/null 2>&1) ||
	fail "register-user failed: $out"
grep -q '^Success!$' <<<"$out" || fail "no 'Success!' in: $out"

# 2. bob can log in with that password.
login=$(curl -s -w '\n%{http_code}' -X POST "$client/_matrix/client/v3/login" \
	-H 'Content-Type: application/json' \
	-d '{"type":"m.login.password","identifier":{"type":"m.id.user","user":"bob"},"password":"secretpw"}')
[ "$(tail -n1 <<<"$login")" = 200 ] || fail "login as bob: $login"
grep -q '"user_id":"@bob:localhost"' <<<"$login" || fail "login answered: $login"

# 3. Registering bob again fails, with the server's error.
if out=$("$bin" register-user -c "$config" -u bob -p otherpw --no-admin </dev/null 2>&1); then
	fail "second registration of bob succeeded: $out"
fi
grep -q 'M_USER_IN_USE' <<<"$out" || fail "second registration: expected M_USER_IN_USE in: $out"

# 4. A MAC made with the wrong secret is 403 M_FORBIDDEN and creates nothing.
nonce=$(curl -fs "$admin/_synapse/admin/v1/register" |
	python3 -c 'import json, sys; print(json.load(sys.stdin)["nonce"])') ||
	fail "GET nonce on the admin listener"
body=$(python3 - "$nonce" <<'EOF'
import hashlib, hmac, json, sys
nonce = sys.argv[1]
msg = b"\x00".join([nonce.encode(), b"mallory", b"malpw", b"notadmin"])
mac = hmac.new(b"not-the-secret", msg, hashlib.sha1).hexdigest()
print(json.dumps({"nonce": nonce, "username": "mallory", "password": "malpw",
                  "admin": False, "mac": mac}))
EOF
)
res=$(curl -s -w '\n%{http_code}' -X POST "$admin/_synapse/admin/v1/register" \
	-H 'Content-Type: application/json' -d "$body")
[ "$(tail -n1 <<<"$res")" = 403 ] || fail "wrong MAC: expected 403, got: $res"
grep -q '"errcode":"M_FORBIDDEN"' <<<"$res" || fail "wrong MAC: $res"
# The nonce was used up by the failed attempt, as in Synapse.
res=$(curl -s -w '\n%{http_code}' -X POST "$admin/_synapse/admin/v1/register" \
	-H 'Content-Type: application/json' -d "$body")
[ "$(tail -n1 <<<"$res")" = 400 ] || fail "reused nonce: expected 400, got: $res"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$client/_matrix/client/v3/login" \
	-H 'Content-Type: application/json' \
	-d '{"type":"m.login.password","identifier":{"type":"m.id.user","user":"mallory"},"password":"malpw"}')
[ "$code" = 403 ] || fail "mallory can log in after a wrong MAC (HTTP $code)"

# 5. The admin API is not served on the client listener.
for method in GET POST; do
	code=$(curl -s -o /dev/null -w '%{http_code}' -X "$method" \
		-H 'Content-Type: application/json' -d '{}' "$client/_synapse/admin/v1/register")
	[ "$code" = 404 ] || fail "$method /_synapse/admin/v1/register on the client listener: $code"
done

failed=0
echo "register_user: all checks passed"
