/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-user account data ("client config"), global or scoped to one room.
 * Each write takes the next position of the "account_data" stream inside
 * the same write job, so /sync can return what changed since a position.
 * SPEC: client-server-api#client-config
 */
#ifndef MX_STORE_ACCOUNT_DATA_H
#define MX_STORE_ACCOUNT_DATA_H

#include <stdint.h>

struct mx_arena;
struct mx_db;
struct mx_db_conn;

/* The stream_positions row that account data writes advance. */
#define MX_STREAM_ACCOUNT_DATA "account_data"

/*
 * The content (JSON object text) stored for (user_id, room_id, type), in
 * arena a. room_id NULL means global account data. MX_ENOTFOUND if none.
 */
int mx_store_account_data_get(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
			      const char *room_id, const char *type, const char **content);

/*
 * Insert or replace account data. content is the JSON object's text,
 * stored as given. On success *stream_id (if non-NULL) is the stream
 * position the write took.
 */
int mx_store_account_data_put(struct mx_db *db, const char *user_id, const char *room_id,
			      const char *type, const char *content, int64_t *stream_id);

/*
 * As mx_store_account_data_put, from inside a write job already running on
 * c (store/ only: for read-modify-write of one row, e.g. room tags and the
 * fully-read marker, in one job).
 */
int mx_store_account_data_put_in(struct mx_db_conn *c, const char *user_id, const char *room_id,
				 const char *type, const char *content, int64_t *stream_id);

/* Called per changed row; return non-zero to stop. */
typedef int (*mx_store_account_data_cb)(void *ctx, const char *room_id, const char *type,
					const char *content, int64_t stream_id);
/*
 * A user's account data with since < stream_id (global rows have room_id
 * ""), in stream order. since 0 lists everything. Returns 0 or an error.
 */
int mx_store_account_data_since(struct mx_db_conn *c, const char *user_id, int64_t since,
				mx_store_account_data_cb cb, void *ctx);
/* The current position of a stream (0 if it never moved). */
int64_t mx_store_stream_position(struct mx_db_conn *c, const char *stream);

#endif
