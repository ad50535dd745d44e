/* SPDX-License-Identifier: Apache-2.0 */
/*
 * State resolution: the state of a room where its event graph forks is the
 * resolution of the states at the tips of the fork. Three algorithms, picked
 * by the room version's state_res (event/version.h):
 *
 *   MX_STATE_RES_V1   room v1             SPEC: rooms/v1#state-resolution
 *   MX_STATE_RES_V2   room v2-v11         SPEC: rooms/v2#state-resolution
 *                                         (rooms/fragments/v2-state-res.md)
 *   MX_STATE_RES_V21  room v12            SPEC: rooms/v12#state-resolution
 *
 * The resolver is pure: it reads events only through the fetch callback and
 * authorises them with auth/auth.h, so it never touches storage. The
 * choices made where the spec is loose are listed at the top of resolve.c.
 */
#ifndef MX_STATE_RESOLVE_H
#define MX_STATE_RESOLVE_H

#include <stddef.h>

#include <jansson.h>

#include "event/version.h"
#include "state/map.h"

/*
 * Most distinct events one resolution may load (conflicted events and the
 * auth chains walked from them). Past it, mx_state_resolve() gives up with
 * MX_ETOOLARGE rather than take unbounded time and memory.
 */
#define MX_STATE_RES_MAX_EVENTS 100000

/*
 * Fetch an event by id: returns a borrowed PDU (valid until
 * mx_state_resolve() returns) or NULL if unknown. Return NULL too for an
 * event that must not take part: one rejected against its auth chain, or
 * whose signatures or hashes failed. Such an event is left out of the
 * conflicted set and never used as an auth event, as Synapse does. The
 * resolver may ask for the same id more than once.
 */
typedef const json_t *(*mx_state_fetch_fn)(void *ctx, const char *event_id);

/*
 * Resolve n_states room states (each a map to event ids) into *out, a new
 * map sorted by (type, state_key) that the caller frees with
 * mx_state_map_free(). The inputs are not changed. n_states == 0 gives an
 * empty map; a single state is copied. When the states do not conflict, no
 * event is fetched.
 *
 * Events are federation PDUs in v's format (auth_events as ids from room
 * v3, as [id, hashes] pairs in v1 and v2; both are accepted). In room v12
 * the create event, absent from auth_events, is taken as an implicit auth
 * event of every other event ("$" + the room id without its "!").
 *
 * Returns 0 and sets *out, or, with *out set to NULL:
 *   MX_ETOOLARGE  more than MX_STATE_RES_MAX_EVENTS events involved;
 *   MX_EINVALID   v is NULL or has an unknown state_res, or a fetched event
 *                 has another room_id than the others.
 * A fetched event that is unusable (not an object, no string type, no
 * room_id except a v12 create event) counts as unknown. states[0..n) must
 * not be NULL.
 */
int mx_state_resolve(const struct mx_room_version *v, struct mx_state_map *const *states,
		     size_t n_states, mx_state_fetch_fn fetch, void *ctx,
		     struct mx_state_map **out);

#endif
