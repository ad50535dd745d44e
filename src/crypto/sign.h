/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signing and verifying JSON objects (SPEC: appendices#signing-json): the
 * signature covers the canonical JSON of the object without its
 * "signatures" and "unsigned" members, and is stored, unpadded base64, at
 * signatures[entity][key_id]. Events are signed by the event layer, which
 * redacts first (SPEC: server-server-api#signing-events); this module only
 * knows JSON.
 */
#ifndef MX_CRYPTO_SIGN_H
#define MX_CRYPTO_SIGN_H

#include <jansson.h>

#include "crypto/keys.h"

/*
 * Sign obj (an object) as entity (a server name, or a user id for
 * cross-signing) with k, setting obj.signatures[entity][k->key_id] and
 * keeping every other signature, and "unsigned", as they were. obj is never
 * without its "signatures"/"unsigned" during the call: they are skipped by
 * the encoder rather than removed.
 *
 * Returns 0, or MX_EBADJSON if obj is not an object, cannot be canonically
 * encoded, or has a "signatures" (or signatures[entity]) that is not an
 * object; MX_ETOOLARGE if its encoding exceeds MX_CANONJSON_MAX_BYTES;
 * MX_EINVALID if entity is not valid UTF-8. obj is unchanged on error.
 */
int mx_sign_json(json_t *obj, const char *entity, const struct mx_signing_key *k);

/*
 * Check obj.signatures[entity][key_id] (SPEC: appendices#checking-for-a-signature)
 * against the ed25519 public key pk.
 *
 * Returns 0 if the signature is there and valid; MX_EFORBIDDEN if it is
 * missing, not ed25519, not decodable base64 of 64 bytes, or does not
 * verify; MX_EBADJSON if obj is not an object, "signatures" or
 * signatures[entity] is not an object or the signature not a string, or
 * obj cannot be canonically encoded.
 */
int mx_verify_json(const json_t *obj, const char *entity, const char *key_id,
		   const unsigned char pk[32]);

/*
 * mx_verify_json() with the public key as (padded or unpadded) base64, as
 * published in /_matrix/key/v2/server. MX_EINVALID if pk_b64 is not base64
 * of 32 bytes.
 */
int mx_verify_json_b64key(const json_t *obj, const char *entity, const char *key_id,
			  const char *pk_b64);

#endif
