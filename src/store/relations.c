/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Relations in SQL. Children are found through events_by_relation
 * (relates_to, rel_type; the nid rides along as the rowid, so one parent's
 * children of one rel_type come out in nid order without a sort) and
 * threads through the threads table (003_threads.sql).
 *
 * Optional filters are written "col = COALESCE(?, col)" rather than
 * "? IS NULL OR col = ?": one parameter, and a form PostgreSQL can type.
 * The room is a check on children, never a way to find them: it is written
 * "room_id || '' = ?" so that no planner picks events_by_room and walks a
 * whole room's history instead of one parent's children.
 */
#include "store/relations.h"

#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/error.h"
#include "core/mem.h"
#include "db/db.h"
#include "store/rooms.h"

/* A child that still counts: live in the room's timeline and not redacted. */
#define MX_REL_LIVE(t)                                                                   \
	" AND " t ".redacted_by IS NULL AND " t ".outlier = 0 AND " t ".rejected IS NULL"  \
	" AND " t ".soft_failed = 0"

static const char *mx_dup(struct mx_arena *a, const char *s)
{
	return s ? mx_arena_strdup(a, s) : NULL;
}

/* Rows (nid, event_id, sender) of st to cb. Returns rows consumed or an error. */
static int mx_rel_each_child(struct mx_db_stmt *st, struct mx_arena *a, mx_store_rel_child_cb cb,
			     void *ctx)
{
	int rc, n = 0;
	while ((rc = mx_db_step(st)) == MX_DB_ROW) {
		struct mx_store_rel_child ch = {
			.nid = mx_db_col_int64(st, 0),
			.event_id = mx_dup(a, mx_db_col_text(st, 1)),
			.sender = mx_dup(a, mx_db_col_text(st, 2)),
		};
		if (cb(ctx, &ch)) {
			mx_db_done(st);
			return n;
		}
		n++;
	}
	return rc < 0 ? rc : n;
}

int mx_store_relations_summary(struct mx_db_conn *c, struct mx_arena *a, const char *room_id,
			       const char *event_id, struct mx_store_rel_group **out, size_t *n)
{
	static const char sql[] =
		"SELECT e.rel_type, e.sender, COUNT(*), MAX(e.nid) FROM events e"
		" WHERE e.relates_to = ? AND e.rel_type IN ('m.replace', 'm.thread', 'm.reference')"
		" AND e.room_id || '' = ?" MX_REL_LIVE("e") " GROUP BY e.rel_type, e.sender";
	struct mx_db_stmt *st;
	*out = NULL;
	*n = 0;
	int rc = mx_db_prepare(c, sql, &st);
	if (rc)
		return rc;
	mx_db_bind_text(st, 1, event_id);
	mx_db_bind_text(st, 2, room_id);
	size_t cap = 0, cnt = 0;
	struct mx_store_rel_group *v = NULL;
	while ((rc = mx_db_step(st)) == MX_DB_ROW) {
		if (cnt == cap) {
			size_t ncap = cap ? cap * 2 : 4;
			struct mx_store_rel_group *nv = mx_arena_alloc(a, ncap * sizeof(*nv));
			if (cnt)
				memcpy(nv, v, cnt * sizeof(*nv));
			v = nv;
			cap = ncap;
		}
		v[cnt].rel_type = mx_dup(a, mx_db_col_text(st, 0));
		v[cnt].sender = mx_dup(a, mx_db_col_text(st, 1));
		v[cnt].count = mx_db_col_int64(st, 2);
		v[cnt].max_nid = mx_db_col_int64(st, 3);
		cnt++;
	}
	if (rc < 0)
		return rc;
	*out = v;
	*n = cnt;
	return 0;
}

int mx_store_relations_edits(struct mx_db_conn *c, struct mx_arena *a, const char *room_id,
			     const char *event_id, const char *sender, const char *type,
			     mx_store_rel_child_cb cb, void *ctx)
{
	/* SPEC: client-server-api#validity-of-replacement-events: same room,
	 * same sender, same type, no state_key. */
	static const char sql[] =
		"SELECT e.nid, e.event_id, e.sender FROM events e"
		" WHERE e.relates_to = ? AND e.rel_type = 'm.replace' AND e.room_id || '' = ?"
		" AND e.sender = ? AND e.type = ? AND e.state_key IS NULL" MX_REL_LIVE("e")
		" ORDER BY e.origin_server_ts DESC, e.event_id DESC";
	struct mx_db_stmt *st;
	int rc = mx_db_prepare(c, sql, &st);
	if (rc)
		return rc;
	mx_db_bind_text(st, 1, event_id);
	mx_db_bind_text(st, 2, room_id);
	mx_db_bind_text(st, 3, sender);
	mx_db_bind_text(st, 4, type);
	return mx_rel_each_child(st, a, cb, ctx);
}

int mx_store_relations_of_type(struct mx_db_conn *c, struct mx_arena *a, const char *room_id,
			       const char *event_id, const char *rel_type, const char *type,
			       const char *sender, int limit, mx_store_rel_child_cb cb, void *ctx)
{
	static const char sql[] =
		"SELECT e.nid, e.event_id, e.sender FROM events e"
		" WHERE e.relates_to = ? AND e.rel_type = ? AND e.room_id || '' = ?"
		" AND e.type = COALESCE(?, e.type) AND e.sender = COALESCE(?, e.sender)" MX_REL_LIVE("e")
		" ORDER BY e.nid LIMIT ?";
	struct mx_db_stmt *st;
	int rc = mx_db_prepare(c, sql, &st);
	if (rc)
		return rc;
	mx_db_bind_text(st, 1, event_id);
	mx_db_bind_text(st, 2, rel_type);
	mx_db_bind_text(st, 3, room_id);
	mx_db_bind_text(st, 4, type);
	mx_db_bind_text(st, 5, sender);
	mx_db_bind_int64(st, 6, limit);
	return mx_rel_each_child(st, a, cb, ctx);
}

/*
 * Direct children. With a rel_type, (relates_to, rel_type) is an equality
 * prefix of events_by_relation and the nid range and order come straight
 * from the index; without one, the parent's children are read and sorted.
 */
#define MX_SQL_CHILDREN                                                           \
	"SELECT e.nid, e.event_id, e.sender FROM events e"                        \
	" WHERE e.relates_to = ? AND e.room_id || '' = ? AND e.type = COALESCE(?, e.type)"
static const char mx_sql_children_b[] =
	MX_SQL_CHILDREN " AND e.rel_type IS NOT NULL AND e.nid <= ? AND e.nid > ?" MX_REL_LIVE("e")
	" ORDER BY e.nid DESC LIMIT ?";
static const char mx_sql_children_f[] =
	MX_SQL_CHILDREN " AND e.rel_type IS NOT NULL AND e.nid > ? AND e.nid <= ?" MX_REL_LIVE("e")
	" ORDER BY e.nid ASC LIMIT ?";
static const char mx_sql_children_rel_b[] =
	MX_SQL_CHILDREN " AND e.rel_type = ? AND e.nid <= ? AND e.nid > ?" MX_REL_LIVE("e")
	" ORDER BY e.nid DESC LIMIT ?";
static const char mx_sql_children_rel_f[] =
	MX_SQL_CHILDREN " AND e.rel_type = ? AND e.nid > ? AND e.nid <= ?" MX_REL_LIVE("e")
	" ORDER BY e.nid ASC LIMIT ?";

/*
 * Relations of relations: walk down to depth ? (each level one index
 * lookup per event), then filter and order the whole set. The filters
 * apply at every depth, as Synapse applies them; the walk itself follows
 * every rel_type. UNION and the depth bound stop on cycles, which room
 * versions with free-form event ids (v1, v2) can build; DISTINCT and the
 * parent check keep such a cycle from listing an event twice or the
 * parent itself.
 */
#define MX_SQL_TREE                                                                           \
	"WITH RECURSIVE rel(event_id, depth) AS ("                                            \
	" SELECT CAST(? AS TEXT), 0"                                                          \
	" UNION SELECT e.event_id, rel.depth + 1 FROM events e"                               \
	" JOIN rel ON e.relates_to = rel.event_id"                                            \
	" WHERE e.room_id || '' = ? AND e.rel_type IS NOT NULL AND rel.depth < ?" MX_REL_LIVE("e") \
	")"                                                                                   \
	" SELECT DISTINCT e.nid, e.event_id, e.sender FROM rel"                               \
	" JOIN events e ON e.event_id = rel.event_id"                                         \
	" WHERE rel.depth > 0 AND e.event_id <> ?"                                            \
	" AND e.rel_type = COALESCE(?, e.rel_type) AND e.type = COALESCE(?, e.type)"
static const char mx_sql_tree_b[] = MX_SQL_TREE " AND e.nid <= ? AND e.nid > ? ORDER BY e.nid DESC LIMIT ?";
static const char mx_sql_tree_f[] = MX_SQL_TREE " AND e.nid > ? AND e.nid <= ? ORDER BY e.nid ASC LIMIT ?";

int mx_store_relations_list(struct mx_db_conn *c, struct mx_arena *a,
			    const struct mx_store_rel_query *q, mx_store_rel_child_cb cb, void *ctx)
{
	struct mx_db_stmt *st;
	int rc, i = 1;
	if (q->depth <= 1) {
		const char *sql = q->rel_type ? (q->backwards ? mx_sql_children_rel_b : mx_sql_children_rel_f)
					      : (q->backwards ? mx_sql_children_b : mx_sql_children_f);
		rc = mx_db_prepare(c, sql, &st);
		if (rc)
			return rc;
		mx_db_bind_text(st, i++, q->event_id);
		mx_db_bind_text(st, i++, q->room_id);
		mx_db_bind_text(st, i++, q->type);
		if (q->rel_type)
			mx_db_bind_text(st, i++, q->rel_type);
	} else {
		rc = mx_db_prepare(c, q->backwards ? mx_sql_tree_b : mx_sql_tree_f, &st);
		if (rc)
			return rc;
		int depth = q->depth > MX_RELATIONS_MAX_DEPTH ? MX_RELATIONS_MAX_DEPTH : q->depth;
		mx_db_bind_text(st, i++, q->event_id);
		mx_db_bind_text(st, i++, q->room_id);
		mx_db_bind_int64(st, i++, depth);
		mx_db_bind_text(st, i++, q->event_id);
		mx_db_bind_text(st, i++, q->rel_type);
		mx_db_bind_text(st, i++, q->type);
	}
	mx_db_bind_int64(st, i++, q->from);
	mx_db_bind_int64(st, i++, q->to);
	mx_db_bind_int64(st, i++, q->limit);
	return mx_rel_each_child(st, a, cb, ctx);
}

const char *mx_store_relations_event_id(struct mx_db_conn *c, struct mx_arena *a, int64_t nid)
{
	struct mx_db_stmt *st;
	if (mx_db_query(c, &st, "SELECT event_id FROM events WHERE nid = ?", "i", nid) != MX_DB_ROW)
		return NULL;
	const char *id = mx_dup(a, mx_db_col_text(st, 0));
	mx_db_done(st);
	return id;
}

/* ---- threads ---- */

#define MX_SQL_THREADS                                                                  \
	"SELECT t.thread_id, t.latest_nid FROM threads t"                               \
	" JOIN events r ON r.event_id = t.thread_id AND r.room_id = t.room_id"          \
	" WHERE t.room_id = ? AND t.latest_nid <= ?"                                    \
	" AND r.outlier = 0 AND r.rejected IS NULL AND r.soft_failed = 0"
static const char mx_sql_threads_all[] = MX_SQL_THREADS " ORDER BY t.latest_nid DESC LIMIT ?";
static const char mx_sql_threads_mine[] =
	MX_SQL_THREADS " AND (r.sender = ? OR EXISTS (SELECT 1 FROM events c"
		       " WHERE c.relates_to = t.thread_id AND c.rel_type = 'm.thread'"
		       " AND c.room_id || '' = t.room_id AND c.sender = ?" MX_REL_LIVE("c") "))"
		       " ORDER BY t.latest_nid DESC LIMIT ?";

int mx_store_threads_list(struct mx_db_conn *c, struct mx_arena *a, const char *room_id,
			  const char *participant, int64_t before, int limit,
			  mx_store_thread_cb cb, void *ctx)
{
	struct mx_db_stmt *st;
	int rc = mx_db_prepare(c, participant ? mx_sql_threads_mine : mx_sql_threads_all, &st);
	if (rc)
		return rc;
	int i = 1;
	mx_db_bind_text(st, i++, room_id);
	mx_db_bind_int64(st, i++, before);
	if (participant) {
		mx_db_bind_text(st, i++, participant);
		mx_db_bind_text(st, i++, participant);
	}
	mx_db_bind_int64(st, i++, limit);
	int n = 0;
	while ((rc = mx_db_step(st)) == MX_DB_ROW) {
		struct mx_store_thread t = {
			.root_id = mx_dup(a, mx_db_col_text(st, 0)),
			.latest_nid = mx_db_col_int64(st, 1),
		};
		if (cb(ctx, &t)) {
			mx_db_done(st);
			return n;
		}
		n++;
	}
	return rc < 0 ? rc : n;
}

/* Recompute a thread's latest activity after one of its events went away. */
static int mx_rel_thread_recompute(struct mx_db_conn *c, const char *room_id, const char *thread_id)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st,
			     "SELECT MAX(e.nid) FROM events e WHERE e.room_id = ? AND e.thread_id = ?"
			     MX_REL_LIVE("e"),
			     "ss", room_id, thread_id);
	if (rc < 0)
		return rc;
	int64_t latest = 0;
	if (rc == MX_DB_ROW) {
		latest = mx_db_col_int64(st, 0); /* NULL (no live event left) reads as 0 */
		mx_db_done(st);
	}
	if (!latest)
		return mx_db_run(c, "DELETE FROM threads WHERE room_id = ? AND thread_id = ?", "ss",
				 room_id, thread_id);
	return mx_db_run(c, "UPDATE threads SET latest_nid = ? WHERE room_id = ? AND thread_id = ?",
			 "iss", latest, room_id, thread_id);
}

int mx__store_relations_persisted(struct mx_db_conn *c, const struct mx_persist_event *e)
{
	int rc = 0;
	if (e->thread_id && e->nid) {
		/* nids only grow, so the event just written is the newest. */
		rc = mx_db_run(c,
			       "INSERT INTO threads (room_id, thread_id, latest_nid) VALUES (?, ?, ?)"
			       " ON CONFLICT (room_id, thread_id) DO UPDATE SET latest_nid = excluded.latest_nid",
			       "ssi", e->room_id, e->thread_id, e->nid);
		if (rc)
			return rc;
	}
	if (e->redacts) {
		struct mx_db_stmt *st;
		rc = mx_db_query(c, &st,
				 "SELECT thread_id FROM events WHERE event_id = ? AND room_id = ?"
				 " AND thread_id IS NOT NULL",
				 "ss", e->redacts, e->room_id);
		if (rc < 0)
			return rc;
		if (rc == MX_DB_ROW) {
			/* Copied: the column dies with the statement. */
			char *thread_id = mx_xstrdup(mx_db_col_text(st, 0));
			mx_db_done(st);
			rc = mx_rel_thread_recompute(c, e->room_id, thread_id);
			free(thread_id);
			return rc;
		}
		rc = 0;
	}
	return rc;
}
