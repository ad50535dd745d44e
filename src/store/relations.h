/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Event relationships in SQL: the children of a parent event (the
 * events.relates_to / rel_type / thread_id columns filled at persist time
 * from content["m.relates_to"]), the summaries that bundled aggregations
 * are built from, and the threads table that orders a room's threads by
 * their latest activity.
 * SPEC: client-server-api#forming-relationships-between-events
 *
 * Every read here only sees children that are in the parent's room, are
 * not redacted (a redaction breaks the relationship, SPEC:
 * client-server-api#aggregations-of-child-events), and are neither
 * outliers, rejected nor soft-failed. Strings returned live in the arena.
 */
#ifndef MX_STORE_RELATIONS_H
#define MX_STORE_RELATIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mx_arena;
struct mx_db_conn;
struct mx_persist_event;

/* How far /relations?recurse=true follows relations of relations. */
#define MX_RELATIONS_MAX_DEPTH 3

/*
 * The aggregatable children of one parent (m.replace, m.thread and
 * m.reference), grouped by (rel_type, sender): how many and the newest.
 * One row per group; most events have none, and the query is one lookup
 * in events_by_relation, so it doubles as the existence check.
 */
struct mx_store_rel_group {
	const char *rel_type;
	const char *sender;
	int64_t count;
	int64_t max_nid;      /* the newest child of the group */
};
int mx_store_relations_summary(struct mx_db_conn *c, struct mx_arena *a, const char *room_id,
			       const char *event_id, struct mx_store_rel_group **out, size_t *n);

/* One child, identified: the row a listing returns before the event is read. */
struct mx_store_rel_child {
	int64_t nid;
	const char *event_id;
	const char *sender;
};
/* Called per child; return non-zero to stop (that child is not consumed). */
typedef int (*mx_store_rel_child_cb)(void *ctx, const struct mx_store_rel_child *ch);

/*
 * Candidate replacements of a parent, most recent first by
 * (origin_server_ts, event_id) as SPEC: client-server-api#server-side-aggregation-of-mreplace-relationships
 * orders them: m.replace children by the same sender, of the same type,
 * without a state_key. The caller checks the rest of the validity rules
 * (m.new_content, the parent not an edit itself). Returns rows seen or an
 * error.
 */
int mx_store_relations_edits(struct mx_db_conn *c, struct mx_arena *a, const char *room_id,
			     const char *event_id, const char *sender, const char *type,
			     mx_store_rel_child_cb cb, void *ctx);

/*
 * Children of one rel_type, oldest first (for m.reference bundles and
 * duplicate-annotation checks). type and sender NULL: any. At most limit.
 */
int mx_store_relations_of_type(struct mx_db_conn *c, struct mx_arena *a, const char *room_id,
			       const char *event_id, const char *rel_type, const char *type,
			       const char *sender, int limit, mx_store_rel_child_cb cb, void *ctx);

/* A query of GET /relations: which children, in which range and order. */
struct mx_store_rel_query {
	const char *room_id;
	const char *event_id;     /* the parent */
	const char *rel_type;     /* NULL: any (but some) rel_type */
	const char *type;         /* NULL: any event type */
	int depth;                /* 1: direct children; up to MX_RELATIONS_MAX_DEPTH */
	bool backwards;           /* newest first, to < nid <= from; else from < nid <= to */
	int64_t from, to;
	int limit;                /* rows of this call */
};
/* Children matching q, in q's order. Returns rows seen or an error. */
int mx_store_relations_list(struct mx_db_conn *c, struct mx_arena *a,
			    const struct mx_store_rel_query *q, mx_store_rel_child_cb cb, void *ctx);

/* The event id of an event by its nid (arena), or NULL. */
const char *mx_store_relations_event_id(struct mx_db_conn *c, struct mx_arena *a, int64_t nid);

/* A thread of a room as GET /threads pages them: root and latest activity. */
struct mx_store_thread {
	const char *root_id;
	int64_t latest_nid;
};
typedef int (*mx_store_thread_cb)(void *ctx, const struct mx_store_thread *t);
/*
 * The threads of a room whose root we hold in that room, by latest
 * activity (newest first) with latest_nid <= before, at most limit.
 * participant non-NULL: only threads that user started or replied in
 * (SPEC: client-server-api#server-side-aggregation-of-mthread-relationships,
 * current_user_participated). Returns rows seen or an error.
 */
int mx_store_threads_list(struct mx_db_conn *c, struct mx_arena *a, const char *room_id,
			  const char *participant, int64_t before, int limit,
			  mx_store_thread_cb cb, void *ctx);

/*
 * Writer side (store-internal, called by mx_store_events_persist inside
 * the same write job): keep the threads table up to date after e was
 * inserted: a threaded event moves its thread to the top, and a
 * redaction of a threaded event recomputes that thread's latest activity.
 */
int mx__store_relations_persisted(struct mx_db_conn *c, const struct mx_persist_event *e);

#endif
