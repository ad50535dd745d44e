/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Presence of local users, in memory: state (online, unavailable,
 * offline), status message, last activity and whether the user is
 * syncing. Every change a client would see takes the next position of the
 * presence stream (an in-memory serial starting at the wall-clock
 * milliseconds of start-up, like typing). A timer thread applies the
 * automatic changes, as Synapse does:
 *   - online with no activity for MX_PRESENCE_IDLE_MS -> unavailable;
 *   - not offline and not syncing for MX_PRESENCE_SYNC_TIMEOUT_MS after
 *     the last /sync (or PUT) ended -> offline;
 *   - currently_active turns false MX_PRESENCE_ACTIVE_MS after activity;
 * and wakes, for every change, the local users who share a room with the
 * user (from the database, through its own connection), off the request
 * threads.
 *
 * Activity (SPEC: client-server-api#last-active-ago): sending an event,
 * typing, a receipt, or setting presence online; it brings an unavailable
 * user back online. Memory: one entry per local user seen, at most
 * MX_PRESENCE_MAX_USERS.
 * SPEC: client-server-api#presence
 */
#ifndef MX_SYNC_PRESENCE_H
#define MX_SYNC_PRESENCE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct mx_arena;
struct mx_db;
struct mx_notifier;
struct mx_presence;
struct mx_room_event;

#define MX_PRESENCE_IDLE_MS (5 * 60 * 1000)
#define MX_PRESENCE_SYNC_TIMEOUT_MS (30 * 1000)
#define MX_PRESENCE_ACTIVE_MS (60 * 1000)
#define MX_PRESENCE_MAX_USERS 1000000
/* Status messages longer than this are refused (memory bound). */
#define MX_PRESENCE_STATUS_MAX 1024

enum mx_presence_state {
	MX_PRESENCE_OFFLINE = 0,
	MX_PRESENCE_UNAVAILABLE,
	MX_PRESENCE_ONLINE,
};

/* "online", "unavailable", "offline" -> state; MX_EINVALIDPARAM otherwise. */
int mx_presence_parse(const char *s, enum mx_presence_state *out);
const char *mx_presence_name(enum mx_presence_state s);

/*
 * Start the module and its timer thread. db and n may be NULL (tests):
 * changes then wake nobody. server_name is copied.
 */
struct mx_presence *mx_presence_new(struct mx_db *db, struct mx_notifier *n,
				    const char *server_name);
/* Stop the timer thread and free everything. NULL is a no-op. */
void mx_presence_free(struct mx_presence *p);

/*
 * PUT /presence: set state and status message (NULL clears it). Online
 * counts as activity.
 */
void mx_presence_set(struct mx_presence *p, const char *user_id, enum mx_presence_state state,
		     const char *status_msg);
/*
 * A /sync of user_id with set_presence (NULL means "online") that may
 * wait timeout_ms: the user counts as syncing until it ends. "online"
 * brings an offline user online, "unavailable" makes an offline user
 * unavailable; "offline" changes nothing and does not count as syncing.
 */
void mx_presence_synced(struct mx_presence *p, const char *user_id, const char *set_presence,
			int64_t timeout_ms);
/* user_id did something pro-active. */
void mx_presence_active(struct mx_presence *p, const char *user_id);
/* A room listener (ctx: the struct mx_presence): an event sent is activity. */
void mx_presence_on_room_event(void *ctx, const struct mx_room_event *ev);

/* The presence stream's current position. */
int64_t mx_presence_position(struct mx_presence *p);

/*
 * The m.presence content of user_id ({presence, last_active_ago,
 * currently_active, status_msg}) as a new object, or NULL if we hold
 * nothing for them. *serial (if non-NULL) is its position.
 */
json_t *mx_presence_content(struct mx_presence *p, const char *user_id, int64_t *serial);

/* The users whose presence changed after position since (ids in a). */
void mx_presence_changed(struct mx_presence *p, struct mx_arena *a, int64_t since,
			 const char ***users, size_t *n);

#endif
