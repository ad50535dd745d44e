/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Push results in SQL: what the push rules gave one event for all the
 * room's local users, in one row (event_push_actions, clustered by room and
 * event). /sync counts unread notifications from it; GET /notifications
 * lists them.
 *
 * Why one row per event and not per (user, event): the per-user layout
 * rewrote about two hundred random B-tree pages per message in a room of a
 * hundred members. One row per event appends to the room's end of one
 * B-tree; a user's notifications are found by scanning the room's newest
 * rows, at most MX_STORE_PUSH_SCAN_MAX of them, for the user's name in the
 * row's lists.
 *
 * Users are local, so rows name them by localpart (the user id between '@'
 * and ':'). A list is framed by MX_STORE_PUSH_SEP: "\x1f" "alice" "\x1f"
 * "bob" "\x1f", or "" when empty (mx_store_push_list_add builds one).
 *
 * An event is unread for a user while it comes after the user's read point
 * for the event's thread: the newest of the user's unthreaded m.read /
 * m.read.private receipts, their receipts for that thread ("main" or a
 * thread root, as store/receipts.h keeps them) and their own latest event
 * in that thread (SPEC: client-server-api#receiving-notifications, "When
 * the user updates their read receipt (either by using the API or by
 * sending an event)"). The row of a local sender's event records the
 * sender for that last one, so an event of a local sender has a row even
 * when it notifies nobody.
 */
#ifndef MX_STORE_PUSH_H
#define MX_STORE_PUSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mx_arena;
struct mx_buf;
struct mx_db;
struct mx_db_conn;

#define MX_STORE_PUSH_SEP '\x1f'
/* Rows a count or a listing reads per room, newest first: counts above it
 * read as this many, older notifications are not listed. */
#define MX_STORE_PUSH_SCAN_MAX 1000

/*
 * Append user_id's localpart to a framed list (b starts empty). Returns 0,
 * or MX_ETOOLARGE past b's limit.
 */
int mx_store_push_list_add(struct mx_buf *b, const char *user_id);

/* One event's push results (all borrowed). */
struct mx_store_push_row {
	const char *room_id;
	const char *event_id;
	int64_t event_nid;
	/* "main", a thread root, or NULL to find it by following the event's
	 * relations (mx_store_event_thread) inside the write. */
	const char *thread_id;
	const char *sender;    /* the sender if local (sending reads the thread), or NULL */
	const char *notify;    /* framed localparts of the users notified ("" for none) */
	const char *highlight; /* framed localparts of the users highlighted ("" for none) */
	/* The actions (JSON text) of most notified users, NULL when none is;
	 * actions_other: {localpart: actions} for the others, or NULL. */
	const char *actions;
	const char *actions_other;
	int64_t ts;            /* ms */
};

/* Write rows in one durable write job (rows of events already stored are ignored). */
int mx_store_push_add(struct mx_db *db, const struct mx_store_push_row *rows, size_t n);

struct mx_store_push_count {
	const char *thread_id;  /* "main" or a thread root (arena) */
	int64_t notif;
	int64_t highlight;
};
/*
 * user's unread notification and highlight counts in room_id, one entry
 * per thread that has any (in a), reading at most MX_STORE_PUSH_SCAN_MAX
 * rows. Returns 0 or an error.
 */
int mx_store_push_counts(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
			 const char *room_id, struct mx_store_push_count **out, size_t *n);

struct mx_store_push_notif {
	const char *room_id, *event_id, *actions; /* arena */
	int64_t event_nid;
	int64_t ts;
	bool highlight;
	bool read;
};
/*
 * user's notified events with event_nid < before (0: from the newest),
 * newest first, at most limit, only highlights if only_highlight (in a).
 * Looks in the rooms the user is joined to or invited to, among the newest
 * MX_STORE_PUSH_SCAN_MAX rows of each.
 */
int mx_store_push_notifications(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
				int64_t before, bool only_highlight, int limit,
				struct mx_store_push_notif **out, size_t *n);

#endif
