/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Server-side key backups: a user's backup versions (algorithm and
 * auth_data, opaque to the server) and the encrypted session keys backed up
 * in each. Versions are numbered per user from 1 and never reused; the
 * current version is the newest one not deleted, and only it takes new keys.
 * Every change to a version's keys moves its etag, so clients can tell
 * whether someone else changed the backup.
 * SPEC: client-server-api#server-side-key-backups
 */
#ifndef MX_STORE_KEY_BACKUP_H
#define MX_STORE_KEY_BACKUP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mx_arena;
struct mx_db;
struct mx_db_conn;

struct mx_key_backup_version {
	int64_t version;
	const char *algorithm; /* arena */
	const char *auth_data; /* JSON object text (arena) */
	int64_t etag;
	int64_t count;         /* keys stored in the version */
};

/* One session key as KeyBackupData. */
struct mx_room_key {
	const char *room_id, *session_id;
	int64_t first_message_index, forwarded_count;
	bool is_verified;
	const char *session_data; /* JSON object text */
};

/*
 * SPEC: client-server-api#backup-algorithm-mmegolm_backupv1curve25519-aes-sha2
 * (the rules for storing keys): true if incoming should replace existing:
 * a verified key beats an unverified one; then the lower first_message_index
 * wins; then the lower forwarded_count. A key equal on all three is kept.
 */
bool mx_key_backup_should_replace(const struct mx_room_key *existing,
				  const struct mx_room_key *incoming);

/*
 * Parse a version as the API carries it ("1", "42"): decimal digits only,
 * no sign, 1-18 digits, > 0. Returns false for anything else (the API
 * answers 404 for such versions, as for unknown ones).
 */
bool mx_key_backup_version_parse(const char *s, int64_t *out);

/*
 * Read user's version (0: the current one) into *out (strings in a).
 * MX_ENOTFOUND if there is no such version, it was deleted, or (version 0)
 * the user has no backup; MX_EDB.
 */
int mx_store_key_backup_version_get(struct mx_db_conn *c, struct mx_arena *a,
				    const char *user_id, int64_t version,
				    struct mx_key_backup_version *out);

/* Create a new version, which becomes the current one; *version is its number. */
int mx_store_key_backup_version_create(struct mx_db *db, const char *user_id,
				       const char *algorithm, const char *auth_data,
				       int64_t *version);

/*
 * Replace auth_data of user's version. MX_ENOTFOUND if the version does not
 * exist (or was deleted); MX_EBADSTATE if it is not the current version;
 * MX_EINVALIDPARAM if algorithm differs from the version's. Nothing changes
 * on error.
 */
int mx_store_key_backup_version_update(struct mx_db *db, const char *user_id, int64_t version,
				       const char *algorithm, const char *auth_data);

/* Delete a version and its keys. MX_ENOTFOUND if it does not exist (or was deleted). */
int mx_store_key_backup_version_delete(struct mx_db *db, const char *user_id, int64_t version);

/*
 * Store keys[0..n) in user's version, each replacing the stored key of its
 * session only if mx_key_backup_should_replace() says so, all in one write.
 * On success *etag and *count describe the version afterwards. MX_ENOTFOUND
 * if the user has no current backup; MX_EWRONGROOMKEYSVERSION if version is
 * not the current one (*current_version is then the current one). Nothing is
 * stored on error.
 */
int mx_store_room_keys_put(struct mx_db *db, const char *user_id, int64_t version,
			   const struct mx_room_key *keys, size_t n, int64_t *etag, int64_t *count,
			   int64_t *current_version);

/*
 * The keys of user's version, all of them (room_id NULL), of one room, or
 * one session (room_id and session_id), as a new object
 * {roomId: {"sessions": {sessionId: KeyBackupData}}} that lives in a.
 * MX_ENOTFOUND if the version does not exist (or was deleted); MX_EDB.
 */
int mx_store_room_keys_get(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
			   int64_t version, const char *room_id, const char *session_id,
			   json_t **rooms);

/*
 * Delete keys of user's version: all (room_id NULL), a room's, or one
 * session's. *etag and *count describe the version afterwards. MX_ENOTFOUND
 * if the version does not exist (or was deleted).
 */
int mx_store_room_keys_delete(struct mx_db *db, const char *user_id, int64_t version,
			      const char *room_id, const char *session_id, int64_t *etag,
			      int64_t *count);

#endif
