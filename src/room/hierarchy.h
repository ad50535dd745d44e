/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The space hierarchy: walking a space's tree of m.space.child state
 * events for GET /rooms/{roomId}/hierarchy (client) and answering GET
 * /hierarchy/{roomId} (federation).
 * SPEC: client-server-api#spaces, #get_matrixclientv1roomsroomidhierarchy,
 * server-server-api#spaces
 *
 * The walk is depth-first, as the spec says and Synapse does: a room,
 * then each of its children in the spec's order, each with its own
 * subtree, every room at most once (loops end there). It knows neither
 * HTTP nor federation: rooms come from a source (struct
 * mx_hierarchy_source: the real one reads our room cache; the unit tests
 * bring a fake), and when it reaches rooms only other servers can
 * describe it stops and says which; the caller asks them (federation/
 * hierarchy.h) and hands the answers back, then runs it again.
 *
 * Pages are stateless: a next_batch token says how many rooms earlier
 * pages showed and which room was the last of them; the next page walks
 * the tree again from the root and skips that many (or up to that room,
 * if it comes sooner: rooms removed meanwhile), so tokens survive a
 * restart and cost no storage. A token is tied to the user, the root,
 * suggested_only and max_depth (the spec forbids changing the last two).
 *
 * Room entries are JSON objects: the PublishedRoomsChunk fields
 * (room/directory.h) plus encryption, room_version, allowed_room_ids
 * (restricted rooms) and children_state (the m.space.child events of a
 * space as stripped state with origin_server_ts; empty for other rooms).
 */
#ifndef MX_ROOM_HIERARCHY_H
#define MX_ROOM_HIERARCHY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mx_arena;
struct mx_rooms;
struct mx_worker;

/* Rooms per page: the default and the cap (as Synapse's MAX_ROOMS). */
#define MX_HIERARCHY_LIMIT 50
/* Deepest level walked, whatever max_depth asks for. */
#define MX_HIERARCHY_MAX_DEPTH 100
/* Children a federation answer describes (as Synapse's MAX_ROOMS_PER_SPACE). */
#define MX_HIERARCHY_FED_CHILDREN 50
/* Rooms the walk looks at per request, skipped ones included. */
#define MX_HIERARCHY_MAX_VISITS 20000
/* Remote rooms asked for at once when the walk needs them. */
#define MX_HIERARCHY_FETCH_BATCH 8
/* SPEC: m.space.child "order": at most 50 characters of 0x20-0x7E. */
#define MX_HIERARCHY_ORDER_MAX 50

/* ---- ordering (pure) ---- */

/* Whether an "order" value is valid: a string of 1-50 characters 0x20-0x7E. */
bool mx_hierarchy_order_valid(const json_t *order);

/*
 * Whether an m.space.child event (a PDU or stripped event) links a room:
 * its content has a non-empty "via" array of strings, and its state_key
 * is a room id. (SPEC: "When not present or invalid, the child room is not
 * considered to be part of the space".)
 */
bool mx_hierarchy_child_valid(const json_t *ev);

/*
 * Order of two m.space.child events (SPEC: client-server-api#ordering-of-
 * children-within-a-space): those with a valid order first, by order
 * (code points); then by origin_server_ts; then by state key.
 */
int mx_hierarchy_child_cmp(const json_t *a, const json_t *b);

/*
 * The children_state of a space from its m.space.child events (PDUs or
 * stripped, borrowed): the valid ones (suggested only if asked), as
 * stripped events {type, state_key, content, sender, origin_server_ts},
 * in the spec's order. A new array; caller owns it.
 */
json_t *mx_hierarchy_children_state(json_t *const *events, size_t n, bool suggested_only);

/* ---- pagination tokens (pure) ---- */

/* What a request is about: a token is only good for the same again. */
uint64_t mx_hierarchy_params_hash(const char *user_id, const char *root, bool suggested_only,
				  int max_depth);

struct mx_hierarchy_token {
	uint64_t shown;      /* rooms earlier pages showed */
	const char *last;    /* the last of them (in the token's arena) */
};

/* The opaque next_batch token (URL-safe base64), in a. */
const char *mx_hierarchy_token_make(struct mx_arena *a, uint64_t params_hash, uint64_t shown,
				    const char *last);

/*
 * Read a token made for params_hash. 0, or MX_EINVALIDPARAM for anything
 * else (garbage, another request's token).
 */
int mx_hierarchy_token_parse(struct mx_arena *a, const char *s, uint64_t params_hash,
			     struct mx_hierarchy_token *out);

/* ---- remote answers (pure) ---- */

/*
 * A room summary from another server made safe to show: only the fields
 * a room entry has, of the right types (num_joined_members,
 * world_readable and guest_can_join filled in), children_state checked
 * and ordered. NULL unless it is an object with a valid room_id. Caller
 * owns the result.
 */
json_t *mx_hierarchy_check_entry(const json_t *entry, bool with_children);

/*
 * A federation /hierarchy answer for room_id made safe to use: {room,
 * children (at most MX_HIERARCHY_FED_CHILDREN valid entries),
 * inaccessible_children (room ids)}. NULL when room is missing, invalid
 * or about another room. Caller owns the result.
 */
json_t *mx_hierarchy_check_answer(const json_t *resp, const char *room_id);

/* ---- rooms ---- */

/* Where a room is described. */
enum mx_hierarchy_where {
	MX_HIERARCHY_LOCAL,  /* here */
	MX_HIERARCHY_REMOTE, /* by the servers in its via */
};

/*
 * Where the walk gets rooms from. Strings and JSON it returns live in the
 * arena it is given.
 */
struct mx_hierarchy_source {
	void *ctx;
	/* Whether room_id is described here or must be asked of via's servers. */
	enum mx_hierarchy_where (*where)(void *ctx, const char *room_id, const json_t *via);
	/*
	 * The entry of a room described here: 0 with *entry, MX_EFORBIDDEN if
	 * the asker may not see it, MX_ENOTFOUND if we do not know it. Without
	 * full, only room_id, room_type and children_state need be filled in
	 * (a room on a page already shown).
	 */
	int (*summary)(void *ctx, struct mx_arena *a, const char *room_id, bool suggested_only,
		       bool full, json_t **entry);
	/*
	 * For a room another server described that is neither public nor
	 * world-readable: whether the asker may still see it (a member of one
	 * of allowed_room_ids, which may be NULL, or of the room itself).
	 */
	bool (*remote_allowed)(void *ctx, struct mx_arena *a, const char *room_id,
			       const json_t *allowed_room_ids);
};

/*
 * Our rooms as a user (user_id) or another server (origin) may see them
 * (exactly one of the two is set): SPEC rooms chunk of the client API and
 * server-server-api#spaces, after Synapse. A user sees rooms they are
 * joined to or invited to, public, knock and knock_restricted rooms (in
 * versions that have them), world-readable rooms, and restricted rooms
 * when joined to one of the allowed rooms. A server sees the public,
 * knockable and world-readable ones, those it has a joined or invited
 * user in, and restricted ones when it has a user in an allowed room;
 * never rooms created with "m.federate": false. Entries for a server carry
 * allowed_room_ids (so it can filter for its users).
 */
struct mx_hierarchy_local {
	struct mx_rooms *rooms;
	struct mx_worker *w;
	const char *server_name;  /* ours */
	const char *user_id;
	const char *origin;
};
void mx_hierarchy_source_local(struct mx_hierarchy_source *src, struct mx_hierarchy_local *l);

/* ---- the walk ---- */

struct mx_hierarchy_walk;

struct mx_hierarchy_params {
	const char *root;
	bool suggested_only;
	int max_depth;          /* < 0: MX_HIERARCHY_MAX_DEPTH */
	int limit;              /* rooms per page, 1..MX_HIERARCHY_LIMIT */
	const struct mx_hierarchy_token *from; /* NULL: the first page */
	uint64_t params_hash;   /* for the next_batch token */
};

/* A walk living in a (which must outlive it); src and p are copied. */
struct mx_hierarchy_walk *mx_hierarchy_walk_new(struct mx_arena *a,
						const struct mx_hierarchy_source *src,
						const struct mx_hierarchy_params *p);

/*
 * Walk on. 0 when the page is complete (mx_hierarchy_walk_result), or 1
 * when other servers must be asked about the rooms of
 * mx_hierarchy_walk_wanted first (or a database error, negative).
 */
int mx_hierarchy_walk_run(struct mx_hierarchy_walk *wk);

/*
 * After run returned 1: the rooms wanted (1..MX_HIERARCHY_FETCH_BATCH),
 * their ids and via arrays (borrowed from the walk).
 */
size_t mx_hierarchy_walk_wanted(struct mx_hierarchy_walk *wk, const char *const **room_ids,
				const json_t *const **vias);

/*
 * The answer about a wanted room: one checked by mx_hierarchy_check_answer
 * (borrowed; copied), or NULL when no server could tell (the room is then
 * left out). Every wanted room needs one before the next run; a second
 * answer about the same room is ignored.
 */
void mx_hierarchy_walk_supply(struct mx_hierarchy_walk *wk, const char *room_id,
			      const json_t *answer);

/*
 * The page: {"rooms": [...], "next_batch"?}, a new reference (caller owns
 * it), after run returned 0.
 */
json_t *mx_hierarchy_walk_result(struct mx_hierarchy_walk *wk);

/*
 * The federation answer about one of our rooms for origin (SPEC:
 * server-server-api#get_matrixfederationv1hierarchyroomid): {room with its
 * children_state, children (the children we can describe and origin may
 * see, without their own children), inaccessible_children (ours it may
 * not see)}. 0 with *out (caller owns it), or MX_ENOTFOUND for a room we
 * do not know or origin may not see.
 */
int mx_hierarchy_answer(const struct mx_hierarchy_source *src, struct mx_arena *a,
			const char *room_id, bool suggested_only, json_t **out);

#endif
