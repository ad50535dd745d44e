/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rooms and their event graph: persisting an event (with its edges, the
 * forward extremities, the state group after it and the current state) in
 * one write job, and the reads that /sync, /messages and the room cache use.
 * Strings returned live in the given arena.
 */
#ifndef MX_STORE_ROOMS_H
#define MX_STORE_ROOMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

struct mx_arena;
struct mx_db;
struct mx_db_conn;

/* One event to persist. The writer fills the outputs. */
struct mx_persist_event {
	const char *event_id;
	const char *room_id;
	const char *type;
	const char *state_key;     /* NULL for a non-state event */
	const char *sender;
	int64_t depth;
	int64_t origin_server_ts;
	const char *json;          /* the PDU as JSON text */
	const char *const *prev_events;
	size_t n_prev;
	const char *membership;    /* m.room.member: content.membership */
	const char *relates_to;    /* m.relates_to.event_id, if any */
	const char *rel_type;
	const char *thread_id;     /* the thread root, for threaded events */
	const char *redacts;       /* m.room.redaction: the target */
	const char *replaces_state; /* the state event this one replaces */
	const char *txn_user, *txn_device, *txn_id; /* local sends */
	/* A new room: insert its row first. */
	const char *new_room_version;
	const char *new_room_creator;
	/* outputs */
	int64_t nid;
	int64_t state_group;
};

/*
 * Persist a batch of events of one room, in order, in one durable write:
 * each event's state group is its predecessor's plus its own state entry
 * (the room is single-headed: local events are serialised per room).
 * MX_ECONFLICT if an event id exists already.
 */
int mx_store_events_persist(struct mx_db *db, struct mx_persist_event *evs, size_t n);

/*
 * The same in two steps (see mx_db_write_submit): queue the write while
 * holding the room's lock, wait for durability after releasing it. pb and
 * evs must stay valid until the wait returns.
 */
struct mx_persist_batch {
	struct mx_db_job job;
	struct mx_persist_event *evs;
	size_t n;
};
void mx_store_events_persist_submit(struct mx_db *db, struct mx_persist_batch *pb,
				    struct mx_persist_event *evs, size_t n);
int mx_store_events_persist_wait(struct mx_db *db, struct mx_persist_batch *pb);

struct mx_store_room {
	const char *room_id;
	const char *version;
	const char *creator;
	int64_t state_group;
	bool published;
};
/* MX_ENOTFOUND if we know no such room. */
int mx_store_room_get(struct mx_db_conn *c, struct mx_arena *a, const char *room_id,
		      struct mx_store_room *out);

struct mx_store_event {
	int64_t nid;
	const char *event_id;
	const char *room_id;
	const char *type;
	const char *state_key;     /* NULL for non-state */
	const char *sender;
	int64_t depth;
	int64_t origin_server_ts;
	const char *json;
	const char *redacted_by;
	const char *txn_device, *txn_id;
	int64_t state_group;
	const char *replaces_state;
};
int mx_store_event_get(struct mx_db_conn *c, struct mx_arena *a, const char *event_id,
		       struct mx_store_event *out);

/* Called per row; return non-zero to stop. */
typedef int (*mx_store_event_cb)(void *ctx, const struct mx_store_event *ev);

/*
 * Events of a room with from < nid <= to (forwards, oldest first) or
 * to < nid <= from (backwards, newest first when backwards), at most limit.
 * Non-outlier, non-rejected, non-soft-failed only. Returns rows seen or error.
 */
int mx_store_room_events(struct mx_db_conn *c, struct mx_arena *a, const char *room_id,
			 int64_t from, int64_t to, bool backwards, int limit, mx_store_event_cb cb,
			 void *ctx);

/* The current state of a room, one callback per event. */
int mx_store_room_state(struct mx_db_conn *c, struct mx_arena *a, const char *room_id,
			mx_store_event_cb cb, void *ctx);
/* The state of a state group (resolved through its delta chain). */
int mx_store_state_group(struct mx_db_conn *c, struct mx_arena *a, int64_t group,
			 mx_store_event_cb cb, void *ctx);
/* One current-state event, MX_ENOTFOUND if none. */
int mx_store_room_state_get(struct mx_db_conn *c, struct mx_arena *a, const char *room_id,
			    const char *type, const char *state_key, struct mx_store_event *out);

int mx_store_room_extremities(struct mx_db_conn *c, struct mx_arena *a, const char *room_id,
			      const char ***out, size_t *n);

/* The membership of user in room from current state, or NULL (arena). */
const char *mx_store_membership(struct mx_db_conn *c, struct mx_arena *a, const char *room_id,
				const char *user_id);

struct mx_store_user_room {
	const char *room_id;
	const char *membership;
	int64_t nid;               /* the membership event's nid */
};
/* The rooms where user's current membership is one of memberships[] (NULL-terminated). */
int mx_store_user_rooms(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
			const char *const *memberships, struct mx_store_user_room **out, size_t *n);
/* A user's membership changes with from < nid <= to, oldest first. */
int mx_store_membership_changes(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
				int64_t from, int64_t to, struct mx_store_user_room **out,
				size_t *n);

/* The newest event nid overall (the events stream position). */
int64_t mx_store_events_max_nid(struct mx_db_conn *c);

/* Look up a (user, device, txn) send. MX_ENOTFOUND if new. */
int mx_store_txn_get(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
		     const char *device_id, const char *txn_id, const char **event_id);


/* ---- aliases, directory flag, forgetting ---- */

/* The room an alias maps to (arena), or NULL. */
const char *mx_store_alias_get(struct mx_db_conn *c, struct mx_arena *a, const char *alias);
/* MX_ECONFLICT if the alias exists. */
int mx_store_alias_create(struct mx_db *db, const char *alias, const char *room_id,
			  const char *creator);
int mx_store_alias_delete(struct mx_db *db, const char *alias);
int mx_store_room_set_published(struct mx_db *db, const char *room_id, bool published);
int mx_store_room_forget(struct mx_db *db, const char *user_id, const char *room_id);
bool mx_store_room_forgotten(struct mx_db_conn *c, const char *user_id, const char *room_id);

/*
 * One entry of a state group's state (the state after the event that has
 * that group). MX_ENOTFOUND if the key is not in that state.
 */
int mx_store_state_group_get(struct mx_db_conn *c, struct mx_arena *a, int64_t group,
			     const char *type, const char *state_key, struct mx_store_event *out);

/* The state group after the last event of room with nid <= pos, or 0. */
int64_t mx_store_room_state_group_at(struct mx_db_conn *c, const char *room_id, int64_t pos);
/* The first event at/after ts (forward) or at/before ts (backward). */
int mx_store_room_event_at_ts(struct mx_db_conn *c, struct mx_arena *a, const char *room_id,
			      int64_t ts, bool forward, struct mx_store_event *out);

#endif
