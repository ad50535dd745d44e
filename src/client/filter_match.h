/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Applying filters (SPEC: client-server-api#filtering): whether an event
 * passes an EventFilter / RoomEventFilter, with "*" wildcards in types.
 */
#ifndef MX_CLIENT_FILTER_MATCH_H
#define MX_CLIENT_FILTER_MATCH_H

#include <jansson.h>
#include <stdbool.h>

/* A type pattern with '*' wildcards matching any run of characters. */
bool mx_filter_glob(const char *pattern, const char *s);
/*
 * Whether an event (type, sender, room, content) passes filter (an
 * EventFilter or RoomEventFilter object; NULL passes everything).
 */
bool mx_filter_event_matches(const json_t *filter, const char *type, const char *sender,
			     const char *room_id, const json_t *content);
/* Whether room_id passes a filter's rooms / not_rooms. */
bool mx_filter_room_allowed(const json_t *filter, const char *room_id);
/* The filter's "limit" if a positive integer, else def, capped at max. */
int mx_filter_limit(const json_t *filter, int def, int max);

#endif
