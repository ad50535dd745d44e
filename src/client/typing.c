/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PUT /rooms/{roomId}/typing/{userId}: a user says they are typing (for a
 * while) or have stopped, in a room they are joined to. The state lives in
 * sync/typing (memory only) and reaches the room's members through /sync.
 * SPEC: client-server-api#typing-notifications
 */
#include <jansson.h>
#include <string.h>

#include "client/ephemeral.h"
#include "client/routes.h"
#include "core/config.h"
#include "core/error.h"
#include "core/mem.h"
#include "http/request.h"
#include "sync/presence.h"
#include "sync/typing.h"

/* As Synapse: 30 s when the client gives none, never more than 120 s. */
#define MX_TYPING_DEFAULT_TIMEOUT_MS 30000
#define MX_TYPING_MAX_TIMEOUT_MS 120000

/* SPEC: client-server-api#put_matrixclientv3roomsroomidtypinguserid */
static int mx_typing_put(struct mx_req *req)
{
	const char *room_id = mx_req_param(req, 0), *user_id = mx_req_param(req, 1);
	if (strcmp(user_id, req->auth.user_id) != 0)
		return mx_req_fail(req, MX_EFORBIDDEN, "Cannot set another user's typing state");
	json_t *typing = json_object_get(req->json, "typing");
	json_t *timeout = json_object_get(req->json, "timeout");
	if (!json_is_boolean(typing))
		return mx_req_fail(req, MX_EBADJSON, "'typing' must be a boolean");
	int64_t ms = MX_TYPING_DEFAULT_TIMEOUT_MS;
	if (timeout && !json_is_null(timeout)) {
		if (!json_is_integer(timeout) || json_integer_value(timeout) < 0)
			return mx_req_fail(req, MX_EBADJSON, "'timeout' must be a non-negative integer");
		ms = json_integer_value(timeout);
		if (ms > MX_TYPING_MAX_TIMEOUT_MS)
			ms = MX_TYPING_MAX_TIMEOUT_MS;
	}
	int rc = mx_client_require_joined(req, room_id);
	if (rc)
		return rc;
	mx_presence_active(req->srv->presence, user_id);
	if (mx_typing_set(req->srv->typing, room_id, user_id, json_is_true(typing), ms))
		mx_client_wake_room(req, room_id);
	return mx_req_reply_empty(req);
}

const struct mx_route mx_typing_routes[] = {
	{MX_PUT, "/_matrix/client/v3/rooms/{roomId}/typing/{userId}", mx_typing_put,
	 MX_ROUTE_AUTH | MX_ROUTE_JSON, MX_RES_CLIENT, MX_RL_NONE, 4096},
};
const size_t mx_typing_routes_count = MX_ARRAY_LEN(mx_typing_routes);
