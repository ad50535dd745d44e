/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Room aliases and the published room directory: creating, resolving and
 * deleting local aliases, listing a room's aliases, checking the aliases
 * an m.room.canonical_alias event names, publishing a room and listing
 * what is published.
 * SPEC: client-server-api#room-aliases, #published-room-directory
 *
 * Who may do what follows Synapse: an alias may be made by a joined member
 * (or a server admin); it may be deleted by its creator, a server admin, or
 * a joined member with the power to send m.room.canonical_alias, which is
 * also what publishing a room takes.
 */
#include "client/directory.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "client/rooms.h"
#include "client/routes.h"
#include "client/util.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "event/ids.h"
#include "http/request.h"
#include "room/room.h"
#include "store/directory.h"
#include "store/rooms.h"

/* Rooms in one page of /publicRooms, whatever limit asks for. */
#define MX_PUBLIC_ROOMS_MAX_LIMIT 500
/* Published rooms looked at per /publicRooms request. */
#define MX_PUBLIC_ROOMS_SCAN_MAX 20000
/* Longest generic_search_term we search for. */
#define MX_PUBLIC_ROOMS_TERM_MAX 1024

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

/* The servers to join a room through: ours first, then its members' servers. */
static json_t *mx_alias_servers(struct mx_req *req, const char *room_id)
{
	const char *me = req->srv->cfg->server_name;
	json_t *out = json_array();
	json_array_append_new(out, json_string(me));
	const char **members;
	size_t n;
	if (mx_room_members(req->srv->rooms, req->w, &req->arena, room_id, "join", &members, &n))
		return out;
	for (size_t i = 0; i < n; i++) {
		const char *server = mx_id_server(members[i]);
		if (!server || !strcmp(server, me))
			continue;
		bool seen = false;
		size_t j;
		json_t *s;
		json_array_foreach (out, j, s)
			seen = seen || !strcmp(json_string_value(s), server);
		if (!seen)
			json_array_append_new(out, json_string(server));
	}
	return out;
}

/* SPEC: client-server-api#get_matrixclientv3directoryroomroomalias */
static int mx_alias_get(struct mx_req *req)
{
	const char *alias;
	int rc = mx_alias_param(req, &alias);
	if (rc)
		return rc;
	if (!mx_alias_is_ours(req, alias))
		/* TODO(federation): ask the alias's server (query/directory). */
		return mx_req_fail(req, MX_ENOTFOUND,
				   "Room alias %s not found: resolving other servers' aliases is not supported yet",
				   alias);
	const char *room_id = mx_store_alias_get(req->w->rconn, &req->arena, alias);
	if (!room_id)
		return mx_req_fail(req, MX_ENOTFOUND, "Room alias %s not found", alias);
	return mx_req_reply_json(req, 200, json_pack("{s:s, s:o}", "room_id", room_id, "servers",
						     mx_alias_servers(req, room_id)));
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

/* One alias the event adds: well-formed and mapped to room_id here. */
static int mx_check_one_alias(struct mx_req *req, const char *room_id, const json_t *v)
{
	const char *alias = json_string_value(v);
	if (!alias || strlen(alias) != json_string_length(v) || !mx_id_alias_valid(alias))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid alias in m.room.canonical_alias");
	if (!mx_alias_is_ours(req, alias))
		/* TODO(federation): resolve it on its server, as GET /directory would. */
		return mx_req_fail(req, MX_EBADALIAS,
				   "The alias '%s' cannot be checked: it is on another server", alias);
	const char *target = mx_store_alias_get(req->w->rconn, &req->arena, alias);
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
	json_t *alias = json_object_get(content, "alias");
	/* SPEC: absent, null or "" means no canonical alias. */
	if (alias && !json_is_null(alias) &&
	    !(json_is_string(alias) && json_string_length(alias) == 0) &&
	    !json_equal(alias, json_object_get(old, "alias"))) {
		int rc = mx_check_one_alias(req, room_id, alias);
		if (rc)
			return rc;
	}
	json_t *alt = json_object_get(content, "alt_aliases");
	if (!alt)
		return 0;
	if (!json_is_array(alt))
		return mx_req_fail(req, MX_EINVALIDPARAM, "The alt_aliases property must be a list");
	json_t *old_alt = json_object_get(old, "alt_aliases");
	size_t i;
	json_t *v;
	json_array_foreach (alt, i, v) {
		if (json_is_array(old_alt) && mx_json_array_has(old_alt, v))
			continue;
		int rc = mx_check_one_alias(req, room_id, v);
		if (rc)
			return rc;
	}
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

struct mx_pr_entry {
	const char *room_id;
	int64_t joined;
	json_t *obj;            /* the PublishedRoomsChunk (arena) */
	const char *name, *topic, *alias, *type;
};

struct mx_pr_query {
	int limit;              /* 0: no limit (capped) */
	const char *since;
	const char *term;       /* generic_search_term, NULL or "" for none */
	const json_t *room_types; /* NULL or an empty array: any */
	const char *third_party_instance_id;
	bool include_all_networks;
};

static const json_t *mx_pr_content(struct mx_req *req, const char *json)
{
	if (!json)
		return NULL;
	json_t *pdu = mx_arena_json(&req->arena, json_loads(json, 0, NULL));
	json_t *c = json_object_get(pdu, "content");
	return json_is_object(c) ? c : NULL;
}

static const char *mx_pr_str(const json_t *content, const char *key)
{
	const char *s = json_string_value(json_object_get(content, key));
	return s && *s ? s : NULL;
}

/*
 * The plain-text topic: content.topic, else the text/plain representation
 * of m.topic (SPEC: m.room.topic, PublishedRoomsChunk.topic).
 */
static const char *mx_pr_topic(const json_t *content)
{
	const char *t = mx_pr_str(content, "topic");
	if (t)
		return t;
	json_t *reps = json_object_get(json_object_get(content, "m.topic"), "m.text");
	size_t i;
	json_t *r;
	json_array_foreach (reps, i, r) {
		const char *mime = json_string_value(json_object_get(r, "mimetype"));
		const char *body = mx_pr_str(r, "body");
		if (body && (!json_object_get(r, "mimetype") || (mime && !strcmp(mime, "text/plain"))))
			return body;
	}
	return NULL;
}

/*
 * Build the directory entry of one published room, or return false if it
 * is not listed: like Synapse, only rooms with joined members that anyone
 * can join, knock on or read.
 */
static bool mx_pr_build(struct mx_req *req, const struct mx_store_public_room *r,
			struct mx_pr_entry *e)
{
	if (r->joined <= 0)
		return false;
	const json_t *create = mx_pr_content(req, r->create);
	const json_t *jr = mx_pr_content(req, r->join_rules);
	const json_t *hv = mx_pr_content(req, r->history_visibility);
	const json_t *ga = r->guest_redacted ? NULL : mx_pr_content(req, r->guest_access);
	const char *join_rule = json_string_value(json_object_get(jr, "join_rule"));
	const char *vis = json_string_value(json_object_get(hv, "history_visibility"));
	const char *guest = json_string_value(json_object_get(ga, "guest_access"));
	bool world_readable = vis && !strcmp(vis, "world_readable");
	bool open = join_rule && (!strcmp(join_rule, "public") || !strcmp(join_rule, "knock") ||
				  !strcmp(join_rule, "knock_restricted"));
	if (!open && !world_readable)
		return false;
	memset(e, 0, sizeof(*e));
	e->room_id = r->room_id;
	e->joined = r->joined;
	e->name = r->name_redacted ? NULL : mx_pr_str(mx_pr_content(req, r->name), "name");
	e->topic = r->topic_redacted ? NULL : mx_pr_topic(mx_pr_content(req, r->topic));
	e->alias = r->alias_redacted ? NULL
				     : mx_pr_str(mx_pr_content(req, r->canonical_alias), "alias");
	e->type = json_string_value(json_object_get(create, "type"));
	const char *avatar = r->avatar_redacted ? NULL
						: mx_pr_str(mx_pr_content(req, r->avatar), "url");
	json_t *o = mx_arena_json(&req->arena, json_object());
	json_object_set_new(o, "room_id", json_string(r->room_id));
	json_object_set_new(o, "num_joined_members", json_integer(r->joined));
	json_object_set_new(o, "world_readable", json_boolean(world_readable));
	json_object_set_new(o, "guest_can_join", json_boolean(guest && !strcmp(guest, "can_join")));
	if (e->name)
		json_object_set_new(o, "name", json_string(e->name));
	if (e->topic)
		json_object_set_new(o, "topic", json_string(e->topic));
	if (e->alias)
		json_object_set_new(o, "canonical_alias", json_string(e->alias));
	if (avatar)
		json_object_set_new(o, "avatar_url", json_string(avatar));
	if (join_rule)
		json_object_set_new(o, "join_rule", json_string(join_rule));
	if (e->type)
		json_object_set_new(o, "room_type", json_string(e->type));
	e->obj = o;
	return true;
}

/* Case-insensitive (ASCII) substring search; needle is already lower-case. */
static bool mx_pr_contains(const char *hay, const char *needle)
{
	if (!hay)
		return false;
	size_t n = strlen(needle);
	for (const char *p = hay; *p; p++) {
		size_t i = 0;
		while (i < n && p[i]) {
			char c = p[i];
			if (c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			if (c != needle[i])
				break;
			i++;
		}
		if (i == n)
			return true;
	}
	return false;
}

static bool mx_pr_matches(const struct mx_pr_entry *e, const struct mx_pr_query *q)
{
	if (q->term && *q->term && !mx_pr_contains(e->name, q->term) &&
	    !mx_pr_contains(e->topic, q->term) && !mx_pr_contains(e->alias, q->term))
		return false;
	if (json_array_size(q->room_types)) {
		size_t i;
		json_t *t;
		json_array_foreach (q->room_types, i, t) {
			if (json_is_null(t) ? !e->type
					    : (e->type && !strcmp(json_string_value(t), e->type)))
				return true;
		}
		return false;
	}
	return true;
}

/* Directory order: most joined members first, then room id. */
static int mx_pr_key_cmp(int64_t ja, const char *ra, int64_t jb, const char *rb)
{
	if (ja != jb)
		return ja > jb ? -1 : 1;
	return strcmp(ra, rb);
}

static int mx_pr_cmp(const void *a, const void *b)
{
	const struct mx_pr_entry *x = a, *y = b;
	return mx_pr_key_cmp(x->joined, x->room_id, y->joined, y->room_id);
}

/*
 * Pagination tokens name the entry a page ends at: "n<joined>_<room id>"
 * continues after it, "p<joined>_<room id>" goes back to before it. They
 * stay valid as rooms come and go or change size.
 */
struct mx_pr_token {
	bool forward;
	int64_t joined;
	const char *room_id;
};

static int mx_pr_token_parse(const char *s, struct mx_pr_token *t)
{
	if (!s || (s[0] != 'n' && s[0] != 'p'))
		return MX_EINVALIDPARAM;
	t->forward = s[0] == 'n';
	char *end;
	errno = 0;
	long long j = strtoll(s + 1, &end, 10);
	if (errno || end == s + 1 || j < 0 || *end != '_' || !end[1])
		return MX_EINVALIDPARAM;
	t->joined = j;
	t->room_id = end + 1;
	return 0;
}

static json_t *mx_pr_token_make(struct mx_req *req, char dir, const struct mx_pr_entry *e)
{
	return json_string(
		mx_arena_printf(&req->arena, "%c%lld_%s", dir, (long long)e->joined, e->room_id));
}

static int mx_public_rooms(struct mx_req *req, const struct mx_pr_query *q)
{
	const char *server = mx_req_query(req, "server");
	if (server && !mx_id_server_name_valid(server))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid server name");
	if (server && strcmp(server, req->srv->cfg->server_name))
		/* TODO(federation): GET/POST /_matrix/federation/v1/publicRooms. */
		return mx_req_fail(req, MX_EINVALIDPARAM,
				   "Listing the room directory of other servers is not supported yet");
	struct mx_pr_token tok = {0};
	if (q->since && mx_pr_token_parse(q->since, &tok))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid since token");
	if (q->include_all_networks && q->third_party_instance_id)
		return mx_req_fail(req, MX_EINVALIDPARAM,
				   "include_all_networks cannot be used with third_party_instance_id");
	json_t *chunk = json_array();
	json_t *out = json_pack("{s:o}", "chunk", chunk);
	/* Rooms of a third-party network are published by application
	 * services; we have none, so such a list is empty. */
	if (q->third_party_instance_id) {
		json_object_set_new(out, "total_room_count_estimate", json_integer(0));
		return mx_req_reply_json(req, 200, out);
	}
	struct mx_store_public_room *rows;
	size_t n;
	bool truncated;
	int rc = mx_store_public_rooms(req->w->rconn, &req->arena, MX_PUBLIC_ROOMS_SCAN_MAX, &rows,
				       &n, &truncated);
	if (rc) {
		json_decref(out);
		return mx_req_fail(req, rc, NULL);
	}
	if (truncated)
		mx_log_warn("publicRooms: more than %d published rooms, listing the first only",
			    MX_PUBLIC_ROOMS_SCAN_MAX);
	struct mx_pr_entry *all = mx_arena_alloc(&req->arena, (n ? n : 1) * sizeof(*all));
	size_t listed = 0, m = 0;
	for (size_t i = 0; i < n; i++) {
		if (!mx_pr_build(req, &rows[i], &all[m]))
			continue;
		listed++;
		if (mx_pr_matches(&all[m], q))
			m++;
	}
	qsort(all, m, sizeof(*all), mx_pr_cmp);
	size_t limit = q->limit <= 0 || q->limit > MX_PUBLIC_ROOMS_MAX_LIMIT
			       ? MX_PUBLIC_ROOMS_MAX_LIMIT
			       : (size_t)q->limit;
	size_t start = 0, end;
	if (q->since && tok.forward) {
		while (start < m &&
		       mx_pr_key_cmp(all[start].joined, all[start].room_id, tok.joined, tok.room_id) <= 0)
			start++;
		end = start + limit < m ? start + limit : m;
	} else if (q->since) {
		end = 0;
		while (end < m &&
		       mx_pr_key_cmp(all[end].joined, all[end].room_id, tok.joined, tok.room_id) < 0)
			end++;
		start = end > limit ? end - limit : 0;
	} else {
		end = limit < m ? limit : m;
	}
	for (size_t i = start; i < end; i++)
		json_array_append(chunk, all[i].obj);
	if (end < m && end > start)
		json_object_set_new(out, "next_batch", mx_pr_token_make(req, 'n', &all[end - 1]));
	if (start > 0 && end > start)
		json_object_set_new(out, "prev_batch", mx_pr_token_make(req, 'p', &all[start]));
	json_object_set_new(out, "total_room_count_estimate", json_integer((json_int_t)listed));
	return mx_req_reply_json(req, 200, out);
}

/* SPEC: client-server-api#get_matrixclientv3publicrooms */
static int mx_public_rooms_get(struct mx_req *req)
{
	struct mx_pr_query q = {.since = mx_req_query(req, "since")};
	const char *l = mx_req_query(req, "limit");
	if (l) {
		char *end;
		errno = 0;
		long v = strtol(l, &end, 10);
		if (errno || end == l || *end || v < 0)
			return mx_req_fail(req, MX_EINVALIDPARAM, "limit must be a non-negative integer");
		q.limit = v > MX_PUBLIC_ROOMS_MAX_LIMIT ? MX_PUBLIC_ROOMS_MAX_LIMIT : (int)v;
	}
	return mx_public_rooms(req, &q);
}

/* SPEC: client-server-api#post_matrixclientv3publicrooms */
static int mx_public_rooms_post(struct mx_req *req)
{
	struct mx_pr_query q = {0};
	json_t *b = req->json, *limit = json_object_get(b, "limit");
	if (limit && !json_is_null(limit)) {
		if (!json_is_integer(limit))
			return mx_req_fail(req, MX_EBADJSON, "'limit' must be an integer");
		json_int_t v = json_integer_value(limit);
		if (v < 0)
			return mx_req_fail(req, MX_EINVALIDPARAM, "limit must not be negative");
		q.limit = v > MX_PUBLIC_ROOMS_MAX_LIMIT ? MX_PUBLIC_ROOMS_MAX_LIMIT : (int)v;
	}
	int rc = mx_client_opt_string(req, b, "since", &q.since);
	if (!rc)
		rc = mx_client_opt_string(req, b, "third_party_instance_id", &q.third_party_instance_id);
	if (!rc)
		rc = mx_client_opt_bool(req, b, "include_all_networks", false, &q.include_all_networks);
	if (rc)
		return rc;
	json_t *filter = json_object_get(b, "filter");
	if (filter && !json_is_null(filter)) {
		if (!json_is_object(filter))
			return mx_req_fail(req, MX_EBADJSON, "'filter' must be an object");
		const char *term;
		if ((rc = mx_client_opt_string(req, filter, "generic_search_term", &term)))
			return rc;
		if (term && strlen(term) > MX_PUBLIC_ROOMS_TERM_MAX)
			return mx_req_fail(req, MX_EINVALIDPARAM, "generic_search_term is too long");
		if (term) {
			char *lower = mx_arena_strdup(&req->arena, term);
			for (char *p = lower; *p; p++)
				if (*p >= 'A' && *p <= 'Z')
					*p = (char)(*p - 'A' + 'a');
			q.term = lower;
		}
		json_t *types = json_object_get(filter, "room_types");
		if (types && !json_is_null(types)) {
			if (!json_is_array(types))
				return mx_req_fail(req, MX_EBADJSON, "'room_types' must be an array");
			size_t i;
			json_t *t;
			json_array_foreach (types, i, t)
				if (!json_is_string(t) && !json_is_null(t))
					return mx_req_fail(req, MX_EBADJSON,
							   "'room_types' entries must be strings or null");
			q.room_types = types;
		}
	}
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
