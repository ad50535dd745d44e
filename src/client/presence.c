/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GET and PUT /presence/{userId}/status. Only a user's own presence can be
 * set; it can be read by the user and by those who share a room with them
 * (as Synapse). The state lives in sync/presence (memory only).
 * SPEC: client-server-api#presence
 */
#include <jansson.h>
#include <string.h>

#include "client/routes.h"
#include "client/util.h"
#include "core/config.h"
#include "core/error.h"
#include "core/mem.h"
#include "http/request.h"
#include "store/members.h"
#include "sync/presence.h"

/* SPEC: client-server-api#get_matrixclientv3presenceuseridstatus */
static int mx_presence_get_status(struct mx_req *req)
{
	const char *user_id = mx_req_param(req, 0), *me = req->auth.user_id;
	if (!mx_client_user_id_valid(user_id))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid user ID");
	if (strcmp(user_id, me) != 0 && !mx_store_users_share_room(req->w->rconn, me, user_id))
		return mx_req_fail(req, MX_EFORBIDDEN, "You are not allowed to see their presence");
	json_t *c = mx_presence_content(req->srv->presence, user_id, NULL);
	/* Nothing known: offline, as Synapse answers. */
	if (!c)
		c = json_pack("{s:s}", "presence", "offline");
	return mx_req_reply_json(req, 200, c);
}

/* SPEC: client-server-api#put_matrixclientv3presenceuseridstatus */
static int mx_presence_put_status(struct mx_req *req)
{
	const char *user_id = mx_req_param(req, 0);
	if (strcmp(user_id, req->auth.user_id) != 0)
		return mx_req_fail(req, MX_EFORBIDDEN, "Can only set your own presence state");
	json_t *presence = json_object_get(req->json, "presence");
	if (!presence)
		return mx_req_fail(req, MX_EMISSINGPARAM, "'presence' is required");
	enum mx_presence_state st;
	if (!json_is_string(presence) || mx_presence_parse(json_string_value(presence), &st))
		return mx_req_fail(req, MX_EINVALIDPARAM,
				   "'presence' must be one of online, unavailable, offline");
	const char *msg;
	int rc = mx_client_opt_string(req, req->json, "status_msg", &msg);
	if (rc)
		return rc;
	if (msg && strlen(msg) > MX_PRESENCE_STATUS_MAX)
		return mx_req_fail(req, MX_EINVALIDPARAM, "status_msg is longer than %d bytes",
				   MX_PRESENCE_STATUS_MAX);
	mx_presence_set(req->srv->presence, user_id, st, msg);
	return mx_req_reply_empty(req);
}

const struct mx_route mx_presence_routes[] = {
	{MX_GET, "/_matrix/client/v3/presence/{userId}/status", mx_presence_get_status,
	 MX_ROUTE_AUTH, MX_RES_CLIENT, MX_RL_NONE, 0},
	{MX_PUT, "/_matrix/client/v3/presence/{userId}/status", mx_presence_put_status,
	 MX_ROUTE_AUTH | MX_ROUTE_JSON, MX_RES_CLIENT, MX_RL_NONE, 8192},
};
const size_t mx_presence_routes_count = MX_ARRAY_LEN(mx_presence_routes);
