/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Push at run time: each user's compiled rules, cached; the room listener
 * that evaluates every new event for the room's local members and records
 * who is notified; and the unread counts /sync reports.
 * SPEC: client-server-api#receiving-notifications
 *
 * Keeping work off the send path: the listener evaluates in memory
 * (compiled rules, the event's body decoded once for all members) and
 * only queues the result, one row per event (store/push.h); one writer
 * thread stores what gathered every MX_PUSH_FLUSH_MS (50 ms) in one write
 * job, which shares the group commit of the events being written. Rows
 * are derived data: a kill -9 loses at most the last 50 ms of them (those
 * events then count as no notification); a clean stop stores them all.
 * A /sync that counts a user's notifications first has that user's queued
 * rows of the room written at once and waits for them (one commit), so
 * "the updated notification count from a new event MUST appear in the
 * same /sync response as the event itself" holds whenever the sync was
 * woken by the event.
 *
 * Rules cache: user id -> compiled rule set (push/rules.h), filled on first
 * use from the user's m.push_rules account data, dropped when the user
 * changes their rules (mx_push_rules_edit does that itself). Users without
 * rules of their own share one compiled default set.
 */
#ifndef MX_PUSH_PUSH_H
#define MX_PUSH_PUSH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct mx_arena;
struct mx_db_conn;
struct mx_push;
struct mx_push_rules;
struct mx_room_event;
struct mx_server;
struct mx_store_push_row;

/* Start (the writer thread, a read connection). Aborts on failure. */
struct mx_push *mx_push_new(struct mx_server *srv);
/* Store what is queued, stop the writer, free. Call after the HTTP server
 * stopped and before the database closes. NULL is a no-op. */
void mx_push_free(struct mx_push *p);

/*
 * Hand every row to fn(ctx, rows, n) as the listener queues it, before it
 * is stored (rows borrowed for the call; the event itself is stored): the
 * pushers (push/pusher.h) deliver from there, without waiting for the
 * next write of rows. fn runs on the sending thread under push's lock:
 * it must be quick and must not call back into push. fn NULL removes it;
 * once this returns, no call of the previous fn is running.
 */
typedef void (*mx_push_rows_fn)(void *ctx, const struct mx_store_push_row *rows, size_t n);
void mx_push_set_rows_listener(struct mx_push *p, mx_push_rows_fn fn, void *ctx);

/* The room listener (ctx: the struct mx_push). */
void mx_push_on_room_event(void *ctx, const struct mx_room_event *ev);

/*
 * user_id's compiled rules (a new reference: mx_push_rules_unref), from
 * the cache or loaded through c. Never NULL: unreadable stored rules give
 * the defaults.
 */
struct mx_push_rules *mx_push_rules_for(struct mx_push *p, struct mx_db_conn *c,
					const char *user_id);

/*
 * Change user_id's stored rules: fn edits the m.push_rules content (an
 * object, {} when the user has none) in place and returns 0 or an MX_E*
 * (then nothing is stored, *why as fn set it). On success the new content
 * is stored (the account_data stream moves, so /sync sends it) and the
 * cached rules are dropped. Edits of all users are serialised.
 */
typedef int (*mx_push_edit_fn)(json_t *stored, void *arg, const char **why);
int mx_push_rules_edit(struct mx_push *p, struct mx_db_conn *c, const char *user_id,
		       mx_push_edit_fn fn, void *arg, const char **why);

/*
 * The stored m.push_rules content (text) as clients see it: the merged
 * rules, {"global": {...}} (new reference). content NULL: the defaults.
 */
json_t *mx_push_rules_client_json(const char *user_id, const char *content);
/* True if an array of account data events ({type, content}) has no m.push_rules. */
bool mx_push_rules_missing(const json_t *events);

/*
 * SPEC: client-server-api#get_matrixclientv3sync, unread_notifications:
 * user_id's counts in room_id as {highlight_count, notification_count}
 * (*unread, new reference). by_thread (the filter's
 * unread_thread_notifications): *unread counts the main timeline only and
 * *threads (new reference) maps each thread root with notifications to
 * its counts; otherwise the whole room and *threads is NULL.
 * p may be NULL (no queued rows to wait for). Errors read as zero counts.
 */
void mx_push_unread(struct mx_push *p, struct mx_db_conn *c, struct mx_arena *a,
		    const char *user_id, const char *room_id, bool by_thread, json_t **unread,
		    json_t **threads);

/*
 * Before reading user_id's stored rows: if rows concerning them (notifying,
 * highlighting or sent by them) in room_id (NULL: any room) are queued or
 * being written, write them now and wait until they are stored. Returns at
 * once otherwise. p NULL: a no-op.
 */
void mx_push_flush_user(struct mx_push *p, const char *user_id, const char *room_id);

#endif
