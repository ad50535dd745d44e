/* SPDX-License-Identifier: Apache-2.0 */
/* Shape and signature checks for cross-signing keys. */
#include "crypto/cross_signing.h"

#include <stdio.h>
#include <string.h>

#include "core/base64.h"
#include "core/error.h"
#include "crypto/sign.h"

int mx_cross_signing_key_check(const json_t *key, const char *user_id, const char *usage,
			       const char **pub, const char **msg)
{
	if (!json_is_object(key)) {
		*msg = "A cross-signing key must be an object";
		return MX_EBADJSON;
	}
	json_t *uid = json_object_get(key, "user_id");
	if (!json_is_string(uid)) {
		*msg = "A cross-signing key needs a 'user_id' string";
		return MX_EBADJSON;
	}
	if (strcmp(json_string_value(uid), user_id) != 0) {
		*msg = "A cross-signing key's 'user_id' must be the uploader's";
		return MX_EINVALIDPARAM;
	}
	/* SPEC: CrossSigningKey.usage: "What the key is used for." */
	json_t *use = json_object_get(key, "usage");
	if (!json_is_array(use) || !json_array_size(use)) {
		*msg = "A cross-signing key needs a non-empty 'usage' array";
		return MX_EBADJSON;
	}
	bool found = false;
	size_t i;
	json_t *u;
	json_array_foreach(use, i, u) {
		if (!json_is_string(u)) {
			*msg = "'usage' must hold strings";
			return MX_EBADJSON;
		}
		if (!strcmp(json_string_value(u), usage))
			found = true;
	}
	if (!found) {
		*msg = "The key's 'usage' does not match where it was uploaded";
		return MX_EINVALIDPARAM;
	}
	/* SPEC: "keys: The public key. The object must have exactly one property,
	 * whose name is in the form <algorithm>:<unpadded_base64_public_key>,
	 * and whose value is the unpadded base64 public key." */
	json_t *keys = json_object_get(key, "keys");
	if (!json_is_object(keys) || json_object_size(keys) != 1) {
		*msg = "'keys' must be an object with exactly one key";
		return MX_EINVALIDPARAM;
	}
	const char *kid = json_object_iter_key(json_object_iter(keys));
	json_t *kv = json_object_iter_value(json_object_iter(keys));
	unsigned char raw[32];
	if (strncmp(kid, "ed25519:", 8) != 0 || !json_is_string(kv) ||
	    strcmp(kid + 8, json_string_value(kv)) != 0 || strchr(kid + 8, '=') ||
	    mx_base64_decode_exact(kid + 8, MX_BASE64_STD, raw, sizeof(raw))) {
		*msg = "'keys' must hold one \"ed25519:<key>\": \"<key>\" with an unpadded "
		       "base64 ed25519 key";
		return MX_EINVALIDPARAM;
	}
	json_t *sigs = json_object_get(key, "signatures");
	if (sigs && !json_is_object(sigs)) {
		*msg = "'signatures' must be an object";
		return MX_EBADJSON;
	}
	*pub = json_string_value(kv);
	return 0;
}

int mx_cross_signing_verify(const json_t *obj, const char *signer_user, const char *key_name,
			    const char *pub)
{
	char kid[300];
	int n = snprintf(kid, sizeof(kid), "ed25519:%s", key_name);
	if (n < 0 || (size_t)n >= sizeof(kid))
		return MX_EFORBIDDEN;
	return mx_verify_json_b64key(obj, signer_user, kid, pub);
}

bool mx_cross_signing_same_key(const json_t *a, const json_t *b)
{
	if (!json_is_object(a) || !json_is_object(b))
		return false;
	json_t *ca = json_copy((json_t *)a), *cb = json_copy((json_t *)b);
	json_object_del(ca, "signatures");
	json_object_del(ca, "unsigned");
	json_object_del(cb, "signatures");
	json_object_del(cb, "unsigned");
	bool same = json_equal(ca, cb);
	json_decref(ca);
	json_decref(cb);
	return same;
}
