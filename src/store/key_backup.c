/* SPDX-License-Identifier: Apache-2.0 */
/* Key backup versions and their session keys (SQL side). */
#include "store/key_backup.h"

#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/error.h"
#include "db/db.h"

bool mx_key_backup_should_replace(const struct mx_room_key *existing,
				  const struct mx_room_key *incoming)
{
	if (!existing)
		return true;
	/* SPEC: "If the keys have different values for is_verified, then it
	 * will keep the key that has is_verified set to true" */
	if (existing->is_verified != incoming->is_verified)
		return incoming->is_verified;
	/* SPEC: "...it will keep the key with a lower first_message_index" */
	if (existing->first_message_index != incoming->first_message_index)
		return incoming->first_message_index < existing->first_message_index;
	/* SPEC: "...it will keep the key with a lower forwarded_count" */
	return incoming->forwarded_count < existing->forwarded_count;
}

bool mx_key_backup_version_parse(const char *s, int64_t *out)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 18)
		return false;
	int64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v <= 0)
		return false;
	*out = v;
	return true;
}

/* The current version's number, or MX_ENOTFOUND. */
static int mx_store_kb_current(struct mx_db_conn *c, const char *user_id, int64_t *version)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st,
			     "SELECT max(version) FROM room_key_versions "
			     "WHERE user_id = ? AND deleted = 0",
			     "s", user_id);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_DONE)
		return MX_ENOTFOUND;
	bool none = mx_db_col_is_null(st, 0);
	*version = mx_db_col_int64(st, 0);
	mx_db_done(st);
	return none ? MX_ENOTFOUND : 0;
}

/* 0 if the version exists and is not deleted; MX_ENOTFOUND; MX_EDB. */
static int mx_store_kb_exists(struct mx_db_conn *c, const char *user_id, int64_t version)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st,
			     "SELECT 1 FROM room_key_versions "
			     "WHERE user_id = ? AND version = ? AND deleted = 0",
			     "si", user_id, version);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_DONE)
		return MX_ENOTFOUND;
	mx_db_done(st);
	return 0;
}

/* etag and key count of a version. */
static int mx_store_kb_stats(struct mx_db_conn *c, const char *user_id, int64_t version,
			     int64_t *etag, int64_t *count)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st,
			     "SELECT etag, (SELECT count(*) FROM room_keys k WHERE k.user_id = "
			     "v.user_id AND k.version = v.version) FROM room_key_versions v "
			     "WHERE v.user_id = ? AND v.version = ?",
			     "si", user_id, version);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_DONE)
		return MX_ENOTFOUND;
	*etag = mx_db_col_int64(st, 0);
	*count = mx_db_col_int64(st, 1);
	mx_db_done(st);
	return 0;
}

int mx_store_key_backup_version_get(struct mx_db_conn *c, struct mx_arena *a,
				    const char *user_id, int64_t version,
				    struct mx_key_backup_version *out)
{
	int rc = 0;
	if (version == 0)
		rc = mx_store_kb_current(c, user_id, &version);
	if (rc)
		return rc;
	struct mx_db_stmt *st;
	rc = mx_db_query(c, &st,
			 "SELECT algorithm, auth_data, etag, (SELECT count(*) FROM room_keys k "
			 "WHERE k.user_id = v.user_id AND k.version = v.version) "
			 "FROM room_key_versions v WHERE v.user_id = ? AND v.version = ? "
			 "AND v.deleted = 0",
			 "si", user_id, version);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_DONE)
		return MX_ENOTFOUND;
	out->version = version;
	out->algorithm = mx_arena_strdup(a, mx_db_col_text(st, 0));
	out->auth_data = mx_arena_strdup(a, mx_db_col_text(st, 1));
	out->etag = mx_db_col_int64(st, 2);
	out->count = mx_db_col_int64(st, 3);
	mx_db_done(st);
	return 0;
}

struct mx_kb_version_job {
	const char *user_id, *algorithm, *auth_data;
	int64_t version;
};

static int mx_store_kb_create_job(struct mx_db_conn *c, void *arg)
{
	struct mx_kb_version_job *j = arg;
	struct mx_db_stmt *st;
	/* Numbers are never reused, deleted versions included. */
	int rc = mx_db_query(c, &st,
			     "SELECT coalesce(max(version), 0) FROM room_key_versions "
			     "WHERE user_id = ?",
			     "s", j->user_id);
	if (rc < 0)
		return rc;
	j->version = 1;
	if (rc == MX_DB_ROW) {
		j->version = mx_db_col_int64(st, 0) + 1;
		mx_db_done(st);
	}
	return mx_db_run(c,
			 "INSERT INTO room_key_versions (user_id, version, algorithm, auth_data) "
			 "VALUES (?, ?, ?, ?)",
			 "siss", j->user_id, j->version, j->algorithm, j->auth_data);
}

int mx_store_key_backup_version_create(struct mx_db *db, const char *user_id,
				       const char *algorithm, const char *auth_data,
				       int64_t *version)
{
	struct mx_kb_version_job j = {user_id, algorithm, auth_data, 0};
	int rc = mx_db_write(db, mx_store_kb_create_job, &j);
	*version = rc ? 0 : j.version;
	return rc;
}

static int mx_store_kb_update_job(struct mx_db_conn *c, void *arg)
{
	struct mx_kb_version_job *j = arg;
	int64_t current;
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st,
			     "SELECT algorithm FROM room_key_versions "
			     "WHERE user_id = ? AND version = ? AND deleted = 0",
			     "si", j->user_id, j->version);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_DONE)
		return MX_ENOTFOUND;
	bool same = strcmp(mx_db_col_text(st, 0), j->algorithm) == 0;
	mx_db_done(st);
	rc = mx_store_kb_current(c, j->user_id, &current);
	if (rc)
		return rc;
	if (current != j->version)
		return MX_EBADSTATE;
	if (!same)
		return MX_EINVALIDPARAM;
	return mx_db_run(c,
			 "UPDATE room_key_versions SET auth_data = ? "
			 "WHERE user_id = ? AND version = ?",
			 "ssi", j->auth_data, j->user_id, j->version);
}

int mx_store_key_backup_version_update(struct mx_db *db, const char *user_id, int64_t version,
				       const char *algorithm, const char *auth_data)
{
	struct mx_kb_version_job j = {user_id, algorithm, auth_data, version};
	return mx_db_write(db, mx_store_kb_update_job, &j);
}

static int mx_store_kb_delete_job(struct mx_db_conn *c, void *arg)
{
	struct mx_kb_version_job *j = arg;
	int rc = mx_store_kb_exists(c, j->user_id, j->version);
	if (!rc)
		rc = mx_db_run(c, "DELETE FROM room_keys WHERE user_id = ? AND version = ?", "si",
			       j->user_id, j->version);
	if (!rc)
		rc = mx_db_run(c,
			       "UPDATE room_key_versions SET deleted = 1 "
			       "WHERE user_id = ? AND version = ?",
			       "si", j->user_id, j->version);
	return rc;
}

int mx_store_key_backup_version_delete(struct mx_db *db, const char *user_id, int64_t version)
{
	struct mx_kb_version_job j = {user_id, NULL, NULL, version};
	return mx_db_write(db, mx_store_kb_delete_job, &j);
}

struct mx_kb_keys_job {
	const char *user_id;
	int64_t version;
	const struct mx_room_key *keys;
	size_t n;
	const char *room_id, *session_id; /* delete: the scope */
	int64_t etag, count, current;
};

/* Store one key if it beats the stored one; *changed is set if it did. */
static int mx_store_kb_put_one(struct mx_db_conn *c, struct mx_kb_keys_job *j,
			       const struct mx_room_key *k, bool *changed)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st,
			     "SELECT first_message_index, forwarded_count, is_verified FROM room_keys "
			     "WHERE user_id = ? AND version = ? AND room_id = ? AND session_id = ?",
			     "siss", j->user_id, j->version, k->room_id, k->session_id);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_ROW) {
		struct mx_room_key old = {
			.first_message_index = mx_db_col_int64(st, 0),
			.forwarded_count = mx_db_col_int64(st, 1),
			.is_verified = mx_db_col_int64(st, 2) != 0,
		};
		mx_db_done(st);
		if (!mx_key_backup_should_replace(&old, k))
			return 0;
	}
	*changed = true;
	return mx_db_run(c,
			 "INSERT OR REPLACE INTO room_keys (user_id, version, room_id, session_id, "
			 "first_message_index, forwarded_count, is_verified, session_data) "
			 "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			 "sissiiis", j->user_id, j->version, k->room_id, k->session_id,
			 k->first_message_index, k->forwarded_count, (int64_t)k->is_verified,
			 k->session_data);
}

static int mx_store_kb_put_job(struct mx_db_conn *c, void *arg)
{
	struct mx_kb_keys_job *j = arg;
	int rc = mx_store_kb_current(c, j->user_id, &j->current);
	if (rc)
		return rc;
	/* SPEC: key_backup.yaml: M_WRONG_ROOM_KEYS_VERSION "if the version
	 * specified in the version parameter is not the current backup version" */
	if (j->current != j->version)
		return MX_EWRONGROOMKEYSVERSION;
	bool changed = false;
	for (size_t i = 0; i < j->n && !rc; i++)
		rc = mx_store_kb_put_one(c, j, &j->keys[i], &changed);
	if (!rc && changed)
		rc = mx_db_run(c,
			       "UPDATE room_key_versions SET etag = etag + 1 "
			       "WHERE user_id = ? AND version = ?",
			       "si", j->user_id, j->version);
	if (!rc)
		rc = mx_store_kb_stats(c, j->user_id, j->version, &j->etag, &j->count);
	return rc;
}

int mx_store_room_keys_put(struct mx_db *db, const char *user_id, int64_t version,
			   const struct mx_room_key *keys, size_t n, int64_t *etag, int64_t *count,
			   int64_t *current_version)
{
	struct mx_kb_keys_job j = {.user_id = user_id, .version = version, .keys = keys, .n = n};
	int rc = mx_db_write(db, mx_store_kb_put_job, &j);
	*etag = j.etag;
	*count = j.count;
	*current_version = j.current;
	return rc;
}

int mx_store_room_keys_get(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
			   int64_t version, const char *room_id, const char *session_id,
			   json_t **rooms)
{
	int rc = mx_store_kb_exists(c, user_id, version);
	if (rc)
		return rc;
	json_t *out = mx_arena_json(a, json_object());
	struct mx_db_stmt *st;
	/* NULL scope columns match everything. */
	rc = mx_db_query(c, &st,
			 "SELECT room_id, session_id, first_message_index, forwarded_count, "
			 "is_verified, session_data FROM room_keys WHERE user_id = ? AND version = ? "
			 "AND (?3 IS NULL OR room_id = ?3) AND (?4 IS NULL OR session_id = ?4)",
			 "siss", user_id, version, room_id, session_id);
	while (rc == MX_DB_ROW) {
		const char *rid = mx_db_col_text(st, 0);
		json_t *room = json_object_get(out, rid);
		if (!room) {
			room = json_pack("{s:{}}", "sessions");
			json_object_set_new(out, rid, room);
		}
		json_t *data = json_loads(mx_db_col_text(st, 5), 0, NULL);
		json_object_set_new(json_object_get(room, "sessions"), mx_db_col_text(st, 1),
				    json_pack("{s:I,s:I,s:b,s:o}", "first_message_index",
					      (json_int_t)mx_db_col_int64(st, 2), "forwarded_count",
					      (json_int_t)mx_db_col_int64(st, 3), "is_verified",
					      mx_db_col_int64(st, 4) != 0, "session_data",
					      data ? data : json_object()));
		rc = mx_db_step(st);
	}
	if (rc < 0)
		return rc;
	/* a finished step has reset the statement */
	*rooms = out;
	return 0;
}

static int mx_store_kb_delete_keys_job(struct mx_db_conn *c, void *arg)
{
	struct mx_kb_keys_job *j = arg;
	int rc = mx_store_kb_exists(c, j->user_id, j->version);
	if (rc)
		return rc;
	rc = mx_db_run(c,
		       "DELETE FROM room_keys WHERE user_id = ? AND version = ? "
		       "AND (?3 IS NULL OR room_id = ?3) AND (?4 IS NULL OR session_id = ?4)",
		       "siss", j->user_id, j->version, j->room_id, j->session_id);
	if (!rc && mx_db_changes(c) > 0)
		rc = mx_db_run(c,
			       "UPDATE room_key_versions SET etag = etag + 1 "
			       "WHERE user_id = ? AND version = ?",
			       "si", j->user_id, j->version);
	if (!rc)
		rc = mx_store_kb_stats(c, j->user_id, j->version, &j->etag, &j->count);
	return rc;
}

int mx_store_room_keys_delete(struct mx_db *db, const char *user_id, int64_t version,
			      const char *room_id, const char *session_id, int64_t *etag,
			      int64_t *count)
{
	struct mx_kb_keys_job j = {.user_id = user_id, .version = version, .room_id = room_id,
				   .session_id = session_id};
	int rc = mx_db_write(db, mx_store_kb_delete_keys_job, &j);
	*etag = j.etag;
	*count = j.count;
	return rc;
}
