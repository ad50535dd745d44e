/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Push actions in SQL: what the push rules gave each event for each local
 * user (event_push_actions), and per (user, room, thread) the newest
 * action and the user's own newest event there (push_threads). /sync
 * counts unread notifications from them; GET /notifications lists them.
 *
 * Counting costs one row per thread with activity after the user's
 * unthreaded receipt plus an index range over the unread actions: read
 * actions are never scanned.
 *
 * An action is unread while its event comes after the user's read point
 * for the event's thread: the newest of the user's unthreaded m.read /
 * m.read.private receipts, their receipts for that thread ("main" or a
 * thread root, as store/receipts.h keeps them) and their own latest event
 * in that thread (SPEC: client-server-api#receiving-notifications, "When
 * the user updates their read receipt (either by using the API or by
 * sending an event)").
 */
#ifndef MX_STORE_PUSH_H
#define MX_STORE_PUSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mx_arena;
struct mx_db;
struct mx_db_conn;

/* One row to write: an action for a user, or (mark) a user's own event. */
struct mx_store_push_row {
	const char *user_id;
	const char *room_id;
	const char *event_id;
	int64_t event_nid;
	/* "main", a thread root, or NULL to find it by following the event's
	 * relations (mx_store_event_thread) inside the write. */
	const char *thread_id;
	bool mark;           /* user_id sent this event: they have read up to it */
	bool notif;
	bool highlight;
	const char *actions; /* the rule's actions, JSON text (not for marks) */
	int64_t ts;          /* ms */
};

/* Write rows in one durable write job (duplicates are ignored). */
int mx_store_push_add(struct mx_db *db, const struct mx_store_push_row *rows, size_t n);

struct mx_store_push_count {
	const char *thread_id;  /* "main" or a thread root (arena) */
	int64_t notif;
	int64_t highlight;
};
/*
 * user's unread notification and highlight counts in room_id, one entry
 * per thread that has any (in a). Returns 0 or an error.
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
 */
int mx_store_push_notifications(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
				int64_t before, bool only_highlight, int limit,
				struct mx_store_push_notif **out, size_t *n);

#endif
