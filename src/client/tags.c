/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Room tags: GET /user/{userId}/rooms/{roomId}/tags and PUT/DELETE
 * .../tags/{tag}, readable and writable by the user alone. Stored as the
 * m.tag room account data (store/tags), so changes reach the user's other
 * devices through /sync's room account_data.
 * SPEC: client-server-api#room-tagging
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "client/ephemeral.h"
#include "client/routes.h"
#include "core/config.h"
#include "core/error.h"
#include "core/mem.h"
#include "http/request.h"
#include "store/account_data.h"
#include "store/tags.h"

/* SPEC: "The name of a tag MUST NOT exceed 255 bytes." */
#define MX_TAG_MAX 255

/* Checks the user and room params (0, 1); replies on error. */
static int mx_tags_target(struct mx_req *req, const char *verb)
{
	if (strcmp(mx_req_param(req, 0), req->auth.user_id) != 0)
		return mx_req_fail(req, MX_EFORBIDDEN, "Cannot %s tags for other users", verb);
	if (!mx_client_room_id_ok(mx_req_param(req, 1)))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid room ID");
	return 0;
}

/* The tag param (2): 1-255 bytes of UTF-8; replies on error. */
static int mx_tags_name(struct mx_req *req, const char **tag)
{
	*tag = mx_req_param(req, 2);
	size_t n = strlen(*tag);
	json_t *v = json_string(*tag); /* NULL unless valid UTF-8 */
	json_decref(v);
	if (!n || n > MX_TAG_MAX || !v)
		return mx_req_fail(req, MX_EINVALIDPARAM, "A tag must be 1-%d bytes of UTF-8",
				   MX_TAG_MAX);
	return 0;
}

/* SPEC: client-server-api#get_matrixclientv3useruseridroomsroomidtags */
static int mx_tags_get(struct mx_req *req)
{
	int rc = mx_tags_target(req, "read");
	if (rc)
		return rc;
	const char *text;
	json_t *tags = NULL;
	rc = mx_store_account_data_get(req->w->rconn, &req->arena, req->auth.user_id,
				       mx_req_param(req, 1), MX_TAGS_TYPE, &text);
	if (rc && rc != MX_ENOTFOUND)
		return mx_req_fail(req, rc, NULL);
	if (!rc) {
		json_t *ev = mx_arena_json(&req->arena, json_loads(text, 0, NULL));
		tags = json_object_get(ev, "tags");
	}
	return mx_req_reply_json(req, 200,
				 json_is_object(tags) ? json_pack("{s:O}", "tags", tags)
						      : json_pack("{s:{}}", "tags"));
}

/* SPEC: client-server-api#put_matrixclientv3useruseridroomsroomidtagstag */
static int mx_tags_put(struct mx_req *req)
{
	const char *tag;
	int rc = mx_tags_target(req, "add");
	if (!rc)
		rc = mx_tags_name(req, &tag);
	if (rc)
		return rc;
	/* SPEC: modules/tags: order is "a number between 0 and 1". */
	json_t *order = json_object_get(req->json, "order");
	if (order && !json_is_number(order))
		return mx_req_fail(req, MX_EBADJSON, "'order' must be a number");
	if (order && (json_number_value(order) < 0 || json_number_value(order) > 1))
		return mx_req_fail(req, MX_EINVALIDPARAM, "'order' must be between 0 and 1");
	char *text = json_dumps(req->json, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		return mx_req_fail(req, MX_EBADJSON, "Content cannot be stored");
	mx_arena_own(&req->arena, text);
	int64_t pos;
	rc = mx_store_room_tag_set(req->srv->db, req->auth.user_id, mx_req_param(req, 1), tag, text,
				   &pos);
	if (rc)
		return mx_req_fail(req, rc, NULL);
	mx_client_wake_self(req);
	return mx_req_reply_empty(req);
}

/* SPEC: client-server-api#delete_matrixclientv3useruseridroomsroomidtagstag */
static int mx_tags_delete(struct mx_req *req)
{
	const char *tag;
	int rc = mx_tags_target(req, "remove");
	if (!rc)
		rc = mx_tags_name(req, &tag);
	if (rc)
		return rc;
	int64_t pos;
	rc = mx_store_room_tag_set(req->srv->db, req->auth.user_id, mx_req_param(req, 1), tag, NULL,
				   &pos);
	if (rc)
		return mx_req_fail(req, rc, NULL);
	if (pos)
		mx_client_wake_self(req);
	return mx_req_reply_empty(req);
}

#define C MX_RES_CLIENT
const struct mx_route mx_tags_routes[] = {
	{MX_GET, "/_matrix/client/v3/user/{userId}/rooms/{roomId}/tags", mx_tags_get,
	 MX_ROUTE_AUTH, C, MX_RL_NONE, 0},
	{MX_PUT, "/_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag}", mx_tags_put,
	 MX_ROUTE_AUTH | MX_ROUTE_JSON, C, MX_RL_NONE, 16384},
	{MX_DELETE, "/_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag}", mx_tags_delete,
	 MX_ROUTE_AUTH, C, MX_RL_NONE, 0},
};
const size_t mx_tags_routes_count = MX_ARRAY_LEN(mx_tags_routes);
