/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Profiles. Two hot fields in the users row, the rest in profile_fields;
 * writes rebuild the whole profile inside the write job to enforce the
 * 64 KiB limit atomically.
 */
#include "store/profile.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/canonjson.h"
#include "core/error.h"
#include "db/db.h"

static bool mx_profile_is_displayname(const char *key)
{
	return !strcmp(key, "displayname");
}

static bool mx_profile_is_avatar(const char *key)
{
	return !strcmp(key, "avatar_url");
}

/* 0 if user_id is a local, active account; MX_ENOTFOUND otherwise. */
static int mx_profile_user_active(struct mx_db_conn *c, const char *user_id)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st, "SELECT deactivated FROM users WHERE user_id = ?", "s", user_id);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_DONE)
		return MX_ENOTFOUND;
	bool deactivated = mx_db_col_int64(st, 0) != 0;
	mx_db_done(st);
	return deactivated ? MX_ENOTFOUND : 0;
}

/* Fill obj with the stored profile of user_id. 0, MX_ENOTFOUND or a db error. */
static int mx_profile_load(struct mx_db_conn *c, const char *user_id, json_t *obj)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st,
			     "SELECT displayname, avatar_url, deactivated FROM users WHERE user_id = ?",
			     "s", user_id);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_DONE)
		return MX_ENOTFOUND;
	if (mx_db_col_int64(st, 2)) {
		mx_db_done(st);
		return MX_ENOTFOUND;
	}
	const char *dn = mx_db_col_text(st, 0), *av = mx_db_col_text(st, 1);
	if (dn)
		json_object_set_new(obj, "displayname", json_string(dn));
	if (av)
		json_object_set_new(obj, "avatar_url", json_string(av));
	mx_db_done(st);

	rc = mx_db_prepare(c, "SELECT field, value FROM profile_fields WHERE user_id = ?", &st);
	if (rc)
		return rc;
	mx_db_bind_text(st, 1, user_id);
	while ((rc = mx_db_step(st)) == MX_DB_ROW) {
		json_t *v = json_loads(mx_db_col_text(st, 1), JSON_DECODE_ANY, NULL);
		if (!v) {
			mx_db_done(st);
			return MX_EDB;
		}
		json_object_set_new(obj, mx_db_col_text(st, 0), v);
	}
	mx_db_done(st);
	return rc < 0 ? rc : 0;
}

int mx_store_profile_get(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
			 json_t **out)
{
	json_t *obj = mx_arena_json(a, json_object());
	int rc = mx_profile_load(c, user_id, obj);
	*out = rc ? NULL : obj;
	return rc;
}

int mx_store_profile_get_field(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
			       const char *key, json_t **out)
{
	struct mx_db_stmt *st;
	int rc;
	*out = NULL;
	/* The SQL differs per column because statements are cached by address. */
	if (mx_profile_is_displayname(key))
		rc = mx_db_query(c, &st, "SELECT deactivated, displayname FROM users WHERE user_id = ?",
				 "s", user_id);
	else if (mx_profile_is_avatar(key))
		rc = mx_db_query(c, &st, "SELECT deactivated, avatar_url FROM users WHERE user_id = ?",
				 "s", user_id);
	else
		rc = mx_db_query(c, &st,
				 "SELECT u.deactivated, f.value FROM users u"
				 " LEFT JOIN profile_fields f ON f.user_id = u.user_id AND f.field = ?"
				 " WHERE u.user_id = ?",
				 "ss", key, user_id);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_DONE)
		return MX_ENOTFOUND;
	const char *text = mx_db_col_text(st, 1);
	if (mx_db_col_int64(st, 0) || !text) {
		mx_db_done(st);
		return MX_ENOTFOUND;
	}
	json_t *v = (mx_profile_is_displayname(key) || mx_profile_is_avatar(key))
			    ? json_string(text)
			    : json_loads(text, JSON_DECODE_ANY, NULL);
	mx_db_done(st);
	if (!v)
		return MX_EDB;
	*out = mx_arena_json(a, v);
	return 0;
}

struct mx_profile_job {
	const char *user_id;
	const char *key;
	const json_t *value; /* NULL: delete the field */
};

/* The profile as it would be after the change must fit the limit. */
static int mx_profile_check_size(struct mx_db_conn *c, const struct mx_profile_job *j)
{
	json_t *obj = json_object();
	int rc = mx_profile_load(c, j->user_id, obj);
	if (rc)
		goto out;
	if (json_is_null(j->value) && (mx_profile_is_displayname(j->key) || mx_profile_is_avatar(j->key)))
		json_object_del(obj, j->key);
	else
		json_object_set_new(obj, j->key, json_deep_copy(j->value));
	struct mx_buf b;
	mx_buf_init(&b, MX_PROFILE_MAX_BYTES);
	rc = mx_canonjson_encode(obj, &b);
	mx_buf_release(&b);
	if (rc == MX_ETOOLARGE)
		rc = MX_EPROFILETOOLARGE;
out:
	json_decref(obj);
	return rc;
}

static int mx_store_profile_job(struct mx_db_conn *c, void *arg)
{
	struct mx_profile_job *j = arg;
	bool dn = mx_profile_is_displayname(j->key), av = mx_profile_is_avatar(j->key);
	int rc;
	if (!j->value) {
		rc = mx_profile_user_active(c, j->user_id);
		if (rc)
			return rc;
		if (dn)
			return mx_db_run(c, "UPDATE users SET displayname = NULL WHERE user_id = ?", "s",
					 j->user_id);
		if (av)
			return mx_db_run(c, "UPDATE users SET avatar_url = NULL WHERE user_id = ?", "s",
					 j->user_id);
		return mx_db_run(c, "DELETE FROM profile_fields WHERE user_id = ? AND field = ?", "ss",
				 j->user_id, j->key);
	}
	rc = mx_profile_check_size(c, j);
	if (rc)
		return rc;
	if (dn || av) {
		const char *s = json_string_value(j->value); /* NULL for JSON null: clear */
		if (dn)
			return mx_db_run(c, "UPDATE users SET displayname = ? WHERE user_id = ?", "ss", s,
					 j->user_id);
		return mx_db_run(c, "UPDATE users SET avatar_url = ? WHERE user_id = ?", "ss", s,
				 j->user_id);
	}
	int err = 0;
	char *text = mx_canonjson_dumps(j->value, MX_PROFILE_MAX_BYTES, &err);
	if (!text)
		return err ? err : MX_EBADJSON;
	rc = mx_db_run(c,
		       "INSERT INTO profile_fields (user_id, field, value) VALUES (?, ?, ?)"
		       " ON CONFLICT (user_id, field) DO UPDATE SET value = excluded.value",
		       "sss", j->user_id, j->key, text);
	free(text);
	return rc;
}

int mx_store_profile_set(struct mx_db *db, const char *user_id, const char *key,
			 const json_t *value)
{
	if (!value)
		return MX_EINVALID;
	if ((mx_profile_is_displayname(key) || mx_profile_is_avatar(key)) && !json_is_string(value) &&
	    !json_is_null(value))
		return MX_EBADJSON;
	struct mx_profile_job j = {user_id, key, value};
	return mx_db_write(db, mx_store_profile_job, &j);
}

int mx_store_profile_delete(struct mx_db *db, const char *user_id, const char *key)
{
	struct mx_profile_job j = {user_id, key, NULL};
	return mx_db_write(db, mx_store_profile_job, &j);
}
