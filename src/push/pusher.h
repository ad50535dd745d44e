/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP pushers: delivering notifications to push gateways.
 * SPEC: client-server-api#push-notifications, push-gateway-api#post_matrixpushv1notify
 *
 * From row to gateway: push/push.c's room listener makes one row per
 * event naming the local users it notifies and hands it to this module as
 * it queues it for storage (mx_push_set_rows_listener), so a push does not
 * wait for the next write of rows (up to 50 ms). Each pusher of a notified
 * user queues the notification in memory; one delivery thread sends the
 * queues to the gateways. Nothing on the send path waits for a gateway:
 * the hand-over is a hash lookup per notified user under a mutex.
 *
 * Per pusher: notifications go in order, one request in flight. A network
 * error, a refused address, a 5xx, 408 or 429 is retried with exponential
 * backoff (1 s doubling, at most an hour between tries, as Synapse); after
 * a day of failures the notification is given up and the next one is
 * tried. Other non-2xx answers drop the notification at once (the request
 * itself is wrong: sending it again would not help). A pushkey in the
 * answer's "rejected" list deletes the pusher. Before each try, a
 * notification the user has since read (unthreaded receipt) is skipped,
 * as Synapse only pushes unread ones.
 *
 * Durability: each pusher's row keeps last_nid, the event nid of the
 * newest notification delivered or given up; positions gather for up to
 * 250 ms and are written without waiting (mx_db_write_async), riding on a
 * group commit: one write of the pushers' rows however many notifications
 * went meanwhile. At start, and whenever a pusher's in-memory queue overflowed
 * (MX_PUSHER_QUEUE_MAX), the pusher reads its unread notifications after
 * last_nid from event_push_actions, a few at a time (having push store
 * the user's queued rows first): after a clean restart nothing is lost
 * and nothing answered 200 is sent again. After a crash, notifications
 * answered in the last quarter second before it may be sent twice (gateways
 * deduplicate by event_id, as the spec asks), and one whose push row was
 * lost with push's last 50 ms (push/push.h) is not sent.
 *
 * The database is the truth about which pushers exist: before each
 * request the pusher's row is read again (URL, data and pushkey as they
 * are now), and a pusher whose row is gone (deleted with its device, by
 * another user's append=false, by the API) stops.
 */
#ifndef MX_PUSH_PUSHER_H
#define MX_PUSH_PUSHER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct mx_pusher;
struct mx_server;

/* Gateway URLs must have this path (SPEC: POST /pushers/set, data.url). */
#define MX_PUSHER_NOTIFY_PATH "/_matrix/push/v1/notify"

/*
 * Load every pusher, start the delivery thread and take the push
 * writer's stored rows (srv->push must exist). Pending notifications of
 * every pusher are resumed. Aborts on failure.
 */
struct mx_pusher *mx_pusher_new(struct mx_server *srv);
/*
 * Stop taking rows, stop the thread (requests in flight are abandoned:
 * sent again after the next start) and free. Call before srv->push,
 * srv->rooms and the database go. NULL is a no-op.
 */
void mx_pusher_free(struct mx_pusher *p);

/*
 * After the API created or updated pusher id of user_id (at position
 * last_nid): delivery starts for it, or a failing one retries now (its
 * URL may have been fixed).
 */
void mx_pusher_added(struct mx_pusher *p, int64_t id, const char *user_id, int64_t last_nid);
/* After the API deleted pusher id of user_id: it stops. */
void mx_pusher_removed(struct mx_pusher *p, int64_t id, const char *user_id);

/* ---- pure parts, unit-tested ---- */

/*
 * Check a pusher's data.url: an http or https URL with a host whose path
 * is MX_PUSHER_NOTIFY_PATH (Synapse checks the path; the spec asks for
 * https, but a local gateway on http is common). 0, or MX_EINVALIDPARAM
 * with *why set.
 */
int mx_pusher_check_url(const char *url, const char **why);

/* The tweaks of a list of push actions ({"sound": "default", "highlight": true, ...}; new reference). */
json_t *mx_pusher_tweaks(const json_t *actions);

/* What a notification carries (all borrowed; optional ones NULL when absent). */
struct mx_pusher_notif {
	const char *event_id, *room_id;
	const json_t *event;            /* the event: type, sender, state_key, content */
	const json_t *actions;          /* the recipient's push actions for it */
	const char *user_id;            /* the recipient */
	const char *sender_display_name;
	const char *room_name, *room_alias;
	int64_t unread;                 /* the badge */
	const char *app_id, *pushkey;
	int64_t pushkey_ts_ms;
	const json_t *data;             /* the pusher's data; url is left out */
};

/*
 * The body of POST /_matrix/push/v1/notify (new reference).
 * prio is "high" for encrypted events and when the actions set a sound or
 * a highlight, else "low" (Synapse). With data.format "event_id_only",
 * only event_id, room_id, prio, counts and devices. The event's content
 * is sent if its JSON is at most MX_PUSHER_CONTENT_MAX bytes, else only
 * its msgtype and the start of its body; names are cut (on a character
 * boundary) at MX_PUSHER_NAME_MAX bytes.
 */
#define MX_PUSHER_CONTENT_MAX 4096
#define MX_PUSHER_BODY_MAX 1024
#define MX_PUSHER_NAME_MAX 256
json_t *mx_pusher_body(const struct mx_pusher_notif *n);

/*
 * Backoff of one pusher (SPEC push-gateway-api: "the homeserver SHOULD
 * retry for a reasonable amount of time using exponential backoff"):
 * Synapse's numbers.
 */
#define MX_PUSHER_BACKOFF_FIRST_MS 1000
#define MX_PUSHER_BACKOFF_MAX_MS (3600 * 1000)
#define MX_PUSHER_GIVE_UP_MS ((int64_t)24 * 3600 * 1000)
struct mx_pusher_backoff {
	int64_t delay_ms;        /* the next wait; 0: none yet */
	int64_t failing_since_ms;
	bool failing;
};
/* A success: the next failure starts over. */
void mx_pusher_backoff_reset(struct mx_pusher_backoff *b);
/*
 * A failure at now_ms (monotonic). Returns true to retry after *retry_ms,
 * or false when the pusher has been failing for MX_PUSHER_GIVE_UP_MS:
 * give up on this notification (the backoff starts over).
 */
bool mx_pusher_backoff_failed(struct mx_pusher_backoff *b, int64_t now_ms, int64_t *retry_ms);

enum mx_pusher_outcome {
	MX_PUSHER_SENT,  /* 2xx: delivered */
	MX_PUSHER_RETRY, /* no answer, 5xx, 408, 429: back off and try again */
	MX_PUSHER_DROP,  /* another answer: this notification will not go */
};
/* What a transfer's end means: ok is false when no HTTP answer came. */
enum mx_pusher_outcome mx_pusher_outcome_of(bool ok, long status);

#endif
