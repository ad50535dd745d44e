/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Client config: account data a user keeps on the server, global or per
 * room, readable and writable only by that user. Each write advances the
 * account_data stream for /sync.
 * SPEC: client-server-api#client-config
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "client/routes.h"
#include "core/config.h"
#include "core/error.h"
#include "http/request.h"
#include "push/push.h"
#include "push/rules.h"
#include "sync/notifier.h"
#include "store/account_data.h"

/* Event types have no length limit in the spec; 255 bytes as for other identifiers. */
#define MX_ACCOUNT_DATA_TYPE_MAX 255
/* SPEC: appendices#room-ids: "MUST NOT exceed 255 bytes". */
#define MX_ROOM_ID_MAX 255

/* Valid UTF-8 (jansson refuses to build strings of anything else). */
static bool mx_account_data_utf8(const char *s)
{
	json_t *v = json_string(s);
	json_decref(v);
	return v != NULL;
}

/*
 * SPEC: appendices#room-ids: "!opaque_id", or "!opaque_id:domain" in room
 * versions with a domain. The opaque part is any code points but ':' and
 * NUL; the domain a server name.
 */
static bool mx_account_data_room_id_valid(const char *id)
{
	size_t n = strlen(id);
	if (n < 2 || n > MX_ROOM_ID_MAX || id[0] != '!' || !mx_account_data_utf8(id))
		return false;
	const char *colon = strchr(id, ':');
	if (!colon)
		return true;
	if (colon == id + 1 || !colon[1])
		return false;
	for (const char *p = colon + 1; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '.' || *p == '-' || *p == ':' || *p == '[' || *p == ']'))
			return false;
	return true;
}

/*
 * Common checks; on success *room_id is NULL for global data. Params are
 * userId, [roomId,] type.
 */
static int mx_account_data_target(struct mx_req *req, bool room, const char *verb,
				  const char **room_id, const char **type)
{
	if (strcmp(mx_req_param(req, 0), req->auth.user_id) != 0)
		return mx_req_fail(req, MX_EFORBIDDEN, "Cannot %s account data for other users", verb);
	*room_id = NULL;
	if (room) {
		*room_id = mx_req_param(req, 1);
		if (!mx_account_data_room_id_valid(*room_id))
			return mx_account_data_utf8(*room_id)
				       ? mx_req_fail(req, MX_EINVALIDPARAM, "%s is not a valid room ID",
						     *room_id)
				       : mx_req_fail(req, MX_EINVALIDPARAM, "Invalid room ID");
		/* Membership of the room is not checked: there are no rooms yet.
		 * The rooms module adds the check (Synapse refuses data for rooms
		 * the user does not know of). */
	}
	*type = mx_req_param(req, room ? 2 : 1);
	size_t n = strlen(*type);
	if (n == 0 || n > MX_ACCOUNT_DATA_TYPE_MAX || !mx_account_data_utf8(*type))
		return mx_req_fail(req, MX_EINVALIDPARAM,
				   "The type must be 1-%d bytes of UTF-8", MX_ACCOUNT_DATA_TYPE_MAX);
	return 0;
}

static int mx_account_data_get_common(struct mx_req *req, bool room)
{
	const char *room_id, *type, *content;
	int rc = mx_account_data_target(req, room, "read", &room_id, &type);
	if (rc)
		return rc;
	rc = mx_store_account_data_get(req->w->rconn, &req->arena, req->auth.user_id, room_id, type,
				       &content);
	/* The stored push rules are the user's changes: answer the merged
	 * rules, as /sync does (and as Synapse does, also with none stored). */
	if (!room && !strcmp(type, MX_PUSH_RULES_TYPE) && (!rc || rc == MX_ENOTFOUND))
		return mx_req_reply_json(req, 200,
					 mx_push_rules_client_json(req->auth.user_id, rc ? NULL : content));
	if (rc == MX_ENOTFOUND)
		return mx_req_fail(req, rc, room ? "Room account data not found"
						 : "Account data not found");
	if (rc)
		return mx_req_fail(req, rc, NULL);
	json_t *v = json_loads(content, 0, NULL);
	if (!v)
		return mx_req_fail(req, MX_EDB, "Stored account data is corrupt");
	return mx_req_reply_json(req, 200, v);
}

static int mx_account_data_put_common(struct mx_req *req, bool room)
{
	const char *room_id, *type;
	int rc = mx_account_data_target(req, room, "add", &room_id, &type);
	if (rc)
		return rc;
	/* SPEC: modules/account_data "Server Behaviour": types the server
	 * manages are refused with 405, for global and room data alike. */
	if (!strcmp(type, "m.fully_read") || !strcmp(type, "m.push_rules"))
		return mx_req_fail_json(req, MX_EBADJSON, 405,
					json_pack("{s:s, s:s}", "errcode", "M_BAD_JSON", "error",
						  mx_arena_printf(&req->arena,
								  "Cannot set %s through this API",
								  type)));
	/* The body is a JSON object (the router refuses anything else with
	 * M_NOT_JSON). It is stored as compact JSON with sorted keys, floats
	 * kept: this data is the user's own and never signed, and Synapse keeps
	 * floats too. */
	char *text = json_dumps(req->json, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		return mx_req_fail(req, MX_EBADJSON, "Content cannot be stored");
	mx_arena_own(&req->arena, text);
	int64_t pos;
	rc = mx_store_account_data_put(req->srv->db, req->auth.user_id, room_id, type, text, &pos);
	if (rc)
		return mx_req_fail(req, rc, NULL);
	const char *user = req->auth.user_id;
	mx_notifier_wake(req->srv->notifier, &user, 1); /* a waiting /sync answers now */
	return mx_req_reply_empty(req);
}

/* SPEC: client-server-api#get_matrixclientv3useruseridaccount_datatype */
static int mx_account_data_get(struct mx_req *req)
{
	return mx_account_data_get_common(req, false);
}

/* SPEC: client-server-api#put_matrixclientv3useruseridaccount_datatype */
static int mx_account_data_put(struct mx_req *req)
{
	return mx_account_data_put_common(req, false);
}

/* SPEC: client-server-api#get_matrixclientv3useruseridroomsroomidaccount_datatype */
static int mx_room_account_data_get(struct mx_req *req)
{
	return mx_account_data_get_common(req, true);
}

/* SPEC: client-server-api#put_matrixclientv3useruseridroomsroomidaccount_datatype */
static int mx_room_account_data_put(struct mx_req *req)
{
	return mx_account_data_put_common(req, true);
}

#define C MX_RES_CLIENT
const struct mx_route mx_account_data_routes[] = {
	{MX_GET, "/_matrix/client/v3/user/{userId}/account_data/{type}", mx_account_data_get, MX_ROUTE_AUTH, C, 0, 0},
	{MX_PUT, "/_matrix/client/v3/user/{userId}/account_data/{type}", mx_account_data_put, MX_ROUTE_AUTH | MX_ROUTE_JSON, C, 0, 0},
	{MX_GET, "/_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type}", mx_room_account_data_get, MX_ROUTE_AUTH, C, 0, 0},
	{MX_PUT, "/_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type}", mx_room_account_data_put, MX_ROUTE_AUTH | MX_ROUTE_JSON, C, 0, 0},
};
const size_t mx_account_data_routes_count =
	sizeof(mx_account_data_routes) / sizeof(mx_account_data_routes[0]);
