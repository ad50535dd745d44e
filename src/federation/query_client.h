/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Asking other servers for our clients: a remote user's profile
 * (query/profile), a remote room alias (query/directory) and another
 * server's published room list (publicRooms).
 * SPEC: server-server-api#querying-for-information,
 * server-server-api#public-room-directory
 *
 * Each query has a blocking call, for job threads only (it waits on the
 * network), and a handler-side wrapper (_req) that runs that call on the
 * job pool and parks the request meanwhile (http/fanout.h, one task): it
 * returns MX_ESUSPENDED (the handler returns it) until the call is done,
 * then the call's result, with the outputs copied into the request arena.
 * The wrapper keeps its state in req->handler_state: one query per
 * request. Results are checked (a remote's malformed answer is
 * MX_EREMOTE) and live in the given arena. Errors: MX_ENOTFOUND (the
 * remote answered 404), MX_EFORBIDDEN (it refused with 403), MX_EREMOTE
 * (unreachable, backed off, timed out, another status, or a malformed
 * answer).
 *
 * Remote profile answers are cached for MX_FED_PROFILE_CACHE_MS
 * (srv->remote_profiles): clients tend to ask for a profile and then its
 * fields one by one, or for the same user from several screens at once.
 */
#ifndef MX_FEDERATION_QUERY_CLIENT_H
#define MX_FEDERATION_QUERY_CLIENT_H

#include <jansson.h>

struct mx_arena;
struct mx_req;
struct mx_server;
struct mx_room_directory_query;

/* How long a remote profile answer is reused, and how many are kept. */
#define MX_FED_PROFILE_CACHE_MS 60000
#define MX_FED_PROFILE_CACHE_ENTRIES 1024
#define MX_FED_PROFILE_CACHE_BYTES (1024 * 1024)

/*
 * The profile of user_id (on another server): the whole profile object,
 * or with field non-NULL an object holding at least that field (a remote
 * answer without it, or with it null, is MX_ENOTFOUND).
 */
int mx_fed_query_profile(struct mx_server *srv, struct mx_arena *a, const char *user_id,
			 const char *field, json_t **out);
int mx_fed_query_profile_req(struct mx_req *req, const char *user_id, const char *field,
			     json_t **out);

/*
 * The room alias names on its server: the room id and the servers the
 * remote says are in the room (valid server names only, each once,
 * possibly none).
 */
int mx_fed_query_alias(struct mx_server *srv, struct mx_arena *a, const char *alias,
		       const char **room_id, json_t **servers);
int mx_fed_query_alias_req(struct mx_req *req, const char *alias, const char **room_id,
			   json_t **servers);

/*
 * Several aliases, one after the other on one job (the aliases a
 * canonical alias event names; at most MX_FED_QUERY_ALIASES_MAX, the rest
 * are not asked). On the handler's run after the park, 0 and *resolved:
 * an object (request arena) mapping each alias asked to its room id, or
 * to the integer error of its query. Or MX_ESUSPENDED.
 */
#define MX_FED_QUERY_ALIASES_MAX 8
int mx_fed_query_aliases_req(struct mx_req *req, const char *const *aliases, size_t n,
			     json_t **resolved);

/*
 * One page of server's published rooms for q: GET /publicRooms, or POST
 * with q's filter or network options when it has any; a server that does
 * not know the POST (404, 405, M_UNRECOGNIZED) is asked with GET and its
 * list filtered here, unpaged (as Synapse does). *out is checked by
 * mx_fed_query_public_rooms_check.
 */
int mx_fed_query_public_rooms(struct mx_server *srv, struct mx_arena *a, const char *server,
			      const struct mx_room_directory_query *q, json_t **out);
int mx_fed_query_public_rooms_req(struct mx_req *req, const char *server,
				  const struct mx_room_directory_query *q, json_t **out);

/* ---- pure helpers (exported for the unit tests) ---- */

/* s with every byte but [A-Za-z0-9-._~] percent-encoded, for a query string (in a). */
const char *mx_fed_query_escape(struct mx_arena *a, const char *s);

/*
 * A /publicRooms answer from another server made safe to pass on: a new
 * object with "chunk" (the entries that are objects with a string
 * room_id, their required num_joined_members, world_readable and
 * guest_can_join filled in when missing or of the wrong type, at most
 * max_entries of them), and next_batch, prev_batch (strings) and
 * total_room_count_estimate (an integer) when well-formed. NULL when
 * resp is not an object with a "chunk" array. Caller owns the result.
 */
json_t *mx_fed_query_public_rooms_check(const json_t *resp, size_t max_entries);

#endif
