/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sync filters: the schema check shared by POST /user/{userId}/filter and
 * the inline filters /sync accepts.
 * SPEC: client-server-api#filtering
 */
#ifndef MX_CLIENT_FILTER_H
#define MX_CLIENT_FILTER_H

#include <jansson.h>

/*
 * Check filter against the Filter schema (definitions/sync_filter.yaml,
 * event_filter.yaml, room_event_filter.yaml): every known field must have
 * its type (arrays of strings, user ids starting with '@', room ids with
 * '!', booleans, event_format "client" or "federation", limit an integer
 * >= 1). Unknown fields are allowed, as the schema allows them. Returns 0,
 * or MX_EBADJSON with *why (if why is non-NULL) set to a static message
 * naming the offending field. Pure: touches nothing but its arguments.
 */
int mx_filter_validate(const json_t *filter, const char **why);

#endif
