/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small thread-safe cache of strings that expire: answers from other
 * servers kept for a short while (remote profiles), so that a client
 * asking the same thing twice in a row costs one round trip. Bounded in
 * entries and in bytes; when full, the entry closest to expiry goes.
 * Knows nothing of Matrix. Times are passed in (testable, no clock here).
 */
#ifndef MX_CORE_TTLCACHE_H
#define MX_CORE_TTLCACHE_H

#include <stddef.h>
#include <stdint.h>

struct mx_arena;
struct mx_ttlcache;

/*
 * A cache of at most max_entries entries and max_bytes bytes of keys and
 * values together; entries live ttl_ms. Caller frees with _free.
 */
struct mx_ttlcache *mx_ttlcache_new(size_t max_entries, size_t max_bytes, int64_t ttl_ms);
void mx_ttlcache_free(struct mx_ttlcache *c);

/*
 * The value stored under key if it has not expired at now_ms, copied into
 * arena a; NULL otherwise. c may be NULL (no cache: always NULL).
 */
const char *mx_ttlcache_get(struct mx_ttlcache *c, struct mx_arena *a, const char *key,
			    int64_t now_ms);

/*
 * Store value (copied) under key from now_ms, replacing what was there.
 * A pair larger than a quarter of max_bytes is not stored. c may be NULL.
 */
void mx_ttlcache_put(struct mx_ttlcache *c, const char *key, const char *value, int64_t now_ms);

/* Entries held (expired ones not yet dropped included), for tests. */
size_t mx_ttlcache_count(struct mx_ttlcache *c);

#endif
