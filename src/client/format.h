/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Events as clients see them (SPEC: client-server-api#room-event-format):
 * PDUs reduced to content, event_id, origin_server_ts, room_id, sender,
 * state_key, type and unsigned, with redactions applied.
 */
#ifndef MX_CLIENT_FORMAT_H
#define MX_CLIENT_FORMAT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct mx_req;
struct mx_store_event;

struct mx_format_opts {
	bool include_room_id;      /* false inside /sync room sections */
	const char *txn_device;    /* the requesting device: echo its transaction_id */
	const char *user_id;       /* the requesting user */
	int relations_depth;       /* nesting inside bundled aggregations (client/relations.h); 0 */
};

/*
 * A new client event for a stored event (caller owns the reference), or
 * NULL if the stored JSON is unreadable. Redacted events are pruned with
 * the room version's algorithm and carry unsigned.redacted_because; state
 * events carry unsigned.prev_content and replaces_state when they replaced
 * something.
 */
json_t *mx_client_format_event(struct mx_req *req, const struct mx_store_event *ev,
			       const struct mx_format_opts *o);

/* Stripped state ({type, state_key, content, sender}) for invites and knocks. */
json_t *mx_client_stripped_state(const json_t *pdu);

#endif
