/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The room directory as both APIs show it: the published room list
 * (client /publicRooms and federation /publicRooms, one implementation),
 * its filter, and the servers to join a room through that an alias
 * resolves to (client /directory/room and federation query/directory).
 * SPEC: client-server-api#published-room-directory,
 * server-server-api#public-room-directory, #querying-for-information
 */
#ifndef MX_ROOM_DIRECTORY_H
#define MX_ROOM_DIRECTORY_H

#include <jansson.h>
#include <stdbool.h>

struct mx_arena;
struct mx_db_conn;
struct mx_rooms;
struct mx_worker;

/* Rooms in one page of /publicRooms, whatever limit asks for. */
#define MX_ROOM_DIRECTORY_MAX_LIMIT 500
/* Longest generic_search_term we search for. */
#define MX_ROOM_DIRECTORY_TERM_MAX 1024

/* What a /publicRooms request asks for. Strings are borrowed. */
struct mx_room_directory_query {
	int limit;                 /* 0: no limit (capped at MX_ROOM_DIRECTORY_MAX_LIMIT) */
	const char *since;         /* a pagination token, or NULL */
	const char *term;          /* filter.generic_search_term, lower-cased; NULL: none */
	const json_t *room_types;  /* filter.room_types; NULL or empty: any */
	const char *third_party_instance_id;
	bool include_all_networks;
};

/*
 * A limit given as a string (query parameter): a non-negative integer,
 * capped at MX_ROOM_DIRECTORY_MAX_LIMIT. 0 or MX_EINVALIDPARAM.
 */
int mx_room_directory_parse_limit(const char *s, int *out);

/*
 * The POST /publicRooms body (client and federation share its shape):
 * limit, since, filter {generic_search_term, room_types},
 * include_all_networks, third_party_instance_id. Fills q (strings point
 * into body or live in a). 0, or MX_EBADJSON / MX_EINVALIDPARAM with a
 * static message in *why.
 */
int mx_room_directory_parse_body(struct mx_arena *a, const json_t *body,
				 struct mx_room_directory_query *q, const char **why);

/*
 * One page of the published rooms (PublishedRoomsChunk objects, most
 * joined members first, with next_batch/prev_batch tokens and
 * total_room_count_estimate). Only rooms with joined members that anyone
 * can join, knock on or read are listed, as Synapse lists them;
 * for_federation also leaves out rooms created with "m.federate": false.
 * Returns 0 with *out a new reference (the caller owns it),
 * MX_EINVALIDPARAM with a static message in *why (bad since token,
 * include_all_networks with third_party_instance_id), or a database error.
 */
int mx_room_directory_list(struct mx_db_conn *c, struct mx_arena *a,
			   const struct mx_room_directory_query *q, bool for_federation, json_t **out,
			   const char **why);

/*
 * The PublishedRoomsChunk of a room we know, from its cached current state
 * (room_id, num_joined_members, world_readable, guest_can_join, and name,
 * topic, canonical_alias, avatar_url, join_rule, room_type when set),
 * whether or not it is published: the caller decides who may see it (the
 * space hierarchy builds its entries on it). 0 with *out in a;
 * MX_ENOTFOUND for a room we do not know.
 */
int mx_room_directory_chunk(struct mx_rooms *rooms, struct mx_worker *w, struct mx_arena *a,
			    const char *room_id, json_t **out);

/*
 * Whether a PublishedRoomsChunk passes q's filter: term found (ASCII case
 * folded) in its name, topic or canonical_alias, and its room_type among
 * room_types (null standing for rooms without a type). Works on entries
 * from other servers too (their lists filtered here).
 */
bool mx_room_directory_matches(const json_t *entry, const struct mx_room_directory_query *q);

/*
 * The servers to join room_id through: first (unless NULL), then the
 * servers of its joined members as far as we know them, each once. A new
 * array (caller owns it); just first for a room we do not know.
 */
json_t *mx_room_directory_servers(struct mx_rooms *rooms, struct mx_worker *w, struct mx_arena *a,
				  const char *first, const char *room_id);

/* Append server to the array servers unless it is there already. */
void mx_room_directory_add_server(json_t *servers, const char *server);

#endif
