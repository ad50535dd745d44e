/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rooms and the event pipeline for local events: build a PDU, authorise it
 * against the room's current state, hash and sign it, persist it (one
 * durable write for a whole batch), update the cached current state, and
 * hand it to the listeners (the sync notifier, later the federation sender
 * and pushers). Events of one room are processed in order under the room's
 * lock; different rooms run in parallel.
 *
 * The cache holds, per room touched since start, its version, current
 * state (with the events, for authorisation), forward extremities and
 * depth; it is loaded from the store on first use.
 */
#ifndef MX_ROOM_ROOM_H
#define MX_ROOM_ROOM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mx_arena;
struct mx_server;
struct mx_worker;
struct mx_room;
struct mx_rooms;
struct mx_room_version;

/* What listeners receive for each persisted event (all borrowed). */
struct mx_room_event {
	const char *room_id;
	const char *event_id;
	const char *type;
	const char *state_key;
	const char *sender;
	int64_t nid;
	const json_t *pdu;
	/* Local users to tell: members joined or invited after the event, and
	 * the target of a membership event. */
	const char *const *local_users;
	size_t n_local_users;
};
typedef void (*mx_room_listener_fn)(void *ctx, const struct mx_room_event *ev);

struct mx_rooms *mx_rooms_new(struct mx_server *srv);
void mx_rooms_free(struct mx_rooms *rooms);
/* Register a listener at start-up (not thread-safe against sends). */
void mx_rooms_add_listener(struct mx_rooms *rooms, mx_room_listener_fn fn, void *ctx);

/* ---- batches: one room, locked, several events, one durable write ---- */

struct mx_room_batch;

/*
 * Lock an existing room for a batch. MX_ENOTFOUND if we do not know it.
 * The batch and everything it returns live in arena a.
 */
int mx_room_batch_begin(struct mx_rooms *rooms, struct mx_worker *w, struct mx_arena *a,
			const char *room_id, struct mx_room_batch **out);
/*
 * Start a new room of version v whose first event is its m.room.create by
 * creator with content (borrowed). *room_id_out lives in a.
 */
int mx_room_batch_create(struct mx_rooms *rooms, struct mx_worker *w, struct mx_arena *a,
			 const struct mx_room_version *v, const char *creator, json_t *content,
			 struct mx_room_batch **out, const char **room_id_out);
/*
 * The same with the room id chosen by the caller (from mx_room_new_id), so
 * that an event elsewhere can name the room before it exists (a room
 * upgrade's tombstone). NULL room_id: a fresh one. MX_EINVALID for a
 * version whose room id is derived from its create event.
 */
int mx_room_batch_create_id(struct mx_rooms *rooms, struct mx_worker *w, struct mx_arena *a,
			    const struct mx_room_version *v, const char *room_id, const char *creator,
			    json_t *content, struct mx_room_batch **out, const char **room_id_out);

struct mx_room_event_spec {
	const char *type;
	const char *state_key;   /* NULL: not a state event */
	const char *sender;
	json_t *content;         /* borrowed */
	const char *redacts;     /* m.room.redaction */
	const char *txn_device, *txn_id;
	int64_t origin_server_ts; /* 0: now */
};

/*
 * Build, authorise and sign one event against the batch's state so far.
 * MX_EFORBIDDEN with *why on an authorisation failure; nothing is added.
 * MX_EEXISTS with *event_id set if the spec's transaction was sent lately
 * (a retry racing the first send): nothing is added.
 * *event_id lives in the batch's arena.
 */
int mx_room_batch_add(struct mx_room_batch *b, const struct mx_room_event_spec *spec,
		      const char **event_id, const char **why);
/* Persist everything added (durably), update the cache, notify, unlock. */
int mx_room_batch_commit(struct mx_room_batch *b);
/* Drop the batch and unlock. Safe after a failed add. */
void mx_room_batch_abort(struct mx_room_batch *b);

/* A state event of the batch's current state (borrowed), or NULL. */
const json_t *mx_room_batch_state(struct mx_room_batch *b, const char *type, const char *state_key);
const struct mx_room_version *mx_room_batch_version(struct mx_room_batch *b);

/* Convenience: one event in its own batch. */
int mx_room_send(struct mx_rooms *rooms, struct mx_worker *w, struct mx_arena *a,
		 const char *room_id, const struct mx_room_event_spec *spec, const char **event_id,
		 const char **why);

/* ---- reads of the cached current state ---- */

/*
 * Copy of the current state event (type, state_key) into a (a new
 * reference, released with the arena), or NULL. Its id in *event_id if
 * non-NULL. MX_ENOTFOUND for an unknown room.
 */
int mx_room_state_get(struct mx_rooms *rooms, struct mx_worker *w, struct mx_arena *a,
		      const char *room_id, const char *type, const char *state_key,
		      json_t **event, const char **event_id);
/* The version of a room we know, or NULL. */
const struct mx_room_version *mx_room_version_of(struct mx_rooms *rooms, struct mx_worker *w,
						 const char *room_id);
/* The membership of user in room ("join", "invite", ...), or NULL; in a. */
const char *mx_room_membership(struct mx_rooms *rooms, struct mx_worker *w, struct mx_arena *a,
			       const char *room_id, const char *user_id);

/*
 * Members of a room whose membership is m ("join", "invite", ...), from the
 * cached current state; ids live in a.
 */
int mx_room_members(struct mx_rooms *rooms, struct mx_worker *w, struct mx_arena *a,
		    const char *room_id, const char *m, const char ***users, size_t *n);

/*
 * Every current state event of one type (any state key), in no particular
 * order: references to the cached PDUs, released with a (read them only).
 * MX_ENOTFOUND for an unknown room.
 */
int mx_room_state_list(struct mx_rooms *rooms, struct mx_worker *w, struct mx_arena *a,
		       const char *room_id, const char *type, json_t ***events, size_t *n);

/* A new room id for versions that do not derive it: "!<18 alnum>:server". */
void mx_room_new_id(const char *server_name, char out[256]);

#endif
