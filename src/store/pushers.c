/* SPDX-License-Identifier: Apache-2.0 */
/* Pushers in SQL. See pushers.h. */
#include "store/pushers.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/error.h"
#include "core/mem.h"
#include "db/db.h"
#include "store/push.h"
#include "store/receipts.h"
#include "store/rooms.h"

#define MX_PUSHER_COLUMNS                                                                   \
	"id, user_id, device_id, kind, app_id, pushkey, app_display_name, device_display_name," \
	" profile_tag, lang, data, pushkey_ts, last_nid"

/* A text column in a (NULL stays NULL). */
static const char *mx_pusher_text(struct mx_arena *a, struct mx_db_stmt *st, int col)
{
	const char *s = mx_db_col_text(st, col);
	return s ? mx_arena_strdup(a, s) : NULL;
}

static void mx_pusher_row(struct mx_arena *a, struct mx_db_stmt *st, struct mx_store_pusher *p)
{
	p->id = mx_db_col_int64(st, 0);
	p->user_id = mx_pusher_text(a, st, 1);
	p->device_id = mx_pusher_text(a, st, 2);
	p->kind = mx_pusher_text(a, st, 3);
	p->app_id = mx_pusher_text(a, st, 4);
	p->pushkey = mx_pusher_text(a, st, 5);
	p->app_display_name = mx_pusher_text(a, st, 6);
	p->device_display_name = mx_pusher_text(a, st, 7);
	p->profile_tag = mx_pusher_text(a, st, 8);
	p->lang = mx_pusher_text(a, st, 9);
	p->data = mx_pusher_text(a, st, 10);
	p->pushkey_ts = mx_db_col_int64(st, 11);
	p->last_nid = mx_db_col_int64(st, 12);
}

int mx_store_pushers_list(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
			  struct mx_store_pusher **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	struct mx_db_stmt *st;
	int rc = user_id ? mx_db_prepare(c,
					 "SELECT " MX_PUSHER_COLUMNS " FROM pushers WHERE user_id = ?"
					 " ORDER BY id",
					 &st)
			 : mx_db_prepare(c, "SELECT " MX_PUSHER_COLUMNS " FROM pushers ORDER BY id",
					 &st);
	if (rc)
		return rc;
	if (user_id)
		mx_db_bind_text(st, 1, user_id);
	size_t cap = 0;
	struct mx_store_pusher *v = NULL;
	while ((rc = mx_db_step(st)) == MX_DB_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			struct mx_store_pusher *nv = mx_arena_alloc(a, cap * sizeof(*nv));
			if (*n)
				memcpy(nv, v, *n * sizeof(*nv));
			v = nv;
		}
		mx_pusher_row(a, st, &v[(*n)++]);
	}
	*out = v;
	return rc < 0 ? rc : 0;
}

int mx_store_pusher_get(struct mx_db_conn *c, struct mx_arena *a, int64_t id,
			struct mx_store_pusher *out)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st, "SELECT " MX_PUSHER_COLUMNS " FROM pushers WHERE id = ?", "i",
			     id);
	if (rc != MX_DB_ROW)
		return rc < 0 ? rc : MX_ENOTFOUND;
	mx_pusher_row(a, st, out);
	mx_db_done(st);
	return 0;
}

/* ---- writes ---- */

struct mx_pusher_set_job {
	const struct mx_store_pusher *p;
	bool append;
	int64_t id, last_nid;
};

static int mx_store_pusher_set_job(struct mx_db_conn *c, void *arg)
{
	struct mx_pusher_set_job *j = arg;
	const struct mx_store_pusher *p = j->p;
	int rc = 0;
	/* SPEC: POST /pushers/set, append false: "the homeserver must remove
	 * any other pushers with the same App ID and pushkey for different
	 * users". */
	if (!j->append)
		rc = mx_db_run(c, "DELETE FROM pushers WHERE app_id = ? AND pushkey = ? AND user_id != ?",
			       "sss", p->app_id, p->pushkey, p->user_id);
	if (rc)
		return rc;
	/* A new pusher pushes what comes from now on, as Synapse's does. */
	int64_t now_nid = mx_store_events_max_nid(c);
	rc = mx_db_run(c,
		       "INSERT INTO pushers (user_id, device_id, kind, app_id, pushkey, app_display_name,"
		       " device_display_name, profile_tag, lang, data, pushkey_ts, last_nid)"
		       " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
		       " ON CONFLICT (user_id, app_id, pushkey) DO UPDATE SET"
		       " device_id = excluded.device_id, kind = excluded.kind,"
		       " app_display_name = excluded.app_display_name,"
		       " device_display_name = excluded.device_display_name,"
		       " profile_tag = excluded.profile_tag, lang = excluded.lang, data = excluded.data,"
		       " pushkey_ts = excluded.pushkey_ts",
		       "ssssssssssii", p->user_id, p->device_id, p->kind, p->app_id, p->pushkey,
		       p->app_display_name, p->device_display_name,
		       p->profile_tag ? p->profile_tag : "", p->lang, p->data, p->pushkey_ts, now_nid);
	if (rc)
		return rc;
	struct mx_db_stmt *st;
	rc = mx_db_query(c, &st,
			 "SELECT id, last_nid FROM pushers WHERE user_id = ? AND app_id = ? AND pushkey = ?",
			 "sss", p->user_id, p->app_id, p->pushkey);
	if (rc != MX_DB_ROW)
		return rc < 0 ? rc : MX_EDB;
	j->id = mx_db_col_int64(st, 0);
	j->last_nid = mx_db_col_int64(st, 1);
	mx_db_done(st);
	return 0;
}

int mx_store_pusher_set(struct mx_db *db, const struct mx_store_pusher *p, bool append,
			int64_t *id, int64_t *last_nid)
{
	struct mx_pusher_set_job j = {p, append, 0, 0};
	int rc = mx_db_write(db, mx_store_pusher_set_job, &j);
	*id = rc ? 0 : j.id;
	*last_nid = rc ? 0 : j.last_nid;
	return rc;
}

struct mx_pusher_delete_job {
	const char *user_id, *app_id, *pushkey;
	int64_t id;
};

static int mx_store_pusher_delete_job(struct mx_db_conn *c, void *arg)
{
	struct mx_pusher_delete_job *j = arg;
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st, "SELECT id FROM pushers WHERE user_id = ? AND app_id = ? AND pushkey = ?",
			     "sss", j->user_id, j->app_id, j->pushkey);
	if (rc != MX_DB_ROW)
		return rc < 0 ? rc : 0;
	j->id = mx_db_col_int64(st, 0);
	mx_db_done(st);
	return mx_db_run(c, "DELETE FROM pushers WHERE id = ?", "i", j->id);
}

int mx_store_pusher_delete(struct mx_db *db, const char *user_id, const char *app_id,
			   const char *pushkey, int64_t *id)
{
	struct mx_pusher_delete_job j = {user_id, app_id, pushkey, 0};
	int rc = mx_db_write(db, mx_store_pusher_delete_job, &j);
	*id = rc ? 0 : j.id;
	return rc;
}

static int mx_store_pusher_delete_id_job(struct mx_db_conn *c, void *arg)
{
	return mx_db_run(c, "DELETE FROM pushers WHERE id = ?", "i", *(int64_t *)arg);
}

int mx_store_pusher_delete_id(struct mx_db *db, int64_t id)
{
	return mx_db_write(db, mx_store_pusher_delete_id_job, &id);
}

struct mx_pusher_advance_job {
	struct mx_store_pusher_pos *v;
	size_t n;
};

static int mx_store_pushers_advance_job(struct mx_db_conn *c, void *arg)
{
	struct mx_pusher_advance_job *j = arg;
	for (size_t i = 0; i < j->n; i++) {
		int rc = mx_db_run(c, "UPDATE pushers SET last_nid = ? WHERE id = ? AND last_nid < ?",
				   "iii", j->v[i].last_nid, j->v[i].id, j->v[i].last_nid);
		if (rc)
			return rc;
	}
	return 0;
}

static void mx_store_pushers_advance_done(void *arg, int result)
{
	struct mx_pusher_advance_job *j = arg;
	(void)result; /* a lost position means a notification sent again after a restart */
	free(j->v);
	free(j);
}

void mx_store_pushers_advance(struct mx_db *db, struct mx_store_pusher_pos *v, size_t n)
{
	if (!n) {
		free(v);
		return;
	}
	struct mx_pusher_advance_job *j = mx_xmalloc(sizeof(*j));
	j->v = v;
	j->n = n;
	mx_db_write_async(db, mx_store_pushers_advance_job, j, mx_store_pushers_advance_done);
}

int mx__store_pushers_device_gone(struct mx_db_conn *c, const char *user_id, const char *device_id,
				  const char *keep)
{
	if (device_id)
		return mx_db_run(c, "DELETE FROM pushers WHERE user_id = ? AND device_id = ?", "ss",
				 user_id, device_id);
	if (keep)
		return mx_db_run(c, "DELETE FROM pushers WHERE user_id = ? AND device_id IS NOT ?", "ss",
				 user_id, keep);
	return mx_db_run(c, "DELETE FROM pushers WHERE user_id = ?", "s", user_id);
}

/* ---- what delivery reads ---- */

const char *mx_store_pusher_user_actions(struct mx_arena *a, const char *localpart,
					 const char *actions, const char *actions_other)
{
	if (actions_other) {
		json_t *o = json_loads(actions_other, 0, NULL);
		json_t *mine = json_object_get(o, localpart);
		char *text = json_is_array(mine) ? json_dumps(mine, JSON_COMPACT) : NULL;
		json_decref(o);
		if (text) {
			const char *v = mx_arena_strdup(a, text);
			free(text);
			return v;
		}
	}
	return mx_arena_strdup(a, actions ? actions : "[]");
}

/* user_id's localpart, in a. */
static const char *mx_pusher_localpart(struct mx_arena *a, const char *user_id)
{
	const char *s = user_id[0] == '@' ? user_id + 1 : user_id;
	const char *colon = strchr(s, ':');
	return mx_arena_strndup(a, s, colon ? (size_t)(colon - s) : strlen(s));
}

static int mx_pusher_notif_cmp(const void *x, const void *y)
{
	const struct mx_store_pusher_notif *a = x, *b = y;
	return a->event_nid < b->event_nid ? -1 : a->event_nid > b->event_nid ? 1 : 0;
}

int mx_store_pusher_pending(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
			    int64_t after_nid, size_t limit, struct mx_store_pusher_notif **out,
			    size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!limit)
		return 0;
	static const char *const memberships[] = {"join", "invite", NULL};
	struct mx_store_user_room *rooms;
	size_t n_rooms;
	int rc = mx_store_user_rooms(c, a, user_id, memberships, &rooms, &n_rooms);
	if (rc)
		return rc;
	const char *localpart = mx_pusher_localpart(a, user_id);
	const char *pattern = mx_arena_printf(a, "%c%s%c", MX_STORE_PUSH_SEP, localpart,
					      MX_STORE_PUSH_SEP);
	struct mx_store_pusher_notif *v = NULL;
	size_t nv = 0, cap = 0;
	for (size_t i = 0; i < n_rooms; i++) {
		int64_t read = mx_store_receipt_read_nid(c, rooms[i].room_id, user_id, NULL);
		int64_t after = read > after_nid ? read : after_nid;
		struct mx_db_stmt *st;
		/* Walks the room's rows after the position (the primary key's
		 * order): a room with many rows since then that do not name
		 * the user costs a longer scan, once. */
		rc = mx_db_prepare(c,
				   "SELECT p.event_nid, e.event_id, p.actions, p.actions_other"
				   " FROM event_push_actions p JOIN events e ON e.nid = p.event_nid"
				   " WHERE p.room_id = ?1 AND p.event_nid > ?2 AND instr(p.notify, ?3) > 0"
				   " ORDER BY p.event_nid LIMIT ?4",
				   &st);
		if (rc)
			return rc;
		mx_db_bind_text(st, 1, rooms[i].room_id);
		mx_db_bind_int64(st, 2, after);
		mx_db_bind_text(st, 3, pattern);
		mx_db_bind_int64(st, 4, (int64_t)limit);
		while ((rc = mx_db_step(st)) == MX_DB_ROW) {
			if (nv == cap) {
				cap = cap ? cap * 2 : 16;
				struct mx_store_pusher_notif *nw = mx_arena_alloc(a, cap * sizeof(*nw));
				if (nv)
					memcpy(nw, v, nv * sizeof(*nw));
				v = nw;
			}
			v[nv++] = (struct mx_store_pusher_notif){
				.event_nid = mx_db_col_int64(st, 0),
				.room_id = rooms[i].room_id,
				.event_id = mx_arena_strdup(a, mx_db_col_text(st, 1)),
				.actions = mx_store_pusher_user_actions(a, localpart,
									mx_db_col_text(st, 2),
									mx_db_col_text(st, 3)),
			};
		}
		if (rc < 0)
			return rc;
	}
	if (nv)
		qsort(v, nv, sizeof(*v), mx_pusher_notif_cmp);
	*out = v;
	*n = nv < limit ? nv : limit;
	return 0;
}

int mx_store_pusher_badge(struct mx_db_conn *c, const char *user_id, const char *unread_room,
			  int64_t *badge)
{
	static const char *const memberships[] = {"join", "invite", NULL};
	struct mx_arena a;
	mx_arena_init(&a);
	struct mx_store_user_room *rooms;
	size_t n_rooms;
	*badge = 0;
	int rc = mx_store_user_rooms(c, &a, user_id, memberships, &rooms, &n_rooms);
	for (size_t i = 0; !rc && i < n_rooms; i++) {
		if (strcmp(rooms[i].membership, "join") != 0 ||
		    (unread_room && !strcmp(rooms[i].room_id, unread_room))) {
			(*badge)++;
			continue;
		}
		struct mx_store_push_count *counts;
		size_t n = 0;
		rc = mx_store_push_counts(c, &a, user_id, rooms[i].room_id, &counts, &n);
		for (size_t k = 0; !rc && k < n; k++)
			if (counts[k].notif > 0) {
				(*badge)++;
				break;
			}
	}
	mx_arena_release(&a);
	return rc;
}
