/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Simplified sliding sync (MSC4186), the sync Element X speaks:
 * POST /_matrix/client/unstable/org.matrix.simplified_msc3575/sync.
 *
 * Stateless: the server keeps nothing per connection. The `pos` token is a
 * /sync token (sync_internal.h) followed by what the connection had asked
 * for when it was issued: "~L<hash>.<lo>.<hi>..." per list (the hash of its
 * name, then its ranges) and "~R<hash>" per room subscription. From that
 * and each room's latest event at the old position, the room lists as they
 * were at `pos` are rebuilt, which tells whether a room was sent before (so
 * it only gets what changed) or enters the window now (so it is sent in full
 * with "initial": true). Both the request formats of the MSC and of
 * Synapse's implementation (which Element X sends: `ranges`, `required_state`
 * as [type, state_key] pairs with "*", "$LAZY", "$ME", `is_invite`) are read.
 * SPEC: MSC4186 (proposals/4186-simplified-sliding-sync.md)
 *
 * An empty answer to a request with `pos` parks on the notifier as /sync
 * does (sync.c), until something for the user happens or `timeout` passes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/ignore.h"
#include "core/clock.h"
#include "core/error.h"
#include "http/request.h"
#include "push/push.h"
#include "room/room.h"
#include "store/account_data.h"
#include "store/rooms.h"
#include "sync/e2ee.h"
#include "sync/ephemeral.h"
#include "sync/notifier.h"
#include "sync/presence.h"
#include "sync/sync_internal.h"

#define MX_SL_MAX_LISTS 100   /* SPEC: MSC4186 "Max lists: 100" */
#define MX_SL_MAX_SUBS 100    /* SPEC: MSC4186 "Max subscriptions: 100" */
#define MX_SL_MAX_RANGES 16
#define MX_SL_MAX_TIMELINE 1000
#define MX_SL_MAX_TIMEOUT_MS (5 * 60 * 1000)
#define MX_SL_MAX_POS 16384

/* One room the user has a membership in, as the lists see it. */
struct mx_sl_room {
	const char *room_id, *membership;
	const char *member_event_id; /* invites and knocks: for stripped state */
	int64_t mem_nid;             /* the user's membership event */
	int64_t stamp;               /* latest event now: ordering and bump_stamp */
	int64_t stamp_then;          /* the same at `pos`; -1: not in the lists then */
	bool changed;                /* events or membership since `pos` */
	bool dm;
	bool sent_before;            /* in a window (or subscribed) at `pos` */
	bool matched;
	int timeline_limit;
	json_t *configs;             /* normalised room configs that matched (arena) */
	json_t *lists;               /* names of the lists it is in (arena) */
};

struct mx_sliding {
	struct mx_sync s;            /* since/now, timeline helpers */
	bool has_pos;
	const char *pos_tail;        /* "~L..~R.." of the old pos ("" if none) */
	struct mx_sl_room *rooms;
	size_t n;
	json_t *body;
	char *tail;                  /* the new pos's tail (arena) */
	size_t tail_len, tail_cap;
};

/* Kept across a park and resume of one request. */
struct mx_sl_wait {
	int64_t deadline_ms;
};

static uint32_t mx_sl_hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

static void mx_sl_tail_add(struct mx_sliding *sl, const char *piece)
{
	size_t len = strlen(piece);
	if (sl->tail_len + len + 1 > sl->tail_cap) {
		size_t cap = (sl->tail_len + len + 1) * 2;
		char *t = mx_arena_alloc(&sl->s.req->arena, cap);
		if (sl->tail_len)
			memcpy(t, sl->tail, sl->tail_len);
		sl->tail = t;
		sl->tail_cap = cap;
	}
	memcpy(sl->tail + sl->tail_len, piece, len + 1);
	sl->tail_len += len;
}

/*
 * Whether the old pos says list `name` covered index idx (ranges parsed
 * from "~L<hash>.<lo>.<hi>[.<lo>.<hi>...]"); lists without ranges cover all.
 */
static bool mx_sl_was_covered(struct mx_sliding *sl, const char *name, size_t idx)
{
	char tag[16];
	snprintf(tag, sizeof(tag), "~L%08" PRIx32, mx_sl_hash(name));
	const char *p = strstr(sl->pos_tail, tag);
	if (!p)
		return false;
	p += strlen(tag);
	if (*p != '.')
		return true; /* no ranges: the whole list */
	while (*p == '.') {
		char *end;
		long long lo = strtoll(p + 1, &end, 10);
		if (*end != '.')
			return false;
		long long hi = strtoll(end + 1, &end, 10);
		if ((long long)idx >= lo && (long long)idx <= hi)
			return true;
		p = end;
	}
	return false;
}

static bool mx_sl_was_subscribed(struct mx_sliding *sl, const char *room_id)
{
	char tag[16];
	snprintf(tag, sizeof(tag), "~R%08" PRIx32, mx_sl_hash(room_id));
	const char *p = strstr(sl->pos_tail, tag);
	return p && (p[10] == '\0' || p[10] == '~');
}

/* ---- the request ---- */

static bool mx_sl_is_int(const json_t *v, json_int_t lo, json_int_t hi)
{
	return json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi;
}

/* One include/exclude element: [type|null, state_key|null] (null: any). */
static json_t *mx_sl_elem(struct mx_sliding *sl, const char *type, const char *key)
{
	if (type && !strcmp(type, "*"))
		type = NULL;
	if (key && !strcmp(key, "*"))
		key = NULL;
	if (key && !strcmp(key, "$ME"))
		key = sl->s.user;
	return json_pack("[s?, s?]", type, key);
}

/*
 * A room config ({timeline_limit, required_state}) normalised to
 * {"limit": n, "i": [elems], "x": [elems], "lazy": bool}, or NULL with
 * *why set.
 */
static json_t *mx_sl_config(struct mx_sliding *sl, const json_t *cfg, const char **why)
{
	const json_t *tl = json_object_get(cfg, "timeline_limit");
	const json_t *rs = json_object_get(cfg, "required_state");
	if (tl && !mx_sl_is_int(tl, 0, INT32_MAX)) {
		*why = "timeline_limit must be a non-negative integer";
		return NULL;
	}
	json_int_t limit = tl ? json_integer_value(tl) : 0;
	if (limit > MX_SL_MAX_TIMELINE)
		limit = MX_SL_MAX_TIMELINE;
	json_t *inc = json_array(), *exc = json_array();
	bool lazy = false;
	json_t *out = mx_arena_json(&sl->s.req->arena, json_pack("{s:I, s:o, s:o}", "limit", limit,
								    "i", inc, "x", exc));
	size_t i;
	json_t *e;
	if (json_is_array(rs)) {
		/* Synapse's form: [[type, state_key], ...] with "*", "$LAZY", "$ME". */
		json_array_foreach (rs, i, e) {
			const char *t = json_string_value(json_array_get(e, 0));
			const char *k = json_string_value(json_array_get(e, 1));
			if (!json_is_array(e) || json_array_size(e) != 2 || !t || !k) {
				*why = "required_state entries must be [type, state_key]";
				return NULL;
			}
			if (!strcmp(k, "$LAZY") && !strcmp(t, "m.room.member"))
				lazy = true;
			else
				json_array_append_new(inc, mx_sl_elem(sl, t, k));
		}
	} else if (json_is_object(rs)) {
		/* The MSC's form: {include, exclude, lazy_members}. */
		const char *names[] = {"include", "exclude"};
		for (int w = 0; w < 2; w++) {
			const json_t *list = json_object_get(rs, names[w]);
			if (list && !json_is_array(list)) {
				*why = "required_state.include/exclude must be arrays";
				return NULL;
			}
			json_array_foreach (list, i, e) {
				const json_t *t = json_object_get(e, "type"), *k = json_object_get(e, "state_key");
				if (!json_is_object(e) || (t && !json_is_string(t)) || (k && !json_is_string(k))) {
					*why = "required_state elements are {type?, state_key?}";
					return NULL;
				}
				json_array_append_new(w ? exc : inc, json_pack("[s?, s?]", json_string_value(t),
									     k && !strcmp(json_string_value(k), "$ME")
										     ? sl->s.user
										     : json_string_value(k)));
			}
		}
		const json_t *lm = json_object_get(rs, "lazy_members");
		if (lm && !json_is_boolean(lm)) {
			*why = "lazy_members must be a boolean";
			return NULL;
		}
		lazy = json_is_true(lm);
	} else if (rs) {
		*why = "required_state must be an array or an object";
		return NULL;
	}
	json_object_set_new(out, "lazy", json_boolean(lazy));
	return out;
}

static bool mx_sl_elem_matches(const json_t *elems, const char *type, const char *key)
{
	size_t i;
	json_t *e;
	json_array_foreach (elems, i, e) {
		const char *t = json_string_value(json_array_get(e, 0));
		const char *k = json_string_value(json_array_get(e, 1));
		if ((!t || !strcmp(t, type)) && (!k || !strcmp(k, key)))
			return true;
	}
	return false;
}

/* Whether a room's combined config returns state (type, key). */
static bool mx_sl_state_wanted(const json_t *configs, const char *type, const char *key,
			       const json_t *lazy_users)
{
	size_t i;
	json_t *c;
	json_array_foreach (configs, i, c) {
		/* SPEC: MSC4186 lazy memberships are not filtered by exclude. */
		if (json_is_true(json_object_get(c, "lazy")) && !strcmp(type, "m.room.member") &&
		    json_object_get(lazy_users, key))
			return true;
		if (mx_sl_elem_matches(json_object_get(c, "i"), type, key) &&
		    !mx_sl_elem_matches(json_object_get(c, "x"), type, key))
			return true;
	}
	return false;
}

/* ---- the room universe ---- */

struct mx_sl_latest {
	int64_t nid;
};

static int mx_sl_latest_cb(void *ctx, const struct mx_store_event *ev)
{
	struct mx_sl_latest *l = ctx;
	l->nid = ev->nid;
	return 1;
}

static int64_t mx_sl_latest(struct mx_sliding *sl, const char *room_id, int64_t hi)
{
	struct mx_sl_latest l = {0};
	mx_store_room_events(sl->s.req->w->rconn, &sl->s.req->arena, room_id, hi, 0, true, 1,
			     mx_sl_latest_cb, &l);
	return l.nid;
}

struct mx_sl_direct {
	json_t *rooms; /* room_id -> true */
};

static int mx_sl_direct_cb(void *ctx, const char *room_id, const char *type, const char *content,
			   int64_t stream_id)
{
	(void)stream_id;
	struct mx_sl_direct *d = ctx;
	if (room_id[0] || strcmp(type, "m.direct") != 0)
		return 0;
	json_t *v = json_loads(content, 0, NULL);
	const char *k;
	json_t *ids;
	json_object_foreach (v, k, ids) {
		size_t i;
		json_t *id;
		json_array_foreach (ids, i, id)
			if (json_is_string(id))
				json_object_set_new(d->rooms, json_string_value(id), json_true());
	}
	json_decref(v);
	return 0;
}

/*
 * The rooms of the lists (SPEC: MSC4186 "Lists"): joined, invited,
 * knocked, and banned or kicked ones; rooms the user left are not listed.
 */
static int mx_sl_load_rooms(struct mx_sliding *sl)
{
	struct mx_req *req = sl->s.req;
	struct mx_store_user_room *ur;
	size_t n;
	int rc = mx_store_user_rooms(req->w->rconn, &req->arena, sl->s.user, NULL, &ur, &n);
	if (rc)
		return rc;
	struct mx_sl_direct d = {mx_arena_json(&req->arena, json_object())};
	mx_store_account_data_since(req->w->rconn, sl->s.user, 0, mx_sl_direct_cb, &d);
	sl->rooms = mx_arena_alloc(&req->arena, (n ? n : 1) * sizeof(*sl->rooms));
	sl->n = 0;
	int64_t since = sl->s.since.pos[MX_SYNC_EVENTS], now = sl->s.now.pos[MX_SYNC_EVENTS];
	for (size_t i = 0; i < n; i++) {
		const char *m = ur[i].membership;
		bool join = !strcmp(m, "join");
		struct mx_store_event mev = {0};
		if (!join) {
			if (mx_store_room_state_get(req->w->rconn, &req->arena, ur[i].room_id, "m.room.member",
						    sl->s.user, &mev))
				continue;
			if (!strcmp(m, "invite") && mx_ignored(req, mev.sender))
				continue;
			if (!strcmp(m, "leave") && !strcmp(mev.sender, sl->s.user))
				continue; /* left by themselves: not listed */
			if ((!strcmp(m, "leave") || !strcmp(m, "ban")) &&
			    mx_store_room_forgotten(req->w->rconn, sl->s.user, ur[i].room_id))
				continue;
		}
		struct mx_sl_room *r = &sl->rooms[sl->n++];
		memset(r, 0, sizeof(*r));
		r->room_id = ur[i].room_id;
		r->membership = m;
		r->member_event_id = mev.event_id;
		r->mem_nid = ur[i].nid;
		r->dm = json_object_get(d.rooms, r->room_id) != NULL;
		r->stamp = join ? mx_sl_latest(sl, r->room_id, now) : ur[i].nid;
		if (!r->stamp)
			r->stamp = ur[i].nid;
		r->stamp_then = -1;
		if (sl->has_pos) {
			r->changed = r->mem_nid > since || (join && r->stamp > since);
			if (r->mem_nid <= since)
				r->stamp_then = !join || r->stamp <= since ? r->stamp : mx_sl_latest(sl, r->room_id, since);
		}
		r->configs = mx_arena_json(&req->arena, json_array());
		r->lists = mx_arena_json(&req->arena, json_array());
	}
	return 0;
}

static const char *mx_sl_create_type(struct mx_sliding *sl, const char *room_id)
{
	struct mx_req *req = sl->s.req;
	json_t *ev = NULL;
	mx_room_state_get(req->srv->rooms, req->w, &req->arena, room_id, "m.room.create", "", &ev, NULL);
	return json_string_value(json_object_get(json_object_get(ev, "content"), "type"));
}

static bool mx_sl_type_in(const json_t *types, const char *type)
{
	size_t i;
	json_t *t;
	json_array_foreach (types, i, t)
		if (json_is_null(t) ? !type : (type && json_is_string(t) && !strcmp(json_string_value(t), type)))
			return true;
	return false;
}

/* SPEC: MSC4186 SlidingRoomFilter (is_dm, is_invited, is_encrypted, room_types, not_room_types). */
static bool mx_sl_filter_ok(struct mx_sliding *sl, const json_t *f, const struct mx_sl_room *r)
{
	const json_t *v = json_object_get(f, "is_dm");
	if (json_is_boolean(v) && json_is_true(v) != r->dm)
		return false;
	v = json_object_get(f, "is_invited");
	if (!v)
		v = json_object_get(f, "is_invite");
	if (json_is_boolean(v) && json_is_true(v) != !strcmp(r->membership, "invite"))
		return false;
	v = json_object_get(f, "is_encrypted");
	if (json_is_boolean(v)) {
		struct mx_req *req = sl->s.req;
		json_t *ev = NULL;
		mx_room_state_get(req->srv->rooms, req->w, &req->arena, r->room_id, "m.room.encryption", "",
				  &ev, NULL);
		if (json_is_true(v) != (ev != NULL))
			return false;
	}
	const json_t *rt = json_object_get(f, "room_types"), *nrt = json_object_get(f, "not_room_types");
	if (json_is_array(rt) || json_is_array(nrt)) {
		const char *type = mx_sl_create_type(sl, r->room_id);
		if (mx_sl_type_in(nrt, type))
			return false;
		if (json_is_array(rt) && !mx_sl_type_in(rt, type))
			return false;
	}
	return true;
}

static int mx_sl_cmp_now(const void *a, const void *b)
{
	const struct mx_sl_room *x = *(struct mx_sl_room *const *)a, *y = *(struct mx_sl_room *const *)b;
	if (x->stamp != y->stamp)
		return x->stamp > y->stamp ? -1 : 1;
	return strcmp(x->room_id, y->room_id);
}

static int mx_sl_cmp_then(const void *a, const void *b)
{
	const struct mx_sl_room *x = *(struct mx_sl_room *const *)a, *y = *(struct mx_sl_room *const *)b;
	if (x->stamp_then != y->stamp_then)
		return x->stamp_then > y->stamp_then ? -1 : 1;
	return strcmp(x->room_id, y->room_id);
}

static void mx_sl_match(struct mx_sl_room *r, json_t *cfg, const char *list)
{
	r->matched = true;
	json_array_append(r->configs, cfg);
	int limit = (int)json_integer_value(json_object_get(cfg, "limit"));
	if (limit > r->timeline_limit)
		r->timeline_limit = limit;
	if (list)
		json_array_append_new(r->lists, json_string(list));
}

/* Parse [lo, hi] into *lo, *hi; false if malformed. */
static bool mx_sl_range(const json_t *v, json_int_t *lo, json_int_t *hi)
{
	if (!json_is_array(v) || json_array_size(v) != 2 || !mx_sl_is_int(json_array_get(v, 0), 0, INT32_MAX) ||
	    !mx_sl_is_int(json_array_get(v, 1), 0, INT32_MAX))
		return false;
	*lo = json_integer_value(json_array_get(v, 0));
	*hi = json_integer_value(json_array_get(v, 1));
	return *lo <= *hi;
}

/* Apply the lists: match rooms, fill out_lists with counts, extend the pos tail. */
static int mx_sl_lists(struct mx_sliding *sl, json_t *out_lists, const char **why)
{
	const json_t *lists = json_object_get(sl->body, "lists");
	if (lists && !json_is_object(lists)) {
		*why = "lists must be an object";
		return MX_EBADJSON;
	}
	if (json_object_size(lists) > MX_SL_MAX_LISTS) {
		*why = "too many lists";
		return MX_EINVALIDPARAM;
	}
	struct mx_req *req = sl->s.req;
	struct mx_sl_room **now = mx_arena_alloc(&req->arena, (sl->n ? sl->n : 1) * sizeof(*now));
	struct mx_sl_room **then = mx_arena_alloc(&req->arena, (sl->n ? sl->n : 1) * sizeof(*then));
	const char *name;
	json_t *l;
	json_object_foreach ((json_t *)lists, name, l) {
		if (!json_is_object(l)) {
			*why = "each list must be an object";
			return MX_EBADJSON;
		}
		json_t *cfg = mx_sl_config(sl, l, why);
		if (!cfg)
			return MX_EBADJSON;
		/* "ranges": [[lo, hi], ...] (Synapse) or "range": [lo, hi] (MSC). */
		json_t *ranges = json_object_get(l, "ranges");
		const json_t *range = json_object_get(l, "range");
		if (range) {
			ranges = mx_arena_json(&req->arena, json_array());
			json_array_append(ranges, (json_t *)range);
		}
		if (ranges && (!json_is_array(ranges) || json_array_size(ranges) > MX_SL_MAX_RANGES)) {
			*why = "ranges must be an array of at most 16 [start, end] pairs";
			return MX_EBADJSON;
		}
		const json_t *filters = json_object_get(l, "filters");
		if (filters && !json_is_object(filters)) {
			*why = "filters must be an object";
			return MX_EBADJSON;
		}
		char piece[64];
		snprintf(piece, sizeof(piece), "~L%08" PRIx32, mx_sl_hash(name));
		mx_sl_tail_add(sl, piece);
		size_t i;
		json_t *rg;
		json_array_foreach (ranges, i, rg) {
			json_int_t lo, hi;
			if (!mx_sl_range(rg, &lo, &hi)) {
				*why = "a range must be [start, end] with 0 <= start <= end";
				return MX_EBADJSON;
			}
			snprintf(piece, sizeof(piece), ".%" JSON_INTEGER_FORMAT ".%" JSON_INTEGER_FORMAT, lo, hi);
			mx_sl_tail_add(sl, piece);
		}
		size_t nn = 0, nt = 0;
		for (size_t k = 0; k < sl->n; k++) {
			if (!mx_sl_filter_ok(sl, filters, &sl->rooms[k]))
				continue;
			now[nn++] = &sl->rooms[k];
			if (sl->rooms[k].stamp_then >= 0)
				then[nt++] = &sl->rooms[k];
		}
		qsort(now, nn, sizeof(*now), mx_sl_cmp_now);
		json_object_set_new(out_lists, name, json_pack("{s:I}", "count", (json_int_t)nn));
		for (size_t k = 0; k < nn; k++) {
			bool in = !ranges;
			json_array_foreach (ranges, i, rg) {
				json_int_t lo, hi;
				mx_sl_range(rg, &lo, &hi);
				if ((json_int_t)k >= lo && (json_int_t)k <= hi)
					in = true;
			}
			if (in)
				mx_sl_match(now[k], cfg, name);
		}
		if (!sl->has_pos)
			continue;
		/* The list as it was at pos: which of its rooms the client has. */
		qsort(then, nt, sizeof(*then), mx_sl_cmp_then);
		for (size_t k = 0; k < nt; k++)
			if (then[k]->matched && mx_sl_was_covered(sl, name, k))
				then[k]->sent_before = true;
	}
	return 0;
}

static int mx_sl_subscriptions(struct mx_sliding *sl, const char **why)
{
	const json_t *subs = json_object_get(sl->body, "room_subscriptions");
	if (subs && !json_is_object(subs)) {
		*why = "room_subscriptions must be an object";
		return MX_EBADJSON;
	}
	if (json_object_size(subs) > MX_SL_MAX_SUBS) {
		*why = "too many room_subscriptions";
		return MX_EINVALIDPARAM;
	}
	const char *room_id;
	json_t *sub;
	json_object_foreach ((json_t *)subs, room_id, sub) {
		if (!json_is_object(sub)) {
			*why = "each room subscription must be an object";
			return MX_EBADJSON;
		}
		json_t *cfg = mx_sl_config(sl, sub, why);
		if (!cfg)
			return MX_EBADJSON;
		char piece[16];
		snprintf(piece, sizeof(piece), "~R%08" PRIx32, mx_sl_hash(room_id));
		mx_sl_tail_add(sl, piece);
		/* SPEC: MSC4186 rooms the user may not see are ignored. */
		for (size_t k = 0; k < sl->n; k++) {
			struct mx_sl_room *r = &sl->rooms[k];
			if (strcmp(r->room_id, room_id) != 0)
				continue;
			mx_sl_match(r, cfg, NULL);
			if (sl->has_pos && r->stamp_then >= 0 && mx_sl_was_subscribed(sl, room_id))
				r->sent_before = true;
		}
	}
	return 0;
}

/* ---- one room's result ---- */

static json_t *mx_sl_content_str(json_t *state, const char *key, const char *field)
{
	json_t *ev = json_object_get(state, key);
	if (!ev)
		return NULL;
	const char *v = json_string_value(json_object_get(json_object_get(ev, "content"), field));
	return v && v[0] ? json_string(v) : json_null();
}

static int mx_sl_room_result(struct mx_sliding *sl, struct mx_sl_room *r, json_t *rooms)
{
	struct mx_sync *s = &sl->s;
	struct mx_req *req = s->req;
	bool initial = !r->sent_before;
	int64_t since = s->since.pos[MX_SYNC_EVENTS], now = s->now.pos[MX_SYNC_EVENTS];
	json_t *res = json_pack("{s:s, s:I}", "membership", r->membership, "bump_stamp", (json_int_t)r->stamp);
	json_object_set_new(rooms, r->room_id, res);
	if (initial)
		json_object_set_new(res, "initial", json_true());
	if (json_array_size(r->lists))
		json_object_set(res, "lists", r->lists);
	if (r->dm && initial)
		json_object_set_new(res, "is_dm", json_true());
	bool join = !strcmp(r->membership, "join");
	if (!strcmp(r->membership, "invite") || !strcmp(r->membership, "knock")) {
		/* SPEC: MSC4186 stripped_state (Synapse and Element X: invite_state). */
		json_t *st = mx_sync_stripped(s, r->room_id, r->member_event_id);
		json_object_set(res, "stripped_state", st);
		json_object_set_new(res, "invite_state", st);
		return 0;
	}
	/* Joined, or kicked/banned: the timeline up to the membership. */
	int64_t hi = join ? now : r->mem_nid;
	s->timeline_limit = r->timeline_limit;
	struct mx_timeline t;
	int rc = mx_sync_timeline(s, r->room_id, initial ? 0 : since, hi, join, &t);
	if (rc)
		return rc;
	size_t n = json_array_size(t.events);
	size_t live = n;
	if (!sl->has_pos)
		live = 0;
	else if (initial) {
		struct mx_timeline lt;
		rc = mx_sync_timeline(s, r->room_id, since, hi, join, &lt);
		if (rc)
			return rc;
		if (json_array_size(lt.events) < live)
			live = json_array_size(lt.events);
	}
	json_object_set(res, "timeline", t.events);
	json_object_set_new(res, "limited", json_boolean(t.more));
	json_object_set_new(res, "num_live", json_integer((json_int_t)live));
	json_object_set_new(res, "prev_batch",
			    json_string(mx_arena_printf(&req->arena, "t%" PRId64, n ? t.first_nid - 1 : hi)));
	/* required_state: the current state (kicked: at the kick), or its
	 * changes since pos, through the combined configs. */
	json_t *to = join ? mx_sync_state_at(s, r->room_id, 0, true) : mx_sync_state_at(s, r->room_id, hi, false);
	json_t *from = initial ? NULL : mx_sync_state_at(s, r->room_id, since, false);
	json_t *lazy = t.senders;
	size_t i;
	json_t *ev;
	json_array_foreach (t.events, i, ev) {
		const char *type = json_string_value(json_object_get(ev, "type"));
		const char *sk = json_string_value(json_object_get(ev, "state_key"));
		if (type && sk && !strcmp(type, "m.room.member"))
			json_object_set_new(lazy, sk, json_true());
	}
	json_t *rs = json_array();
	const char *k;
	json_object_foreach (to, k, ev) {
		json_t *old = from ? json_object_get(from, k) : NULL;
		const char *type = json_string_value(json_object_get(ev, "type"));
		const char *sk = json_string_value(json_object_get(ev, "state_key"));
		if (!type || !sk || !mx_sl_state_wanted(r->configs, type, sk, lazy))
			continue;
		bool same = old && json_equal(json_object_get(old, "event_id"), json_object_get(ev, "event_id"));
		/* Lazy members come with the timeline that needs them. */
		if (same && !(!strcmp(type, "m.room.member") && json_object_get(t.senders, sk)))
			continue;
		json_array_append(rs, ev);
	}
	json_object_set_new(res, "required_state", rs);
	/* name and avatar when new or changed. */
	const char *name_key = "m.room.name\x1f", *avatar_key = "m.room.avatar\x1f";
	json_t *to_name = json_object_get(to, name_key), *to_avatar = json_object_get(to, avatar_key);
	if (initial || !json_equal(json_object_get(to_name, "event_id"),
				   json_object_get(json_object_get(from, name_key), "event_id"))) {
		json_t *v = mx_sl_content_str(to, name_key, "name");
		if (v && (!initial || !json_is_null(v)))
			json_object_set_new(res, "name", v);
		else
			json_decref(v);
	}
	if (initial || !json_equal(json_object_get(to_avatar, "event_id"),
				   json_object_get(json_object_get(from, avatar_key), "event_id"))) {
		json_t *v = mx_sl_content_str(to, avatar_key, "url");
		if (v && (!initial || !json_is_null(v)))
			json_object_set_new(res, "avatar", v);
		else
			json_decref(v);
	}
	json_t *summary = mx_sync_summary(s, r->room_id);
	json_object_set(res, "joined_count", json_object_get(summary, "m.joined_member_count"));
	json_object_set(res, "invited_count", json_object_get(summary, "m.invited_member_count"));
	json_t *hero_ids = json_object_get(summary, "m.heroes");
	if (json_array_size(hero_ids) && !json_object_get(res, "name")) {
		json_t *heroes = json_array();
		json_array_foreach (hero_ids, i, ev) {
			const char *uid = json_string_value(ev);
			json_t *mem = json_object_get(to, mx_arena_printf(&req->arena, "m.room.member\x1f%s", uid));
			json_t *c = json_object_get(mem, "content");
			json_t *h = json_pack("{s:s}", "user_id", uid);
			if (json_is_string(json_object_get(c, "displayname")))
				json_object_set(h, "displayname", json_object_get(c, "displayname"));
			if (json_is_string(json_object_get(c, "avatar_url")))
				json_object_set(h, "avatar_url", json_object_get(c, "avatar_url"));
			json_array_append_new(heroes, h);
		}
		json_object_set_new(res, "heroes", heroes);
	}
	json_decref(summary);
	/* Counts as Synapse returns them (the MSC's last draft drops them). */
	json_t *unread, *threads;
	mx_push_unread(req->srv->push, req->w->rconn, &req->arena, s->user, r->room_id, false, &unread, &threads);
	json_object_set(res, "notification_count", json_object_get(unread, "notification_count"));
	json_object_set(res, "highlight_count", json_object_get(unread, "highlight_count"));
	json_decref(unread);
	json_decref(threads);
	return 0;
}

/* ---- extensions ---- */

static bool mx_sl_ext_on(const json_t *ext, const char *name)
{
	return json_is_true(json_object_get(json_object_get(ext, name), "enabled"));
}

struct mx_sl_room_ad {
	struct mx_sliding *sl;
	json_t *rooms;
};

static int mx_sl_room_ad_cb(void *ctx, const char *room_id, const char *type, const char *content,
			    int64_t stream_id)
{
	(void)stream_id;
	struct mx_sl_room_ad *c = ctx;
	if (!room_id[0])
		return 0;
	json_t *v = json_loads(content, 0, NULL);
	if (!v)
		return 0;
	json_t *arr = json_object_get(c->rooms, room_id);
	if (!arr) {
		arr = json_array();
		json_object_set_new(c->rooms, room_id, arr);
	}
	json_array_append_new(arr, json_pack("{s:s, s:o}", "type", type, "content", v));
	return 0;
}

/* The extensions' results; *any set when there is something to say. */
static int mx_sl_extensions(struct mx_sliding *sl, json_t *out, bool *any, const char **why)
{
	struct mx_sync *s = &sl->s;
	struct mx_req *req = s->req;
	const json_t *ext = json_object_get(sl->body, "extensions");
	if (ext && !json_is_object(ext)) {
		*why = "extensions must be an object";
		return MX_EBADJSON;
	}
	bool td_on = mx_sl_ext_on(ext, "to_device"), e2ee_on = mx_sl_ext_on(ext, "e2ee");
	if (td_on || e2ee_on) {
		/* mx_sync_e2ee on a copy: to-device runs from the extension's own
		 * `since`, device lists from pos (none on a first request). */
		struct mx_sync e = *s;
		e.initial = false;
		const json_t *tds = json_object_get(json_object_get(ext, "to_device"), "since");
		int64_t td_since = 0;
		if (json_is_string(tds)) {
			char *end;
			errno = 0;
			long long v = strtoll(json_string_value(tds), &end, 10);
			if (errno || *end || v < 0) {
				*why = "to_device.since must be a token from next_batch";
				return MX_EINVALIDPARAM;
			}
			td_since = v;
		} else if (tds) {
			*why = "to_device.since must be a string";
			return MX_EBADJSON;
		}
		e.since.pos[MX_SYNC_TO_DEVICE] = td_since;
		if (!sl->has_pos) {
			e.since.pos[MX_SYNC_EVENTS] = s->now.pos[MX_SYNC_EVENTS];
			e.since.pos[MX_SYNC_DEVICE_LISTS] = INT64_MAX;
		}
		json_t *f;
		int rc = mx_sync_e2ee(&e, &f);
		if (rc)
			return rc;
		s->now.pos[MX_SYNC_DEVICE_LISTS] = e.now.pos[MX_SYNC_DEVICE_LISTS];
		if (td_on) {
			json_t *events = json_object_get(json_object_get(f, "to_device"), "events");
			json_object_set_new(out, "to_device",
					    json_pack("{s:s, s:O}", "next_batch",
						      mx_arena_printf(&req->arena, "%" PRId64, e.now.pos[MX_SYNC_TO_DEVICE]),
						      "events", events));
			if (json_array_size(events))
				*any = true;
		}
		if (e2ee_on) {
			json_t *dl = json_object_get(f, "device_lists");
			json_object_set_new(out, "e2ee",
					    json_pack("{s:O, s:O, s:O}", "device_lists", dl, "device_one_time_keys_count",
						      json_object_get(f, "device_one_time_keys_count"),
						      "device_unused_fallback_key_types",
						      json_object_get(f, "device_unused_fallback_key_types")));
			if (json_array_size(json_object_get(dl, "changed")) || json_array_size(json_object_get(dl, "left")))
				*any = true;
		}
	}
	if (mx_sl_ext_on(ext, "account_data")) {
		bool was = s->any;
		s->any = false;
		json_t *global = mx_sync_global_account_data(s);
		struct mx_sl_room_ad c = {sl, json_object()};
		mx_store_account_data_since(req->w->rconn, s->user, sl->has_pos ? s->since.pos[MX_SYNC_ACCOUNT_DATA] : 0,
					    mx_sl_room_ad_cb, &c);
		if (s->any || json_object_size(c.rooms))
			*any = true;
		s->any = was;
		json_object_set_new(out, "account_data", json_pack("{s:o, s:o}", "global", global, "rooms", c.rooms));
	}
	bool ty_on = mx_sl_ext_on(ext, "typing"), rc_on = mx_sl_ext_on(ext, "receipts");
	if (ty_on || rc_on) {
		json_t *typing = json_object(), *receipts = json_object();
		for (size_t k = 0; k < sl->n; k++) {
			struct mx_sl_room *r = &sl->rooms[k];
			if (!r->matched || strcmp(r->membership, "join") != 0)
				continue;
			json_t *evs = mx_sync_ephemeral_room(s, r->room_id, !r->sent_before);
			size_t i;
			json_t *ev;
			json_array_foreach (evs, i, ev) {
				const char *type = json_string_value(json_object_get(ev, "type"));
				if (ty_on && !strcmp(type, "m.typing"))
					json_object_set(typing, r->room_id, ev);
				else if (rc_on && !strcmp(type, "m.receipt"))
					json_object_set(receipts, r->room_id, ev);
			}
		}
		if (json_object_size(typing) || json_object_size(receipts))
			*any = true;
		if (ty_on)
			json_object_set_new(out, "typing", json_pack("{s:O}", "rooms", typing));
		if (rc_on)
			json_object_set_new(out, "receipts", json_pack("{s:O}", "rooms", receipts));
		json_decref(typing);
		json_decref(receipts);
	}
	return 0;
}

/* ---- the handler ---- */

static int mx_sl_compute(struct mx_sliding *sl, json_t **out, bool *any, const char **why)
{
	struct mx_sync *s = &sl->s;
	struct mx_req *req = s->req;
	*any = false;
	sl->tail = NULL;
	sl->tail_len = sl->tail_cap = 0;
	mx_sl_tail_add(sl, "");
	s->now.pos[MX_SYNC_EVENTS] = mx_store_events_max_nid(req->w->rconn);
	s->now.pos[MX_SYNC_ACCOUNT_DATA] = mx_store_stream_position(req->w->rconn, MX_STREAM_ACCOUNT_DATA);
	s->now.pos[MX_SYNC_TO_DEVICE] = s->since.pos[MX_SYNC_TO_DEVICE];
	s->now.pos[MX_SYNC_DEVICE_LISTS] = s->since.pos[MX_SYNC_DEVICE_LISTS];
	int rc = mx_sync_ephemeral_begin(s);
	if (!rc)
		rc = mx_sl_load_rooms(sl);
	if (rc)
		return rc;
	json_t *lists = mx_arena_json(&req->arena, json_object());
	json_t *rooms = mx_arena_json(&req->arena, json_object());
	json_t *ext = mx_arena_json(&req->arena, json_object());
	rc = mx_sl_lists(sl, lists, why);
	if (!rc)
		rc = mx_sl_subscriptions(sl, why);
	if (!rc)
		rc = mx_sl_extensions(sl, ext, any, why);
	if (rc)
		return rc;
	for (size_t k = 0; k < sl->n && !rc; k++) {
		struct mx_sl_room *r = &sl->rooms[k];
		if (!r->matched || (r->sent_before && !r->changed))
			continue;
		rc = mx_sl_room_result(sl, r, rooms);
		*any = true;
	}
	if (rc)
		return rc;
	if (sl->has_pos) {
		/* A room left (by the user) since pos changes the counts. */
		struct mx_store_user_room *ch;
		size_t nc = 0;
		if (!mx_store_membership_changes(req->w->rconn, &req->arena, s->user, s->since.pos[MX_SYNC_EVENTS],
						 s->now.pos[MX_SYNC_EVENTS], &ch, &nc) &&
		    nc)
			*any = true;
	}
	const char *pos = mx_arena_printf(&req->arena, "%s%s", mx_sync_token_str(s, &s->now), sl->tail);
	*out = json_pack("{s:s, s:O, s:O, s:O}", "pos", pos, "lists", lists, "rooms", rooms, "extensions", ext);
	return 0;
}

static int mx_sl_unknown_pos(struct mx_req *req)
{
	return mx_req_reply_json(req, 400, json_pack("{s:s, s:s}", "errcode", "M_UNKNOWN_POS", "error",
						     "Unknown or expired pos: start a new connection"));
}

/* SPEC: MSC4186 POST /sync */
int mx_sliding_sync(struct mx_req *req)
{
	struct mx_sliding sl;
	memset(&sl, 0, sizeof(sl));
	sl.s.req = req;
	sl.s.user = req->auth.user_id;
	sl.body = req->json;
	json_t *b = sl.body;
	const json_t *conn = json_object_get(b, "conn_id"), *jpos = json_object_get(b, "pos");
	const json_t *jto = json_object_get(b, "timeout"), *jpres = json_object_get(b, "set_presence");
	if ((conn && !json_is_string(conn)) || (jpos && !json_is_string(jpos)) ||
	    (jto && !mx_sl_is_int(jto, 0, INT64_MAX)) || (jpres && !json_is_string(jpres)))
		return mx_req_fail(req, MX_EBADJSON, "conn_id, pos and set_presence are strings, timeout an integer");
	/* Synapse and Element X send pos, timeout and set_presence in the query. */
	const char *pos = jpos ? json_string_value(jpos) : mx_req_query(req, "pos");
	const char *presence = jpres ? json_string_value(jpres) : mx_req_query(req, "set_presence");
	int64_t timeout = jto ? (int64_t)json_integer_value(jto) : 0;
	const char *qto = mx_req_query(req, "timeout");
	if (!jto && qto) {
		char *end;
		errno = 0;
		long long v = strtoll(qto, &end, 10);
		if (errno || *end || end == qto || v < 0)
			return mx_req_fail(req, MX_EINVALIDPARAM, "timeout must be a non-negative integer");
		timeout = v;
	}
	if (timeout > MX_SL_MAX_TIMEOUT_MS)
		timeout = MX_SL_MAX_TIMEOUT_MS;
	if (presence && strcmp(presence, "offline") && strcmp(presence, "online") && strcmp(presence, "unavailable"))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Unknown set_presence value");
	sl.pos_tail = "";
	if (pos) {
		size_t len = strlen(pos);
		if (len > MX_SL_MAX_POS)
			return mx_sl_unknown_pos(req);
		const char *tilde = strchr(pos, '~');
		char *head = mx_arena_printf(&req->arena, "%.*s", (int)(tilde ? (size_t)(tilde - pos) : len), pos);
		if (mx_sync_parse_token(head, &sl.s.since))
			return mx_sl_unknown_pos(req);
		sl.pos_tail = tilde ? tilde : "";
		sl.has_pos = true;
	}
	sl.s.initial = !sl.has_pos;

	struct mx_sl_wait *wait = req->handler_state;
	if (!wait) {
		wait = mx_arena_alloc(&req->arena, sizeof(*wait));
		wait->deadline_ms = mx_clock_mono_ms() + (sl.has_pos ? timeout : 0);
		req->handler_state = wait;
	}
	mx_ignored_reset(req);
	int64_t left_ms = wait->deadline_ms - mx_clock_mono_ms();
	mx_presence_synced(req->srv->presence, sl.s.user, presence, left_ms > 0 ? left_ms : 0);
	json_t *out = NULL;
	for (int attempt = 0; attempt < 3; attempt++) {
		uint64_t seq = mx_notifier_seq(req->srv->notifier, sl.s.user);
		json_decref(out);
		out = NULL;
		const char *why = NULL;
		bool any;
		int rc = mx_sl_compute(&sl, &out, &any, &why);
		if (rc) {
			json_decref(out);
			return why ? mx_req_fail(req, rc, "%s", why) : mx_req_fail(req, rc, NULL);
		}
		if (!sl.has_pos || any || mx_clock_mono_ms() >= wait->deadline_ms)
			break;
		if (!mx_notifier_park(req->srv->notifier, req, sl.s.user, seq, wait->deadline_ms)) {
			json_decref(out);
			return MX_ESUSPENDED;
		}
	}
	return mx_req_reply_json(req, 200, out);
}
