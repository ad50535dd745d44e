/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Receipts in SQL, and the fully-read marker kept in room account data.
 * Receipt rows point at events by id; "forward only" compares the events'
 * nids (their position in the events stream), as Synapse compares stream
 * orderings.
 */
#include "store/receipts.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/error.h"
#include "db/db.h"
#include "store/account_data.h"

/* SPEC: client-server-api#threaded-read-receipts: "a maximum of 3 hops". */
#define MX_THREAD_MAX_HOPS 3

/* The nid of event_id if it is an event of room_id, else 0. */
static int64_t mx_receipt_event_nid(struct mx_db_conn *c, const char *room_id, const char *event_id)
{
	struct mx_db_stmt *st;
	if (mx_db_query(c, &st, "SELECT nid FROM events WHERE event_id = ? AND room_id = ?", "ss",
			event_id, room_id) != MX_DB_ROW)
		return 0;
	int64_t nid = mx_db_col_int64(st, 0);
	mx_db_done(st);
	return nid;
}

struct mx_receipt_job {
	const char *room_id, *type, *user_id, *thread_id, *event_id;
	int64_t ts;
	int64_t stream_id;
};

static int mx_store_receipt_job(struct mx_db_conn *c, void *arg)
{
	struct mx_receipt_job *j = arg;
	int64_t nid = mx_receipt_event_nid(c, j->room_id, j->event_id);
	if (!nid)
		return MX_ENOTFOUND;
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st,
			     "SELECT e.nid FROM receipts r JOIN events e ON e.event_id = r.event_id"
			     " WHERE r.room_id = ? AND r.receipt_type = ? AND r.user_id = ?"
			     " AND r.thread_id = ?",
			     "ssss", j->room_id, j->type, j->user_id, j->thread_id);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_ROW) {
		int64_t old = mx_db_col_int64(st, 0);
		mx_db_done(st);
		if (old >= nid)
			return 0; /* receipts only move forward */
	}
	rc = mx_db_query(c, &st, "SELECT COALESCE(MAX(stream_id), 0) FROM receipts", "");
	if (rc != MX_DB_ROW)
		return rc < 0 ? rc : MX_EDB;
	int64_t pos = mx_db_col_int64(st, 0) + 1;
	mx_db_done(st);
	rc = mx_db_run(c,
		       "INSERT INTO receipts (room_id, receipt_type, user_id, thread_id, event_id, ts,"
		       " stream_id) VALUES (?, ?, ?, ?, ?, ?, ?)"
		       " ON CONFLICT (room_id, receipt_type, user_id, thread_id) DO UPDATE SET"
		       " event_id = excluded.event_id, ts = excluded.ts, stream_id = excluded.stream_id",
		       "sssssii", j->room_id, j->type, j->user_id, j->thread_id, j->event_id, j->ts, pos);
	if (!rc)
		j->stream_id = pos;
	return rc;
}

int mx_store_receipt_put(struct mx_db *db, const char *room_id, const char *receipt_type,
			 const char *user_id, const char *thread_id, const char *event_id,
			 int64_t ts, int64_t *stream_id)
{
	struct mx_receipt_job j = {room_id, receipt_type, user_id,
				   thread_id ? thread_id : MX_RECEIPT_UNTHREADED, event_id, ts, 0};
	int rc = mx_db_write(db, mx_store_receipt_job, &j);
	*stream_id = rc ? 0 : j.stream_id;
	return rc;
}

int64_t mx_store_receipts_position(struct mx_db_conn *c)
{
	struct mx_db_stmt *st;
	if (mx_db_query(c, &st, "SELECT COALESCE(MAX(stream_id), 0) FROM receipts", "") != MX_DB_ROW)
		return 0;
	int64_t v = mx_db_col_int64(st, 0);
	mx_db_done(st);
	return v;
}

int mx_store_receipts_between(struct mx_db_conn *c, const char *room_id, int64_t since, int64_t to,
			      mx_store_receipt_cb cb, void *ctx)
{
	struct mx_db_stmt *st;
	int rc, i = 1;
	if (room_id)
		rc = mx_db_prepare(c,
				   "SELECT room_id, receipt_type, user_id, thread_id, event_id, ts, stream_id"
				   " FROM receipts WHERE room_id = ? AND stream_id > ? AND stream_id <= ?"
				   " ORDER BY stream_id",
				   &st);
	else /* by the stream index: the few rows changed since a sync token */
		rc = mx_db_prepare(c,
				   "SELECT room_id, receipt_type, user_id, thread_id, event_id, ts, stream_id"
				   " FROM receipts WHERE stream_id > ? AND stream_id <= ? ORDER BY stream_id",
				   &st);
	if (rc)
		return rc;
	if (room_id)
		mx_db_bind_text(st, i++, room_id);
	mx_db_bind_int64(st, i++, since);
	mx_db_bind_int64(st, i, to);
	while ((rc = mx_db_step(st)) == MX_DB_ROW) {
		struct mx_store_receipt r = {
			.room_id = mx_db_col_text(st, 0),
			.receipt_type = mx_db_col_text(st, 1),
			.user_id = mx_db_col_text(st, 2),
			.thread_id = mx_db_col_text(st, 3),
			.event_id = mx_db_col_text(st, 4),
			.ts = mx_db_col_int64(st, 5),
			.stream_id = mx_db_col_int64(st, 6),
		};
		if (cb(ctx, &r)) {
			mx_db_done(st);
			return 0;
		}
	}
	return rc < 0 ? rc : 0;
}

int64_t mx_store_receipt_read_nid(struct mx_db_conn *c, const char *room_id, const char *user_id,
				  const char *thread_id)
{
	struct mx_db_stmt *st;
	if (mx_db_query(c, &st,
			"SELECT COALESCE(MAX(e.nid), 0) FROM receipts r"
			" JOIN events e ON e.event_id = r.event_id"
			" WHERE r.room_id = ? AND r.user_id = ?"
			" AND r.receipt_type IN ('m.read', 'm.read.private')"
			" AND (r.thread_id = '' OR r.thread_id = ?)",
			"sss", room_id, user_id, thread_id ? thread_id : MX_RECEIPT_UNTHREADED) != MX_DB_ROW)
		return 0;
	int64_t v = mx_db_col_int64(st, 0);
	mx_db_done(st);
	return v;
}

int mx_store_event_thread(struct mx_db_conn *c, struct mx_arena *a, const char *room_id,
			  const char *event_id, const char **thread_id)
{
	const char *id = event_id;
	*thread_id = MX_RECEIPT_MAIN_THREAD;
	for (int hop = 0; hop <= MX_THREAD_MAX_HOPS; hop++) {
		struct mx_db_stmt *st;
		int rc = mx_db_query(c, &st,
				     "SELECT thread_id, relates_to FROM events"
				     " WHERE event_id = ? AND room_id = ?",
				     "ss", id, room_id);
		if (rc < 0)
			return rc;
		if (rc == MX_DB_DONE)
			/* The receipt's own event must exist; a relation may point
			 * at an event we do not have: then it is main timeline. */
			return hop == 0 ? MX_ENOTFOUND : 0;
		const char *thread = mx_db_col_text(st, 0), *rel = mx_db_col_text(st, 1);
		if (thread) {
			*thread_id = mx_arena_strdup(a, thread);
			mx_db_done(st);
			return 0;
		}
		if (!rel || hop == MX_THREAD_MAX_HOPS) {
			mx_db_done(st);
			return 0;
		}
		id = mx_arena_strdup(a, rel);
		mx_db_done(st);
	}
	return 0;
}

struct mx_marker_job {
	const char *user_id, *room_id, *event_id;
	int64_t stream_id;
};

static int mx_store_read_marker_job(struct mx_db_conn *c, void *arg)
{
	struct mx_marker_job *j = arg;
	int64_t nid = mx_receipt_event_nid(c, j->room_id, j->event_id);
	if (!nid)
		return MX_ENOTFOUND;
	struct mx_arena a;
	mx_arena_init(&a);
	const char *text_old;
	int rc = mx_store_account_data_get(c, &a, j->user_id, j->room_id, "m.fully_read", &text_old);
	if (rc && rc != MX_ENOTFOUND) {
		mx_arena_release(&a);
		return rc;
	}
	json_t *old = rc ? NULL : mx_arena_json(&a, json_loads(text_old, 0, NULL));
	const char *old_id = json_string_value(json_object_get(old, "event_id"));
	/* An old marker on an event we no longer know: the new one wins. */
	int64_t old_nid = old_id ? mx_receipt_event_nid(c, j->room_id, old_id) : 0;
	mx_arena_release(&a);
	if (old_nid >= nid)
		return 0;
	json_t *content = json_pack("{s:s}", "event_id", j->event_id);
	char *text = content ? json_dumps(content, JSON_COMPACT) : NULL;
	json_decref(content);
	if (!text)
		return MX_EINVALID;
	rc = mx_store_account_data_put_in(c, j->user_id, j->room_id, "m.fully_read", text,
					  &j->stream_id);
	free(text);
	return rc;
}

int mx_store_read_marker_set(struct mx_db *db, const char *user_id, const char *room_id,
			     const char *event_id, int64_t *stream_id)
{
	struct mx_marker_job j = {user_id, room_id, event_id, 0};
	int rc = mx_db_write(db, mx_store_read_marker_job, &j);
	*stream_id = rc ? 0 : j.stream_id;
	return rc;
}
