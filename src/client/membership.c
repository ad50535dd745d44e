/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Room membership: join, invite, leave, forget, kick, ban, unban, knock,
 * joined_rooms. Each builds one m.room.member event through the room
 * pipeline; the authorisation rules decide, and their reason reaches the
 * client as M_FORBIDDEN.
 * SPEC: client-server-api#room-membership
 */
#include <string.h>

#include "client/rooms.h"
#include "client/routes.h"
#include "client/util.h"
#include "core/config.h"
#include "core/error.h"
#include "event/ids.h"
#include "http/request.h"
#include "room/room.h"
#include "store/profile.h"
#include "store/accounts.h"
#include "store/rooms.h"

int mx_client_room_fail(struct mx_req *req, int rc, const char *why)
{
	if (rc == MX_ENOTFOUND)
		return mx_req_fail(req, MX_ENOTFOUND, "Unknown room");
	if (rc == MX_EFORBIDDEN)
		return mx_req_fail(req, MX_EFORBIDDEN, "%s", why ? why : "Forbidden");
	return mx_req_fail(req, rc, why ? "%s" : NULL, why);
}

/* The member event content for user joining/being invited: their profile. */
json_t *mx_client_member_content(struct mx_req *req, const char *membership, const char *user_id,
				 const char *reason)
{
	json_t *c = json_pack("{s:s}", "membership", membership);
	json_t *v;
	if (mx_client_is_local(req, user_id)) {
		if (!mx_store_profile_get_field(req->w->rconn, &req->arena, user_id, "displayname", &v) &&
		    json_is_string(v))
			json_object_set(c, "displayname", v);
		if (!mx_store_profile_get_field(req->w->rconn, &req->arena, user_id, "avatar_url", &v) &&
		    json_is_string(v))
			json_object_set(c, "avatar_url", v);
	}
	if (reason)
		json_object_set_new(c, "reason", json_string(reason));
	return mx_arena_json(&req->arena, c);
}

int mx_client_send_member(struct mx_req *req, const char *room_id, const char *target,
			  json_t *content, const char **event_id)
{
	struct mx_room_event_spec spec = {.type = "m.room.member", .state_key = target,
					  .sender = req->auth.user_id, .content = content};
	const char *why = NULL;
	int rc = mx_room_send(req->srv->rooms, req->w, &req->arena, room_id, &spec, event_id, &why);
	return rc ? mx_client_room_fail(req, rc, why) : 0;
}

/* Resolve "!room:server" or "#alias:server" to a room id we hold. */
int mx_client_resolve_room(struct mx_req *req, const char *id_or_alias, const char **room_id)
{
	if (id_or_alias[0] == '#') {
		if (!mx_id_alias_valid(id_or_alias))
			return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid room alias");
		const char *rid = mx_store_alias_get(req->w->rconn, &req->arena, id_or_alias);
		if (!rid)
			return mx_req_fail(req, MX_ENOTFOUND, "Room alias %s not found", id_or_alias);
		*room_id = rid;
		return 0;
	}
	if (id_or_alias[0] != '!' || strlen(id_or_alias) > 255)
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid room id");
	*room_id = id_or_alias;
	return 0;
}

static int mx_opt_reason(struct mx_req *req, const char **reason)
{
	int rc = mx_client_opt_string(req, req->json, "reason", reason);
	if (!rc && *reason && strlen(*reason) > 2048)
		return mx_req_fail(req, MX_EINVALIDPARAM, "reason is too long");
	return rc;
}

/*
 * For a restricted join: a local member who may invite, to sign off the
 * join (join_authorised_via_users_server). NULL if none or not needed.
 */
static const char *mx_restricted_authoriser(struct mx_req *req, const char *room_id)
{
	json_t *jr, *pl, *create;
	struct mx_rooms *rooms = req->srv->rooms;
	if (mx_room_state_get(rooms, req->w, &req->arena, room_id, "m.room.join_rules", "", &jr, NULL) ||
	    !jr)
		return NULL;
	const char *rule = json_string_value(json_object_get(json_object_get(jr, "content"), "join_rule"));
	if (!rule || (strcmp(rule, "restricted") && strcmp(rule, "knock_restricted")))
		return NULL;
	const char *mine = mx_room_membership(rooms, req->w, &req->arena, room_id, req->auth.user_id);
	if (mine && (!strcmp(mine, "invite") || !strcmp(mine, "join")))
		return NULL; /* an invite or a membership is enough on its own */
	mx_room_state_get(rooms, req->w, &req->arena, room_id, "m.room.power_levels", "", &pl, NULL);
	mx_room_state_get(rooms, req->w, &req->arena, room_id, "m.room.create", "", &create, NULL);
	return mx_client_pick_inviter(req, room_id, pl, create);
}

static int mx_do_join(struct mx_req *req, const char *room_id)
{
	const char *reason;
	int rc = mx_opt_reason(req, &reason);
	if (rc)
		return rc;
	if (!mx_room_version_of(req->srv->rooms, req->w, room_id))
		return mx_req_fail(req, MX_ENOTFOUND,
				   "No known servers: joining rooms on other servers is not supported yet");
	const char *cur = mx_room_membership(req->srv->rooms, req->w, &req->arena, room_id,
					     req->auth.user_id);
	if (cur && !strcmp(cur, "join"))
		return mx_req_reply_json(req, 200, json_pack("{s:s}", "room_id", room_id));
	json_t *content = mx_client_member_content(req, "join", req->auth.user_id, reason);
	const char *via = mx_restricted_authoriser(req, room_id);
	if (via)
		json_object_set_new(content, "join_authorised_via_users_server", json_string(via));
	const char *event_id;
	rc = mx_client_send_member(req, room_id, req->auth.user_id, content, &event_id);
	if (rc)
		return rc;
	return mx_req_reply_json(req, 200, json_pack("{s:s}", "room_id", room_id));
}

/* SPEC: client-server-api#post_matrixclientv3roomsroomidjoin */
static int mx_join_room_id(struct mx_req *req)
{
	return mx_do_join(req, mx_req_param(req, 0));
}

/* SPEC: client-server-api#post_matrixclientv3joinroomidoralias */
static int mx_join_any(struct mx_req *req)
{
	const char *room_id;
	int rc = mx_client_resolve_room(req, mx_req_param(req, 0), &room_id);
	return rc ? rc : mx_do_join(req, room_id);
}

/* Shared by invite, kick, ban and unban: {user_id, reason} -> member event. */
static int mx_target_membership(struct mx_req *req, const char *membership)
{
	const char *room_id = mx_req_param(req, 0), *target, *reason;
	int rc = mx_client_opt_string(req, req->json, "user_id", &target);
	if (!rc)
		rc = mx_opt_reason(req, &reason);
	if (rc)
		return rc;
	if (!target)
		return mx_req_fail(req, MX_EMISSINGPARAM, "Missing user_id");
	if (!mx_client_user_id_valid(target))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid user_id");
	if (!mx_room_version_of(req->srv->rooms, req->w, room_id))
		return mx_req_fail(req, MX_ENOTFOUND, "Unknown room");
	const char *cur = mx_room_membership(req->srv->rooms, req->w, &req->arena, room_id, target);
	const char *mine = mx_room_membership(req->srv->rooms, req->w, &req->arena, room_id,
					      req->auth.user_id);
	if (!mine || strcmp(mine, "join") != 0)
		return mx_req_fail(req, MX_EFORBIDDEN, "You are not in this room");
	if (!strcmp(membership, "invite")) {
		if (mx_client_is_local(req, target) && !mx_store_user_exists(req->w->rconn, target))
			return mx_req_fail(req, MX_ENOTFOUND, "Unknown user %s", target);
		if (!mx_client_is_local(req, target))
			return mx_req_fail(req, MX_EFORBIDDEN, "Inviting users on other servers is not supported yet");
		if (cur && !strcmp(cur, "invite"))
			return mx_req_reply_empty(req); /* already invited: idempotent */
		if (cur && (!strcmp(cur, "join") || !strcmp(cur, "ban")))
			return mx_req_fail(req, MX_EFORBIDDEN, "%s is already in the room or banned", target);
	}
	const char *leave_kind = !strcmp(membership, "kick") || !strcmp(membership, "unban") ? "leave" : membership;
	if (!strcmp(membership, "unban") && (!cur || strcmp(cur, "ban") != 0))
		return mx_req_fail(req, MX_EFORBIDDEN, "%s is not banned", target);
	if (!strcmp(membership, "kick") && (!cur || !strcmp(cur, "leave") || !strcmp(cur, "ban")))
		return mx_req_fail(req, MX_EFORBIDDEN, "%s is not in the room", target);
	json_t *content = !strcmp(membership, "invite")
				  ? mx_client_member_content(req, "invite", target, reason)
				  : mx_arena_json(&req->arena, json_pack("{s:s}", "membership", leave_kind));
	if (reason && strcmp(membership, "invite") != 0)
		json_object_set_new(content, "reason", json_string(reason));
	const char *event_id;
	rc = mx_client_send_member(req, room_id, target, content, &event_id);
	return rc ? rc : mx_req_reply_empty(req);
}

static int mx_invite(struct mx_req *req)
{
	return mx_target_membership(req, "invite");
}

static int mx_kick(struct mx_req *req)
{
	return mx_target_membership(req, "kick");
}

static int mx_ban(struct mx_req *req)
{
	return mx_target_membership(req, "ban");
}

static int mx_unban(struct mx_req *req)
{
	return mx_target_membership(req, "unban");
}

/* SPEC: client-server-api#post_matrixclientv3roomsroomidleave */
static int mx_leave(struct mx_req *req)
{
	const char *room_id = mx_req_param(req, 0), *reason;
	int rc = mx_opt_reason(req, &reason);
	if (rc)
		return rc;
	if (!mx_room_version_of(req->srv->rooms, req->w, room_id))
		return mx_req_fail(req, MX_ENOTFOUND, "Unknown room");
	const char *cur = mx_room_membership(req->srv->rooms, req->w, &req->arena, room_id,
					     req->auth.user_id);
	if (!cur || !strcmp(cur, "leave"))
		return mx_req_reply_empty(req); /* Synapse: leaving twice is fine */
	if (!strcmp(cur, "ban"))
		return mx_req_fail(req, MX_EFORBIDDEN, "You are banned from this room");
	json_t *content = mx_arena_json(&req->arena, json_pack("{s:s}", "membership", "leave"));
	if (reason)
		json_object_set_new(content, "reason", json_string(reason));
	const char *event_id;
	rc = mx_client_send_member(req, room_id, req->auth.user_id, content, &event_id);
	return rc ? rc : mx_req_reply_empty(req);
}

/* SPEC: client-server-api#post_matrixclientv3roomsroomidforget */
static int mx_forget(struct mx_req *req)
{
	const char *room_id = mx_req_param(req, 0);
	const char *cur = mx_store_membership(req->w->rconn, &req->arena, room_id, req->auth.user_id);
	if (cur && (!strcmp(cur, "join") || !strcmp(cur, "invite") || !strcmp(cur, "knock")))
		return mx_req_fail(req, MX_EBADREQUEST, "Leave the room before forgetting it");
	if (!cur)
		return mx_req_fail(req, MX_ENOTFOUND, "You have never been in this room");
	int rc = mx_store_room_forget(req->srv->db, req->auth.user_id, room_id);
	return rc ? mx_req_fail(req, rc, NULL) : mx_req_reply_empty(req);
}

/* SPEC: client-server-api#post_matrixclientv3knockroomidoralias */
static int mx_knock(struct mx_req *req)
{
	const char *room_id, *reason;
	int rc = mx_client_resolve_room(req, mx_req_param(req, 0), &room_id);
	if (!rc)
		rc = mx_opt_reason(req, &reason);
	if (rc)
		return rc;
	if (!mx_room_version_of(req->srv->rooms, req->w, room_id))
		return mx_req_fail(req, MX_ENOTFOUND, "Unknown room");
	json_t *content = mx_client_member_content(req, "knock", req->auth.user_id, reason);
	const char *event_id;
	rc = mx_client_send_member(req, room_id, req->auth.user_id, content, &event_id);
	return rc ? rc : mx_req_reply_json(req, 200, json_pack("{s:s}", "room_id", room_id));
}

/* SPEC: client-server-api#get_matrixclientv3joined_rooms */
static int mx_joined_rooms(struct mx_req *req)
{
	static const char *const joined[] = {"join", NULL};
	struct mx_store_user_room *rooms;
	size_t n;
	int rc = mx_store_user_rooms(req->w->rconn, &req->arena, req->auth.user_id, joined, &rooms, &n);
	if (rc)
		return mx_req_fail(req, rc, NULL);
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_string(rooms[i].room_id));
	return mx_req_reply_json(req, 200, json_pack("{s:o}", "joined_rooms", arr));
}

#define C MX_RES_CLIENT
#define AJ (MX_ROUTE_AUTH | MX_ROUTE_JSON | MX_ROUTE_EMPTY_BODY)
const struct mx_route mx_membership_routes[] = {
	{MX_POST, "/_matrix/client/v3/rooms/{roomId}/join", mx_join_room_id, AJ | MX_ROUTE_GUEST, C, 0, 0},
	{MX_POST, "/_matrix/client/v3/join/{roomIdOrAlias}", mx_join_any, AJ | MX_ROUTE_GUEST, C, 0, 0},
	{MX_POST, "/_matrix/client/v3/rooms/{roomId}/invite", mx_invite, AJ, C, MX_RL_MESSAGE, 0},
	{MX_POST, "/_matrix/client/v3/rooms/{roomId}/leave", mx_leave, AJ | MX_ROUTE_GUEST, C, 0, 0},
	{MX_POST, "/_matrix/client/v3/rooms/{roomId}/forget", mx_forget, AJ, C, 0, 0},
	{MX_POST, "/_matrix/client/v3/rooms/{roomId}/kick", mx_kick, AJ, C, 0, 0},
	{MX_POST, "/_matrix/client/v3/rooms/{roomId}/ban", mx_ban, AJ, C, 0, 0},
	{MX_POST, "/_matrix/client/v3/rooms/{roomId}/unban", mx_unban, AJ, C, 0, 0},
	{MX_POST, "/_matrix/client/v3/knock/{roomIdOrAlias}", mx_knock, AJ, C, 0, 0},
	{MX_GET, "/_matrix/client/v3/joined_rooms", mx_joined_rooms, MX_ROUTE_AUTH | MX_ROUTE_GUEST, C, 0, 0},
};
const size_t mx_membership_routes_count = sizeof(mx_membership_routes) / sizeof(mx_membership_routes[0]);

/*
 * A profile change reaches every room the user is joined to as a new
 * m.room.member join with the new displayname / avatar_url (as Synapse
 * does). A room whose rules refuse the event (a ban racing the change) is
 * skipped: the profile itself has already changed.
 */
void mx_client_profile_to_rooms(struct mx_req *req)
{
	static const char *const joined[] = {"join", NULL};
	struct mx_store_user_room *rooms;
	size_t n;
	const char *me = req->auth.user_id;
	if (mx_store_user_rooms(req->w->rconn, &req->arena, me, joined, &rooms, &n))
		return;
	json_t *fresh = mx_client_member_content(req, "join", me, NULL);
	for (size_t i = 0; i < n; i++) {
		json_t *cur;
		if (mx_room_state_get(req->srv->rooms, req->w, &req->arena, rooms[i].room_id,
				      "m.room.member", me, &cur, NULL) || !cur)
			continue;
		json_t *content = mx_arena_json(&req->arena,
						json_deep_copy(json_object_get(cur, "content")));
		if (!json_is_object(content))
			continue;
		json_object_del(content, "displayname");
		json_object_del(content, "avatar_url");
		json_object_del(content, "reason");
		json_object_update(content, fresh);
		if (json_equal(content, json_object_get(cur, "content")))
			continue;
		struct mx_room_event_spec spec = {.type = "m.room.member", .state_key = me,
						  .sender = me, .content = content};
		const char *event_id, *why;
		mx_room_send(req->srv->rooms, req->w, &req->arena, rooms[i].room_id, &spec, &event_id,
			     &why);
	}
}
