/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The room directory in SQL: the aliases a room has here (beyond the
 * single-alias helpers of store/rooms.h), moving them when a room is
 * upgraded, and the published room list with what its entries show.
 * SPEC: client-server-api#room-aliases, #published-room-directory
 *
 * Strings returned live in the given arena.
 */
#ifndef MX_STORE_DIRECTORY_H
#define MX_STORE_DIRECTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mx_arena;
struct mx_db;
struct mx_db_conn;

/*
 * The room and creator of a local alias. MX_ENOTFOUND if the alias is not
 * ours; other negative MX_E* on a database error.
 */
int mx_store_alias_info(struct mx_db_conn *c, struct mx_arena *a, const char *alias,
			const char **room_id, const char **creator);

/* Every local alias of room_id, sorted; *n may be 0. */
int mx_store_room_aliases(struct mx_db_conn *c, struct mx_arena *a, const char *room_id,
			  const char ***aliases, size_t *n);

/*
 * Remove an alias, atomically checking that it still maps to room_id (it
 * may have been deleted or moved by an upgrade since it was read).
 * MX_ENOTFOUND if no such mapping was there.
 */
int mx_store_alias_remove(struct mx_db *db, const char *alias, const char *room_id);

/*
 * A room upgrade's directory side, in one write: every alias of old_room
 * now maps to new_room (creators kept), and if old_room was published,
 * new_room is published in its place.
 */
int mx_store_directory_upgrade(struct mx_db *db, const char *old_room, const char *new_room);

/*
 * One published room as the directory shows it: its joined member count
 * and the PDUs (JSON text, NULL when absent) of the state events its entry
 * is made of. A redacted event keeps its stored text; *_redacted says so.
 */
struct mx_store_public_room {
	const char *room_id;
	int64_t joined;
	const char *create, *name, *topic, *canonical_alias, *avatar, *join_rules,
		*history_visibility, *guest_access;
	bool name_redacted, topic_redacted, alias_redacted, avatar_redacted, guest_redacted;
};

/*
 * The published rooms (rooms.published), ordered by room id, at most max
 * of them (*truncated set when there were more).
 */
int mx_store_public_rooms(struct mx_db_conn *c, struct mx_arena *a, size_t max,
			  struct mx_store_public_room **out, size_t *n, bool *truncated);

#endif
