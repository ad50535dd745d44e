/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Receipts and the fully-read marker. A receipt is one row per (room,
 * receipt type, user, thread); unthreaded receipts have thread "" in the
 * table (MX_RECEIPT_UNTHREADED). Each change takes the next position of the
 * receipts stream (receipts.stream_id, one greater than the largest so far,
 * inside the write job), so /sync can return what changed between two
 * positions. Receipts only move forward: a receipt for an event at or
 * before the one already acknowledged changes nothing, as in Synapse.
 * SPEC: client-server-api#receipts, client-server-api#fully-read-markers
 */
#ifndef MX_STORE_RECEIPTS_H
#define MX_STORE_RECEIPTS_H

#include <stdint.h>

struct mx_arena;
struct mx_db;
struct mx_db_conn;

#define MX_RECEIPT_UNTHREADED ""
/* SPEC: client-server-api#threaded-read-receipts: the main timeline's id. */
#define MX_RECEIPT_MAIN_THREAD "main"

/*
 * Set user's receipt of type in room (thread: MX_RECEIPT_UNTHREADED, "main"
 * or a thread root) to event_id, stamped ts (ms). *stream_id is the new
 * stream position, or 0 when nothing changed (the existing receipt is at
 * or after event_id). MX_ENOTFOUND if event_id is not an event of room_id.
 */
int mx_store_receipt_put(struct mx_db *db, const char *room_id, const char *receipt_type,
			 const char *user_id, const char *thread_id, const char *event_id,
			 int64_t ts, int64_t *stream_id);

/* The receipts stream position: the largest stream_id (0 if none). */
int64_t mx_store_receipts_position(struct mx_db_conn *c);

struct mx_store_receipt {
	const char *room_id;
	const char *receipt_type;
	const char *user_id;
	const char *thread_id;  /* "" for unthreaded */
	const char *event_id;
	int64_t ts;
	int64_t stream_id;
};
/* Called per row (strings borrowed for the call); return non-zero to stop. */
typedef int (*mx_store_receipt_cb)(void *ctx, const struct mx_store_receipt *r);
/*
 * Receipts with since < stream_id <= to, of room_id (NULL: every room), in
 * stream order. Returns 0 or an error.
 */
int mx_store_receipts_between(struct mx_db_conn *c, const char *room_id, int64_t since, int64_t to,
			      mx_store_receipt_cb cb, void *ctx);

/*
 * The nid of the newest event user has read in room, through m.read or
 * m.read.private (whichever is further ahead), for notification counts:
 * thread_id NULL considers unthreaded receipts only; "main" or a thread
 * root's id considers unthreaded receipts and that thread's. 0 if none.
 */
int64_t mx_store_receipt_read_nid(struct mx_db_conn *c, const char *room_id, const char *user_id,
				  const char *thread_id);

/*
 * The thread event_id belongs to: its thread root's id, or "main" (also for
 * thread roots themselves and for events related to main-timeline events),
 * following relations at most 3 hops. In a. MX_ENOTFOUND if event_id is not
 * an event of room_id.
 * SPEC: client-server-api#threaded-read-receipts
 */
int mx_store_event_thread(struct mx_db_conn *c, struct mx_arena *a, const char *room_id,
			  const char *event_id, const char **thread_id);

/*
 * Move user's m.fully_read marker (room account data {"event_id"}) in room
 * to event_id, in one write job. *stream_id is the account_data position it
 * took, or 0 when the marker is already at or after event_id. MX_ENOTFOUND
 * if event_id is not an event of room_id.
 */
int mx_store_read_marker_set(struct mx_db *db, const char *user_id, const char *room_id,
			     const char *event_id, int64_t *stream_id);

#endif
