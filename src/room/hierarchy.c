/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The space hierarchy (hierarchy.h): child ordering, page tokens, checks
 * on other servers' answers, our rooms as a source, and the walk.
 *
 * The walk keeps a stack of rooms to visit (the next on top), a set of
 * rooms visited, and the answers other servers gave; it lives in the
 * caller's arena, so a request can park between runs and go on.
 */
#include "room/hierarchy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/base64.h"
#include "core/error.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/strhash.h"
#include "event/ids.h"
#include "event/version.h"
#include "room/directory.h"
#include "room/room.h"

/* Entries kept from another server's answer (beyond that, it is junk). */
#define MX_HC_REMOTE_LIST_MAX 1000
/* Longest token we read: a room id and two numbers, base64'd. */
#define MX_HC_TOKEN_MAX 512

static bool mx_hc_eq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

static const char *mx_hc_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* ---- ordering ---- */

bool mx_hierarchy_order_valid(const json_t *order)
{
	const char *s = json_string_value(order);
	if (!s)
		return false;
	size_t n = json_string_length(order);
	if (n == 0 || n > MX_HIERARCHY_ORDER_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7E)
			return false;
	return true;
}

bool mx_hierarchy_child_valid(const json_t *ev)
{
	const char *key = mx_hc_str(ev, "state_key");
	if (!key || !mx_id_room_valid(key, NULL))
		return false;
	const json_t *via = json_object_get(json_object_get(ev, "content"), "via");
	if (!json_is_array(via) || !json_array_size(via))
		return false;
	size_t i;
	const json_t *v;
	json_array_foreach (via, i, v)
		if (!json_is_string(v))
			return false;
	return true;
}

/* SPEC: client-server-api#ordering-of-children-within-a-space */
int mx_hierarchy_child_cmp(const json_t *a, const json_t *b)
{
	const json_t *oa = json_object_get(json_object_get(a, "content"), "order");
	const json_t *ob = json_object_get(json_object_get(b, "content"), "order");
	bool va = mx_hierarchy_order_valid(oa), vb = mx_hierarchy_order_valid(ob);
	if (va != vb)
		return va ? -1 : 1;
	if (va) {
		/* Printable ASCII: byte order is code point order. */
		int c = strcmp(json_string_value(oa), json_string_value(ob));
		if (c)
			return c < 0 ? -1 : 1;
	}
	json_int_t ta = json_integer_value(json_object_get(a, "origin_server_ts"));
	json_int_t tb = json_integer_value(json_object_get(b, "origin_server_ts"));
	if (ta != tb)
		return ta < tb ? -1 : 1;
	int c = strcmp(mx_hc_str(a, "state_key"), mx_hc_str(b, "state_key"));
	return c < 0 ? -1 : c > 0;
}

static int mx_hc_qsort_cmp(const void *a, const void *b)
{
	return mx_hierarchy_child_cmp(*(json_t *const *)a, *(json_t *const *)b);
}

static bool mx_hc_suggested(const json_t *ev)
{
	/* SPEC: m.space.child "suggested", default false; only true counts. */
	return json_is_true(json_object_get(json_object_get(ev, "content"), "suggested"));
}

json_t *mx_hierarchy_children_state(json_t *const *events, size_t n, bool suggested_only)
{
	json_t *out = json_array();
	json_t **kept = n ? mx_xmalloc(n * sizeof(*kept)) : NULL;
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		const json_t *ev = events[i];
		const json_t *ts = json_object_get(ev, "origin_server_ts");
		const char *sender = mx_hc_str(ev, "sender");
		if (!mx_hc_eq(mx_hc_str(ev, "type"), "m.space.child") ||
		    !mx_hierarchy_child_valid(ev) || !json_is_integer(ts) || !sender)
			continue;
		if (suggested_only && !mx_hc_suggested(ev))
			continue;
		/* SPEC: StrippedChildStateEvent: stripped state plus origin_server_ts. */
		kept[m++] = json_pack("{s:s, s:s, s:O, s:s, s:O}", "type", "m.space.child",
				      "state_key", mx_hc_str(ev, "state_key"), "content",
				      json_object_get(ev, "content"), "sender", sender,
				      "origin_server_ts", ts);
	}
	if (m > 1)
		qsort(kept, m, sizeof(*kept), mx_hc_qsort_cmp);
	for (size_t i = 0; i < m; i++)
		json_array_append_new(out, kept[i]);
	free(kept);
	return out;
}

/* The same over a JSON array (another server's children_state). */
static json_t *mx_hc_children_of(const json_t *arr, bool suggested_only)
{
	size_t n = json_array_size(arr);
	json_t **v = n ? mx_xmalloc(n * sizeof(*v)) : NULL;
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(arr, i);
	json_t *out = mx_hierarchy_children_state(v, n, suggested_only);
	free(v);
	return out;
}

/* ---- tokens ---- */

uint64_t mx_hierarchy_params_hash(const char *user_id, const char *root, bool suggested_only,
				  int max_depth)
{
	char tail[32];
	snprintf(tail, sizeof(tail), "\x1f%d\x1f%d", suggested_only ? 1 : 0, max_depth);
	uint64_t h = mx_strhash_more(MX_STRHASH_SEED, user_id ? user_id : "");
	h = mx_strhash_more(h, "\x1f");
	h = mx_strhash_more(h, root);
	return mx_strhash_more(h, tail);
}

/* A token is "h1|<shown>|<params hash, 16 hex>|<last room id>", base64url'd. */
const char *mx_hierarchy_token_make(struct mx_arena *a, uint64_t params_hash, uint64_t shown,
				    const char *last)
{
	const char *text = mx_arena_printf(a, "h1|%llu|%016llx|%s", (unsigned long long)shown,
					   (unsigned long long)params_hash, last);
	char *b64 = mx_base64_encode(text, strlen(text), MX_BASE64_URL);
	return mx_arena_own(a, b64);
}

int mx_hierarchy_token_parse(struct mx_arena *a, const char *s, uint64_t params_hash,
			     struct mx_hierarchy_token *out)
{
	size_t len = strlen(s);
	if (!len || len > MX_HC_TOKEN_MAX)
		return MX_EINVALIDPARAM;
	unsigned char *raw = mx_arena_alloc(a, mx_base64_decoded_max(len) + 1);
	size_t n;
	if (mx_base64_decode(s, len, MX_BASE64_URL, raw, mx_base64_decoded_max(len), &n))
		return MX_EINVALIDPARAM;
	raw[n] = '\0';
	if (strlen((char *)raw) != n || strncmp((char *)raw, "h1|", 3))
		return MX_EINVALIDPARAM;
	const char *p = (char *)raw + 3;
	if (*p < '0' || *p > '9')
		return MX_EINVALIDPARAM;
	char *end;
	errno = 0;
	unsigned long long shown = strtoull(p, &end, 10);
	if (errno || *end != '|' || shown == 0)
		return MX_EINVALIDPARAM;
	p = end + 1;
	for (int i = 0; i < 16; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return MX_EINVALIDPARAM;
	if (p[16] != '|')
		return MX_EINVALIDPARAM;
	unsigned long long h = strtoull(p, NULL, 16);
	const char *last = p + 17;
	if (h != params_hash || !mx_id_room_valid(last, NULL))
		return MX_EINVALIDPARAM;
	out->shown = shown;
	out->last = last;
	return 0;
}

/* ---- other servers' answers ---- */

json_t *mx_hierarchy_check_entry(const json_t *entry, bool with_children)
{
	const char *room_id = mx_hc_str(entry, "room_id");
	if (!json_is_object(entry) || !room_id || !mx_id_room_valid(room_id, NULL))
		return NULL;
	json_t *o = json_pack("{s:s}", "room_id", room_id);
	static const char *const strs[] = {"name",      "topic",     "avatar_url", "canonical_alias",
					   "join_rule", "room_type", "encryption", "room_version"};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		const char *s = mx_hc_str(entry, strs[i]);
		if (s && *s)
			json_object_set_new(o, strs[i], json_string(s));
	}
	/* SPEC: PublishedRoomsChunk: these three are required. */
	const json_t *joined = json_object_get(entry, "num_joined_members");
	json_object_set_new(o, "num_joined_members",
			    json_integer(json_is_integer(joined) && json_integer_value(joined) > 0
						 ? json_integer_value(joined)
						 : 0));
	json_object_set_new(o, "world_readable",
			    json_boolean(json_is_true(json_object_get(entry, "world_readable"))));
	json_object_set_new(o, "guest_can_join",
			    json_boolean(json_is_true(json_object_get(entry, "guest_can_join"))));
	const json_t *allowed = json_object_get(entry, "allowed_room_ids");
	if (json_is_array(allowed)) {
		json_t *ids = json_array();
		size_t i;
		const json_t *v;
		json_array_foreach (allowed, i, v) {
			if (json_array_size(ids) >= MX_HC_REMOTE_LIST_MAX)
				break;
			if (json_is_string(v) && mx_id_room_valid(json_string_value(v), NULL))
				json_array_append(ids, (json_t *)v);
		}
		json_object_set_new(o, "allowed_room_ids", ids);
	}
	if (with_children) {
		const json_t *cs = json_object_get(entry, "children_state");
		if (json_array_size(cs) > MX_HC_REMOTE_LIST_MAX)
			cs = NULL;
		json_object_set_new(o, "children_state", mx_hc_children_of(cs, false));
	}
	return o;
}

json_t *mx_hierarchy_check_answer(const json_t *resp, const char *room_id)
{
	json_t *room = mx_hierarchy_check_entry(json_object_get(resp, "room"), true);
	if (!room || strcmp(mx_hc_str(room, "room_id"), room_id)) {
		json_decref(room);
		return NULL;
	}
	json_t *children = json_array(), *inaccessible = json_array();
	size_t i;
	const json_t *v;
	json_array_foreach (json_object_get(resp, "children"), i, v) {
		if (json_array_size(children) >= MX_HC_REMOTE_LIST_MAX)
			break;
		json_t *c = mx_hierarchy_check_entry(v, true);
		if (c)
			json_array_append_new(children, c);
	}
	json_array_foreach (json_object_get(resp, "inaccessible_children"), i, v) {
		if (json_array_size(inaccessible) >= MX_HC_REMOTE_LIST_MAX)
			break;
		if (json_is_string(v) && mx_id_room_valid(json_string_value(v), NULL))
			json_array_append(inaccessible, (json_t *)v);
	}
	return json_pack("{s:o, s:o, s:o}", "room", room, "children", children,
			 "inaccessible_children", inaccessible);
}

/* ---- our rooms ---- */

/* The content of a current state event (borrowed from a), or NULL. */
static const json_t *mx_hl_state(struct mx_hierarchy_local *l, struct mx_arena *a,
				 const char *room_id, const char *type)
{
	json_t *ev = NULL;
	if (mx_room_state_get(l->rooms, l->w, a, room_id, type, "", &ev, NULL) || !ev)
		return NULL;
	json_t *c = json_object_get(ev, "content");
	return json_is_object(c) ? c : NULL;
}

/* Whether server has a member whose membership is m in room_id. */
static bool mx_hl_server_member(struct mx_hierarchy_local *l, struct mx_arena *a,
				const char *room_id, const char *server, const char *m)
{
	const char **users;
	size_t n;
	if (mx_room_members(l->rooms, l->w, a, room_id, m, &users, &n))
		return false;
	for (size_t i = 0; i < n; i++)
		if (mx_hc_eq(mx_id_server(users[i]), server))
			return true;
	return false;
}

/* Whether the asker (user or server) is joined to room_id. */
static bool mx_hl_joined(struct mx_hierarchy_local *l, struct mx_arena *a, const char *room_id)
{
	if (l->user_id)
		return mx_hc_eq(mx_room_membership(l->rooms, l->w, a, room_id, l->user_id), "join");
	return l->origin && mx_hl_server_member(l, a, room_id, l->origin, "join");
}

/* SPEC: rooms/v8 restricted join rules: the rooms "allow" names. */
static json_t *mx_hl_allowed_rooms(const json_t *join_rules)
{
	json_t *ids = json_array();
	size_t i;
	const json_t *rule;
	json_array_foreach (json_object_get(join_rules, "allow"), i, rule) {
		const char *rid = mx_hc_str(rule, "room_id");
		if (mx_hc_eq(mx_hc_str(rule, "type"), "m.room_membership") && rid &&
		    mx_id_room_valid(rid, NULL))
			json_array_append_new(ids, json_string(rid));
	}
	return ids;
}

static bool mx_hl_restricted(const struct mx_room_version *v, const char *join_rule)
{
	return (v->restricted_join && mx_hc_eq(join_rule, "restricted")) ||
	       (v->knock_restricted && mx_hc_eq(join_rule, "knock_restricted"));
}

/* SPEC: the client API's rooms chunk, server-server-api#spaces (see hierarchy.h). */
static bool mx_hl_visible(struct mx_hierarchy_local *l, struct mx_arena *a, const char *room_id,
			  const struct mx_room_version *v)
{
	const json_t *create = mx_hl_state(l, a, room_id, "m.room.create");
	if (l->origin && json_is_false(json_object_get(create, "m.federate")))
		return false;
	const json_t *jr = mx_hl_state(l, a, room_id, "m.room.join_rules");
	const char *join_rule = mx_hc_str(jr, "join_rule");
	if (mx_hc_eq(join_rule, "public") || (v->knock && mx_hc_eq(join_rule, "knock")) ||
	    (v->knock_restricted && mx_hc_eq(join_rule, "knock_restricted")))
		return true;
	const json_t *hv = mx_hl_state(l, a, room_id, "m.room.history_visibility");
	if (mx_hc_eq(mx_hc_str(hv, "history_visibility"), "world_readable"))
		return true;
	if (l->user_id) {
		const char *m = mx_room_membership(l->rooms, l->w, a, room_id, l->user_id);
		if (mx_hc_eq(m, "join") || mx_hc_eq(m, "invite"))
			return true;
	} else if (l->origin) {
		if (mx_hl_server_member(l, a, room_id, l->origin, "join") ||
		    mx_hl_server_member(l, a, room_id, l->origin, "invite"))
			return true;
	}
	if (!mx_hl_restricted(v, join_rule))
		return false;
	json_t *allowed = mx_arena_json(a, mx_hl_allowed_rooms(jr));
	size_t i;
	json_t *rid;
	json_array_foreach (allowed, i, rid)
		if (mx_hl_joined(l, a, json_string_value(rid)))
			return true;
	return false;
}

static enum mx_hierarchy_where mx_hl_where(void *ctx, const char *room_id, const json_t *via)
{
	struct mx_hierarchy_local *l = ctx;
	struct mx_arena a;
	mx_arena_init(&a);
	enum mx_hierarchy_where where = MX_HIERARCHY_REMOTE;
	const char **users;
	size_t n;
	if (mx_room_members(l->rooms, l->w, &a, room_id, "join", &users, &n))
		goto out;
	/* A room one of ours is in is current here; one we only knew once is
	 * better asked of the servers in via, unless there are none. */
	for (size_t i = 0; i < n; i++)
		if (mx_hc_eq(mx_id_server(users[i]), l->server_name)) {
			where = MX_HIERARCHY_LOCAL;
			goto out;
		}
	where = MX_HIERARCHY_LOCAL;
	size_t i;
	const json_t *s;
	json_array_foreach (via, i, s)
		if (json_is_string(s) && !mx_hc_eq(json_string_value(s), l->server_name))
			where = MX_HIERARCHY_REMOTE;
out:
	mx_arena_release(&a);
	return where;
}

static int mx_hl_summary(void *ctx, struct mx_arena *a, const char *room_id, bool suggested_only,
			 bool full, json_t **entry)
{
	struct mx_hierarchy_local *l = ctx;
	*entry = NULL;
	const struct mx_room_version *v = mx_room_version_of(l->rooms, l->w, room_id);
	if (!v)
		return MX_ENOTFOUND;
	if (!mx_hl_visible(l, a, room_id, v))
		return MX_EFORBIDDEN;
	const json_t *create = mx_hl_state(l, a, room_id, "m.room.create");
	const char *type = mx_hc_str(create, "type");
	json_t *o;
	if (full) {
		int rc = mx_room_directory_chunk(l->rooms, l->w, a, room_id, &o);
		if (rc)
			return rc;
		const char *alg = mx_hc_str(mx_hl_state(l, a, room_id, "m.room.encryption"),
					    "algorithm");
		if (alg)
			json_object_set_new(o, "encryption", json_string(alg));
		json_object_set_new(o, "room_version", json_string(v->id));
		const json_t *jr = mx_hl_state(l, a, room_id, "m.room.join_rules");
		if (mx_hl_restricted(v, mx_hc_str(jr, "join_rule")))
			json_object_set_new(o, "allowed_room_ids", mx_hl_allowed_rooms(jr));
	} else {
		o = mx_arena_json(a, json_pack("{s:s}", "room_id", room_id));
		if (type)
			json_object_set_new(o, "room_type", json_string(type));
	}
	json_t *children;
	/* SPEC: children_state: "If the room is not a space-room, this should be empty." */
	if (mx_hc_eq(type, "m.space")) {
		json_t **events;
		size_t n;
		int rc = mx_room_state_list(l->rooms, l->w, a, room_id, "m.space.child", &events, &n);
		if (rc)
			return rc;
		children = mx_hierarchy_children_state(events, n, suggested_only);
	} else {
		children = json_array();
	}
	json_object_set_new(o, "children_state", children);
	*entry = o;
	return 0;
}

static bool mx_hl_remote_allowed(void *ctx, struct mx_arena *a, const char *room_id,
				 const json_t *allowed_room_ids)
{
	struct mx_hierarchy_local *l = ctx;
	if (!l->user_id)
		return false;
	size_t i;
	const json_t *rid;
	json_array_foreach (allowed_room_ids, i, rid)
		if (json_is_string(rid) && mx_hl_joined(l, a, json_string_value(rid)))
			return true;
	const char *m = mx_room_membership(l->rooms, l->w, a, room_id, l->user_id);
	return mx_hc_eq(m, "join") || mx_hc_eq(m, "invite");
}

void mx_hierarchy_source_local(struct mx_hierarchy_source *src, struct mx_hierarchy_local *l)
{
	src->ctx = l;
	src->where = mx_hl_where;
	src->summary = mx_hl_summary;
	src->remote_allowed = mx_hl_remote_allowed;
}

/* ---- the walk ---- */

struct mx_hw_entry {
	const char *room_id;
	const json_t *via;
	int depth;
	const json_t *remote;  /* its summary in its parent's federation answer, or NULL */
};

struct mx_hierarchy_walk {
	struct mx_arena *a;
	struct mx_hierarchy_source src;
	struct mx_hierarchy_params p;
	int max_depth;
	struct mx_hw_entry *stack;
	size_t n, cap;
	json_t *visited;   /* room id -> true */
	json_t *answers;   /* room id -> checked answer, or null: nobody could tell */
	json_t *rooms;     /* this page */
	uint64_t shown;    /* rooms shown since the first page, this one's included */
	bool skipping;     /* still on rooms earlier pages showed */
	size_t visits;
	const char *wanted_ids[MX_HIERARCHY_FETCH_BATCH];
	const json_t *wanted_via[MX_HIERARCHY_FETCH_BATCH];
	size_t n_wanted;
};

static void mx_hw_push(struct mx_hierarchy_walk *wk, const char *room_id, const json_t *via,
		       int depth, const json_t *remote)
{
	if (wk->n == wk->cap) {
		size_t cap = wk->cap ? wk->cap * 2 : 32;
		struct mx_hw_entry *nv = mx_arena_alloc(wk->a, cap * sizeof(*nv));
		if (wk->n)
			memcpy(nv, wk->stack, wk->n * sizeof(*nv));
		wk->stack = nv;
		wk->cap = cap;
	}
	wk->stack[wk->n++] = (struct mx_hw_entry){room_id, via, depth, remote};
}

struct mx_hierarchy_walk *mx_hierarchy_walk_new(struct mx_arena *a,
						const struct mx_hierarchy_source *src,
						const struct mx_hierarchy_params *p)
{
	struct mx_hierarchy_walk *wk = mx_arena_alloc(a, sizeof(*wk));
	wk->a = a;
	wk->src = *src;
	wk->p = *p;
	wk->p.root = mx_arena_strdup(a, p->root);
	wk->max_depth = p->max_depth < 0 || p->max_depth > MX_HIERARCHY_MAX_DEPTH
				? MX_HIERARCHY_MAX_DEPTH
				: p->max_depth;
	if (wk->p.limit <= 0 || wk->p.limit > MX_HIERARCHY_LIMIT)
		wk->p.limit = MX_HIERARCHY_LIMIT;
	if (p->from) {
		struct mx_hierarchy_token *t = mx_arena_alloc(a, sizeof(*t));
		t->shown = p->from->shown;
		t->last = mx_arena_strdup(a, p->from->last);
		wk->p.from = t;
		wk->skipping = t->shown > 0;
	}
	wk->visited = mx_arena_json(a, json_object());
	wk->answers = mx_arena_json(a, json_object());
	wk->rooms = mx_arena_json(a, json_array());
	mx_hw_push(wk, wk->p.root, mx_arena_json(a, json_array()), 0, NULL);
	return wk;
}

static bool mx_hw_visited(struct mx_hierarchy_walk *wk, const char *room_id)
{
	return json_object_get(wk->visited, room_id) != NULL;
}

/* A summary another server gave that the asker may see. */
static bool mx_hw_remote_visible(struct mx_hierarchy_walk *wk, const json_t *entry)
{
	const char *jr = mx_hc_str(entry, "join_rule");
	/* As Synapse: the room version's support for knocking is the remote's
	 * business; it only lists rooms it would let us knock on. */
	if (mx_hc_eq(jr, "public") || mx_hc_eq(jr, "knock") || mx_hc_eq(jr, "knock_restricted") ||
	    json_is_true(json_object_get(entry, "world_readable")))
		return true;
	return wk->src.remote_allowed(wk->src.ctx, wk->a, mx_hc_str(entry, "room_id"),
				      json_object_get(entry, "allowed_room_ids"));
}

/* Whether a remote summary is all the walk needs (no children to follow). */
static bool mx_hw_summary_enough(struct mx_hierarchy_walk *wk, const json_t *remote, int depth)
{
	return remote && (!mx_hc_eq(mx_hc_str(remote, "room_type"), "m.space") ||
			  depth >= wk->max_depth);
}

/* Whether the stack entry e waits for another server's answer. */
static bool mx_hw_needs_answer(struct mx_hierarchy_walk *wk, const struct mx_hw_entry *e)
{
	return !mx_hw_visited(wk, e->room_id) && !json_object_get(wk->answers, e->room_id) &&
	       !mx_hw_summary_enough(wk, e->remote, e->depth) &&
	       wk->src.where(wk->src.ctx, e->room_id, e->via) == MX_HIERARCHY_REMOTE;
}

/* Collect the top entry and a few more below it that will need answers. */
static void mx_hw_collect_wanted(struct mx_hierarchy_walk *wk)
{
	wk->n_wanted = 0;
	size_t looked = 0;
	for (size_t i = wk->n; i-- > 0 && wk->n_wanted < MX_HIERARCHY_FETCH_BATCH &&
			       looked < 4 * MX_HIERARCHY_FETCH_BATCH;) {
		const struct mx_hw_entry *e = &wk->stack[i];
		looked++;
		if (i != wk->n - 1 && !mx_hw_needs_answer(wk, e))
			continue;
		bool dup = false;
		for (size_t j = 0; j < wk->n_wanted && !dup; j++)
			dup = !strcmp(wk->wanted_ids[j], e->room_id);
		if (dup)
			continue;
		wk->wanted_ids[wk->n_wanted] = e->room_id;
		wk->wanted_via[wk->n_wanted] = e->via;
		wk->n_wanted++;
	}
}

/* Count a room the asker may see: on this page, or skipped as shown before. */
static void mx_hw_show(struct mx_hierarchy_walk *wk, json_t *entry)
{
	wk->shown++;
	if (wk->skipping) {
		if (wk->shown >= wk->p.from->shown ||
		    mx_hc_eq(mx_hc_str(entry, "room_id"), wk->p.from->last))
			wk->skipping = false;
		return;
	}
	if (!json_is_array(json_object_get(entry, "children_state")))
		json_object_set_new(entry, "children_state", json_array());
	json_array_append(wk->rooms, entry);
}

/* Push the children of a room shown, the first to visit last (on top). */
static void mx_hw_push_children(struct mx_hierarchy_walk *wk, const json_t *entry, int depth,
				const json_t *answer)
{
	const json_t *cs = json_object_get(entry, "children_state");
	const json_t *inaccessible = json_object_get(answer, "inaccessible_children");
	const json_t *children = json_object_get(answer, "children");
	for (size_t i = json_array_size(cs); i-- > 0;) {
		const json_t *ev = json_array_get(cs, i);
		const char *child = mx_hc_str(ev, "state_key");
		if (mx_hw_visited(wk, child))
			continue;
		/* SPEC: inaccessible_children "should not be re-requested". */
		bool skip = false;
		size_t j;
		const json_t *v;
		json_array_foreach (inaccessible, j, v)
			skip = skip || mx_hc_eq(json_string_value(v), child);
		if (skip)
			continue;
		const json_t *remote = NULL;
		json_array_foreach (children, j, v)
			if (mx_hc_eq(mx_hc_str(v, "room_id"), child))
				remote = v;
		mx_hw_push(wk, child, json_object_get(json_object_get(ev, "content"), "via"),
			   depth + 1, remote);
	}
}

/*
 * After a full page: drop from the top of the stack the rooms the next
 * page would pass over (seen already, or ours and hidden), so that a
 * page ending the tree has no next_batch leading to an empty one.
 */
static int mx_hw_trim(struct mx_hierarchy_walk *wk)
{
	while (wk->n) {
		const struct mx_hw_entry *e = &wk->stack[wk->n - 1];
		if (!mx_hw_visited(wk, e->room_id)) {
			if (wk->src.where(wk->src.ctx, e->room_id, e->via) != MX_HIERARCHY_LOCAL)
				break;
			json_t *entry;
			int rc = wk->src.summary(wk->src.ctx, wk->a, e->room_id, wk->p.suggested_only,
						 false, &entry);
			if (!rc)
				break;
			if (rc != MX_EFORBIDDEN && rc != MX_ENOTFOUND)
				return rc;
			json_object_set_new(wk->visited, e->room_id, json_true());
		}
		wk->n--;
	}
	return 0;
}

int mx_hierarchy_walk_run(struct mx_hierarchy_walk *wk)
{
	wk->n_wanted = 0;
	while (wk->n && json_array_size(wk->rooms) < (size_t)wk->p.limit) {
		if (wk->visits >= MX_HIERARCHY_MAX_VISITS) {
			mx_log_warn("hierarchy of %s: more than %d rooms, stopping there", wk->p.root,
				    MX_HIERARCHY_MAX_VISITS);
			wk->n = 0;
			break;
		}
		struct mx_hw_entry e = wk->stack[wk->n - 1];
		if (mx_hw_visited(wk, e.room_id)) {
			wk->n--;
			continue;
		}
		json_t *entry = NULL;
		const json_t *answer = NULL;
		if (wk->src.where(wk->src.ctx, e.room_id, e.via) == MX_HIERARCHY_LOCAL) {
			int rc = wk->src.summary(wk->src.ctx, wk->a, e.room_id, wk->p.suggested_only,
						 !wk->skipping, &entry);
			if (rc && rc != MX_EFORBIDDEN && rc != MX_ENOTFOUND)
				return rc;
		} else {
			const json_t *remote = NULL;
			if (mx_hw_summary_enough(wk, e.remote, e.depth)) {
				remote = e.remote;
			} else if ((answer = json_object_get(wk->answers, e.room_id))) {
				remote = json_object_get(answer, "room");
			} else {
				mx_hw_collect_wanted(wk);
				return 1;
			}
			if (remote && mx_hw_remote_visible(wk, remote)) {
				entry = mx_arena_json(wk->a, json_deep_copy(remote));
				json_t *cs = json_object_get(entry, "children_state");
				if (cs)
					json_object_set_new(entry, "children_state",
							    mx_hc_children_of(cs, wk->p.suggested_only));
			}
		}
		wk->n--;
		wk->visits++;
		json_object_set_new(wk->visited, e.room_id, json_true());
		if (!entry)
			continue;
		mx_hw_show(wk, entry);
		if (e.depth < wk->max_depth)
			mx_hw_push_children(wk, entry, e.depth, answer);
	}
	return mx_hw_trim(wk);
}

size_t mx_hierarchy_walk_wanted(struct mx_hierarchy_walk *wk, const char *const **room_ids,
				const json_t *const **vias)
{
	*room_ids = wk->wanted_ids;
	*vias = wk->wanted_via;
	return wk->n_wanted;
}

void mx_hierarchy_walk_supply(struct mx_hierarchy_walk *wk, const char *room_id,
			      const json_t *answer)
{
	/* The stack borrows from answers given: never replace one. */
	if (json_object_get(wk->answers, room_id))
		return;
	json_object_set_new(wk->answers, room_id, answer ? json_deep_copy(answer) : json_null());
}

json_t *mx_hierarchy_walk_result(struct mx_hierarchy_walk *wk)
{
	json_t *out = json_pack("{s:O}", "rooms", wk->rooms);
	size_t n = json_array_size(wk->rooms);
	if (wk->n && n) {
		const char *last = mx_hc_str(json_array_get(wk->rooms, n - 1), "room_id");
		json_object_set_new(out, "next_batch",
				    json_string(mx_hierarchy_token_make(wk->a, wk->p.params_hash,
									wk->shown, last)));
	}
	return out;
}

/* ---- the federation answer ---- */

int mx_hierarchy_answer(const struct mx_hierarchy_source *src, struct mx_arena *a,
			const char *room_id, bool suggested_only, json_t **out)
{
	*out = NULL;
	json_t *room;
	int rc = src->summary(src->ctx, a, room_id, suggested_only, true, &room);
	if (rc == MX_EFORBIDDEN || rc == MX_ENOTFOUND)
		return MX_ENOTFOUND;
	if (rc)
		return rc;
	json_t *children = json_array(), *inaccessible = json_array();
	const json_t *cs = json_object_get(room, "children_state");
	for (size_t i = 0; i < json_array_size(cs) && i < MX_HIERARCHY_FED_CHILDREN; i++) {
		const json_t *ev = json_array_get(cs, i);
		const char *child = mx_hc_str(ev, "state_key");
		const json_t *via = json_object_get(json_object_get(ev, "content"), "via");
		/* As Synapse: rooms we cannot describe are left for the asker to
		 * ask their other servers about. */
		if (!strcmp(child, room_id) ||
		    src->where(src->ctx, child, via) != MX_HIERARCHY_LOCAL)
			continue;
		json_t *entry;
		rc = src->summary(src->ctx, a, child, suggested_only, true, &entry);
		if (rc == MX_EFORBIDDEN) {
			json_array_append_new(inaccessible, json_string(child));
		} else if (!rc) {
			/* SPEC: SpaceHierarchyChildRoomsChunk: a summary, no children. */
			json_t *c = json_copy(entry);
			json_object_del(c, "children_state");
			json_array_append_new(children, c);
		} else if (rc != MX_ENOTFOUND) {
			json_decref(children);
			json_decref(inaccessible);
			return rc;
		}
	}
	*out = json_pack("{s:O, s:o, s:o}", "room", room, "children", children,
			 "inaccessible_children", inaccessible);
	return 0;
}
