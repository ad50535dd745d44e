#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Native TLS on a listener (tls: true, tls_certificate_path,
# tls_private_key_path). Makes a throwaway CA and a server certificate for
# localhost / 127.0.0.1 with openssl, then checks:
#   - start-up errors: a TLS listener without a certificate names the key,
#     an unreadable key file and a key that does not match the certificate
#     stop the server with a clear message;
#   - federation version and server keys answer over HTTPS, with the
#     certificate file holding the chain (leaf + CA);
#   - plain HTTP to the TLS port fails, and curl refuses a wrong CA;
#   - a media upload and download (a reply from a file descriptor) of a
#     few hundred KB come back byte for byte over TLS;
#   - a long-polling /sync (a suspended and resumed connection) answers.
#
# Environment: MYELIN_BIN, the server binary (default: build/myelin).
set -euo pipefail

. "$(dirname "$0")/lib.sh"

command -v openssl >/dev/null || { echo "SKIP: openssl not installed"; failed=0; exit 77; }

cli_setup
read -r tls_port < <(python3 -c '
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pki=$tmp/pki
mkdir -p "$pki"

# A CA, a server certificate it signs, and an unrelated CA.
ossl() { openssl "$@" >/dev/null 2>&1 || fail "openssl $1 failed"; }
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj "/CN=Myelin test CA" -keyout "$pki/ca.key" -out "$pki/ca.pem"
ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-subj "/CN=localhost" -keyout "$pki/server.key" -out "$pki/server.csr"
printf '%s\n' 'subjectAltName=DNS:localhost,IP:127.0.0.1' 'basicConstraints=CA:FALSE' \
	'keyUsage=digitalSignature' 'extendedKeyUsage=serverAuth' >"$pki/ext.cnf"
ossl x509 -req -in "$pki/server.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" \
	-CAcreateserial -days 2 -extfile "$pki/ext.cnf" -out "$pki/server.pem"
cat "$pki/server.pem" "$pki/ca.pem" >"$pki/fullchain.pem"
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj "/CN=Some other CA" -keyout "$pki/other.key" -out "$pki/other.pem"

# A TLS listener serving client and federation, before the others.
sed -i "s|^listeners:\$|listeners:\n  - port: $tls_port\n    bind_addresses: ['127.0.0.1']\n    type: http\n    tls: true\n    resources:\n      - names: [client, federation]\n|" \
	"$config"
grep -q "port: $tls_port" "$config" || fail "could not add the TLS listener to $config"
base_config=$tmp/base.yaml
cp "$config" "$base_config"

# The server must refuse to start, printing a message that matches $1.
expect_startup_error() {
	local out
	if out=$(timeout 20 "$bin" serve -c "$config" 2>&1); then
		fail "server started; expected an error matching '$1'"
	fi
	grep -qE "$1" <<<"$out" || fail "start-up error did not match '$1': $out"
}

# 1. No certificate configured: a config error naming the key.
expect_startup_error 'listeners\[0\]\.tls: .*tls_certificate_path'
echo "tls_certificate_path: $pki/fullchain.pem" >>"$config"
expect_startup_error 'listeners\[0\]\.tls: .*tls_private_key_path'

# 2. An unreadable key file, a certificate file with no certificate.
cp "$base_config" "$config"
printf 'tls_certificate_path: %s\ntls_private_key_path: %s\n' "$pki/fullchain.pem" \
	"$pki/missing.key" >>"$config"
expect_startup_error "tls_private_key_path: $pki/missing.key: cannot read"
cp "$base_config" "$config"
printf 'tls_certificate_path: %s\ntls_private_key_path: %s\n' "$pki/server.key" \
	"$pki/server.key" >>"$config"
expect_startup_error 'tls_certificate_path: .*no PEM certificate'

# 3. A key that is not the certificate's.
cp "$base_config" "$config"
printf 'tls_certificate_path: %s\ntls_private_key_path: %s\n' "$pki/fullchain.pem" \
	"$pki/other.key" >>"$config"
expect_startup_error "cannot listen on 127\.0\.0\.1:$tls_port with TLS"

# 4. The real thing: relative paths resolve against the config's directory.
cp "$base_config" "$config"
cp "$pki/fullchain.pem" "$pki/server.key" "$(dirname "$config")/"
printf 'tls_certificate_path: fullchain.pem\ntls_private_key_path: server.key\n' >>"$config"
cli_start_server
https=https://localhost:$tls_port
grep -q "listening on 127.0.0.1:$tls_port (TLS)" "$tmp/server.log" || fail "no TLS listener in log"

out=$(curl -fsS --cacert "$pki/ca.pem" "$https/_matrix/federation/v1/version") ||
	fail "federation version over HTTPS: $out"
python3 -c 'import json, sys; assert json.loads(sys.argv[1])["server"]["name"]' "$out" ||
	fail "federation version body: $out"
out=$(curl -fsS --cacert "$pki/ca.pem" "https://127.0.0.1:$tls_port/_matrix/key/v2/server") ||
	fail "server keys over HTTPS (IP SAN): $out"
python3 -c 'import json, sys; assert json.loads(sys.argv[1])["server_name"] == "localhost"' \
	"$out" || fail "server keys body: $out"

# 5. Plain HTTP to the TLS port, and a CA that did not sign the certificate.
if curl -fsS -m 5 "http://127.0.0.1:$tls_port/_matrix/federation/v1/version" >/dev/null 2>&1; then
	fail "plain HTTP answered on the TLS port"
fi
rc=0
curl -fsS -m 5 --cacert "$pki/other.pem" "$https/_matrix/federation/v1/version" \
	>/dev/null 2>&1 || rc=$?
[ "$rc" = 60 ] || fail "curl with the wrong CA: exit $rc, expected 60 (certificate refused)"
curl -fsS --cacert "$pki/ca.pem" "$https/_matrix/federation/v1/version" >/dev/null ||
	fail "the TLS listener stopped answering after bad clients"

# 6. Upload and download over TLS: the download is a file-descriptor reply.
"$bin" register-user -c "$config" -u alice -p alicepw --no-admin </dev/null >/dev/null 2>&1 ||
	fail "register-user"
token=$(curl -fsS --cacert "$pki/ca.pem" -X POST "$https/_matrix/client/v3/login" \
	-H 'Content-Type: application/json' \
	-d '{"type":"m.login.password","identifier":{"type":"m.id.user","user":"alice"},"password":"alicepw"}' |
	python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])') || fail "login"
head -c 300000 /dev/urandom >"$tmp/blob"
id=$(curl -fsS --cacert "$pki/ca.pem" -X POST "$https/_matrix/media/v3/upload" \
	-H "Authorization: Bearer $token" -H 'Content-Type: application/octet-stream' \
	--data-binary @"$tmp/blob" |
	python3 -c 'import json, sys; print(json.load(sys.stdin)["content_uri"].split("/")[-1])') ||
	fail "upload over HTTPS"
curl -fsS --cacert "$pki/ca.pem" -H "Authorization: Bearer $token" -o "$tmp/blob.back" \
	"$https/_matrix/client/v1/media/download/localhost/$id" || fail "download over HTTPS"
cmp -s "$tmp/blob" "$tmp/blob.back" || fail "downloaded bytes differ from the upload"

# 7. A long-poll over TLS: suspended, then resumed at its deadline.
since=$(curl -fsS --cacert "$pki/ca.pem" -H "Authorization: Bearer $token" \
	"$https/_matrix/client/v3/sync" |
	python3 -c 'import json, sys; print(json.load(sys.stdin)["next_batch"])') || fail "initial sync"
start=$(date +%s%N)
curl -fsS -m 10 --cacert "$pki/ca.pem" -H "Authorization: Bearer $token" \
	"$https/_matrix/client/v3/sync?since=$since&timeout=1000" >/dev/null || fail "long-poll sync"
waited=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$waited" -ge 900 ] || fail "long-poll returned after ${waited} ms, expected about 1000"

failed=0
echo "tls: all checks passed"
