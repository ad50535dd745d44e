/* SPDX-License-Identifier: Apache-2.0 */
/* ed25519 signatures over canonical JSON. */
#include "crypto/sign.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/base64.h"
#include "core/buf.h"
#include "core/canonjson.h"
#include "core/error.h"

/* SPEC: appendices#signing-details: neither is covered by the signature. */
static const char *const mx_sign_omit[] = {"signatures", "unsigned", NULL};

int mx_sign_json(json_t *obj, const char *entity, const struct mx_signing_key *k)
{
	unsigned char sig[crypto_sign_BYTES];
	struct mx_buf b;
	json_t *sigs, *ent;
	json_t *new_sigs = NULL, *new_ent = NULL;
	char *sig_b64 = NULL;
	int rc;

	mx_buf_init(&b, MX_CANONJSON_MAX_BYTES);
	if (!json_is_object(obj)) {
		rc = MX_EBADJSON;
		goto out;
	}
	/* Validate everything before touching obj, so errors leave it unchanged. */
	sigs = json_object_get(obj, "signatures");
	if (sigs && !json_is_object(sigs)) {
		rc = MX_EBADJSON;
		goto out;
	}
	ent = sigs ? json_object_get(sigs, entity) : NULL;
	if (ent && !json_is_object(ent)) {
		rc = MX_EBADJSON;
		goto out;
	}
	if ((rc = mx_canonjson_encode_except(obj, mx_sign_omit, &b)))
		goto out;
	crypto_sign_detached(sig, NULL, (const unsigned char *)b.data, b.len, k->sk);
	sig_b64 = mx_base64_encode(sig, sizeof(sig), MX_BASE64_STD);

	if (!ent) {
		new_ent = ent = json_object();
		if (!ent) {
			rc = MX_EUNKNOWN;
			goto out;
		}
	}
	if (json_object_set_new(ent, k->key_id, json_string(sig_b64))) {
		rc = MX_EINVALID;
		goto out;
	}
	if (!sigs) {
		new_sigs = sigs = json_object();
		if (!sigs) {
			rc = MX_EUNKNOWN;
			goto out;
		}
	}
	if (new_ent) {
		/* json_object_set fails for a key that is not valid UTF-8 */
		if (json_object_set(sigs, entity, new_ent)) {
			rc = MX_EINVALID;
			goto out;
		}
	}
	if (new_sigs && json_object_set(obj, "signatures", new_sigs)) {
		rc = MX_EUNKNOWN;
		goto out;
	}
out:
	json_decref(new_ent);
	json_decref(new_sigs);
	mx_buf_release(&b);
	free(sig_b64);
	return rc;
}

int mx_verify_json(const json_t *obj, const char *entity, const char *key_id,
		   const unsigned char pk[32])
{
	unsigned char sig[crypto_sign_BYTES];
	struct mx_buf b;
	const json_t *sigs, *ent, *s;
	int rc;

	mx_buf_init(&b, MX_CANONJSON_MAX_BYTES);
	if (!json_is_object(obj)) {
		rc = MX_EBADJSON;
		goto out;
	}
	sigs = json_object_get(obj, "signatures");
	if (!sigs) {
		rc = MX_EFORBIDDEN;
		goto out;
	}
	if (!json_is_object(sigs)) {
		rc = MX_EBADJSON;
		goto out;
	}
	ent = json_object_get(sigs, entity);
	if (!ent) {
		rc = MX_EFORBIDDEN;
		goto out;
	}
	if (!json_is_object(ent)) {
		rc = MX_EBADJSON;
		goto out;
	}
	/* Step 2 of the check: only algorithms we understand count. */
	if (strncmp(key_id, "ed25519:", 8) != 0) {
		rc = MX_EFORBIDDEN;
		goto out;
	}
	s = json_object_get(ent, key_id);
	if (!s) {
		rc = MX_EFORBIDDEN;
		goto out;
	}
	if (!json_is_string(s)) {
		rc = MX_EBADJSON;
		goto out;
	}
	/* Step 4: "If base64 decoding fails then the check fails." */
	if (strlen(json_string_value(s)) != json_string_length(s) ||
	    mx_base64_decode_exact(json_string_value(s), MX_BASE64_STD, sig, sizeof(sig))) {
		rc = MX_EFORBIDDEN;
		goto out;
	}
	if ((rc = mx_canonjson_encode_except(obj, mx_sign_omit, &b)))
		goto out;
	if (crypto_sign_verify_detached(sig, (const unsigned char *)b.data, b.len, pk) != 0)
		rc = MX_EFORBIDDEN;
out:
	mx_buf_release(&b);
	return rc;
}

int mx_verify_json_b64key(const json_t *obj, const char *entity, const char *key_id,
			  const char *pk_b64)
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	if (mx_base64_decode_exact(pk_b64, MX_BASE64_STD, pk, sizeof(pk)))
		return MX_EINVALID;
	return mx_verify_json(obj, entity, key_id, pk);
}
