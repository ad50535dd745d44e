/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Global user profiles: displayname and avatar_url live in the users row
 * (the hot fields, read for every membership event), every other field in
 * profile_fields as canonical JSON text. A profile is one JSON object whose
 * canonical encoding may not exceed MX_PROFILE_MAX_BYTES; the limit is
 * checked inside the write job, against the stored profile, so concurrent
 * writers cannot together exceed it.
 * SPEC: client-server-api#profiles
 */
#ifndef MX_STORE_PROFILE_H
#define MX_STORE_PROFILE_H

#include <jansson.h>

struct mx_arena;
struct mx_db;
struct mx_db_conn;

/* SPEC: client-server-api#put_matrixclientv3profileuseridkeyname:
 * "the total profile MUST be under 64 KiB", counted in canonical JSON. */
#define MX_PROFILE_MAX_BYTES 65536

/*
 * The whole profile of a local user as an object (possibly empty) that
 * lives in arena a. MX_ENOTFOUND if the user does not exist or is
 * deactivated.
 */
int mx_store_profile_get(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
			 json_t **out);

/*
 * One field of a local user's profile; *out lives in arena a. MX_ENOTFOUND
 * if the user does not exist, is deactivated, or has no such field.
 */
int mx_store_profile_get_field(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
			       const char *key, json_t **out);

/*
 * Set one field to value (borrowed). For "displayname" and "avatar_url"
 * value must be a string, or JSON null to clear the field; any other key
 * takes any canonically encodable value (null included: stored, not a
 * deletion). Returns 0, MX_ENOTFOUND (no such user, or deactivated),
 * MX_EBADJSON (value not canonically encodable), MX_EPROFILETOOLARGE
 * (the profile would exceed MX_PROFILE_MAX_BYTES; nothing is written).
 */
int mx_store_profile_set(struct mx_db *db, const char *user_id, const char *key,
			 const json_t *value);

/* Remove one field (absent fields are fine). MX_ENOTFOUND for no such user. */
int mx_store_profile_delete(struct mx_db *db, const char *user_id, const char *key);

#endif
