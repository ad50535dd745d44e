/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Users live in a chained hash table and, at the same time, in a list
 * ordered by their last change (newest at the tail), so "who changed
 * since position X" walks back from the tail only as far as X. One mutex
 * guards both. Changes mark the user for waking and signal the timer
 * thread, which queries the watchers and wakes them outside the lock.
 */
#include "sync/presence.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/strhash.h"
#include "db/db.h"
#include "room/room.h"
#include "store/members.h"
#include "sync/notifier.h"

/* How often the timer looks for automatic changes. */
#define MX_PRESENCE_TICK_MS 5000

struct mx_presence_user {
	struct mx_presence_user *next;          /* hash chain */
	struct mx_presence_user *older, *newer; /* change order */
	char *user_id;
	enum mx_presence_state state;
	char *status_msg;
	int64_t last_active_ms; /* monotonic; 0: never */
	int64_t sync_until_ms;  /* monotonic; counts as syncing until then */
	int64_t serial;
	bool shown_active;      /* currently_active as last reported */
	bool wake;              /* watchers not yet woken for the last change */
};

struct mx_presence {
	pthread_mutex_t lock;
	pthread_cond_t tick;
	pthread_t timer;
	bool stopping;
	bool pending;           /* some user has wake set */
	struct mx_db *db;
	struct mx_notifier *notifier;
	char *server_name;
	struct mx_presence_user **buckets;
	size_t n_buckets, n_users;
	struct mx_presence_user *oldest, *newest;
	int64_t serial;
	int64_t woken;          /* changes up to this position have been woken */
};

static const char *const mx_presence_names[] = {"offline", "unavailable", "online"};

int mx_presence_parse(const char *s, enum mx_presence_state *out)
{
	for (size_t i = 0; s && i < MX_ARRAY_LEN(mx_presence_names); i++)
		if (!strcmp(s, mx_presence_names[i])) {
			*out = (enum mx_presence_state)i;
			return 0;
		}
	return MX_EINVALIDPARAM;
}

const char *mx_presence_name(enum mx_presence_state s)
{
	return (size_t)s < MX_ARRAY_LEN(mx_presence_names) ? mx_presence_names[s] : "offline";
}

/* Lock held. create: add an offline entry if missing (NULL when full). */
static struct mx_presence_user *mx_presence_get(struct mx_presence *p, const char *user_id,
						bool create)
{
	size_t b = mx_strhash(user_id) & (p->n_buckets - 1);
	for (struct mx_presence_user *u = p->buckets[b]; u; u = u->next)
		if (!strcmp(u->user_id, user_id))
			return u;
	if (!create || p->n_users >= MX_PRESENCE_MAX_USERS)
		return NULL;
	if (p->n_users >= p->n_buckets) {
		size_t nb = p->n_buckets * 2;
		struct mx_presence_user **nbk = mx_xcalloc(nb, sizeof(*nbk));
		for (size_t i = 0; i < p->n_buckets; i++)
			for (struct mx_presence_user *u = p->buckets[i], *next; u; u = next) {
				next = u->next;
				size_t j = mx_strhash(u->user_id) & (nb - 1);
				u->next = nbk[j];
				nbk[j] = u;
			}
		free(p->buckets);
		p->buckets = nbk;
		p->n_buckets = nb;
		b = mx_strhash(user_id) & (nb - 1);
	}
	struct mx_presence_user *u = mx_xcalloc(1, sizeof(*u));
	u->user_id = mx_xstrdup(user_id);
	u->next = p->buckets[b];
	p->buckets[b] = u;
	p->n_users++;
	/* A new entry is at the oldest end until it changes (serial 0). */
	u->newer = p->oldest;
	if (p->oldest)
		p->oldest->older = u;
	else
		p->newest = u;
	p->oldest = u;
	return u;
}

static bool mx_presence_active_now(const struct mx_presence_user *u, int64_t now)
{
	return u->state == MX_PRESENCE_ONLINE && u->last_active_ms &&
	       now - u->last_active_ms < MX_PRESENCE_ACTIVE_MS;
}

/*
 * After changing u's fields: if what clients see differs from before
 * (state, status message, currently_active), take the next position, move
 * u to the newest end and mark it for waking. Lock held.
 */
static void mx_presence_commit(struct mx_presence *p, struct mx_presence_user *u,
			       enum mx_presence_state old_state, bool msg_changed, int64_t now)
{
	bool active = mx_presence_active_now(u, now);
	if (u->state == old_state && !msg_changed && active == u->shown_active)
		return;
	u->shown_active = active;
	u->serial = ++p->serial;
	if (p->newest != u) {
		/* unlink */
		if (u->older)
			u->older->newer = u->newer;
		else
			p->oldest = u->newer;
		u->newer->older = u->older;
		/* append */
		u->older = p->newest;
		u->newer = NULL;
		p->newest->newer = u;
		p->newest = u;
	}
	u->wake = true;
	p->pending = true;
	pthread_cond_signal(&p->tick);
}

/* Wake the local users who share a room with each of ids (freeing ids). */
static void mx_presence_wake(struct mx_presence *p, struct mx_db_conn *c, char **ids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (c && p->notifier) {
			struct mx_arena a;
			mx_arena_init(&a);
			const char **users;
			size_t nu;
			if (!mx_store_shared_room_users(c, &a, ids[i], p->server_name, &users, &nu))
				mx_notifier_wake(p->notifier, users, nu);
			mx_arena_release(&a);
		}
		free(ids[i]);
	}
	free(ids);
}

/* The automatic changes for u at time now. Lock held. */
static void mx_presence_expire(struct mx_presence *p, struct mx_presence_user *u, int64_t now)
{
	enum mx_presence_state old = u->state;
	if (u->state == MX_PRESENCE_ONLINE && now - u->last_active_ms >= MX_PRESENCE_IDLE_MS)
		u->state = MX_PRESENCE_UNAVAILABLE;
	if (u->state != MX_PRESENCE_OFFLINE && now - u->sync_until_ms >= MX_PRESENCE_SYNC_TIMEOUT_MS)
		u->state = MX_PRESENCE_OFFLINE;
	mx_presence_commit(p, u, old, false, now);
}

static void *mx_presence_timer(void *arg)
{
	struct mx_presence *p = arg;
	struct mx_db_conn *c = NULL;
	if (p->db && mx_db_conn_open(p->db, &c))
		mx_log_warn("presence: no database connection: changes will not wake clients");
	int64_t next_scan = mx_clock_mono_ms() + MX_PRESENCE_TICK_MS;
	pthread_mutex_lock(&p->lock);
	while (!p->stopping) {
		int64_t now = mx_clock_mono_ms();
		if (now >= next_scan) {
			for (struct mx_presence_user *u = p->oldest, *nu; u; u = nu) {
				nu = u->newer; /* u may move to the newest end */
				mx_presence_expire(p, u, now);
			}
			next_scan = now + MX_PRESENCE_TICK_MS;
		}
		if (p->pending) {
			char **ids = NULL;
			size_t n = 0, cap = 0;
			/* Changed users are at the newest end, after p->woken. */
			for (struct mx_presence_user *u = p->newest; u && u->serial > p->woken;
			     u = u->older) {
				if (!u->wake)
					continue;
				u->wake = false;
				if (n == cap) {
					cap = cap ? cap * 2 : 16;
					ids = mx_xrealloc(ids, cap * sizeof(*ids));
				}
				ids[n++] = mx_xstrdup(u->user_id);
			}
			p->pending = false;
			p->woken = p->serial;
			pthread_mutex_unlock(&p->lock);
			mx_presence_wake(p, c, ids, n);
			pthread_mutex_lock(&p->lock);
			continue;
		}
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		int64_t wait = next_scan - now;
		ts.tv_sec += wait / 1000;
		ts.tv_nsec += (wait % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&p->tick, &p->lock, &ts);
	}
	pthread_mutex_unlock(&p->lock);
	mx_db_conn_close(c);
	return NULL;
}

struct mx_presence *mx_presence_new(struct mx_db *db, struct mx_notifier *n,
				    const char *server_name)
{
	struct mx_presence *p = mx_xcalloc(1, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->tick, &ca);
	pthread_condattr_destroy(&ca);
	p->db = db;
	p->notifier = n;
	p->server_name = mx_xstrdup(server_name ? server_name : "");
	p->n_buckets = 256;
	p->buckets = mx_xcalloc(p->n_buckets, sizeof(*p->buckets));
	p->serial = p->woken = mx_clock_now_ms();
	if (pthread_create(&p->timer, NULL, mx_presence_timer, p))
		MX_BUG("cannot start the presence timer thread");
	return p;
}

void mx_presence_free(struct mx_presence *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_signal(&p->tick);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->timer, NULL);
	for (struct mx_presence_user *u = p->oldest, *next; u; u = next) {
		next = u->newer;
		free(u->user_id);
		free(u->status_msg);
		free(u);
	}
	free(p->buckets);
	free(p->server_name);
	pthread_cond_destroy(&p->tick);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

void mx_presence_set(struct mx_presence *p, const char *user_id, enum mx_presence_state state,
		     const char *status_msg)
{
	int64_t now = mx_clock_mono_ms();
	pthread_mutex_lock(&p->lock);
	struct mx_presence_user *u = mx_presence_get(p, user_id, true);
	if (u) {
		enum mx_presence_state old = u->state;
		bool msg_changed = (u->status_msg == NULL) != (status_msg == NULL) ||
				   (status_msg && strcmp(u->status_msg, status_msg) != 0);
		if (msg_changed) {
			free(u->status_msg);
			u->status_msg = status_msg ? mx_xstrdup(status_msg) : NULL;
		}
		u->state = state;
		if (state == MX_PRESENCE_ONLINE)
			u->last_active_ms = now;
		/* Without a /sync, a PUT keeps the user present for the sync
		 * timeout only, as in Synapse. */
		if (u->sync_until_ms < now)
			u->sync_until_ms = now;
		mx_presence_commit(p, u, old, msg_changed, now);
	}
	pthread_mutex_unlock(&p->lock);
}

void mx_presence_synced(struct mx_presence *p, const char *user_id, const char *set_presence,
			int64_t timeout_ms)
{
	enum mx_presence_state want = MX_PRESENCE_ONLINE;
	if (set_presence && mx_presence_parse(set_presence, &want))
		return;
	if (want == MX_PRESENCE_OFFLINE)
		return;
	int64_t now = mx_clock_mono_ms();
	pthread_mutex_lock(&p->lock);
	struct mx_presence_user *u = mx_presence_get(p, user_id, true);
	if (u) {
		enum mx_presence_state old = u->state;
		if (u->sync_until_ms < now + timeout_ms)
			u->sync_until_ms = now + timeout_ms;
		if (u->state == MX_PRESENCE_OFFLINE) {
			u->state = want;
			if (want == MX_PRESENCE_ONLINE)
				u->last_active_ms = now;
		}
		mx_presence_commit(p, u, old, false, now);
	}
	pthread_mutex_unlock(&p->lock);
}

void mx_presence_active(struct mx_presence *p, const char *user_id)
{
	int64_t now = mx_clock_mono_ms();
	pthread_mutex_lock(&p->lock);
	struct mx_presence_user *u = mx_presence_get(p, user_id, true);
	if (u) {
		enum mx_presence_state old = u->state;
		u->last_active_ms = now;
		/* SPEC: client-server-api#idle-timeout: activity means online. */
		if (u->state == MX_PRESENCE_UNAVAILABLE)
			u->state = MX_PRESENCE_ONLINE;
		mx_presence_commit(p, u, old, false, now);
	}
	pthread_mutex_unlock(&p->lock);
}

void mx_presence_on_room_event(void *ctx, const struct mx_room_event *ev)
{
	struct mx_presence *p = ctx;
	const char *colon = ev->sender ? strchr(ev->sender, ':') : NULL;
	if (colon && !strcmp(colon + 1, p->server_name))
		mx_presence_active(p, ev->sender);
}

int64_t mx_presence_position(struct mx_presence *p)
{
	pthread_mutex_lock(&p->lock);
	int64_t v = p->serial;
	pthread_mutex_unlock(&p->lock);
	return v;
}

json_t *mx_presence_content(struct mx_presence *p, const char *user_id, int64_t *serial)
{
	json_t *c = NULL;
	int64_t now = mx_clock_mono_ms();
	pthread_mutex_lock(&p->lock);
	struct mx_presence_user *u = mx_presence_get(p, user_id, false);
	if (u) {
		c = json_pack("{s:s}", "presence", mx_presence_name(u->state));
		if (u->last_active_ms)
			json_object_set_new(c, "last_active_ago",
					    json_integer((json_int_t)(now - u->last_active_ms)));
		/* As Synapse: currently_active only accompanies "online". */
		if (u->state == MX_PRESENCE_ONLINE)
			json_object_set_new(c, "currently_active", json_boolean(u->shown_active));
		if (u->status_msg)
			json_object_set_new(c, "status_msg", json_string(u->status_msg));
		if (serial)
			*serial = u->serial;
	}
	pthread_mutex_unlock(&p->lock);
	return c;
}

void mx_presence_changed(struct mx_presence *p, struct mx_arena *a, int64_t since,
			 const char ***users, size_t *n)
{
	pthread_mutex_lock(&p->lock);
	size_t cnt = 0;
	for (struct mx_presence_user *u = p->newest; u && u->serial > since; u = u->older)
		cnt++;
	const char **v = mx_arena_alloc(a, (cnt ? cnt : 1) * sizeof(*v));
	size_t i = 0;
	for (struct mx_presence_user *u = p->newest; u && i < cnt; u = u->older)
		v[i++] = mx_arena_strdup(a, u->user_id);
	pthread_mutex_unlock(&p->lock);
	*users = v;
	*n = cnt;
}
