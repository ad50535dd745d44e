/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Typing notifications: in memory only (the spec calls them ephemeral),
 * per room the users typing and when each stops. Every change of a room's
 * set takes the next position of the typing stream (an in-memory serial
 * that starts at the wall-clock milliseconds of start-up, so positions
 * in tokens from before a restart are rarely ahead of it); /sync reports
 * a room whose set changed since the client's position. A timer thread
 * expires typers and wakes the room's joined local members, reading them
 * from the database through its own connection.
 *
 * Memory is bounded: at most MX_TYPING_MAX_ROOMS rooms and
 * MX_TYPING_MAX_PER_ROOM typers per room (more are not recorded); a room
 * nobody has typed in for ten minutes is forgotten, and a sync token older
 * than a forgotten room's last change is answered with an empty set.
 * SPEC: client-server-api#typing-notifications
 */
#ifndef MX_SYNC_TYPING_H
#define MX_SYNC_TYPING_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct mx_db;
struct mx_notifier;
struct mx_typing;

#define MX_TYPING_MAX_ROOMS 65536
#define MX_TYPING_MAX_PER_ROOM 256

/*
 * Start the module and its timer thread. db and n may be NULL (tests):
 * expiries then wake nobody. server_name is copied.
 */
struct mx_typing *mx_typing_new(struct mx_db *db, struct mx_notifier *n, const char *server_name);
/* Stop the timer thread and free everything. NULL is a no-op. */
void mx_typing_free(struct mx_typing *t);

/*
 * user_id starts typing in room_id for timeout_ms (typing) or stops.
 * Returns true if the room's set of typers changed (the caller wakes the
 * room's members); a repeated "typing" only extends the timeout.
 */
bool mx_typing_set(struct mx_typing *t, const char *room_id, const char *user_id, bool typing,
		   int64_t timeout_ms);

/* The typing stream's current position. */
int64_t mx_typing_position(struct mx_typing *t);

/*
 * The users typing in room_id as a new JSON array of ids, if the room's set
 * changed after position since (full: if anyone is typing), else NULL.
 */
json_t *mx_typing_room(struct mx_typing *t, const char *room_id, int64_t since, bool full);

#endif
