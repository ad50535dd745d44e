/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pure checks on cross-signing keys (SPEC: client-server-api#cross-signing):
 * the shape of a CrossSigningKey object and signatures made with such keys
 * or with a device's ed25519 key. No storage, no HTTP: the client handlers
 * call these before storing anything.
 */
#ifndef MX_CRYPTO_CROSS_SIGNING_H
#define MX_CRYPTO_CROSS_SIGNING_H

#include <jansson.h>
#include <stdbool.h>

/* The three usages, as the key's "usage" array and the upload's field name them. */
#define MX_CS_MASTER "master"
#define MX_CS_SELF_SIGNING "self_signing"
#define MX_CS_USER_SIGNING "user_signing"

/*
 * Check that key is a CrossSigningKey of user_id for usage: an object whose
 * "user_id" is user_id, whose "usage" is an array of strings containing
 * usage, whose "keys" holds exactly one "ed25519:<pub>": "<pub>" with pub
 * unpadded base64 of 32 bytes, and whose "signatures", if any, is an object.
 * On success returns 0 and points *pub at the public key (borrowed from
 * key). On failure returns MX_EBADJSON (wrong type) or MX_EINVALIDPARAM
 * (wrong value) and sets *msg to a static explanation.
 */
int mx_cross_signing_key_check(const json_t *key, const char *user_id, const char *usage,
			       const char **pub, const char **msg);

/*
 * Check that obj carries a valid signature by signer_user with the ed25519
 * key pub (base64), under the key id "ed25519:<key_name>" (key_name: the
 * public key itself for cross-signing keys, the device id for device keys).
 * Returns 0 if valid, MX_EFORBIDDEN if missing or invalid, MX_EBADJSON /
 * MX_EINVALID for malformed input.
 */
int mx_cross_signing_verify(const json_t *obj, const char *signer_user, const char *key_name,
			    const char *pub);

/*
 * True if a and b are the same object once both lose their "signatures"
 * and "unsigned" members: a signed copy of a stored key is still that key.
 */
bool mx_cross_signing_same_key(const json_t *a, const json_t *b);

#endif
