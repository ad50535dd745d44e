/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Who to tell: membership queries over the current state for the fan-out
 * of ephemeral data (typing, receipts, presence), usable from any thread
 * with its own connection. Ids returned live in the given arena.
 */
#ifndef MX_STORE_MEMBERS_H
#define MX_STORE_MEMBERS_H

#include <stdbool.h>
#include <stddef.h>

struct mx_arena;
struct mx_db_conn;

/* The joined members of room_id on server_name (local users). */
int mx_store_room_joined_local(struct mx_db_conn *c, struct mx_arena *a, const char *room_id,
			       const char *server_name, const char ***users, size_t *n);

/*
 * The users who share a joined room with user_id, user_id included, each
 * once; only those on server_name when it is non-NULL.
 */
int mx_store_shared_room_users(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
			       const char *server_name, const char ***users, size_t *n);

/* Whether a and b are both joined to at least one common room. */
bool mx_store_users_share_room(struct mx_db_conn *c, const char *a, const char *b);

#endif
