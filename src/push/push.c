/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Push at run time: the rules cache, the room listener, the writer thread
 * for push actions and the unread counts. See push.h.
 *
 * Locks: p->lock guards the cache and the queue; p->db_lock guards the
 * listener's own read connection and worker (room state reads and cache
 * misses on the listener's path); p->edit_lock serialises read-modify-write
 * of users' stored rules. Order: db_lock, then a room's lock (inside
 * mx_room_*), then p->lock, then the pushers' lock (the rows listener runs
 * under p->lock); never the other way.
 */
#include "push/push.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/auth.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/server.h"
#include "core/strhash.h"
#include "db/db.h"
#include "push/rules.h"
#include "room/room.h"
#include "store/account_data.h"
#include "store/push.h"
#include "store/receipts.h"

#define MX_PUSH_CACHE_BUCKETS 1024  /* power of two */
#define MX_PUSH_CACHE_MAX 65536     /* entries; past it the cache starts over */
#define MX_PUSH_FLUSH_MS 50         /* the longest rows wait in memory */
#define MX_PUSH_QUEUE_FLUSH 4096    /* rows queued that start a write at once */
#define MX_PUSH_LIST_MAX (1 << 20)  /* bytes of one event's list of users */

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
	/* the write queue: one row per event, owned */
	struct mx_store_push_row *queue, *inflight;
	size_t n_queue, cap_queue, n_inflight;
	int64_t queue_since_ms;         /* monotonic: when the oldest queued row came */
	uint64_t queued_seq, inflight_seq, flushed_seq;
	bool flush_now;                 /* a reader waits for queued rows */
	pthread_cond_t wake, flushed;
	bool stop;
	pthread_t thread;
	/* who gets each row as it is queued (the pushers), under lock */
	mx_push_rows_fn sink;
	void *sink_ctx;
};

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
	size_t b = mx_strhash(user_id) & (MX_PUSH_CACHE_BUCKETS - 1);
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
	size_t b = mx_strhash(user_id) & (MX_PUSH_CACHE_BUCKETS - 1);
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
	free((char *)r->room_id);
	free((char *)r->event_id);
	free((char *)r->thread_id);
	free((char *)r->sender);
	free((char *)r->notify);
	free((char *)r->highlight);
	free((char *)r->actions);
	free((char *)r->actions_other);
}

/* Sleep on p->wake until the monotonic time due_ms (p->lock held). */
static void mx_push_wait_until(struct mx_push *p, int64_t due_ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t wait = due_ms - mx_clock_mono_ms();
	if (wait <= 0)
		return;
	ts.tv_sec += wait / 1000;
	ts.tv_nsec += (wait % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(&p->wake, &p->lock, &ts);
}

/*
 * The writer: rows gather in memory for up to MX_PUSH_FLUSH_MS, then go to
 * the database in one write job (which joins the group commit of whatever
 * else is being written), sooner when a reader needs them (flush_now), the
 * queue is long, or the server stops.
 */
static void *mx_push_writer(void *arg)
{
	struct mx_push *p = arg;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->n_queue && !p->stop)
			pthread_cond_wait(&p->wake, &p->lock);
		if (!p->n_queue)
			break;
		while (!p->stop && !p->flush_now && p->n_queue < MX_PUSH_QUEUE_FLUSH &&
		       mx_clock_mono_ms() < p->queue_since_ms + MX_PUSH_FLUSH_MS)
			mx_push_wait_until(p, p->queue_since_ms + MX_PUSH_FLUSH_MS);
		p->flush_now = false;
		struct mx_store_push_row *rows = p->queue;
		size_t n = p->n_queue;
		uint64_t seq = p->queued_seq;
		p->inflight = rows;
		p->n_inflight = n;
		p->inflight_seq = seq;
		p->queue = NULL;
		p->n_queue = p->cap_queue = 0;
		pthread_mutex_unlock(&p->lock);

		/* Derived data: on failure the rows are lost, never half-written
		 * (the job rolls back as a whole). */
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

void mx_push_set_rows_listener(struct mx_push *p, mx_push_rows_fn fn, void *ctx)
{
	pthread_mutex_lock(&p->lock);
	p->sink = fn;
	p->sink_ctx = ctx;
	pthread_mutex_unlock(&p->lock);
}

/* Queue one event's row (its strings now belong to the queue). */
static void mx_push_enqueue(struct mx_push *p, const struct mx_store_push_row *row)
{
	pthread_mutex_lock(&p->lock);
	/* The pushers see the row in the same hold of the lock that queues
	 * it, so whoever waits in mx_push_flush_user for a user's rows finds
	 * every row the pushers have seen either queued or stored. */
	if (p->sink)
		p->sink(p->sink_ctx, row, 1);
	if (p->n_queue == p->cap_queue) {
		p->cap_queue = p->cap_queue ? p->cap_queue * 2 : 64;
		p->queue = mx_xrealloc(p->queue, p->cap_queue * sizeof(*p->queue));
	}
	if (!p->n_queue)
		p->queue_since_ms = mx_clock_mono_ms();
	p->queue[p->n_queue++] = *row;
	p->queued_seq++;
	/* The writer sleeps until the first row, then until the deadline. */
	if (p->n_queue == 1 || p->n_queue >= MX_PUSH_QUEUE_FLUSH)
		pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
}

/* Does one of rows concern user (pattern: user's framed localpart), in room_id if set? */
static bool mx_push_rows_have(const struct mx_store_push_row *rows, size_t n, const char *user_id,
			      const char *pattern, const char *room_id)
{
	for (size_t i = 0; i < n; i++) {
		const struct mx_store_push_row *r = &rows[i];
		if (room_id && strcmp(r->room_id, room_id) != 0)
			continue;
		if ((r->sender && !strcmp(r->sender, user_id)) || strstr(r->notify, pattern) ||
		    strstr(r->highlight, pattern))
			return true;
	}
	return false;
}

void mx_push_flush_user(struct mx_push *p, const char *user_id, const char *room_id)
{
	if (!p)
		return;
	struct mx_buf pat;
	mx_buf_init(&pat, MX_BUF_UNLIMITED);
	mx_store_push_list_add(&pat, user_id);
	pthread_mutex_lock(&p->lock);
	uint64_t target = 0;
	if (mx_push_rows_have(p->queue, p->n_queue, user_id, pat.data, room_id)) {
		target = p->queued_seq;
		p->flush_now = true;
		pthread_cond_signal(&p->wake);
	} else if (mx_push_rows_have(p->inflight, p->n_inflight, user_id, pat.data, room_id)) {
		target = p->inflight_seq;
	}
	while (p->flushed_seq < target && !p->stop)
		pthread_cond_wait(&p->flushed, &p->lock);
	pthread_mutex_unlock(&p->lock);
	mx_buf_release(&pat);
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

/* One recipient's inputs, gathered under db_lock, and the actions group
 * its result fell in (-1: neither notified nor highlighted). */
struct mx_push_target {
	const char *user_id;
	struct mx_push_rules *rules;
	const char *display_name;
	int group;
};

/* Recipients whose results have the same actions (JSON text). */
struct mx_push_group {
	const json_t *actions; /* the first recipient's (rules share them) */
	char *text;
	size_t count;
};

/* The group of actions among groups[*n] (a new one if none matches). */
static int mx_push_group_of(struct mx_push_group *groups, size_t *n, const json_t *actions)
{
	for (size_t i = 0; i < *n; i++)
		if (groups[i].actions == actions)
			return (int)i;
	char *text = json_dumps(actions, JSON_COMPACT);
	if (!text)
		text = mx_xstrdup("[]");
	for (size_t i = 0; i < *n; i++)
		if (!strcmp(groups[i].text, text)) {
			free(text);
			return (int)i;
		}
	groups[*n] = (struct mx_push_group){.actions = actions, .text = text};
	return (int)(*n)++;
}

/*
 * Fill row's notify, highlight and actions from the evaluation of ev for
 * the targets t[k] (their rules references are released).
 */
static void mx_push_evaluate(const struct mx_room_event *ev, struct mx_arena *a,
			     struct mx_push_target *t, size_t k, const struct mx_push_user *base,
			     struct mx_store_push_row *row)
{
	struct mx_push_event pev;
	mx_push_event_init(&pev, ev->pdu);
	struct mx_push_user pu = *base;
	struct mx_push_group *groups = mx_arena_alloc(a, (k ? k : 1) * sizeof(*groups));
	size_t n_groups = 0;
	struct mx_buf notify, highlight;
	mx_buf_init(&notify, MX_PUSH_LIST_MAX);
	mx_buf_init(&highlight, MX_PUSH_LIST_MAX);
	for (size_t i = 0; i < k; i++) {
		struct mx_push_actions out;
		pu.user_id = t[i].user_id;
		pu.display_name = t[i].display_name;
		mx_push_rules_eval(t[i].rules, &pev, &pu, &out);
		t[i].group = -1;
		if ((out.notify && mx_store_push_list_add(&notify, t[i].user_id)) ||
		    (out.highlight && mx_store_push_list_add(&highlight, t[i].user_id)))
			mx_log_warn("push: %s in %s: too many users to notify", ev->event_id,
				    ev->room_id);
		else if (out.notify || out.highlight)
			t[i].group = mx_push_group_of(groups, &n_groups, out.actions);
		mx_push_rules_unref(t[i].rules);
	}
	mx_push_event_release(&pev);

	/* Most recipients share their actions: store those once, and the
	 * others' by user. */
	size_t best = 0;
	for (size_t i = 0; i < k; i++)
		if (t[i].group >= 0)
			groups[t[i].group].count++;
	for (size_t g = 1; g < n_groups; g++)
		if (groups[g].count > groups[best].count)
			best = g;
	json_t *other = NULL;
	for (size_t i = 0; i < k; i++) {
		if (t[i].group < 0 || (size_t)t[i].group == best)
			continue;
		struct mx_buf lp;
		mx_buf_init(&lp, MX_BUF_UNLIMITED);
		mx_store_push_list_add(&lp, t[i].user_id);
		/* the localpart, without the list's framing */
		lp.data[lp.len - 1] = '\0';
		if (!other)
			other = json_object();
		json_object_set_new(other, lp.data + 1, json_loads(groups[t[i].group].text, 0, NULL));
		mx_buf_release(&lp);
	}
	row->notify = notify.data ? mx_buf_detach(&notify, NULL) : mx_xstrdup("");
	row->highlight = highlight.data ? mx_buf_detach(&highlight, NULL) : mx_xstrdup("");
	row->actions = n_groups ? mx_xstrdup(groups[best].text) : NULL;
	row->actions_other = other ? json_dumps(other, JSON_COMPACT) : NULL;
	json_decref(other);
	for (size_t g = 0; g < n_groups; g++)
		free(groups[g].text);
	mx_buf_release(&notify);
	mx_buf_release(&highlight);
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
	struct mx_store_push_row row = {
		.room_id = mx_xstrdup(ev->room_id),
		.event_id = mx_xstrdup(ev->event_id),
		.event_nid = ev->nid,
		.thread_id = thread ? mx_xstrdup(thread) : NULL,
		/* SPEC: #receiving-notifications: sending an event reads what came before it. */
		.sender = local_sender ? mx_xstrdup(ev->sender) : NULL,
		.ts = mx_clock_now_ms(),
	};

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

		struct mx_push_user pu = {
			.member_count = (int64_t)n_joined,
			.sender_power = v ? mx_auth_user_power(v, pl, create, ev->sender) : 0,
			.power_levels = json_object_get(pl, "content"),
		};
		mx_push_evaluate(ev, &a, t, k, &pu, &row);
		mx_arena_release(&a);
	}
	if (!local_sender && (!row.notify || !*row.notify) && (!row.highlight || !*row.highlight)) {
		mx_push_row_free(&row); /* nobody to tell, no sender to mark */
		return;
	}
	if (!row.notify)
		row.notify = mx_xstrdup("");
	if (!row.highlight)
		row.highlight = mx_xstrdup("");
	mx_push_enqueue(p, &row);
}

/* ---- counts ---- */

void mx_push_unread(struct mx_push *p, struct mx_db_conn *c, struct mx_arena *a,
		    const char *user_id, const char *room_id, bool by_thread, json_t **unread,
		    json_t **threads)
{
	mx_push_flush_user(p, user_id, room_id);
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
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->wake, &ca); /* timed waits: monotonic */
	pthread_condattr_destroy(&ca);
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
