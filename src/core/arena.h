/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The request arena: a bump allocator in chunks, plus a list of deferred
 * cleanups (json_decref, free, ...), all released at once when the request
 * ends. Anything "in the request pool" lives until mx_arena_release().
 */
#ifndef MX_CORE_ARENA_H
#define MX_CORE_ARENA_H

#include <stddef.h>

struct mx_arena_chunk;
struct mx_arena_defer;

struct mx_arena {
	struct mx_arena_chunk *chunks;
	struct mx_arena_defer *defers;
};

void mx_arena_init(struct mx_arena *a);
/* Run deferred cleanups (last registered first) and free every chunk. */
void mx_arena_release(struct mx_arena *a);
/* Zeroed, 16-byte aligned memory that lives as long as the arena. */
void *mx_arena_alloc(struct mx_arena *a, size_t n);
char *mx_arena_strdup(struct mx_arena *a, const char *s);
char *mx_arena_strndup(struct mx_arena *a, const char *s, size_t n);
char *mx_arena_printf(struct mx_arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Call fn(p) when the arena is released. */
void mx_arena_defer(struct mx_arena *a, void (*fn)(void *), void *p);
/* Take ownership of a jansson value: decref'd at release. Returns v. */
struct json_t;
struct json_t *mx_arena_json(struct mx_arena *a, struct json_t *v);
/* Take ownership of heap memory: freed at release. Returns p. */
void *mx_arena_own(struct mx_arena *a, void *p);

#endif
