/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A room state as data: a map from (event type, state key) to event id.
 * It holds the current state of a room, the state before an event and the
 * inputs and output of state resolution, so lookups are O(1): a hash table
 * (keyed SipHash with a per-map random key, so remote servers cannot pick
 * state keys that collide) over a dense array of entries.
 *
 * Ownership: the map owns copies of every string given to it; strings it
 * hands out are borrowed and stay valid until that entry is changed or
 * removed, or the map is sorted or freed. A map is not thread-safe for
 * writers; any number of threads may read one that nobody changes.
 */
#ifndef MX_STATE_MAP_H
#define MX_STATE_MAP_H

#include <stdbool.h>
#include <stddef.h>

struct mx_state_map;

/* An empty map. Caller frees with mx_state_map_free(). Never fails. */
struct mx_state_map *mx_state_map_new(void);
/* Free m and its strings. NULL is a no-op. */
void mx_state_map_free(struct mx_state_map *m);
/* A deep copy of m, with the same iteration order. Caller frees. */
struct mx_state_map *mx_state_map_copy(const struct mx_state_map *m);

/*
 * Map (type, state_key) to event_id, replacing any previous value (the
 * entry keeps its place in the iteration order). All three are copied.
 */
void mx_state_map_set(struct mx_state_map *m, const char *type, const char *state_key,
		      const char *event_id);
/* The event id at (type, state_key), borrowed, or NULL if absent. */
const char *mx_state_map_get(const struct mx_state_map *m, const char *type,
			     const char *state_key);
/* Remove (type, state_key). Returns true if it was present. */
bool mx_state_map_remove(struct mx_state_map *m, const char *type, const char *state_key);
/* Number of entries. */
size_t mx_state_map_count(const struct mx_state_map *m);

/*
 * Iterate: start with *it = 0 and call until it returns false; each call
 * sets the non-NULL out pointers to the next entry (borrowed strings).
 * The order is stable: insertion order, or (type, state_key) byte order
 * after mx_state_map_sort(), and copies keep it. Do not change the map
 * while iterating.
 *
 *     size_t it = 0; const char *t, *k, *id;
 *     while (mx_state_map_next(m, &it, &t, &k, &id)) ...
 */
bool mx_state_map_next(const struct mx_state_map *m, size_t *it, const char **type,
		       const char **state_key, const char **event_id);

/* Put the entries in (type, state_key) order (strcmp on each), in place. */
void mx_state_map_sort(struct mx_state_map *m);

/* True if a and b hold the same entries, whatever their order. */
bool mx_state_map_equal(const struct mx_state_map *a, const struct mx_state_map *b);

#endif
