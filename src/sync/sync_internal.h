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

#endif
