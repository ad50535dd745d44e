/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cross-signing keys (master, self_signing, user_signing, one of each per
 * user) and the signatures uploaded through /keys/signatures/upload: a
 * user's self-signing key over their devices, a device over its user's
 * master key, a user's user-signing key over other users' master keys.
 * Every change records a device-list change of the affected user, so that
 * other clients re-query the keys.
 *
 * For /keys/query: mx_store_cross_signing_key_get() gives a user's key
 * with every stored signature merged in; mx_store_cross_signing_sigs_merge()
 * adds the stored signatures to a device's keys.
 * SPEC: client-server-api#cross-signing
 */
#ifndef MX_STORE_CROSS_SIGNING_H
#define MX_STORE_CROSS_SIGNING_H

#include <jansson.h>
#include <stddef.h>

struct mx_arena;
struct mx_db;
struct mx_db_conn;

/*
 * user_id's key of usage ("master", "self_signing", "user_signing") as a
 * CrossSigningKey object that lives in a, with the signatures others
 * uploaded for it merged into "signatures". MX_ENOTFOUND if there is none.
 */
int mx_store_cross_signing_key_get(struct mx_db_conn *c, struct mx_arena *a,
				   const char *user_id, const char *usage, json_t **key);

/*
 * Merge into obj["signatures"] the stored signatures over target_user's key
 * target_key_id (a device id, or a master key's base64 public key). obj
 * must be an object; "signatures" is created if needed.
 */
int mx_store_cross_signing_sigs_merge(struct mx_db_conn *c, const char *target_user,
				      const char *target_key_id, json_t *obj);

/*
 * Store user_id's keys in one write: keys[i] is the JSON text of the
 * CrossSigningKey of usage[i] ("master", ...), replacing the stored one.
 * Records a device-list change of user_id.
 */
int mx_store_cross_signing_keys_put(struct mx_db *db, const char *user_id,
				    const char *const *usage, const char *const *key_ids,
				    const char *const *keys, size_t n);

struct mx_cs_signature {
	const char *target_user_id, *target_key_id; /* device id or master public key */
	const char *signer_user_id, *signer_key_id; /* "ed25519:..." */
	const char *signature;                      /* unpadded base64 */
};

/*
 * Store verified signatures in one write (replacing one by the same signer
 * key over the same target), recording a device-list change of each target
 * user.
 */
int mx_store_cross_signing_sigs_put(struct mx_db *db, const struct mx_cs_signature *sigs,
				    size_t n);

#endif
