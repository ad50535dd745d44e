/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside sync/: the state of one /sync computation, shared by the files
 * that fill its sections (rooms and account data in sync.c; ephemeral
 * events, notification counts, to-device and device lists elsewhere).
 */
#ifndef MX_SYNC_INTERNAL_H
#define MX_SYNC_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct mx_req;

/* The streams a sync token records, in token order. Append only. */
enum mx_sync_stream {
	MX_SYNC_EVENTS = 0,     /* events.nid */
	MX_SYNC_ACCOUNT_DATA,   /* stream_positions 'account_data' */
	MX_SYNC_RECEIPTS,       /* receipts.stream_id */
	MX_SYNC_TYPING,         /* the in-memory typing serial */
	MX_SYNC_PRESENCE,
	MX_SYNC_TO_DEVICE,
	MX_SYNC_DEVICE_LISTS,
	MX_SYNC_STREAMS
};

/* "s<events>_<account_data>_<receipts>_...": one position per stream. */
struct mx_sync_token {
	int64_t pos[MX_SYNC_STREAMS];
};

/* Parse a sync token (older, shorter tokens read 0 for the missing streams). MX_EINVALIDPARAM. */
int mx_sync_parse_token(const char *s, struct mx_sync_token *t);

struct mx_sync {
	struct mx_req *req;
	const char *user;
	const json_t *filter, *room_f, *timeline_f, *state_f, *room_ad_f, *ad_f;
	int timeline_limit;
	bool initial, full_state, lazy, include_redundant, include_leave;
	const char *state_after_key; /* NULL: classic "state" */
	struct mx_sync_token since, now;
	json_t *join, *invite, *leave, *knock;
	bool any;                    /* something to report: do not park */
	/* ephemeral.c: receipts changed since the token, room -> m.receipt
	 * content (NULL: none, or read per room); rooms joined since it. */
	json_t *receipts, *new_rooms;
};

/* ---- shared by sync.c and sliding.c (MSC4186); defined in sync.c ---- */

struct mx_store_event;

/* The token t as a string in the request arena. */
const char *mx_sync_token_str(struct mx_sync *s, const struct mx_sync_token *t);
/* ev in the client format (no room_id), or NULL if it cannot be shown. */
json_t *mx_sync_fmt(struct mx_sync *s, const struct mx_store_event *ev);
/*
 * The state of room_id after events position pos (current: its current
 * state), as an object "type\x1fstate_key" -> client event (arena).
 */
json_t *mx_sync_state_at(struct mx_sync *s, const char *room_id, int64_t pos, bool current);

/* A timeline being collected by mx_sync_timeline(). */
struct mx_timeline {
	struct mx_sync *s;
	const char *room_id;
	json_t *events;   /* chronological once returned (arena) */
	json_t *senders;  /* sender -> true (arena) */
	int want;
	int64_t first_nid, last_nid;
	int rows;
	bool more;        /* more events than s->timeline_limit in the range */
	bool joined; /* "currently joined", for shared history (mx_visibility_allows) */
};

/*
 * The newest s->timeline_limit visible events of room_id in (lo, hi],
 * filtered by s->timeline_f. joined: whether the user counts as joined
 * for shared history. Returns 0 or a store error.
 */
int mx_sync_timeline(struct mx_sync *s, const char *room_id, int64_t lo, int64_t hi, bool joined,
		     struct mx_timeline *t);
/* The room summary (m.heroes, member counts) from current state (caller owns). */
json_t *mx_sync_summary(struct mx_sync *s, const char *room_id);
/* Stripped state for an invite or knock, with the member event (caller owns). */
json_t *mx_sync_stripped(struct mx_sync *s, const char *room_id, const char *member_event_id);
/* Global account data since s->since (all of it if s->initial) (caller owns). */
json_t *mx_sync_global_account_data(struct mx_sync *s);

/* POST .../org.matrix.simplified_msc3575/sync (sliding.c). */
int mx_sliding_sync(struct mx_req *req);

#endif
