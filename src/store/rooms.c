/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The event graph in SQL. State groups: a group is its parent plus a delta
 * of (state key id -> event nid); after MX_STATE_SNAPSHOT_EVERY deltas a
 * full snapshot starts a new chain, so reading a state walks at most that
 * many groups. Each group carries an order-independent hash of its full
 * content (XOR of per-entry hashes, updated incrementally), so an identical
 * state reuses the existing group instead of writing a new one.
 */
#include "store/rooms.h"

#include <string.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/error.h"
#include "crypto/hash.h"
#include "core/mem.h"
#include "db/db.h"
#include "store/relations.h"
#include "store/search.h"

#define MX_STATE_SNAPSHOT_EVERY 100
#define MX_STATE_HASH_LEN 16

#define MX_EVENT_COLS                                                                          \
	"e.nid, e.event_id, e.room_id, e.type, e.state_key, e.sender, e.depth,"                 \
	" e.origin_server_ts, e.json, e.redacted_by, e.txn_device, e.txn_id, e.state_group,"   \
	" e.replaces_state"

static const char *mx_dup(struct mx_arena *a, const char *s)
{
	return s ? mx_arena_strdup(a, s) : NULL;
}

static void mx_store_read_event(struct mx_db_stmt *st, struct mx_arena *a, struct mx_store_event *e)
{
	e->nid = mx_db_col_int64(st, 0);
	e->event_id = mx_dup(a, mx_db_col_text(st, 1));
	e->room_id = mx_dup(a, mx_db_col_text(st, 2));
	e->type = mx_dup(a, mx_db_col_text(st, 3));
	e->state_key = mx_dup(a, mx_db_col_text(st, 4));
	e->sender = mx_dup(a, mx_db_col_text(st, 5));
	e->depth = mx_db_col_int64(st, 6);
	e->origin_server_ts = mx_db_col_int64(st, 7);
	e->json = mx_dup(a, mx_db_col_text(st, 8));
	e->redacted_by = mx_dup(a, mx_db_col_text(st, 9));
	e->txn_device = mx_dup(a, mx_db_col_text(st, 10));
	e->txn_id = mx_dup(a, mx_db_col_text(st, 11));
	e->state_group = mx_db_col_int64(st, 12);
	e->replaces_state = mx_dup(a, mx_db_col_text(st, 13));
}

/* Step through st, calling cb per row. Returns rows seen or an error. */
static int mx_store_each_event(struct mx_db_stmt *st, struct mx_arena *a, mx_store_event_cb cb,
			       void *ctx)
{
	int rc, n = 0;
	while ((rc = mx_db_step(st)) == MX_DB_ROW) {
		struct mx_store_event e;
		mx_store_read_event(st, a, &e);
		n++;
		if (cb(ctx, &e)) {
			mx_db_done(st);
			return n;
		}
	}
	return rc < 0 ? rc : n;
}

/* ---- writes ---- */

static void mx_state_entry_hash(int64_t key_id, int64_t nid, unsigned char out[MX_STATE_HASH_LEN])
{
	unsigned char in[16], h[32];
	for (int i = 0; i < 8; i++) {
		in[i] = (unsigned char)((uint64_t)key_id >> (8 * i));
		in[8 + i] = (unsigned char)((uint64_t)nid >> (8 * i));
	}
	mx_sha256(in, sizeof(in), h);
	memcpy(out, h, MX_STATE_HASH_LEN);
}

static void mx_xor(unsigned char *dst, const unsigned char *src)
{
	for (int i = 0; i < MX_STATE_HASH_LEN; i++)
		dst[i] ^= src[i];
}

static int mx_store_key_id(struct mx_db_conn *c, const char *type, const char *state_key,
			   int64_t *out)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st, "SELECT id FROM state_keys WHERE type = ? AND state_key = ?",
			     "ss", type, state_key);
	if (rc == MX_DB_DONE)
		rc = mx_db_query(c, &st,
				 "INSERT INTO state_keys (type, state_key) VALUES (?, ?) RETURNING id",
				 "ss", type, state_key);
	if (rc != MX_DB_ROW)
		return rc < 0 ? rc : MX_EDB;
	*out = mx_db_col_int64(st, 0);
	mx_db_done(st);
	return 0;
}

/* The full content of group as (key_id, nid) rows: newest entry per key wins. */
static const char mx_sql_group_entries[] =
	"WITH RECURSIVE chain(id, d) AS ("
	" SELECT ?, 0"
	" UNION ALL SELECT g.prev_group, chain.d + 1 FROM state_groups g"
	" JOIN chain ON g.id = chain.id WHERE g.prev_group IS NOT NULL)"
	" SELECT key_id, event_nid FROM ("
	"  SELECT s.key_id, s.event_nid,"
	"   ROW_NUMBER() OVER (PARTITION BY s.key_id ORDER BY chain.d) AS rn"
	"  FROM state_group_entries s JOIN chain ON s.group_id = chain.id)"
	" WHERE rn = 1 AND event_nid != 0";

/*
 * Make the group for "parent + (key -> nid)": reuse an identical group if
 * one exists, else write a delta (or a snapshot when the chain is long).
 */
static int mx_store_state_group_add(struct mx_db_conn *c, const char *room_id, int64_t parent,
				    int64_t key_id, int64_t old_nid, int64_t nid, int64_t *out)
{
	unsigned char hash[MX_STATE_HASH_LEN] = {0}, h[MX_STATE_HASH_LEN];
	int64_t chain_len = 0;
	struct mx_db_stmt *st;
	int rc;
	if (parent) {
		rc = mx_db_query(c, &st, "SELECT chain_len, hash FROM state_groups WHERE id = ?", "i",
				 parent);
		if (rc != MX_DB_ROW)
			return rc < 0 ? rc : MX_EDB;
		chain_len = mx_db_col_int64(st, 0) + 1;
		size_t len;
		const void *p = mx_db_col_blob(st, 1, &len);
		if (len == MX_STATE_HASH_LEN)
			memcpy(hash, p, len);
		mx_db_done(st);
	}
	if (old_nid) {
		mx_state_entry_hash(key_id, old_nid, h);
		mx_xor(hash, h);
	}
	mx_state_entry_hash(key_id, nid, h);
	mx_xor(hash, h);

	rc = mx_db_query(c, &st, "SELECT id FROM state_groups WHERE room_id = ? AND hash = ?", "sb",
			 room_id, (const void *)hash, (size_t)MX_STATE_HASH_LEN);
	if (rc == MX_DB_ROW) {
		*out = mx_db_col_int64(st, 0);
		mx_db_done(st);
		return 0;
	}
	if (rc < 0)
		return rc;
	bool snapshot = !parent || chain_len >= MX_STATE_SNAPSHOT_EVERY;
	if (snapshot)
		rc = mx_db_query(c, &st,
				 "INSERT INTO state_groups (room_id, prev_group, chain_len, hash)"
				 " VALUES (?, NULL, 0, ?) RETURNING id",
				 "sb", room_id, (const void *)hash, (size_t)MX_STATE_HASH_LEN);
	else
		rc = mx_db_query(c, &st,
				 "INSERT INTO state_groups (room_id, prev_group, chain_len, hash)"
				 " VALUES (?, ?, ?, ?) RETURNING id",
				 "siib", room_id, parent, chain_len, (const void *)hash,
				 (size_t)MX_STATE_HASH_LEN);
	if (rc != MX_DB_ROW)
		return rc < 0 ? rc : MX_EDB;
	int64_t group = mx_db_col_int64(st, 0);
	mx_db_done(st);
	if (snapshot && parent) {
		rc = mx_db_prepare(c, mx_sql_group_entries, &st);
		if (rc)
			return rc;
		mx_db_bind_int64(st, 1, parent);
		/* Collect first: one statement cannot read and write the table. */
		size_t n = 0, cap = 64;
		int64_t *rows = mx_xmalloc(cap * 2 * sizeof(*rows));
		while ((rc = mx_db_step(st)) == MX_DB_ROW) {
			if (n == cap) {
				cap *= 2;
				rows = mx_xrealloc(rows, cap * 2 * sizeof(*rows));
			}
			rows[2 * n] = mx_db_col_int64(st, 0);
			rows[2 * n + 1] = mx_db_col_int64(st, 1);
			n++;
		}
		for (size_t i = 0; i < n && rc >= 0; i++)
			rc = mx_db_run(c,
				       "INSERT INTO state_group_entries (group_id, key_id, event_nid)"
				       " VALUES (?, ?, ?)",
				       "iii", group, rows[2 * i], rows[2 * i + 1]);
		free(rows);
		if (rc < 0)
			return rc;
	}
	rc = mx_db_run(c,
		       "INSERT INTO state_group_entries (group_id, key_id, event_nid) VALUES (?, ?, ?)"
		       " ON CONFLICT (group_id, key_id) DO UPDATE SET event_nid = excluded.event_nid",
		       "iii", group, key_id, nid);
	if (rc)
		return rc;
	*out = group;
	return 0;
}

static int mx_store_apply_state(struct mx_db_conn *c, struct mx_persist_event *e, int64_t cur,
				int64_t *group)
{
	int64_t key_id, old_nid = 0;
	int rc = mx_store_key_id(c, e->type, e->state_key, &key_id);
	if (rc)
		return rc;
	struct mx_db_stmt *st;
	rc = mx_db_query(c, &st,
			 "SELECT event_nid FROM current_state WHERE room_id = ? AND type = ? AND state_key = ?",
			 "sss", e->room_id, e->type, e->state_key);
	if (rc == MX_DB_ROW) {
		old_nid = mx_db_col_int64(st, 0);
		mx_db_done(st);
	} else if (rc < 0) {
		return rc;
	}
	rc = mx_store_state_group_add(c, e->room_id, cur, key_id, old_nid, e->nid, group);
	if (!rc)
		rc = mx_db_run(c,
			       "INSERT INTO current_state (room_id, type, state_key, event_nid, membership)"
			       " VALUES (?, ?, ?, ?, ?) ON CONFLICT (room_id, type, state_key)"
			       " DO UPDATE SET event_nid = excluded.event_nid, membership = excluded.membership",
			       "sssis", e->room_id, e->type, e->state_key, e->nid, e->membership);
	if (!rc && e->membership)
		rc = mx_db_run(c,
			       "INSERT INTO membership_changes (nid, room_id, user_id, membership, sender)"
			       " VALUES (?, ?, ?, ?, ?)",
			       "issss", e->nid, e->room_id, e->state_key, e->membership, e->sender);
	if (!rc && e->membership && !strcmp(e->membership, "join"))
		rc = mx_db_run(c, "DELETE FROM room_forgotten WHERE user_id = ? AND room_id = ?", "ss",
			       e->state_key, e->room_id);
	if (!rc)
		rc = mx_db_run(c, "UPDATE rooms SET current_state_group = ? WHERE room_id = ?", "is",
			       *group, e->room_id);
	return rc;
}

static int mx_store_persist_one(struct mx_db_conn *c, struct mx_persist_event *e)
{
	int rc = 0;
	struct mx_db_stmt *st;
	if (e->new_room_version) {
		rc = mx_db_run(c,
			       "INSERT INTO rooms (room_id, room_version, creator, created_ts)"
			       " VALUES (?, ?, ?, ?)",
			       "sssi", e->room_id, e->new_room_version, e->new_room_creator,
			       mx_clock_now_ms());
		if (rc)
			return rc;
	}
	rc = mx_db_query(c, &st, "SELECT current_state_group FROM rooms WHERE room_id = ?", "s",
			 e->room_id);
	if (rc != MX_DB_ROW)
		return rc < 0 ? rc : MX_ENOTFOUND;
	int64_t cur = mx_db_col_int64(st, 0);
	mx_db_done(st);

	rc = mx_db_query(c, &st,
			 "INSERT INTO events (event_id, room_id, type, state_key, sender, depth,"
			 " origin_server_ts, json, relates_to, rel_type, thread_id, txn_device, txn_id,"
			 " replaces_state)"
			 " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING nid",
			 "sssssiisssssss", e->event_id, e->room_id, e->type, e->state_key, e->sender,
			 e->depth, e->origin_server_ts, e->json, e->relates_to, e->rel_type,
			 e->thread_id, e->txn_device, e->txn_id, e->replaces_state);
	if (rc != MX_DB_ROW)
		return rc < 0 ? rc : MX_EDB;
	e->nid = mx_db_col_int64(st, 0);
	mx_db_done(st);

	rc = 0;
	for (size_t i = 0; i < e->n_prev && !rc; i++) {
		rc = mx_db_run(c, "INSERT OR IGNORE INTO event_edges (event_nid, prev_event_id) VALUES (?, ?)",
			       "is", e->nid, e->prev_events[i]);
		if (!rc)
			rc = mx_db_run(c, "DELETE FROM room_extremities WHERE room_id = ? AND event_id = ?",
				       "ss", e->room_id, e->prev_events[i]);
	}
	if (!rc)
		rc = mx_db_run(c, "INSERT INTO room_extremities (room_id, event_id) VALUES (?, ?)", "ss",
			       e->room_id, e->event_id);
	e->state_group = cur;
	if (!rc && e->state_key)
		rc = mx_store_apply_state(c, e, cur, &e->state_group);
	if (!rc)
		rc = mx_db_run(c, "UPDATE events SET state_group = ? WHERE nid = ?", "ii", e->state_group,
			       e->nid);
	if (!rc && e->txn_id)
		rc = mx_db_run(c,
			       /* OR IGNORE: a duplicate is caught before building (room.c); the
			        * write of an event must never fail for it. */
			       "INSERT OR IGNORE INTO event_txns (user_id, device_id, txn_id, event_id, created_ts)"
			       " VALUES (?, ?, ?, ?, ?)",
			       "ssssi", e->txn_user, e->txn_device, e->txn_id, e->event_id,
			       mx_clock_now_ms());
	if (!rc)
		rc = mx__store_search_persisted(c, e); /* before the redaction mark: see search.h */
	if (!rc && e->redacts)
		rc = mx_db_run(c,
			       "UPDATE events SET redacted_by = ? WHERE event_id = ? AND room_id = ?"
			       " AND redacted_by IS NULL",
			       "sss", e->event_id, e->redacts, e->room_id);
	if (!rc)
		rc = mx__store_relations_persisted(c, e); /* the threads table */
	return rc;
}

static int mx_store_persist_job(struct mx_db_conn *c, void *arg)
{
	struct mx_persist_batch *j = arg;
	for (size_t i = 0; i < j->n; i++) {
		int rc = mx_store_persist_one(c, &j->evs[i]);
		if (rc)
			return rc;
	}
	return 0;
}

int mx_store_events_persist(struct mx_db *db, struct mx_persist_event *evs, size_t n)
{
	struct mx_persist_batch pb;
	mx_store_events_persist_submit(db, &pb, evs, n);
	return mx_store_events_persist_wait(db, &pb);
}

void mx_store_events_persist_submit(struct mx_db *db, struct mx_persist_batch *pb,
				    struct mx_persist_event *evs, size_t n)
{
	pb->evs = evs;
	pb->n = n;
	mx_db_write_submit(db, &pb->job, mx_store_persist_job, pb);
}

int mx_store_events_persist_wait(struct mx_db *db, struct mx_persist_batch *pb)
{
	return mx_db_write_wait(db, &pb->job);
}

/* ---- reads ---- */

int mx_store_room_get(struct mx_db_conn *c, struct mx_arena *a, const char *room_id,
		      struct mx_store_room *out)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st,
			     "SELECT room_id, room_version, creator, current_state_group, published"
			     " FROM rooms WHERE room_id = ?",
			     "s", room_id);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_DONE)
		return MX_ENOTFOUND;
	out->room_id = mx_dup(a, mx_db_col_text(st, 0));
	out->version = mx_dup(a, mx_db_col_text(st, 1));
	out->creator = mx_dup(a, mx_db_col_text(st, 2));
	out->state_group = mx_db_col_int64(st, 3);
	out->published = mx_db_col_int64(st, 4) != 0;
	mx_db_done(st);
	return 0;
}

int mx_store_event_get(struct mx_db_conn *c, struct mx_arena *a, const char *event_id,
		       struct mx_store_event *out)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st, "SELECT " MX_EVENT_COLS " FROM events e WHERE e.event_id = ?",
			     "s", event_id);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_DONE)
		return MX_ENOTFOUND;
	mx_store_read_event(st, a, out);
	mx_db_done(st);
	return 0;
}

int mx_store_room_events(struct mx_db_conn *c, struct mx_arena *a, const char *room_id,
			 int64_t from, int64_t to, bool backwards, int limit, mx_store_event_cb cb,
			 void *ctx)
{
	struct mx_db_stmt *st;
	int rc;
	if (backwards)
		rc = mx_db_prepare(c,
				   "SELECT " MX_EVENT_COLS " FROM events e WHERE e.room_id = ?"
				   " AND e.nid <= ? AND e.nid > ? AND e.outlier = 0"
				   " AND e.rejected IS NULL AND e.soft_failed = 0"
				   " ORDER BY e.nid DESC LIMIT ?",
				   &st);
	else
		rc = mx_db_prepare(c,
				   "SELECT " MX_EVENT_COLS " FROM events e WHERE e.room_id = ?"
				   " AND e.nid > ? AND e.nid <= ? AND e.outlier = 0"
				   " AND e.rejected IS NULL AND e.soft_failed = 0"
				   " ORDER BY e.nid ASC LIMIT ?",
				   &st);
	if (rc)
		return rc;
	mx_db_bind_text(st, 1, room_id);
	mx_db_bind_int64(st, 2, from);
	mx_db_bind_int64(st, 3, to);
	mx_db_bind_int64(st, 4, limit);
	return mx_store_each_event(st, a, cb, ctx);
}

int mx_store_room_state(struct mx_db_conn *c, struct mx_arena *a, const char *room_id,
			mx_store_event_cb cb, void *ctx)
{
	struct mx_db_stmt *st;
	int rc = mx_db_prepare(c,
			       "SELECT " MX_EVENT_COLS " FROM current_state s"
			       " JOIN events e ON e.nid = s.event_nid WHERE s.room_id = ?"
			       " ORDER BY s.type, s.state_key",
			       &st);
	if (rc)
		return rc;
	mx_db_bind_text(st, 1, room_id);
	return mx_store_each_event(st, a, cb, ctx);
}

int mx_store_state_group(struct mx_db_conn *c, struct mx_arena *a, int64_t group,
			 mx_store_event_cb cb, void *ctx)
{
	static const char sql[] =
		"WITH RECURSIVE chain(id, d) AS ("
		" SELECT ?, 0"
		" UNION ALL SELECT g.prev_group, chain.d + 1 FROM state_groups g"
		" JOIN chain ON g.id = chain.id WHERE g.prev_group IS NOT NULL),"
		" entries AS (SELECT key_id, event_nid FROM ("
		"  SELECT s.key_id, s.event_nid,"
		"   ROW_NUMBER() OVER (PARTITION BY s.key_id ORDER BY chain.d) AS rn"
		"  FROM state_group_entries s JOIN chain ON s.group_id = chain.id)"
		"  WHERE rn = 1 AND event_nid != 0)"
		" SELECT " MX_EVENT_COLS " FROM entries JOIN events e ON e.nid = entries.event_nid"
		" ORDER BY e.type, e.state_key";
	if (!group)
		return 0;
	struct mx_db_stmt *st;
	int rc = mx_db_prepare(c, sql, &st);
	if (rc)
		return rc;
	mx_db_bind_int64(st, 1, group);
	return mx_store_each_event(st, a, cb, ctx);
}

int mx_store_room_state_get(struct mx_db_conn *c, struct mx_arena *a, const char *room_id,
			    const char *type, const char *state_key, struct mx_store_event *out)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st,
			     "SELECT " MX_EVENT_COLS " FROM current_state s"
			     " JOIN events e ON e.nid = s.event_nid"
			     " WHERE s.room_id = ? AND s.type = ? AND s.state_key = ?",
			     "sss", room_id, type, state_key);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_DONE)
		return MX_ENOTFOUND;
	mx_store_read_event(st, a, out);
	mx_db_done(st);
	return 0;
}

int mx_store_room_extremities(struct mx_db_conn *c, struct mx_arena *a, const char *room_id,
			      const char ***out, size_t *n)
{
	struct mx_db_stmt *st;
	int rc = mx_db_prepare(c, "SELECT event_id FROM room_extremities WHERE room_id = ?", &st);
	if (rc)
		return rc;
	mx_db_bind_text(st, 1, room_id);
	size_t cap = 4, cnt = 0;
	const char **v = mx_arena_alloc(a, cap * sizeof(*v));
	while ((rc = mx_db_step(st)) == MX_DB_ROW) {
		if (cnt == cap) {
			const char **nv = mx_arena_alloc(a, cap * 2 * sizeof(*v));
			memcpy(nv, v, cap * sizeof(*v));
			v = nv;
			cap *= 2;
		}
		v[cnt++] = mx_arena_strdup(a, mx_db_col_text(st, 0));
	}
	if (rc < 0)
		return rc;
	*out = v;
	*n = cnt;
	return 0;
}

const char *mx_store_membership(struct mx_db_conn *c, struct mx_arena *a, const char *room_id,
				const char *user_id)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st,
			     "SELECT membership FROM current_state WHERE room_id = ?"
			     " AND type = 'm.room.member' AND state_key = ?",
			     "ss", room_id, user_id);
	if (rc != MX_DB_ROW)
		return NULL;
	const char *m = mx_dup(a, mx_db_col_text(st, 0));
	mx_db_done(st);
	return m;
}

static int mx_store_collect_user_rooms(struct mx_db_stmt *st, struct mx_arena *a,
				       const char *const *memberships, struct mx_store_user_room **out,
				       size_t *n)
{
	size_t cap = 16, cnt = 0;
	struct mx_store_user_room *v = mx_arena_alloc(a, cap * sizeof(*v));
	int rc;
	while ((rc = mx_db_step(st)) == MX_DB_ROW) {
		const char *m = mx_db_col_text(st, 1);
		bool want = !memberships;
		for (size_t i = 0; memberships && memberships[i] && !want; i++)
			want = m && !strcmp(m, memberships[i]);
		if (!want)
			continue;
		if (cnt == cap) {
			struct mx_store_user_room *nv = mx_arena_alloc(a, cap * 2 * sizeof(*v));
			memcpy(nv, v, cap * sizeof(*v));
			v = nv;
			cap *= 2;
		}
		v[cnt].room_id = mx_dup(a, mx_db_col_text(st, 0));
		v[cnt].membership = mx_dup(a, m);
		v[cnt].nid = mx_db_col_int64(st, 2);
		cnt++;
	}
	if (rc < 0)
		return rc;
	*out = v;
	*n = cnt;
	return 0;
}

int mx_store_user_rooms(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
			const char *const *memberships, struct mx_store_user_room **out, size_t *n)
{
	struct mx_db_stmt *st;
	int rc = mx_db_prepare(c,
			       "SELECT room_id, membership, event_nid FROM current_state"
			       " WHERE state_key = ? AND type = 'm.room.member'",
			       &st);
	if (rc)
		return rc;
	mx_db_bind_text(st, 1, user_id);
	return mx_store_collect_user_rooms(st, a, memberships, out, n);
}

int mx_store_membership_changes(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
				int64_t from, int64_t to, struct mx_store_user_room **out,
				size_t *n)
{
	struct mx_db_stmt *st;
	int rc = mx_db_prepare(c,
			       "SELECT room_id, membership, nid FROM membership_changes"
			       " WHERE user_id = ? AND nid > ? AND nid <= ? ORDER BY nid",
			       &st);
	if (rc)
		return rc;
	mx_db_bind_text(st, 1, user_id);
	mx_db_bind_int64(st, 2, from);
	mx_db_bind_int64(st, 3, to);
	return mx_store_collect_user_rooms(st, a, NULL, out, n);
}

int64_t mx_store_events_max_nid(struct mx_db_conn *c)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st, "SELECT COALESCE(MAX(nid), 0) FROM events", "");
	if (rc != MX_DB_ROW)
		return 0;
	int64_t v = mx_db_col_int64(st, 0);
	mx_db_done(st);
	return v;
}

int mx_store_txn_get(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
		     const char *device_id, const char *txn_id, const char **event_id)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st,
			     "SELECT event_id FROM event_txns WHERE user_id = ? AND device_id = ?"
			     " AND txn_id = ?",
			     "sss", user_id, device_id, txn_id);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_DONE)
		return MX_ENOTFOUND;
	*event_id = mx_dup(a, mx_db_col_text(st, 0));
	mx_db_done(st);
	return 0;
}

/* ---- aliases, directory flag, forgetting ---- */

const char *mx_store_alias_get(struct mx_db_conn *c, struct mx_arena *a, const char *alias)
{
	struct mx_db_stmt *st;
	if (mx_db_query(c, &st, "SELECT room_id FROM room_aliases WHERE alias = ?", "s", alias) !=
	    MX_DB_ROW)
		return NULL;
	const char *r = mx_dup(a, mx_db_col_text(st, 0));
	mx_db_done(st);
	return r;
}

struct mx_room_misc_job {
	int op;
	const char *a, *b, *c;
	int64_t i;
};

static int mx_store_room_misc_job(struct mx_db_conn *c, void *arg)
{
	struct mx_room_misc_job *j = arg;
	switch (j->op) {
	case 0:
		return mx_db_run(c, "INSERT INTO room_aliases (alias, room_id, creator) VALUES (?, ?, ?)",
				 "sss", j->a, j->b, j->c);
	case 1:
		return mx_db_run(c, "DELETE FROM room_aliases WHERE alias = ?", "s", j->a);
	case 2:
		return mx_db_run(c, "UPDATE rooms SET published = ? WHERE room_id = ?", "is", j->i, j->a);
	default:
		return mx_db_run(c, "INSERT OR IGNORE INTO room_forgotten (user_id, room_id) VALUES (?, ?)",
				 "ss", j->a, j->b);
	}
}

int mx_store_alias_create(struct mx_db *db, const char *alias, const char *room_id,
			  const char *creator)
{
	struct mx_room_misc_job j = {0, alias, room_id, creator, 0};
	return mx_db_write(db, mx_store_room_misc_job, &j);
}

int mx_store_alias_delete(struct mx_db *db, const char *alias)
{
	struct mx_room_misc_job j = {1, alias, NULL, NULL, 0};
	return mx_db_write(db, mx_store_room_misc_job, &j);
}

int mx_store_room_set_published(struct mx_db *db, const char *room_id, bool published)
{
	struct mx_room_misc_job j = {2, room_id, NULL, NULL, published};
	return mx_db_write(db, mx_store_room_misc_job, &j);
}

int mx_store_room_forget(struct mx_db *db, const char *user_id, const char *room_id)
{
	struct mx_room_misc_job j = {3, user_id, room_id, NULL, 0};
	return mx_db_write(db, mx_store_room_misc_job, &j);
}

bool mx_store_room_forgotten(struct mx_db_conn *c, const char *user_id, const char *room_id)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st, "SELECT 1 FROM room_forgotten WHERE user_id = ? AND room_id = ?",
			     "ss", user_id, room_id);
	if (rc == MX_DB_ROW)
		mx_db_done(st);
	return rc == MX_DB_ROW;
}

int mx_store_state_group_get(struct mx_db_conn *c, struct mx_arena *a, int64_t group,
			     const char *type, const char *state_key, struct mx_store_event *out)
{
	static const char sql[] =
		"WITH RECURSIVE chain(id, d) AS ("
		" SELECT ?, 0"
		" UNION ALL SELECT g.prev_group, chain.d + 1 FROM state_groups g"
		" JOIN chain ON g.id = chain.id WHERE g.prev_group IS NOT NULL)"
		" SELECT " MX_EVENT_COLS " FROM state_group_entries s JOIN chain ON s.group_id = chain.id"
		" JOIN events e ON e.nid = s.event_nid"
		" WHERE s.key_id = (SELECT id FROM state_keys WHERE type = ? AND state_key = ?)"
		" ORDER BY chain.d LIMIT 1";
	if (!group)
		return MX_ENOTFOUND;
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st, sql, "iss", group, type, state_key);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_DONE)
		return MX_ENOTFOUND;
	mx_store_read_event(st, a, out);
	mx_db_done(st);
	return 0;
}

int64_t mx_store_room_state_group_at(struct mx_db_conn *c, const char *room_id, int64_t pos)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st,
			     "SELECT state_group FROM events WHERE room_id = ? AND nid <= ?"
			     " AND outlier = 0 AND rejected IS NULL ORDER BY nid DESC LIMIT 1",
			     "si", room_id, pos);
	if (rc != MX_DB_ROW)
		return 0;
	int64_t g = mx_db_col_int64(st, 0);
	mx_db_done(st);
	return g;
}

int mx_store_room_event_at_ts(struct mx_db_conn *c, struct mx_arena *a, const char *room_id,
			      int64_t ts, bool forward, struct mx_store_event *out)
{
	struct mx_db_stmt *st;
	int rc = forward ? mx_db_query(c, &st,
				       "SELECT " MX_EVENT_COLS " FROM events e WHERE e.room_id = ?"
				       " AND e.origin_server_ts >= ? AND e.outlier = 0"
				       " AND e.rejected IS NULL ORDER BY e.origin_server_ts, e.nid LIMIT 1",
				       "si", room_id, ts)
			 : mx_db_query(c, &st,
				       "SELECT " MX_EVENT_COLS " FROM events e WHERE e.room_id = ?"
				       " AND e.origin_server_ts <= ? AND e.outlier = 0"
				       " AND e.rejected IS NULL ORDER BY e.origin_server_ts DESC, e.nid DESC"
				       " LIMIT 1",
				       "si", room_id, ts);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_DONE)
		return MX_ENOTFOUND;
	mx_store_read_event(st, a, out);
	mx_db_done(st);
	return 0;
}
