/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Membership fan-out queries. current_state_members (state_key, type,
 * membership) finds a user's rooms; the primary key (room_id, type, ...)
 * then lists each room's members.
 */
#include "store/members.h"

#include <string.h>

#include "core/arena.h"
#include "core/error.h"
#include "db/db.h"

/* True if user_id's server part is server_name. */
static bool mx_members_on(const char *user_id, const char *server_name)
{
	const char *colon = strchr(user_id, ':');
	return colon && !strcmp(colon + 1, server_name);
}

/* Append s (copied into a) to the growing array *v. */
static void mx_members_push(struct mx_arena *a, const char ***v, size_t *n, size_t *cap,
			    const char *s)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		const char **nv = mx_arena_alloc(a, nc * sizeof(*nv));
		if (*n)
			memcpy(nv, *v, *n * sizeof(*nv));
		*v = nv;
		*cap = nc;
	}
	(*v)[(*n)++] = mx_arena_strdup(a, s);
}

static int mx_members_collect(struct mx_db_stmt *st, struct mx_arena *a, const char *server_name,
			      const char *first, const char ***users, size_t *n)
{
	size_t cap = 0;
	int rc;
	*users = NULL;
	*n = 0;
	if (first)
		mx_members_push(a, users, n, &cap, first);
	while ((rc = mx_db_step(st)) == MX_DB_ROW) {
		const char *u = mx_db_col_text(st, 0);
		if (!u || (server_name && !mx_members_on(u, server_name)) || (first && !strcmp(u, first)))
			continue;
		mx_members_push(a, users, n, &cap, u);
	}
	return rc < 0 ? rc : 0;
}

int mx_store_room_joined_local(struct mx_db_conn *c, struct mx_arena *a, const char *room_id,
			       const char *server_name, const char ***users, size_t *n)
{
	struct mx_db_stmt *st;
	int rc = mx_db_prepare(c,
			       "SELECT state_key FROM current_state WHERE room_id = ?"
			       " AND type = 'm.room.member' AND membership = 'join'",
			       &st);
	if (rc)
		return rc;
	mx_db_bind_text(st, 1, room_id);
	return mx_members_collect(st, a, server_name, NULL, users, n);
}

int mx_store_shared_room_users(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
			       const char *server_name, const char ***users, size_t *n)
{
	struct mx_db_stmt *st;
	int rc = mx_db_prepare(c,
			       "SELECT DISTINCT b.state_key FROM current_state a"
			       " JOIN current_state b ON b.room_id = a.room_id"
			       " AND b.type = 'm.room.member' AND b.membership = 'join'"
			       " WHERE a.state_key = ? AND a.type = 'm.room.member'"
			       " AND a.membership = 'join'",
			       &st);
	if (rc)
		return rc;
	mx_db_bind_text(st, 1, user_id);
	return mx_members_collect(st, a, server_name, user_id, users, n);
}

bool mx_store_users_share_room(struct mx_db_conn *c, const char *a, const char *b)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st,
			     "SELECT 1 FROM current_state x JOIN current_state y ON y.room_id = x.room_id"
			     " AND y.type = 'm.room.member' AND y.state_key = ? AND y.membership = 'join'"
			     " WHERE x.state_key = ? AND x.type = 'm.room.member'"
			     " AND x.membership = 'join' LIMIT 1",
			     "ss", b, a);
	if (rc != MX_DB_ROW)
		return false;
	mx_db_done(st);
	return true;
}
