/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Storage for application services: each registration's position in the
 * events stream (appservice_state), the reads the event sender filters
 * with, and audit records of masqueraded requests.
 */
#ifndef MX_STORE_APPSERVICE_H
#define MX_STORE_APPSERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mx_arena;
struct mx_db;
struct mx_db_conn;

struct mx_store_as_state {
	int64_t last_nid;     /* newest nid handled */
	int64_t next_txn;     /* the next txnId to use */
	int64_t pending_txn;  /* 0: none in flight */
	int64_t pending_upto; /* the in-flight transaction carries (last_nid, pending_upto] */
	const char *pending_body; /* its JSON body (arena when read) */
};

/* The state of as_id: 0, MX_ENOTFOUND, or an error. */
int mx_store_as_state_get(struct mx_db_conn *c, struct mx_arena *a, const char *as_id,
			  struct mx_store_as_state *out);
/* Write (insert or replace) the state of as_id, durably. */
int mx_store_as_state_put(struct mx_db *db, const char *as_id, const struct mx_store_as_state *s);

/* The newest event nid (0 when none). */
int64_t mx_store_as_max_nid(struct mx_db_conn *c);

/* An event for the sender (strings in the arena). */
struct mx_store_as_event {
	int64_t nid;
	const char *event_id, *room_id, *type, *state_key, *sender, *json;
};
/*
 * Persisted, accepted, non-outlier events with after < nid <= upto, oldest
 * first, at most limit. *out in the arena.
 */
int mx_store_as_events(struct mx_db_conn *c, struct mx_arena *a, int64_t after, int64_t upto,
		       size_t limit, struct mx_store_as_event **out, size_t *n);
/* The joined members (users) or the aliases of room_id (arena strings). */
int mx_store_as_room_members(struct mx_db_conn *c, struct mx_arena *a, const char *room_id,
			     const char ***out, size_t *n);
int mx_store_as_room_aliases(struct mx_db_conn *c, struct mx_arena *a, const char *room_id,
			     const char ***out, size_t *n);

/* Write an audit_log record, durably (before the action it records). */
int mx_store_as_audit(struct mx_db *db, const char *actor, const char *action, const char *target,
		      const char *detail);

#endif
