/* SPDX-License-Identifier: Apache-2.0 */
/* Push results in SQL, one row per event. See push.h. */
#include "store/push.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/mem.h"
#include "db/db.h"
#include "store/receipts.h"
#include "store/rooms.h"

/* user_id's localpart: what follows '@' up to ':' (all of it without them). */
static struct mx_slice mx_store_push_localpart(const char *user_id)
{
	const char *s = user_id[0] == '@' ? user_id + 1 : user_id;
	const char *colon = strchr(s, ':');
	return (struct mx_slice){s, colon ? (size_t)(colon - s) : strlen(s)};
}

int mx_store_push_list_add(struct mx_buf *b, const char *user_id)
{
	struct mx_slice lp = mx_store_push_localpart(user_id);
	size_t len = b->len;
	int rc = 0;
	if (!len)
		rc = mx_buf_putc(b, MX_STORE_PUSH_SEP);
	if (!rc)
		rc = mx_buf_append(b, lp.ptr, lp.len);
	if (!rc)
		rc = mx_buf_putc(b, MX_STORE_PUSH_SEP);
	if (rc && b->data) {
		/* all or nothing */
		b->len = len;
		b->data[len] = '\0';
	}
	return rc;
}

/* The pattern that finds user_id in a framed list: SEP localpart SEP (in a). */
static const char *mx_store_push_pattern(struct mx_arena *a, const char *user_id)
{
	struct mx_slice lp = mx_store_push_localpart(user_id);
	char *p = mx_arena_alloc(a, lp.len + 3);
	p[0] = MX_STORE_PUSH_SEP;
	memcpy(p + 1, lp.ptr, lp.len);
	p[lp.len + 1] = MX_STORE_PUSH_SEP;
	p[lp.len + 2] = '\0';
	return p;
}

/* ---- writing ---- */

struct mx_push_add_job {
	const struct mx_store_push_row *rows;
	size_t n;
};

static int mx_store_push_add_job(struct mx_db_conn *c, void *arg)
{
	struct mx_push_add_job *j = arg;
	struct mx_arena a;
	mx_arena_init(&a);
	int rc = 0;
	for (size_t i = 0; i < j->n && !rc; i++) {
		const struct mx_store_push_row *r = &j->rows[i];
		const char *thread = r->thread_id;
		if (!thread) {
			/* SPEC: client-server-api#receiving-notifications: follow the
			 * relations (3 hops) to find the thread. An event we cannot
			 * place counts in the main timeline. */
			rc = mx_store_event_thread(c, &a, r->room_id, r->event_id, &thread);
			if (rc == MX_ENOTFOUND)
				rc = 0;
			if (rc)
				break;
		}
		const char *sender = NULL;
		if (r->sender) {
			struct mx_slice lp = mx_store_push_localpart(r->sender);
			sender = mx_arena_strndup(&a, lp.ptr, lp.len);
		}
		rc = mx_db_run(c,
			       "INSERT INTO event_push_actions (room_id, event_nid, thread_id, sender,"
			       " notify, highlight, actions, actions_other, ts)"
			       " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
			       "sissssssi", r->room_id, r->event_nid, thread, sender,
			       r->notify ? r->notify : "", r->highlight ? r->highlight : "", r->actions,
			       r->actions_other, r->ts);
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

/* ---- reading: one room's newest rows for one user ---- */

/* A thread met while reading a room's rows newest first. */
struct mx_push_scan_thread {
	const char *thread_id;
	int64_t read_nid; /* the receipts: unthreaded and this thread's */
	bool sent;        /* the user's own event in it was met: older rows are read */
	int64_t notif, highlight;
};

/* One row that concerns the user, as the scan hands it over. */
struct mx_push_scan_row {
	int64_t event_nid;
	const char *event_id;
	struct mx_push_scan_thread *thread;
	bool notify, highlight, read;
	const char *actions, *actions_other; /* borrowed from the statement */
	int64_t ts;
};
/* Called for each row that notifies or highlights the user; non-zero stops. */
typedef int (*mx_push_scan_fn)(void *ctx, const struct mx_push_scan_row *r);

struct mx_push_scan {
	struct mx_db_conn *c;
	struct mx_arena *a;
	const char *user_id, *room_id;
	struct mx_push_scan_thread *v;
	size_t n, cap;
};

static struct mx_push_scan_thread *mx_push_scan_thread(struct mx_push_scan *s, const char *thread_id)
{
	/* Rooms have few threads active at a time: a list is enough. */
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].thread_id, thread_id))
			return &s->v[i];
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4;
		struct mx_push_scan_thread *v = mx_arena_alloc(s->a, cap * sizeof(*v));
		if (s->n)
			memcpy(v, s->v, s->n * sizeof(*v));
		s->v = v;
		s->cap = cap;
	}
	struct mx_push_scan_thread *t = &s->v[s->n++];
	t->thread_id = mx_arena_strdup(s->a, thread_id);
	t->read_nid = mx_store_receipt_read_nid(s->c, s->room_id, s->user_id, thread_id);
	t->sent = false;
	t->notif = t->highlight = 0;
	return t;
}

/*
 * Read room_id's newest rows (at most MX_STORE_PUSH_SCAN_MAX, all after
 * after_nid), newest first, and call fn for each that notifies or
 * highlights the user, with whether the user has read it. Threads land in
 * s->v. Returns 0 or an error.
 */
static int mx_push_scan_room(struct mx_push_scan *s, int64_t after_nid, bool with_actions,
			     mx_push_scan_fn fn, void *ctx)
{
	const char *pattern = mx_store_push_pattern(s->a, s->user_id);
	struct mx_slice lp = mx_store_push_localpart(s->user_id);
	const char *localpart = mx_arena_strndup(s->a, lp.ptr, lp.len);
	struct mx_db_stmt *st;
	/* The inner query bounds the rows read; the outer one keeps those that
	 * concern the user (notified, highlighted, or sent by them). */
	const char *sql_counts =
		"SELECT event_nid, thread_id, instr(notify, ?1) > 0, instr(highlight, ?1) > 0,"
		" sender IS ?2, NULL, NULL, NULL, 0"
		" FROM (SELECT event_nid, thread_id, sender, notify, highlight"
		"  FROM event_push_actions WHERE room_id = ?3 AND event_nid > ?4"
		"  ORDER BY event_nid DESC LIMIT ?5)"
		" WHERE instr(notify, ?1) > 0 OR instr(highlight, ?1) > 0 OR sender IS ?2"
		" ORDER BY event_nid DESC";
	const char *sql_list =
		"SELECT event_nid, thread_id, instr(notify, ?1) > 0, instr(highlight, ?1) > 0,"
		" sender IS ?2, (SELECT e.event_id FROM events e WHERE e.nid = event_nid),"
		" actions, actions_other, ts"
		" FROM (SELECT event_nid, thread_id, sender, notify, highlight, actions, actions_other, ts"
		"  FROM event_push_actions WHERE room_id = ?3 AND event_nid > ?4"
		"  ORDER BY event_nid DESC LIMIT ?5)"
		" WHERE instr(notify, ?1) > 0 OR instr(highlight, ?1) > 0 OR sender IS ?2"
		" ORDER BY event_nid DESC";
	int rc = mx_db_prepare(s->c, with_actions ? sql_list : sql_counts, &st);
	if (rc)
		return rc;
	mx_db_bind_text(st, 1, pattern);
	mx_db_bind_text(st, 2, localpart);
	mx_db_bind_text(st, 3, s->room_id);
	mx_db_bind_int64(st, 4, after_nid);
	mx_db_bind_int64(st, 5, MX_STORE_PUSH_SCAN_MAX);
	while ((rc = mx_db_step(st)) == MX_DB_ROW) {
		struct mx_push_scan_thread *t = mx_push_scan_thread(s, mx_db_col_text(st, 1));
		if (mx_db_col_int64(st, 4)) {
			/* The user's own event: all before it in its thread is read. */
			t->sent = true;
			continue;
		}
		struct mx_push_scan_row r = {
			.event_nid = mx_db_col_int64(st, 0),
			.thread = t,
			.notify = mx_db_col_int64(st, 2) != 0,
			.highlight = mx_db_col_int64(st, 3) != 0,
			.event_id = mx_db_col_text(st, 5),
			.actions = mx_db_col_text(st, 6),
			.actions_other = mx_db_col_text(st, 7),
			.ts = mx_db_col_int64(st, 8),
		};
		r.read = t->sent || r.event_nid <= t->read_nid;
		if (fn(ctx, &r)) {
			mx_db_done(st);
			return 0;
		}
	}
	return rc < 0 ? rc : 0;
}

/* ---- counts ---- */

static int mx_push_count_row(void *ctx, const struct mx_push_scan_row *r)
{
	(void)ctx;
	if (!r->read) {
		r->thread->notif += r->notify;
		r->thread->highlight += r->highlight;
	}
	return 0;
}

int mx_store_push_counts(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
			 const char *room_id, struct mx_store_push_count **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	struct mx_push_scan s = {.c = c, .a = a, .user_id = user_id, .room_id = room_id};
	/* Everything up to the unthreaded receipt is read in every thread. */
	int64_t base = mx_store_receipt_read_nid(c, room_id, user_id, NULL);
	int rc = mx_push_scan_room(&s, base, false, mx_push_count_row, NULL);
	if (rc)
		return rc;
	struct mx_store_push_count *v = mx_arena_alloc(a, (s.n ? s.n : 1) * sizeof(*v));
	size_t nv = 0;
	for (size_t i = 0; i < s.n; i++) {
		if (!s.v[i].notif && !s.v[i].highlight)
			continue;
		v[nv].thread_id = s.v[i].thread_id;
		v[nv].notif = s.v[i].notif;
		v[nv].highlight = s.v[i].highlight;
		nv++;
	}
	*out = v;
	*n = nv;
	return 0;
}

/* ---- GET /notifications ---- */

struct mx_push_list {
	struct mx_arena *a;
	const char *room_id;
	const char *localpart;
	int64_t before;
	bool only_highlight;
	size_t limit;
	struct mx_store_push_notif *v;
	size_t n, cap;
	size_t n_room; /* kept from the room being read */
};

/* The user's actions in a row: their entry in actions_other, or actions (in a). */
static const char *mx_push_user_actions(struct mx_arena *a, const char *localpart,
					const char *actions, const char *actions_other)
{
	if (actions_other) {
		json_t *o = json_loads(actions_other, 0, NULL);
		json_t *mine = json_object_get(o, localpart);
		char *text = mine ? json_dumps(mine, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
		json_decref(o);
		if (text) {
			const char *v = mx_arena_strdup(a, text);
			free(text);
			return v;
		}
	}
	return mx_arena_strdup(a, actions ? actions : "[]");
}

static int mx_push_list_row(void *ctx, const struct mx_push_scan_row *r)
{
	struct mx_push_list *l = ctx;
	if (r->event_nid >= l->before || (l->only_highlight && !r->highlight) || !r->event_id)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct mx_store_push_notif *v = mx_arena_alloc(l->a, cap * sizeof(*v));
		if (l->n)
			memcpy(v, l->v, l->n * sizeof(*v));
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = (struct mx_store_push_notif){
		.room_id = l->room_id,
		.event_id = mx_arena_strdup(l->a, r->event_id),
		.actions = mx_push_user_actions(l->a, l->localpart, r->actions, r->actions_other),
		.event_nid = r->event_nid,
		.ts = r->ts,
		.highlight = r->highlight,
		.read = r->read,
	};
	/* Rows come newest first: this room has nothing more to give. */
	return ++l->n_room >= l->limit;
}

static int mx_push_notif_cmp(const void *x, const void *y)
{
	const struct mx_store_push_notif *a = x, *b = y;
	return a->event_nid < b->event_nid ? 1 : a->event_nid > b->event_nid ? -1 : 0;
}

int mx_store_push_notifications(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
				int64_t before, bool only_highlight, int limit,
				struct mx_store_push_notif **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (limit <= 0)
		return 0;
	static const char *const memberships[] = {"join", "invite", NULL};
	struct mx_store_user_room *rooms;
	size_t n_rooms;
	int rc = mx_store_user_rooms(c, a, user_id, memberships, &rooms, &n_rooms);
	if (rc)
		return rc;
	struct mx_slice lp = mx_store_push_localpart(user_id);
	struct mx_push_list l = {
		.a = a,
		.localpart = mx_arena_strndup(a, lp.ptr, lp.len),
		.before = before > 0 ? before : INT64_MAX,
		.only_highlight = only_highlight,
		.limit = (size_t)limit,
	};
	for (size_t i = 0; i < n_rooms; i++) {
		/* Read points need the newest rows too (the user's own events):
		 * the scan starts at the room's newest row, whatever before is. */
		struct mx_push_scan s = {.c = c, .a = a, .user_id = user_id, .room_id = rooms[i].room_id};
		l.room_id = rooms[i].room_id;
		l.n_room = 0;
		rc = mx_push_scan_room(&s, 0, true, mx_push_list_row, &l);
		if (rc)
			return rc;
	}
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), mx_push_notif_cmp);
	*out = l.v;
	*n = l.n < l.limit ? l.n : l.limit;
	return 0;
}
