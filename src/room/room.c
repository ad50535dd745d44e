/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The room cache and the local event pipeline. See room.h.
 *
 * Locking: rooms->lock guards the hash table of rooms, their reference
 * counts and last-use times; each room's own lock is held for a whole
 * batch (build, authorise, persist, update the cache), so events of one
 * room are ordered and a reader of the cache under the same lock sees a
 * consistent state.
 *
 * The cache is bounded (room_cache_size): every user of a struct mx_room
 * holds a reference from mx_rooms_get() to mx_rooms_put(), and when the
 * table outgrows the bound the least recently used rooms nobody holds are
 * dropped (their state is in the database; the next use reloads it).
 */
#include "room/room.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/rand.h"
#include "core/server.h"
#include "core/strhash.h"
#include "crypto/keys.h"
#include "event/event.h"
#include "event/ids.h"
#include "event/redact.h"
#include "event/refhash.h"
#include "event/version.h"
#include "store/rooms.h"

#define MX_ROOM_BUCKETS 1024 /* power of two; chains grow past it */
#define MX_ROOM_MAX_PREV 20  /* prev_events we cite at most */
#define MX_ROOM_RECENT_TXNS 64

struct mx_state_entry {
	struct mx_state_entry *next;
	char *type;
	char *state_key;
	char *event_id;
	json_t *pdu;
};

struct mx_room {
	struct mx_room *next; /* hash chain */
	unsigned refs;        /* rooms->lock */
	int64_t last_used_ms; /* rooms->lock */
	char *room_id;
	const struct mx_room_version *v;
	pthread_mutex_t lock;
	struct mx_state_entry **state; /* buckets */
	size_t n_state_buckets, n_state;
	char **ext_ids;
	json_t **ext_pdus;
	size_t n_ext;
	int64_t depth;
	bool stale; /* a write failed: reload from the store before the next batch */
	/* Transactions built lately (user, device, txn id -> event id), so a
	 * second send of a transaction still being written gets the first
	 * one's event instead of reaching the writer as a duplicate. */
	struct mx_recent_txn {
		char *key;
		char *event_id;
	} recent_txns[MX_ROOM_RECENT_TXNS];
	unsigned txn_next;
};

struct mx_listener_slot {
	mx_room_listener_fn fn;
	void *ctx;
};

struct mx_rooms {
	struct mx_server *srv;
	pthread_mutex_t lock;
	struct mx_room *buckets[MX_ROOM_BUCKETS];
	size_t n_rooms, max_rooms;
	struct mx_listener_slot listeners[8];
	size_t n_listeners;
	/* Create events get strictly increasing timestamps: in v12 the room id
	 * is the create event's hash, so two identical createRoom calls in one
	 * millisecond would otherwise make the same room. */
	int64_t last_create_ts;
};

/* One built event waiting for the batch's commit. */
struct mx_batch_event {
	json_t *pdu;
	const char *event_id;
	struct mx_persist_event pe;
};

struct mx_room_batch {
	struct mx_rooms *rooms;
	struct mx_worker *w;
	struct mx_arena *a;
	struct mx_room *room;
	bool new_room;
	struct mx_batch_event *evs;
	size_t n, cap;
	/* The state as the batch sees it: overlay entries, newest first. */
	struct mx_state_entry *overlay;
	const char *prev_id;   /* the last event added (the batch's head) */
	json_t *prev_pdu;
	int64_t depth;
};

static uint64_t mx_state_hash(const char *type, const char *state_key)
{
	return mx_strhash(type) * 31 + mx_strhash(state_key);
}

/* ---- the per-room state cache ---- */

static struct mx_state_entry *mx_room_state_find(struct mx_room *r, const char *type,
						 const char *state_key)
{
	if (!r->n_state_buckets)
		return NULL;
	size_t b = mx_state_hash(type, state_key) & (r->n_state_buckets - 1);
	for (struct mx_state_entry *e = r->state[b]; e; e = e->next)
		if (!strcmp(e->type, type) && !strcmp(e->state_key, state_key))
			return e;
	return NULL;
}

static void mx_room_state_grow(struct mx_room *r)
{
	size_t nb = r->n_state_buckets ? r->n_state_buckets * 2 : 64;
	struct mx_state_entry **nv = mx_xcalloc(nb, sizeof(*nv));
	for (size_t i = 0; i < r->n_state_buckets; i++)
		for (struct mx_state_entry *e = r->state[i], *next; e; e = next) {
			next = e->next;
			size_t b = mx_state_hash(e->type, e->state_key) & (nb - 1);
			e->next = nv[b];
			nv[b] = e;
		}
	free(r->state);
	r->state = nv;
	r->n_state_buckets = nb;
}

/* Set (type, state_key) -> (event_id, pdu); takes a reference to pdu. */
static void mx_room_state_set(struct mx_room *r, const char *type, const char *state_key,
			      const char *event_id, json_t *pdu)
{
	struct mx_state_entry *e = mx_room_state_find(r, type, state_key);
	if (e) {
		free(e->event_id);
		json_decref(e->pdu);
	} else {
		if (r->n_state >= r->n_state_buckets)
			mx_room_state_grow(r);
		e = mx_xcalloc(1, sizeof(*e));
		e->type = mx_xstrdup(type);
		e->state_key = mx_xstrdup(state_key);
		size_t b = mx_state_hash(type, state_key) & (r->n_state_buckets - 1);
		e->next = r->state[b];
		r->state[b] = e;
		r->n_state++;
	}
	e->event_id = mx_xstrdup(event_id);
	e->pdu = json_incref(pdu);
}

/*
 * A current state event was redacted: the cache keeps its redacted form,
 * which is what readers and the auth rules must see (SPEC:
 * client-server-api#redactions: redacted state behaves as if its
 * unprotected keys were absent).
 */
static void mx_room_state_redact(struct mx_room *r, const char *event_id)
{
	for (size_t i = 0; i < r->n_state_buckets; i++)
		for (struct mx_state_entry *e = r->state[i]; e; e = e->next) {
			if (strcmp(e->event_id, event_id) != 0)
				continue;
			json_t *red = mx_event_redact(e->pdu, r->v);
			if (red) {
				json_decref(e->pdu);
				e->pdu = red;
			}
			return;
		}
}

static void mx_room_set_extremities(struct mx_room *r, const char *id, json_t *pdu)
{
	for (size_t i = 0; i < r->n_ext; i++) {
		free(r->ext_ids[i]);
		json_decref(r->ext_pdus[i]);
	}
	r->ext_ids = mx_xrealloc(r->ext_ids, sizeof(char *));
	r->ext_pdus = mx_xrealloc(r->ext_pdus, sizeof(json_t *));
	r->ext_ids[0] = mx_xstrdup(id);
	r->ext_pdus[0] = json_incref(pdu);
	r->n_ext = 1;
}

/* Drop the cached state and extremities (not the identity or the lock). */
static void mx_room_reset(struct mx_room *r)
{
	for (size_t i = 0; i < r->n_state_buckets; i++)
		for (struct mx_state_entry *e = r->state[i], *next; e; e = next) {
			next = e->next;
			free(e->type);
			free(e->state_key);
			free(e->event_id);
			json_decref(e->pdu);
			free(e);
		}
	free(r->state);
	for (size_t i = 0; i < r->n_ext; i++) {
		free(r->ext_ids[i]);
		json_decref(r->ext_pdus[i]);
	}
	free(r->ext_ids);
	free(r->ext_pdus);
	r->state = NULL;
	r->n_state_buckets = r->n_state = 0;
	r->ext_ids = NULL;
	r->ext_pdus = NULL;
	r->n_ext = 0;
	r->depth = 0;
	for (size_t i = 0; i < MX_ROOM_RECENT_TXNS; i++) {
		free(r->recent_txns[i].key);
		free(r->recent_txns[i].event_id);
		r->recent_txns[i].key = r->recent_txns[i].event_id = NULL;
	}
}

static void mx_room_free(struct mx_room *r)
{
	mx_room_reset(r);
	pthread_mutex_destroy(&r->lock);
	free(r->room_id);
	free(r);
}

/* ---- loading ---- */

struct mx_room_load {
	struct mx_room *r;
	int err;
};

static int mx_room_load_state_cb(void *ctx, const struct mx_store_event *ev)
{
	struct mx_room_load *l = ctx;
	json_t *pdu = json_loads(ev->json, 0, NULL);
	if (!pdu) {
		l->err = MX_EDB;
		return 1;
	}
	if (ev->redacted_by) { /* as mx_room_state_redact() */
		json_t *red = mx_event_redact(pdu, l->r->v);
		if (red) {
			json_decref(pdu);
			pdu = red;
		}
	}
	mx_room_state_set(l->r, ev->type, ev->state_key, ev->event_id, pdu);
	json_decref(pdu);
	return 0;
}

static int mx_room_load(struct mx_rooms *rooms, struct mx_worker *w, struct mx_room *r)
{
	struct mx_arena a;
	mx_arena_init(&a);
	struct mx_store_room sr;
	int rc = mx_store_room_get(w->rconn, &a, r->room_id, &sr);
	if (rc)
		goto out;
	r->v = mx_room_version_get(sr.version);
	if (!r->v) {
		mx_log_error("room %s has unsupported version %s", r->room_id, sr.version);
		rc = MX_EUNSUPPORTEDROOMVERSION;
		goto out;
	}
	struct mx_room_load l = {r, 0};
	rc = mx_store_room_state(w->rconn, &a, r->room_id, mx_room_load_state_cb, &l);
	if (rc < 0 || l.err) {
		rc = rc < 0 ? rc : l.err;
		goto out;
	}
	const char **ext;
	size_t n_ext;
	rc = mx_store_room_extremities(w->rconn, &a, r->room_id, &ext, &n_ext);
	if (rc)
		goto out;
	r->ext_ids = mx_xcalloc(n_ext ? n_ext : 1, sizeof(char *));
	r->ext_pdus = mx_xcalloc(n_ext ? n_ext : 1, sizeof(json_t *));
	for (size_t i = 0; i < n_ext; i++) {
		struct mx_store_event ev;
		rc = mx_store_event_get(w->rconn, &a, ext[i], &ev);
		if (rc)
			goto out;
		r->ext_ids[r->n_ext] = mx_xstrdup(ext[i]);
		r->ext_pdus[r->n_ext] = json_loads(ev.json, 0, NULL);
		r->n_ext++;
		if (ev.depth > r->depth)
			r->depth = ev.depth;
	}
out:
	mx_arena_release(&a);
	return rc;
}

/* Sort helper for eviction: least recently used first. */
static int mx_rooms_cmp_used(const void *a, const void *b)
{
	const struct mx_room *x = *(struct mx_room *const *)a, *y = *(struct mx_room *const *)b;
	return x->last_used_ms < y->last_used_ms ? -1 : x->last_used_ms > y->last_used_ms;
}

/*
 * Drop least recently used rooms nobody holds until the table is at 90% of
 * its bound (so the O(n) scan runs once per tenth of the bound's loads).
 * Called with rooms->lock held.
 */
static void mx_rooms_evict(struct mx_rooms *rooms)
{
	size_t target = rooms->max_rooms - rooms->max_rooms / 10, n = 0;
	struct mx_room **idle = mx_xcalloc(rooms->n_rooms, sizeof(*idle));
	for (size_t i = 0; i < MX_ROOM_BUCKETS; i++)
		for (struct mx_room *r = rooms->buckets[i]; r; r = r->next)
			if (!r->refs)
				idle[n++] = r;
	qsort(idle, n, sizeof(*idle), mx_rooms_cmp_used);
	for (size_t k = 0; k < n && rooms->n_rooms > target; k++) {
		struct mx_room **pp = &rooms->buckets[mx_strhash(idle[k]->room_id) &
						      (MX_ROOM_BUCKETS - 1)];
		while (*pp != idle[k])
			pp = &(*pp)->next;
		*pp = idle[k]->next;
		mx_room_free(idle[k]);
		rooms->n_rooms--;
	}
	free(idle);
}

/* Add r (holding one reference) to the table. Called with rooms->lock held. */
static void mx_rooms_link(struct mx_rooms *rooms, struct mx_room *r)
{
	size_t b = mx_strhash(r->room_id) & (MX_ROOM_BUCKETS - 1);
	r->refs = 1;
	r->last_used_ms = mx_clock_mono_ms();
	r->next = rooms->buckets[b];
	rooms->buckets[b] = r;
	rooms->n_rooms++;
	if (rooms->n_rooms > rooms->max_rooms)
		mx_rooms_evict(rooms);
}

/* A cached room, referenced (mx_rooms_put), or NULL. rooms->lock held. */
static struct mx_room *mx_rooms_find(struct mx_rooms *rooms, const char *room_id)
{
	size_t b = mx_strhash(room_id) & (MX_ROOM_BUCKETS - 1);
	for (struct mx_room *r = rooms->buckets[b]; r; r = r->next)
		if (!strcmp(r->room_id, room_id)) {
			r->refs++;
			r->last_used_ms = mx_clock_mono_ms();
			return r;
		}
	return NULL;
}

/* Find or load a room, referenced; NULL with *err set if unknown. */
static struct mx_room *mx_rooms_get(struct mx_rooms *rooms, struct mx_worker *w,
				    const char *room_id, int *err)
{
	pthread_mutex_lock(&rooms->lock);
	struct mx_room *r = mx_rooms_find(rooms, room_id);
	pthread_mutex_unlock(&rooms->lock);
	if (r)
		return r;

	r = mx_xcalloc(1, sizeof(*r));
	r->room_id = mx_xstrdup(room_id);
	pthread_mutex_init(&r->lock, NULL);
	*err = mx_room_load(rooms, w, r);
	if (*err) {
		mx_room_free(r);
		return NULL;
	}
	pthread_mutex_lock(&rooms->lock);
	struct mx_room *o = mx_rooms_find(rooms, room_id);
	if (o) { /* another thread loaded it first */
		pthread_mutex_unlock(&rooms->lock);
		mx_room_free(r);
		return o;
	}
	mx_rooms_link(rooms, r);
	pthread_mutex_unlock(&rooms->lock);
	return r;
}

/* Release a reference from mx_rooms_get (or a new room's from its batch). */
static void mx_rooms_put(struct mx_rooms *rooms, struct mx_room *r)
{
	pthread_mutex_lock(&rooms->lock);
	if (!r->refs)
		MX_BUG("room reference count underflow");
	r->refs--;
	pthread_mutex_unlock(&rooms->lock);
}

/* Publish a new room; the caller's reference is kept (mx_rooms_put it). */
static void mx_rooms_insert(struct mx_rooms *rooms, struct mx_room *r)
{
	pthread_mutex_lock(&rooms->lock);
	mx_rooms_link(rooms, r);
	pthread_mutex_unlock(&rooms->lock);
}

struct mx_rooms *mx_rooms_new(struct mx_server *srv)
{
	struct mx_rooms *rooms = mx_xcalloc(1, sizeof(*rooms));
	rooms->srv = srv;
	rooms->max_rooms = srv->cfg && srv->cfg->room_cache_size > 0
				   ? (size_t)srv->cfg->room_cache_size : 2000;
	pthread_mutex_init(&rooms->lock, NULL);
	return rooms;
}

void mx_rooms_free(struct mx_rooms *rooms)
{
	if (!rooms)
		return;
	for (size_t i = 0; i < MX_ROOM_BUCKETS; i++)
		for (struct mx_room *r = rooms->buckets[i], *next; r; r = next) {
			next = r->next;
			mx_room_free(r);
		}
	pthread_mutex_destroy(&rooms->lock);
	free(rooms);
}

void mx_rooms_add_listener(struct mx_rooms *rooms, mx_room_listener_fn fn, void *ctx)
{
	if (rooms->n_listeners == MX_ARRAY_LEN(rooms->listeners))
		MX_BUG("too many room listeners");
	rooms->listeners[rooms->n_listeners].fn = fn;
	rooms->listeners[rooms->n_listeners].ctx = ctx;
	rooms->n_listeners++;
}

void mx_room_new_id(const char *server_name, char out[256])
{
	char rnd[19];
	mx_rand_token(rnd, sizeof(rnd));
	snprintf(out, 256, "!%s:%s", rnd, server_name);
}

/* ---- batches ---- */

static const struct mx_state_entry *mx_batch_find(struct mx_room_batch *b, const char *type,
						  const char *state_key)
{
	for (struct mx_state_entry *e = b->overlay; e; e = e->next)
		if (!strcmp(e->type, type) && !strcmp(e->state_key, state_key))
			return e;
	return mx_room_state_find(b->room, type, state_key);
}

const json_t *mx_room_batch_state(struct mx_room_batch *b, const char *type, const char *state_key)
{
	const struct mx_state_entry *e = mx_batch_find(b, type, state_key);
	return e ? e->pdu : NULL;
}

const struct mx_room_version *mx_room_batch_version(struct mx_room_batch *b)
{
	return b->room->v;
}

static const json_t *mx_batch_auth_get(void *ctx, const char *type, const char *state_key)
{
	return mx_room_batch_state(ctx, type, state_key);
}

static void mx_batch_release(struct mx_room_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		json_decref(b->evs[i].pdu);
	free(b->evs);
	for (struct mx_state_entry *e = b->overlay, *next; e; e = next) {
		next = e->next;
		json_decref(e->pdu);
	}
	b->overlay = NULL;
	b->evs = NULL;
	b->n = 0;
}

int mx_room_batch_begin(struct mx_rooms *rooms, struct mx_worker *w, struct mx_arena *a,
			const char *room_id, struct mx_room_batch **out)
{
	int err = 0;
	struct mx_room *r = mx_rooms_get(rooms, w, room_id, &err);
	if (!r)
		return err;
	struct mx_room_batch *b = mx_arena_alloc(a, sizeof(*b));
	b->rooms = rooms;
	b->w = w;
	b->a = a;
	b->room = r;
	pthread_mutex_lock(&r->lock);
	if (r->stale) {
		mx_room_reset(r);
		err = mx_room_load(rooms, w, r);
		if (err) {
			pthread_mutex_unlock(&r->lock);
			mx_rooms_put(rooms, r);
			return err;
		}
		r->stale = false;
	}
	b->depth = r->depth;
	*out = b;
	return 0;
}

/* A pair [id, {"sha256": hash}] for v1/v2 references, or the bare id. */
static json_t *mx_batch_ref(const struct mx_room_version *v, const char *id, const json_t *pdu)
{
	if (!v->auth_events_are_pairs)
		return json_string(id);
	json_t *hashes = json_object_get(pdu, "hashes");
	return json_pack("[s, O]", id, hashes ? hashes : json_object());
}

static void mx_batch_set_refs(struct mx_room_batch *b, json_t *ev, const struct mx_room_version *v)
{
	json_t *prev = json_array();
	if (b->prev_id) {
		json_array_append_new(prev, mx_batch_ref(v, b->prev_id, b->prev_pdu));
	} else {
		struct mx_room *r = b->room;
		for (size_t i = 0; i < r->n_ext && i < MX_ROOM_MAX_PREV; i++)
			json_array_append_new(prev, mx_batch_ref(v, r->ext_ids[i], r->ext_pdus[i]));
	}
	json_object_set_new(ev, "prev_events", prev);

	struct mx_auth_key keys[MX_AUTH_KEYS_MAX];
	size_t nk = mx_auth_event_types(v, ev, keys, MX_AUTH_KEYS_MAX);
	json_t *auth = json_array();
	for (size_t i = 0; i < nk; i++) {
		const struct mx_state_entry *e = mx_batch_find(b, keys[i].type, keys[i].state_key);
		if (e)
			json_array_append_new(auth, mx_batch_ref(v, e->event_id, e->pdu));
	}
	json_object_set_new(ev, "auth_events", auth);
}

/* Fill the store row of an event (strings borrowed from pdu / the arena). */
static void mx_batch_fill_persist(struct mx_room_batch *b, struct mx_batch_event *be,
				  const struct mx_room_event_spec *spec)
{
	struct mx_persist_event *pe = &be->pe;
	json_t *pdu = be->pdu, *content = json_object_get(pdu, "content");
	pe->event_id = be->event_id;
	pe->room_id = b->room->room_id;
	pe->type = json_string_value(json_object_get(pdu, "type"));
	pe->state_key = json_string_value(json_object_get(pdu, "state_key"));
	pe->sender = json_string_value(json_object_get(pdu, "sender"));
	pe->depth = json_integer_value(json_object_get(pdu, "depth"));
	pe->origin_server_ts = json_integer_value(json_object_get(pdu, "origin_server_ts"));
	pe->json = mx_arena_own(b->a, json_dumps(pdu, JSON_COMPACT | JSON_SORT_KEYS));
	if (pe->state_key && !strcmp(pe->type, "m.room.member"))
		pe->membership = json_string_value(json_object_get(content, "membership"));
	json_t *rel = json_object_get(content, "m.relates_to");
	if (json_is_object(rel)) {
		pe->relates_to = json_string_value(json_object_get(rel, "event_id"));
		pe->rel_type = json_string_value(json_object_get(rel, "rel_type"));
		if (pe->rel_type && !strcmp(pe->rel_type, "m.thread"))
			pe->thread_id = pe->relates_to;
	}
	pe->redacts = spec->redacts;
	if (pe->state_key) {
		const struct mx_state_entry *old = mx_batch_find(b, pe->type, pe->state_key);
		/* Copied: the cache entry may be replaced before the write runs. */
		pe->replaces_state = old ? mx_arena_strdup(b->a, old->event_id) : NULL;
	}
	if (spec->txn_id) {
		pe->txn_user = pe->sender;
		pe->txn_device = spec->txn_device;
		pe->txn_id = spec->txn_id;
	}
	/* prev_events as plain ids for the edges table. */
	json_t *prev = json_object_get(pdu, "prev_events");
	size_t np = json_array_size(prev);
	const char **ids = mx_arena_alloc(b->a, (np ? np : 1) * sizeof(char *));
	for (size_t i = 0; i < np; i++) {
		json_t *p = json_array_get(prev, i);
		ids[i] = json_string_value(json_is_array(p) ? json_array_get(p, 0) : p);
	}
	pe->prev_events = ids;
	pe->n_prev = np;
}

static json_t *mx_batch_build(struct mx_room_batch *b, const struct mx_room_event_spec *spec)
{
	const struct mx_room_version *v = b->room->v;
	json_t *content = spec->content ? json_deep_copy(spec->content) : json_object();
	json_t *ev = json_pack("{s:s, s:s, s:o, s:I, s:I}", "type", spec->type, "sender",
			       spec->sender, "content", content, "origin_server_ts",
			       (json_int_t)(spec->origin_server_ts ? spec->origin_server_ts
								   : mx_clock_now_ms()),
			       "depth", (json_int_t)(b->depth + 1));
	bool v12_create = v->room_id_from_create && !strcmp(spec->type, "m.room.create");
	if (!v12_create)
		json_object_set_new(ev, "room_id", json_string(b->room->room_id));
	if (spec->state_key)
		json_object_set_new(ev, "state_key", json_string(spec->state_key));
	if (spec->redacts) {
		/* SPEC: rooms/v11#event-format: redacts moved into content. */
		if (v->redaction >= MX_REDACT_V11)
			json_object_set_new(content, "redacts", json_string(spec->redacts));
		else
			json_object_set_new(ev, "redacts", json_string(spec->redacts));
	}
	mx_batch_set_refs(b, ev, v);
	return ev;
}

static int mx_batch_append(struct mx_room_batch *b, json_t *pdu, const char *event_id,
			   const struct mx_room_event_spec *spec)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 8;
		b->evs = mx_xrealloc(b->evs, b->cap * sizeof(*b->evs));
	}
	struct mx_batch_event *be = &b->evs[b->n++];
	memset(be, 0, sizeof(*be));
	be->pdu = pdu;
	be->event_id = mx_arena_strdup(b->a, event_id);
	mx_batch_fill_persist(b, be, spec);
	if (spec->state_key) {
		struct mx_state_entry *e = mx_arena_alloc(b->a, sizeof(*e));
		e->type = mx_arena_strdup(b->a, spec->type);
		e->state_key = mx_arena_strdup(b->a, spec->state_key);
		e->event_id = (char *)be->event_id;
		e->pdu = json_incref(pdu);
		e->next = b->overlay;
		b->overlay = e;
	}
	b->prev_id = be->event_id;
	b->prev_pdu = pdu;
	b->depth++;
	return 0;
}

static char *mx_txn_key(const struct mx_room_event_spec *spec)
{
	return mx_xasprintf("%s\x1f%s\x1f%s", spec->sender, spec->txn_device ? spec->txn_device : "",
			    spec->txn_id);
}

/* The event of a transaction built lately in this room, or NULL. */
static const char *mx_room_recent_txn(struct mx_room *r, const struct mx_room_event_spec *spec)
{
	char *key = mx_txn_key(spec);
	const char *found = NULL;
	for (size_t i = 0; i < MX_ROOM_RECENT_TXNS && !found; i++)
		if (r->recent_txns[i].key && !strcmp(r->recent_txns[i].key, key))
			found = r->recent_txns[i].event_id;
	free(key);
	return found;
}

static void mx_room_remember_txn(struct mx_room *r, const struct mx_room_event_spec *spec,
				 const char *event_id)
{
	struct mx_recent_txn *t = &r->recent_txns[r->txn_next++ % MX_ROOM_RECENT_TXNS];
	free(t->key);
	free(t->event_id);
	t->key = mx_txn_key(spec);
	t->event_id = mx_xstrdup(event_id);
}

int mx_room_batch_add(struct mx_room_batch *b, const struct mx_room_event_spec *spec,
		      const char **event_id, const char **why)
{
	const struct mx_room_version *v = b->room->v;
	const struct mx_server *srv = b->rooms->srv;
	*why = NULL;
	if (spec->txn_id) {
		const char *dup = mx_room_recent_txn(b->room, spec);
		if (dup) {
			*event_id = mx_arena_strdup(b->a, dup);
			return MX_EEXISTS;
		}
	}
	json_t *ev = mx_batch_build(b, spec);
	struct mx_auth_state st = {mx_batch_auth_get, b};
	int rc = mx_auth_check(v, ev, &st, why);
	if (rc) {
		json_decref(ev);
		return rc;
	}
	char id[MX_ID_MAX_LEN + 1];
	rc = mx_event_finalize_local(ev, v, srv->cfg->server_name, srv->key, id);
	if (rc) {
		json_decref(ev);
		*why = "The event could not be signed (too large or not canonical JSON)";
		return rc;
	}
	mx_batch_append(b, ev, id, spec);
	*event_id = b->evs[b->n - 1].event_id;
	if (spec->txn_id)
		mx_room_remember_txn(b->room, spec, id);
	return 0;
}

int mx_room_batch_create(struct mx_rooms *rooms, struct mx_worker *w, struct mx_arena *a,
			 const struct mx_room_version *v, const char *creator, json_t *content,
			 struct mx_room_batch **out, const char **room_id_out)
{
	return mx_room_batch_create_id(rooms, w, a, v, NULL, creator, content, out, room_id_out);
}

int mx_room_batch_create_id(struct mx_rooms *rooms, struct mx_worker *w, struct mx_arena *a,
			    const struct mx_room_version *v, const char *room_id, const char *creator,
			    json_t *content, struct mx_room_batch **out, const char **room_id_out)
{
	const struct mx_server *srv = rooms->srv;
	if (room_id && (v->room_id_from_create || strlen(room_id) > MX_ID_MAX_LEN))
		return MX_EINVALID;
	struct mx_room *r = mx_xcalloc(1, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	r->v = v;
	char rid[256] = "";
	if (!v->room_id_from_create) {
		if (room_id)
			snprintf(rid, sizeof(rid), "%s", room_id);
		else
			mx_room_new_id(srv->cfg->server_name, rid);
		r->room_id = mx_xstrdup(rid);
	} else {
		r->room_id = mx_xstrdup(""); /* known once the create event is hashed */
	}
	struct mx_room_batch *b = mx_arena_alloc(a, sizeof(*b));
	b->rooms = rooms;
	b->w = w;
	b->a = a;
	b->room = r;
	b->new_room = true;
	pthread_mutex_lock(&r->lock);

	pthread_mutex_lock(&rooms->lock);
	int64_t ts = mx_clock_now_ms();
	if (ts <= rooms->last_create_ts)
		ts = rooms->last_create_ts + 1;
	rooms->last_create_ts = ts;
	pthread_mutex_unlock(&rooms->lock);
	struct mx_room_event_spec spec = {.type = "m.room.create", .state_key = "", .sender = creator,
					  .content = content, .origin_server_ts = ts};
	const char *why;
	json_t *ev = mx_batch_build(b, &spec);
	struct mx_auth_state st = {mx_batch_auth_get, b};
	char id[MX_ID_MAX_LEN + 1];
	int rc = mx_event_finalize_local(ev, v, srv->cfg->server_name, srv->key, id);
	if (!rc && v->room_id_from_create) {
		rc = mx_event_room_id_from_create(ev, v, rid);
		if (!rc) {
			free(r->room_id);
			r->room_id = mx_xstrdup(rid);
		}
	}
	if (!rc)
		rc = mx_auth_check(v, ev, &st, &why);
	if (rc) {
		json_decref(ev);
		pthread_mutex_unlock(&r->lock);
		mx_room_free(r);
		return rc;
	}
	mx_batch_append(b, ev, id, &spec);
	b->evs[0].pe.new_room_version = v->id;
	b->evs[0].pe.new_room_creator = creator;
	*room_id_out = mx_arena_strdup(a, r->room_id);
	*out = b;
	return 0;
}

/* Local users to wake for ev: joined members and a membership target. */
static void mx_batch_local_users(struct mx_room_batch *b, const struct mx_batch_event *be,
				 const char ***out, size_t *n)
{
	struct mx_room *r = b->room;
	const char *server = b->rooms->srv->cfg->server_name;
	size_t cap = 16, cnt = 0;
	const char **v = mx_arena_alloc(b->a, cap * sizeof(*v));
	for (size_t i = 0; i < r->n_state_buckets; i++)
		for (struct mx_state_entry *e = r->state[i]; e; e = e->next) {
			if (strcmp(e->type, "m.room.member") != 0)
				continue;
			const char *m = json_string_value(
				json_object_get(json_object_get(e->pdu, "content"), "membership"));
			const char *colon = strchr(e->state_key, ':');
			bool target = be->pe.membership && !strcmp(e->state_key, be->pe.state_key);
			if (!m || (!target && strcmp(m, "join") != 0) || !colon ||
			    strcmp(colon + 1, server) != 0)
				continue;
			if (cnt == cap) {
				const char **nv = mx_arena_alloc(b->a, cap * 2 * sizeof(*v));
				memcpy(nv, v, cap * sizeof(*v));
				v = nv;
				cap *= 2;
			}
			v[cnt++] = e->state_key;
		}
	*out = v;
	*n = cnt;
}

/* Call the listeners for the batch's (durable) events. */
static void mx_batch_notify(struct mx_room_batch *b, const struct mx_persist_event *pes,
			    const char ***users, const size_t *n_users)
{
	struct mx_rooms *rooms = b->rooms;
	for (size_t i = 0; i < b->n; i++) {
		struct mx_batch_event *be = &b->evs[i];
		struct mx_room_event re = {
			.room_id = pes[i].room_id,
			.event_id = be->event_id,
			.type = be->pe.type,
			.state_key = be->pe.state_key,
			.sender = be->pe.sender,
			.nid = pes[i].nid,
			.pdu = be->pdu,
			.local_users = users[i],
			.n_local_users = n_users[i],
		};
		for (size_t l = 0; l < rooms->n_listeners; l++)
			rooms->listeners[l].fn(rooms->listeners[l].ctx, &re);
	}
}

/*
 * Commit: the write is queued under the room lock (so events of a room are
 * written in the order they were built) and the cache is updated at once;
 * the lock is released before waiting for durability, so the next event of
 * the room can be built while this one is being written, and concurrent
 * senders share one commit instead of queueing behind each other's fsync.
 * If the write fails the room's cache is marked stale and reloaded by the
 * next batch.
 */
int mx_room_batch_commit(struct mx_room_batch *b)
{
	struct mx_room *r = b->room;
	struct mx_rooms *rooms = b->rooms;
	if (!b->n) {
		mx_room_batch_abort(b);
		return 0;
	}
	struct mx_persist_event *pes = mx_arena_alloc(b->a, b->n * sizeof(*pes));
	const char ***users = mx_arena_alloc(b->a, b->n * sizeof(*users));
	size_t *n_users = mx_arena_alloc(b->a, b->n * sizeof(*n_users));
	for (size_t i = 0; i < b->n; i++)
		pes[i] = b->evs[i].pe;
	struct mx_persist_batch *pb = mx_arena_alloc(b->a, sizeof(*pb));
	mx_store_events_persist_submit(rooms->srv->db, pb, pes, b->n);
	for (size_t i = 0; i < b->n; i++) {
		struct mx_batch_event *be = &b->evs[i];
		if (be->pe.state_key)
			mx_room_state_set(r, be->pe.type, be->pe.state_key, be->event_id, be->pdu);
		if (be->pe.redacts)
			mx_room_state_redact(r, be->pe.redacts);
		mx_batch_local_users(b, be, &users[i], &n_users[i]);
	}
	mx_room_set_extremities(r, b->evs[b->n - 1].event_id, b->evs[b->n - 1].pdu);
	r->depth = b->depth;
	bool new_room = b->new_room;
	b->new_room = false;
	if (!new_room)
		pthread_mutex_unlock(&r->lock);
	int rc = mx_store_events_persist_wait(rooms->srv->db, pb);
	if (rc) {
		if (new_room) {
			pthread_mutex_unlock(&r->lock);
			mx_room_free(r);
		} else {
			pthread_mutex_lock(&r->lock);
			r->stale = true;
			pthread_mutex_unlock(&r->lock);
			mx_rooms_put(rooms, r);
		}
		mx_batch_release(b);
		return rc;
	}
	if (new_room) {
		/* Published only once durable: nobody else can see it before. */
		pthread_mutex_unlock(&r->lock);
		mx_rooms_insert(rooms, r);
	}
	mx_batch_notify(b, pes, users, n_users);
	mx_batch_release(b);
	mx_rooms_put(rooms, r);
	return 0;
}

void mx_room_batch_abort(struct mx_room_batch *b)
{
	mx_batch_release(b);
	pthread_mutex_unlock(&b->room->lock);
	if (b->new_room) {
		mx_room_free(b->room); /* never published */
		b->new_room = false;
	} else {
		mx_rooms_put(b->rooms, b->room);
	}
}

int mx_room_send(struct mx_rooms *rooms, struct mx_worker *w, struct mx_arena *a,
		 const char *room_id, const struct mx_room_event_spec *spec, const char **event_id,
		 const char **why)
{
	struct mx_room_batch *b;
	*why = NULL;
	int rc = mx_room_batch_begin(rooms, w, a, room_id, &b);
	if (rc)
		return rc;
	rc = mx_room_batch_add(b, spec, event_id, why);
	if (rc) {
		mx_room_batch_abort(b);
		return rc;
	}
	return mx_room_batch_commit(b);
}

/* ---- reads ---- */

int mx_room_state_get(struct mx_rooms *rooms, struct mx_worker *w, struct mx_arena *a,
		      const char *room_id, const char *type, const char *state_key,
		      json_t **event, const char **event_id)
{
	int err = 0;
	struct mx_room *r = mx_rooms_get(rooms, w, room_id, &err);
	if (!r)
		return err;
	pthread_mutex_lock(&r->lock);
	struct mx_state_entry *e = mx_room_state_find(r, type, state_key);
	*event = e ? mx_arena_json(a, json_incref(e->pdu)) : NULL;
	if (event_id)
		*event_id = e ? mx_arena_strdup(a, e->event_id) : NULL;
	pthread_mutex_unlock(&r->lock);
	mx_rooms_put(rooms, r);
	return 0;
}

const struct mx_room_version *mx_room_version_of(struct mx_rooms *rooms, struct mx_worker *w,
						 const char *room_id)
{
	int err = 0;
	struct mx_room *r = mx_rooms_get(rooms, w, room_id, &err);
	if (!r)
		return NULL;
	const struct mx_room_version *v = r->v; /* the static version table */
	mx_rooms_put(rooms, r);
	return v;
}

const char *mx_room_membership(struct mx_rooms *rooms, struct mx_worker *w, struct mx_arena *a,
			       const char *room_id, const char *user_id)
{
	json_t *ev;
	if (mx_room_state_get(rooms, w, a, room_id, "m.room.member", user_id, &ev, NULL) || !ev)
		return NULL;
	const char *m = json_string_value(json_object_get(json_object_get(ev, "content"), "membership"));
	return m;
}

int mx_room_members(struct mx_rooms *rooms, struct mx_worker *w, struct mx_arena *a,
		    const char *room_id, const char *m, const char ***users, size_t *n)
{
	int err = 0;
	struct mx_room *r = mx_rooms_get(rooms, w, room_id, &err);
	if (!r)
		return err;
	pthread_mutex_lock(&r->lock);
	size_t cap = 16, cnt = 0;
	const char **v = mx_arena_alloc(a, cap * sizeof(*v));
	for (size_t i = 0; i < r->n_state_buckets; i++)
		for (struct mx_state_entry *e = r->state[i]; e; e = e->next) {
			if (strcmp(e->type, "m.room.member") != 0)
				continue;
			const char *mm = json_string_value(
				json_object_get(json_object_get(e->pdu, "content"), "membership"));
			if (!mm || strcmp(mm, m) != 0)
				continue;
			if (cnt == cap) {
				const char **nv = mx_arena_alloc(a, cap * 2 * sizeof(*v));
				memcpy(nv, v, cap * sizeof(*v));
				v = nv;
				cap *= 2;
			}
			v[cnt++] = mx_arena_strdup(a, e->state_key);
		}
	pthread_mutex_unlock(&r->lock);
	mx_rooms_put(rooms, r);
	*users = v;
	*n = cnt;
	return 0;
}

int mx_room_state_list(struct mx_rooms *rooms, struct mx_worker *w, struct mx_arena *a,
		       const char *room_id, const char *type, json_t ***events, size_t *n)
{
	int err = 0;
	struct mx_room *r = mx_rooms_get(rooms, w, room_id, &err);
	*events = NULL;
	*n = 0;
	if (!r)
		return err;
	pthread_mutex_lock(&r->lock);
	size_t cap = 8, cnt = 0;
	json_t **v = mx_arena_alloc(a, cap * sizeof(*v));
	for (size_t i = 0; i < r->n_state_buckets; i++)
		for (struct mx_state_entry *e = r->state[i]; e; e = e->next) {
			if (strcmp(e->type, type) != 0)
				continue;
			if (cnt == cap) {
				json_t **nv = mx_arena_alloc(a, cap * 2 * sizeof(*v));
				memcpy(nv, v, cap * sizeof(*v));
				v = nv;
				cap *= 2;
			}
			v[cnt++] = mx_arena_json(a, json_incref(e->pdu));
		}
	pthread_mutex_unlock(&r->lock);
	mx_rooms_put(rooms, r);
	*events = v;
	*n = cnt;
	return 0;
}
