/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Other servers asking us: our users' profiles (query/profile), our room
 * aliases (query/directory) and our published room list (publicRooms).
 * Every route needs an X-Matrix signature (MX_ROUTE_FEDERATION); the
 * answers are what our own clients see, from the same code.
 * SPEC: server-server-api#querying-for-information,
 * server-server-api#public-room-directory
 */
#include "federation/routes.h"

#include <string.h>

#include "core/config.h"
#include "core/error.h"
#include "core/mem.h"
#include "event/ids.h"
#include "http/request.h"
#include "room/directory.h"
#include "store/profile.h"
#include "store/rooms.h"

/* SPEC: put_matrixclientv3profileuseridkeyname: keys are at most 255 bytes. */
#define MX_FED_PROFILE_KEY_MAX 255

/* A query parameter naming something of ours: present, valid, local. */
static int mx_fed_query_local_id(struct mx_req *req, const char *name, bool (*valid)(const char *),
				 const char **out)
{
	const char *id = mx_req_query(req, name);
	if (!id)
		return mx_req_fail(req, MX_EMISSINGPARAM, "Missing %s", name);
	if (!valid(id))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid %s", name);
	/* SPEC: "MUST be a user local to the receiving homeserver" (and aliases alike). */
	const char *server = mx_id_server(id);
	if (!server || strcmp(server, req->srv->cfg->server_name))
		return mx_req_fail(req, MX_EINVALIDPARAM, "%s is not hosted on this homeserver", id);
	*out = id;
	return 0;
}

/*
 * SPEC: server-server-api#get_matrixfederationv1queryprofile. Without a
 * field, the whole profile, extended fields included (as Synapse with
 * extended profiles); a missing user or field is 404.
 */
static int mx_fed_answer_profile(struct mx_req *req)
{
	if (!req->srv->cfg->allow_profile_lookup_over_federation)
		return mx_req_fail(req, MX_EFORBIDDEN,
				   "Profile lookup over federation is disabled on this homeserver");
	const char *uid, *field = mx_req_query(req, "field");
	int rc = mx_fed_query_local_id(req, "user_id", mx_id_user_valid, &uid);
	if (rc)
		return rc;
	if (field && (!*field || strlen(field) > MX_FED_PROFILE_KEY_MAX))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid field");
	json_t *v;
	if (field)
		rc = mx_store_profile_get_field(req->w->rconn, &req->arena, uid, field, &v);
	else
		rc = mx_store_profile_get(req->w->rconn, &req->arena, uid, &v);
	if (rc == MX_ENOTFOUND)
		return mx_req_fail(req, rc, field ? "Profile field not found" : "Profile not found");
	if (rc)
		return mx_req_fail(req, rc, NULL);
	if (field)
		return mx_req_reply_json(req, 200, json_pack("{s:O}", field, v));
	return mx_req_reply_json(req, 200, json_incref(v));
}

/* SPEC: server-server-api#get_matrixfederationv1querydirectory */
static int mx_fed_answer_directory(struct mx_req *req)
{
	const char *alias;
	int rc = mx_fed_query_local_id(req, "room_alias", mx_id_alias_valid, &alias);
	if (rc)
		return rc;
	const char *room_id = mx_store_alias_get(req->w->rconn, &req->arena, alias);
	if (!room_id)
		return mx_req_fail(req, MX_ENOTFOUND, "Room alias %s not found", alias);
	json_t *servers = mx_room_directory_servers(req->srv->rooms, req->w, &req->arena,
						    req->srv->cfg->server_name, room_id);
	return mx_req_reply_json(req, 200,
				 json_pack("{s:s, s:o}", "room_id", room_id, "servers", servers));
}

/*
 * The list, as our clients see it but for rooms that do not federate.
 * Off unless allow_public_rooms_over_federation (Synapse's default too).
 */
static int mx_fed_public_rooms(struct mx_req *req, const struct mx_room_directory_query *q)
{
	if (!req->srv->cfg->allow_public_rooms_over_federation)
		return mx_req_fail(req, MX_EFORBIDDEN, "This server does not share its room directory");
	json_t *out;
	const char *why = NULL;
	int rc = mx_room_directory_list(req->w->rconn, &req->arena, q, true, &out, &why);
	if (rc)
		return why ? mx_req_fail(req, rc, "%s", why) : mx_req_fail(req, rc, NULL);
	return mx_req_reply_json(req, 200, out);
}

/* SPEC: server-server-api#get_matrixfederationv1publicrooms */
static int mx_fed_public_rooms_get(struct mx_req *req)
{
	struct mx_room_directory_query q = {.since = mx_req_query(req, "since"),
					    .third_party_instance_id =
						    mx_req_query(req, "third_party_instance_id")};
	const char *limit = mx_req_query(req, "limit"), *all = mx_req_query(req, "include_all_networks");
	if (limit && mx_room_directory_parse_limit(limit, &q.limit))
		return mx_req_fail(req, MX_EINVALIDPARAM, "limit must be a non-negative integer");
	if (all && strcmp(all, "true") && strcmp(all, "false"))
		return mx_req_fail(req, MX_EINVALIDPARAM, "include_all_networks must be true or false");
	q.include_all_networks = all && !strcmp(all, "true");
	return mx_fed_public_rooms(req, &q);
}

/* SPEC: server-server-api#post_matrixfederationv1publicrooms */
static int mx_fed_public_rooms_post(struct mx_req *req)
{
	struct mx_room_directory_query q;
	const char *why;
	int rc = mx_room_directory_parse_body(&req->arena, req->json, &q, &why);
	if (rc)
		return mx_req_fail(req, rc, "%s", why);
	return mx_fed_public_rooms(req, &q);
}

#define F MX_ROUTE_FEDERATION
const struct mx_route mx_federation_query_routes[] = {
	{MX_GET, "/_matrix/federation/v1/query/profile", mx_fed_answer_profile, F,
	 MX_RES_FEDERATION, MX_RL_NONE, 0},
	{MX_GET, "/_matrix/federation/v1/query/directory", mx_fed_answer_directory, F,
	 MX_RES_FEDERATION, MX_RL_NONE, 0},
	{MX_GET, "/_matrix/federation/v1/publicRooms", mx_fed_public_rooms_get, F,
	 MX_RES_FEDERATION, MX_RL_NONE, 0},
	{MX_POST, "/_matrix/federation/v1/publicRooms", mx_fed_public_rooms_post,
	 F | MX_ROUTE_JSON | MX_ROUTE_EMPTY_BODY, MX_RES_FEDERATION, MX_RL_NONE, 0},
};
const size_t mx_federation_query_routes_count = MX_ARRAY_LEN(mx_federation_query_routes);
