/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stored sync filters. Ids are small integers counted per user; a filter
 * identical (as canonical text) to one the user already has gets that
 * filter's id back, so clients that upload their filter at every start do
 * not grow the table.
 * SPEC: client-server-api#filtering
 */
#ifndef MX_STORE_FILTERS_H
#define MX_STORE_FILTERS_H

#include <stdint.h>

struct mx_arena;
struct mx_db;
struct mx_db_conn;

/* Store filter_json (canonical text) for user_id; *filter_id is its id. */
int mx_store_filter_add(struct mx_db *db, const char *user_id, const char *filter_json,
			int64_t *filter_id);

/* The text of a user's filter, in arena a. MX_ENOTFOUND if there is none. */
int mx_store_filter_get(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
			int64_t filter_id, const char **filter_json);

#endif
