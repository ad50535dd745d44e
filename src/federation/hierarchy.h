/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The space hierarchy over federation, both ways (SPEC:
 * server-server-api#spaces, #get_matrixfederationv1hierarchyroomid):
 * asking other servers about rooms of a space we cannot describe
 * ourselves, and answering GET /_matrix/federation/v1/hierarchy/{roomId}
 * about ours (the route is in federation/routes.h).
 *
 * Answers from other servers are checked (room/hierarchy.h) and kept for
 * MX_FED_HIERARCHY_CACHE_MS in srv->remote_hierarchy, as the spec asks
 * ("The response to this endpoint should be cached for a period of
 * time"): a client paging through a space walks it again per page.
 */
#ifndef MX_FEDERATION_HIERARCHY_H
#define MX_FEDERATION_HIERARCHY_H

#include <jansson.h>
#include <stdbool.h>

struct mx_arena;
struct mx_server;

#define MX_FED_HIERARCHY_CACHE_MS (5 * 60 * 1000)
#define MX_FED_HIERARCHY_CACHE_ENTRIES 1024
#define MX_FED_HIERARCHY_CACHE_BYTES (16 * 1024 * 1024)
/* Servers of a via list asked, one after the other (as Synapse). */
#define MX_FED_HIERARCHY_SERVERS 3
/* One request to one server. */
#define MX_FED_HIERARCHY_TIMEOUT_MS 8000
/* The largest answer read. */
#define MX_FED_HIERARCHY_MAX_BODY (2 * 1024 * 1024)

/*
 * A cached answer about room_id (checked, in a), without the network.
 * False when there is none.
 */
bool mx_fed_hierarchy_cached(struct mx_server *srv, struct mx_arena *a, const char *room_id,
			     bool suggested_only, json_t **out);

/*
 * Ask the servers of via (a JSON array; names that are not server names,
 * and ours, are passed over; at most MX_FED_HIERARCHY_SERVERS are asked,
 * in order, until one answers) about room_id. Blocks: job threads only.
 * 0 with the checked answer {room, children, inaccessible_children} in
 * *out (in a); MX_ENOTFOUND when each server asked said 404 (or there was
 * none to ask); MX_EREMOTE when none gave a usable answer.
 */
int mx_fed_hierarchy_fetch(struct mx_server *srv, struct mx_arena *a, const char *room_id,
			   const json_t *via, bool suggested_only, json_t **out);

#endif
