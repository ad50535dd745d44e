/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pushers in SQL (table pushers, migration 014) and the reads their
 * delivery needs: the notifications a pusher has not delivered yet, and
 * the badge count sent with each one.
 * SPEC: client-server-api#push-notifications
 *
 * A pusher is one row per (user, app_id, pushkey) and belongs to the
 * device whose access token set it: deleting the device (logout, DELETE
 * /devices, password change with logout_devices, deactivation) deletes
 * its pushers in the same write job (mx__store_pushers_device_gone, called
 * from store/accounts.c). Its position, last_nid, is the event nid of the
 * newest notification it delivered or gave up on; it only moves forward.
 */
#ifndef MX_STORE_PUSHERS_H
#define MX_STORE_PUSHERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mx_arena;
struct mx_db;
struct mx_db_conn;

struct mx_store_pusher {
	int64_t id;
	const char *user_id;
	const char *device_id;            /* NULL: no device */
	const char *kind;                 /* "http" */
	const char *app_id, *pushkey;
	const char *app_display_name, *device_display_name;
	const char *profile_tag;          /* "" when not given */
	const char *lang;
	const char *data;                 /* the client's data object (JSON text), url included */
	int64_t pushkey_ts;               /* ms since the epoch: when it was last set */
	int64_t last_nid;
};

/*
 * user_id's pushers (NULL: every pusher, for start-up), in creation order,
 * in a. Returns 0 or an error.
 */
int mx_store_pushers_list(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
			  struct mx_store_pusher **out, size_t *n);
/* One pusher by id (in a). MX_ENOTFOUND when it is gone. */
int mx_store_pusher_get(struct mx_db_conn *c, struct mx_arena *a, int64_t id,
			struct mx_store_pusher *out);

/*
 * Create or update p's (user_id, app_id, pushkey) pusher with p's other
 * fields (p->id and p->last_nid are ignored). A new pusher starts at the
 * newest event (nothing older is pushed); an update keeps its position.
 * Unless append, other users' pushers with the same app_id and pushkey
 * are deleted (SPEC: POST /pushers/set, "append"). *id and *last_nid get
 * the pusher's id and position. One durable write; returns 0 or an error.
 */
int mx_store_pusher_set(struct mx_db *db, const struct mx_store_pusher *p, bool append,
			int64_t *id, int64_t *last_nid);
/*
 * Delete user_id's (app_id, pushkey) pusher. *id gets its id, or 0 when
 * there was none (not an error).
 */
int mx_store_pusher_delete(struct mx_db *db, const char *user_id, const char *app_id,
			   const char *pushkey, int64_t *id);
/* Delete a pusher by id (the gateway rejected its pushkey). */
int mx_store_pusher_delete_id(struct mx_db *db, int64_t id);

struct mx_store_pusher_pos {
	int64_t id;
	int64_t last_nid;
};
/*
 * Record delivery positions without waiting (mx_db_write_async: they are
 * committed with the next group commit). Takes v, heap memory, and frees
 * it. A position never moves back; a deleted pusher's is dropped.
 */
void mx_store_pushers_advance(struct mx_db *db, struct mx_store_pusher_pos *v, size_t n);

/* One notification of a user, as delivery needs it (strings in the arena). */
struct mx_store_pusher_notif {
	int64_t event_nid;
	const char *room_id, *event_id;
	const char *actions; /* the user's actions (JSON array text) */
};
/*
 * user_id's notifications (rows of event_push_actions that notify them)
 * with event_nid > after_nid that are still unread (after their
 * unthreaded read receipt in the room), oldest first, at most limit, from
 * the rooms they are joined to or invited to. Returns 0 or an error.
 */
int mx_store_pusher_pending(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
			    int64_t after_nid, size_t limit, struct mx_store_pusher_notif **out,
			    size_t *n);

/*
 * The badge count sent to push gateways, as Synapse counts it by default
 * (group_unread_count_by_room): the rooms the user is invited to plus the
 * joined rooms with unread notifications. unread_room, if not NULL, is
 * counted as unread without looking (the room of the notification being
 * sent, whose row may not be stored yet).
 */
int mx_store_pusher_badge(struct mx_db_conn *c, const char *user_id, const char *unread_room,
			  int64_t *badge);

/*
 * The user's actions in an event_push_actions row: their entry in
 * actions_other (a JSON object by localpart), else actions, else "[]"
 * (in a). localpart is the user's, without '@' or the server name.
 */
const char *mx_store_pusher_user_actions(struct mx_arena *a, const char *localpart,
					 const char *actions, const char *actions_other);

/*
 * Inside a write job (store/accounts.c): delete the pushers of user_id's
 * device_id, or, with device_id NULL, of every device but keep (keep NULL:
 * all of the user's pushers).
 */
int mx__store_pushers_device_gone(struct mx_db_conn *c, const char *user_id, const char *device_id,
				  const char *keep);

#endif
