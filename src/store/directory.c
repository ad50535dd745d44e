/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Aliases and the published room list. The list is read in two queries
 * (the rooms with their joined counts, then the state rows their entries
 * need) merged by room id, rather than one query per room.
 */
#include "store/directory.h"

#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/error.h"
#include "db/db.h"

static const char *mx_dup(struct mx_arena *a, const char *s)
{
	return s ? mx_arena_strdup(a, s) : NULL;
}

int mx_store_alias_info(struct mx_db_conn *c, struct mx_arena *a, const char *alias,
			const char **room_id, const char **creator)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st, "SELECT room_id, creator FROM room_aliases WHERE alias = ?", "s",
			     alias);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_DONE)
		return MX_ENOTFOUND;
	*room_id = mx_dup(a, mx_db_col_text(st, 0));
	*creator = mx_dup(a, mx_db_col_text(st, 1));
	mx_db_done(st);
	return 0;
}

int mx_store_room_aliases(struct mx_db_conn *c, struct mx_arena *a, const char *room_id,
			  const char ***aliases, size_t *n)
{
	struct mx_db_stmt *st;
	int rc = mx_db_prepare(c, "SELECT alias FROM room_aliases WHERE room_id = ? ORDER BY alias",
			       &st);
	if (rc)
		return rc;
	mx_db_bind_text(st, 1, room_id);
	size_t cap = 8, cnt = 0;
	const char **v = mx_arena_alloc(a, cap * sizeof(*v));
	while ((rc = mx_db_step(st)) == MX_DB_ROW) {
		if (cnt == cap) {
			const char **nv = mx_arena_alloc(a, cap * 2 * sizeof(*v));
			memcpy(nv, v, cap * sizeof(*v));
			v = nv;
			cap *= 2;
		}
		v[cnt++] = mx_dup(a, mx_db_col_text(st, 0));
	}
	if (rc < 0)
		return rc;
	*aliases = v;
	*n = cnt;
	return 0;
}

struct mx_directory_job {
	const char *a, *b;
};

static int mx_store_alias_remove_job(struct mx_db_conn *c, void *arg)
{
	struct mx_directory_job *j = arg;
	int rc = mx_db_run(c, "DELETE FROM room_aliases WHERE alias = ? AND room_id = ?", "ss", j->a,
			   j->b);
	if (rc)
		return rc;
	return mx_db_changes(c) > 0 ? 0 : MX_ENOTFOUND;
}

int mx_store_alias_remove(struct mx_db *db, const char *alias, const char *room_id)
{
	struct mx_directory_job j = {alias, room_id};
	return mx_db_write(db, mx_store_alias_remove_job, &j);
}

static int mx_store_directory_upgrade_job(struct mx_db_conn *c, void *arg)
{
	struct mx_directory_job *j = arg;
	int rc = mx_db_run(c, "UPDATE room_aliases SET room_id = ? WHERE room_id = ?", "ss", j->b,
			   j->a);
	if (!rc)
		rc = mx_db_run(c,
			       "UPDATE rooms SET published = 1 WHERE room_id = ?"
			       " AND EXISTS (SELECT 1 FROM rooms o WHERE o.room_id = ? AND o.published = 1)",
			       "ss", j->b, j->a);
	if (!rc)
		rc = mx_db_run(c, "UPDATE rooms SET published = 0 WHERE room_id = ?", "s", j->a);
	return rc;
}

int mx_store_directory_upgrade(struct mx_db *db, const char *old_room, const char *new_room)
{
	struct mx_directory_job j = {old_room, new_room};
	return mx_db_write(db, mx_store_directory_upgrade_job, &j);
}

static int mx_public_room_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct mx_store_public_room *)elem)->room_id);
}

/* Put one state row into its room's entry. */
static void mx_public_room_fill(struct mx_store_public_room *r, struct mx_arena *a,
				const char *type, const char *json, bool redacted)
{
	static const char *const types[] = {"m.room.create", "m.room.name", "m.room.topic",
					    "m.room.canonical_alias", "m.room.avatar",
					    "m.room.join_rules", "m.room.history_visibility",
					    "m.room.guest_access"};
	const char **slots[] = {&r->create, &r->name, &r->topic, &r->canonical_alias,
				&r->avatar, &r->join_rules, &r->history_visibility,
				&r->guest_access};
	bool *flags[] = {NULL, &r->name_redacted, &r->topic_redacted, &r->alias_redacted,
			 &r->avatar_redacted, NULL, NULL, &r->guest_redacted};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (strcmp(type, types[i]) != 0)
			continue;
		*slots[i] = mx_dup(a, json);
		if (flags[i])
			*flags[i] = redacted;
		return;
	}
}

int mx_store_public_rooms(struct mx_db_conn *c, struct mx_arena *a, size_t max,
			  struct mx_store_public_room **out, size_t *n, bool *truncated)
{
	struct mx_db_stmt *st;
	int rc = mx_db_prepare(c,
			   "SELECT r.room_id, (SELECT COUNT(*) FROM current_state m"
			   "  WHERE m.room_id = r.room_id AND m.type = 'm.room.member'"
			   "  AND m.membership = 'join')"
			   " FROM rooms r WHERE r.published = 1 ORDER BY r.room_id LIMIT ?",
			   &st);
	if (rc)
		return rc;
	mx_db_bind_int64(st, 1, (int64_t)max + 1);
	size_t cap = 16, cnt = 0;
	struct mx_store_public_room *v = mx_arena_alloc(a, cap * sizeof(*v));
	*truncated = false;
	while ((rc = mx_db_step(st)) == MX_DB_ROW) {
		if (cnt == max) {
			*truncated = true;
			mx_db_done(st);
			rc = MX_DB_DONE;
			break;
		}
		if (cnt == cap) {
			struct mx_store_public_room *nv = mx_arena_alloc(a, cap * 2 * sizeof(*v));
			memcpy(nv, v, cap * sizeof(*v));
			v = nv;
			cap *= 2;
		}
		memset(&v[cnt], 0, sizeof(v[cnt]));
		v[cnt].room_id = mx_dup(a, mx_db_col_text(st, 0));
		v[cnt].joined = mx_db_col_int64(st, 1);
		cnt++;
	}
	if (rc < 0)
		return rc;
	*out = v;
	*n = cnt;
	if (!cnt)
		return 0;
	rc = mx_db_prepare(c,
			   "SELECT cs.room_id, cs.type, e.json, e.redacted_by FROM rooms r"
			   " JOIN current_state cs ON cs.room_id = r.room_id AND cs.state_key = ''"
			   " JOIN events e ON e.nid = cs.event_nid"
			   " WHERE r.published = 1 AND cs.type IN ('m.room.create', 'm.room.name',"
			   "  'm.room.topic', 'm.room.canonical_alias', 'm.room.avatar',"
			   "  'm.room.join_rules', 'm.room.history_visibility', 'm.room.guest_access')",
			   &st);
	if (rc)
		return rc;
	while ((rc = mx_db_step(st)) == MX_DB_ROW) {
		const char *rid = mx_db_col_text(st, 0), *type = mx_db_col_text(st, 1);
		if (!rid || !type)
			continue;
		struct mx_store_public_room *r = bsearch(rid, v, cnt, sizeof(*v), mx_public_room_cmp);
		if (r)
			mx_public_room_fill(r, a, type, mx_db_col_text(st, 2),
					    !mx_db_col_is_null(st, 3));
	}
	return rc < 0 ? rc : 0;
}
