/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The state map: a dense array of entries in iteration order plus an
 * open-addressing index (linear probing, backward-shift deletion, load at
 * most 1/2) of positions in that array. Removing an entry leaves a hole in
 * the array that the next rebuild squeezes out, so iteration order never
 * shifts under a reader. Each entry is one allocation holding
 * "type\0state_key\0event_id\0".
 */
#include "state/map.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/rand.h"

struct mx_state_ent {
	char *buf;        /* type\0state_key\0event_id\0; NULL for a hole */
	size_t sk_off;    /* offset of state_key in buf */
	size_t id_off;    /* offset of event_id in buf */
	uint64_t hash;
};

struct mx_state_map {
	struct mx_state_ent *ents;
	size_t n_ents;    /* used slots of ents, holes included */
	size_t cap_ents;
	size_t count;     /* live entries */
	uint32_t *slots;  /* 0 = empty, else index into ents + 1 */
	size_t n_slots;   /* a power of two */
	unsigned char key[crypto_shorthash_KEYBYTES];
};

#define MX_STATE_MAP_MIN_SLOTS 16

static uint64_t mx_state_hash(const struct mx_state_map *m, const char *type,
			      const char *state_key)
{
	unsigned char a[crypto_shorthash_BYTES], b[crypto_shorthash_BYTES];
	uint64_t ha, hb;

	crypto_shorthash(a, (const unsigned char *)type, strlen(type), m->key);
	crypto_shorthash(b, (const unsigned char *)state_key, strlen(state_key), m->key);
	memcpy(&ha, a, sizeof(ha));
	memcpy(&hb, b, sizeof(hb));
	/* Keyed halves: an attacker who controls either cannot predict the sum. */
	return ha * UINT64_C(0x9E3779B97F4A7C15) ^ hb;
}

static size_t mx_state_slots_for(size_t n)
{
	size_t s = MX_STATE_MAP_MIN_SLOTS;
	while (s < 2 * n + 2)
		s *= 2;
	return s;
}

static void mx_state_slot_put(struct mx_state_map *m, size_t ent)
{
	size_t mask = m->n_slots - 1;
	size_t i = (size_t)m->ents[ent].hash & mask;
	while (m->slots[i])
		i = (i + 1) & mask;
	m->slots[i] = (uint32_t)(ent + 1);
}

/* Squeeze the holes out of ents and rebuild the index with n_slots slots. */
static void mx_state_rebuild(struct mx_state_map *m, size_t n_slots)
{
	size_t w = 0;
	for (size_t r = 0; r < m->n_ents; r++)
		if (m->ents[r].buf)
			m->ents[w++] = m->ents[r];
	m->n_ents = w;
	free(m->slots);
	m->n_slots = n_slots;
	m->slots = mx_xcalloc(n_slots, sizeof(*m->slots));
	for (size_t i = 0; i < m->n_ents; i++)
		mx_state_slot_put(m, i);
}

/* The slot holding (type, state_key), or SIZE_MAX. */
static size_t mx_state_find(const struct mx_state_map *m, const char *type,
			    const char *state_key, uint64_t h)
{
	size_t mask = m->n_slots - 1;
	for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
		uint32_t s = m->slots[i];
		if (!s)
			return SIZE_MAX;
		const struct mx_state_ent *e = &m->ents[s - 1];
		if (e->hash == h && !strcmp(e->buf, type) && !strcmp(e->buf + e->sk_off, state_key))
			return i;
	}
}

struct mx_state_map *mx_state_map_new(void)
{
	struct mx_state_map *m = mx_xcalloc(1, sizeof(*m));
	m->n_slots = MX_STATE_MAP_MIN_SLOTS;
	m->slots = mx_xcalloc(m->n_slots, sizeof(*m->slots));
	mx_rand_bytes(m->key, sizeof(m->key));
	return m;
}

void mx_state_map_free(struct mx_state_map *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_ents; i++)
		free(m->ents[i].buf);
	free(m->ents);
	free(m->slots);
	free(m);
}

struct mx_state_map *mx_state_map_copy(const struct mx_state_map *m)
{
	struct mx_state_map *c = mx_xcalloc(1, sizeof(*c));
	memcpy(c->key, m->key, sizeof(c->key));
	c->cap_ents = m->count ? m->count : 1;
	c->ents = mx_xmalloc(c->cap_ents * sizeof(*c->ents));
	for (size_t i = 0; i < m->n_ents; i++) {
		const struct mx_state_ent *e = &m->ents[i];
		if (!e->buf)
			continue;
		size_t len = e->id_off + strlen(e->buf + e->id_off) + 1;
		struct mx_state_ent *d = &c->ents[c->n_ents++];
		*d = *e;
		d->buf = mx_xmalloc(len);
		memcpy(d->buf, e->buf, len);
	}
	c->count = c->n_ents;
	c->n_slots = mx_state_slots_for(c->count);
	c->slots = mx_xcalloc(c->n_slots, sizeof(*c->slots));
	for (size_t i = 0; i < c->n_ents; i++)
		mx_state_slot_put(c, i);
	return c;
}

void mx_state_map_set(struct mx_state_map *m, const char *type, const char *state_key,
		      const char *event_id)
{
	uint64_t h = mx_state_hash(m, type, state_key);
	size_t slot = mx_state_find(m, type, state_key, h);
	size_t idlen = strlen(event_id);

	if (slot != SIZE_MAX) {
		struct mx_state_ent *e = &m->ents[m->slots[slot] - 1];
		if (!strcmp(e->buf + e->id_off, event_id))
			return;
		e->buf = mx_xrealloc(e->buf, e->id_off + idlen + 1);
		memcpy(e->buf + e->id_off, event_id, idlen + 1);
		return;
	}

	if (2 * (m->n_ents + 1) + 2 > m->n_slots)
		mx_state_rebuild(m, mx_state_slots_for(m->count + 1));
	if (m->n_ents == m->cap_ents) {
		m->cap_ents = m->cap_ents ? 2 * m->cap_ents : 8;
		m->ents = mx_xrealloc(m->ents, m->cap_ents * sizeof(*m->ents));
	}
	size_t tlen = strlen(type), klen = strlen(state_key);
	struct mx_state_ent *e = &m->ents[m->n_ents];
	e->sk_off = tlen + 1;
	e->id_off = tlen + 1 + klen + 1;
	e->hash = h;
	e->buf = mx_xmalloc(e->id_off + idlen + 1);
	memcpy(e->buf, type, tlen + 1);
	memcpy(e->buf + e->sk_off, state_key, klen + 1);
	memcpy(e->buf + e->id_off, event_id, idlen + 1);
	mx_state_slot_put(m, m->n_ents);
	m->n_ents++;
	m->count++;
}

const char *mx_state_map_get(const struct mx_state_map *m, const char *type,
			     const char *state_key)
{
	if (!m->count)
		return NULL;
	size_t slot = mx_state_find(m, type, state_key, mx_state_hash(m, type, state_key));
	if (slot == SIZE_MAX)
		return NULL;
	const struct mx_state_ent *e = &m->ents[m->slots[slot] - 1];
	return e->buf + e->id_off;
}

bool mx_state_map_remove(struct mx_state_map *m, const char *type, const char *state_key)
{
	if (!m->count)
		return false;
	size_t i = mx_state_find(m, type, state_key, mx_state_hash(m, type, state_key));
	if (i == SIZE_MAX)
		return false;

	struct mx_state_ent *e = &m->ents[m->slots[i] - 1];
	free(e->buf);
	e->buf = NULL;
	m->count--;

	/* Backward-shift deletion keeps every probe chain unbroken. */
	size_t mask = m->n_slots - 1;
	for (size_t j = (i + 1) & mask; m->slots[j]; j = (j + 1) & mask) {
		size_t k = (size_t)m->ents[m->slots[j] - 1].hash & mask;
		bool movable = i <= j ? (k <= i || k > j) : (k <= i && k > j);
		if (movable) {
			m->slots[i] = m->slots[j];
			i = j;
		}
	}
	m->slots[i] = 0;

	size_t holes = m->n_ents - m->count;
	if (holes > 16 && holes > m->count)
		mx_state_rebuild(m, mx_state_slots_for(m->count));
	return true;
}

size_t mx_state_map_count(const struct mx_state_map *m)
{
	return m->count;
}

bool mx_state_map_next(const struct mx_state_map *m, size_t *it, const char **type,
		       const char **state_key, const char **event_id)
{
	while (*it < m->n_ents) {
		const struct mx_state_ent *e = &m->ents[(*it)++];
		if (!e->buf)
			continue;
		if (type)
			*type = e->buf;
		if (state_key)
			*state_key = e->buf + e->sk_off;
		if (event_id)
			*event_id = e->buf + e->id_off;
		return true;
	}
	return false;
}

static int mx_state_ent_cmp(const void *pa, const void *pb)
{
	const struct mx_state_ent *a = pa, *b = pb;
	int c = strcmp(a->buf, b->buf);
	return c ? c : strcmp(a->buf + a->sk_off, b->buf + b->sk_off);
}

void mx_state_map_sort(struct mx_state_map *m)
{
	size_t w = 0;
	for (size_t r = 0; r < m->n_ents; r++)
		if (m->ents[r].buf)
			m->ents[w++] = m->ents[r];
	m->n_ents = w;
	if (m->n_ents > 1)
		qsort(m->ents, m->n_ents, sizeof(*m->ents), mx_state_ent_cmp);
	mx_state_rebuild(m, m->n_slots);
}

bool mx_state_map_equal(const struct mx_state_map *a, const struct mx_state_map *b)
{
	if (a == b)
		return true;
	if (a->count != b->count)
		return false;
	size_t it = 0;
	const char *t, *k, *id;
	while (mx_state_map_next(a, &it, &t, &k, &id)) {
		const char *o = mx_state_map_get(b, t, k);
		if (!o || strcmp(o, id))
			return false;
	}
	return true;
}
