/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Room upgrades: replace a room by a new one of another version. The new
 * room's create event names its predecessor; the old room gets an
 * m.room.tombstone naming the replacement; state that describes the room
 * (not who is in it) is copied; bans are carried over; local aliases and
 * the directory listing move to the new room; and the old room's power
 * levels are raised so that ordinary members stop talking there.
 * SPEC: client-server-api#room-upgrades (server behaviour)
 *
 * What is copied, and how power levels are handled, follows Synapse: the
 * upgrader gets, in the new room, the level needed to send every copied
 * event (the highest of state_default, ban and events[*]), and the old
 * room's levels are put back as the last event.
 *
 * Both rooms are built in batches: the old room stays locked from the
 * permission check to its tombstone, and nothing is written unless the
 * whole new room could be built. For room versions whose room id is random
 * the new id is chosen first, so that the tombstone can be built first and
 * the new room's predecessor can name it (as Synapse does); from v12 the
 * id is the create event's hash, predecessor.event_id is left out (SPEC:
 * v1.16) and the tombstone is built after the new room.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "client/rooms.h"
#include "client/routes.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "event/ids.h"
#include "event/redact.h"
#include "event/version.h"
#include "http/request.h"
#include "room/room.h"
#include "store/directory.h"
#include "store/rooms.h"

/* Power levels must stay within canonical JSON's integer range. */
#define MX_PL_MAX 9007199254740991LL

/* State copied as is (SPEC's recommended list, as Synapse), in send order. */
static const char *const mx_copied_types[] = {
	"m.room.join_rules", "m.room.history_visibility", "m.room.guest_access",
	"m.room.name",       "m.room.topic",              "m.room.avatar",
	"m.room.encryption", "m.room.server_acl",
};

/* The old room's state, read (redactions applied) before it is locked. */
struct mx_up_state {
	struct mx_req *req;
	const struct mx_room_version *v;
	json_t *single;   /* type -> content, for state_key "" */
	json_t *bans;     /* user id -> content of their ban */
	json_t *children; /* m.space.child state key -> content */
};

static int mx_up_collect(void *ctx, const struct mx_store_event *ev)
{
	struct mx_up_state *s = ctx;
	json_t *pdu = json_loads(ev->json, 0, NULL);
	if (!pdu)
		return 0;
	if (ev->redacted_by) {
		json_t *r = mx_event_redact(pdu, s->v);
		json_decref(pdu);
		if (!(pdu = r))
			return 0;
	}
	json_t *content = json_object_get(pdu, "content");
	if (!json_is_object(content) || !ev->state_key) {
		json_decref(pdu);
		return 0;
	}
	if (!strcmp(ev->type, "m.room.member")) {
		const char *m = json_string_value(json_object_get(content, "membership"));
		if (m && !strcmp(m, "ban"))
			json_object_set(s->bans, ev->state_key, content);
	} else if (!strcmp(ev->type, "m.space.child")) {
		/* An empty m.space.child is a removed child (Synapse skips it). */
		if (json_object_size(content))
			json_object_set(s->children, ev->state_key, content);
	} else if (!*ev->state_key) {
		json_object_set(s->single, ev->type, content);
	}
	json_decref(pdu);
	return 0;
}

/*
 * Synapse's copy_and_fixup_power_levels_contents: integers are kept,
 * strings holding a decimal integer become integers (v10+ rooms refuse
 * strings), anything else is dropped; maps (users, events, notifications)
 * are fixed up one level down. Returns a new object (arena).
 */
static bool mx_pl_value(const json_t *v, json_int_t *out)
{
	long long x;
	if (json_is_integer(v)) {
		x = json_integer_value(v);
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		errno = 0;
		x = strtoll(s, &end, 10);
		if (errno || end == s || *end)
			return false;
	} else {
		return false;
	}
	if (x > MX_PL_MAX || x < -MX_PL_MAX)
		return false;
	*out = x;
	return true;
}

static json_t *mx_pl_fixup(struct mx_req *req, const json_t *content)
{
	json_t *out = mx_arena_json(&req->arena, json_object());
	const char *k;
	json_t *v;
	json_int_t x;
	json_object_foreach ((json_t *)content, k, v) {
		if (json_is_object(v)) {
			json_t *m = json_object();
			const char *k1;
			json_t *v1;
			json_object_foreach (v, k1, v1)
				if (mx_pl_value(v1, &x))
					json_object_set_new(m, k1, json_integer(x));
			json_object_set_new(out, k, m);
		} else if (mx_pl_value(v, &x)) {
			json_object_set_new(out, k, json_integer(x));
		}
	}
	return out;
}

static json_int_t mx_pl_get(const json_t *pl, const char *key, json_int_t def)
{
	json_t *v = json_object_get(pl, key);
	return json_is_integer(v) ? json_integer_value(v) : def;
}

/* The creators of a room from its create event content and sender. */
static void mx_up_add_creators(const struct mx_room_version *v, const json_t *create_pdu,
			       json_t *users, json_int_t level)
{
	const json_t *c = json_object_get(create_pdu, "content");
	const char *sender = json_string_value(json_object_get(create_pdu, "sender"));
	if (sender && !json_object_get(users, sender))
		json_object_set_new(users, sender, json_integer(level));
	size_t i;
	json_t *u;
	if (v->room_id_from_create)
		json_array_foreach (json_object_get(c, "additional_creators"), i, u)
			if (json_is_string(u) && !json_object_get(users, json_string_value(u)))
				json_object_set_new(users, json_string_value(u), json_integer(level));
}

struct mx_upgrade {
	struct mx_req *req;
	const char *old_id, *new_id, *me;
	const struct mx_room_version *old_v, *new_v;
	struct mx_up_state st;
	json_t *additional;      /* additional_creators for a v12+ room, or NULL */
	json_t *pl_final;        /* the new room's power levels after the copy */
	json_t *pl_initial;      /* the same with the upgrader raised */
	json_t *alias_new;       /* canonical alias content for the new room, or NULL */
	json_t *alias_old;       /* what is left in the old room, or NULL if unchanged */
	struct mx_room_batch *ob, *nb;
	const char *tombstone_id;
};

/*
 * The new room's power levels: the old room's, fixed up; without creators
 * in a v12+ room (their power is implicit), with the old room's creators at
 * max(100, needed) when leaving a v12+ room for an older version (they had
 * no entry); and the upgrader raised to the level needed to copy the state.
 */
static void mx_up_power_levels(struct mx_upgrade *u)
{
	struct mx_req *req = u->req;
	const json_t *old = json_object_get(u->st.single, "m.room.power_levels");
	json_t *pl = mx_pl_fixup(req, old ? old : json_object());
	json_t *users = json_object_get(pl, "users");
	if (!json_is_object(users)) {
		users = json_object();
		json_object_set_new(pl, "users", users);
	}
	if (!old && !u->new_v->room_id_from_create)
		json_object_set_new(users, u->me, json_integer(100)); /* no levels: creator's 100 */
	json_int_t needed = mx_pl_get(pl, "state_default", 50);
	json_int_t ban = mx_pl_get(pl, "ban", 50);
	if (ban > needed)
		needed = ban;
	const char *k;
	json_t *v;
	json_object_foreach (json_object_get(pl, "events"), k, v)
		if (json_integer_value(v) > needed)
			needed = json_integer_value(v);
	if (u->new_v->room_id_from_create) {
		json_object_del(users, u->me);
		size_t i;
		json_t *c;
		json_array_foreach (u->additional, i, c)
			json_object_del(users, json_string_value(c));
	} else if (u->old_v->room_id_from_create) {
		json_t *create = NULL;
		mx_room_state_get(req->srv->rooms, req->w, &req->arena, u->old_id, "m.room.create", "",
				  &create, NULL);
		mx_up_add_creators(u->old_v, create, users, needed > 100 ? needed : 100);
	}
	u->pl_final = pl;
	u->pl_initial = mx_arena_json(&req->arena, json_deep_copy(pl));
	if (!u->new_v->room_id_from_create) {
		json_int_t cur = mx_pl_get(users, u->me, mx_pl_get(pl, "users_default", 0));
		if (cur < needed)
			json_object_set_new(json_object_get(u->pl_initial, "users"), u->me,
					    json_integer(needed));
	}
}

/*
 * Split the old canonical alias event (as Synapse): local aliases move to
 * the new room's event, remote ones stay.
 */
static void mx_up_aliases(struct mx_upgrade *u)
{
	struct mx_req *req = u->req;
	const json_t *old = json_object_get(u->st.single, "m.room.canonical_alias");
	if (!old)
		return;
	const char *server = req->srv->cfg->server_name;
	json_t *keep = mx_arena_json(&req->arena, json_deep_copy(old));
	json_t *moved = mx_arena_json(&req->arena, json_object());
	const char *alias = json_string_value(json_object_get(old, "alias"));
	const char *as = alias ? mx_id_server(alias) : NULL;
	bool changed = false;
	if (as && !strcmp(as, server)) {
		json_object_set_new(moved, "alias", json_string(alias));
		json_object_del(keep, "alias");
		changed = true;
	}
	json_t *alt = json_object_get(keep, "alt_aliases");
	if (json_is_array(alt)) {
		json_t *moved_alt = json_array();
		for (size_t i = 0; i < json_array_size(alt);) {
			const char *a = json_string_value(json_array_get(alt, i));
			const char *s = a ? mx_id_server(a) : NULL;
			if (s && !strcmp(s, server)) {
				json_array_append_new(moved_alt, json_string(a));
				json_array_remove(alt, i);
				changed = true;
			} else {
				i++;
			}
		}
		if (json_array_size(moved_alt))
			json_object_set_new(moved, "alt_aliases", moved_alt);
		else
			json_decref(moved_alt);
		if (!json_array_size(alt))
			json_object_del(keep, "alt_aliases");
	}
	u->alias_new = json_object_size(moved) ? moved : NULL;
	u->alias_old = changed ? keep : NULL;
}

static int mx_up_add(struct mx_room_batch *b, const char *sender, const char *type,
		     const char *state_key, json_t *content, const char **id, const char **why)
{
	struct mx_room_event_spec spec = {.type = type, .state_key = state_key, .sender = sender,
					  .content = content};
	const char *dummy;
	return mx_room_batch_add(b, &spec, id ? id : &dummy, why);
}

/* Reply for a failed step of building the new room (and abort it). */
static int mx_up_fail(struct mx_upgrade *u, int rc, const char *type, const char *why)
{
	if (u->nb)
		mx_room_batch_abort(u->nb);
	mx_room_batch_abort(u->ob);
	u->nb = u->ob = NULL;
	if (rc == MX_EFORBIDDEN)
		return mx_req_fail(u->req, MX_EFORBIDDEN, "Cannot copy %s to the new room: %s", type,
				   why ? why : "not allowed");
	return mx_req_fail(u->req, rc, "Cannot build the new room (%s): %s", type,
			   why ? why : mx_error_message(rc));
}

static int mx_up_tombstone(struct mx_upgrade *u)
{
	struct mx_req *req = u->req;
	json_t *c = mx_arena_json(&req->arena, json_pack("{s:s, s:s}", "body",
							 "This room has been replaced",
							 "replacement_room", u->new_id));
	const char *why = NULL;
	int rc = mx_up_add(u->ob, u->me, "m.room.tombstone", "", c, &u->tombstone_id, &why);
	if (rc)
		return mx_up_fail(u, rc, "m.room.tombstone", why);
	return 0;
}

/* Create the new room and add everything copied to it. */
static int mx_up_build(struct mx_upgrade *u)
{
	struct mx_req *req = u->req;
	const json_t *old_create = json_object_get(u->st.single, "m.room.create");
	json_t *pred = json_pack("{s:s}", "room_id", u->old_id);
	if (u->tombstone_id)
		json_object_set_new(pred, "event_id", json_string(u->tombstone_id));
	json_t *cc = mx_arena_json(&req->arena, json_pack("{s:s, s:o}", "room_version",
							  u->new_v->id, "predecessor", pred));
	if (u->new_v->create_has_creator)
		json_object_set_new(cc, "creator", json_string(u->me));
	/* SPEC: the type is copied from the predecessor (v1.4). */
	json_t *type = json_object_get(old_create, "type");
	if (json_is_string(type))
		json_object_set(cc, "type", type);
	if (json_is_false(json_object_get(old_create, "m.federate")))
		json_object_set_new(cc, "m.federate", json_false());
	if (u->new_v->room_id_from_create && json_array_size(u->additional))
		json_object_set(cc, "additional_creators", u->additional);
	const char *new_id, *why = NULL;
	int rc = mx_room_batch_create_id(req->srv->rooms, req->w, &req->arena, u->new_v,
					 u->new_v->room_id_from_create ? NULL : u->new_id, u->me, cc,
					 &u->nb, &new_id);
	if (rc) {
		u->nb = NULL;
		return mx_up_fail(u, rc, "m.room.create", NULL);
	}
	u->new_id = new_id;
	struct mx_room_batch *b = u->nb;
	if ((rc = mx_up_add(b, u->me, "m.room.member", u->me,
			    mx_client_member_content(req, "join", u->me, NULL), NULL, &why)))
		return mx_up_fail(u, rc, "m.room.member", why);
	if ((rc = mx_up_add(b, u->me, "m.room.power_levels", "", u->pl_initial, NULL, &why)))
		return mx_up_fail(u, rc, "m.room.power_levels", why);
	for (size_t i = 0; i < sizeof(mx_copied_types) / sizeof(mx_copied_types[0]); i++) {
		json_t *c = json_object_get(u->st.single, mx_copied_types[i]);
		if (c && (rc = mx_up_add(b, u->me, mx_copied_types[i], "", c, NULL, &why)))
			return mx_up_fail(u, rc, mx_copied_types[i], why);
	}
	/* SPEC: a space keeps its children (Synapse copies m.space.child). */
	if (json_is_string(type) && !strcmp(json_string_value(type), "m.space")) {
		const char *k;
		json_t *c;
		json_object_foreach (u->st.children, k, c)
			if ((rc = mx_up_add(b, u->me, "m.space.child", k, c, NULL, &why)))
				return mx_up_fail(u, rc, "m.space.child", why);
	}
	if (u->alias_new &&
	    (rc = mx_up_add(b, u->me, "m.room.canonical_alias", "", u->alias_new, NULL, &why)))
		return mx_up_fail(u, rc, "m.room.canonical_alias", why);
	const char *k;
	json_t *c;
	json_object_foreach (u->st.bans, k, c) {
		/* A ban the upgrader may not repeat (a higher-ranked target) is
		 * left out rather than failing the whole upgrade. */
		if (mx_up_add(b, u->me, "m.room.member", k, c, NULL, &why))
			mx_log_info("upgrade of %s: ban of %s not copied: %s", u->old_id, k,
				    why ? why : "refused");
	}
	if (!json_equal(u->pl_initial, u->pl_final) &&
	    (rc = mx_up_add(b, u->me, "m.room.power_levels", "", u->pl_final, NULL, &why)))
		return mx_up_fail(u, rc, "m.room.power_levels", why);
	return 0;
}

/*
 * After the tombstone, in the old room: the canonical alias without the
 * aliases that moved, and power levels that keep ordinary members from
 * sending events and inviting (SPEC: max(50, users_default + 1)). Either
 * may be refused to the upgrader; the upgrade stands without it.
 */
static void mx_up_close_old(struct mx_upgrade *u)
{
	struct mx_req *req = u->req;
	const char *why = NULL;
	if (u->alias_old &&
	    mx_up_add(u->ob, u->me, "m.room.canonical_alias", "", u->alias_old, NULL, &why))
		mx_log_info("upgrade of %s: canonical alias not updated: %s", u->old_id,
			    why ? why : "refused");
	const json_t *old_pl = json_object_get(u->st.single, "m.room.power_levels");
	if (!old_pl)
		return;
	json_t *pl = mx_pl_fixup(req, old_pl);
	json_int_t restricted = mx_pl_get(pl, "users_default", 0) + 1;
	if (restricted < 50)
		restricted = 50;
	bool updated = false;
	static const char *const keys[] = {"invite", "events_default"};
	for (size_t i = 0; i < 2; i++)
		if (mx_pl_get(pl, keys[i], 0) < restricted) {
			json_object_set_new(pl, keys[i], json_integer(restricted));
			updated = true;
		}
	if (updated && mx_up_add(u->ob, u->me, "m.room.power_levels", "", pl, NULL, &why))
		mx_log_info("upgrade of %s: old room's power levels not restricted: %s", u->old_id,
			    why ? why : "refused");
}

/* additional_creators: an array of user ids (v1.16), used for v12+ rooms. */
static int mx_up_parse_creators(struct mx_upgrade *u)
{
	struct mx_req *req = u->req;
	json_t *a = json_object_get(req->json, "additional_creators");
	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return mx_req_fail(req, MX_EBADJSON, "'additional_creators' must be an array of user ids");
	json_t *out = mx_arena_json(&req->arena, json_array());
	size_t i;
	json_t *v;
	json_array_foreach (a, i, v) {
		const char *id = json_string_value(v);
		if (!id)
			return mx_req_fail(req, MX_EBADJSON, "'additional_creators' must be an array of user ids");
		if (strlen(id) != json_string_length(v) || !mx_id_user_valid(id))
			return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid user id in additional_creators");
		bool dup = !strcmp(id, u->me);
		size_t j;
		json_t *w;
		json_array_foreach (out, j, w)
			dup = dup || !strcmp(json_string_value(w), id);
		if (!dup)
			json_array_append(out, v);
	}
	u->additional = u->new_v->room_id_from_create ? out : NULL;
	return 0;
}

/* Joined, and allowed to send m.room.tombstone (SPEC: server behaviour, 1). */
static bool mx_up_allowed(struct mx_upgrade *u)
{
	const json_t *mem = mx_room_batch_state(u->ob, "m.room.member", u->me);
	const char *m = json_string_value(json_object_get(json_object_get(mem, "content"), "membership"));
	if (!m || strcmp(m, "join"))
		return false;
	const json_t *pl = mx_room_batch_state(u->ob, "m.room.power_levels", "");
	const json_t *create = mx_room_batch_state(u->ob, "m.room.create", "");
	return mx_auth_user_power(u->old_v, pl, create, u->me) >=
	       mx_auth_event_power(u->old_v, pl, "m.room.tombstone", true);
}

/* SPEC: client-server-api#post_matrixclientv3roomsroomidupgrade */
static int mx_upgrade_room(struct mx_req *req)
{
	struct mx_upgrade u = {.req = req, .old_id = mx_req_param(req, 0), .me = req->auth.user_id};
	json_t *nv = json_object_get(req->json, "new_version");
	if (!nv)
		return mx_req_fail(req, MX_EMISSINGPARAM, "Missing new_version");
	if (!json_is_string(nv))
		return mx_req_fail(req, MX_EBADJSON, "'new_version' must be a string");
	u.new_v = mx_room_version_get(json_string_value(nv));
	if (!u.new_v)
		return mx_req_fail(req, MX_EUNSUPPORTEDROOMVERSION,
				   "This server does not support that room version");
	int rc = mx_up_parse_creators(&u);
	if (rc)
		return rc;
	if (!mx_id_room_valid(u.old_id, NULL))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid room id");
	u.old_v = mx_room_version_of(req->srv->rooms, req->w, u.old_id);
	if (!u.old_v)
		return mx_req_fail(req, MX_ENOTFOUND, "Unknown room %s", u.old_id);

	u.st = (struct mx_up_state){req, u.old_v, mx_arena_json(&req->arena, json_object()),
				    mx_arena_json(&req->arena, json_object()),
				    mx_arena_json(&req->arena, json_object())};
	rc = mx_store_room_state(req->w->rconn, &req->arena, u.old_id, mx_up_collect, &u.st);
	if (rc < 0)
		return mx_req_fail(req, rc, NULL);
	mx_up_power_levels(&u);
	mx_up_aliases(&u);

	rc = mx_room_batch_begin(req->srv->rooms, req->w, &req->arena, u.old_id, &u.ob);
	if (rc == MX_ENOTFOUND)
		return mx_req_fail(req, MX_ENOTFOUND, "Unknown room %s", u.old_id);
	if (rc)
		return mx_req_fail(req, rc, NULL);
	if (!mx_up_allowed(&u)) {
		mx_room_batch_abort(u.ob);
		return mx_req_fail(req, MX_EFORBIDDEN, "You cannot upgrade this room");
	}
	if (!u.new_v->room_id_from_create) {
		char rid[256];
		mx_room_new_id(req->srv->cfg->server_name, rid);
		u.new_id = mx_arena_strdup(&req->arena, rid);
		if ((rc = mx_up_tombstone(&u)))
			return rc;
	}
	if ((rc = mx_up_build(&u)))
		return rc;
	if (u.new_v->room_id_from_create && (rc = mx_up_tombstone(&u)))
		return rc;
	mx_up_close_old(&u);
	rc = mx_room_batch_commit(u.nb);
	if (rc) {
		mx_room_batch_abort(u.ob);
		return mx_req_fail(req, rc, "Could not store the new room");
	}
	rc = mx_room_batch_commit(u.ob);
	if (rc) {
		mx_log_error("upgrade of %s: new room %s made, but the tombstone was not stored: %s",
			     u.old_id, u.new_id, mx_error_message(rc));
		return mx_req_fail(req, rc, "The new room %s was made but the old one could not be closed",
				   u.new_id);
	}
	/* SPEC: server behaviour 4: local aliases move; the listing follows. */
	rc = mx_store_directory_upgrade(req->srv->db, u.old_id, u.new_id);
	if (rc) {
		mx_log_error("upgrade of %s to %s: aliases not moved: %s", u.old_id, u.new_id,
			     mx_error_message(rc));
		return mx_req_fail(req, rc, "The room was upgraded to %s but its aliases were not moved",
				   u.new_id);
	}
	return mx_req_reply_json(req, 200, json_pack("{s:s}", "replacement_room", u.new_id));
}

const struct mx_route mx_upgrade_routes[] = {
	{MX_POST, "/_matrix/client/v3/rooms/{roomId}/upgrade", mx_upgrade_room, MX_ROUTE_AUTH | MX_ROUTE_JSON, MX_RES_CLIENT, MX_RL_MESSAGE, 0},
};
const size_t mx_upgrade_routes_count = sizeof(mx_upgrade_routes) / sizeof(mx_upgrade_routes[0]);
