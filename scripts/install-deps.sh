#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Install what Myelin needs to build, run and test on Debian 12. Idempotent
# and silent when everything is already present.
set -euo pipefail

packages=(
	build-essential pkg-config meson ninja-build python3 clang
	libmicrohttpd-dev libjansson-dev libsodium-dev libsqlite3-dev libyaml-dev
	libcurl4-openssl-dev libssl-dev libcmocka-dev libutf8proc-dev libpcre2-dev
	libvips-dev libc-ares-dev
	curl wrk openssl sqlite3
)
# Node.js and npm (for the end-to-end tests) may come from outside Debian;
# install Debian's only when there is none at all.
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "install-deps: installing ${missing[*]}" >&2
	SUDO=
	[[ $(id -u) -eq 0 ]] || SUDO=sudo
	$SUDO apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null
fi
