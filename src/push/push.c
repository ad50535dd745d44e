/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Push at run time: the rules cache, the room listener, the writer thread
 * for push actions and the unread counts. See push.h.
 *
 * Locks: p->lock guards the cache and the queue; p->db_lock guards the
 * listener's own read connection and worker (room state reads and cache
 * misses on the listener's path); p->edit_lock serialises read-modify-write
 * of users' stored rules. Order: db_lock, then a room's lock (inside
 * mx_room_*), then p->lock; never the other way.
 */
#include "push/push.h"

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
#include "core/server.h"
#include "db/db.h"
#include "push/rules.h"
#include "room/room.h"
#include "store/account_data.h"
#include "store/push.h"
#include "store/receipts.h"

#define MX_PUSH_CACHE_BUCKETS 1024  /* power of two */
#define MX_PUSH_CACHE_MAX 65536     /* entries; past it the cache starts over */

struct mx_push_cache_entry {
	struct mx_push_cache_entry *next;
	char *user_id;
	struct mx_push_rules *rules;
};

struct mx_push {
	struct mx_server *srv;
	pthread_mutex_t lock;
	/* the rules cache */
	struct mx_push_cache_entry *buckets[MX_PUSH_CACHE_BUCKETS];
	size_t n_cached;
	uint64_t gen;                   /* bumped by every invalidation */
	struct mx_push_rules *defaults; /* shared by users with no rules of their own */
	/* the listener's database access */
	pthread_mutex_t db_lock;
	struct mx_worker w;
	/* rules edits */
	pthread_mutex_t edit_lock;
	/* the write queue */
	struct mx_store_push_row *queue, *inflight;
	size_t n_queue, cap_queue, n_inflight;
	uint64_t queued_seq, flushed_seq;
	pthread_cond_t wake, flushed;
	bool stop;
	pthread_t thread;
};

static uint64_t mx_push_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* ---- the rules cache ---- */

static void mx_push_cache_clear(struct mx_push *p)
{
	for (size_t i = 0; i < MX_PUSH_CACHE_BUCKETS; i++) {
		for (struct mx_push_cache_entry *e = p->buckets[i], *next; e; e = next) {
			next = e->next;
			mx_push_rules_unref(e->rules);
			free(e->user_id);
			free(e);
		}
		p->buckets[i] = NULL;
	}
	p->n_cached = 0;
}

/* Compile a user's stored rules (content NULL or unreadable: defaults). */
static struct mx_push_rules *mx_push_compile(struct mx_push *p, const char *content)
{
	json_t *stored = content ? json_loads(content, 0, NULL) : NULL;
	struct mx_push_rules *r;
	if (json_is_object(stored))
		r = mx_push_rules_new(stored);
	else
		r = p ? mx_push_rules_ref(p->defaults) : mx_push_rules_new(NULL);
	json_decref(stored);
	return r;
}

struct mx_push_rules *mx_push_rules_for(struct mx_push *p, struct mx_db_conn *c,
					const char *user_id)
{
	size_t b = mx_push_hash(user_id) & (MX_PUSH_CACHE_BUCKETS - 1);
	pthread_mutex_lock(&p->lock);
	for (struct mx_push_cache_entry *e = p->buckets[b]; e; e = e->next)
		if (!strcmp(e->user_id, user_id)) {
			struct mx_push_rules *r = mx_push_rules_ref(e->rules);
			pthread_mutex_unlock(&p->lock);
			return r;
		}
	uint64_t gen = p->gen;
	pthread_mutex_unlock(&p->lock);

	struct mx_arena a;
	mx_arena_init(&a);
	const char *content = NULL;
	int rc = mx_store_account_data_get(c, &a, user_id, NULL, MX_PUSH_RULES_TYPE, &content);
	if (rc && rc != MX_ENOTFOUND)
		mx_log_warn("push: reading the rules of %s: %s", user_id, mx_error_message(rc));
	struct mx_push_rules *r = mx_push_compile(p, rc ? NULL : content);
	mx_arena_release(&a);
	if (rc && rc != MX_ENOTFOUND)
		return r; /* not cached: try again next time */

	pthread_mutex_lock(&p->lock);
	/* An edit since we read would make what we read stale: do not cache it. */
	if (gen == p->gen) {
		if (p->n_cached >= MX_PUSH_CACHE_MAX)
			mx_push_cache_clear(p);
		struct mx_push_cache_entry *e = mx_xcalloc(1, sizeof(*e));
		e->user_id = mx_xstrdup(user_id);
		e->rules = mx_push_rules_ref(r);
		e->next = p->buckets[b];
		p->buckets[b] = e;
		p->n_cached++;
	}
	pthread_mutex_unlock(&p->lock);
	return r;
}

static void mx_push_invalidate(struct mx_push *p, const char *user_id)
{
	size_t b = mx_push_hash(user_id) & (MX_PUSH_CACHE_BUCKETS - 1);
	pthread_mutex_lock(&p->lock);
	p->gen++;
	for (struct mx_push_cache_entry **pp = &p->buckets[b]; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->user_id, user_id)) {
			struct mx_push_cache_entry *e = *pp;
			*pp = e->next;
			mx_push_rules_unref(e->rules);
			free(e->user_id);
			free(e);
			p->n_cached--;
			break;
		}
	pthread_mutex_unlock(&p->lock);
}

int mx_push_rules_edit(struct mx_push *p, struct mx_db_conn *c, const char *user_id,
		       mx_push_edit_fn fn, void *arg, const char **why)
{
	struct mx_arena a;
	mx_arena_init(&a);
	pthread_mutex_lock(&p->edit_lock);
	const char *content = NULL;
	json_t *stored = NULL;
	char *text = NULL;
	int rc = mx_store_account_data_get(c, &a, user_id, NULL, MX_PUSH_RULES_TYPE, &content);
	if (rc && rc != MX_ENOTFOUND)
		goto out;
	stored = content ? json_loads(content, 0, NULL) : NULL;
	if (!json_is_object(stored)) {
		json_decref(stored);
		stored = json_object();
	}
	rc = fn(stored, arg, why);
	if (rc)
		goto out;
	text = json_dumps(stored, JSON_COMPACT);
	if (!text) {
		rc = MX_EUNKNOWN;
		goto out;
	}
	if (strlen(text) > MX_PUSH_STORED_MAX) {
		*why = "the push rules would be too large";
		rc = MX_EBADREQUEST;
		goto out;
	}
	rc = mx_store_account_data_put(p->srv->db, user_id, NULL, MX_PUSH_RULES_TYPE, text, NULL);
	if (!rc)
		mx_push_invalidate(p, user_id);
out:
	pthread_mutex_unlock(&p->edit_lock);
	free(text);
	json_decref(stored);
	mx_arena_release(&a);
	return rc;
}

json_t *mx_push_rules_client_json(const char *user_id, const char *content)
{
	struct mx_push_rules *r = mx_push_compile(NULL, content);
	json_t *v = mx_push_rules_to_json(r, user_id);
	mx_push_rules_unref(r);
	return v;
}

bool mx_push_rules_missing(const json_t *events)
{
	size_t i;
	json_t *e;
	json_array_foreach (events, i, e) {
		const char *type = json_string_value(json_object_get(e, "type"));
		if (type && !strcmp(type, MX_PUSH_RULES_TYPE))
			return false;
	}
	return true;
}

/* ---- the write queue ---- */

static void mx_push_row_free(struct mx_store_push_row *r)
{
	free((char *)r->user_id);
	free((char *)r->room_id);
	free((char *)r->event_id);
	free((char *)r->thread_id);
	free((char *)r->actions);
}

static void *mx_push_writer(void *arg)
{
	struct mx_push *p = arg;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->n_queue && !p->stop)
			pthread_cond_wait(&p->wake, &p->lock);
		if (!p->n_queue)
			break;
		struct mx_store_push_row *rows = p->queue;
		size_t n = p->n_queue;
		uint64_t seq = p->queued_seq;
		p->inflight = rows;
		p->n_inflight = n;
		p->queue = NULL;
		p->n_queue = p->cap_queue = 0;
		pthread_mutex_unlock(&p->lock);

		int rc = mx_store_push_add(p->srv->db, rows, n);
		if (rc)
			mx_log_error("push: storing %zu notification rows failed: %s", n,
				     mx_error_message(rc));

		pthread_mutex_lock(&p->lock);
		p->inflight = NULL;
		p->n_inflight = 0;
		p->flushed_seq = seq;
		pthread_cond_broadcast(&p->flushed);
		pthread_mutex_unlock(&p->lock);
		for (size_t i = 0; i < n; i++)
			mx_push_row_free(&rows[i]);
		free(rows);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Queue rows (their strings now belong to the queue). */
static void mx_push_enqueue(struct mx_push *p, struct mx_store_push_row *rows, size_t n)
{
	if (!n)
		return;
	pthread_mutex_lock(&p->lock);
	if (p->n_queue + n > p->cap_queue) {
		size_t cap = p->cap_queue ? p->cap_queue : 64;
		while (cap < p->n_queue + n)
			cap *= 2;
		p->queue = mx_xrealloc(p->queue, cap * sizeof(*p->queue));
		p->cap_queue = cap;
	}
	memcpy(p->queue + p->n_queue, rows, n * sizeof(*rows));
	p->n_queue += n;
	p->queued_seq++;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
}

static bool mx_push_rows_have(const struct mx_store_push_row *rows, size_t n, const char *user_id)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(rows[i].user_id, user_id))
			return true;
	return false;
}

void mx_push_wait_user(struct mx_push *p, const char *user_id)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	if (mx_push_rows_have(p->queue, p->n_queue, user_id) ||
	    mx_push_rows_have(p->inflight, p->n_inflight, user_id)) {
		uint64_t target = p->queued_seq;
		while (p->flushed_seq < target && !p->stop)
			pthread_cond_wait(&p->flushed, &p->lock);
	}
	pthread_mutex_unlock(&p->lock);
}

/* ---- the listener ---- */

static bool mx_push_is_local(struct mx_push *p, const char *user_id)
{
	const char *colon = user_id ? strchr(user_id, ':') : NULL;
	return colon && !strcmp(colon + 1, p->srv->cfg->server_name);
}

/* The thread of an event from its own relation: "main", its thread root,
 * or NULL when it relates to another event (resolved in the write). */
static const char *mx_push_event_thread(const json_t *pdu)
{
	const json_t *rel = json_object_get(json_object_get(pdu, "content"), "m.relates_to");
	const char *rel_type = json_string_value(json_object_get(rel, "rel_type"));
	const char *parent = json_string_value(json_object_get(rel, "event_id"));
	if (!json_is_object(rel) || !parent)
		return MX_RECEIPT_MAIN_THREAD;
	if (rel_type && !strcmp(rel_type, "m.thread"))
		return parent;
	return NULL;
}

/* One recipient's inputs, gathered under db_lock. */
struct mx_push_target {
	const char *user_id;
	struct mx_push_rules *rules;
	const char *display_name;
};

static void mx_push_add_row(struct mx_store_push_row **rows, size_t *n, size_t *cap,
			    const struct mx_store_push_row *r)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		*rows = mx_xrealloc(*rows, *cap * sizeof(**rows));
	}
	(*rows)[(*n)++] = *r;
}

void mx_push_on_room_event(void *ctx, const struct mx_room_event *ev)
{
	struct mx_push *p = ctx;
	struct mx_rooms *rooms = p->srv->rooms;
	bool local_sender = mx_push_is_local(p, ev->sender);
	size_t n_targets = 0;
	for (size_t i = 0; i < ev->n_local_users; i++)
		if (strcmp(ev->local_users[i], ev->sender) != 0)
			n_targets++;
	if (!n_targets && !local_sender)
		return;
	const char *thread = mx_push_event_thread(ev->pdu);
	struct mx_store_push_row *rows = NULL;
	size_t n_rows = 0, cap_rows = 0;
	int64_t now = mx_clock_now_ms();

	if (n_targets) {
		struct mx_arena a;
		mx_arena_init(&a);
		struct mx_push_target *t = mx_arena_alloc(&a, n_targets * sizeof(*t));
		json_t *pl = NULL, *create = NULL;
		const char **joined = NULL;
		size_t n_joined = 0, k = 0;
		/* Room state now (at or after the event: listeners run after
		 * the room's lock is released). */
		pthread_mutex_lock(&p->db_lock);
		mx_room_state_get(rooms, &p->w, &a, ev->room_id, "m.room.power_levels", "", &pl, NULL);
		mx_room_state_get(rooms, &p->w, &a, ev->room_id, "m.room.create", "", &create, NULL);
		mx_room_members(rooms, &p->w, &a, ev->room_id, "join", &joined, &n_joined);
		const struct mx_room_version *v = mx_room_version_of(rooms, &p->w, ev->room_id);
		for (size_t i = 0; i < ev->n_local_users; i++) {
			const char *u = ev->local_users[i];
			if (!strcmp(u, ev->sender))
				continue;
			t[k].user_id = u;
			t[k].rules = mx_push_rules_for(p, p->w.rconn, u);
			t[k].display_name = NULL;
			json_t *m = NULL;
			if (mx_push_rules_need_display_name(t[k].rules) &&
			    !mx_room_state_get(rooms, &p->w, &a, ev->room_id, "m.room.member", u, &m, NULL))
				t[k].display_name = json_string_value(
					json_object_get(json_object_get(m, "content"), "displayname"));
			k++;
		}
		pthread_mutex_unlock(&p->db_lock);

		struct mx_push_event pev;
		mx_push_event_init(&pev, ev->pdu);
		struct mx_push_user pu = {
			.member_count = (int64_t)n_joined,
			.sender_power = v ? mx_auth_user_power(v, pl, create, ev->sender) : 0,
			.power_levels = json_object_get(pl, "content"),
		};
		const json_t *last_actions = NULL;
		char *last_text = NULL;
		for (size_t i = 0; i < k; i++) {
			struct mx_push_actions out;
			pu.user_id = t[i].user_id;
			pu.display_name = t[i].display_name;
			mx_push_rules_eval(t[i].rules, &pev, &pu, &out);
			if (out.notify || out.highlight) {
				if (out.actions != last_actions) {
					free(last_text);
					last_text = json_dumps(out.actions, JSON_COMPACT);
					last_actions = out.actions;
				}
				struct mx_store_push_row r = {
					.user_id = mx_xstrdup(t[i].user_id),
					.room_id = mx_xstrdup(ev->room_id),
					.event_id = mx_xstrdup(ev->event_id),
					.event_nid = ev->nid,
					.thread_id = thread ? mx_xstrdup(thread) : NULL,
					.notif = out.notify,
					.highlight = out.highlight,
					.actions = mx_xstrdup(last_text ? last_text : "[]"),
					.ts = now,
				};
				mx_push_add_row(&rows, &n_rows, &cap_rows, &r);
			}
			mx_push_rules_unref(t[i].rules);
		}
		free(last_text);
		mx_push_event_release(&pev);
		mx_arena_release(&a);
	}
	if (local_sender) {
		/* SPEC: #receiving-notifications: sending an event reads what came before it. */
		struct mx_store_push_row r = {
			.user_id = mx_xstrdup(ev->sender),
			.room_id = mx_xstrdup(ev->room_id),
			.event_id = mx_xstrdup(ev->event_id),
			.event_nid = ev->nid,
			.thread_id = thread ? mx_xstrdup(thread) : NULL,
			.mark = true,
			.ts = now,
		};
		mx_push_add_row(&rows, &n_rows, &cap_rows, &r);
	}
	mx_push_enqueue(p, rows, n_rows);
	free(rows);
}

/* ---- counts ---- */

void mx_push_unread(struct mx_push *p, struct mx_db_conn *c, struct mx_arena *a,
		    const char *user_id, const char *room_id, bool by_thread, json_t **unread,
		    json_t **threads)
{
	mx_push_wait_user(p, user_id);
	struct mx_store_push_count *counts;
	size_t n = 0;
	int rc = mx_store_push_counts(c, a, user_id, room_id, &counts, &n);
	if (rc) {
		mx_log_warn("push: counting %s's notifications in %s: %s", user_id, room_id,
			    mx_error_message(rc));
		n = 0;
	}
	int64_t notif = 0, hl = 0;
	json_t *th = by_thread ? json_object() : NULL;
	for (size_t i = 0; i < n; i++) {
		bool main = !strcmp(counts[i].thread_id, MX_RECEIPT_MAIN_THREAD);
		if (!by_thread || main) {
			notif += counts[i].notif;
			hl += counts[i].highlight;
			continue;
		}
		json_object_set_new(th, counts[i].thread_id,
				    json_pack("{s:I, s:I}", "highlight_count", (json_int_t)counts[i].highlight,
					      "notification_count", (json_int_t)counts[i].notif));
	}
	*unread = json_pack("{s:I, s:I}", "highlight_count", (json_int_t)hl, "notification_count",
			    (json_int_t)notif);
	*threads = th;
}

/* ---- lifecycle ---- */

struct mx_push *mx_push_new(struct mx_server *srv)
{
	struct mx_push *p = mx_xcalloc(1, sizeof(*p));
	p->srv = srv;
	pthread_mutex_init(&p->lock, NULL);
	pthread_mutex_init(&p->db_lock, NULL);
	pthread_mutex_init(&p->edit_lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	pthread_cond_init(&p->flushed, NULL);
	p->defaults = mx_push_rules_new(NULL);
	p->w.srv = srv;
	if (mx_db_conn_open(srv->db, &p->w.rconn))
		MX_BUG("push: cannot open a database connection");
	if (pthread_create(&p->thread, NULL, mx_push_writer, p))
		MX_BUG("push: cannot start the writer thread");
	return p;
}

void mx_push_free(struct mx_push *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->wake);
	pthread_cond_broadcast(&p->flushed);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	mx_push_cache_clear(p);
	mx_push_rules_unref(p->defaults);
	mx_db_conn_close(p->w.rconn);
	pthread_cond_destroy(&p->wake);
	pthread_cond_destroy(&p->flushed);
	pthread_mutex_destroy(&p->edit_lock);
	pthread_mutex_destroy(&p->db_lock);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
