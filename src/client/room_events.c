/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sending and reading room events: send, state, redact, event, messages,
 * members, joined_members, context, timestamp_to_event.
 * SPEC: client-server-api#sending-events-to-a-room, #getting-events-for-a-room
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "appservice/registration.h"
#include "auth/auth.h"
#include "client/directory.h"
#include "client/filter_match.h"
#include "client/format.h"
#include "client/ignore.h"
#include "client/relations.h"
#include "client/rooms.h"
#include "client/routes.h"
#include "client/util.h"
#include "client/visibility.h"
#include "core/config.h"
#include "core/error.h"
#include "http/request.h"
#include "room/room.h"
#include "store/rooms.h"

#define MX_MESSAGES_MAX_LIMIT 1000

/* ---- access ---- */

/*
 * Whether the user may read the room now: joined, or world_readable. Sets
 * *joined. Replies 403 otherwise (404 for an unknown room).
 */
static int mx_room_readable(struct mx_req *req, const char *room_id, bool *joined)
{
	struct mx_rooms *rooms = req->srv->rooms;
	if (!mx_room_version_of(rooms, req->w, room_id))
		return mx_req_fail(req, MX_EFORBIDDEN, "You are not in this room");
	const char *m = mx_room_membership(rooms, req->w, &req->arena, room_id, req->auth.user_id);
	*joined = m && !strcmp(m, "join");
	if (*joined)
		return 0;
	json_t *hv;
	mx_room_state_get(rooms, req->w, &req->arena, room_id, "m.room.history_visibility", "", &hv, NULL);
	const char *vis = json_string_value(json_object_get(json_object_get(hv, "content"), "history_visibility"));
	if (vis && !strcmp(vis, "world_readable"))
		return 0;
	/* A former member may still read what they could see (events are
	 * filtered one by one); anyone else is refused outright. */
	if (m && !strcmp(m, "invite"))
		return 0;
	/* SPEC: post_matrixclientv3roomsroomidforget: once forgotten, the
	 * history is no longer retrievable. */
	if (m && (!strcmp(m, "leave") || !strcmp(m, "ban")) &&
	    !mx_store_room_forgotten(req->w->rconn, req->auth.user_id, room_id))
		return 0;
	return mx_req_fail(req, MX_EFORBIDDEN, "You are not in this room");
}

int mx_client_check_room_visible(struct mx_req *req, const char *room_id)
{
	bool joined;
	return mx_room_readable(req, room_id, &joined);
}

const char *mx_client_pick_inviter(struct mx_req *req, const char *room_id, const json_t *pl,
				   const json_t *create)
{
	const struct mx_room_version *v = mx_room_version_of(req->srv->rooms, req->w, room_id);
	const char **members;
	size_t n;
	if (!v || mx_room_members(req->srv->rooms, req->w, &req->arena, room_id, "join", &members, &n))
		return NULL;
	json_t *inv = json_object_get(json_object_get(pl, "content"), "invite");
	int64_t need = json_is_integer(inv) ? json_integer_value(inv) : 0;
	for (size_t i = 0; i < n; i++)
		if (mx_client_is_local(req, members[i]) &&
		    mx_auth_user_power(v, pl, create, members[i]) >= need)
			return members[i];
	return NULL;
}

/* ---- sending ---- */

static int mx_check_event_type(struct mx_req *req, const char *type)
{
	if (!*type || strlen(type) > 255)
		return mx_req_fail(req, MX_EINVALIDPARAM, "Event type must be 1-255 bytes");
	return 0;
}

/*
 * The scope of a transaction id: the device, or for an application service
 * acting without one, the service (as Synapse), so that a bridge retrying
 * a send does not post twice. NULL: no scope, no idempotency.
 */
static const char *mx_txn_scope(struct mx_req *req)
{
	if (req->auth.device_id)
		return req->auth.device_id;
	if (req->auth.appservice)
		return mx_arena_printf(&req->arena, "appservice:%s", req->auth.appservice->id);
	return NULL;
}

static int mx_send_event(struct mx_req *req, const char *type, const char *state_key,
			 const char *redacts, json_t *content, const char *txn)
{
	const char *room_id = mx_req_param(req, 0), *event_id, *why = NULL;
	const char *scope = txn ? mx_txn_scope(req) : NULL;
	if (txn) {
		if (!*txn || strlen(txn) > 255)
			return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid transaction id");
		/* SPEC: client-server-api#transaction-identifiers: per device. */
		if (scope && !mx_store_txn_get(req->w->rconn, &req->arena, req->auth.user_id,
					       scope, txn, &event_id))
			return mx_req_reply_json(req, 200, json_pack("{s:s}", "event_id", event_id));
	}
	/* After the transaction check: a retried send answers as the first did. */
	if (!state_key && !redacts) {
		int bad = mx_relations_check_send(req, room_id, type, content);
		if (bad)
			return bad;
	}
	struct mx_room_event_spec spec = {.type = type, .state_key = state_key,
					  .sender = req->auth.user_id, .content = content,
					  .redacts = redacts, .txn_device = scope,
					  .txn_id = scope ? txn : NULL};
	int rc = mx_room_send(req->srv->rooms, req->w, &req->arena, room_id, &spec, &event_id, &why);
	/* Two first sends of one transaction raced: the room pipeline saw the
	 * first and answers with its event, as a retry would get. */
	if (rc == MX_EEXISTS)
		return mx_req_reply_json(req, 200, json_pack("{s:s}", "event_id", event_id));
	if (rc == MX_ETOOLARGE)
		return mx_req_fail(req, MX_ETOOLARGE, "Event too large");
	if (rc == MX_EBADJSON)
		return mx_req_fail(req, MX_EBADJSON, "%s", why ? why : "Invalid event");
	if (rc == MX_ENOTFOUND)
		return mx_req_fail(req, MX_EFORBIDDEN, "Unknown room or not a member");
	if (rc)
		return mx_client_room_fail(req, rc, why);
	return mx_req_reply_json(req, 200, json_pack("{s:s}", "event_id", event_id));
}

/* SPEC: client-server-api#put_matrixclientv3roomsroomidsendeventtypetxnid */
static int mx_send(struct mx_req *req)
{
	const char *type = mx_req_param(req, 1);
	int rc = mx_check_event_type(req, type);
	if (rc)
		return rc;
	return mx_send_event(req, type, NULL, NULL, req->json, mx_req_param(req, 2));
}

/* SPEC: client-server-api#put_matrixclientv3roomsroomidstateeventtypestatekey */
static int mx_state_put(struct mx_req *req)
{
	const char *type = mx_req_param(req, 1);
	const char *key = req->n_params > 2 ? mx_req_param(req, 2) : "";
	int rc = mx_check_event_type(req, type);
	if (rc)
		return rc;
	if (strlen(key) > 255)
		return mx_req_fail(req, MX_EINVALIDPARAM, "State key too long");
	/* Setting a state to what it already is sends nothing (as Synapse). */
	json_t *cur;
	const char *cur_id;
	if (!mx_room_state_get(req->srv->rooms, req->w, &req->arena, mx_req_param(req, 0), type, key,
			       &cur, &cur_id) &&
	    cur && json_equal(json_object_get(cur, "content"), req->json) &&
	    !strcmp(json_string_value(json_object_get(cur, "sender")), req->auth.user_id))
		return mx_req_reply_json(req, 200, json_pack("{s:s}", "event_id", cur_id));
	if (!strcmp(type, "m.room.member"))
		return mx_req_fail(req, MX_EBADREQUEST,
				   "Use the membership endpoints (join, invite, leave...) for m.room.member");
	if (!strcmp(type, "m.room.canonical_alias") &&
	    (rc = mx_directory_check_canonical_alias(req, mx_req_param(req, 0), key, req->json)))
		return rc;
	return mx_send_event(req, type, key, NULL, req->json, NULL);
}

/*
 * From room version 3 the auth rules accept any redaction; the server
 * applies one only from the original sender's server or from a user with
 * the redact level (SPEC: rooms/v3#handling-redactions). For our own users
 * that means: their own events, or the redact level (as Synapse). An event
 * we do not hold is let through: the redaction waits for it.
 */
static int mx_redact_permitted(struct mx_req *req, const char *room_id, const char *target)
{
	struct mx_store_event orig;
	if (mx_store_event_get(req->w->rconn, &req->arena, target, &orig))
		return 0;
	if (strcmp(orig.room_id, room_id) != 0)
		return mx_req_fail(req, MX_EBADREQUEST, "The event is not in this room");
	if (!strcmp(orig.sender, req->auth.user_id))
		return 0;
	const struct mx_room_version *v = mx_room_version_of(req->srv->rooms, req->w, room_id);
	json_t *pl = NULL, *create = NULL;
	mx_room_state_get(req->srv->rooms, req->w, &req->arena, room_id, "m.room.power_levels", "",
			  &pl, NULL);
	mx_room_state_get(req->srv->rooms, req->w, &req->arena, room_id, "m.room.create", "", &create,
			  NULL);
	json_t *level = json_object_get(json_object_get(pl, "content"), "redact");
	int64_t need = json_is_integer(level) ? json_integer_value(level) : 50;
	if (!v || mx_auth_user_power(v, pl, create, req->auth.user_id) < need)
		return mx_req_fail(req, MX_EFORBIDDEN,
				   "You don't have permission to redact events of other users");
	return 0;
}

/* SPEC: client-server-api#put_matrixclientv3roomsroomidredacteventidtxnid */
static int mx_redact(struct mx_req *req)
{
	const char *target = mx_req_param(req, 1), *reason;
	int rc = mx_client_opt_string(req, req->json, "reason", &reason);
	if (rc)
		return rc;
	json_t *content = mx_arena_json(&req->arena, json_object());
	if (reason)
		json_object_set_new(content, "reason", json_string(reason));
	if (target[0] != '$' || strlen(target) > 255)
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid event id");
	if ((rc = mx_redact_permitted(req, mx_req_param(req, 0), target)))
		return rc;
	return mx_send_event(req, "m.room.redaction", NULL, target, content, mx_req_param(req, 2));
}

/* ---- reading ---- */

static json_t *mx_fmt(struct mx_req *req, const struct mx_store_event *ev)
{
	struct mx_format_opts o = {.include_room_id = true, .txn_device = req->auth.device_id,
				   .user_id = req->auth.user_id};
	return mx_client_format_event(req, ev, &o);
}

/* SPEC: client-server-api#get_matrixclientv3roomsroomideventeventid */
static int mx_get_event(struct mx_req *req)
{
	const char *room_id = mx_req_param(req, 0);
	bool joined;
	int rc = mx_room_readable(req, room_id, &joined);
	if (rc)
		return rc;
	struct mx_store_event ev;
	if (mx_store_event_get(req->w->rconn, &req->arena, mx_req_param(req, 1), &ev) ||
	    strcmp(ev.room_id, room_id) != 0 ||
	    !mx_visibility_allows(req, req->auth.user_id, &ev, joined))
		return mx_req_fail(req, MX_ENOTFOUND, "Event not found");
	json_t *out = mx_fmt(req, &ev);
	return out ? mx_req_reply_json(req, 200, out) : mx_req_fail(req, MX_EDB, NULL);
}

struct mx_state_collect {
	struct mx_req *req;
	json_t *arr;
};

static int mx_state_collect_cb(void *ctx, const struct mx_store_event *ev)
{
	struct mx_state_collect *c = ctx;
	json_t *e = mx_fmt(c->req, ev);
	if (e)
		json_array_append_new(c->arr, e);
	return 0;
}

/*
 * The state group a reader may see: current state for members and
 * world-readable rooms, the state at their leave for former members.
 */
static int mx_readable_state_group(struct mx_req *req, const char *room_id, int64_t *group)
{
	bool joined;
	int rc = mx_room_readable(req, room_id, &joined);
	if (rc)
		return rc;
	*group = 0; /* current */
	if (joined)
		return 0;
	struct mx_store_event mem;
	if (!mx_store_room_state_get(req->w->rconn, &req->arena, room_id, "m.room.member",
				     req->auth.user_id, &mem)) {
		const char *m = NULL;
		json_t *pdu = mx_arena_json(&req->arena, json_loads(mem.json, 0, NULL));
		m = json_string_value(json_object_get(json_object_get(pdu, "content"), "membership"));
		if (m && (!strcmp(m, "leave") || !strcmp(m, "ban")))
			*group = mem.state_group;
		else if (m && !strcmp(m, "invite"))
			return mx_req_fail(req, MX_EFORBIDDEN, "You are not in this room");
	}
	return 0;
}

/* SPEC: client-server-api#get_matrixclientv3roomsroomidstate */
static int mx_state_all(struct mx_req *req)
{
	const char *room_id = mx_req_param(req, 0);
	int64_t group;
	int rc = mx_readable_state_group(req, room_id, &group);
	if (rc)
		return rc;
	struct mx_state_collect c = {req, json_array()};
	rc = group ? mx_store_state_group(req->w->rconn, &req->arena, group, mx_state_collect_cb, &c)
		   : mx_store_room_state(req->w->rconn, &req->arena, room_id, mx_state_collect_cb, &c);
	if (rc < 0) {
		json_decref(c.arr);
		return mx_req_fail(req, rc, NULL);
	}
	return mx_req_reply_json(req, 200, c.arr);
}

/* SPEC: client-server-api#get_matrixclientv3roomsroomidstateeventtypestatekey */
static int mx_state_get(struct mx_req *req)
{
	const char *room_id = mx_req_param(req, 0), *type = mx_req_param(req, 1);
	const char *key = req->n_params > 2 ? mx_req_param(req, 2) : "";
	const char *format = mx_req_query(req, "format");
	if (format && strcmp(format, "content") && strcmp(format, "event"))
		return mx_req_fail(req, MX_EINVALIDPARAM, "format must be 'content' or 'event'");
	int64_t group;
	int rc = mx_readable_state_group(req, room_id, &group);
	if (rc)
		return rc;
	struct mx_store_event ev;
	rc = group ? mx_store_state_group_get(req->w->rconn, &req->arena, group, type, key, &ev)
		   : mx_store_room_state_get(req->w->rconn, &req->arena, room_id, type, key, &ev);
	if (rc == MX_ENOTFOUND)
		return mx_req_fail(req, MX_ENOTFOUND, "Event not found");
	if (rc)
		return mx_req_fail(req, rc, NULL);
	json_t *out = mx_fmt(req, &ev);
	if (!out)
		return mx_req_fail(req, MX_EDB, NULL);
	if (format && !strcmp(format, "event"))
		return mx_req_reply_json(req, 200, out);
	json_t *content = json_incref(json_object_get(out, "content"));
	json_decref(out);
	return mx_req_reply_json(req, 200, content);
}

/* ---- pagination ---- */

/* "t<nid>" (ours) or a /sync token "s<nid>_..." -> a stream position. */
int mx_client_parse_position(const char *tok, int64_t *pos)
{
	if (!tok || (tok[0] != 't' && tok[0] != 's'))
		return MX_EINVALIDPARAM;
	char *end;
	errno = 0;
	long long v = strtoll(tok + 1, &end, 10);
	if (errno || end == tok + 1 || v < 0 || (*end && *end != '_'))
		return MX_EINVALIDPARAM;
	*pos = v;
	return 0;
}

struct mx_page {
	struct mx_req *req;
	const json_t *filter;
	bool joined;
	json_t *chunk;
	int want;
	int64_t last_nid;     /* the last row looked at */
	int rows;
	/* lazy-loaded members: senders seen, their member events */
	json_t *senders;
};

static int mx_page_cb(void *ctx, const struct mx_store_event *ev)
{
	struct mx_page *p = ctx;
	if ((int)json_array_size(p->chunk) >= p->want)
		return 1; /* not consumed: the next page starts here */
	p->rows++;
	p->last_nid = ev->nid;
	/* SPEC: client-server-api#ignoring-users: but state events are sent. */
	if (!ev->state_key && mx_ignored(p->req, ev->sender))
		return 0;
	json_t *pdu = mx_arena_json(&p->req->arena, json_loads(ev->json, 0, NULL));
	if (!mx_filter_event_matches(p->filter, ev->type, ev->sender, ev->room_id,
				     json_object_get(pdu, "content")) ||
	    !mx_visibility_allows(p->req, p->req->auth.user_id, ev, p->joined))
		return 0;
	json_t *e = mx_fmt(p->req, ev);
	if (e)
		json_array_append_new(p->chunk, e);
	if (p->senders && !json_object_get(p->senders, ev->sender)) {
		struct mx_store_event mem;
		if (!mx_store_state_group_get(p->req->w->rconn, &p->req->arena, ev->state_group,
					      "m.room.member", ev->sender, &mem)) {
			json_t *me = mx_fmt(p->req, &mem);
			if (me)
				json_object_set_new(p->senders, ev->sender, me);
		}
	}
	return 0;
}

/*
 * Page through a room: up to limit visible, matching events from `from`.
 * *exhausted when the store had nothing more in range.
 */
static int mx_paginate(struct mx_page *p, const char *room_id, int64_t from, int64_t to,
		       bool backwards, bool *exhausted)
{
	int64_t cursor = from;
	*exhausted = false;
	/* Bounded: filters and visibility may hide many events. */
	for (int round = 0; round < 20 && (int)json_array_size(p->chunk) < p->want; round++) {
		int batch = p->want * 2 > 100 ? p->want * 2 : 100;
		p->rows = 0;
		int rc = mx_store_room_events(p->req->w->rconn, &p->req->arena, room_id, cursor, to,
					      backwards, batch, mx_page_cb, p);
		if (rc < 0)
			return rc;
		if (p->rows == 0 || (p->rows < batch && (int)json_array_size(p->chunk) < p->want)) {
			*exhausted = true;
			break;
		}
		cursor = backwards ? p->last_nid - 1 : p->last_nid;
	}
	return 0;
}

static int mx_parse_filter_param(struct mx_req *req, const json_t **filter)
{
	const char *f = mx_req_query(req, "filter");
	*filter = NULL;
	if (!f)
		return 0;
	json_t *v = mx_arena_json(&req->arena, json_loads(f, 0, NULL));
	if (!json_is_object(v))
		return mx_req_fail(req, MX_EBADJSON, "filter must be a JSON object");
	*filter = v;
	return 0;
}

static int mx_parse_limit(struct mx_req *req, int def, int *out)
{
	const char *l = mx_req_query(req, "limit");
	*out = def;
	if (!l)
		return 0;
	char *end;
	errno = 0;
	long v = strtol(l, &end, 10);
	if (errno || *end || end == l || v < 0)
		return mx_req_fail(req, MX_EINVALIDPARAM, "limit must be a non-negative integer");
	*out = v > MX_MESSAGES_MAX_LIMIT ? MX_MESSAGES_MAX_LIMIT : (int)v;
	return 0;
}

/* SPEC: client-server-api#get_matrixclientv3roomsroomidmessages */
static int mx_messages(struct mx_req *req)
{
	const char *room_id = mx_req_param(req, 0);
	const char *dir = mx_req_query(req, "dir"), *from_s = mx_req_query(req, "from");
	const char *to_s = mx_req_query(req, "to");
	if (!dir || (strcmp(dir, "b") && strcmp(dir, "f")))
		return mx_req_fail(req, MX_EINVALIDPARAM, "dir must be 'b' or 'f'");
	bool backwards = dir[0] == 'b';
	const json_t *filter;
	int limit;
	int rc = mx_parse_filter_param(req, &filter);
	if (!rc)
		rc = mx_parse_limit(req, 10, &limit);
	if (rc)
		return rc;
	if (filter)
		limit = mx_filter_limit(filter, limit, MX_MESSAGES_MAX_LIMIT);
	int64_t from, to;
	if (from_s) {
		if (mx_client_parse_position(from_s, &from))
			return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid from token");
	} else {
		from = backwards ? mx_store_events_max_nid(req->w->rconn) : 0;
	}
	if (to_s) {
		if (mx_client_parse_position(to_s, &to))
			return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid to token");
	} else {
		to = backwards ? 0 : INT64_MAX;
	}
	bool joined;
	rc = mx_room_readable(req, room_id, &joined);
	if (rc)
		return rc;
	bool lazy = json_is_true(json_object_get(filter, "lazy_load_members"));
	struct mx_page p = {.req = req, .filter = filter, .joined = joined, .want = limit,
			    .chunk = mx_arena_json(&req->arena, json_array()),
			    .senders = lazy ? mx_arena_json(&req->arena, json_object()) : NULL};
	bool exhausted = limit == 0;
	p.last_nid = from;
	if (limit > 0) {
		rc = mx_paginate(&p, room_id, from, to, backwards, &exhausted);
		if (rc)
			return mx_req_fail(req, rc, NULL);
	}
	json_t *out = json_pack("{s:O, s:s}", "chunk", p.chunk, "start",
				mx_arena_printf(&req->arena, "t%lld", (long long)from));
	if (!exhausted)
		json_object_set_new(out, "end",
				    json_string(mx_arena_printf(&req->arena, "t%lld",
								(long long)(backwards ? p.last_nid - 1
										      : p.last_nid))));
	if (p.senders) {
		json_t *state = json_array();
		const char *k;
		json_t *v;
		json_object_foreach (p.senders, k, v)
			json_array_append(state, v);
		json_object_set_new(out, "state", state);
	}
	return mx_req_reply_json(req, 200, out);
}

struct mx_members_collect {
	struct mx_req *req;
	json_t *arr;
	const char *membership, *not_membership;
};

static int mx_members_cb(void *ctx, const struct mx_store_event *ev)
{
	struct mx_members_collect *c = ctx;
	if (strcmp(ev->type, "m.room.member") != 0)
		return 0;
	json_t *e = mx_fmt(c->req, ev);
	if (!e)
		return 0;
	const char *m = json_string_value(json_object_get(json_object_get(e, "content"), "membership"));
	/* SPEC: get_matrixclientv3roomsroomidmembers: given together, the two
	 * filters are an 'or' (membership is X, or it is not Y). */
	bool is = c->membership && m && !strcmp(m, c->membership);
	bool is_not = c->not_membership && !(m && !strcmp(m, c->not_membership));
	bool keep = c->membership && c->not_membership ? is || is_not
			: c->membership ? is : c->not_membership ? is_not : true;
	if (!keep) {
		json_decref(e);
		return 0;
	}
	json_array_append_new(c->arr, e);
	return 0;
}

static bool mx_membership_valid(const char *m)
{
	static const char *const ok[] = {"join", "invite", "knock", "leave", "ban"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!strcmp(m, ok[i]))
			return true;
	return false;
}

/* SPEC: client-server-api#get_matrixclientv3roomsroomidmembers */
static int mx_members(struct mx_req *req)
{
	const char *room_id = mx_req_param(req, 0), *at = mx_req_query(req, "at");
	struct mx_members_collect c = {req, NULL, mx_req_query(req, "membership"),
				       mx_req_query(req, "not_membership")};
	if ((c.membership && !mx_membership_valid(c.membership)) ||
	    (c.not_membership && !mx_membership_valid(c.not_membership)))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Unknown membership value");
	int64_t group;
	int rc = mx_readable_state_group(req, room_id, &group);
	if (rc)
		return rc;
	if (at) {
		/* The state at a point of the stream: after the last event <= at. */
		int64_t pos;
		if (mx_client_parse_position(at, &pos))
			return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid at token");
		int64_t sg = mx_store_room_state_group_at(req->w->rconn, room_id, pos);
		if (sg > 0 && (!group || sg < group))
			group = sg;
	}
	c.arr = json_array();
	rc = group ? mx_store_state_group(req->w->rconn, &req->arena, group, mx_members_cb, &c)
		   : mx_store_room_state(req->w->rconn, &req->arena, room_id, mx_members_cb, &c);
	if (rc < 0) {
		json_decref(c.arr);
		return mx_req_fail(req, rc, NULL);
	}
	return mx_req_reply_json(req, 200, json_pack("{s:o}", "chunk", c.arr));
}

/* SPEC: client-server-api#get_matrixclientv3roomsroomidjoined_members */
static int mx_joined_members(struct mx_req *req)
{
	const char *room_id = mx_req_param(req, 0);
	bool joined;
	int rc = mx_room_readable(req, room_id, &joined);
	if (rc)
		return rc;
	if (!joined)
		return mx_req_fail(req, MX_EFORBIDDEN, "You are not in this room");
	const char **members;
	size_t n;
	rc = mx_room_members(req->srv->rooms, req->w, &req->arena, room_id, "join", &members, &n);
	if (rc)
		return mx_req_fail(req, rc, NULL);
	json_t *out = json_object();
	for (size_t i = 0; i < n; i++) {
		json_t *ev;
		mx_room_state_get(req->srv->rooms, req->w, &req->arena, room_id, "m.room.member",
				  members[i], &ev, NULL);
		json_t *c = json_object_get(ev, "content"), *info = json_object();
		json_t *dn = json_object_get(c, "displayname"), *av = json_object_get(c, "avatar_url");
		if (json_is_string(dn))
			json_object_set(info, "display_name", dn);
		if (json_is_string(av))
			json_object_set(info, "avatar_url", av);
		json_object_set_new(out, members[i], info);
	}
	return mx_req_reply_json(req, 200, json_pack("{s:o}", "joined", out));
}

/* SPEC: client-server-api#get_matrixclientv3roomsroomidcontexteventid */
static int mx_context(struct mx_req *req)
{
	const char *room_id = mx_req_param(req, 0);
	const json_t *filter;
	int limit;
	int rc = mx_parse_filter_param(req, &filter);
	if (!rc)
		rc = mx_parse_limit(req, 10, &limit);
	if (rc)
		return rc;
	bool joined;
	rc = mx_room_readable(req, room_id, &joined);
	if (rc)
		return rc;
	struct mx_store_event ev;
	if (mx_store_event_get(req->w->rconn, &req->arena, mx_req_param(req, 1), &ev) ||
	    strcmp(ev.room_id, room_id) != 0 ||
	    !mx_visibility_allows(req, req->auth.user_id, &ev, joined))
		return mx_req_fail(req, MX_ENOTFOUND, "Event not found");
	/* SPEC: the limit is split between before and after. */
	int before_n = limit / 2, after_n = limit - before_n;
	bool lazy = json_is_true(json_object_get(filter, "lazy_load_members"));
	json_t *senders = lazy ? mx_arena_json(&req->arena, json_object()) : NULL;
	struct mx_page b = {.req = req, .filter = filter, .joined = joined, .want = before_n,
			    .chunk = mx_arena_json(&req->arena, json_array()), .senders = senders,
			    .last_nid = ev.nid};
	struct mx_page a = {.req = req, .filter = filter, .joined = joined, .want = after_n,
			    .chunk = mx_arena_json(&req->arena, json_array()), .senders = senders,
			    .last_nid = ev.nid};
	bool ex;
	if ((before_n && (rc = mx_paginate(&b, room_id, ev.nid - 1, 0, true, &ex))) ||
	    (after_n && (rc = mx_paginate(&a, room_id, ev.nid, INT64_MAX, false, &ex))))
		return mx_req_fail(req, rc, NULL);
	json_t *state = json_array();
	struct mx_state_collect sc = {req, state};
	if (!lazy)
		mx_store_state_group(req->w->rconn, &req->arena, ev.state_group, mx_state_collect_cb, &sc);
	else {
		const char *k;
		json_t *v;
		json_object_foreach (senders, k, v)
			json_array_append(state, v);
	}
	json_t *out = json_pack("{s:o, s:O, s:O, s:o, s:s, s:s}", "event", mx_fmt(req, &ev),
				"events_before", b.chunk, "events_after", a.chunk, "state", state,
				"start",
				mx_arena_printf(&req->arena, "t%lld",
						(long long)(before_n ? b.last_nid - 1 : ev.nid - 1)),
				"end", mx_arena_printf(&req->arena, "t%lld",
						       (long long)(after_n ? a.last_nid : ev.nid)));
	return mx_req_reply_json(req, 200, out);
}

/* SPEC: client-server-api#get_matrixclientv1roomsroomidtimestamp_to_event */
static int mx_timestamp_to_event(struct mx_req *req)
{
	const char *room_id = mx_req_param(req, 0), *ts_s = mx_req_query(req, "ts");
	const char *dir = mx_req_query(req, "dir");
	if (!ts_s || !dir)
		return mx_req_fail(req, MX_EMISSINGPARAM, "ts and dir are required");
	if (strcmp(dir, "f") && strcmp(dir, "b"))
		return mx_req_fail(req, MX_EINVALIDPARAM, "dir must be 'f' or 'b'");
	char *end;
	errno = 0;
	long long ts = strtoll(ts_s, &end, 10);
	if (errno || *end || end == ts_s || ts < 0)
		return mx_req_fail(req, MX_EINVALIDPARAM, "ts must be an integer");
	bool joined;
	int rc = mx_room_readable(req, room_id, &joined);
	if (rc)
		return rc;
	struct mx_store_event ev;
	rc = mx_store_room_event_at_ts(req->w->rconn, &req->arena, room_id, ts, dir[0] == 'f', &ev);
	if (rc || !mx_visibility_allows(req, req->auth.user_id, &ev, joined))
		return mx_req_fail(req, MX_ENOTFOUND, "Unable to find an event %s %lld",
				   dir[0] == 'f' ? "after" : "before", ts);
	return mx_req_reply_json(req, 200, json_pack("{s:s, s:I}", "event_id", ev.event_id,
						     "origin_server_ts", (json_int_t)ev.origin_server_ts));
}

#define C MX_RES_CLIENT
#define A MX_ROUTE_AUTH
#define AG (MX_ROUTE_AUTH | MX_ROUTE_GUEST)
#define AJ (MX_ROUTE_AUTH | MX_ROUTE_JSON)
const struct mx_route mx_room_events_routes[] = {
	{MX_PUT, "/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}", mx_send, AJ | MX_ROUTE_GUEST, C, MX_RL_MESSAGE, 0},
	{MX_PUT, "/_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}", mx_state_put, AJ, C, MX_RL_MESSAGE, 0},
	{MX_PUT, "/_matrix/client/v3/rooms/{roomId}/state/{eventType}", mx_state_put, AJ, C, MX_RL_MESSAGE, 0},
	{MX_PUT, "/_matrix/client/v3/rooms/{roomId}/redact/{eventId}/{txnId}", mx_redact, AJ | MX_ROUTE_EMPTY_BODY, C, MX_RL_MESSAGE, 0},
	{MX_GET, "/_matrix/client/v3/rooms/{roomId}/event/{eventId}", mx_get_event, AG, C, 0, 0},
	{MX_GET, "/_matrix/client/v3/rooms/{roomId}/state", mx_state_all, AG, C, 0, 0},
	{MX_GET, "/_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}", mx_state_get, AG, C, 0, 0},
	{MX_GET, "/_matrix/client/v3/rooms/{roomId}/state/{eventType}", mx_state_get, AG, C, 0, 0},
	{MX_GET, "/_matrix/client/v3/rooms/{roomId}/messages", mx_messages, AG, C, 0, 0},
	{MX_GET, "/_matrix/client/v3/rooms/{roomId}/members", mx_members, AG, C, 0, 0},
	{MX_GET, "/_matrix/client/v3/rooms/{roomId}/joined_members", mx_joined_members, AG, C, 0, 0},
	{MX_GET, "/_matrix/client/v3/rooms/{roomId}/context/{eventId}", mx_context, AG, C, 0, 0},
	{MX_GET, "/_matrix/client/v1/rooms/{roomId}/timestamp_to_event", mx_timestamp_to_event, AG, C, 0, 0},
};
const size_t mx_room_events_routes_count = sizeof(mx_room_events_routes) / sizeof(mx_room_events_routes[0]);
