/* SPDX-License-Identifier: Apache-2.0 */
/*
 * History visibility: may a user see an event?
 * SPEC: client-server-api#history-visibility
 */
#ifndef MX_CLIENT_VISIBILITY_H
#define MX_CLIENT_VISIBILITY_H

#include <stdbool.h>

struct mx_req;
struct mx_store_event;

/*
 * Decide for one event, from the state after it (the user's own
 * membership events are always visible to them). currently_joined is the
 * user's membership now, for "shared".
 */
bool mx_visibility_allows(struct mx_req *req, const char *user_id, const struct mx_store_event *ev,
			  bool currently_joined);

#endif
