/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Users live in a chained hash table (id -> sequence, parked requests);
 * entries stay once created, so the table grows with the number of local
 * users who ever synced, not with traffic. One mutex guards everything:
 * the critical sections are a few pointer moves.
 */
#include "sync/notifier.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/error.h"
#include "core/mem.h"
#include "core/strhash.h"
#include "http/request.h"

struct mx_parked {
	struct mx_parked *next, *prev; /* in the user's list */
	struct mx_req *req;
	struct mx_notify_user *user;
	int64_t deadline_ms;
};

struct mx_notify_user {
	struct mx_notify_user *next; /* hash chain */
	char *user_id;
	uint64_t seq;
	struct mx_parked *parked;
};

struct mx_notifier {
	pthread_mutex_t lock;
	pthread_cond_t tick;
	pthread_t timer;
	bool stopping;
	struct mx_notify_user **buckets;
	size_t n_buckets, n_users, n_parked;
	/* Parked entries by request, so unpark finds them: the request keeps
	 * a pointer to its entry in req->park_slot. */
};

static struct mx_notify_user *mx_notify_user_get(struct mx_notifier *n, const char *user_id,
						 bool create)
{
	size_t b = mx_strhash(user_id) & (n->n_buckets - 1);
	for (struct mx_notify_user *u = n->buckets[b]; u; u = u->next)
		if (!strcmp(u->user_id, user_id))
			return u;
	if (!create)
		return NULL;
	if (n->n_users >= n->n_buckets) { /* grow x2 and rehash */
		size_t nb = n->n_buckets * 2;
		struct mx_notify_user **nbk = mx_xcalloc(nb, sizeof(*nbk));
		for (size_t i = 0; i < n->n_buckets; i++)
			for (struct mx_notify_user *u = n->buckets[i], *next; u; u = next) {
				next = u->next;
				size_t j = mx_strhash(u->user_id) & (nb - 1);
				u->next = nbk[j];
				nbk[j] = u;
			}
		free(n->buckets);
		n->buckets = nbk;
		n->n_buckets = nb;
		b = mx_strhash(user_id) & (nb - 1);
	}
	struct mx_notify_user *u = mx_xcalloc(1, sizeof(*u));
	u->user_id = mx_xstrdup(user_id);
	u->next = n->buckets[b];
	n->buckets[b] = u;
	n->n_users++;
	return u;
}

/* Unlink p and resume its request. Lock held. */
static void mx_notify_release(struct mx_notifier *n, struct mx_parked *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		p->user->parked = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->req->park_slot = NULL;
	n->n_parked--;
	mx_req_resume(p->req);
	free(p);
}

static void *mx_notify_timer(void *arg)
{
	struct mx_notifier *n = arg;
	pthread_mutex_lock(&n->lock);
	while (!n->stopping) {
		int64_t now = mx_clock_mono_ms(), next = now + 1000;
		for (size_t i = 0; i < n->n_buckets; i++)
			for (struct mx_notify_user *u = n->buckets[i]; u; u = u->next)
				for (struct mx_parked *p = u->parked, *pn; p; p = pn) {
					pn = p->next;
					if (p->deadline_ms <= now)
						mx_notify_release(n, p);
					else if (p->deadline_ms < next)
						next = p->deadline_ms;
				}
		/* Sleep until the earliest deadline (or a park with an earlier one). */
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		int64_t wait = next - now;
		ts.tv_sec += wait / 1000;
		ts.tv_nsec += (wait % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&n->tick, &n->lock, &ts);
	}
	pthread_mutex_unlock(&n->lock);
	return NULL;
}

struct mx_notifier *mx_notifier_new(void)
{
	struct mx_notifier *n = mx_xcalloc(1, sizeof(*n));
	pthread_mutex_init(&n->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&n->tick, &ca);
	pthread_condattr_destroy(&ca);
	n->n_buckets = 256;
	n->buckets = mx_xcalloc(n->n_buckets, sizeof(*n->buckets));
	if (pthread_create(&n->timer, NULL, mx_notify_timer, n))
		MX_BUG("cannot start the notifier thread");
	return n;
}

void mx_notifier_shutdown(struct mx_notifier *n)
{
	pthread_mutex_lock(&n->lock);
	if (n->stopping) {
		pthread_mutex_unlock(&n->lock);
		return;
	}
	n->stopping = true;
	for (size_t i = 0; i < n->n_buckets; i++)
		for (struct mx_notify_user *u = n->buckets[i]; u; u = u->next)
			while (u->parked)
				mx_notify_release(n, u->parked);
	pthread_cond_signal(&n->tick);
	pthread_mutex_unlock(&n->lock);
	pthread_join(n->timer, NULL);
}

void mx_notifier_free(struct mx_notifier *n)
{
	if (!n)
		return;
	mx_notifier_shutdown(n);
	for (size_t i = 0; i < n->n_buckets; i++)
		for (struct mx_notify_user *u = n->buckets[i], *next; u; u = next) {
			next = u->next;
			free(u->user_id);
			free(u);
		}
	free(n->buckets);
	pthread_cond_destroy(&n->tick);
	pthread_mutex_destroy(&n->lock);
	free(n);
}

uint64_t mx_notifier_seq(struct mx_notifier *n, const char *user_id)
{
	pthread_mutex_lock(&n->lock);
	/* Created here, so that a wake-up between this read and the park
	 * bumps a sequence the park will compare against. */
	uint64_t seq = mx_notify_user_get(n, user_id, true)->seq;
	pthread_mutex_unlock(&n->lock);
	return seq;
}

int mx_notifier_park(struct mx_notifier *n, struct mx_req *req, const char *user_id,
		     uint64_t seen, int64_t deadline_ms)
{
	pthread_mutex_lock(&n->lock);
	struct mx_notify_user *u = mx_notify_user_get(n, user_id, true);
	if (u->seq != seen || n->stopping) {
		pthread_mutex_unlock(&n->lock);
		return MX_ECONFLICT;
	}
	struct mx_parked *p = mx_xcalloc(1, sizeof(*p));
	p->req = req;
	p->user = u;
	p->deadline_ms = deadline_ms;
	p->next = u->parked;
	if (u->parked)
		u->parked->prev = p;
	u->parked = p;
	req->park_slot = p;
	n->n_parked++;
	/* Suspend under the lock so a wake-up cannot resume it first. */
	mx_req_suspend(req);
	pthread_cond_signal(&n->tick);
	pthread_mutex_unlock(&n->lock);
	return 0;
}

void mx_notifier_unpark(struct mx_notifier *n, struct mx_req *req)
{
	pthread_mutex_lock(&n->lock);
	struct mx_parked *p = req->park_slot;
	if (p) {
		if (p->prev)
			p->prev->next = p->next;
		else
			p->user->parked = p->next;
		if (p->next)
			p->next->prev = p->prev;
		req->park_slot = NULL;
		n->n_parked--;
		free(p);
	}
	pthread_mutex_unlock(&n->lock);
}

void mx_notifier_wake(struct mx_notifier *n, const char *const *user_ids, size_t count)
{
	pthread_mutex_lock(&n->lock);
	for (size_t i = 0; i < count; i++) {
		struct mx_notify_user *u = mx_notify_user_get(n, user_ids[i], false);
		if (!u)
			continue; /* never synced: nobody to wake */
		u->seq++;
		while (u->parked)
			mx_notify_release(n, u->parked);
	}
	pthread_mutex_unlock(&n->lock);
}

size_t mx_notifier_parked(struct mx_notifier *n)
{
	pthread_mutex_lock(&n->lock);
	size_t v = n->n_parked;
	pthread_mutex_unlock(&n->lock);
	return v;
}
