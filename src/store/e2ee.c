/* SPDX-License-Identifier: Apache-2.0 */
/*
 * End-to-end encryption storage (store/e2ee.h). Claims select and delete in
 * one write job: the single writer thread serialises them, so a one-time
 * key is handed out exactly once however many claims race for it.
 */
#include "store/e2ee.h"

#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/error.h"
#include "db/db.h"
#include "store/federation.h"

/* Advance a stream by one inside the caller's write job. */
static int mx_e2ee_stream_next(struct mx_db_conn *c, const char *stream, int64_t *pos)
{
	int rc = mx_db_run(c,
			   "INSERT INTO stream_positions (stream, position) VALUES (?, 1)"
			   " ON CONFLICT (stream) DO UPDATE SET position = position + 1",
			   "s", stream);
	if (rc)
		return rc;
	struct mx_db_stmt *st;
	rc = mx_db_query(c, &st, "SELECT position FROM stream_positions WHERE stream = ?", "s", stream);
	if (rc != MX_DB_ROW)
		return rc < 0 ? rc : MX_EDB;
	*pos = mx_db_col_int64(st, 0);
	mx_db_done(st);
	return 0;
}

static int mx_e2ee_list_change(struct mx_db_conn *c, const char *user_id)
{
	int64_t pos;
	int rc = mx_e2ee_stream_next(c, MX_STREAM_DEVICE_LISTS, &pos);
	if (!rc)
		rc = mx_db_run(c, "INSERT INTO device_list_changes (stream_id, user_id) VALUES (?, ?)",
			       "is", pos, user_id);
	return rc;
}

/* ---- upload ---- */

static int mx_e2ee_upload_job(struct mx_db_conn *c, void *arg)
{
	struct mx_e2ee_upload *u = arg;
	struct mx_db_stmt *st;
	int rc;
	u->keys_changed = false;
	if (u->device_keys) {
		rc = mx_db_query(c, &st,
				 "SELECT key_json FROM e2e_device_keys WHERE user_id = ? AND device_id = ?",
				 "ss", u->user_id, u->device_id);
		if (rc < 0)
			return rc;
		bool same = rc == MX_DB_ROW && !strcmp(mx_db_col_text(st, 0), u->device_keys);
		if (rc == MX_DB_ROW)
			mx_db_done(st);
		if (!same) {
			rc = mx_db_run(c,
				       "INSERT INTO e2e_device_keys (user_id, device_id, key_json) VALUES (?, ?, ?)"
				       " ON CONFLICT (user_id, device_id) DO UPDATE SET key_json = excluded.key_json",
				       "sss", u->user_id, u->device_id, u->device_keys);
			if (!rc)
				rc = mx_e2ee_list_change(c, u->user_id);
			if (rc)
				return rc;
			u->keys_changed = true;
		}
	}
	for (size_t i = 0; i < u->n_otks; i++) {
		const struct mx_e2ee_key *k = &u->otks[i];
		rc = mx_db_query(c, &st,
				 "SELECT key_json FROM e2e_one_time_keys WHERE user_id = ? AND device_id = ?"
				 " AND algorithm = ? AND key_id = ?",
				 "ssss", u->user_id, u->device_id, k->algorithm, k->key_id);
		if (rc < 0)
			return rc;
		if (rc == MX_DB_ROW) {
			bool same = !strcmp(mx_db_col_text(st, 0), k->key_json);
			mx_db_done(st);
			if (same)
				continue; /* a retried upload */
			snprintf(u->conflict, sizeof(u->conflict), "%s:%s", k->algorithm, k->key_id);
			return MX_EINVALIDPARAM;
		}
		rc = mx_db_run(c,
			       "INSERT INTO e2e_one_time_keys (user_id, device_id, algorithm, key_id, key_json)"
			       " VALUES (?, ?, ?, ?, ?)",
			       "sssss", u->user_id, u->device_id, k->algorithm, k->key_id, k->key_json);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < u->n_fallbacks; i++) {
		const struct mx_e2ee_key *k = &u->fallbacks[i];
		/* The same key again keeps its used flag; a new one is unused. */
		rc = mx_db_run(c,
			       "INSERT INTO e2e_fallback_keys (user_id, device_id, algorithm, key_id, key_json, used)"
			       " VALUES (?, ?, ?, ?, ?, 0) ON CONFLICT (user_id, device_id, algorithm) DO UPDATE"
			       " SET used = CASE WHEN key_id = excluded.key_id AND key_json = excluded.key_json"
			       " THEN used ELSE 0 END, key_id = excluded.key_id, key_json = excluded.key_json",
			       "sssss", u->user_id, u->device_id, k->algorithm, k->key_id, k->key_json);
		if (rc)
			return rc;
	}
	return 0;
}

int mx_store_e2ee_upload(struct mx_db *db, struct mx_e2ee_upload *u)
{
	u->conflict[0] = '\0';
	return mx_db_write(db, mx_e2ee_upload_job, u);
}

int mx_store_e2ee_device_keys_get(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
				  const char *device_id, const char **json)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st, "SELECT key_json FROM e2e_device_keys WHERE user_id = ? AND device_id = ?",
			     "ss", user_id, device_id);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_DONE)
		return MX_ENOTFOUND;
	*json = mx_arena_strdup(a, mx_db_col_text(st, 0));
	mx_db_done(st);
	return 0;
}

json_t *mx_store_e2ee_otk_counts(struct mx_db_conn *c, const char *user_id, const char *device_id)
{
	json_t *o = json_object();
	struct mx_db_stmt *st;
	if (mx_db_prepare(c,
			  "SELECT algorithm, COUNT(*) FROM e2e_one_time_keys WHERE user_id = ? AND device_id = ?"
			  " GROUP BY algorithm",
			  &st))
		return o;
	mx_db_bind_text(st, 1, user_id);
	mx_db_bind_text(st, 2, device_id);
	while (mx_db_step(st) == MX_DB_ROW)
		json_object_set_new(o, mx_db_col_text(st, 0), json_integer(mx_db_col_int64(st, 1)));
	mx_db_done(st);
	/* As Synapse: clients read signed_curve25519 even when it is 0. */
	if (!json_object_get(o, "signed_curve25519"))
		json_object_set_new(o, "signed_curve25519", json_integer(0));
	return o;
}

json_t *mx_store_e2ee_fallback_unused(struct mx_db_conn *c, const char *user_id, const char *device_id)
{
	json_t *arr = json_array();
	struct mx_db_stmt *st;
	if (mx_db_prepare(c,
			  "SELECT algorithm FROM e2e_fallback_keys WHERE user_id = ? AND device_id = ?"
			  " AND used = 0 ORDER BY algorithm",
			  &st))
		return arr;
	mx_db_bind_text(st, 1, user_id);
	mx_db_bind_text(st, 2, device_id);
	while (mx_db_step(st) == MX_DB_ROW)
		json_array_append_new(arr, json_string(mx_db_col_text(st, 0)));
	mx_db_done(st);
	return arr;
}

int mx_store_e2ee_devices(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
			  const char *device_id, struct mx_e2ee_device **out, size_t *n)
{
	struct mx_db_stmt *st;
	*out = NULL;
	*n = 0;
	int rc = mx_db_prepare(c,
			       "SELECT k.device_id, k.key_json, d.display_name FROM e2e_device_keys k"
			       " LEFT JOIN devices d ON d.user_id = k.user_id AND d.device_id = k.device_id"
			       " WHERE k.user_id = ?1 AND (?2 IS NULL OR k.device_id = ?2) ORDER BY k.device_id",
			       &st);
	if (rc)
		return rc;
	mx_db_bind_text(st, 1, user_id);
	mx_db_bind_text(st, 2, device_id);
	size_t cap = 0;
	while ((rc = mx_db_step(st)) == MX_DB_ROW) {
		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			struct mx_e2ee_device *nv = mx_arena_alloc(a, nc * sizeof(*nv));
			if (*n)
				memcpy(nv, *out, *n * sizeof(*nv));
			*out = nv;
			cap = nc;
		}
		struct mx_e2ee_device *d = &(*out)[(*n)++];
		d->device_id = mx_arena_strdup(a, mx_db_col_text(st, 0));
		d->key_json = mx_arena_strdup(a, mx_db_col_text(st, 1));
		d->display_name = mx_db_col_is_null(st, 2) ? NULL : mx_arena_strdup(a, mx_db_col_text(st, 2));
	}
	mx_db_done(st);
	return rc < 0 ? rc : 0;
}

/* ---- claim ---- */

struct mx_claim_job {
	struct mx_arena *a;
	struct mx_e2ee_claim *claims;
	size_t n;
};

static int mx_e2ee_claim_one(struct mx_db_conn *c, struct mx_arena *a, struct mx_e2ee_claim *cl)
{
	struct mx_db_stmt *st;
	cl->key_id = cl->key_json = NULL;
	int rc = mx_db_query(c, &st,
			     "SELECT id, key_id, key_json FROM e2e_one_time_keys WHERE user_id = ?"
			     " AND device_id = ? AND algorithm = ? ORDER BY id LIMIT 1",
			     "sss", cl->user_id, cl->device_id, cl->algorithm);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_ROW) {
		int64_t id = mx_db_col_int64(st, 0);
		cl->key_id = mx_arena_strdup(a, mx_db_col_text(st, 1));
		cl->key_json = mx_arena_strdup(a, mx_db_col_text(st, 2));
		mx_db_done(st);
		return mx_db_run(c, "DELETE FROM e2e_one_time_keys WHERE id = ?", "i", id);
	}
	/* SPEC: client-server-api#post_matrixclientv3keysclaim: the fallback key
	 * when no one-time key is left, marked used (it stays claimable). */
	rc = mx_db_query(c, &st,
			 "SELECT key_id, key_json FROM e2e_fallback_keys WHERE user_id = ? AND device_id = ?"
			 " AND algorithm = ?",
			 "sss", cl->user_id, cl->device_id, cl->algorithm);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_DONE)
		return 0;
	cl->key_id = mx_arena_strdup(a, mx_db_col_text(st, 0));
	cl->key_json = mx_arena_strdup(a, mx_db_col_text(st, 1));
	mx_db_done(st);
	return mx_db_run(c,
			 "UPDATE e2e_fallback_keys SET used = 1 WHERE user_id = ? AND device_id = ? AND algorithm = ?",
			 "sss", cl->user_id, cl->device_id, cl->algorithm);
}

static int mx_e2ee_claim_job(struct mx_db_conn *c, void *arg)
{
	struct mx_claim_job *j = arg;
	for (size_t i = 0; i < j->n; i++) {
		int rc = mx_e2ee_claim_one(c, j->a, &j->claims[i]);
		if (rc)
			return rc;
	}
	return 0;
}

int mx_store_e2ee_claim(struct mx_db *db, struct mx_arena *a, struct mx_e2ee_claim *claims, size_t n)
{
	struct mx_claim_job j = {a, claims, n};
	return n ? mx_db_write(db, mx_e2ee_claim_job, &j) : 0;
}

/* ---- devices going away ---- */

int mx__store_e2ee_device_gone(struct mx_db_conn *c, const char *user_id, const char *device_id)
{
	static const char *const sql[] = {
		"DELETE FROM e2e_device_keys WHERE user_id = ? AND device_id = ?",
		"DELETE FROM e2e_one_time_keys WHERE user_id = ? AND device_id = ?",
		"DELETE FROM e2e_fallback_keys WHERE user_id = ? AND device_id = ?",
		"DELETE FROM to_device_inbox WHERE user_id = ? AND device_id = ?",
		"DELETE FROM to_device_txns WHERE user_id = ? AND device_id = ?",
	};
	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		int rc = mx_db_run(c, sql[i], "ss", user_id, device_id);
		if (rc)
			return rc;
	}
	return mx_e2ee_list_change(c, user_id);
}

int mx__store_e2ee_user_devices_gone(struct mx_db_conn *c, const char *user_id, const char *keep)
{
	/* Device IDs are never empty, so "" keeps none. */
	static const char *const sql[] = {
		"DELETE FROM e2e_device_keys WHERE user_id = ? AND device_id != ?",
		"DELETE FROM e2e_one_time_keys WHERE user_id = ? AND device_id != ?",
		"DELETE FROM e2e_fallback_keys WHERE user_id = ? AND device_id != ?",
		"DELETE FROM to_device_inbox WHERE user_id = ? AND device_id != ?",
		"DELETE FROM to_device_txns WHERE user_id = ? AND device_id != ?",
	};
	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		int rc = mx_db_run(c, sql[i], "ss", user_id, keep ? keep : "");
		if (rc)
			return rc;
	}
	return mx_e2ee_list_change(c, user_id);
}

/* ---- device-list queries ---- */

static int mx_e2ee_collect(struct mx_db_stmt *st, struct mx_arena *a, const char ***users, size_t *n)
{
	size_t cap = 0;
	int rc;
	*users = NULL;
	*n = 0;
	while ((rc = mx_db_step(st)) == MX_DB_ROW) {
		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			const char **nv = mx_arena_alloc(a, nc * sizeof(*nv));
			if (*n)
				memcpy(nv, *users, *n * sizeof(*nv));
			*users = nv;
			cap = nc;
		}
		(*users)[(*n)++] = mx_arena_strdup(a, mx_db_col_text(st, 0));
	}
	mx_db_done(st);
	return rc < 0 ? rc : 0;
}

int mx_store_e2ee_list_position(struct mx_db_conn *c, const char *user_id, int64_t *pos)
{
	struct mx_db_stmt *st;
	*pos = 0;
	int rc = mx_db_query(c, &st, "SELECT max(stream_id) FROM device_list_changes WHERE user_id = ?",
			     "s", user_id);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_ROW) {
		if (!mx_db_col_is_null(st, 0))
			*pos = mx_db_col_int64(st, 0);
		mx_db_done(st);
	}
	return 0;
}

int mx_store_e2ee_changed_users(struct mx_db_conn *c, struct mx_arena *a, int64_t from, int64_t to,
				const char ***users, size_t *n)
{
	struct mx_db_stmt *st;
	int rc = mx_db_prepare(c,
			       "SELECT DISTINCT user_id FROM device_list_changes WHERE stream_id > ? AND stream_id <= ?",
			       &st);
	if (rc)
		return rc;
	mx_db_bind_int64(st, 1, from);
	mx_db_bind_int64(st, 2, to);
	return mx_e2ee_collect(st, a, users, n);
}

static int mx_e2ee_user_query(struct mx_db_conn *c, struct mx_arena *a, const char *sql,
			      const char *user_id, int64_t from, int64_t to, const char ***users, size_t *n)
{
	struct mx_db_stmt *st;
	int rc = mx_db_prepare(c, sql, &st);
	if (rc)
		return rc;
	mx_db_bind_text(st, 1, user_id);
	mx_db_bind_int64(st, 2, from);
	mx_db_bind_int64(st, 3, to);
	return mx_e2ee_collect(st, a, users, n);
}

int mx_store_e2ee_newly_shared(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
			       int64_t from, int64_t to, const char ***users, size_t *n)
{
	return mx_e2ee_user_query(
		c, a,
		"SELECT cs.state_key FROM membership_changes mc JOIN current_state cs"
		" ON cs.room_id = mc.room_id AND cs.type = 'm.room.member' AND cs.membership = 'join'"
		" WHERE mc.user_id = ?1 AND mc.nid > ?2 AND mc.nid <= ?3 AND mc.membership = 'join'"
		" UNION SELECT mc.user_id FROM membership_changes mc JOIN current_state cs"
		" ON cs.room_id = mc.room_id AND cs.type = 'm.room.member' AND cs.state_key = ?1"
		" AND cs.membership = 'join'"
		" WHERE mc.nid > ?2 AND mc.nid <= ?3 AND mc.membership = 'join'",
		user_id, from, to, users, n);
}

int mx_store_e2ee_left_candidates(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
				  int64_t from, int64_t to, const char ***users, size_t *n)
{
	return mx_e2ee_user_query(
		c, a,
		"SELECT cs.state_key FROM membership_changes mc JOIN current_state cs"
		" ON cs.room_id = mc.room_id AND cs.type = 'm.room.member' AND cs.membership = 'join'"
		" WHERE mc.user_id = ?1 AND mc.nid > ?2 AND mc.nid <= ?3 AND mc.membership IN ('leave', 'ban')"
		" UNION SELECT mc.user_id FROM membership_changes mc"
		" WHERE mc.nid > ?2 AND mc.nid <= ?3 AND mc.membership IN ('leave', 'ban')"
		" AND mc.room_id IN (SELECT room_id FROM membership_changes WHERE user_id = ?1)",
		user_id, from, to, users, n);
}

/* ---- to-device ---- */

int mx__store_to_device_deliver(struct mx_db_conn *c, const char *sender, const char *type,
				const struct mx_to_device_msg *msgs, size_t n, int64_t max_pending,
				size_t *skipped)
{
	for (size_t i = 0; i < n; i++) {
		const struct mx_to_device_msg *m = &msgs[i];
		struct mx_db_stmt *st;
		int rc = mx_db_query(c, &st,
				     "SELECT COUNT(*) FROM to_device_inbox WHERE user_id = ? AND device_id = ?",
				     "ss", m->user_id, m->device_id);
		if (rc != MX_DB_ROW)
			return rc < 0 ? rc : MX_EDB;
		int64_t pending = mx_db_col_int64(st, 0);
		mx_db_done(st);
		if (pending >= max_pending) {
			if (!skipped)
				return MX_ELIMIT;
			(*skipped)++;
			continue;
		}
		int64_t pos;
		rc = mx_e2ee_stream_next(c, MX_STREAM_TO_DEVICE, &pos);
		if (!rc)
			rc = mx_db_run(c,
				       "INSERT INTO to_device_inbox (stream_id, user_id, device_id, sender, type, content)"
				       " VALUES (?, ?, ?, ?, ?, ?)",
				       "isssss", pos, m->user_id, m->device_id, sender, type, m->content);
		if (rc)
			return rc;
	}
	return 0;
}

static int mx_to_device_send_job(struct mx_db_conn *c, void *arg)
{
	const struct mx_to_device_send *s = arg;
	int rc = mx_db_run(c,
			   "INSERT INTO to_device_txns (user_id, device_id, txn_id, created_ts) VALUES (?, ?, ?, ?)",
			   "sssi", s->sender, s->sender_device, s->txn_id, mx_clock_now_ms());
	if (rc == MX_ECONFLICT)
		return MX_EEXISTS;
	if (rc)
		return rc;
	rc = mx__store_to_device_deliver(c, s->sender, s->type, s->msgs, s->n, s->max_pending, NULL);
	if (!rc && s->n_edus)
		rc = mx__store_fed_outbox_add(c, s->edus, s->n_edus, mx_clock_now_ms());
	return rc;
}

int mx_store_to_device_queue(struct mx_db *db, const struct mx_to_device_send *s)
{
	return mx_db_write(db, mx_to_device_send_job, (void *)s);
}

int mx_store_to_device_send(struct mx_db *db, const char *sender, const char *sender_device,
			    const char *txn_id, const char *type, const struct mx_to_device_msg *msgs,
			    size_t n, int64_t max_pending)
{
	struct mx_to_device_send s = {.sender = sender, .sender_device = sender_device,
				      .txn_id = txn_id, .type = type, .msgs = msgs, .n = n,
				      .max_pending = max_pending};
	return mx_store_to_device_queue(db, &s);
}

int mx_store_to_device_fetch(struct mx_db_conn *c, const char *user_id, const char *device_id,
			     int64_t after, int64_t upto, int limit, mx_to_device_cb cb, void *ctx)
{
	struct mx_db_stmt *st;
	int rc = mx_db_prepare(c,
			       "SELECT stream_id, sender, type, content FROM to_device_inbox WHERE user_id = ?"
			       " AND device_id = ? AND stream_id > ? AND stream_id <= ? ORDER BY stream_id LIMIT ?",
			       &st);
	if (rc)
		return rc;
	mx_db_bind_text(st, 1, user_id);
	mx_db_bind_text(st, 2, device_id);
	mx_db_bind_int64(st, 3, after);
	mx_db_bind_int64(st, 4, upto);
	mx_db_bind_int64(st, 5, limit);
	while ((rc = mx_db_step(st)) == MX_DB_ROW)
		if (cb(ctx, mx_db_col_int64(st, 0), mx_db_col_text(st, 1), mx_db_col_text(st, 2),
		       mx_db_col_text(st, 3)))
			break;
	mx_db_done(st);
	return rc < 0 ? rc : 0;
}

bool mx_store_to_device_has_upto(struct mx_db_conn *c, const char *user_id, const char *device_id,
				 int64_t upto)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st,
			     "SELECT 1 FROM to_device_inbox WHERE user_id = ? AND device_id = ? AND stream_id <= ? LIMIT 1",
			     "ssi", user_id, device_id, upto);
	if (rc == MX_DB_ROW)
		mx_db_done(st);
	return rc == MX_DB_ROW;
}

struct mx_ack_job {
	const char *user_id, *device_id;
	int64_t upto;
};

static int mx_to_device_ack_job(struct mx_db_conn *c, void *arg)
{
	struct mx_ack_job *j = arg;
	return mx_db_run(c, "DELETE FROM to_device_inbox WHERE user_id = ? AND device_id = ? AND stream_id <= ?",
			 "ssi", j->user_id, j->device_id, j->upto);
}

int mx_store_to_device_ack(struct mx_db *db, const char *user_id, const char *device_id, int64_t upto)
{
	struct mx_ack_job j = {user_id, device_id, upto};
	return mx_db_write(db, mx_to_device_ack_job, &j);
}
