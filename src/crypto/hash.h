/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hashes: SHA-256, event content hashes, and the one-way form in which
 * access and refresh tokens are stored (so a leaked database does not leak
 * working tokens; tokens are random, so an unsalted fast hash suffices).
 */
#ifndef MX_CRYPTO_HASH_H
#define MX_CRYPTO_HASH_H

#include <stddef.h>

#include <jansson.h>

#define MX_SHA256_BYTES 32
/* Unpadded base64 of a SHA-256 digest is 43 characters. */
#define MX_SHA256_B64_LEN 43

void mx_sha256(const void *p, size_t n, unsigned char out[MX_SHA256_BYTES]);

/*
 * The content hash of an event (SPEC: server-server-api#calculating-the-content-hash-for-an-event):
 * SHA-256 of the canonical JSON of the event without "unsigned",
 * "signatures" and "hashes", as unpadded base64 (NUL-terminated, 43
 * characters) in out_b64. The event is not modified.
 *
 * Returns 0, or MX_EBADJSON if event is not an object or cannot be
 * canonically encoded, or MX_ETOOLARGE past MX_CANONJSON_MAX_BYTES (see
 * mx_canonjson_encode()). out_b64 is "" on error.
 */
int mx_event_content_hash(const json_t *event, char out_b64[64]);

/*
 * SHA-256 of token as 64 lowercase hex digits plus NUL, for storing and
 * looking up tokens. Returns 0.
 */
int mx_hash_token(const char *token, char out_hex[65]);

#endif
