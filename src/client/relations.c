/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GET /rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]] and
 * GET /rooms/{roomId}/threads, and the checks on relations that local
 * clients send.
 * SPEC: client-server-api#relationships-api, #querying-threads-in-a-room
 *
 * Pagination tokens are stream positions, "t<nid>", the same tokens as
 * /messages; /messages and /sync tokens are accepted too, as the spec asks.
 * A position p stands between event p and event p+1: backwards pages take
 * to < nid <= p, forwards pages p < nid <= to.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/format.h"
#include "client/ignore.h"
#include "client/relations.h"
#include "client/rooms.h"
#include "client/routes.h"
#include "client/visibility.h"
#include "core/config.h"
#include "core/error.h"
#include "event/redact.h"
#include "event/version.h"
#include "http/request.h"
#include "room/room.h"
#include "store/relations.h"
#include "store/rooms.h"

#define MX_RELATIONS_DEFAULT_LIMIT 5   /* Synapse's default */
#define MX_RELATIONS_MAX_LIMIT 1000
#define MX_THREADS_DEFAULT_LIMIT 5
#define MX_THREADS_MAX_LIMIT 100
/* Visibility may hide many rows: bound the store round trips of one page. */
#define MX_RELATIONS_MAX_ROUNDS 20
/* SPEC: a key of an annotation; Synapse refuses longer ones. */
#define MX_ANNOTATION_KEY_MAX 500

/* ---- parameters ---- */

static bool mx_rel_id_ok(const char *id, char sigil)
{
	size_t n = strlen(id);
	return n >= 2 && n <= 255 && id[0] == sigil;
}

/* A positive integer query parameter, clamped to max. */
static int mx_rel_parse_limit(struct mx_req *req, int def, int max, int *out)
{
	const char *l = mx_req_query(req, "limit");
	*out = def;
	if (!l)
		return 0;
	char *end;
	errno = 0;
	long v = strtol(l, &end, 10);
	if (errno || *end || end == l || v < 1)
		return mx_req_fail(req, MX_EINVALIDPARAM, "limit must be a positive integer");
	*out = v > max ? max : (int)v;
	return 0;
}

static int mx_rel_parse_token(struct mx_req *req, const char *name, int64_t *out, bool *given)
{
	const char *s = mx_req_query(req, name);
	*given = s != NULL;
	if (s && mx_client_parse_position(s, out))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Unknown pagination token in %s", name);
	return 0;
}

/* Whether the user's membership in room_id is join now (for "shared"). */
static bool mx_rel_joined(struct mx_req *req, const char *room_id)
{
	const char *m = mx_room_membership(req->srv->rooms, req->w, &req->arena, room_id,
					   req->auth.user_id);
	return m && !strcmp(m, "join");
}

static json_t *mx_rel_fmt(struct mx_req *req, const struct mx_store_event *ev)
{
	struct mx_format_opts o = {.include_room_id = true, .txn_device = req->auth.device_id,
				   .user_id = req->auth.user_id};
	return mx_client_format_event(req, ev, &o);
}

static const char *mx_rel_token(struct mx_req *req, int64_t pos)
{
	return mx_arena_printf(&req->arena, "t%lld", (long long)pos);
}

/* ---- GET /relations ---- */

struct mx_rel_page {
	struct mx_req *req;
	bool joined;
	json_t *chunk;
	int want;
	int rows;
	int64_t last_nid;   /* the last child consumed */
	bool more;          /* a child is left beyond the page */
};

static int mx_rel_page_cb(void *ctx, const struct mx_store_rel_child *ch)
{
	struct mx_rel_page *p = ctx;
	if ((int)json_array_size(p->chunk) >= p->want) {
		p->more = true;
		return 1; /* not consumed: the next page starts here */
	}
	p->rows++;
	p->last_nid = ch->nid;
	/* SPEC: client-server-api#ignoring-users: as in the timelines. */
	if (mx_ignored(p->req, ch->sender))
		return 0;
	struct mx_store_event ev;
	if (mx_store_event_get(p->req->w->rconn, &p->req->arena, ch->event_id, &ev) ||
	    !mx_visibility_allows(p->req, p->req->auth.user_id, &ev, p->joined))
		return 0;
	json_t *e = mx_rel_fmt(p->req, &ev);
	if (e)
		json_array_append_new(p->chunk, e);
	return 0;
}

/* SPEC: client-server-api#get_matrixclientv1roomsroomidrelationseventid (and the two below it) */
static int mx_relations_get(struct mx_req *req)
{
	const char *room_id = mx_req_param(req, 0), *parent_id = mx_req_param(req, 1);
	const char *rel_type = req->n_params > 2 ? mx_req_param(req, 2) : NULL;
	const char *type = req->n_params > 3 ? mx_req_param(req, 3) : NULL;
	if (!mx_rel_id_ok(room_id, '!'))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid room id");
	if (!mx_rel_id_ok(parent_id, '$'))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid event id");
	if (rel_type && (!*rel_type || strlen(rel_type) > 255))
		return mx_req_fail(req, MX_EINVALIDPARAM, "relType must be 1-255 bytes");
	if (type && (!*type || strlen(type) > 255))
		return mx_req_fail(req, MX_EINVALIDPARAM, "eventType must be 1-255 bytes");
	const char *dir = mx_req_query(req, "dir"), *recurse = mx_req_query(req, "recurse");
	if (dir && strcmp(dir, "b") && strcmp(dir, "f"))
		return mx_req_fail(req, MX_EINVALIDPARAM, "dir must be 'b' or 'f'");
	if (recurse && strcmp(recurse, "true") && strcmp(recurse, "false"))
		return mx_req_fail(req, MX_EINVALIDPARAM, "recurse must be 'true' or 'false'");
	bool backwards = !dir || dir[0] == 'b';
	int limit;
	int64_t from, to;
	bool has_from, has_to;
	int rc = mx_rel_parse_limit(req, MX_RELATIONS_DEFAULT_LIMIT, MX_RELATIONS_MAX_LIMIT, &limit);
	if (!rc)
		rc = mx_rel_parse_token(req, "from", &from, &has_from);
	if (!rc)
		rc = mx_rel_parse_token(req, "to", &to, &has_to);
	if (rc)
		return rc;
	if (!has_from)
		from = backwards ? INT64_MAX : 0;
	if (!has_to)
		to = backwards ? 0 : INT64_MAX;

	/* Members (past members for what they saw) and world-readable rooms only. */
	rc = mx_client_check_room_visible(req, room_id);
	if (rc)
		return rc;
	bool joined = mx_rel_joined(req, room_id);
	struct mx_store_event parent;
	if (mx_store_event_get(req->w->rconn, &req->arena, parent_id, &parent) ||
	    strcmp(parent.room_id, room_id) != 0 ||
	    !mx_visibility_allows(req, req->auth.user_id, &parent, joined))
		return mx_req_fail(req, MX_ENOTFOUND, "Event not found");

	/* SPEC: recurse follows at least 3 levels of relationships. */
	int depth = recurse && !strcmp(recurse, "true") ? MX_RELATIONS_MAX_DEPTH : 1;
	struct mx_store_rel_query q = {.room_id = room_id, .event_id = parent_id,
				       .rel_type = rel_type, .type = type, .depth = depth,
				       .backwards = backwards, .from = from, .to = to};
	struct mx_rel_page p = {.req = req, .joined = joined, .want = limit,
				.chunk = mx_arena_json(&req->arena, json_array())};
	for (int round = 0; round < MX_RELATIONS_MAX_ROUNDS && !p.more; round++) {
		q.limit = limit * 2 > 50 ? limit * 2 : 50;
		p.rows = 0;
		rc = mx_store_relations_list(req->w->rconn, &req->arena, &q, mx_rel_page_cb, &p);
		if (rc < 0)
			return mx_req_fail(req, rc, NULL);
		if (p.rows < q.limit && !p.more)
			break; /* the range is exhausted */
		if (p.more)
			break;
		if (backwards)
			q.from = p.last_nid - 1;
		else
			q.from = p.last_nid;
	}
	if (!p.more && json_array_size(p.chunk) < (size_t)limit && p.rows == q.limit)
		p.more = true; /* the round bound stopped us: let the client go on */

	json_t *out = json_pack("{s:O}", "chunk", p.chunk);
	if (p.more)
		json_object_set_new(out, "next_batch",
				    json_string(mx_rel_token(req, backwards ? p.last_nid - 1 : p.last_nid)));
	/* The start of this page, for the other direction (as Synapse). */
	if (has_from)
		json_object_set_new(out, "prev_batch", json_string(mx_rel_token(req, from)));
	if (recurse)
		json_object_set_new(out, "recursion_depth", json_integer(depth));
	return mx_req_reply_json(req, 200, out);
}

/* ---- GET /threads ---- */

struct mx_threads_page {
	struct mx_req *req;
	const char *room_id;
	bool joined;
	json_t *chunk;
	int want;
	int rows;
	int64_t last;       /* latest_nid of the last thread consumed */
	bool more;
};

/* SPEC: a root sent by an ignored user is returned redacted. */
static void mx_threads_redact_content(struct mx_threads_page *p, const struct mx_store_event *ev,
				      json_t *e)
{
	const struct mx_room_version *v = mx_room_version_of(p->req->srv->rooms, p->req->w, ev->room_id);
	json_t *pdu = mx_arena_json(&p->req->arena, json_loads(ev->json, 0, NULL));
	if (!v || !pdu)
		return;
	json_t *r = mx_arena_json(&p->req->arena, mx_event_redact(pdu, v));
	json_t *c = json_object_get(r, "content");
	json_object_set_new(e, "content", c ? json_incref(c) : json_object());
}

static int mx_threads_cb(void *ctx, const struct mx_store_thread *t)
{
	struct mx_threads_page *p = ctx;
	if ((int)json_array_size(p->chunk) >= p->want) {
		p->more = true;
		return 1;
	}
	p->rows++;
	p->last = t->latest_nid;
	struct mx_store_event ev;
	if (mx_store_event_get(p->req->w->rconn, &p->req->arena, t->root_id, &ev) ||
	    !mx_visibility_allows(p->req, p->req->auth.user_id, &ev, p->joined))
		return 0;
	json_t *e = mx_rel_fmt(p->req, &ev);
	if (!e)
		return 0;
	if (mx_ignored(p->req, ev.sender))
		mx_threads_redact_content(p, &ev, e);
	json_array_append_new(p->chunk, e);
	return 0;
}

/* SPEC: client-server-api#get_matrixclientv1roomsroomidthreads */
static int mx_threads_get(struct mx_req *req)
{
	const char *room_id = mx_req_param(req, 0), *include = mx_req_query(req, "include");
	if (!mx_rel_id_ok(room_id, '!'))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid room id");
	if (include && strcmp(include, "all") && strcmp(include, "participated"))
		return mx_req_fail(req, MX_EINVALIDPARAM, "include must be 'all' or 'participated'");
	int limit;
	int64_t from;
	bool has_from;
	int rc = mx_rel_parse_limit(req, MX_THREADS_DEFAULT_LIMIT, MX_THREADS_MAX_LIMIT, &limit);
	if (!rc)
		rc = mx_rel_parse_token(req, "from", &from, &has_from);
	if (rc)
		return rc;
	rc = mx_client_check_room_visible(req, room_id);
	if (rc)
		return rc;
	const char *participant =
		include && !strcmp(include, "participated") ? req->auth.user_id : NULL;
	struct mx_threads_page p = {.req = req, .room_id = room_id, .want = limit,
				    .joined = mx_rel_joined(req, room_id),
				    .chunk = mx_arena_json(&req->arena, json_array())};
	int64_t before = has_from ? from : INT64_MAX;
	for (int round = 0; round < MX_RELATIONS_MAX_ROUNDS && !p.more; round++) {
		int batch = limit * 2 > 20 ? limit * 2 : 20;
		p.rows = 0;
		rc = mx_store_threads_list(req->w->rconn, &req->arena, room_id, participant, before,
					   batch, mx_threads_cb, &p);
		if (rc < 0)
			return mx_req_fail(req, rc, NULL);
		if (p.more || p.rows < batch)
			break;
		before = p.last - 1;
	}
	json_t *out = json_pack("{s:O}", "chunk", p.chunk);
	if (p.more)
		json_object_set_new(out, "next_batch", json_string(mx_rel_token(req, p.last - 1)));
	return mx_req_reply_json(req, 200, out);
}

/* ---- checks on send ---- */

struct mx_dup_check {
	struct mx_req *req;
	const char *key;
	bool dup;
};

static int mx_dup_check_cb(void *ctx, const struct mx_store_rel_child *ch)
{
	struct mx_dup_check *d = ctx;
	struct mx_store_event ev;
	if (mx_store_event_get(d->req->w->rconn, &d->req->arena, ch->event_id, &ev))
		return 0;
	json_t *pdu = mx_arena_json(&d->req->arena, json_loads(ev.json, 0, NULL));
	json_t *rel = json_object_get(json_object_get(pdu, "content"), "m.relates_to");
	const char *key = json_string_value(json_object_get(rel, "key"));
	d->dup = key && !strcmp(key, d->key);
	return d->dup;
}

int mx_relations_check_send(struct mx_req *req, const char *room_id, const char *type,
			    const json_t *content)
{
	json_t *rel = json_object_get(content, "m.relates_to");
	const char *rel_type = json_string_value(json_object_get(rel, "rel_type"));
	const char *parent_id = json_string_value(json_object_get(rel, "event_id"));
	/* Rich replies have no rel_type; malformed relations are simply ignored. */
	if (!json_is_object(rel) || !rel_type || !parent_id)
		return 0;
	struct mx_store_event parent;
	bool known = !mx_store_event_get(req->w->rconn, &req->arena, parent_id, &parent);
	/* SPEC: client-server-api#forming-relationships-between-events: same room. */
	if (known && strcmp(parent.room_id, room_id) != 0)
		return mx_req_fail(req, MX_EBADREQUEST, "Relations must be in the same room");

	if (!strcmp(rel_type, "m.annotation")) {
		const char *key = json_string_value(json_object_get(rel, "key"));
		if (!key)
			return mx_req_fail(req, MX_EBADJSON, "m.relates_to.key must be a string");
		if (strlen(key) > MX_ANNOTATION_KEY_MAX)
			return mx_req_fail(req, MX_EBADJSON, "m.relates_to.key is too long");
		/* SPEC: client-server-api#avoiding-duplicate-annotations */
		struct mx_dup_check d = {req, key, false};
		int rc = mx_store_relations_of_type(req->w->rconn, &req->arena, room_id, parent_id,
						    "m.annotation", type, req->auth.user_id,
						    MX_RELATIONS_MAX_LIMIT, mx_dup_check_cb, &d);
		if (rc < 0)
			return mx_req_fail(req, rc, NULL);
		if (d.dup)
			return mx_req_fail(req, MX_EDUPLICATEANNOTATION,
					   "Can't send the same reaction twice");
	} else if (!strcmp(rel_type, "m.thread") && known) {
		/* SPEC: client-server-api#validation-of-mthread-relationships: 400 M_UNKNOWN. */
		json_t *pdu = mx_arena_json(&req->arena, json_loads(parent.json, 0, NULL));
		json_t *prel = json_object_get(json_object_get(pdu, "content"), "m.relates_to");
		if (json_is_string(json_object_get(prel, "rel_type")))
			return mx_req_fail(req, MX_EBADREQUEST,
					   "Cannot start threads from an event with a relation");
	}
	return 0;
}

#define C MX_RES_CLIENT
#define AG (MX_ROUTE_AUTH | MX_ROUTE_GUEST)
const struct mx_route mx_relations_routes[] = {
	{MX_GET, "/_matrix/client/v1/rooms/{roomId}/relations/{eventId}", mx_relations_get, AG, C, 0, 0},
	{MX_GET, "/_matrix/client/v1/rooms/{roomId}/relations/{eventId}/{relType}", mx_relations_get, AG, C, 0, 0},
	{MX_GET, "/_matrix/client/v1/rooms/{roomId}/relations/{eventId}/{relType}/{eventType}", mx_relations_get, AG, C, 0, 0},
	{MX_GET, "/_matrix/client/v1/rooms/{roomId}/threads", mx_threads_get, AG, C, 0, 0},
};
const size_t mx_relations_routes_count = sizeof(mx_relations_routes) / sizeof(mx_relations_routes[0]);
