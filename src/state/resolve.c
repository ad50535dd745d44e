/* SPDX-License-Identifier: Apache-2.0 */
/*
 * State resolution v1, v2 and v2.1 (see resolve.h for the spec sections).
 *
 * v2 and v2.1 work on an in-memory graph: every event the resolution
 * touches becomes a node (an index into one array), its auth_events become
 * edges, and each node is fetched once. The graph is walked with explicit
 * stacks only, and holds at most MX_STATE_RES_MAX_EVENTS nodes.
 *
 * The auth difference is computed without walking the auth chains of the
 * whole unconflicted state when it can be avoided (big rooms have tens of
 * thousands of members), yet exactly: an event reachable from an
 * unconflicted event is in every state's full auth chain, so it is never in
 * the difference. Only events reachable from some but not all of the
 * states' conflicted entries can be in it, and for those alone we ask
 * whether an unconflicted event reaches them: first the cheap case where
 * the candidate is itself unconflicted state, then, if any remain, a walk
 * from the unconflicted state that stops as soon as none remain.
 *
 * Where the spec is loose we do what Synapse does (DESIGN.md), since
 * servers in one room must reach the same state:
 *  - A state's "full auth chain" includes the state's own events (Synapse's
 *    chain cover index counts them), not only their auth events.
 *  - Power events are also the create event, and the three non-member
 *    types count only with state_key "" (Synapse's _is_power_event, ruma).
 *  - X (step 1) is the power events plus the full conflicted set events
 *    reached from them through auth edges that stay inside the full
 *    conflicted set; Kahn's algorithm runs on those direct edges.
 *  - A sender's power for the ordering comes from the power levels and
 *    create events among its own auth events (mx_auth_user_power).
 *  - Iterative auth checks look a key up in the state so far (v2: over the
 *    unconflicted state), else among the event's own auth events, the last
 *    one of that key listed. Rejected events are not known here: the
 *    fetcher hides them (resolve.h), which is what Synapse's store does.
 *  - Mainline: the first power levels event in auth_events is followed;
 *    an event's own id is looked up in the mainline before its chain.
 *  - v1 is Synapse's v1: a key missing from a state is no conflict; the
 *    member pass sees the power levels and join rules winners but not the
 *    other members'; a normal key where every event fails auth takes the
 *    last in order (lowest depth, highest sha1).
 *  - Events the fetcher does not know drop out of the conflicted set.
 */
#include "state/resolve.h"

#include <openssl/evp.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "core/error.h"
#include "core/mem.h"
#include "core/rand.h"

#define T_CREATE "m.room.create"
#define T_MEMBER "m.room.member"
#define T_JOIN_RULES "m.room.join_rules"
#define T_POWER_LEVELS "m.room.power_levels"

#define RS_NONE UINT32_MAX

enum {
	RS_CONFLICTED = 1u << 0, /* in the conflicted state set */
	RS_EXPANDED = 1u << 1,   /* edges loaded */
	RS_CAND = 1u << 2,       /* in some, not all, states' conflicted reach */
	RS_UREACH = 1u << 3,     /* reachable from the unconflicted state */
	RS_FCS = 1u << 4,        /* in the full conflicted set */
	RS_INX = 1u << 5,        /* in X, the set for the power ordering */
	RS_SORTED = 1u << 6,     /* output by the power ordering */
	RS_SUB = 1u << 7,        /* v2.1: reaches a conflicted event */
};

struct rs_node {
	const char *id;     /* borrowed: from a state map, a PDU, or rs.owned */
	const json_t *ev;   /* NULL if unknown, unusable or not fetched */
	const char *type;
	const char *state_key; /* NULL for a non-state event */
	const char *sender;
	int64_t ts;
	uint32_t edge_off, n_edges;
	uint32_t flags;
	uint32_t dedupe;    /* last node that added an edge to this one, + 1 */
	int64_t power;      /* sender's power level, for the power ordering */
	int64_t ml_depth;   /* mainline depth, -1 if not computed */
	int64_t ml_pos;     /* position in the mainline from its oldest (1..), or 0 */
};

struct rs {
	const struct mx_room_version *v;
	mx_state_fetch_fn fetch;
	void *fctx;
	struct rs_node *nodes;
	uint32_t n_nodes, cap_nodes;
	uint32_t *edges;
	size_t n_edges, cap_edges;
	uint32_t *slots; /* id -> node index + 1, open addressing */
	size_t n_slots;
	unsigned char key[crypto_shorthash_KEYBYTES];
	uint64_t *bits;  /* per node, words bits: reached from state i's conflicted entries */
	size_t words;
	const char *room_id; /* of the first event seen, borrowed */
	char *create_id;     /* v12: the implied create event id, owned */
	uint32_t *stack;     /* scratch for walks */
	size_t n_stack, cap_stack;
};

/* --- the node table --------------------------------------------------------- */

static uint64_t rs_hash(const struct rs *r, const char *id)
{
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t out;
	crypto_shorthash(h, (const unsigned char *)id, strlen(id), r->key);
	memcpy(&out, h, sizeof(out));
	return out;
}

static uint32_t rs_find(const struct rs *r, const char *id)
{
	size_t mask = r->n_slots - 1;
	for (size_t i = (size_t)rs_hash(r, id) & mask;; i = (i + 1) & mask) {
		uint32_t s = r->slots[i];
		if (!s)
			return RS_NONE;
		if (!strcmp(r->nodes[s - 1].id, id))
			return s - 1;
	}
}

static void rs_slot_put(struct rs *r, uint32_t n)
{
	size_t mask = r->n_slots - 1;
	size_t i = (size_t)rs_hash(r, r->nodes[n].id) & mask;
	while (r->slots[i])
		i = (i + 1) & mask;
	r->slots[i] = n + 1;
}

static void rs_push(struct rs *r, uint32_t n)
{
	if (r->n_stack == r->cap_stack) {
		r->cap_stack = r->cap_stack ? 2 * r->cap_stack : 64;
		r->stack = mx_xrealloc(r->stack, r->cap_stack * sizeof(*r->stack));
	}
	r->stack[r->n_stack++] = n;
}

static bool rs_is_create(const struct rs_node *n)
{
	return n->type && !strcmp(n->type, T_CREATE) && n->state_key && !*n->state_key;
}

/* Fill n's event fields from ev, or leave it unknown if ev is unusable. */
static int rs_load(struct rs *r, struct rs_node *n, const json_t *ev)
{
	if (!json_is_object(ev))
		return 0;
	const char *type = json_string_value(json_object_get(ev, "type"));
	const char *room = json_string_value(json_object_get(ev, "room_id"));
	if (!type)
		return 0;
	n->ev = ev;
	n->type = type;
	n->state_key = json_string_value(json_object_get(ev, "state_key"));
	n->sender = json_string_value(json_object_get(ev, "sender"));
	if (!n->sender)
		n->sender = "";
	n->ts = json_integer_value(json_object_get(ev, "origin_server_ts"));
	/* A v12 create event has no room_id: its id is where the room id comes from. */
	if (!room) {
		if (!r->v->room_id_from_create || !rs_is_create(n))
			n->ev = NULL;
		return 0;
	}
	if (!r->room_id)
		r->room_id = room;
	else if (strcmp(r->room_id, room))
		return MX_EINVALID;
	return 0;
}

/* The node for id, created (and its event fetched) if new. */
static int rs_intern(struct rs *r, const char *id, uint32_t *out)
{
	uint32_t f = rs_find(r, id);
	if (f != RS_NONE) {
		*out = f;
		return 0;
	}
	if (r->n_nodes >= MX_STATE_RES_MAX_EVENTS)
		return MX_ETOOLARGE;
	if (r->n_nodes == r->cap_nodes) {
		uint32_t cap = r->cap_nodes ? 2 * r->cap_nodes : 64;
		r->nodes = mx_xrealloc(r->nodes, cap * sizeof(*r->nodes));
		if (r->bits) {
			r->bits = mx_xrealloc(r->bits, (size_t)cap * r->words * sizeof(*r->bits));
			memset(r->bits + (size_t)r->cap_nodes * r->words, 0,
			       (size_t)(cap - r->cap_nodes) * r->words * sizeof(*r->bits));
		}
		r->cap_nodes = cap;
	}
	uint32_t idx = r->n_nodes++;
	struct rs_node *n = &r->nodes[idx];
	memset(n, 0, sizeof(*n));
	n->id = id;
	n->ml_depth = -1;
	if (2 * (size_t)r->n_nodes + 2 > r->n_slots) {
		free(r->slots);
		r->n_slots *= 2;
		r->slots = mx_xcalloc(r->n_slots, sizeof(*r->slots));
		for (uint32_t i = 0; i < r->n_nodes; i++)
			rs_slot_put(r, i);
	} else {
		rs_slot_put(r, idx);
	}
	*out = idx;
	return rs_load(r, n, r->fetch(r->fctx, id));
}

/* An auth_events entry: an id (v3+) or an [id, hashes] pair (v1, v2). */
static const char *rs_auth_entry_id(const json_t *e)
{
	if (json_is_array(e))
		e = json_array_get(e, 0);
	return json_string_value(e);
}

static int rs_add_edge(struct rs *r, uint32_t from, const char *id)
{
	uint32_t to;
	int rc = rs_intern(r, id, &to);
	if (rc)
		return rc;
	if (r->nodes[to].dedupe == from + 1)
		return 0;
	r->nodes[to].dedupe = from + 1;
	if (r->n_edges == r->cap_edges) {
		r->cap_edges = r->cap_edges ? 2 * r->cap_edges : 256;
		r->edges = mx_xrealloc(r->edges, r->cap_edges * sizeof(*r->edges));
	}
	r->edges[r->n_edges++] = to;
	return 0;
}

/*
 * Load node n's auth events as edges, in auth_events order, duplicates
 * dropped. SPEC: rooms/v12#event-format: in v12 the create event is not
 * among auth_events; it is added (last) as the implied auth event.
 */
static int rs_expand(struct rs *r, uint32_t n)
{
	if (r->nodes[n].flags & RS_EXPANDED)
		return 0;
	r->nodes[n].flags |= RS_EXPANDED;
	r->nodes[n].edge_off = (uint32_t)r->n_edges;
	const json_t *ev = r->nodes[n].ev;
	if (!ev)
		return 0;

	const json_t *auth = json_object_get(ev, "auth_events");
	size_t i;
	const json_t *e;
	int rc;
	json_array_foreach(auth, i, e) {
		const char *id = rs_auth_entry_id(e);
		if (id && (rc = rs_add_edge(r, n, id)))
			return rc;
	}
	if (!r->v->create_in_auth_events && !rs_is_create(&r->nodes[n]) && r->room_id &&
	    r->room_id[0]) {
		if (!r->create_id)
			r->create_id = mx_xasprintf("$%s", r->room_id + 1);
		if ((rc = rs_add_edge(r, n, r->create_id)))
			return rc;
	}
	r->nodes[n].n_edges = (uint32_t)(r->n_edges - r->nodes[n].edge_off);
	return 0;
}

static const uint32_t *rs_edges(const struct rs *r, uint32_t n)
{
	return r->edges + r->nodes[n].edge_off;
}

/* The first auth event of n (loaded) with this type and state_key "", or RS_NONE. */
static uint32_t rs_auth_of_type(const struct rs *r, uint32_t n, const char *type)
{
	const uint32_t *e = rs_edges(r, n);
	for (uint32_t i = 0; i < r->nodes[n].n_edges; i++) {
		const struct rs_node *a = &r->nodes[e[i]];
		if (a->ev && a->state_key && !*a->state_key && !strcmp(a->type, type))
			return e[i];
	}
	return RS_NONE;
}

static uint64_t *rs_bits(struct rs *r, uint32_t n)
{
	return r->bits + (size_t)n * r->words;
}

static void rs_release(struct rs *r)
{
	free(r->nodes);
	free(r->edges);
	free(r->slots);
	free(r->bits);
	free(r->create_id);
	free(r->stack);
}

static void rs_init(struct rs *r, const struct mx_room_version *v, mx_state_fetch_fn fetch,
		    void *ctx, size_t n_states)
{
	memset(r, 0, sizeof(*r));
	r->v = v;
	r->fetch = fetch;
	r->fctx = ctx;
	r->n_slots = 256;
	r->slots = mx_xcalloc(r->n_slots, sizeof(*r->slots));
	r->words = (n_states + 63) / 64;
	mx_rand_bytes(r->key, sizeof(r->key));
}

/* --- iterative auth checks ------------------------------------------------- */

/* The state an event is checked against during resolution. */
struct rs_authctx {
	struct rs *r;
	const struct mx_state_map *w;    /* resolved so far */
	const struct mx_state_map *base; /* under w (v2: unconflicted), or NULL */
	uint32_t node;                   /* the event being checked (v2), or RS_NONE */
	/* v1: the one key being resolved, and its value so far */
	const char *ov_type, *ov_key;
	const json_t *ov_ev;
};

static const json_t *rs_event_by_id(struct rs *r, const char *id)
{
	uint32_t n = rs_find(r, id);
	if (n != RS_NONE)
		return r->nodes[n].ev;
	const json_t *ev = r->fetch(r->fctx, id);
	return json_is_object(ev) ? ev : NULL;
}

/*
 * SPEC: rooms/v2#definitions, iterative auth checks: the state so far, and
 * for a key it lacks, the event's own auth event of that key (Synapse uses
 * the last one listed if there are several).
 */
static const json_t *rs_auth_get(void *p, const char *type, const char *state_key)
{
	struct rs_authctx *a = p;
	struct rs *r = a->r;

	if (a->ov_type && !strcmp(type, a->ov_type) && !strcmp(state_key, a->ov_key))
		return a->ov_ev;
	const char *id = a->w ? mx_state_map_get(a->w, type, state_key) : NULL;
	if (!id && a->base)
		id = mx_state_map_get(a->base, type, state_key);
	if (id) {
		const json_t *ev = rs_event_by_id(r, id);
		if (ev)
			return ev;
	}
	if (a->node == RS_NONE)
		return NULL;
	const json_t *found = NULL;
	const uint32_t *e = rs_edges(r, a->node);
	for (uint32_t i = 0; i < r->nodes[a->node].n_edges; i++) {
		const struct rs_node *n = &r->nodes[e[i]];
		if (n->ev && n->state_key && !strcmp(n->type, type) &&
		    !strcmp(n->state_key, state_key))
			found = n->ev;
	}
	return found;
}

/* Apply each event of list in order to w if it passes auth. */
static void rs_iterate(struct rs *r, struct mx_state_map *w, const struct mx_state_map *base,
		       const uint32_t *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct rs_node *e = &r->nodes[list[i]];
		if (!e->ev || !e->state_key)
			continue;
		struct rs_authctx a = {.r = r, .w = w, .base = base, .node = list[i]};
		struct mx_auth_state st = {.get = rs_auth_get, .ctx = &a};
		if (mx_auth_check(r->v, e->ev, &st, NULL) == 0)
			mx_state_map_set(w, e->type, e->state_key, e->id);
	}
}

/* --- v2 and v2.1 ---------------------------------------------------------- */

/*
 * SPEC: rooms/v2#definitions, power events. Like Synapse and ruma, the
 * create event counts too (it can only be conflicted across rooms, so it
 * merely sorts first), and the three state types need state_key "".
 */
static bool rs_is_power(const struct rs_node *n)
{
	if (!n->ev || !n->state_key)
		return false;
	if (!*n->state_key && (!strcmp(n->type, T_POWER_LEVELS) ||
			       !strcmp(n->type, T_JOIN_RULES) || !strcmp(n->type, T_CREATE)))
		return true;
	if (strcmp(n->type, T_MEMBER))
		return false;
	const json_t *c = json_object_get(n->ev, "content");
	const char *m = json_string_value(json_object_get(c, "membership"));
	return m && (!strcmp(m, "leave") || !strcmp(m, "ban")) && strcmp(n->sender, n->state_key);
}

/* Depth-first from the stacked nodes, setting bit i; loads edges. */
static int rs_walk_bit(struct rs *r, size_t i)
{
	uint64_t w = (uint64_t)1 << (i % 64);
	int rc;
	while (r->n_stack) {
		uint32_t n = r->stack[--r->n_stack];
		if (rs_bits(r, n)[i / 64] & w)
			continue;
		rs_bits(r, n)[i / 64] |= w;
		if ((rc = rs_expand(r, n)))
			return rc;
		const uint32_t *e = rs_edges(r, n);
		for (uint32_t k = 0; k < r->nodes[n].n_edges; k++)
			if (!(rs_bits(r, e[k])[i / 64] & w))
				rs_push(r, e[k]);
	}
	return 0;
}

/*
 * Depth-first from node s, setting RS_UREACH; counts down *left for each
 * candidate reached and stops everything when none is left (so the marks
 * are complete only while *left > 0, which is all the caller needs).
 */
static int rs_ureach_from(struct rs *r, uint32_t s, size_t *left)
{
	int rc;
	rs_push(r, s);
	while (r->n_stack && *left) {
		uint32_t n = r->stack[--r->n_stack];
		if (r->nodes[n].flags & RS_UREACH)
			continue;
		r->nodes[n].flags |= RS_UREACH;
		if ((r->nodes[n].flags & RS_CAND) && !--*left)
			break;
		if ((rc = rs_expand(r, n)))
			return rc;
		const uint32_t *e = rs_edges(r, n);
		for (uint32_t k = 0; k < r->nodes[n].n_edges; k++)
			if (!(r->nodes[e[k]].flags & RS_UREACH))
				rs_push(r, e[k]);
	}
	r->n_stack = 0;
	return 0;
}

/*
 * SPEC: rooms/v12#definitions, conflicted state subgraph: mark RS_SUB on
 * every node (among the first n, the ancestors of the conflicted events)
 * from which a conflicted event is reachable through one or more auth
 * edges. Post-order with an explicit stack of (node, next edge).
 */
static void rs_mark_subgraph(struct rs *r, uint32_t n_anc)
{
	enum { NEW = 0, OPEN = 1, DONE = 2 };
	unsigned char *st = mx_xcalloc(n_anc ? n_anc : 1, 1);
	uint32_t *pos = mx_xcalloc(n_anc ? n_anc : 1, sizeof(*pos));
	for (uint32_t s = 0; s < n_anc; s++) {
		if (st[s] != NEW)
			continue;
		st[s] = OPEN;
		rs_push(r, s);
		while (r->n_stack) {
			uint32_t n = r->stack[r->n_stack - 1];
			if (pos[n] < r->nodes[n].n_edges) {
				uint32_t c = rs_edges(r, n)[pos[n]++];
				if (c >= n_anc)
					continue;
				if (st[c] == DONE) {
					if (r->nodes[c].flags & (RS_SUB | RS_CONFLICTED))
						r->nodes[n].flags |= RS_SUB;
				} else if (st[c] == NEW) {
					st[c] = OPEN;
					rs_push(r, c);
				} /* OPEN: a cycle (only forgeable with v1/v2 ids); ignore the edge */
				continue;
			}
			st[n] = DONE;
			r->n_stack--;
			if (r->n_stack && (r->nodes[n].flags & (RS_SUB | RS_CONFLICTED)))
				r->nodes[r->stack[r->n_stack - 1]].flags |= RS_SUB;
		}
	}
	free(st);
	free(pos);
}

/* SPEC: rooms/v2#definitions, reverse topological power ordering: x < y. */
static bool rs_power_less(const struct rs *r, uint32_t x, uint32_t y)
{
	const struct rs_node *a = &r->nodes[x], *b = &r->nodes[y];
	if (a->power != b->power)
		return a->power > b->power;
	if (a->ts != b->ts)
		return a->ts < b->ts;
	return strcmp(a->id, b->id) < 0;
}

static void rs_heap_push(const struct rs *r, uint32_t *h, size_t *n, uint32_t v)
{
	size_t i = (*n)++;
	h[i] = v;
	while (i) {
		size_t p = (i - 1) / 2;
		if (!rs_power_less(r, h[i], h[p]))
			break;
		uint32_t t = h[p];
		h[p] = h[i];
		h[i] = t;
		i = p;
	}
}

static uint32_t rs_heap_pop(const struct rs *r, uint32_t *h, size_t *n)
{
	uint32_t top = h[0];
	h[0] = h[--(*n)];
	for (size_t i = 0;;) {
		size_t l = 2 * i + 1, m = i;
		if (l < *n && rs_power_less(r, h[l], h[m]))
			m = l;
		if (l + 1 < *n && rs_power_less(r, h[l + 1], h[m]))
			m = l + 1;
		if (m == i)
			break;
		uint32_t t = h[m];
		h[m] = h[i];
		h[i] = t;
		i = m;
	}
	return top;
}

/*
 * SPEC: rooms/v2#algorithm step 1. X is the power events of the full
 * conflicted set and the full conflicted set events reached from them
 * through auth edges between full conflicted set events (as Synapse and
 * ruma build it), sorted by Kahn's algorithm taking at each step the
 * smallest candidate. Nodes on a cycle (forgeable only with v1/v2 ids)
 * are never output. Writes the order to *out (caller frees), count *n_out.
 */
static void rs_power_sort(struct rs *r, uint32_t **out, size_t *n_out)
{
	uint32_t *xs = NULL, *outdeg = NULL, *rev_off = NULL, *rev = NULL, *heap = NULL;
	size_t n_x = 0, cap_x = 0;

	for (uint32_t n = 0; n < r->n_nodes; n++) {
		if (!(r->nodes[n].flags & RS_FCS) || !rs_is_power(&r->nodes[n]))
			continue;
		rs_push(r, n);
		while (r->n_stack) {
			uint32_t x = r->stack[--r->n_stack];
			if (r->nodes[x].flags & RS_INX)
				continue;
			r->nodes[x].flags |= RS_INX;
			if (n_x == cap_x) {
				cap_x = cap_x ? 2 * cap_x : 64;
				xs = mx_xrealloc(xs, cap_x * sizeof(*xs));
			}
			xs[n_x++] = x;
			const uint32_t *e = rs_edges(r, x);
			for (uint32_t k = 0; k < r->nodes[x].n_edges; k++)
				if ((r->nodes[e[k]].flags & (RS_FCS | RS_INX)) == RS_FCS)
					rs_push(r, e[k]);
		}
	}

	/* The sender's power level according to the event's own auth events. */
	for (size_t i = 0; i < n_x; i++) {
		uint32_t x = xs[i];
		uint32_t pl = rs_auth_of_type(r, x, T_POWER_LEVELS);
		uint32_t cr = rs_auth_of_type(r, x, T_CREATE);
		r->nodes[x].power = mx_auth_user_power(r->v, pl == RS_NONE ? NULL : r->nodes[pl].ev,
						      cr == RS_NONE ? NULL : r->nodes[cr].ev,
						      r->nodes[x].sender);
	}

	/* Kahn's algorithm: an event is ready once all its auth events in X are out. */
	uint32_t *xi = mx_xmalloc((size_t)(r->n_nodes ? r->n_nodes : 1) * sizeof(*xi));
	for (uint32_t n = 0; n < r->n_nodes; n++)
		xi[n] = RS_NONE;
	for (size_t i = 0; i < n_x; i++)
		xi[xs[i]] = (uint32_t)i;
	outdeg = mx_xcalloc(n_x + 1, sizeof(*outdeg));
	rev_off = mx_xcalloc(n_x + 1, sizeof(*rev_off));
	for (size_t i = 0; i < n_x; i++) {
		const uint32_t *e = rs_edges(r, xs[i]);
		for (uint32_t k = 0; k < r->nodes[xs[i]].n_edges; k++)
			if (xi[e[k]] != RS_NONE) {
				outdeg[i]++;
				rev_off[xi[e[k]] + 1]++;
			}
	}
	for (size_t i = 0; i < n_x; i++)
		rev_off[i + 1] += rev_off[i];
	rev = mx_xmalloc((rev_off[n_x] + 1) * sizeof(*rev));
	uint32_t *fill = mx_xcalloc(n_x + 1, sizeof(*fill));
	for (size_t i = 0; i < n_x; i++) {
		const uint32_t *e = rs_edges(r, xs[i]);
		for (uint32_t k = 0; k < r->nodes[xs[i]].n_edges; k++)
			if (xi[e[k]] != RS_NONE) {
				uint32_t t = xi[e[k]];
				rev[rev_off[t] + fill[t]++] = (uint32_t)i;
			}
	}
	free(fill);

	heap = mx_xmalloc((n_x + 1) * sizeof(*heap));
	*out = mx_xmalloc((n_x + 1) * sizeof(**out));
	*n_out = 0;
	size_t n_heap = 0;
	for (size_t i = 0; i < n_x; i++)
		if (!outdeg[i])
			rs_heap_push(r, heap, &n_heap, xs[i]);
	while (n_heap) {
		uint32_t x = rs_heap_pop(r, heap, &n_heap);
		r->nodes[x].flags |= RS_SORTED;
		(*out)[(*n_out)++] = x;
		uint32_t t = xi[x];
		for (uint32_t k = rev_off[t]; k < rev_off[t + 1]; k++)
			if (!--outdeg[rev[k]])
				rs_heap_push(r, heap, &n_heap, xs[rev[k]]);
	}

	free(xi);
	free(xs);
	free(outdeg);
	free(rev_off);
	free(rev);
	free(heap);
}

/* The power levels event in n's auth events, loading n's edges. */
static int rs_next_pl(struct rs *r, uint32_t n, uint32_t *out)
{
	int rc = rs_expand(r, n);
	if (rc)
		return rc;
	*out = rs_auth_of_type(r, n, T_POWER_LEVELS);
	return 0;
}

struct rs_mlkey {
	int64_t depth;
	int64_t ts;
	const char *id;
	uint32_t node;
};

/* SPEC: rooms/v2#definitions, mainline ordering (as depths from the oldest). */
static int rs_mlkey_cmp(const void *pa, const void *pb)
{
	const struct rs_mlkey *a = pa, *b = pb;
	if (a->depth != b->depth)
		return a->depth < b->depth ? -1 : 1;
	if (a->ts != b->ts)
		return a->ts < b->ts ? -1 : 1;
	return strcmp(a->id, b->id);
}

/*
 * Sort list by mainline ordering based on the power levels event pl_id
 * (NULL: no power levels, so every position is "infinite"). Positions are
 * kept as depths from the oldest mainline event (1, 2, ...; 0 for none),
 * which sorts ascending exactly as the spec's positions sort descending.
 * The walk from each event is memoised per node.
 */
static int rs_mainline_sort(struct rs *r, const char *pl_id, uint32_t *list, size_t n)
{
	uint32_t *ml = NULL, *path = NULL;
	size_t n_ml = 0, cap_ml = 0, n_path = 0, cap_path = 0;
	struct rs_mlkey *keys = NULL;
	int rc = 0;

	if (!n)
		return 0;
	if (pl_id) {
		uint32_t p;
		if ((rc = rs_intern(r, pl_id, &p)))
			goto out;
		while (p != RS_NONE && r->nodes[p].ev && !r->nodes[p].ml_pos) {
			if (n_ml == cap_ml) {
				cap_ml = cap_ml ? 2 * cap_ml : 16;
				ml = mx_xrealloc(ml, cap_ml * sizeof(*ml));
			}
			ml[n_ml++] = p;
			r->nodes[p].ml_pos = -1; /* on the mainline; numbered below */
			if ((rc = rs_next_pl(r, p, &p)))
				goto out;
		}
		for (size_t i = 0; i < n_ml; i++)
			r->nodes[ml[i]].ml_pos = (int64_t)(n_ml - i);
	}

	keys = mx_xmalloc(n * sizeof(*keys));
	for (size_t i = 0; i < n; i++) {
		/* As Synapse: the event itself, then the power levels chain under it. */
		uint32_t c = list[i];
		int64_t depth = 0;
		n_path = 0;
		while (c != RS_NONE) {
			struct rs_node *cn = &r->nodes[c];
			if (cn->ml_pos) {
				depth = cn->ml_pos;
				break;
			}
			if (cn->ml_depth >= 0) {
				depth = cn->ml_depth;
				break;
			}
			if (n_path == cap_path) {
				cap_path = cap_path ? 2 * cap_path : 16;
				path = mx_xrealloc(path, cap_path * sizeof(*path));
			}
			path[n_path++] = c;
			cn->ml_depth = 0; /* provisional: a cycle ends the walk at depth 0 */
			if ((rc = rs_next_pl(r, c, &c)))
				goto out;
		}
		for (size_t k = 0; k < n_path; k++)
			r->nodes[path[k]].ml_depth = depth;
		keys[i] = (struct rs_mlkey){depth, r->nodes[list[i]].ts, r->nodes[list[i]].id, list[i]};
	}
	qsort(keys, n, sizeof(*keys), rs_mlkey_cmp);
	for (size_t i = 0; i < n; i++)
		list[i] = keys[i].node;
out:
	free(ml);
	free(path);
	free(keys);
	return rc;
}

/*
 * SPEC: rooms/v2#definitions, unconflicted state map and conflicted state
 * set: a key is unconflicted only if every state has it with one value.
 */
static int rs_separate_v2(struct rs *r, struct mx_state_map *const *states, size_t n_states,
			  struct mx_state_map *unc, uint32_t **seeds, size_t *n_seeds,
			  size_t *n_conflicted)
{
	const char **vals = mx_xmalloc(n_states * sizeof(*vals));
	int rc = 0;

	*n_conflicted = 0;
	for (size_t i = 0; i < n_states; i++) {
		size_t it = 0;
		const char *t, *k, *id;
		while (mx_state_map_next(states[i], &it, &t, &k, &id)) {
			bool seen = false, same = true;
			for (size_t j = 0; j < i && !seen; j++)
				seen = mx_state_map_get(states[j], t, k) != NULL;
			if (seen)
				continue;
			for (size_t j = 0; j < n_states; j++) {
				vals[j] = j == i ? id : mx_state_map_get(states[j], t, k);
				if (!vals[j] || strcmp(vals[j], id))
					same = false;
			}
			if (same) {
				mx_state_map_set(unc, t, k, id);
				continue;
			}
			for (size_t j = 0; j < n_states; j++) {
				uint32_t n;
				if (!vals[j])
					continue;
				if ((rc = rs_intern(r, vals[j], &n)))
					goto out;
				if (!(r->nodes[n].flags & RS_CONFLICTED)) {
					r->nodes[n].flags |= RS_CONFLICTED;
					(*n_conflicted)++;
				}
				/* Grow at powers of two (the count is the capacity's witness). */
				if (!(n_seeds[j] & (n_seeds[j] - 1)))
					seeds[j] = mx_xrealloc(seeds[j], (n_seeds[j] ? 2 * n_seeds[j] : 1) *
									     sizeof(**seeds));
				seeds[j][n_seeds[j]++] = n;
			}
		}
	}
out:
	free(vals);
	return rc;
}

/* The final state: the unconflicted map over the resolved one (step 5). */
static struct mx_state_map *rs_merge(const struct mx_state_map *unc,
				     const struct mx_state_map *w)
{
	struct mx_state_map *out = mx_state_map_copy(unc);
	size_t it = 0;
	const char *t, *k, *id;
	while (mx_state_map_next(w, &it, &t, &k, &id))
		if (!mx_state_map_get(unc, t, k))
			mx_state_map_set(out, t, k, id);
	mx_state_map_sort(out);
	return out;
}

/* SPEC: rooms/v2#algorithm and rooms/v12#algorithm. */
static int rs_resolve_v2(struct rs *r, struct mx_state_map *const *states, size_t n_states,
			 struct mx_state_map **out)
{
	bool v21 = r->v->state_res == MX_STATE_RES_V21;
	struct mx_state_map *unc = mx_state_map_new(), *w = mx_state_map_new();
	uint32_t **seeds = mx_xcalloc(n_states, sizeof(*seeds));
	size_t *n_seeds = mx_xcalloc(n_states, sizeof(*n_seeds));
	uint32_t *sorted = NULL, *left = NULL;
	size_t n_conflicted, n_sorted = 0, n_left = 0;
	int rc;

	if ((rc = rs_separate_v2(r, states, n_states, unc, seeds, n_seeds, &n_conflicted)))
		goto out;
	if (!n_conflicted) {
		mx_state_map_sort(unc);
		*out = unc;
		unc = NULL;
		goto out;
	}
	r->bits = mx_xcalloc((size_t)r->cap_nodes * r->words, sizeof(*r->bits));

	/* Auth chains of each state's conflicted entries (inclusive, as Synapse). */
	for (size_t i = 0; i < n_states; i++) {
		for (size_t k = 0; k < n_seeds[i]; k++)
			rs_push(r, seeds[i][k]);
		if ((rc = rs_walk_bit(r, i)))
			goto out;
	}
	uint32_t n_anc = r->n_nodes; /* every node so far is an ancestor of a conflicted one */

	/*
	 * SPEC: rooms/v2#definitions, auth difference. An event in every
	 * state's chain is not in it; candidates are the rest, minus the
	 * conflicted events (in the full conflicted set anyway).
	 */
	size_t n_cand = 0;
	for (uint32_t n = 0; n < n_anc; n++) {
		const uint64_t *b = rs_bits(r, n);
		bool all = true;
		for (size_t i = 0; i < n_states && all; i++)
			all = b[i / 64] >> (i % 64) & 1;
		if (!all && !(r->nodes[n].flags & RS_CONFLICTED)) {
			r->nodes[n].flags |= RS_CAND;
			n_cand++;
		}
	}
	/*
	 * Which candidates does the unconflicted state reach? Cheapest first:
	 * a candidate that is itself unconflicted state, then the unconflicted
	 * event now at a candidate's key (usually its descendant), then all of
	 * the unconflicted state. Every step stops once no candidate is left.
	 */
	size_t n_left_cand = n_cand;
	for (int pass = 0; pass < 2 && n_left_cand; pass++) {
		for (uint32_t n = 0; n < n_anc && n_left_cand; n++) {
			const struct rs_node *c = &r->nodes[n];
			if ((c->flags & (RS_CAND | RS_UREACH)) != RS_CAND || !c->ev || !c->state_key)
				continue;
			const char *id = mx_state_map_get(unc, c->type, c->state_key);
			uint32_t u;
			if (!id || (pass == 0 && strcmp(id, c->id)))
				continue;
			if ((rc = rs_intern(r, id, &u)) || (rc = rs_ureach_from(r, u, &n_left_cand)))
				goto out;
		}
	}
	/* The few non-member events first: in a big room members are the bulk. */
	for (int pass = 0; pass < 2 && n_left_cand; pass++) {
		size_t it = 0;
		const char *ut, *uid;
		while (n_left_cand && mx_state_map_next(unc, &it, &ut, NULL, &uid)) {
			uint32_t u;
			if ((pass == 0) == !strcmp(ut, T_MEMBER))
				continue;
			if ((rc = rs_intern(r, uid, &u)) || (rc = rs_ureach_from(r, u, &n_left_cand)))
				goto out;
		}
	}

	/* SPEC: rooms/v12#definitions, full conflicted set (with the subgraph in v2.1). */
	if (v21)
		rs_mark_subgraph(r, n_anc);
	for (uint32_t n = 0; n < n_anc; n++) {
		struct rs_node *c = &r->nodes[n];
		bool in = (c->flags & RS_CONFLICTED) ||
			  ((c->flags & RS_CAND) && !(c->flags & RS_UREACH)) ||
			  (v21 && (c->flags & RS_SUB));
		if (in && c->ev && c->state_key)
			c->flags |= RS_FCS;
	}

	/* Steps 1 and 2: power events, from the unconflicted state (v2) or empty (v2.1). */
	const struct mx_state_map *base = v21 ? NULL : unc;
	rs_power_sort(r, &sorted, &n_sorted);
	rs_iterate(r, w, base, sorted, n_sorted);

	/* Steps 3 and 4: the rest, by mainline of the partially resolved power levels. */
	left = mx_xmalloc((size_t)(n_anc ? n_anc : 1) * sizeof(*left));
	for (uint32_t n = 0; n < n_anc; n++)
		if ((r->nodes[n].flags & (RS_FCS | RS_SORTED)) == RS_FCS)
			left[n_left++] = n;
	const char *pl = mx_state_map_get(w, T_POWER_LEVELS, "");
	if (!pl && base)
		pl = mx_state_map_get(base, T_POWER_LEVELS, "");
	if ((rc = rs_mainline_sort(r, pl, left, n_left)))
		goto out;
	rs_iterate(r, w, base, left, n_left);

	/* Step 5. */
	*out = rs_merge(unc, w);
out:
	for (size_t i = 0; i < n_states; i++)
		free(seeds[i]);
	free(seeds);
	free(n_seeds);
	free(sorted);
	free(left);
	mx_state_map_free(unc);
	mx_state_map_free(w);
	return rc;
}

/* --- v1 ----------------------------------------------------------------- */

struct rs_v1ev {
	uint32_t node;
	int64_t depth;
	unsigned char sha1[20];
};

/* SPEC: rooms/v1#state-resolution: by depth descending, then sha1(event_id) ascending. */
static int rs_v1_cmp(const void *pa, const void *pb)
{
	const struct rs_v1ev *a = pa, *b = pb;
	if (a->depth != b->depth)
		return a->depth > b->depth ? -1 : 1;
	return memcmp(a->sha1, b->sha1, sizeof(a->sha1));
}

struct rs_v1key {
	const char *type, *state_key; /* borrowed from the input maps */
	struct rs_v1ev *evs;
	size_t n;
	uint32_t winner;
};

static bool rs_v1_allowed(struct rs *r, const struct mx_state_map *rstate, uint32_t n,
			  const json_t *ov_ev)
{
	const struct rs_node *e = &r->nodes[n];
	struct rs_authctx a = {.r = r, .w = rstate, .node = RS_NONE,
			       .ov_type = ov_ev ? e->type : NULL, .ov_key = e->state_key,
			       .ov_ev = ov_ev};
	struct mx_auth_state st = {.get = rs_auth_get, .ctx = &a};
	return mx_auth_check(r->v, e->ev, &st, NULL) == 0;
}

/*
 * An auth event key (power levels, join rules, members): starting from the
 * lowest depth, take each event while it passes auth against R with the
 * previous one in place; stop at the first that fails. As Synapse.
 */
static uint32_t rs_v1_auth_key(struct rs *r, const struct mx_state_map *rstate,
			       const struct rs_v1key *k)
{
	/* k->evs is in descending order: walk it from the end. */
	uint32_t prev = k->evs[k->n - 1].node;
	for (size_t i = k->n - 1; i-- > 0;) {
		uint32_t cur = k->evs[i].node;
		if (!rs_v1_allowed(r, rstate, cur, r->nodes[prev].ev))
			break;
		prev = cur;
	}
	return prev;
}

/* Other keys: the first (highest depth, lowest sha1) that passes, else the last. */
static uint32_t rs_v1_normal_key(struct rs *r, const struct mx_state_map *rstate,
				 const struct rs_v1key *k)
{
	for (size_t i = 0; i < k->n; i++)
		if (rs_v1_allowed(r, rstate, k->evs[i].node, NULL))
			return k->evs[i].node;
	return k->evs[k->n - 1].node;
}

/* SPEC: rooms/v1#state-resolution, with Synapse's reading of it. */
static int rs_resolve_v1(struct rs *r, struct mx_state_map *const *states, size_t n_states,
			 struct mx_state_map **out)
{
	struct mx_state_map *unc = mx_state_map_new(), *rstate = NULL;
	struct rs_v1key *keys = NULL;
	size_t n_keys = 0, cap_keys = 0;
	int rc = 0;

	/* A conflict is a key with different event ids in two states; a missing key is none. */
	for (size_t i = 0; i < n_states; i++) {
		size_t it = 0;
		const char *t, *k, *id;
		while (mx_state_map_next(states[i], &it, &t, &k, &id)) {
			bool seen = false, conflict = false;
			for (size_t j = 0; j < i && !seen; j++)
				seen = mx_state_map_get(states[j], t, k) != NULL;
			if (seen)
				continue;
			for (size_t j = i + 1; j < n_states && !conflict; j++) {
				const char *o = mx_state_map_get(states[j], t, k);
				conflict = o && strcmp(o, id);
			}
			if (!conflict) {
				mx_state_map_set(unc, t, k, id);
				continue;
			}
			struct rs_v1key key = {.type = t, .state_key = k};
			for (size_t j = i; j < n_states; j++) {
				const char *o = mx_state_map_get(states[j], t, k);
				uint32_t n;
				if (!o)
					continue;
				if ((rc = rs_intern(r, o, &n))) {
					free(key.evs);
					goto out;
				}
				bool dup = false;
				for (size_t q = 0; q < key.n && !dup; q++)
					dup = key.evs[q].node == n;
				if (dup || !r->nodes[n].ev || !r->nodes[n].state_key)
					continue;
				key.evs = mx_xrealloc(key.evs, (key.n + 1) * sizeof(*key.evs));
				struct rs_v1ev *e = &key.evs[key.n++];
				e->node = n;
				e->depth = json_integer_value(json_object_get(r->nodes[n].ev, "depth"));
				EVP_Digest(o, strlen(o), e->sha1, NULL, EVP_sha1(), NULL);
			}
			/* As Synapse: unknown events drop out, and a lone survivor is unconflicted. */
			if (key.n <= 1) {
				if (key.n == 1)
					mx_state_map_set(unc, t, k, r->nodes[key.evs[0].node].id);
				free(key.evs);
				continue;
			}
			qsort(key.evs, key.n, sizeof(*key.evs), rs_v1_cmp);
			if (n_keys == cap_keys) {
				cap_keys = cap_keys ? 2 * cap_keys : 16;
				keys = mx_xrealloc(keys, cap_keys * sizeof(*keys));
			}
			keys[n_keys++] = key;
		}
	}

	/* R: the unconflicted state, then power levels, join rules, members, the rest. */
	rstate = mx_state_map_copy(unc);
	static const char *const phases[] = {T_POWER_LEVELS, T_JOIN_RULES, T_MEMBER, NULL};
	for (size_t p = 0; p < MX_ARRAY_LEN(phases); p++) {
		for (size_t i = 0; i < n_keys; i++) {
			struct rs_v1key *k = &keys[i];
			bool mine = phases[p] ? !strcmp(k->type, phases[p]) &&
						(p != 0 || !*k->state_key)
					      : !k->winner;
			if (!mine || k->winner)
				continue;
			k->winner = 1 + (phases[p] ? rs_v1_auth_key(r, rstate, k)
						   : rs_v1_normal_key(r, rstate, k));
		}
		/* Each pass sees the winners of the earlier passes only. */
		for (size_t i = 0; i < n_keys; i++)
			if (keys[i].winner)
				mx_state_map_set(rstate, keys[i].type, keys[i].state_key,
						 r->nodes[keys[i].winner - 1].id);
	}

	for (size_t i = 0; i < n_keys; i++)
		mx_state_map_set(unc, keys[i].type, keys[i].state_key,
				 r->nodes[keys[i].winner - 1].id);
	mx_state_map_sort(unc);
	*out = unc;
	unc = NULL;
out:
	for (size_t i = 0; i < n_keys; i++)
		free(keys[i].evs);
	free(keys);
	mx_state_map_free(unc);
	mx_state_map_free(rstate);
	return rc;
}

/* --- entry point ------------------------------------------------------------ */

int mx_state_resolve(const struct mx_room_version *v, struct mx_state_map *const *states,
		     size_t n_states, mx_state_fetch_fn fetch, void *ctx,
		     struct mx_state_map **out)
{
	struct rs r;
	int rc;

	*out = NULL;
	if (!v || (n_states && (!states || !fetch)))
		return MX_EINVALID;
	if (n_states == 0) {
		*out = mx_state_map_new();
		return 0;
	}
	if (n_states == 1) {
		*out = mx_state_map_copy(states[0]);
		mx_state_map_sort(*out);
		return 0;
	}

	rs_init(&r, v, fetch, ctx, n_states);
	switch (v->state_res) {
	case MX_STATE_RES_V1:
		rc = rs_resolve_v1(&r, states, n_states, out);
		break;
	case MX_STATE_RES_V2:
	case MX_STATE_RES_V21:
		rc = rs_resolve_v2(&r, states, n_states, out);
		break;
	default:
		rc = MX_EINVALID;
		break;
	}
	rs_release(&r);
	if (rc) {
		mx_state_map_free(*out);
		*out = NULL;
	}
	return rc;
}
