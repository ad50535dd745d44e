/* SPDX-License-Identifier: Apache-2.0 */
/* Push actions and per-thread read points in SQL. See push.h. */
#include "store/push.h"

#include <string.h>

#include "core/arena.h"
#include "core/error.h"
#include "core/mem.h"
#include "db/db.h"
#include "store/receipts.h"

struct mx_push_add_job {
	const struct mx_store_push_row *rows;
	size_t n;
};

static int mx_store_push_row_write(struct mx_db_conn *c, const struct mx_store_push_row *r,
				   const char *thread)
{
	if (r->mark)
		return mx_db_run(c,
				 "INSERT INTO push_threads (user_id, room_id, thread_id, latest_nid, sent_nid)"
				 " VALUES (?, ?, ?, 0, ?) ON CONFLICT (user_id, room_id, thread_id)"
				 " DO UPDATE SET sent_nid = excluded.sent_nid"
				 " WHERE excluded.sent_nid > push_threads.sent_nid",
				 "sssi", r->user_id, r->room_id, thread, r->event_nid);
	int rc = mx_db_run(c,
			   "INSERT INTO event_push_actions (user_id, room_id, thread_id, event_nid, notif,"
			   " highlight, actions, ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
			   " ON CONFLICT DO NOTHING",
			   "sssiiisi", r->user_id, r->room_id, thread, r->event_nid, (int64_t)r->notif,
			   (int64_t)r->highlight, r->actions ? r->actions : "[]", r->ts);
	if (rc)
		return rc;
	return mx_db_run(c,
			 "INSERT INTO push_threads (user_id, room_id, thread_id, latest_nid, sent_nid)"
			 " VALUES (?, ?, ?, ?, 0) ON CONFLICT (user_id, room_id, thread_id)"
			 " DO UPDATE SET latest_nid = excluded.latest_nid"
			 " WHERE excluded.latest_nid > push_threads.latest_nid",
			 "sssi", r->user_id, r->room_id, thread, r->event_nid);
}

static int mx_store_push_add_job(struct mx_db_conn *c, void *arg)
{
	struct mx_push_add_job *j = arg;
	struct mx_arena a;
	mx_arena_init(&a);
	int rc = 0;
	/* Rows come grouped by event: resolve each event's thread once. */
	int64_t last_nid = -1;
	const char *thread = MX_RECEIPT_MAIN_THREAD;
	for (size_t i = 0; i < j->n && !rc; i++) {
		const struct mx_store_push_row *r = &j->rows[i];
		if (r->thread_id)
			thread = r->thread_id;
		else if (r->event_nid != last_nid) {
			thread = MX_RECEIPT_MAIN_THREAD;
			/* SPEC: client-server-api#receiving-notifications: follow the
			 * relations (3 hops) to find the thread. An event we cannot
			 * place counts in the main timeline. */
			rc = mx_store_event_thread(c, &a, r->room_id, r->event_id, &thread);
			if (rc == MX_ENOTFOUND)
				rc = 0;
		}
		last_nid = r->thread_id ? -1 : r->event_nid;
		if (!rc)
			rc = mx_store_push_row_write(c, r, thread);
	}
	mx_arena_release(&a);
	return rc;
}

int mx_store_push_add(struct mx_db *db, const struct mx_store_push_row *rows, size_t n)
{
	if (!n)
		return 0;
	struct mx_push_add_job j = {rows, n};
	return mx_db_write(db, mx_store_push_add_job, &j);
}

/* A thread of the user's in a room that may hold unread actions. */
struct mx_push_thread {
	const char *thread_id;
	int64_t read_nid;
};

int mx_store_push_counts(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
			 const char *room_id, struct mx_store_push_count **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	/* Everything up to the unthreaded receipt is read in every thread. */
	int64_t base = mx_store_receipt_read_nid(c, room_id, user_id, NULL);
	struct mx_db_stmt *st;
	int rc = mx_db_prepare(c,
			       "SELECT p.thread_id, p.sent_nid, COALESCE((SELECT MAX(e.nid) FROM receipts r"
			       "  JOIN events e ON e.event_id = r.event_id"
			       "  WHERE r.room_id = p.room_id AND r.user_id = p.user_id"
			       "  AND r.thread_id = p.thread_id"
			       "  AND r.receipt_type IN ('m.read', 'm.read.private')), 0)"
			       " FROM push_threads p WHERE p.user_id = ? AND p.room_id = ?"
			       " AND p.latest_nid > ? AND p.latest_nid > p.sent_nid",
			       &st);
	if (rc)
		return rc;
	mx_db_bind_text(st, 1, user_id);
	mx_db_bind_text(st, 2, room_id);
	mx_db_bind_int64(st, 3, base);
	size_t cap = 4, cnt = 0;
	struct mx_push_thread *th = mx_arena_alloc(a, cap * sizeof(*th));
	while ((rc = mx_db_step(st)) == MX_DB_ROW) {
		int64_t read = base, sent = mx_db_col_int64(st, 1), rcpt = mx_db_col_int64(st, 2);
		if (sent > read)
			read = sent;
		if (rcpt > read)
			read = rcpt;
		if (cnt == cap) {
			struct mx_push_thread *nt = mx_arena_alloc(a, cap * 2 * sizeof(*th));
			memcpy(nt, th, cap * sizeof(*th));
			th = nt;
			cap *= 2;
		}
		th[cnt].thread_id = mx_arena_strdup(a, mx_db_col_text(st, 0));
		th[cnt].read_nid = read;
		cnt++;
	}
	if (rc < 0)
		return rc;
	struct mx_store_push_count *v = mx_arena_alloc(a, (cnt ? cnt : 1) * sizeof(*v));
	size_t nv = 0;
	for (size_t i = 0; i < cnt; i++) {
		rc = mx_db_query(c, &st,
				 "SELECT COALESCE(SUM(notif), 0), COALESCE(SUM(highlight), 0)"
				 " FROM event_push_actions WHERE user_id = ? AND room_id = ?"
				 " AND thread_id = ? AND event_nid > ?",
				 "sssi", user_id, room_id, th[i].thread_id, th[i].read_nid);
		if (rc < 0)
			return rc;
		if (rc != MX_DB_ROW)
			continue;
		int64_t notif = mx_db_col_int64(st, 0), hl = mx_db_col_int64(st, 1);
		mx_db_done(st);
		if (!notif && !hl)
			continue;
		v[nv].thread_id = th[i].thread_id;
		v[nv].notif = notif;
		v[nv].highlight = hl;
		nv++;
	}
	*out = v;
	*n = nv;
	return 0;
}

int mx_store_push_notifications(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
				int64_t before, bool only_highlight, int limit,
				struct mx_store_push_notif **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	struct mx_db_stmt *st;
	int rc = mx_db_prepare(c,
			       "SELECT a.room_id, e.event_id, a.actions, a.event_nid, a.ts, a.highlight,"
			       " a.event_nid <= COALESCE((SELECT MAX(e2.nid) FROM receipts r"
			       "  JOIN events e2 ON e2.event_id = r.event_id"
			       "  WHERE r.room_id = a.room_id AND r.user_id = a.user_id"
			       "  AND (r.thread_id = '' OR r.thread_id = a.thread_id)"
			       "  AND r.receipt_type IN ('m.read', 'm.read.private')), 0)"
			       " OR a.event_nid <= COALESCE((SELECT p.sent_nid FROM push_threads p"
			       "  WHERE p.user_id = a.user_id AND p.room_id = a.room_id"
			       "  AND p.thread_id = a.thread_id), 0)"
			       " FROM event_push_actions a JOIN events e ON e.nid = a.event_nid"
			       " WHERE a.user_id = ? AND a.event_nid < ? AND (a.highlight = 1 OR ? = 0)"
			       " ORDER BY a.event_nid DESC LIMIT ?",
			       &st);
	if (rc)
		return rc;
	mx_db_bind_text(st, 1, user_id);
	mx_db_bind_int64(st, 2, before > 0 ? before : INT64_MAX);
	mx_db_bind_int64(st, 3, only_highlight ? 1 : 0);
	mx_db_bind_int64(st, 4, limit);
	struct mx_store_push_notif *v = mx_arena_alloc(a, (limit > 0 ? (size_t)limit : 1) * sizeof(*v));
	size_t cnt = 0;
	while ((rc = mx_db_step(st)) == MX_DB_ROW && cnt < (size_t)limit) {
		struct mx_store_push_notif *p = &v[cnt++];
		p->room_id = mx_arena_strdup(a, mx_db_col_text(st, 0));
		p->event_id = mx_arena_strdup(a, mx_db_col_text(st, 1));
		p->actions = mx_arena_strdup(a, mx_db_col_text(st, 2));
		p->event_nid = mx_db_col_int64(st, 3);
		p->ts = mx_db_col_int64(st, 4);
		p->highlight = mx_db_col_int64(st, 5) != 0;
		p->read = mx_db_col_int64(st, 6) != 0;
	}
	if (rc == MX_DB_ROW)
		mx_db_done(st);
	else if (rc < 0)
		return rc;
	*out = v;
	*n = cnt;
	return 0;
}
