/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reporting content: events (by joined members who can see them), rooms
 * (by anyone) and users (by anyone). Reports are stored for the server's
 * administrators; nothing is sent anywhere.
 * SPEC: client-server-api#reporting-content
 */
#include <string.h>

#include "client/routes.h"
#include "client/util.h"
#include "client/visibility.h"
#include "core/config.h"
#include "core/error.h"
#include "event/ids.h"
#include "http/request.h"
#include "room/room.h"
#include "store/accounts.h"
#include "store/reports.h"
#include "store/rooms.h"

/* Longest reason kept for an event or room report, in bytes. */
#define MX_REPORT_REASON_MAX 16384
/* Synapse's limit for user reports, in characters. */
#define MX_REPORT_USER_REASON_MAX 1000

/* Characters (code points) of a UTF-8 string: jansson strings are valid UTF-8. */
static size_t mx_utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* reason: optional (required) string of at most max bytes. */
static int mx_report_reason(struct mx_req *req, bool required, const char **reason)
{
	json_t *v = json_object_get(req->json, "reason");
	*reason = NULL;
	if (!v || json_is_null(v)) {
		if (required)
			return mx_req_fail(req, MX_EBADJSON, "Missing 'reason'");
		return 0;
	}
	if (!json_is_string(v))
		return mx_req_fail(req, MX_EBADJSON, "Param 'reason' must be a string");
	if (json_string_length(v) > MX_REPORT_REASON_MAX)
		return mx_req_fail(req, MX_EBADJSON, "'reason' is too long");
	*reason = json_string_value(v);
	return 0;
}

/* SPEC: client-server-api#post_matrixclientv3roomsroomidreporteventid */
static int mx_report_event(struct mx_req *req)
{
	const char *room_id = mx_req_param(req, 0), *event_id = mx_req_param(req, 1), *reason;
	int rc = mx_report_reason(req, false, &reason);
	if (rc)
		return rc;
	/* score was removed in v1.18; older clients still send it. */
	json_t *score = json_object_get(req->json, "score");
	if (score && !json_is_integer(score))
		return mx_req_fail(req, MX_EBADJSON, "Param 'score' must be an integer");
	if (score && (json_integer_value(score) < -100 || json_integer_value(score) > 0))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Param 'score' must be between -100 and 0");
	/* SPEC: the reporter must be joined now (v1.8) and able to see the
	 * event; a redacted event may be refused (as Synapse). One answer for
	 * every case, malformed ids included (the spec lists only 404), so
	 * nothing is learnt about rooms one is not in. */
	const char *m = NULL;
	if (mx_id_room_valid(room_id, NULL) && mx_id_event_valid(event_id, NULL))
		m = mx_room_membership(req->srv->rooms, req->w, &req->arena, room_id,
				       req->auth.user_id);
	struct mx_store_event ev;
	if (!m || strcmp(m, "join") ||
	    mx_store_event_get(req->w->rconn, &req->arena, event_id, &ev) ||
	    strcmp(ev.room_id, room_id) || ev.redacted_by ||
	    !mx_visibility_allows(req, req->auth.user_id, &ev, true))
		return mx_req_fail(req, MX_ENOTFOUND,
				   "Unable to report event: it does not exist or you aren't able to see it");
	rc = mx_store_report_event(req->srv->db, room_id, event_id, req->auth.user_id, reason,
				   score != NULL, score ? json_integer_value(score) : 0);
	if (rc)
		return mx_req_fail(req, rc, NULL);
	return mx_req_reply_empty(req);
}

/* SPEC: client-server-api#post_matrixclientv3roomsroomidreport (v1.13) */
static int mx_report_room(struct mx_req *req)
{
	const char *room_id = mx_req_param(req, 0), *reason;
	int rc = mx_report_reason(req, true, &reason);
	if (rc)
		return rc;
	/* SPEC: the reporter need not be in the room. */
	struct mx_store_room room;
	rc = mx_id_room_valid(room_id, NULL)
		     ? mx_store_room_get(req->w->rconn, &req->arena, room_id, &room)
		     : MX_ENOTFOUND;
	if (rc == MX_ENOTFOUND)
		return mx_req_fail(req, MX_ENOTFOUND, "The room was not found");
	if (!rc)
		rc = mx_store_report_event(req->srv->db, room_id, NULL, req->auth.user_id, reason,
					   false, 0);
	if (rc)
		return mx_req_fail(req, rc, NULL);
	return mx_req_reply_empty(req);
}

/* SPEC: client-server-api#post_matrixclientv3usersuseridreport (v1.14) */
static int mx_report_user(struct mx_req *req)
{
	const char *target = mx_req_param(req, 0), *reason;
	int rc = mx_report_reason(req, true, &reason);
	if (rc)
		return rc;
	if (mx_utf8_chars(reason) > MX_REPORT_USER_REASON_MAX)
		return mx_req_fail(req, MX_EBADJSON, "Reason must be less than %d characters",
				   MX_REPORT_USER_REASON_MAX);
	if (!mx_id_user_valid(target))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid user id");
	/* SPEC allows answering 200 whether or not the user exists: like
	 * Synapse, reports about unknown or remote users are dropped quietly. */
	if (!mx_client_is_local(req, target) || !mx_store_user_exists(req->w->rconn, target))
		return mx_req_reply_empty(req);
	rc = mx_store_report_user(req->srv->db, target, req->auth.user_id, reason);
	if (rc)
		return mx_req_fail(req, rc, NULL);
	return mx_req_reply_empty(req);
}

#define C MX_RES_CLIENT
#define AJ (MX_ROUTE_AUTH | MX_ROUTE_JSON)
const struct mx_route mx_report_routes[] = {
	{MX_POST, "/_matrix/client/v3/rooms/{roomId}/report/{eventId}", mx_report_event, AJ, C, MX_RL_MESSAGE, 0},
	{MX_POST, "/_matrix/client/v3/rooms/{roomId}/report", mx_report_room, AJ, C, MX_RL_MESSAGE, 0},
	{MX_POST, "/_matrix/client/v3/users/{userId}/report", mx_report_user, AJ, C, MX_RL_MESSAGE, 0},
};
const size_t mx_report_routes_count = sizeof(mx_report_routes) / sizeof(mx_report_routes[0]);
