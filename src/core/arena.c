/* SPDX-License-Identifier: Apache-2.0 */
/* Chunked bump allocator with deferred cleanups. */
#include "core/arena.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

#define MX_ARENA_CHUNK 8192

struct mx_arena_chunk {
	struct mx_arena_chunk *next;
	size_t used;
	size_t size;
	_Alignas(16) unsigned char data[];
};

struct mx_arena_defer {
	struct mx_arena_defer *next;
	void (*fn)(void *);
	void *p;
};

void mx_arena_init(struct mx_arena *a)
{
	a->chunks = NULL;
	a->defers = NULL;
}

void mx_arena_release(struct mx_arena *a)
{
	/* Defers may themselves live in chunks, so walk them before freeing. */
	for (struct mx_arena_defer *d = a->defers; d; d = d->next)
		d->fn(d->p);
	a->defers = NULL;
	struct mx_arena_chunk *c = a->chunks;
	while (c) {
		struct mx_arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	a->chunks = NULL;
}

void *mx_arena_alloc(struct mx_arena *a, size_t n)
{
	/* Rounding up, or adding the chunk header, would wrap a size this big
	 * to a tiny block: treat it as the out-of-memory it is. */
	if (n > SIZE_MAX - sizeof(struct mx_arena_chunk) - 15)
		MX_BUG("arena allocation size overflows");
	n = (n + 15) & ~(size_t)15;
	struct mx_arena_chunk *c = a->chunks;
	if (!c || c->size - c->used < n) {
		size_t size = n > MX_ARENA_CHUNK / 2 ? n : MX_ARENA_CHUNK;
		c = mx_xmalloc(sizeof(*c) + size);
		c->used = 0;
		c->size = size;
		/* A big one-off block goes behind the current chunk so the
		 * current chunk's free space is still used. */
		if (a->chunks && size != MX_ARENA_CHUNK) {
			c->next = a->chunks->next;
			a->chunks->next = c;
		} else {
			c->next = a->chunks;
			a->chunks = c;
		}
	}
	void *p = c->data + c->used;
	c->used += n;
	memset(p, 0, n);
	return p;
}

char *mx_arena_strndup(struct mx_arena *a, const char *s, size_t n)
{
	char *p = mx_arena_alloc(a, n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *mx_arena_strdup(struct mx_arena *a, const char *s)
{
	return mx_arena_strndup(a, s, strlen(s));
}

char *mx_arena_printf(struct mx_arena *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		MX_BUG("vsnprintf failed");
	char *p = mx_arena_alloc(a, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void mx_arena_defer(struct mx_arena *a, void (*fn)(void *), void *p)
{
	struct mx_arena_defer *d = mx_arena_alloc(a, sizeof(*d));
	d->fn = fn;
	d->p = p;
	d->next = a->defers;
	a->defers = d;
}

static void mx_arena_json_decref(void *p)
{
	json_decref(p);
}

json_t *mx_arena_json(struct mx_arena *a, json_t *v)
{
	if (v)
		mx_arena_defer(a, mx_arena_json_decref, v);
	return v;
}

void *mx_arena_own(struct mx_arena *a, void *p)
{
	if (p)
		mx_arena_defer(a, free, p);
	return p;
}
