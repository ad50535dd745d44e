/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rooms live in a chained hash table that doubles as it fills; each holds
 * a small array of (user, expiry). One mutex guards it all; the timer
 * thread collects the rooms to wake under the lock and queries and wakes
 * outside it, so a slow query never blocks a typing request.
 */
#include "sync/typing.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/strhash.h"
#include "db/db.h"
#include "store/members.h"
#include "sync/notifier.h"

/* An empty room is forgotten after this long. */
#define MX_TYPING_FORGET_MS (10 * 60 * 1000)
/* The timer looks at least this often (forgetting rooms). */
#define MX_TYPING_TICK_MS (60 * 1000)

struct mx_typer {
	char *user_id;
	int64_t expires_ms; /* monotonic */
};

struct mx_typing_room {
	struct mx_typing_room *next;
	char *room_id;
	int64_t serial;      /* position of the last change */
	int64_t changed_ms;  /* monotonic time of the last change */
	struct mx_typer *typers;
	size_t n, cap;
};

struct mx_typing {
	pthread_mutex_t lock;
	pthread_cond_t tick;
	pthread_t timer;
	bool stopping;
	struct mx_db *db;
	struct mx_notifier *notifier;
	char *server_name;
	struct mx_typing_room **buckets;
	size_t n_buckets, n_rooms;
	int64_t serial;
	int64_t forgotten;   /* the newest serial of a forgotten room */
};

/* Lock held. */
static struct mx_typing_room *mx_typing_find(struct mx_typing *t, const char *room_id)
{
	size_t b = mx_strhash(room_id) & (t->n_buckets - 1);
	for (struct mx_typing_room *r = t->buckets[b]; r; r = r->next)
		if (!strcmp(r->room_id, room_id))
			return r;
	return NULL;
}

/* Lock held. NULL when the table is full. */
static struct mx_typing_room *mx_typing_add_room(struct mx_typing *t, const char *room_id)
{
	if (t->n_rooms >= MX_TYPING_MAX_ROOMS)
		return NULL;
	if (t->n_rooms >= t->n_buckets) {
		size_t nb = t->n_buckets * 2;
		struct mx_typing_room **nbk = mx_xcalloc(nb, sizeof(*nbk));
		for (size_t i = 0; i < t->n_buckets; i++)
			for (struct mx_typing_room *r = t->buckets[i], *next; r; r = next) {
				next = r->next;
				size_t j = mx_strhash(r->room_id) & (nb - 1);
				r->next = nbk[j];
				nbk[j] = r;
			}
		free(t->buckets);
		t->buckets = nbk;
		t->n_buckets = nb;
	}
	struct mx_typing_room *r = mx_xcalloc(1, sizeof(*r));
	r->room_id = mx_xstrdup(room_id);
	size_t b = mx_strhash(room_id) & (t->n_buckets - 1);
	r->next = t->buckets[b];
	t->buckets[b] = r;
	t->n_rooms++;
	return r;
}

static void mx_typing_room_free(struct mx_typing_room *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->typers[i].user_id);
	free(r->typers);
	free(r->room_id);
	free(r);
}

/* A room's set changed: it takes the next position. Lock held. */
static void mx_typing_changed(struct mx_typing *t, struct mx_typing_room *r, int64_t now)
{
	r->serial = ++t->serial;
	r->changed_ms = now;
}

/* Drop typer i of r (order is not kept). Lock held. */
static void mx_typing_drop(struct mx_typing_room *r, size_t i)
{
	free(r->typers[i].user_id);
	r->typers[i] = r->typers[--r->n];
}

/* Wake the joined local members of each room in ids (freeing ids). */
static void mx_typing_wake_rooms(struct mx_typing *t, struct mx_db_conn *c, char **ids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (c && t->notifier) {
			struct mx_arena a;
			mx_arena_init(&a);
			const char **users;
			size_t nu;
			if (!mx_store_room_joined_local(c, &a, ids[i], t->server_name, &users, &nu))
				mx_notifier_wake(t->notifier, users, nu);
			mx_arena_release(&a);
		}
		free(ids[i]);
	}
	free(ids);
}

static void *mx_typing_timer(void *arg)
{
	struct mx_typing *t = arg;
	struct mx_db_conn *c = NULL;
	if (t->db && mx_db_conn_open(t->db, &c))
		mx_log_warn("typing: no database connection: expiries will not wake clients");
	pthread_mutex_lock(&t->lock);
	while (!t->stopping) {
		int64_t now = mx_clock_mono_ms(), next = now + MX_TYPING_TICK_MS;
		char **wake = NULL;
		size_t n_wake = 0, cap = 0;
		for (size_t b = 0; b < t->n_buckets; b++) {
			struct mx_typing_room **pr = &t->buckets[b];
			while (*pr) {
				struct mx_typing_room *r = *pr;
				bool changed = false;
				for (size_t i = 0; i < r->n;) {
					if (r->typers[i].expires_ms <= now) {
						mx_typing_drop(r, i);
						changed = true;
						continue;
					}
					if (r->typers[i].expires_ms < next)
						next = r->typers[i].expires_ms;
					i++;
				}
				if (changed) {
					mx_typing_changed(t, r, now);
					if (n_wake == cap) {
						cap = cap ? cap * 2 : 16;
						wake = mx_xrealloc(wake, cap * sizeof(*wake));
					}
					wake[n_wake++] = mx_xstrdup(r->room_id);
				}
				if (!r->n && now - r->changed_ms >= MX_TYPING_FORGET_MS) {
					if (r->serial > t->forgotten)
						t->forgotten = r->serial;
					*pr = r->next;
					t->n_rooms--;
					mx_typing_room_free(r);
					continue;
				}
				pr = &r->next;
			}
		}
		if (n_wake) {
			pthread_mutex_unlock(&t->lock);
			mx_typing_wake_rooms(t, c, wake, n_wake);
			pthread_mutex_lock(&t->lock);
			continue; /* look again: time has passed */
		}
		free(wake);
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		int64_t wait = next - now;
		ts.tv_sec += wait / 1000;
		ts.tv_nsec += (wait % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&t->tick, &t->lock, &ts);
	}
	pthread_mutex_unlock(&t->lock);
	mx_db_conn_close(c);
	return NULL;
}

struct mx_typing *mx_typing_new(struct mx_db *db, struct mx_notifier *n, const char *server_name)
{
	struct mx_typing *t = mx_xcalloc(1, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->tick, &ca);
	pthread_condattr_destroy(&ca);
	t->db = db;
	t->notifier = n;
	t->server_name = mx_xstrdup(server_name ? server_name : "");
	t->n_buckets = 64;
	t->buckets = mx_xcalloc(t->n_buckets, sizeof(*t->buckets));
	t->serial = mx_clock_now_ms();
	if (pthread_create(&t->timer, NULL, mx_typing_timer, t))
		MX_BUG("cannot start the typing timer thread");
	return t;
}

void mx_typing_free(struct mx_typing *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	t->stopping = true;
	pthread_cond_signal(&t->tick);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->timer, NULL);
	for (size_t b = 0; b < t->n_buckets; b++)
		for (struct mx_typing_room *r = t->buckets[b], *next; r; r = next) {
			next = r->next;
			mx_typing_room_free(r);
		}
	free(t->buckets);
	free(t->server_name);
	pthread_cond_destroy(&t->tick);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

bool mx_typing_set(struct mx_typing *t, const char *room_id, const char *user_id, bool typing,
		   int64_t timeout_ms)
{
	int64_t now = mx_clock_mono_ms();
	bool changed = false;
	pthread_mutex_lock(&t->lock);
	struct mx_typing_room *r = mx_typing_find(t, room_id);
	size_t i = 0;
	if (r)
		while (i < r->n && strcmp(r->typers[i].user_id, user_id) != 0)
			i++;
	if (!typing) {
		if (r && i < r->n) {
			mx_typing_drop(r, i);
			mx_typing_changed(t, r, now);
			changed = true;
		}
		goto out;
	}
	if (!r && !(r = mx_typing_add_room(t, room_id)))
		goto out; /* full: not recorded */
	if (i < r->n) {
		r->typers[i].expires_ms = now + timeout_ms;
	} else if (r->n < MX_TYPING_MAX_PER_ROOM) {
		if (r->n == r->cap) {
			r->cap = r->cap ? r->cap * 2 : 4;
			r->typers = mx_xrealloc(r->typers, r->cap * sizeof(*r->typers));
		}
		r->typers[r->n].user_id = mx_xstrdup(user_id);
		r->typers[r->n].expires_ms = now + timeout_ms;
		r->n++;
		mx_typing_changed(t, r, now);
		changed = true;
	}
	pthread_cond_signal(&t->tick); /* the timer may need to wake earlier */
out:
	pthread_mutex_unlock(&t->lock);
	return changed;
}

int64_t mx_typing_position(struct mx_typing *t)
{
	pthread_mutex_lock(&t->lock);
	int64_t v = t->serial;
	pthread_mutex_unlock(&t->lock);
	return v;
}

json_t *mx_typing_room(struct mx_typing *t, const char *room_id, int64_t since, bool full)
{
	json_t *ids = NULL;
	int64_t now = mx_clock_mono_ms();
	pthread_mutex_lock(&t->lock);
	struct mx_typing_room *r = mx_typing_find(t, room_id);
	if (!r) {
		/* A token from before the room was forgotten (or from before a
		 * restart) may have seen typers that have stopped since. */
		if (!full && (since < t->forgotten || since > t->serial))
			ids = json_array();
		goto out;
	}
	if (full ? r->n == 0 : (r->serial <= since && since <= t->serial))
		goto out;
	ids = json_array();
	for (size_t i = 0; i < r->n; i++)
		if (r->typers[i].expires_ms > now) /* the timer has not run yet */
			json_array_append_new(ids, json_string(r->typers[i].user_id));
	if (full && !json_array_size(ids)) {
		json_decref(ids);
		ids = NULL;
	}
out:
	pthread_mutex_unlock(&t->lock);
	return ids;
}
