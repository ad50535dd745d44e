/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Destination health records (federation/destinations.h): a chained hash
 * table behind one mutex, and the backoff arithmetic. Saves go to the
 * database writer without waiting; they are queued under the table's lock
 * so that the saves of one destination land in the order they happened.
 */
#include "federation/destinations.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "core/rand.h"
#include "core/strhash.h"
#include "store/destinations.h"

/* A healthy destination's last success is saved at most this often. */
#define MX_FED_DEST_SUCCESS_SAVE_MS (3600 * 1000)
/* Intervals never exceed this, whatever the config says (~100 years). */
#define MX_FED_DEST_INTERVAL_CAP ((int64_t)100 * 365 * 86400 * 1000)

struct mx_fed_dest {
	struct mx_fed_dest *next;
	uint64_t hash;
	struct mx_fed_dest_state s;
	int64_t probe_started;   /* when the probe in flight began; 0 = none */
	int64_t saved_success;   /* last_success_ms as last saved */
	char name[];
};

struct mx_fed_dests {
	pthread_mutex_t lock;
	struct mx_fed_backoff p;
	struct mx_db *db;
	struct mx_fed_dest **buckets;
	size_t n_buckets, count;
};

/* ---- the arithmetic ---- */

static int64_t mx_fed_backoff_clamp(double v, int64_t lo, int64_t hi)
{
	if (!(v >= (double)lo)) /* also NaN */
		return lo;
	if (v >= (double)hi)
		return hi;
	return (int64_t)v;
}

void mx_fed_backoff_fail(const struct mx_fed_backoff *p, struct mx_fed_dest_state *s, int64_t now,
			 double r)
{
	int64_t min = p->min_ms > 0 ? p->min_ms : 1;
	int64_t max = p->max_ms > min ? p->max_ms : min;
	if (min > MX_FED_DEST_INTERVAL_CAP)
		min = MX_FED_DEST_INTERVAL_CAP;
	if (max > MX_FED_DEST_INTERVAL_CAP)
		max = MX_FED_DEST_INTERVAL_CAP;
	int64_t interval;
	if (s->failures <= 0 || s->retry_interval_ms <= 0)
		interval = min;
	else
		interval = mx_fed_backoff_clamp((double)s->retry_interval_ms * p->multiplier, min,
						max);
	double jitter = p->jitter > 0 ? p->jitter : 0;
	if (r < 0 || r >= 1)
		r = 0;
	int64_t wait = mx_fed_backoff_clamp((double)interval * (1 + jitter * r), interval,
					    2 * MX_FED_DEST_INTERVAL_CAP);
	s->failures = s->failures > 0 ? s->failures + 1 : 1;
	s->retry_interval_ms = interval;
	s->retry_at_ms = now + wait;
}

void mx_fed_backoff_reset(struct mx_fed_dest_state *s, int64_t now)
{
	s->failures = 0;
	s->retry_interval_ms = 0;
	s->retry_at_ms = 0;
	s->last_success_ms = now;
}

/* ---- the table ---- */

struct mx_fed_dests *mx_fed_dests_new(const struct mx_fed_backoff *policy, struct mx_db *db)
{
	struct mx_fed_dests *d = mx_xcalloc(1, sizeof(*d));
	pthread_mutex_init(&d->lock, NULL);
	d->p = *policy;
	d->db = db;
	d->n_buckets = 64;
	d->buckets = mx_xcalloc(d->n_buckets, sizeof(*d->buckets));
	return d;
}

void mx_fed_dests_free(struct mx_fed_dests *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n_buckets; i++) {
		for (struct mx_fed_dest *e = d->buckets[i], *next; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(d->buckets);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

static struct mx_fed_dest *mx_fed_dests_find(struct mx_fed_dests *d, const char *name)
{
	uint64_t h = mx_strhash(name);
	for (struct mx_fed_dest *e = d->buckets[h % d->n_buckets]; e; e = e->next)
		if (e->hash == h && !strcmp(e->name, name))
			return e;
	return NULL;
}

static void mx_fed_dests_grow(struct mx_fed_dests *d)
{
	size_t n = d->n_buckets * 2;
	struct mx_fed_dest **b = mx_xcalloc(n, sizeof(*b));
	for (size_t i = 0; i < d->n_buckets; i++) {
		for (struct mx_fed_dest *e = d->buckets[i], *next; e; e = next) {
			next = e->next;
			e->next = b[e->hash % n];
			b[e->hash % n] = e;
		}
	}
	free(d->buckets);
	d->buckets = b;
	d->n_buckets = n;
}

/* The record for name, created healthy if missing. */
static struct mx_fed_dest *mx_fed_dests_get_or_add(struct mx_fed_dests *d, const char *name)
{
	struct mx_fed_dest *e = mx_fed_dests_find(d, name);
	if (e)
		return e;
	if (d->count >= d->n_buckets)
		mx_fed_dests_grow(d);
	size_t len = strlen(name) + 1;
	e = mx_xcalloc(1, sizeof(*e) + len);
	memcpy(e->name, name, len);
	e->hash = mx_strhash(name);
	e->next = d->buckets[e->hash % d->n_buckets];
	d->buckets[e->hash % d->n_buckets] = e;
	d->count++;
	return e;
}

/* Queue a save of e (caller holds the lock, which orders the saves). */
static void mx_fed_dests_save(struct mx_fed_dests *d, struct mx_fed_dest *e)
{
	e->saved_success = e->s.last_success_ms;
	if (!d->db)
		return;
	struct mx_destination_row row = {
		.destination = e->name,
		.failures = e->s.failures,
		.retry_interval_ms = e->s.retry_interval_ms,
		.retry_at_ms = e->s.retry_at_ms,
		.last_success_ms = e->s.last_success_ms,
	};
	mx_store_destination_save_async(d->db, &row);
}

static int mx_fed_dests_load_row(void *ctx, const struct mx_destination_row *r)
{
	struct mx_fed_dests *d = ctx;
	struct mx_fed_dest *e = mx_fed_dests_get_or_add(d, r->destination);
	e->s.failures = r->failures > 0 ? r->failures : 0;
	e->s.retry_interval_ms = e->s.failures ? r->retry_interval_ms : 0;
	e->s.retry_at_ms = e->s.failures ? r->retry_at_ms : 0;
	e->s.last_success_ms = r->last_success_ms;
	e->saved_success = r->last_success_ms;
	return 0;
}

int mx_fed_dests_load(struct mx_fed_dests *d, struct mx_db_conn *c)
{
	pthread_mutex_lock(&d->lock);
	int rc = mx_store_destinations_load(c, mx_fed_dests_load_row, d);
	pthread_mutex_unlock(&d->lock);
	return rc;
}

enum mx_fed_dest_verdict mx_fed_dests_begin(struct mx_fed_dests *d, const char *destination,
					    int64_t now)
{
	enum mx_fed_dest_verdict v = MX_FED_DEST_GO;
	pthread_mutex_lock(&d->lock);
	struct mx_fed_dest *e = mx_fed_dests_find(d, destination);
	if (!e || e->s.failures == 0)
		goto out;
	if (now < e->s.retry_at_ms) {
		v = MX_FED_DEST_BACKED_OFF;
		goto out;
	}
	/* DESIGN.md "Federation manners": a dead destination is probed, never flooded. */
	if (e->probe_started && now - e->probe_started < MX_FED_DEST_PROBE_STALE_MS) {
		v = MX_FED_DEST_BACKED_OFF;
		goto out;
	}
	e->probe_started = now > 0 ? now : 1;
	v = MX_FED_DEST_PROBE;
out:
	pthread_mutex_unlock(&d->lock);
	return v;
}

enum mx_fed_dest_change mx_fed_dests_end(struct mx_fed_dests *d, const char *destination,
					 bool probe, enum mx_fed_dest_outcome outcome, int64_t now)
{
	enum mx_fed_dest_change change = MX_FED_DEST_UNCHANGED;
	double r = 0;
	if (outcome == MX_FED_DEST_FAILED && d->p.jitter > 0)
		r = (double)(mx_rand_u64() >> 11) * (1.0 / 9007199254740992.0);
	pthread_mutex_lock(&d->lock);
	struct mx_fed_dest *e = outcome == MX_FED_DEST_NEUTRAL
					? mx_fed_dests_find(d, destination)
					: mx_fed_dests_get_or_add(d, destination);
	if (!e)
		goto out;
	if (probe)
		e->probe_started = 0;
	switch (outcome) {
	case MX_FED_DEST_NEUTRAL:
		break;
	case MX_FED_DEST_OK: {
		bool was_failing = e->s.failures > 0;
		mx_fed_backoff_reset(&e->s, now);
		if (was_failing)
			change = MX_FED_DEST_RECOVERED;
		if (was_failing || now - e->saved_success >= MX_FED_DEST_SUCCESS_SAVE_MS)
			mx_fed_dests_save(d, e);
		break;
	}
	case MX_FED_DEST_FAILED:
		/* A request that started before a concurrent one backed the
		 * destination off fails for the same reason: count it once. */
		if (!probe && e->s.failures > 0 && now < e->s.retry_at_ms)
			break;
		change = e->s.failures > 0 ? MX_FED_DEST_STILL_FAILING : MX_FED_DEST_NOW_BACKED_OFF;
		mx_fed_backoff_fail(&d->p, &e->s, now, r);
		mx_fed_dests_save(d, e);
		break;
	}
out:
	pthread_mutex_unlock(&d->lock);
	return change;
}

bool mx_fed_dests_seen(struct mx_fed_dests *d, const char *destination)
{
	bool was = false;
	pthread_mutex_lock(&d->lock);
	struct mx_fed_dest *e = mx_fed_dests_find(d, destination);
	if (e && e->s.failures > 0) {
		was = true;
		e->s.failures = 0;
		e->s.retry_interval_ms = 0;
		e->s.retry_at_ms = 0;
		mx_fed_dests_save(d, e);
	}
	pthread_mutex_unlock(&d->lock);
	return was;
}

bool mx_fed_dests_backed_off(struct mx_fed_dests *d, const char *destination, int64_t now)
{
	pthread_mutex_lock(&d->lock);
	struct mx_fed_dest *e = mx_fed_dests_find(d, destination);
	bool off = e && e->s.failures > 0 && now < e->s.retry_at_ms;
	pthread_mutex_unlock(&d->lock);
	return off;
}

int mx_fed_dests_get(struct mx_fed_dests *d, const char *destination,
		     struct mx_fed_dest_state *out)
{
	pthread_mutex_lock(&d->lock);
	struct mx_fed_dest *e = mx_fed_dests_find(d, destination);
	if (e)
		*out = e->s;
	pthread_mutex_unlock(&d->lock);
	return e ? 0 : MX_ENOTFOUND;
}
