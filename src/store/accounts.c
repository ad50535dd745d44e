/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Accounts, devices and tokens. Tokens are random strings handed to the
 * client once; the database keeps only their SHA-256, so a leaked database
 * does not leak sessions.
 */
#include "store/accounts.h"

#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/rand.h"
#include "crypto/hash.h"
#include "db/db.h"
#include "store/e2ee.h"
#include "store/pushers.h"

/* ---- reads ---- */

int mx_store_token_lookup(struct mx_db_conn *c, struct mx_arena *a, const char *token_hash,
			  struct mx_token_info *out)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st,
			     "SELECT t.user_id, t.device_id, t.expires_ts, t.refresh_id, t.used,"
			     " u.is_guest, u.admin, u.deactivated, d.last_seen_ts"
			     " FROM access_tokens t JOIN users u ON u.user_id = t.user_id"
			     " LEFT JOIN devices d ON d.user_id = t.user_id AND d.device_id = t.device_id"
			     " WHERE t.token_hash = ?",
			     "s", token_hash);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_DONE)
		return MX_ENOTFOUND;
	out->user_id = mx_arena_strdup(a, mx_db_col_text(st, 0));
	out->device_id = mx_arena_strdup(a, mx_db_col_text(st, 1));
	out->expires_ts = mx_db_col_int64(st, 2);
	out->refresh_id = mx_db_col_int64(st, 3);
	out->used = mx_db_col_int64(st, 4) != 0;
	out->is_guest = mx_db_col_int64(st, 5) != 0;
	out->is_admin = mx_db_col_int64(st, 6) != 0;
	out->deactivated = mx_db_col_int64(st, 7) != 0;
	out->last_seen_ts = mx_db_col_int64(st, 8);
	mx_db_done(st);
	return 0;
}

int mx_store_user_get(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
		      struct mx_user *out)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st,
			     "SELECT user_id, password_hash, is_guest, admin, deactivated, created_ts"
			     " FROM users WHERE user_id = ?",
			     "s", user_id);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_DONE)
		return MX_ENOTFOUND;
	const char *ph = mx_db_col_text(st, 1);
	out->user_id = mx_arena_strdup(a, mx_db_col_text(st, 0));
	out->password_hash = ph ? mx_arena_strdup(a, ph) : NULL;
	out->is_guest = mx_db_col_int64(st, 2) != 0;
	out->is_admin = mx_db_col_int64(st, 3) != 0;
	out->deactivated = mx_db_col_int64(st, 4) != 0;
	out->created_ts = mx_db_col_int64(st, 5);
	mx_db_done(st);
	return 0;
}

bool mx_store_user_exists(struct mx_db_conn *c, const char *user_id)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st, "SELECT 1 FROM users WHERE user_id = ?", "s", user_id);
	if (rc == MX_DB_ROW)
		mx_db_done(st);
	return rc == MX_DB_ROW;
}

static void mx_store_read_device(struct mx_db_stmt *st, struct mx_arena *a, struct mx_device *d)
{
	const char *name = mx_db_col_text(st, 1), *ip = mx_db_col_text(st, 3);
	d->device_id = mx_arena_strdup(a, mx_db_col_text(st, 0));
	d->display_name = name ? mx_arena_strdup(a, name) : NULL;
	d->last_seen_ts = mx_db_col_int64(st, 2);
	d->last_seen_ip = ip ? mx_arena_strdup(a, ip) : NULL;
}

int mx_store_devices_list(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
			  struct mx_device **out, size_t *n)
{
	struct mx_db_stmt *st;
	int rc = mx_db_prepare(c,
			       "SELECT device_id, display_name, last_seen_ts, last_seen_ip"
			       " FROM devices WHERE user_id = ? ORDER BY device_id",
			       &st);
	if (rc)
		return rc;
	mx_db_bind_text(st, 1, user_id);
	size_t cap = 8, cnt = 0;
	struct mx_device *v = mx_arena_alloc(a, cap * sizeof(*v));
	while ((rc = mx_db_step(st)) == MX_DB_ROW) {
		if (cnt == cap) {
			struct mx_device *nv = mx_arena_alloc(a, cap * 2 * sizeof(*v));
			memcpy(nv, v, cap * sizeof(*v));
			v = nv;
			cap *= 2;
		}
		mx_store_read_device(st, a, &v[cnt++]);
	}
	if (rc < 0)
		return rc;
	*out = v;
	*n = cnt;
	return 0;
}

int mx_store_device_get(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
			const char *device_id, struct mx_device *out)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st,
			     "SELECT device_id, display_name, last_seen_ts, last_seen_ip"
			     " FROM devices WHERE user_id = ? AND device_id = ?",
			     "ss", user_id, device_id);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_DONE)
		return MX_ENOTFOUND;
	mx_store_read_device(st, a, out);
	mx_db_done(st);
	return 0;
}

/* ---- writes: each a job run on the writer thread ---- */

static int mx_store_put_tokens(struct mx_db_conn *c, const char *user_id, const char *device_id,
			       bool want_refresh, int64_t access_ms, int64_t refresh_ms,
			       int64_t prev_refresh_id, struct mx_session_tokens *t)
{
	int64_t now = mx_clock_now_ms();
	char hash[65];
	int64_t refresh_id = 0;
	memcpy(t->access_token, "mya_", 4);
	mx_rand_token(t->access_token + 4, 41);
	t->refresh_token[0] = '\0';
	t->expires_in_ms = 0;
	if (want_refresh) {
		memcpy(t->refresh_token, "myr_", 4);
		mx_rand_token(t->refresh_token + 4, 41);
		mx_hash_token(t->refresh_token, hash);
		int rc = mx_db_run(c,
				   "INSERT INTO refresh_tokens (token_hash, user_id, device_id,"
				   " created_ts, expires_ts, prev_id) VALUES (?, ?, ?, ?, ?, ?)",
				   "sssiii", hash, user_id, device_id, now,
				   refresh_ms ? now + refresh_ms : (int64_t)0, prev_refresh_id);
		if (rc)
			return rc;
		struct mx_db_stmt *st;
		rc = mx_db_query(c, &st, "SELECT id FROM refresh_tokens WHERE token_hash = ?", "s",
				 hash);
		if (rc != MX_DB_ROW)
			return rc < 0 ? rc : MX_EDB;
		refresh_id = mx_db_col_int64(st, 0);
		mx_db_done(st);
	}
	t->expires_in_ms = access_ms;
	int64_t expires = access_ms ? now + access_ms : 0;
	mx_hash_token(t->access_token, hash);
	return mx_db_run(c,
			 "INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts,"
			 " expires_ts, refresh_id, used) VALUES (?, ?, ?, ?, ?, ?, 0)",
			 "sssiii", hash, user_id, device_id, now, expires, refresh_id);
}

/* Revoke every token of one device (or of all devices if device_id is NULL). */
static int mx_store_revoke_device_tokens(struct mx_db_conn *c, const char *user_id,
					 const char *device_id)
{
	int rc;
	if (device_id) {
		rc = mx_db_run(c, "DELETE FROM access_tokens WHERE user_id = ? AND device_id = ?",
			       "ss", user_id, device_id);
		if (!rc)
			rc = mx_db_run(c,
				       "DELETE FROM refresh_tokens WHERE user_id = ? AND device_id = ?",
				       "ss", user_id, device_id);
		return rc;
	}
	rc = mx_db_run(c, "DELETE FROM access_tokens WHERE user_id = ?", "s", user_id);
	if (!rc)
		rc = mx_db_run(c, "DELETE FROM refresh_tokens WHERE user_id = ?", "s", user_id);
	return rc;
}

static int mx_store_ensure_device(struct mx_db_conn *c, const char *user_id,
				  const char *device_id, const char *display_name)
{
	return mx_db_run(c,
			 "INSERT INTO devices (user_id, device_id, display_name, created_ts)"
			 " VALUES (?, ?, ?, ?) ON CONFLICT (user_id, device_id) DO NOTHING",
			 "sssi", user_id, device_id, display_name, mx_clock_now_ms());
}

static int mx_store_audit(struct mx_db_conn *c, const char *actor, const char *action,
			  const char *target, const char *detail)
{
	return mx_db_run(c,
			 "INSERT INTO audit_log (ts, actor, action, target, detail)"
			 " VALUES (?, ?, ?, ?, ?)",
			 "issss", mx_clock_now_ms(), actor, action, target, detail);
}

struct mx_user_create_job {
	const struct mx_new_user *u;
	struct mx_session_tokens *tokens;
};

static int mx_store_user_create_job(struct mx_db_conn *c, void *arg)
{
	struct mx_user_create_job *j = arg;
	const struct mx_new_user *u = j->u;
	int rc = mx_db_run(c,
			   "INSERT INTO users (user_id, password_hash, created_ts, is_guest, admin,"
			   " displayname) VALUES (?, ?, ?, ?, ?, ?)",
			   "ssiiis", u->user_id, u->password_hash, mx_clock_now_ms(),
			   (int64_t)u->is_guest, (int64_t)u->is_admin, u->displayname);
	if (rc == MX_ECONFLICT)
		return MX_EUSERINUSE;
	if (rc)
		return rc;
	if (u->registration_token) {
		rc = mx_db_run(c,
			       "UPDATE registration_tokens SET completed = completed + 1,"
			       " pending = MAX(pending - 1, 0) WHERE token = ?",
			       "s", u->registration_token);
		if (rc)
			return rc;
	}
	if (u->audit_actor) {
		rc = mx_store_audit(c, u->audit_actor, "register_user", u->user_id,
				    u->is_admin ? "admin" : NULL);
		if (rc)
			return rc;
	}
	if (!u->device_id)
		return 0;
	rc = mx_store_ensure_device(c, u->user_id, u->device_id, u->device_display_name);
	if (!rc)
		rc = mx_store_put_tokens(c, u->user_id, u->device_id, u->want_refresh,
					 u->access_lifetime_ms, u->refresh_lifetime_ms, 0, j->tokens);
	return rc;
}

int mx_store_user_create(struct mx_db *db, const struct mx_new_user *u,
			 struct mx_session_tokens *tokens)
{
	struct mx_user_create_job j = {u, tokens};
	return mx_db_write(db, mx_store_user_create_job, &j);
}

struct mx_login_job {
	const struct mx_new_login *l;
	struct mx_session_tokens *tokens;
};

static int mx_store_login_job(struct mx_db_conn *c, void *arg)
{
	struct mx_login_job *j = arg;
	const struct mx_new_login *l = j->l;
	/* SPEC: client-server-api#relationship-between-access-tokens-and-devices:
	 * reusing a device id invalidates the tokens it had. */
	int rc = mx_store_revoke_device_tokens(c, l->user_id, l->device_id);
	if (!rc)
		rc = mx_store_ensure_device(c, l->user_id, l->device_id, l->device_display_name);
	if (!rc)
		rc = mx_store_put_tokens(c, l->user_id, l->device_id, l->want_refresh,
					 l->access_lifetime_ms, l->refresh_lifetime_ms, 0, j->tokens);
	return rc;
}

int mx_store_login(struct mx_db *db, const struct mx_new_login *l, struct mx_session_tokens *tokens)
{
	struct mx_login_job j = {l, tokens};
	return mx_db_write(db, mx_store_login_job, &j);
}

struct mx_refresh_job {
	struct mx_arena *a;
	const char *hash;
	int64_t access_ms, refresh_ms;
	struct mx_session_tokens *tokens;
};

static int mx_store_refresh_job(struct mx_db_conn *c, void *arg)
{
	struct mx_refresh_job *j = arg;
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st,
			     "SELECT id, user_id, device_id, expires_ts, prev_id FROM refresh_tokens"
			     " WHERE token_hash = ?",
			     "s", j->hash);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_DONE)
		return MX_ETOKENINCORRECT;
	int64_t id = mx_db_col_int64(st, 0), expires = mx_db_col_int64(st, 3);
	int64_t prev = mx_db_col_int64(st, 4);
	char *user = mx_arena_strdup(j->a, mx_db_col_text(st, 1));
	char *device = mx_arena_strdup(j->a, mx_db_col_text(st, 2));
	mx_db_done(st);
	if (expires && expires <= mx_clock_now_ms())
		return MX_ETOKENINCORRECT;
	/* Using this token retires the one it replaced, and that one's access token. */
	if (prev) {
		rc = mx_db_run(c, "DELETE FROM access_tokens WHERE refresh_id = ?", "i", prev);
		if (!rc)
			rc = mx_db_run(c, "DELETE FROM refresh_tokens WHERE id = ?", "i", prev);
		if (!rc)
			rc = mx_db_run(c, "UPDATE refresh_tokens SET prev_id = 0 WHERE id = ?", "i", id);
		if (rc)
			return rc;
	}
	/* Refreshing the same token again (the client lost the answer) replaces
	 * the successor it got last time, as Synapse does; otherwise every retry
	 * would leave one more valid refresh token behind. Matching on
	 * (user, device) narrows the search to that device's index. */
	rc = mx_db_run(c,
		       "DELETE FROM access_tokens WHERE user_id = ? AND device_id = ? AND refresh_id IN"
		       " (SELECT id FROM refresh_tokens WHERE user_id = ? AND device_id = ?"
		       " AND prev_id = ?)",
		       "ssssi", user, device, user, device, id);
	if (!rc)
		rc = mx_db_run(c,
			       "DELETE FROM refresh_tokens WHERE user_id = ? AND device_id = ?"
			       " AND prev_id = ?",
			       "ssi", user, device, id);
	if (rc)
		return rc;
	return mx_store_put_tokens(c, user, device, true, j->access_ms, j->refresh_ms, id,
				   j->tokens);
}

int mx_store_refresh(struct mx_db *db, struct mx_arena *a, const char *refresh_token,
		     int64_t access_lifetime_ms, int64_t refresh_lifetime_ms,
		     struct mx_session_tokens *tokens)
{
	char hash[65];
	if (mx_hash_token(refresh_token, hash))
		return MX_ETOKENINCORRECT;
	struct mx_refresh_job j = {a, hash, access_lifetime_ms, refresh_lifetime_ms, tokens};
	return mx_db_write(db, mx_store_refresh_job, &j);
}

struct mx_first_use_job {
	const char *hash;
	int64_t refresh_id;
};

static int mx_store_first_use_job(struct mx_db_conn *c, void *arg)
{
	struct mx_first_use_job *j = arg;
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st, "SELECT prev_id FROM refresh_tokens WHERE id = ?", "i",
			     j->refresh_id);
	if (rc < 0)
		return rc;
	int64_t prev = 0;
	if (rc == MX_DB_ROW) {
		prev = mx_db_col_int64(st, 0);
		mx_db_done(st);
	}
	if (prev) {
		rc = mx_db_run(c, "DELETE FROM access_tokens WHERE refresh_id = ?", "i", prev);
		if (!rc)
			rc = mx_db_run(c, "DELETE FROM refresh_tokens WHERE id = ?", "i", prev);
		if (!rc)
			rc = mx_db_run(c, "UPDATE refresh_tokens SET prev_id = 0 WHERE id = ?", "i",
				       j->refresh_id);
		if (rc)
			return rc;
	}
	return mx_db_run(c, "UPDATE access_tokens SET used = 1 WHERE token_hash = ?", "s", j->hash);
}

int mx_store_token_first_use(struct mx_db *db, const char *token_hash, int64_t refresh_id)
{
	struct mx_first_use_job j = {token_hash, refresh_id};
	return mx_db_write(db, mx_store_first_use_job, &j);
}

struct mx_logout_job {
	const char *token_hash;
	const char *user_id;
};

static int mx_store_logout_job(struct mx_db_conn *c, void *arg)
{
	struct mx_logout_job *j = arg;
	if (j->user_id) {
		/* SPEC: logout/all: every token and every device. */
		int rc = mx_store_revoke_device_tokens(c, j->user_id, NULL);
		if (!rc)
			rc = mx_db_run(c, "DELETE FROM devices WHERE user_id = ?", "s", j->user_id);
		if (!rc)
			rc = mx__store_e2ee_user_devices_gone(c, j->user_id, NULL);
		if (!rc)
			rc = mx__store_pushers_device_gone(c, j->user_id, NULL, NULL);
		return rc;
	}
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st, "SELECT user_id, device_id FROM access_tokens WHERE token_hash = ?",
			     "s", j->token_hash);
	if (rc != MX_DB_ROW)
		return rc < 0 ? rc : 0;
	char user[512], device[512];
	snprintf(user, sizeof(user), "%s", mx_db_col_text(st, 0));
	snprintf(device, sizeof(device), "%s", mx_db_col_text(st, 1));
	mx_db_done(st);
	/* SPEC: logout invalidates the token and deletes its device. */
	rc = mx_store_revoke_device_tokens(c, user, device);
	if (!rc)
		rc = mx_db_run(c, "DELETE FROM devices WHERE user_id = ? AND device_id = ?", "ss",
			       user, device);
	if (!rc)
		rc = mx__store_e2ee_device_gone(c, user, device);
	/* Its pushers go with it (as Synapse's do on logout). */
	if (!rc)
		rc = mx__store_pushers_device_gone(c, user, device, NULL);
	return rc;
}

int mx_store_logout(struct mx_db *db, const char *token_hash)
{
	struct mx_logout_job j = {token_hash, NULL};
	return mx_db_write(db, mx_store_logout_job, &j);
}

int mx_store_logout_all(struct mx_db *db, const char *user_id)
{
	struct mx_logout_job j = {NULL, user_id};
	return mx_db_write(db, mx_store_logout_job, &j);
}

struct mx_device_name_job {
	const char *user_id, *device_id, *name;
};

static int mx_store_device_name_job(struct mx_db_conn *c, void *arg)
{
	struct mx_device_name_job *j = arg;
	int rc = mx_db_run(c, "UPDATE devices SET display_name = ? WHERE user_id = ? AND device_id = ?",
			   "sss", j->name, j->user_id, j->device_id);
	if (rc)
		return rc;
	return mx_db_changes(c) ? 0 : MX_ENOTFOUND;
}

int mx_store_device_set_name(struct mx_db *db, const char *user_id, const char *device_id,
			     const char *name)
{
	struct mx_device_name_job j = {user_id, device_id, name};
	return mx_db_write(db, mx_store_device_name_job, &j);
}

struct mx_devices_delete_job {
	const char *user_id;
	const char *const *ids;
	size_t n;
};

static int mx_store_devices_delete_job(struct mx_db_conn *c, void *arg)
{
	struct mx_devices_delete_job *j = arg;
	for (size_t i = 0; i < j->n; i++) {
		int rc = mx_store_revoke_device_tokens(c, j->user_id, j->ids[i]);
		if (!rc)
			rc = mx_db_run(c, "DELETE FROM devices WHERE user_id = ? AND device_id = ?",
				       "ss", j->user_id, j->ids[i]);
		/* Its keys and inbox go with it: a device-list change. */
		if (!rc)
			rc = mx__store_e2ee_device_gone(c, j->user_id, j->ids[i]);
		if (!rc)
			rc = mx__store_pushers_device_gone(c, j->user_id, j->ids[i], NULL);
		if (rc)
			return rc;
	}
	return 0;
}

int mx_store_devices_delete(struct mx_db *db, const char *user_id, const char *const *device_ids,
			    size_t n)
{
	struct mx_devices_delete_job j = {user_id, device_ids, n};
	return mx_db_write(db, mx_store_devices_delete_job, &j);
}

struct mx_touch_job {
	const char *user_id, *device_id, *ip;
	int64_t now;
};

static int mx_store_touch_job(struct mx_db_conn *c, void *arg)
{
	struct mx_touch_job *j = arg;
	return mx_db_run(c,
			 "UPDATE devices SET last_seen_ts = ?, last_seen_ip = ?"
			 " WHERE user_id = ? AND device_id = ?",
			 "isss", j->now, j->ip, j->user_id, j->device_id);
}

int mx_store_device_touch(struct mx_db *db, const char *user_id, const char *device_id,
			  const char *ip, int64_t now_ms)
{
	struct mx_touch_job j = {user_id, device_id, ip, now_ms};
	return mx_db_write(db, mx_store_touch_job, &j);
}

struct mx_password_job {
	const char *user_id, *hash, *keep;
	bool logout;
};

static int mx_store_password_job(struct mx_db_conn *c, void *arg)
{
	struct mx_password_job *j = arg;
	int rc = mx_db_run(c, "UPDATE users SET password_hash = ? WHERE user_id = ?", "ss", j->hash,
			   j->user_id);
	if (rc || !j->logout)
		return rc;
	const char *keep = j->keep ? j->keep : "";
	rc = mx_db_run(c, "DELETE FROM access_tokens WHERE user_id = ? AND device_id != ?", "ss",
		       j->user_id, keep);
	if (!rc)
		rc = mx_db_run(c, "DELETE FROM refresh_tokens WHERE user_id = ? AND device_id != ?",
			       "ss", j->user_id, keep);
	if (!rc)
		rc = mx_db_run(c, "DELETE FROM devices WHERE user_id = ? AND device_id != ?", "ss",
			       j->user_id, keep);
	/* The deleted devices' keys and inboxes go with them (as in devices_delete). */
	if (!rc)
		rc = mx__store_e2ee_user_devices_gone(c, j->user_id, keep);
	if (!rc)
		rc = mx__store_pushers_device_gone(c, j->user_id, NULL, keep);
	return rc;
}

int mx_store_set_password(struct mx_db *db, const char *user_id, const char *password_hash,
			  bool logout_devices, const char *keep_device)
{
	struct mx_password_job j = {user_id, password_hash, keep_device, logout_devices};
	return mx_db_write(db, mx_store_password_job, &j);
}

struct mx_deactivate_job {
	const char *user_id, *actor;
};

static int mx_store_deactivate_job(struct mx_db_conn *c, void *arg)
{
	struct mx_deactivate_job *j = arg;
	int rc = mx_db_run(c,
			   "UPDATE users SET deactivated = 1, password_hash = NULL,"
			   " displayname = NULL, avatar_url = NULL WHERE user_id = ?",
			   "s", j->user_id);
	if (!rc)
		rc = mx_store_revoke_device_tokens(c, j->user_id, NULL);
	if (!rc)
		rc = mx_db_run(c, "DELETE FROM devices WHERE user_id = ?", "s", j->user_id);
	if (!rc)
		rc = mx__store_e2ee_user_devices_gone(c, j->user_id, NULL);
	if (!rc)
		rc = mx__store_pushers_device_gone(c, j->user_id, NULL, NULL);
	if (!rc)
		rc = mx_db_run(c, "DELETE FROM profile_fields WHERE user_id = ?", "s", j->user_id);
	if (!rc && j->actor && strcmp(j->actor, j->user_id) != 0)
		rc = mx_store_audit(c, j->actor, "deactivate_user", j->user_id, NULL);
	return rc;
}

int mx_store_deactivate(struct mx_db *db, const char *user_id, const char *actor)
{
	struct mx_deactivate_job j = {user_id, actor};
	return mx_db_write(db, mx_store_deactivate_job, &j);
}
