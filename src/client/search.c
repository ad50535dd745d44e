/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Server-side search: POST /search, the room_events category.
 * SPEC: client-server-api#server-side-search
 *
 * The rooms searched are those the user is joined to, and those they
 * left or were banned from (and have not forgotten) up to their leave;
 * a filter narrows them, and with "rooms" also takes in the rooms those
 * replaced (upgrades), as Synapse does. The store returns candidates in
 * order (rank or recency); each then passes the same checks /messages
 * makes: ignored senders, the filter, and history visibility at the
 * event. Results, context and state are client events as /messages
 * serialises them.
 *
 * next_batch is an opaque token: base64url of a small JSON object
 * holding the order, the position after the last candidate looked at
 * (rank key, nid), the newest nid the ranked order looks at (so that
 * pages of one search rank the same events), and either a group (room or
 * sender) when the token came from a group, or the count of the first
 * page (counting is a pass over every match: once per search is enough).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "client/filter_match.h"
#include "client/format.h"
#include "client/ignore.h"
#include "client/routes.h"
#include "client/util.h"
#include "client/visibility.h"
#include "core/base64.h"
#include "core/config.h"
#include "core/error.h"
#include "http/request.h"
#include "room/room.h"
#include "store/rooms.h"
#include "store/search.h"

#define MX_SEARCH_DEFAULT_LIMIT 10  /* SPEC (filter limit), as Synapse */
#define MX_SEARCH_MAX_LIMIT 100
#define MX_SEARCH_DEFAULT_CONTEXT 5 /* before_limit, after_limit */
#define MX_SEARCH_MAX_CONTEXT 50
#define MX_SEARCH_ROUNDS 8          /* store queries per page at most */
#define MX_SEARCH_HIGHLIGHTS_MAX 64
#define MX_SEARCH_TOKEN_MAX 2048    /* characters of a next_batch */
#define MX_SEARCH_UPGRADES_MAX 16   /* predecessors followed per room */

enum mx_search_group { MX_GROUP_NONE, MX_GROUP_ROOM, MX_GROUP_SENDER };

/* A next_batch, decoded. */
struct mx_search_token {
	bool by_rank;
	int64_t rank, nid, upto;
	int64_t count;           /* the first page's, -1 if not carried */
	enum mx_search_group group;
	const char *group_value; /* arena */
};

struct mx_search {
	struct mx_req *req;
	const json_t *filter;
	/* request */
	bool by_rank, include_state, include_profile;
	bool has_context;
	int before_limit, after_limit;
	bool group_room, group_sender;
	int limit;
	/* rooms searched, and whether the user is joined to each */
	struct mx_search_room *rooms;
	bool *joined;
	size_t n_rooms;
	struct mx_search_params params;
	struct mx_search_token token;
	/* results */
	json_t *results;            /* [{rank, result, context}] */
	struct mx_store_event *evs; /* the events of results, same order */
	size_t n_evs, cap_evs;
	int rows;                   /* candidates looked at this round */
	bool full;                  /* stopped with a candidate left unread */
	bool moved;                 /* last_* hold a position */
	int64_t last_rank, last_nid;
	json_t *vis_cache;          /* state group -> visible, per room's joined flag */
	int64_t count;
};

/* ---- next_batch ---- */

static const char *mx_search_token_encode(struct mx_search *s, enum mx_search_group group,
					  const char *value)
{
	json_t *o = json_pack("{s:s, s:I, s:I, s:I}", "o", s->by_rank ? "rank" : "recent", "k",
			      (json_int_t)s->last_rank, "n", (json_int_t)s->last_nid, "u",
			      (json_int_t)s->params.upto);
	if (group != MX_GROUP_NONE) {
		json_object_set_new(o, "g", json_string(group == MX_GROUP_ROOM ? "room_id" : "sender"));
		json_object_set_new(o, "v", json_string(value));
	} else if (s->token.group == MX_GROUP_NONE) {
		/* The count of the whole search: later pages need not count again. */
		json_object_set_new(o, "c", json_integer(s->count));
	}
	char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	char *tok = mx_base64_encode(text, strlen(text), MX_BASE64_URL);
	free(text);
	return mx_arena_own(&s->req->arena, tok);
}

static bool mx_search_int_field(const json_t *o, const char *key, int64_t min, int64_t *out)
{
	const json_t *v = json_object_get(o, key);
	if (!json_is_integer(v) || json_integer_value(v) < min)
		return false;
	*out = json_integer_value(v);
	return true;
}

/* 0, or MX_EINVALIDPARAM for anything but a token we made. */
static int mx_search_token_decode(struct mx_req *req, const char *tok, struct mx_search_token *t)
{
	size_t len = strlen(tok), n;
	if (!len || len > MX_SEARCH_TOKEN_MAX)
		return MX_EINVALIDPARAM;
	unsigned char *raw = mx_arena_alloc(&req->arena, mx_base64_decoded_max(len) + 1);
	if (mx_base64_decode(tok, len, MX_BASE64_URL, raw, mx_base64_decoded_max(len), &n))
		return MX_EINVALIDPARAM;
	json_t *o = mx_arena_json(&req->arena, json_loadb((const char *)raw, n,
							  JSON_REJECT_DUPLICATES, NULL));
	const char *order = json_string_value(json_object_get(o, "o"));
	if (!json_is_object(o) || !order || (strcmp(order, "rank") && strcmp(order, "recent")) ||
	    !mx_search_int_field(o, "k", INT64_MIN, &t->rank) ||
	    !mx_search_int_field(o, "n", 0, &t->nid) || !mx_search_int_field(o, "u", 0, &t->upto))
		return MX_EINVALIDPARAM;
	t->by_rank = !strcmp(order, "rank");
	t->count = -1;
	if (json_object_get(o, "c") && !mx_search_int_field(o, "c", 0, &t->count))
		return MX_EINVALIDPARAM;
	const char *g = json_string_value(json_object_get(o, "g"));
	const char *v = json_string_value(json_object_get(o, "v"));
	t->group = MX_GROUP_NONE;
	if (g) {
		if (!v || strlen(v) > 255 || (strcmp(g, "room_id") && strcmp(g, "sender")))
			return MX_EINVALIDPARAM;
		t->group = !strcmp(g, "room_id") ? MX_GROUP_ROOM : MX_GROUP_SENDER;
		t->group_value = v;
	}
	return 0;
}

/* ---- the request ---- */

static int mx_search_opt_limit(struct mx_req *req, const json_t *obj, const char *key, int def,
			       int max, int *out)
{
	const json_t *v = json_object_get(obj, key);
	*out = def;
	if (!v)
		return 0;
	if (!json_is_integer(v))
		return mx_req_fail(req, MX_EBADJSON, "'%s' must be an integer", key);
	if (json_integer_value(v) < 0)
		return mx_req_fail(req, MX_EINVALIDPARAM, "'%s' must not be negative", key);
	*out = json_integer_value(v) > max ? max : (int)json_integer_value(v);
	return 0;
}

/* keys: the MX_SEARCH_* bits asked for (all by default; unknown keys match nothing). */
static int mx_search_parse_keys(struct mx_req *req, const json_t *cat, unsigned *keys)
{
	const json_t *v = json_object_get(cat, "keys");
	*keys = MX_SEARCH_ALL_KEYS;
	if (!v)
		return 0;
	if (!json_is_array(v))
		return mx_req_fail(req, MX_EBADJSON, "'keys' must be an array of strings");
	*keys = 0;
	size_t i;
	json_t *k;
	json_array_foreach (v, i, k) {
		const char *key = json_string_value(k);
		if (!key)
			return mx_req_fail(req, MX_EBADJSON, "'keys' must be an array of strings");
		if (!strcmp(key, "content.body"))
			*keys |= MX_SEARCH_BODY;
		else if (!strcmp(key, "content.name"))
			*keys |= MX_SEARCH_NAME;
		else if (!strcmp(key, "content.topic"))
			*keys |= MX_SEARCH_TOPIC;
	}
	return 0;
}

/* The keys whose event type the filter's types / not_types let through. */
static unsigned mx_search_keys_for_types(struct mx_search *s, unsigned keys)
{
	static const struct {
		unsigned key;
		const char *type;
	} kt[] = {{MX_SEARCH_BODY, "m.room.message"},
		  {MX_SEARCH_NAME, "m.room.name"},
		  {MX_SEARCH_TOPIC, "m.room.topic"}};
	if (!s->filter)
		return keys;
	json_t *tf = mx_arena_json(&s->req->arena, json_object());
	json_t *types = json_object_get(s->filter, "types");
	json_t *not_types = json_object_get(s->filter, "not_types");
	if (types)
		json_object_set(tf, "types", types);
	if (not_types)
		json_object_set(tf, "not_types", not_types);
	for (size_t i = 0; i < sizeof(kt) / sizeof(kt[0]); i++)
		if (!mx_filter_event_matches(tf, kt[i].type, NULL, NULL, NULL))
			keys &= ~kt[i].key;
	return keys;
}

static int mx_search_parse_groupings(struct mx_search *s, const json_t *cat)
{
	const json_t *g = json_object_get(cat, "groupings");
	if (!g)
		return 0;
	const json_t *by = json_object_get(g, "group_by");
	if (!json_is_object(g) || (by && !json_is_array(by)))
		return mx_req_fail(s->req, MX_EBADJSON, "'groupings.group_by' must be an array");
	size_t i;
	json_t *e;
	json_array_foreach (by, i, e) {
		const char *key = json_string_value(json_object_get(e, "key"));
		if (key && !strcmp(key, "room_id"))
			s->group_room = true;
		else if (key && !strcmp(key, "sender"))
			s->group_sender = true;
		else
			return mx_req_fail(s->req, MX_EINVALIDPARAM,
					   "Group keys must be 'room_id' or 'sender'");
	}
	return 0;
}

static int mx_search_parse_context(struct mx_search *s, const json_t *cat)
{
	const json_t *c = json_object_get(cat, "event_context");
	if (!c || json_is_null(c))
		return 0;
	if (!json_is_object(c))
		return mx_req_fail(s->req, MX_EBADJSON, "'event_context' must be an object");
	s->has_context = true;
	int rc = mx_search_opt_limit(s->req, c, "before_limit", MX_SEARCH_DEFAULT_CONTEXT,
				     MX_SEARCH_MAX_CONTEXT, &s->before_limit);
	if (!rc)
		rc = mx_search_opt_limit(s->req, c, "after_limit", MX_SEARCH_DEFAULT_CONTEXT,
					 MX_SEARCH_MAX_CONTEXT, &s->after_limit);
	if (!rc)
		rc = mx_client_opt_bool(s->req, (json_t *)c, "include_profile", false,
					&s->include_profile);
	return rc;
}

/* The senders lists of the filter pushed down to SQL (strings only). */
static const char *const *mx_search_strings(struct mx_search *s, const char *key, size_t *n)
{
	const json_t *v = json_object_get(s->filter, key);
	*n = 0;
	if (!json_is_array(v))
		return NULL;
	const char **out = mx_arena_alloc(&s->req->arena, (json_array_size(v) + 1) * sizeof(*out));
	size_t i;
	json_t *e;
	json_array_foreach (v, i, e)
		if (json_is_string(e))
			out[(*n)++] = json_string_value(e);
	return out;
}

/* ---- rooms ---- */

static bool mx_search_listed(const json_t *list, const char *room_id)
{
	size_t i;
	json_t *v;
	json_array_foreach (list, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), room_id))
			return true;
	return false;
}

/*
 * With filter.rooms, the rooms those replaced (m.room.create's
 * predecessor, followed back) count as listed: searching a room searches
 * its history before an upgrade. Returns the extended list (arena).
 */
static const json_t *mx_search_with_predecessors(struct mx_search *s, const json_t *rooms)
{
	struct mx_req *req = s->req;
	json_t *out = mx_arena_json(&req->arena, json_deep_copy(rooms));
	for (size_t i = 0; i < json_array_size(out) && i < 1000; i++) {
		const char *room = json_string_value(json_array_get(out, i));
		for (int depth = 0; room && depth < MX_SEARCH_UPGRADES_MAX; depth++) {
			json_t *create;
			if (mx_room_state_get(req->srv->rooms, req->w, &req->arena, room,
					      "m.room.create", "", &create, NULL) ||
			    !create)
				break;
			json_t *pred = json_object_get(json_object_get(create, "content"), "predecessor");
			room = json_string_value(json_object_get(pred, "room_id"));
			if (!room || mx_search_listed(out, room))
				break;
			json_array_append_new(out, json_string(room));
		}
	}
	return out;
}

/*
 * The rooms to search: joined (in full), left or banned and not forgotten
 * (up to the leave), narrowed by the filter and by a room group token.
 */
static int mx_search_rooms(struct mx_search *s)
{
	struct mx_req *req = s->req;
	static const char *const memberships[] = {"join", "leave", "ban", NULL};
	struct mx_store_user_room *ur;
	size_t n;
	int rc = mx_store_user_rooms(req->w->rconn, &req->arena, req->auth.user_id, memberships,
				     &ur, &n);
	if (rc)
		return rc;
	const json_t *only = json_object_get(s->filter, "rooms");
	if (json_is_array(only))
		only = mx_search_with_predecessors(s, only);
	else
		only = NULL;
	const json_t *not_rooms = json_object_get(s->filter, "not_rooms");
	s->rooms = mx_arena_alloc(&req->arena, (n + 1) * sizeof(*s->rooms));
	s->joined = mx_arena_alloc(&req->arena, (n + 1) * sizeof(*s->joined));
	for (size_t i = 0; i < n; i++) {
		bool joined = !strcmp(ur[i].membership, "join");
		if ((only && !mx_search_listed(only, ur[i].room_id)) ||
		    mx_search_listed(not_rooms, ur[i].room_id))
			continue;
		if (s->token.group == MX_GROUP_ROOM && strcmp(s->token.group_value, ur[i].room_id))
			continue;
		/* SPEC: post_matrixclientv3roomsroomidforget: forgotten history is gone. */
		if (!joined && mx_store_room_forgotten(req->w->rconn, req->auth.user_id, ur[i].room_id))
			continue;
		s->rooms[s->n_rooms].room_id = ur[i].room_id;
		s->rooms[s->n_rooms].max_nid = joined ? INT64_MAX : ur[i].nid;
		s->joined[s->n_rooms] = joined;
		s->n_rooms++;
	}
	return 0;
}

static bool mx_search_room_joined(struct mx_search *s, const char *room_id)
{
	for (size_t i = 0; i < s->n_rooms; i++)
		if (!strcmp(s->rooms[i].room_id, room_id))
			return s->joined[i];
	return false;
}

/* ---- candidates ---- */

static json_t *mx_search_fmt(struct mx_req *req, const struct mx_store_event *ev)
{
	struct mx_format_opts o = {.include_room_id = true, .txn_device = req->auth.device_id,
				   .user_id = req->auth.user_id};
	return mx_client_format_event(req, ev, &o);
}

/*
 * History visibility of a searchable event. Message, name and topic
 * events are neither the user's own membership nor a visibility change,
 * so the answer depends on the state after them alone: cached by state
 * group for the request.
 */
static bool mx_search_visible(struct mx_search *s, const struct mx_store_event *ev, bool joined)
{
	char key[32];
	snprintf(key, sizeof(key), "%lld", (long long)ev->state_group);
	json_t *hit = json_object_get(s->vis_cache, key);
	if (hit)
		return json_is_true(hit);
	bool ok = mx_visibility_allows(s->req, s->req->auth.user_id, ev, joined);
	json_object_set_new(s->vis_cache, key, json_boolean(ok));
	return ok;
}

static int mx_search_hit_cb(void *ctx, const struct mx_store_event *ev, int64_t rank)
{
	struct mx_search *s = ctx;
	struct mx_req *req = s->req;
	if ((int)s->n_evs >= s->limit) {
		s->full = true;
		return 1; /* not consumed: the next page starts here */
	}
	s->rows++;
	s->moved = true;
	s->last_rank = rank;
	s->last_nid = ev->nid;
	/* SPEC: client-server-api#ignoring-users: but state events are sent (as /messages). */
	if (!ev->state_key && mx_ignored(req, ev->sender))
		return 0;
	json_t *pdu = mx_arena_json(&req->arena, json_loads(ev->json, 0, NULL));
	if (!mx_filter_event_matches(s->filter, ev->type, ev->sender, ev->room_id,
				     json_object_get(pdu, "content")) ||
	    !mx_search_visible(s, ev, mx_search_room_joined(s, ev->room_id)))
		return 0;
	json_t *e = mx_search_fmt(req, ev);
	if (!e)
		return 0;
	json_array_append_new(s->results, json_pack("{s:f, s:o}", "rank", mx_store_search_rank(rank),
						    "result", e));
	if (s->n_evs == s->cap_evs) {
		size_t cap = s->cap_evs ? 2 * s->cap_evs : 16;
		struct mx_store_event *nv = mx_arena_alloc(&req->arena, cap * sizeof(*nv));
		if (s->n_evs)
			memcpy(nv, s->evs, s->n_evs * sizeof(*nv));
		s->evs = nv;
		s->cap_evs = cap;
	}
	s->evs[s->n_evs++] = *ev;
	return 0;
}

/*
 * Read candidates until limit results pass the checks, the store runs
 * out (*exhausted) or the rounds are spent (a next_batch then resumes
 * after the last candidate looked at).
 */
static int mx_search_collect(struct mx_search *s, bool *exhausted)
{
	*exhausted = false;
	int batch = s->limit * 2 > 20 ? s->limit * 2 : 20;
	for (int round = 0; round < MX_SEARCH_ROUNDS && !s->full; round++) {
		s->rows = 0;
		int rc = mx_store_search(s->req->w->rconn, &s->req->arena, &s->params, batch,
					 mx_search_hit_cb, s);
		if (rc < 0)
			return rc;
		if (!s->full && s->rows < batch) {
			*exhausted = true;
			break;
		}
		if (s->moved) {
			s->params.has_after = true;
			s->params.after_rank = s->last_rank;
			s->params.after_nid = s->last_nid;
		}
		batch = batch < 400 ? batch * 2 : batch; /* filters hide many: read more */
	}
	return 0;
}

/* ---- context ---- */

struct mx_search_side {
	struct mx_search *s;
	bool joined;
	int want;
	json_t *chunk;
	json_t *senders; /* user id -> true, with include_profile */
	int64_t last_nid;
	int64_t last_group; /* the state group after the last event kept */
	int rows;
};

static int mx_search_side_cb(void *ctx, const struct mx_store_event *ev)
{
	struct mx_search_side *sd = ctx;
	struct mx_req *req = sd->s->req;
	if ((int)json_array_size(sd->chunk) >= sd->want)
		return 1;
	sd->rows++;
	sd->last_nid = ev->nid;
	if (!ev->state_key && mx_ignored(req, ev->sender))
		return 0;
	if (!mx_visibility_allows(req, req->auth.user_id, ev, sd->joined))
		return 0;
	json_t *e = mx_search_fmt(req, ev);
	if (!e)
		return 0;
	json_array_append_new(sd->chunk, e);
	if (sd->senders)
		json_object_set_new(sd->senders, ev->sender, json_true());
	sd->last_group = ev->state_group; /* forwards: the newest kept so far */
	return 0;
}

/* Visible events on one side of ev, nearest first, as /context pages them. */
static int mx_search_side(struct mx_search_side *sd, const struct mx_store_event *ev, bool backwards)
{
	int64_t cursor = backwards ? ev->nid - 1 : ev->nid;
	int64_t to = backwards ? 0 : INT64_MAX;
	sd->last_nid = cursor + (backwards ? 1 : 0);
	for (int round = 0; round < 10 && (int)json_array_size(sd->chunk) < sd->want; round++) {
		int batch = sd->want * 2 > 20 ? sd->want * 2 : 20;
		sd->rows = 0;
		int rc = mx_store_room_events(sd->s->req->w->rconn, &sd->s->req->arena, ev->room_id,
					      cursor, to, backwards, batch, mx_search_side_cb, sd);
		if (rc < 0)
			return rc;
		if (sd->rows < batch)
			break;
		cursor = backwards ? sd->last_nid - 1 : sd->last_nid;
	}
	return 0;
}

/*
 * SPEC: post_matrixclientv3search (event_context): profile_info is the
 * senders' member events in the state after the last event returned
 * (as Synapse reads it).
 */
static json_t *mx_search_profiles(struct mx_search *s, json_t *senders, int64_t group)
{
	struct mx_req *req = s->req;
	json_t *out = json_object();
	const char *user;
	json_t *v;
	json_object_foreach (senders, user, v) {
		struct mx_store_event mem;
		if (!group || mx_store_state_group_get(req->w->rconn, &req->arena, group,
						       "m.room.member", user, &mem))
			continue;
		json_t *pdu = mx_arena_json(&req->arena, json_loads(mem.json, 0, NULL));
		json_t *c = json_object_get(pdu, "content"), *p = json_object();
		if (mem.redacted_by)
			c = NULL;
		json_t *dn = json_object_get(c, "displayname"), *av = json_object_get(c, "avatar_url");
		if (json_is_string(dn))
			json_object_set(p, "displayname", dn);
		if (json_is_string(av))
			json_object_set(p, "avatar_url", av);
		json_object_set_new(out, user, p);
	}
	return out;
}

static int mx_search_context(struct mx_search *s, const struct mx_store_event *ev, json_t **out)
{
	struct mx_req *req = s->req;
	bool joined = mx_search_room_joined(s, ev->room_id);
	json_t *senders = s->include_profile ? mx_arena_json(&req->arena, json_object()) : NULL;
	struct mx_search_side b = {.s = s, .joined = joined, .want = s->before_limit,
				   .chunk = json_array(), .senders = senders};
	struct mx_search_side a = {.s = s, .joined = joined, .want = s->after_limit,
				   .chunk = json_array(), .senders = senders};
	int rc = 0;
	if (b.want)
		rc = mx_search_side(&b, ev, true);
	if (!rc && a.want)
		rc = mx_search_side(&a, ev, false);
	if (rc) {
		json_decref(b.chunk);
		json_decref(a.chunk);
		return rc;
	}
	/* Tokens as /context gives them: /messages goes on from there. */
	json_t *ctx = json_pack("{s:o, s:o, s:s, s:s}", "events_before", b.chunk, "events_after",
				a.chunk, "start",
				mx_arena_printf(&req->arena, "t%lld",
						(long long)(b.want ? b.last_nid - 1 : ev->nid - 1)),
				"end",
				mx_arena_printf(&req->arena, "t%lld",
						(long long)(a.want ? a.last_nid : ev->nid)));
	if (senders) {
		json_object_set_new(senders, ev->sender, json_true());
		int64_t group = json_array_size(a.chunk) && a.last_group ? a.last_group : ev->state_group;
		json_object_set_new(ctx, "profile_info", mx_search_profiles(s, senders, group));
	}
	*out = ctx;
	return 0;
}

/* ---- the reply ---- */

struct mx_search_state_collect {
	struct mx_req *req;
	json_t *arr;
};

static int mx_search_state_cb(void *ctx, const struct mx_store_event *ev)
{
	struct mx_search_state_collect *c = ctx;
	json_t *e = mx_search_fmt(c->req, ev);
	if (e)
		json_array_append_new(c->arr, e);
	return 0;
}

/*
 * SPEC: post_matrixclientv3search (include_state): the current state of
 * each room in the results; of a room the user left, the state at the
 * leave, which is what they may still read.
 */
static int mx_search_state(struct mx_search *s, json_t *out)
{
	struct mx_req *req = s->req;
	json_t *state = json_object();
	json_object_set_new(out, "state", state);
	for (size_t i = 0; i < s->n_evs; i++) {
		const char *room_id = s->evs[i].room_id;
		if (json_object_get(state, room_id))
			continue;
		struct mx_search_state_collect c = {req, json_array()};
		json_object_set_new(state, room_id, c.arr);
		int rc;
		if (mx_search_room_joined(s, room_id)) {
			rc = mx_store_room_state(req->w->rconn, &req->arena, room_id, mx_search_state_cb, &c);
		} else {
			struct mx_store_event mem;
			rc = mx_store_room_state_get(req->w->rconn, &req->arena, room_id, "m.room.member",
						     req->auth.user_id, &mem);
			if (!rc)
				rc = mx_store_state_group(req->w->rconn, &req->arena, mem.state_group,
							  mx_search_state_cb, &c);
		}
		if (rc < 0 && rc != MX_ENOTFOUND)
			return rc;
	}
	return 0;
}

/* groups.<key>.<value> = {results, order, next_batch?}: order is first appearance. */
static void mx_search_group(struct mx_search *s, json_t *groups, const char *key,
			    enum mx_search_group kind, bool more)
{
	json_t *g = json_object();
	json_object_set_new(groups, key, g);
	for (size_t i = 0; i < s->n_evs; i++) {
		const char *v = kind == MX_GROUP_ROOM ? s->evs[i].room_id : s->evs[i].sender;
		json_t *entry = json_object_get(g, v);
		if (!entry) {
			entry = json_pack("{s:[], s:I}", "results", "order",
					  (json_int_t)json_object_size(g) + 1);
			if (more)
				json_object_set_new(entry, "next_batch",
						    json_string(mx_search_token_encode(s, kind, v)));
			json_object_set_new(g, v, entry);
		}
		json_array_append_new(json_object_get(entry, "results"),
				      json_string(s->evs[i].event_id));
	}
}

/* The searchable text of a result (its body, name or topic), or NULL. */
static const char *mx_search_text(struct mx_search *s, const struct mx_store_event *ev)
{
	json_t *pdu = mx_arena_json(&s->req->arena, json_loads(ev->json, 0, NULL));
	json_t *c = json_object_get(pdu, "content");
	const char *key = !strcmp(ev->type, "m.room.name")	  ? "name"
			  : !strcmp(ev->type, "m.room.topic") ? "topic"
							      : "body";
	return json_string_value(json_object_get(c, key));
}

static json_t *mx_search_empty(void)
{
	return json_pack("{s:{s:{s:[], s:i, s:[]}}}", "search_categories", "room_events", "results",
			 "count", 0, "highlights");
}

/* SPEC: client-server-api#post_matrixclientv3search */
static int mx_search_post(struct mx_req *req)
{
	struct mx_search s = {.req = req};
	json_t *cats = json_object_get(req->json, "search_categories");
	if (!cats)
		return mx_req_fail(req, MX_EMISSINGPARAM, "'search_categories' is required");
	if (!json_is_object(cats))
		return mx_req_fail(req, MX_EBADJSON, "'search_categories' must be an object");
	json_t *cat = json_object_get(cats, "room_events");
	if (!cat) /* the only category there is; others are not ours to answer */
		return mx_req_reply_json(req, 200, json_pack("{s:{}}", "search_categories"));
	if (!json_is_object(cat))
		return mx_req_fail(req, MX_EBADJSON, "'room_events' must be an object");
	json_t *term = json_object_get(cat, "search_term");
	if (!term)
		return mx_req_fail(req, MX_EMISSINGPARAM, "'search_term' is required");
	if (!json_is_string(term))
		return mx_req_fail(req, MX_EBADJSON, "'search_term' must be a string");
	const char *order;
	unsigned keys;
	int rc = mx_client_opt_string(req, cat, "order_by", &order);
	if (!rc && order && strcmp(order, "rank") && strcmp(order, "recent"))
		rc = mx_req_fail(req, MX_EINVALIDPARAM, "'order_by' must be 'rank' or 'recent'");
	if (!rc)
		rc = mx_search_parse_keys(req, cat, &keys);
	if (!rc)
		rc = mx_client_opt_bool(req, cat, "include_state", false, &s.include_state);
	if (!rc)
		rc = mx_search_parse_context(&s, cat);
	if (!rc)
		rc = mx_search_parse_groupings(&s, cat);
	if (rc)
		return rc;
	json_t *filter = json_object_get(cat, "filter");
	if (filter && !json_is_null(filter) && !json_is_object(filter))
		return mx_req_fail(req, MX_EBADJSON, "'filter' must be an object");
	s.filter = json_is_object(filter) ? filter : NULL;
	s.by_rank = !order || !strcmp(order, "rank");
	s.limit = mx_filter_limit(s.filter, MX_SEARCH_DEFAULT_LIMIT, MX_SEARCH_MAX_LIMIT);

	const char *next = mx_req_query(req, "next_batch");
	if (next && (mx_search_token_decode(req, next, &s.token) || s.token.by_rank != s.by_rank))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid next_batch");

	struct mx_search_terms terms;
	rc = mx_store_search_parse(&req->arena, json_string_value(term), json_string_length(term),
				   mx_search_keys_for_types(&s, keys), &terms);
	if (rc == MX_ETOOLARGE)
		return mx_req_fail(req, MX_EINVALIDPARAM,
				   "'search_term' is too long (at most %d bytes and %d words)",
				   MX_SEARCH_TERM_MAX, MX_SEARCH_WORDS_MAX);
	if (rc)
		return mx_req_fail(req, MX_EINVALIDPARAM, "'search_term' is not valid text");
	if ((rc = mx_search_rooms(&s)))
		return mx_req_fail(req, rc, NULL);
	/* As Synapse: a term with no word, or no room to look in, finds nothing. */
	if (!terms.match || !s.n_rooms)
		return mx_req_reply_json(req, 200, mx_search_empty());

	size_t n_senders = 0, n_not = 0;
	const char *const *senders = mx_search_strings(&s, "senders", &n_senders);
	if (s.token.group == MX_GROUP_SENDER) {
		/* A sender group's token: that sender only (if the filter allows). */
		bool allowed = !senders;
		for (size_t i = 0; i < n_senders && !allowed; i++)
			allowed = !strcmp(senders[i], s.token.group_value);
		if (!allowed)
			return mx_req_reply_json(req, 200, mx_search_empty());
		senders = &s.token.group_value;
		n_senders = 1;
	}
	const char *const *not_senders = mx_search_strings(&s, "not_senders", &n_not);
	s.params = (struct mx_search_params){
		.match = terms.match, .rooms = s.rooms, .n_rooms = s.n_rooms, .senders = senders,
		.n_senders = n_senders, .not_senders = not_senders, .n_not_senders = n_not,
		.by_rank = s.by_rank,
	};
	if (next) {
		s.params.has_after = true;
		s.params.after_rank = s.token.rank;
		s.params.after_nid = s.token.nid;
		s.params.upto = s.token.upto;
		s.last_rank = s.token.rank;
		s.last_nid = s.token.nid;
	} else if (s.by_rank) {
		/* Later pages rank the same events: nothing newer than now. */
		s.params.upto = mx_store_events_max_nid(req->w->rconn);
	}
	s.count = s.token.count;
	if (!next || s.count < 0) {
		if ((rc = mx_store_search_count(req->w->rconn, &s.params, &s.count)))
			return mx_req_fail(req, rc, NULL);
	}

	s.results = mx_arena_json(&req->arena, json_array());
	s.vis_cache = mx_arena_json(&req->arena, json_object());
	bool exhausted;
	if ((rc = mx_search_collect(&s, &exhausted)))
		return mx_req_fail(req, rc, NULL);
	bool more = !exhausted && s.moved;

	const char **words = mx_arena_alloc(&req->arena, (terms.n_words + 1) * sizeof(*words));
	size_t n_words = 0;
	for (size_t i = 0; i < terms.n_words && n_words < MX_SEARCH_HIGHLIGHTS_MAX; i++) {
		bool dup = false;
		for (size_t j = 0; j < n_words && !dup; j++)
			dup = !strcmp(words[j], terms.words[i]);
		if (!dup)
			words[n_words++] = terms.words[i];
	}
	for (size_t i = 0; i < s.n_evs; i++) {
		/* The forms the results use ("Café" for "cafe"), for clients to mark. */
		mx_store_search_highlights(&req->arena, &terms, mx_search_text(&s, &s.evs[i]), &words,
					   &n_words, MX_SEARCH_HIGHLIGHTS_MAX);
		if (s.has_context) {
			json_t *ctx;
			if ((rc = mx_search_context(&s, &s.evs[i], &ctx)))
				return mx_req_fail(req, rc, NULL);
			json_object_set_new(json_array_get(s.results, i), "context", ctx);
		}
	}
	json_t *highlights = json_array();
	for (size_t i = 0; i < n_words; i++)
		json_array_append_new(highlights, json_string(words[i]));

	json_t *re = json_pack("{s:O, s:I, s:o}", "results", s.results, "count", (json_int_t)s.count,
			       "highlights", highlights);
	if (more)
		json_object_set_new(re, "next_batch",
				    json_string(mx_search_token_encode(&s, s.token.group,
								       s.token.group_value)));
	if (s.include_state && (rc = mx_search_state(&s, re))) {
		json_decref(re);
		return mx_req_fail(req, rc, NULL);
	}
	if (s.group_room || s.group_sender) {
		json_t *groups = json_object();
		json_object_set_new(re, "groups", groups);
		if (s.group_room)
			mx_search_group(&s, groups, "room_id", MX_GROUP_ROOM, more);
		if (s.group_sender)
			mx_search_group(&s, groups, "sender", MX_GROUP_SENDER, more);
	}
	return mx_req_reply_json(req, 200,
				 json_pack("{s:{s:o}}", "search_categories", "room_events", re));
}

#define C MX_RES_CLIENT
#define AJ (MX_ROUTE_AUTH | MX_ROUTE_JSON)
const struct mx_route mx_search_routes[] = {
	{MX_POST, "/_matrix/client/v3/search", mx_search_post, AJ, C, 0, 0},
};
const size_t mx_search_routes_count = sizeof(mx_search_routes) / sizeof(mx_search_routes[0]);
