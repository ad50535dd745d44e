/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Receipts and read markers: POST /rooms/{roomId}/receipt/{type}/{eventId}
 * (m.read, m.read.private, m.fully_read; threaded or not) and POST
 * /rooms/{roomId}/read_markers. Receipts are stored with a position in the
 * receipts stream and reach the room's members through /sync
 * (m.read.private only its owner); the fully-read marker is room account
 * data. Everything is validated before anything is written.
 * SPEC: client-server-api#receipts, client-server-api#read-and-unread-markers
 */
#include <jansson.h>
#include <string.h>

#include "client/ephemeral.h"
#include "client/routes.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "core/mem.h"
#include "http/request.h"
#include "store/receipts.h"
#include "sync/presence.h"

#define MX_EVENT_ID_MAX 255

/* One receipt or marker to set, checked before any is written. */
struct mx_receipt_req {
	const char *type;      /* m.read, m.read.private, m.fully_read */
	const char *event_id;
	const char *thread_id; /* NULL: unthreaded */
};

static bool mx_receipt_type_ok(const char *t)
{
	return !strcmp(t, "m.read") || !strcmp(t, "m.read.private") || !strcmp(t, "m.fully_read");
}

/*
 * The event must be one of the room's, and for a threaded receipt in that
 * thread: "main" takes main-timeline events, a root id the thread's events
 * and the root itself (as Synapse).
 * SPEC: client-server-api#threaded-read-receipts
 */
static int mx_receipt_check(struct mx_req *req, const char *room_id, const struct mx_receipt_req *r)
{
	if (r->event_id[0] != '$' || strlen(r->event_id) > MX_EVENT_ID_MAX)
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid event ID");
	const char *thread;
	int rc = mx_store_event_thread(req->w->rconn, &req->arena, room_id, r->event_id, &thread);
	if (rc == MX_ENOTFOUND)
		return mx_req_fail(req, MX_ENOTFOUND, "Event not found in this room");
	if (rc)
		return mx_req_fail(req, rc, NULL);
	if (r->thread_id && strcmp(r->thread_id, thread) != 0 && strcmp(r->thread_id, r->event_id) != 0)
		return mx_req_fail(req, MX_EINVALIDPARAM, "Event %s is not in thread %s", r->event_id,
				   r->thread_id);
	return 0;
}

/* Write one checked receipt or marker and wake whoever may see it. */
static int mx_receipt_apply(struct mx_req *req, const char *room_id, const struct mx_receipt_req *r)
{
	int64_t pos;
	int rc;
	if (!strcmp(r->type, "m.fully_read"))
		rc = mx_store_read_marker_set(req->srv->db, req->auth.user_id, room_id, r->event_id, &pos);
	else
		rc = mx_store_receipt_put(req->srv->db, room_id, r->type, req->auth.user_id,
					  r->thread_id, r->event_id, mx_clock_now_ms(), &pos);
	if (rc == MX_ENOTFOUND)
		return mx_req_fail(req, MX_ENOTFOUND, "Event not found in this room");
	if (rc)
		return mx_req_fail(req, rc, NULL);
	if (!pos)
		return 0; /* not ahead of the current one: nothing changed */
	/* SPEC: "Servers MUST NOT send the m.read.private receipt to any other
	 * user than the one which originally sent it." */
	if (!strcmp(r->type, "m.read"))
		mx_client_wake_room(req, room_id);
	else
		mx_client_wake_self(req);
	return 0;
}

/* SPEC: client-server-api#post_matrixclientv3roomsroomidreceiptreceipttypeeventid */
static int mx_receipt_post(struct mx_req *req)
{
	const char *room_id = mx_req_param(req, 0);
	struct mx_receipt_req r = {mx_req_param(req, 1), mx_req_param(req, 2), NULL};
	if (!mx_receipt_type_ok(r.type))
		return mx_req_fail(req, MX_EINVALIDPARAM,
				   "Receipt type must be m.read, m.read.private or m.fully_read");
	json_t *thread = json_object_get(req->json, "thread_id");
	if (thread) {
		if (!json_is_string(thread) || !json_string_length(thread))
			return mx_req_fail(req, MX_EINVALIDPARAM,
					   "thread_id field must be a non-empty string");
		if (!strcmp(r.type, "m.fully_read"))
			return mx_req_fail(req, MX_EINVALIDPARAM,
					   "thread_id is not allowed for m.fully_read");
		r.thread_id = json_string_value(thread);
		if (strcmp(r.thread_id, MX_RECEIPT_MAIN_THREAD) != 0 &&
		    (r.thread_id[0] != '$' || strlen(r.thread_id) > MX_EVENT_ID_MAX))
			return mx_req_fail(req, MX_EINVALIDPARAM,
					   "thread_id must be \"main\" or a thread root's event ID");
	}
	int rc = mx_client_require_joined(req, room_id);
	if (!rc)
		rc = mx_receipt_check(req, room_id, &r);
	if (!rc)
		rc = mx_receipt_apply(req, room_id, &r);
	if (rc)
		return rc;
	mx_presence_active(req->srv->presence, req->auth.user_id);
	return mx_req_reply_empty(req);
}

/* SPEC: client-server-api#post_matrixclientv3roomsroomidread_markers */
static int mx_read_markers_post(struct mx_req *req)
{
	static const char *const keys[] = {"m.fully_read", "m.read", "m.read.private"};
	const char *room_id = mx_req_param(req, 0);
	struct mx_receipt_req rs[MX_ARRAY_LEN(keys)];
	size_t n = 0;
	for (size_t i = 0; i < MX_ARRAY_LEN(keys); i++) {
		json_t *v = json_object_get(req->json, keys[i]);
		if (!v || json_is_null(v))
			continue;
		if (!json_is_string(v))
			return mx_req_fail(req, MX_EBADJSON, "'%s' must be an event ID", keys[i]);
		rs[n++] = (struct mx_receipt_req){keys[i], json_string_value(v), NULL};
	}
	int rc = mx_client_require_joined(req, room_id);
	for (size_t i = 0; i < n && !rc; i++)
		rc = mx_receipt_check(req, room_id, &rs[i]);
	for (size_t i = 0; i < n && !rc; i++)
		rc = mx_receipt_apply(req, room_id, &rs[i]);
	if (rc)
		return rc;
	mx_presence_active(req->srv->presence, req->auth.user_id);
	return mx_req_reply_empty(req);
}

#define AJ (MX_ROUTE_AUTH | MX_ROUTE_JSON | MX_ROUTE_EMPTY_BODY)
const struct mx_route mx_receipts_routes[] = {
	{MX_POST, "/_matrix/client/v3/rooms/{roomId}/receipt/{receiptType}/{eventId}",
	 mx_receipt_post, AJ, MX_RES_CLIENT, MX_RL_NONE, 4096},
	{MX_POST, "/_matrix/client/v3/rooms/{roomId}/read_markers", mx_read_markers_post, AJ,
	 MX_RES_CLIENT, MX_RL_NONE, 4096},
};
const size_t mx_receipts_routes_count = MX_ARRAY_LEN(mx_receipts_routes);
