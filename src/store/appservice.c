/* SPDX-License-Identifier: Apache-2.0 */
/* Storage for application services. See appservice.h. */
#include "store/appservice.h"

#include <stdlib.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/mem.h"
#include "db/db.h"

static const char *mx_store_as_col(struct mx_arena *a, struct mx_db_stmt *st, int col)
{
	const char *s = mx_db_col_text(st, col);
	return s ? mx_arena_strdup(a, s) : NULL;
}

int mx_store_as_state_get(struct mx_db_conn *c, struct mx_arena *a, const char *as_id,
			  struct mx_store_as_state *out)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st,
			     "SELECT last_nid, next_txn, pending_txn, pending_upto, pending_body"
			     " FROM appservice_state WHERE as_id = ?",
			     "s", as_id);
	if (rc != MX_DB_ROW)
		return rc < 0 ? rc : MX_ENOTFOUND;
	out->last_nid = mx_db_col_int64(st, 0);
	out->next_txn = mx_db_col_int64(st, 1);
	out->pending_txn = mx_db_col_is_null(st, 2) ? 0 : mx_db_col_int64(st, 2);
	out->pending_upto = mx_db_col_is_null(st, 3) ? 0 : mx_db_col_int64(st, 3);
	out->pending_body = mx_store_as_col(a, st, 4);
	if (out->pending_txn && !out->pending_body)
		out->pending_txn = 0; /* cannot happen: written together */
	mx_db_done(st);
	return 0;
}

struct mx_as_state_job {
	const char *as_id;
	const struct mx_store_as_state *s;
};

static int mx_store_as_state_job(struct mx_db_conn *c, void *arg)
{
	struct mx_as_state_job *j = arg;
	const struct mx_store_as_state *s = j->s;
	if (s->pending_txn)
		return mx_db_run(c,
				 "INSERT OR REPLACE INTO appservice_state"
				 " (as_id, last_nid, next_txn, pending_txn, pending_upto, pending_body)"
				 " VALUES (?, ?, ?, ?, ?, ?)",
				 "siiiis", j->as_id, s->last_nid, s->next_txn, s->pending_txn,
				 s->pending_upto, s->pending_body);
	return mx_db_run(c,
			 "INSERT OR REPLACE INTO appservice_state"
			 " (as_id, last_nid, next_txn, pending_txn, pending_upto)"
			 " VALUES (?, ?, ?, NULL, NULL)",
			 "sii", j->as_id, s->last_nid, s->next_txn);
}

int mx_store_as_state_put(struct mx_db *db, const char *as_id, const struct mx_store_as_state *s)
{
	struct mx_as_state_job j = {as_id, s};
	return mx_db_write(db, mx_store_as_state_job, &j);
}

int64_t mx_store_as_max_nid(struct mx_db_conn *c)
{
	struct mx_db_stmt *st;
	int64_t v = 0;
	if (mx_db_query(c, &st, "SELECT COALESCE(MAX(nid), 0) FROM events", "") == MX_DB_ROW) {
		v = mx_db_col_int64(st, 0);
		mx_db_done(st);
	}
	return v;
}

int mx_store_as_events(struct mx_db_conn *c, struct mx_arena *a, int64_t after, int64_t upto,
		       size_t limit, struct mx_store_as_event **out, size_t *n)
{
	struct mx_db_stmt *st;
	*out = mx_arena_alloc(a, (limit ? limit : 1) * sizeof(**out));
	*n = 0;
	int rc = mx_db_query(c, &st,
			     "SELECT nid, event_id, room_id, type, state_key, sender, json FROM events"
			     " WHERE nid > ? AND nid <= ? AND outlier = 0 AND rejected IS NULL"
			     " ORDER BY nid LIMIT ?",
			     "iii", after, upto, (int64_t)limit);
	while (rc == MX_DB_ROW) {
		struct mx_store_as_event *e = &(*out)[(*n)++];
		e->nid = mx_db_col_int64(st, 0);
		e->event_id = mx_store_as_col(a, st, 1);
		e->room_id = mx_store_as_col(a, st, 2);
		e->type = mx_store_as_col(a, st, 3);
		e->state_key = mx_store_as_col(a, st, 4);
		e->sender = mx_store_as_col(a, st, 5);
		e->json = mx_store_as_col(a, st, 6);
		rc = mx_db_step(st);
	}
	return rc < 0 ? rc : 0;
}

/* Every first column of a one-parameter query, into an arena array. */
static int mx_store_as_strings(struct mx_db_conn *c, struct mx_arena *a, const char *sql,
			       const char *param, const char ***out, size_t *n)
{
	struct mx_db_stmt *st;
	size_t cap = 16;
	const char **v = mx_xmalloc(cap * sizeof(*v));
	*n = 0;
	int rc = mx_db_query(c, &st, sql, "s", param);
	while (rc == MX_DB_ROW) {
		if (*n == cap) {
			cap *= 2;
			v = mx_xrealloc(v, cap * sizeof(*v));
		}
		v[(*n)++] = mx_store_as_col(a, st, 0);
		rc = mx_db_step(st);
	}
	*out = mx_arena_alloc(a, (*n ? *n : 1) * sizeof(**out));
	for (size_t i = 0; i < *n; i++)
		(*out)[i] = v[i];
	free(v);
	return rc < 0 ? rc : 0;
}

int mx_store_as_room_members(struct mx_db_conn *c, struct mx_arena *a, const char *room_id,
			     const char ***out, size_t *n)
{
	return mx_store_as_strings(c, a,
				   "SELECT state_key FROM current_state WHERE room_id = ?"
				   " AND type = 'm.room.member' AND membership = 'join'",
				   room_id, out, n);
}

int mx_store_as_room_aliases(struct mx_db_conn *c, struct mx_arena *a, const char *room_id,
			     const char ***out, size_t *n)
{
	return mx_store_as_strings(c, a, "SELECT alias FROM room_aliases WHERE room_id = ?", room_id,
				   out, n);
}

struct mx_as_audit_job {
	const char *actor, *action, *target, *detail;
};

static int mx_store_as_audit_job(struct mx_db_conn *c, void *arg)
{
	struct mx_as_audit_job *j = arg;
	return mx_db_run(c,
			 "INSERT INTO audit_log (ts, actor, action, target, detail)"
			 " VALUES (?, ?, ?, ?, ?)",
			 "issss", mx_clock_now_ms(), j->actor, j->action, j->target, j->detail);
}

int mx_store_as_audit(struct mx_db *db, const char *actor, const char *action, const char *target,
		      const char *detail)
{
	struct mx_as_audit_job j = {actor, action, target, detail};
	return mx_db_write(db, mx_store_as_audit_job, &j);
}
