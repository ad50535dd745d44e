/* SPDX-License-Identifier: Apache-2.0 */
/*
 * POST /createRoom: every initial event is built and authorised in one
 * batch under the new room's lock and persisted in one durable write.
 * SPEC: client-server-api#post_matrixclientv3createroom
 */
#include <string.h>

#include "client/rooms.h"
#include "client/routes.h"
#include "client/util.h"
#include "core/config.h"
#include "core/error.h"
#include "event/ids.h"
#include "event/version.h"
#include "http/request.h"
#include "room/room.h"
#include "store/accounts.h"
#include "store/rooms.h"

struct mx_preset {
	const char *name;
	const char *join_rule;
	const char *history;
	const char *guest_access;
	bool invitees_are_admins;
};

static const struct mx_preset mx_presets[] = {
	{"private_chat", "invite", "shared", "can_join", false},
	{"trusted_private_chat", "invite", "shared", "can_join", true},
	{"public_chat", "public", "shared", "forbidden", false},
};

static const struct mx_preset *mx_preset_get(const char *name)
{
	for (size_t i = 0; i < sizeof(mx_presets) / sizeof(mx_presets[0]); i++)
		if (!strcmp(mx_presets[i].name, name))
			return &mx_presets[i];
	return NULL;
}

/* The default power levels (Synapse's), before the override. */
static json_t *mx_default_power_levels(const struct mx_room_version *v, const char *creator,
				       const struct mx_preset *preset, json_t *invites)
{
	json_t *users = json_object();
	if (!v->room_id_from_create)
		json_object_set_new(users, creator, json_integer(100));
	if (preset->invitees_are_admins && !v->room_id_from_create) {
		size_t i;
		json_t *u;
		json_array_foreach (invites, i, u)
			json_object_set_new(users, json_string_value(u), json_integer(100));
	}
	/* SPEC: createRoom step 3: in v12 tombstone must outrank state_default. */
	int64_t top = v->room_id_from_create ? 150 : 100;
	json_t *events = json_pack("{s:i, s:I, s:I, s:i, s:i, s:I, s:I, s:I}",
				   "m.room.name", 50, "m.room.power_levels", (json_int_t)top,
				   "m.room.history_visibility", (json_int_t)top,
				   "m.room.canonical_alias", 50, "m.room.avatar", 50,
				   "m.room.tombstone", (json_int_t)top, "m.room.server_acl", (json_int_t)top,
				   "m.room.encryption", (json_int_t)top);
	json_t *pl = json_pack("{s:o, s:i, s:o, s:i, s:i, s:i, s:i, s:i, s:i, s:{s:i}}", "users",
			       users, "users_default", 0, "events", events, "events_default", 0,
			       "state_default", 50, "ban", 50, "kick", 50, "redact", 50, "invite",
			       strcmp(preset->join_rule, "invite") == 0 ? 0 : 50, "notifications",
			       "room", 50);
	return pl;
}

struct mx_create_params {
	const char *visibility, *alias_name, *name, *topic, *preset_name, *version;
	json_t *invites, *initial_state, *creation_content, *pl_override;
	bool is_direct;
};

static int mx_create_parse(struct mx_req *req, struct mx_create_params *p)
{
	json_t *b = req->json;
	int rc = mx_client_opt_string(req, b, "visibility", &p->visibility);
	if (!rc)
		rc = mx_client_opt_string(req, b, "room_alias_name", &p->alias_name);
	if (!rc)
		rc = mx_client_opt_string(req, b, "name", &p->name);
	if (!rc)
		rc = mx_client_opt_string(req, b, "topic", &p->topic);
	if (!rc)
		rc = mx_client_opt_string(req, b, "preset", &p->preset_name);
	if (!rc)
		rc = mx_client_opt_string(req, b, "room_version", &p->version);
	if (!rc)
		rc = mx_client_opt_bool(req, b, "is_direct", false, &p->is_direct);
	if (rc)
		return rc;
	if (p->visibility && strcmp(p->visibility, "public") && strcmp(p->visibility, "private"))
		return mx_req_fail(req, MX_EBADJSON, "visibility must be 'public' or 'private'");
	p->invites = json_object_get(b, "invite");
	p->initial_state = json_object_get(b, "initial_state");
	p->creation_content = json_object_get(b, "creation_content");
	p->pl_override = json_object_get(b, "power_level_content_override");
	if (p->invites && !json_is_array(p->invites))
		return mx_req_fail(req, MX_EBADJSON, "invite must be an array of user ids");
	size_t i;
	json_t *u;
	json_array_foreach (p->invites, i, u)
		if (!json_is_string(u) || !mx_client_user_id_valid(json_string_value(u)))
			return mx_req_fail(req, MX_EINVALIDPARAM, "invite: invalid user id");
	if (json_object_get(b, "invite_3pid") && json_array_size(json_object_get(b, "invite_3pid")))
		return mx_req_fail(req, MX_EBADREQUEST, "Third-party invites are not supported");
	if (p->initial_state && !json_is_array(p->initial_state))
		return mx_req_fail(req, MX_EBADJSON, "initial_state must be an array");
	json_array_foreach (p->initial_state, i, u) {
		json_t *t = json_object_get(u, "type"), *k = json_object_get(u, "state_key");
		if (!json_is_object(u) || !json_is_string(t) || (k && !json_is_string(k)) ||
		    !json_is_object(json_object_get(u, "content")))
			return mx_req_fail(req, MX_EBADJSON, "initial_state[%zu] needs type and content", i);
	}
	if (p->creation_content && !json_is_object(p->creation_content))
		return mx_req_fail(req, MX_EBADJSON, "creation_content must be an object");
	if (p->pl_override && !json_is_object(p->pl_override))
		return mx_req_fail(req, MX_EBADJSON, "power_level_content_override must be an object");
	if (p->alias_name && (!*p->alias_name || strchr(p->alias_name, ':') ||
			      strchr(p->alias_name, '#') || strlen(p->alias_name) > 200))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid room_alias_name");
	return 0;
}

/* Add one event to the batch; on failure reply (M_INVALID_ROOM_STATE for auth). */
static int mx_create_add(struct mx_req *req, struct mx_room_batch *b, const char *type,
			 const char *state_key, json_t *content)
{
	struct mx_room_event_spec spec = {.type = type, .state_key = state_key,
					  .sender = req->auth.user_id, .content = content};
	const char *id, *why;
	int rc = mx_room_batch_add(b, &spec, &id, &why);
	if (rc == MX_EFORBIDDEN)
		return mx_req_fail(req, MX_EINVALIDROOMSTATE, "%s: %s", type, why ? why : "not allowed");
	if (rc)
		return mx_req_fail(req, rc, "%s", why ? why : "Could not create the room");
	return 0;
}

static int mx_create_events(struct mx_req *req, struct mx_room_batch *b,
			    const struct mx_create_params *p, const struct mx_preset *preset,
			    const char *alias)
{
	const struct mx_room_version *v = mx_room_batch_version(b);
	const char *me = req->auth.user_id;
	int rc = mx_create_add(req, b, "m.room.member", me,
			       mx_client_member_content(req, "join", me, NULL));
	if (rc)
		return rc;
	json_t *pl = mx_arena_json(&req->arena, mx_default_power_levels(v, me, preset, p->invites));
	if (p->pl_override)
		json_object_update(pl, p->pl_override);
	if ((rc = mx_create_add(req, b, "m.room.power_levels", "", pl)))
		return rc;
	if (alias && (rc = mx_create_add(req, b, "m.room.canonical_alias", "",
					 mx_arena_json(&req->arena, json_pack("{s:s}", "alias", alias)))))
		return rc;
	if ((rc = mx_create_add(req, b, "m.room.join_rules", "",
				mx_arena_json(&req->arena, json_pack("{s:s}", "join_rule", preset->join_rule)))) ||
	    (rc = mx_create_add(req, b, "m.room.history_visibility", "",
				mx_arena_json(&req->arena,
					      json_pack("{s:s}", "history_visibility", preset->history)))) ||
	    (rc = mx_create_add(req, b, "m.room.guest_access", "",
				mx_arena_json(&req->arena,
					      json_pack("{s:s}", "guest_access", preset->guest_access)))))
		return rc;
	size_t i;
	json_t *ev;
	json_array_foreach (p->initial_state, i, ev) {
		const char *sk = json_string_value(json_object_get(ev, "state_key"));
		if ((rc = mx_create_add(req, b, json_string_value(json_object_get(ev, "type")),
					sk ? sk : "", json_object_get(ev, "content"))))
			return rc;
	}
	if (p->name && (rc = mx_create_add(req, b, "m.room.name", "",
					   mx_arena_json(&req->arena, json_pack("{s:s}", "name", p->name)))))
		return rc;
	if (p->topic && (rc = mx_create_add(req, b, "m.room.topic", "",
					    mx_arena_json(&req->arena, json_pack("{s:s}", "topic", p->topic)))))
		return rc;
	json_array_foreach (p->invites, i, ev) {
		const char *target = json_string_value(ev);
		if (!strcmp(target, me))
			continue;
		if (!mx_client_is_local(req, target))
			return mx_req_fail(req, MX_EFORBIDDEN, "Inviting users on other servers is not supported yet");
		if (!mx_store_user_exists(req->w->rconn, target))
			return mx_req_fail(req, MX_ENOTFOUND, "Unknown user %s", target);
		json_t *c = mx_client_member_content(req, "invite", target, NULL);
		if (p->is_direct)
			json_object_set_new(c, "is_direct", json_true());
		if ((rc = mx_create_add(req, b, "m.room.member", target, c)))
			return rc;
	}
	return 0;
}

static int mx_create_room(struct mx_req *req)
{
	const struct mx_config *cfg = req->srv->cfg;
	struct mx_create_params p = {0};
	int rc = mx_create_parse(req, &p);
	if (rc)
		return rc;
	const struct mx_preset *preset =
		mx_preset_get(p.preset_name ? p.preset_name
					    : (p.visibility && !strcmp(p.visibility, "public") ? "public_chat"
											      : "private_chat"));
	if (!preset)
		return mx_req_fail(req, MX_EBADJSON, "Unknown preset");
	const struct mx_room_version *v = mx_room_version_get(p.version ? p.version : cfg->default_room_version);
	if (!v)
		return mx_req_fail(req, MX_EUNSUPPORTEDROOMVERSION, "Unsupported room version");
	const char *alias = NULL;
	if (p.alias_name) {
		alias = mx_arena_printf(&req->arena, "#%s:%s", p.alias_name, cfg->server_name);
		if (!mx_id_alias_valid(alias))
			return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid room_alias_name");
		if (mx_store_alias_get(req->w->rconn, &req->arena, alias))
			return mx_req_fail(req, MX_EROOMINUSE, "Room alias already taken");
	}

	json_t *cc = mx_arena_json(&req->arena, p.creation_content ? json_deep_copy(p.creation_content)
								    : json_object());
	json_object_set_new(cc, "room_version", json_string(v->id));
	if (v->create_has_creator)
		json_object_set_new(cc, "creator", json_string(req->auth.user_id));
	else
		json_object_del(cc, "creator");
	if (v->room_id_from_create && preset->invitees_are_admins && json_array_size(p.invites)) {
		json_t *extra = json_object_get(cc, "additional_creators");
		if (!json_is_array(extra)) {
			extra = json_array();
			json_object_set_new(cc, "additional_creators", extra);
		}
		size_t i;
		json_t *u;
		json_array_foreach (p.invites, i, u)
			json_array_append(extra, u);
	}
	struct mx_room_batch *b;
	const char *room_id, *why = NULL;
	rc = mx_room_batch_create(req->srv->rooms, req->w, &req->arena, v, req->auth.user_id, cc, &b,
				  &room_id);
	if (rc)
		return mx_req_fail(req, rc == MX_EFORBIDDEN ? MX_EINVALIDROOMSTATE : rc,
				   "creation_content is not valid: %s", why ? why : "rejected");
	rc = mx_create_events(req, b, &p, preset, alias);
	if (rc) {
		mx_room_batch_abort(b);
		return rc;
	}
	if (alias) {
		rc = mx_store_alias_create(req->srv->db, alias, room_id, req->auth.user_id);
		if (rc) {
			mx_room_batch_abort(b);
			return mx_req_fail(req, rc == MX_ECONFLICT ? MX_EROOMINUSE : rc,
					   "Room alias already taken");
		}
	}
	rc = mx_room_batch_commit(b);
	if (rc) {
		if (alias)
			mx_store_alias_delete(req->srv->db, alias);
		return mx_req_fail(req, rc, NULL);
	}
	if (p.visibility && !strcmp(p.visibility, "public"))
		mx_store_room_set_published(req->srv->db, room_id, true);
	return mx_req_reply_json(req, 200, json_pack("{s:s}", "room_id", room_id));
}

const struct mx_route mx_create_room_routes[] = {
	{MX_POST, "/_matrix/client/v3/createRoom", mx_create_room, MX_ROUTE_AUTH | MX_ROUTE_JSON, MX_RES_CLIENT, MX_RL_MESSAGE, 0},
};
const size_t mx_create_room_routes_count = 1;
