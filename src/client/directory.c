/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Room aliases and the published room directory: creating, resolving and
 * deleting local aliases, listing a room's aliases, checking the aliases
 * an m.room.canonical_alias event names, publishing a room and listing
 * what is published (room/directory.h, shared with federation). Other
 * servers' aliases and room lists are asked of those servers
 * (federation/query_client.h), the request parked meanwhile.
 * SPEC: client-server-api#room-aliases, #published-room-directory
 *
 * Who may do what follows Synapse: an alias may be made by a joined member
 * (or a server admin); it may be deleted by its creator, a server admin, or
 * a joined member with the power to send m.room.canonical_alias, which is
 * also what publishing a room takes.
 */
#include "client/directory.h"

#include <string.h>

#include "appservice/registration.h"
#include "auth/auth.h"
#include "client/rooms.h"
#include "client/routes.h"
#include "client/util.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "event/ids.h"
#include "federation/query_client.h"
#include "http/request.h"
#include "room/directory.h"
#include "room/room.h"
#include "store/directory.h"
#include "store/rooms.h"

/* ---- helpers ---- */

static bool mx_alias_is_ours(struct mx_req *req, const char *alias)
{
	const char *server = mx_id_server(alias);
	return server && !strcmp(server, req->srv->cfg->server_name);
}

/* The {roomAlias} path parameter; replies 400 M_INVALID_PARAM if malformed. */
static int mx_alias_param(struct mx_req *req, const char **alias)
{
	const char *a = mx_req_param(req, 0);
	*alias = NULL;
	if (!mx_id_alias_valid(a))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Room alias invalid");
	*alias = a;
	return 0;
}

/* The {roomId} path parameter; replies 400 M_INVALID_PARAM if malformed. */
static int mx_room_param(struct mx_req *req, const char **room_id)
{
	const char *r = mx_req_param(req, 0);
	*room_id = NULL;
	if (!mx_id_room_valid(r, NULL))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid room id");
	*room_id = r;
	return 0;
}

static bool mx_is_joined(struct mx_req *req, const char *room_id)
{
	const char *m = mx_room_membership(req->srv->rooms, req->w, &req->arena, room_id,
					   req->auth.user_id);
	return m && !strcmp(m, "join");
}

/* A joined member with the power to send m.room.canonical_alias. */
static bool mx_may_send_canonical_alias(struct mx_req *req, const char *room_id)
{
	struct mx_rooms *rooms = req->srv->rooms;
	const struct mx_room_version *v = mx_room_version_of(rooms, req->w, room_id);
	if (!v || !mx_is_joined(req, room_id))
		return false;
	json_t *pl = NULL, *create = NULL;
	mx_room_state_get(rooms, req->w, &req->arena, room_id, "m.room.power_levels", "", &pl, NULL);
	mx_room_state_get(rooms, req->w, &req->arena, room_id, "m.room.create", "", &create, NULL);
	return mx_auth_user_power(v, pl, create, req->auth.user_id) >=
	       mx_auth_event_power(v, pl, "m.room.canonical_alias", true);
}

/*
 * Whether the user may change room's directory entries: a server admin,
 * or a joined member with the power to send m.room.canonical_alias.
 */
static bool mx_directory_can_edit(struct mx_req *req, const char *room_id)
{
	return req->auth.is_admin || mx_may_send_canonical_alias(req, room_id);
}

/* ---- aliases ---- */

/* SPEC: client-server-api#put_matrixclientv3directoryroomroomalias */
static int mx_alias_put(struct mx_req *req)
{
	const char *alias, *room_id;
	int rc = mx_alias_param(req, &alias);
	if (rc)
		return rc;
	/* Synapse refuses whitespace in new aliases: they cannot be typed back. */
	for (const char *p = alias; *p; p++)
		if (*p == ' ' || (*p >= '\t' && *p <= '\r'))
			return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid characters in room alias");
	if (!mx_alias_is_ours(req, alias))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Room alias must be on this server (%s)",
				   req->srv->cfg->server_name);
	/* SPEC: application-service-api#server-admin-style-permissions */
	const struct mx_appservice *as = req->auth.appservice;
	if ((as && !mx_as_namespaces_match(&as->aliases, alias, false)) ||
	    mx_appservices_exclusive_alias(req->srv->appservices, as, alias))
		return mx_req_fail(req, MX_EEXCLUSIVE,
				   as ? "This application service has not reserved this alias"
				      : "This alias is reserved by an application service");
	json_t *rid = json_object_get(req->json, "room_id");
	if (!rid)
		return mx_req_fail(req, MX_EMISSINGPARAM, "Missing room_id");
	if (!json_is_string(rid))
		return mx_req_fail(req, MX_EBADJSON, "'room_id' must be a string");
	room_id = json_string_value(rid);
	if (!mx_id_room_valid(room_id, NULL) || strlen(room_id) != json_string_length(rid))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid room_id");
	json_t *servers = json_object_get(req->json, "servers");
	if (servers && !json_is_array(servers))
		return mx_req_fail(req, MX_EBADJSON, "'servers' must be an array of server names");
	struct mx_store_room room;
	if (mx_store_room_get(req->w->rconn, &req->arena, room_id, &room))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Room %s does not exist", room_id);
	if (!req->auth.is_admin && !mx_is_joined(req, room_id))
		return mx_req_fail(req, MX_EFORBIDDEN, "You must be in the room to create an alias for it");
	rc = mx_store_alias_create(req->srv->db, alias, room_id, req->auth.user_id);
	/* SPEC: 409 (M_UNKNOWN, as the spec's example and Synapse) when taken. */
	if (rc == MX_ECONFLICT)
		return mx_req_fail(req, MX_ECONFLICT, "Room alias %s already exists", alias);
	if (rc)
		return mx_req_fail(req, rc, NULL);
	return mx_req_reply_empty(req);
}

/*
 * Another server's alias, asked of that server (parks the request). The
 * servers are the remote's and those we know in the room, ours first when
 * it is among them (as Synapse).
 */
static int mx_alias_get_remote(struct mx_req *req, const char *alias)
{
	const char *room_id, *me = req->srv->cfg->server_name;
	json_t *remote;
	int rc = mx_fed_query_alias_req(req, alias, &room_id, &remote);
	if (rc == MX_ESUSPENDED)
		return rc;
	if (rc == MX_ENOTFOUND)
		return mx_req_fail(req, rc, "Room alias %s not found", alias);
	if (rc)
		return mx_req_fail(req, MX_EREMOTE, "Failed to resolve room alias %s", alias);
	json_t *known = mx_arena_json(&req->arena, mx_room_directory_servers(req->srv->rooms, req->w,
									     &req->arena, NULL,
									     room_id));
	json_t *servers = json_array(), *lists[] = {remote, known}, *s;
	size_t i;
	bool ours = false;
	for (size_t k = 0; k < 2; k++)
		json_array_foreach (lists[k], i, s)
			ours = ours || !strcmp(json_string_value(s), me);
	if (ours)
		json_array_append_new(servers, json_string(me));
	for (size_t k = 0; k < 2; k++)
		json_array_foreach (lists[k], i, s)
			mx_room_directory_add_server(servers, json_string_value(s));
	return mx_req_reply_json(req, 200,
				 json_pack("{s:s, s:o}", "room_id", room_id, "servers", servers));
}

/* SPEC: client-server-api#get_matrixclientv3directoryroomroomalias */
static int mx_alias_get(struct mx_req *req)
{
	const char *alias;
	int rc = mx_alias_param(req, &alias);
	if (rc)
		return rc;
	if (!mx_alias_is_ours(req, alias))
		return mx_alias_get_remote(req, alias);
	const char *room_id = mx_store_alias_get(req->w->rconn, &req->arena, alias);
	if (!room_id)
		return mx_req_fail(req, MX_ENOTFOUND, "Room alias %s not found", alias);
	return mx_req_reply_json(req, 200, json_pack("{s:s, s:o}", "room_id", room_id, "servers",
						     mx_room_directory_servers(req->srv->rooms, req->w,
									       &req->arena,
									       req->srv->cfg->server_name,
									       room_id)));
}

/*
 * After an alias is deleted: drop it from the room's canonical alias event
 * if it is named there (the spec's recommendation, as Synapse). A failure
 * (the user may not send that event) does not undo the deletion.
 */
static void mx_alias_unlink_canonical(struct mx_req *req, const char *room_id, const char *alias)
{
	json_t *ev;
	if (mx_room_state_get(req->srv->rooms, req->w, &req->arena, room_id,
			      "m.room.canonical_alias", "", &ev, NULL) ||
	    !ev)
		return;
	json_t *content = mx_arena_json(&req->arena, json_deep_copy(json_object_get(ev, "content")));
	if (!json_is_object(content))
		return;
	bool changed = false;
	const char *cur = json_string_value(json_object_get(content, "alias"));
	if (cur && !strcmp(cur, alias)) {
		json_object_del(content, "alias");
		changed = true;
	}
	json_t *alt = json_object_get(content, "alt_aliases");
	if (json_is_array(alt)) {
		for (size_t i = json_array_size(alt); i-- > 0;) {
			const char *s = json_string_value(json_array_get(alt, i));
			if (s && !strcmp(s, alias)) {
				json_array_remove(alt, i);
				changed = true;
			}
		}
		if (changed && !json_array_size(alt))
			json_object_del(content, "alt_aliases");
	}
	if (!changed)
		return;
	struct mx_room_event_spec spec = {.type = "m.room.canonical_alias", .state_key = "",
					  .sender = req->auth.user_id, .content = content};
	const char *id, *why = NULL;
	int rc = mx_room_send(req->srv->rooms, req->w, &req->arena, room_id, &spec, &id, &why);
	if (rc)
		mx_log_info("alias %s deleted; canonical alias of %s not updated: %s", alias, room_id,
			    why ? why : mx_error_message(rc));
}

/* SPEC: client-server-api#delete_matrixclientv3directoryroomroomalias */
static int mx_alias_delete(struct mx_req *req)
{
	const char *alias, *room_id, *creator;
	int rc = mx_alias_param(req, &alias);
	if (rc)
		return rc;
	rc = mx_store_alias_info(req->w->rconn, &req->arena, alias, &room_id, &creator);
	if (rc == MX_ENOTFOUND)
		return mx_req_fail(req, MX_ENOTFOUND, "Room alias %s not found", alias);
	if (rc)
		return mx_req_fail(req, rc, NULL);
	if (!(creator && !strcmp(creator, req->auth.user_id)) && !mx_directory_can_edit(req, room_id))
		return mx_req_fail(req, MX_EFORBIDDEN, "You don't have permission to delete the alias");
	rc = mx_store_alias_remove(req->srv->db, alias, room_id);
	if (rc == MX_ENOTFOUND) /* deleted or moved by someone else meanwhile */
		return mx_req_fail(req, MX_ENOTFOUND, "Room alias %s not found", alias);
	if (rc)
		return mx_req_fail(req, rc, NULL);
	mx_alias_unlink_canonical(req, room_id, alias);
	return mx_req_reply_empty(req);
}

/* SPEC: client-server-api#get_matrixclientv3roomsroomidaliases */
static int mx_room_aliases(struct mx_req *req)
{
	const char *room_id;
	int rc = mx_room_param(req, &room_id);
	if (rc)
		return rc;
	if (!req->auth.is_admin && !mx_is_joined(req, room_id)) {
		json_t *hv = NULL;
		mx_room_state_get(req->srv->rooms, req->w, &req->arena, room_id,
				  "m.room.history_visibility", "", &hv, NULL);
		const char *vis = json_string_value(
			json_object_get(json_object_get(hv, "content"), "history_visibility"));
		if (!vis || strcmp(vis, "world_readable"))
			return mx_req_fail(req, MX_EFORBIDDEN, "You are not a member of the room");
	}
	const char **aliases;
	size_t n;
	rc = mx_store_room_aliases(req->w->rconn, &req->arena, room_id, &aliases, &n);
	if (rc)
		return mx_req_fail(req, rc, NULL);
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_string(aliases[i]));
	return mx_req_reply_json(req, 200, json_pack("{s:o}", "aliases", arr));
}

/* ---- canonical alias checks ---- */

/* An alias an event names: a well-formed string, or NULL. */
static const char *mx_alias_string(const json_t *v)
{
	const char *alias = json_string_value(v);
	if (!alias || strlen(alias) != json_string_length(v) || !mx_id_alias_valid(alias))
		return NULL;
	return alias;
}

/*
 * One alias the event adds: well-formed and mapped to room_id, here or,
 * for another server's alias, by that server (its answer in resolved, see
 * mx_fed_query_aliases_req; unreachable is 502 as in Synapse).
 */
static int mx_check_one_alias(struct mx_req *req, const char *room_id, const json_t *v,
			      const json_t *resolved)
{
	const char *alias = mx_alias_string(v), *target;
	if (!alias)
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid alias in m.room.canonical_alias");
	if (mx_alias_is_ours(req, alias)) {
		target = mx_store_alias_get(req->w->rconn, &req->arena, alias);
	} else {
		json_t *r = json_object_get(resolved, alias);
		if (!r)
			return mx_req_fail(req, MX_EBADALIAS,
					   "The alias '%s' cannot be checked: the event names more "
					   "than %d aliases of other servers",
					   alias, MX_FED_QUERY_ALIASES_MAX);
		if (json_is_integer(r) && json_integer_value(r) != MX_ENOTFOUND)
			return mx_req_fail(req, MX_EREMOTE, "Failed to resolve the alias '%s'", alias);
		target = json_string_value(r);
	}
	if (!target || strcmp(target, room_id))
		return mx_req_fail(req, MX_EBADALIAS, "The alias '%s' does not point to this room",
				   alias);
	return 0;
}

static bool mx_json_array_has(const json_t *arr, const json_t *v)
{
	size_t i;
	json_t *e;
	json_array_foreach (arr, i, e)
		if (json_equal(e, (json_t *)v))
			return true;
	return false;
}

/*
 * Ask the servers of the other servers' aliases in added (one job for
 * all): 0 with *resolved (NULL when there are none), or MX_ESUSPENDED.
 */
static int mx_resolve_remote_aliases(struct mx_req *req, const json_t *added, json_t **resolved)
{
	const char *remote[MX_FED_QUERY_ALIASES_MAX];
	size_t n = 0, i;
	json_t *v;
	*resolved = NULL;
	json_array_foreach (added, i, v) {
		const char *alias = mx_alias_string(v);
		if (!alias || mx_alias_is_ours(req, alias) || n == MX_FED_QUERY_ALIASES_MAX)
			continue;
		bool seen = false;
		for (size_t j = 0; j < n && !seen; j++)
			seen = !strcmp(remote[j], alias);
		if (!seen)
			remote[n++] = alias;
	}
	return n ? mx_fed_query_aliases_req(req, remote, n, resolved) : 0;
}

int mx_directory_check_canonical_alias(struct mx_req *req, const char *room_id,
				       const char *state_key, const json_t *content)
{
	/* Authorisation comes first (as Synapse): a sender who may not send
	 * the event at all gets the pipeline's 403, not an alias error. */
	if (!mx_may_send_canonical_alias(req, room_id))
		return 0;
	json_t *cur = NULL;
	mx_room_state_get(req->srv->rooms, req->w, &req->arena, room_id, "m.room.canonical_alias",
			  state_key, &cur, NULL);
	json_t *old = json_object_get(cur, "content");
	/* What the event adds: alias if it changed, the alt_aliases entries
	 * the current event does not have. */
	json_t *added = mx_arena_json(&req->arena, json_array());
	json_t *alias = json_object_get(content, "alias");
	/* SPEC: absent, null or "" means no canonical alias. */
	bool check_alias = alias && !json_is_null(alias) &&
			   !(json_is_string(alias) && json_string_length(alias) == 0) &&
			   !json_equal(alias, json_object_get(old, "alias"));
	if (check_alias)
		json_array_append(added, alias);
	json_t *alt = json_object_get(content, "alt_aliases");
	json_t *old_alt = json_object_get(old, "alt_aliases");
	size_t i;
	json_t *v;
	json_array_foreach (alt, i, v)
		if (!(json_is_array(old_alt) && mx_json_array_has(old_alt, v)))
			json_array_append(added, v);
	json_t *resolved;
	int rc = mx_resolve_remote_aliases(req, added, &resolved);
	if (rc == MX_EREMOTE) /* not done by the deadline */
		return mx_req_fail(req, rc, "Timed out resolving aliases of other servers");
	if (rc)
		return rc;
	i = 0;
	if (check_alias && (rc = mx_check_one_alias(req, room_id, json_array_get(added, i++), resolved)))
		return rc;
	if (alt && !json_is_array(alt))
		return mx_req_fail(req, MX_EINVALIDPARAM, "The alt_aliases property must be a list");
	for (; i < json_array_size(added); i++)
		if ((rc = mx_check_one_alias(req, room_id, json_array_get(added, i), resolved)))
			return rc;
	return 0;
}

/* ---- publishing ---- */

/* SPEC: client-server-api#get_matrixclientv3directorylistroomroomid */
static int mx_visibility_get(struct mx_req *req)
{
	const char *room_id;
	int rc = mx_room_param(req, &room_id);
	if (rc)
		return rc;
	struct mx_store_room room;
	rc = mx_store_room_get(req->w->rconn, &req->arena, room_id, &room);
	if (rc == MX_ENOTFOUND)
		return mx_req_fail(req, MX_ENOTFOUND, "Room not found");
	if (rc)
		return mx_req_fail(req, rc, NULL);
	return mx_req_reply_json(req, 200, json_pack("{s:s}", "visibility",
						     room.published ? "public" : "private"));
}

/* SPEC: client-server-api#put_matrixclientv3directorylistroomroomid */
static int mx_visibility_put(struct mx_req *req)
{
	const char *room_id, *vis;
	int rc = mx_room_param(req, &room_id);
	if (!rc)
		rc = mx_client_opt_string(req, req->json, "visibility", &vis);
	if (rc)
		return rc;
	if (!vis)
		vis = "public"; /* SPEC: defaults to public */
	if (strcmp(vis, "public") && strcmp(vis, "private"))
		return mx_req_fail(req, MX_EINVALIDPARAM, "visibility must be 'public' or 'private'");
	struct mx_store_room room;
	rc = mx_store_room_get(req->w->rconn, &req->arena, room_id, &room);
	if (rc == MX_ENOTFOUND)
		return mx_req_fail(req, MX_ENOTFOUND, "Room not found");
	if (rc)
		return mx_req_fail(req, rc, NULL);
	if (!mx_directory_can_edit(req, room_id))
		return mx_req_fail(req, MX_EFORBIDDEN,
				   "You need to be a moderator in the room to edit its directory entry");
	bool publish = !strcmp(vis, "public");
	if (publish != room.published &&
	    (rc = mx_store_room_set_published(req->srv->db, room_id, publish)))
		return mx_req_fail(req, rc, NULL);
	return mx_req_reply_empty(req);
}

/* ---- the published room list ---- */

/* Another server's list, through federation (parks the request). */
static int mx_public_rooms_remote(struct mx_req *req, const char *server,
				  const struct mx_room_directory_query *q)
{
	json_t *out;
	int rc = mx_fed_query_public_rooms_req(req, server, q, &out);
	if (rc == MX_ESUSPENDED)
		return rc;
	if (rc == MX_EFORBIDDEN)
		return mx_req_fail(req, rc, "You are not allowed to view the public rooms list of %s",
				   server);
	if (rc)
		return mx_req_fail(req, MX_EREMOTE, "Failed to fetch the room list of %s", server);
	return mx_req_reply_json(req, 200, json_incref(out));
}

static int mx_public_rooms(struct mx_req *req, const struct mx_room_directory_query *q)
{
	const char *server = mx_req_query(req, "server");
	if (server && !mx_id_server_name_valid(server))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid server name");
	if (server && strcmp(server, req->srv->cfg->server_name)) {
		/* As Synapse: our own list is public, asking others on
		 * someone's behalf takes a token. */
		if (!req->auth.user_id)
			return mx_req_fail(req, MX_EMISSINGTOKEN,
					   "Listing another server's rooms needs an access token");
		return mx_public_rooms_remote(req, server, q);
	}
	json_t *out;
	const char *why = NULL;
	int rc = mx_room_directory_list(req->w->rconn, &req->arena, q, false, &out, &why);
	if (rc)
		return why ? mx_req_fail(req, rc, "%s", why) : mx_req_fail(req, rc, NULL);
	return mx_req_reply_json(req, 200, out);
}

/* SPEC: client-server-api#get_matrixclientv3publicrooms */
static int mx_public_rooms_get(struct mx_req *req)
{
	struct mx_room_directory_query q = {.since = mx_req_query(req, "since")};
	const char *l = mx_req_query(req, "limit");
	if (l && mx_room_directory_parse_limit(l, &q.limit))
		return mx_req_fail(req, MX_EINVALIDPARAM, "limit must be a non-negative integer");
	return mx_public_rooms(req, &q);
}

/* SPEC: client-server-api#post_matrixclientv3publicrooms */
static int mx_public_rooms_post(struct mx_req *req)
{
	struct mx_room_directory_query q;
	const char *why;
	int rc = mx_room_directory_parse_body(&req->arena, req->json, &q, &why);
	if (rc)
		return mx_req_fail(req, rc, "%s", why);
	return mx_public_rooms(req, &q);
}

#define C MX_RES_CLIENT
const struct mx_route mx_directory_routes[] = {
	{MX_PUT, "/_matrix/client/v3/directory/room/{roomAlias}", mx_alias_put, MX_ROUTE_AUTH | MX_ROUTE_JSON, C, 0, 0},
	{MX_GET, "/_matrix/client/v3/directory/room/{roomAlias}", mx_alias_get, 0, C, 0, 0},
	{MX_DELETE, "/_matrix/client/v3/directory/room/{roomAlias}", mx_alias_delete, MX_ROUTE_AUTH, C, 0, 0},
	{MX_GET, "/_matrix/client/v3/rooms/{roomId}/aliases", mx_room_aliases, MX_ROUTE_AUTH, C, 0, 0},
	{MX_GET, "/_matrix/client/v3/directory/list/room/{roomId}", mx_visibility_get, 0, C, 0, 0},
	{MX_PUT, "/_matrix/client/v3/directory/list/room/{roomId}", mx_visibility_put, MX_ROUTE_AUTH | MX_ROUTE_JSON, C, 0, 0},
	{MX_GET, "/_matrix/client/v3/publicRooms", mx_public_rooms_get, MX_ROUTE_AUTH_OPTIONAL | MX_ROUTE_GUEST, C, 0, 0},
	{MX_POST, "/_matrix/client/v3/publicRooms", mx_public_rooms_post, MX_ROUTE_AUTH | MX_ROUTE_GUEST | MX_ROUTE_JSON, C, 0, 0},
};
const size_t mx_directory_routes_count = sizeof(mx_directory_routes) / sizeof(mx_directory_routes[0]);
