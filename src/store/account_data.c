/* SPDX-License-Identifier: Apache-2.0 */
/* Account data rows and their stream positions. Global data has room_id ''. */
#include "store/account_data.h"

#include "core/arena.h"
#include "core/error.h"
#include "db/db.h"

int mx_store_account_data_get(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
			      const char *room_id, const char *type, const char **content)
{
	struct mx_db_stmt *st;
	*content = NULL;
	int rc = mx_db_query(c, &st,
			     "SELECT content FROM account_data"
			     " WHERE user_id = ? AND room_id = ? AND type = ?",
			     "sss", user_id, room_id ? room_id : "", type);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_DONE)
		return MX_ENOTFOUND;
	*content = mx_arena_strdup(a, mx_db_col_text(st, 0));
	mx_db_done(st);
	return 0;
}

/*
 * Advance a stream by one and return the new position. Runs inside the
 * caller's write job, so the position and the row it stamps commit together.
 */
static int mx_store_stream_next(struct mx_db_conn *c, const char *stream, int64_t *pos)
{
	int rc = mx_db_run(c,
			   "INSERT INTO stream_positions (stream, position) VALUES (?, 1)"
			   " ON CONFLICT (stream) DO UPDATE SET position = position + 1",
			   "s", stream);
	if (rc)
		return rc;
	struct mx_db_stmt *st;
	rc = mx_db_query(c, &st, "SELECT position FROM stream_positions WHERE stream = ?", "s",
			 stream);
	if (rc != MX_DB_ROW)
		return rc < 0 ? rc : MX_EDB;
	*pos = mx_db_col_int64(st, 0);
	mx_db_done(st);
	return 0;
}

struct mx_account_data_job {
	const char *user_id, *room_id, *type, *content;
	int64_t stream_id;
};

int mx_store_account_data_put_in(struct mx_db_conn *c, const char *user_id, const char *room_id,
				 const char *type, const char *content, int64_t *stream_id)
{
	int64_t pos;
	int rc = mx_store_stream_next(c, MX_STREAM_ACCOUNT_DATA, &pos);
	if (rc)
		return rc;
	rc = mx_db_run(c,
		       "INSERT INTO account_data (user_id, room_id, type, content, stream_id)"
		       " VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, room_id, type)"
		       " DO UPDATE SET content = excluded.content, stream_id = excluded.stream_id",
		       "ssssi", user_id, room_id ? room_id : "", type, content, pos);
	if (!rc && stream_id)
		*stream_id = pos;
	return rc;
}

static int mx_store_account_data_job(struct mx_db_conn *c, void *arg)
{
	struct mx_account_data_job *j = arg;
	return mx_store_account_data_put_in(c, j->user_id, j->room_id, j->type, j->content,
					    &j->stream_id);
}

int mx_store_account_data_put(struct mx_db *db, const char *user_id, const char *room_id,
			      const char *type, const char *content, int64_t *stream_id)
{
	struct mx_account_data_job j = {user_id, room_id ? room_id : "", type, content, 0};
	int rc = mx_db_write(db, mx_store_account_data_job, &j);
	if (!rc && stream_id)
		*stream_id = j.stream_id;
	return rc;
}

int mx_store_account_data_since(struct mx_db_conn *c, const char *user_id, int64_t since,
				mx_store_account_data_cb cb, void *ctx)
{
	struct mx_db_stmt *st;
	int rc = mx_db_prepare(c,
			       "SELECT room_id, type, content, stream_id FROM account_data"
			       " WHERE user_id = ? AND stream_id > ? ORDER BY stream_id",
			       &st);
	if (rc)
		return rc;
	mx_db_bind_text(st, 1, user_id);
	mx_db_bind_int64(st, 2, since);
	while ((rc = mx_db_step(st)) == MX_DB_ROW) {
		if (cb(ctx, mx_db_col_text(st, 0), mx_db_col_text(st, 1), mx_db_col_text(st, 2),
		       mx_db_col_int64(st, 3))) {
			mx_db_done(st);
			return 0;
		}
	}
	return rc < 0 ? rc : 0;
}

int64_t mx_store_stream_position(struct mx_db_conn *c, const char *stream)
{
	struct mx_db_stmt *st;
	if (mx_db_query(c, &st, "SELECT position FROM stream_positions WHERE stream = ?", "s",
			stream) != MX_DB_ROW)
		return 0;
	int64_t v = mx_db_col_int64(st, 0);
	mx_db_done(st);
	return v;
}
