/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The expiring cache (ttlcache.h): a hash table of chained entries and a
 * list in insertion order. Every entry lives the same ttl, so insertion
 * order is expiry order: the list's head is always the next to expire,
 * which makes both dropping the expired and evicting when full O(1) each.
 */
#include "core/ttlcache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/mem.h"
#include "core/strhash.h"

#define MX_TTLCACHE_BUCKETS 256

struct mx_ttl_entry {
	struct mx_ttl_entry *chain;          /* next in the bucket */
	struct mx_ttl_entry *older, *newer;  /* insertion (= expiry) order */
	int64_t expires_ms;
	size_t bytes;
	uint64_t hash;
	char *key, *value;
};

struct mx_ttlcache {
	pthread_mutex_t lock;
	size_t max_entries, max_bytes;
	int64_t ttl_ms;
	size_t n, bytes;
	struct mx_ttl_entry *oldest, *newest;
	struct mx_ttl_entry *buckets[MX_TTLCACHE_BUCKETS];
};

struct mx_ttlcache *mx_ttlcache_new(size_t max_entries, size_t max_bytes, int64_t ttl_ms)
{
	struct mx_ttlcache *c = mx_xcalloc(1, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->max_entries = max_entries;
	c->max_bytes = max_bytes;
	c->ttl_ms = ttl_ms;
	return c;
}

static void mx_ttl_entry_free(struct mx_ttl_entry *e)
{
	free(e->key);
	free(e->value);
	free(e);
}

void mx_ttlcache_free(struct mx_ttlcache *c)
{
	if (!c)
		return;
	for (struct mx_ttl_entry *e = c->oldest, *next; e; e = next) {
		next = e->newer;
		mx_ttl_entry_free(e);
	}
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static struct mx_ttl_entry **mx_ttl_slot(struct mx_ttlcache *c, const char *key, uint64_t h)
{
	struct mx_ttl_entry **pp = &c->buckets[h % MX_TTLCACHE_BUCKETS];
	while (*pp && !((*pp)->hash == h && !strcmp((*pp)->key, key)))
		pp = &(*pp)->chain;
	return pp;
}

/* Unlink e from its bucket and the order list, and free it. */
static void mx_ttl_remove(struct mx_ttlcache *c, struct mx_ttl_entry *e)
{
	struct mx_ttl_entry **pp = mx_ttl_slot(c, e->key, e->hash);
	*pp = e->chain;
	if (e->older)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		c->newest = e->older;
	c->n--;
	c->bytes -= e->bytes;
	mx_ttl_entry_free(e);
}

static void mx_ttl_drop_expired(struct mx_ttlcache *c, int64_t now_ms)
{
	while (c->oldest && c->oldest->expires_ms <= now_ms)
		mx_ttl_remove(c, c->oldest);
}

const char *mx_ttlcache_get(struct mx_ttlcache *c, struct mx_arena *a, const char *key,
			    int64_t now_ms)
{
	if (!c)
		return NULL;
	const char *out = NULL;
	pthread_mutex_lock(&c->lock);
	mx_ttl_drop_expired(c, now_ms);
	struct mx_ttl_entry *e = *mx_ttl_slot(c, key, mx_strhash(key));
	if (e && e->expires_ms > now_ms) /* times that went back: still expired */
		out = mx_arena_strdup(a, e->value);
	pthread_mutex_unlock(&c->lock);
	return out;
}

void mx_ttlcache_put(struct mx_ttlcache *c, const char *key, const char *value, int64_t now_ms)
{
	if (!c || !c->max_entries)
		return;
	size_t bytes = strlen(key) + strlen(value) + 2;
	if (bytes > c->max_bytes / 4)
		return;
	uint64_t h = mx_strhash(key);
	pthread_mutex_lock(&c->lock);
	mx_ttl_drop_expired(c, now_ms);
	struct mx_ttl_entry *old = *mx_ttl_slot(c, key, h);
	if (old)
		mx_ttl_remove(c, old);
	while (c->oldest && (c->n >= c->max_entries || c->bytes + bytes > c->max_bytes))
		mx_ttl_remove(c, c->oldest);
	struct mx_ttl_entry *e = mx_xcalloc(1, sizeof(*e));
	e->key = mx_xstrdup(key);
	e->value = mx_xstrdup(value);
	e->hash = h;
	e->bytes = bytes;
	e->expires_ms = now_ms + c->ttl_ms;
	struct mx_ttl_entry **pp = mx_ttl_slot(c, key, h);
	*pp = e;
	e->older = c->newest;
	if (c->newest)
		c->newest->newer = e;
	else
		c->oldest = e;
	c->newest = e;
	c->n++;
	c->bytes += bytes;
	pthread_mutex_unlock(&c->lock);
}

size_t mx_ttlcache_count(struct mx_ttlcache *c)
{
	if (!c)
		return 0;
	pthread_mutex_lock(&c->lock);
	size_t n = c->n;
	pthread_mutex_unlock(&c->lock);
	return n;
}
