/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside sync/: the ephemeral parts of a /sync response: each joined
 * room's "ephemeral" events (m.typing, m.receipt) and the top-level
 * "presence" events, from the typing, receipts and presence streams.
 * SPEC: client-server-api#get_matrixclientv3sync
 */
#ifndef MX_SYNC_EPHEMERAL_H
#define MX_SYNC_EPHEMERAL_H

#include <jansson.h>
#include <stdbool.h>

#include "sync/sync_internal.h"

/*
 * Before the rooms: set s->now's receipts, typing and presence positions
 * and, for an incremental sync, read the receipts changed since the token.
 * Returns 0 or a store error.
 */
int mx_sync_ephemeral_begin(struct mx_sync *s);

/*
 * The "ephemeral" events of joined room_id (an array owned by the request
 * arena): m.typing if the typers changed since the token (full: if anyone
 * types), m.receipt with the receipts changed since the token (full: all
 * of them), m.read.private only the syncing user's own; the room filter's
 * "ephemeral" part applies.
 */
json_t *mx_sync_ephemeral_room(struct mx_sync *s, const char *room_id, bool full);

/*
 * The "presence" events (an array owned by the request arena), after the
 * rooms: users sharing a room with the syncing user (and the user) whose
 * presence changed since the token; on an initial sync, and for the
 * members of rooms joined since the token, everyone's who is not offline.
 * The filter's "presence" part applies. Sets s->any if not empty.
 */
json_t *mx_sync_presence(struct mx_sync *s);

#endif
