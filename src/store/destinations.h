/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Federation destination health rows (table destinations): what
 * federation/destinations.h keeps in memory, persisted so that backoff
 * survives a restart. Saves are fire and forget: a request never waits for
 * the fsync of its destination's bookkeeping.
 */
#ifndef MX_STORE_DESTINATIONS_H
#define MX_STORE_DESTINATIONS_H

#include <stdint.h>

struct mx_db;
struct mx_db_conn;

struct mx_destination_row {
	const char *destination;  /* server name */
	int64_t failures;         /* consecutive failures; 0 = healthy */
	int64_t retry_interval_ms;/* current backoff interval; 0 when healthy */
	int64_t retry_at_ms;      /* no request before this (ms since the epoch); 0 = none */
	int64_t last_success_ms;  /* last answered request (ms since the epoch); 0 = never */
};

/*
 * Call fn(ctx, row) for every row; row and its string are borrowed for the
 * call. Stops early with fn's error if it returns one. 0 or MX_EDB.
 */
typedef int (*mx_store_destination_fn)(void *ctx, const struct mx_destination_row *row);
int mx_store_destinations_load(struct mx_db_conn *c, mx_store_destination_fn fn, void *ctx);

/* Insert or replace row (run on the writer: c is its connection). 0 or MX_EDB. */
int mx_store_destination_put(struct mx_db_conn *c, const struct mx_destination_row *row);

/*
 * Queue an insert-or-replace of a copy of row on the writer thread and
 * return at once. Saves of one destination land in the order they were
 * queued; a failed save is logged and dropped (the in-memory record stays
 * authoritative until the next save).
 */
void mx_store_destination_save_async(struct mx_db *db, const struct mx_destination_row *row);

#endif
