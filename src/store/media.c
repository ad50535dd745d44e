/* SPDX-License-Identifier: Apache-2.0 */
/* Local media rows: direct uploads, async reservations and look-ups. */
#include "store/media.h"

#include <string.h>

#include "core/clock.h"
#include "core/error.h"
#include "db/db.h"

struct mx_media_job {
	const char *media_id, *user_id;
	const struct mx_media_content *c;
	int64_t now, expires_ts;
	int max_pending;
};

static int mx_store_media_add_job(struct mx_db_conn *c, void *arg)
{
	struct mx_media_job *j = arg;
	return mx_db_run(c,
			 "INSERT INTO local_media (media_id, user_id, created_ts, sha256, size,"
			 " content_type, upload_name, uploaded_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			 "ssisissi", j->media_id, j->user_id, j->now, j->c->sha256, j->c->size,
			 j->c->content_type, j->c->upload_name, j->now);
}

int mx_store_media_add(struct mx_db *db, const char *media_id, const char *user_id,
		       const struct mx_media_content *c)
{
	struct mx_media_job j = {.media_id = media_id, .user_id = user_id, .c = c,
				 .now = mx_clock_now_ms()};
	return mx_db_write(db, mx_store_media_add_job, &j);
}

static int mx_store_media_reserve_job(struct mx_db_conn *c, void *arg)
{
	struct mx_media_job *j = arg;
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st,
			     "SELECT COUNT(*) FROM local_media WHERE user_id = ? AND sha256 IS NULL"
			     " AND expires_ts > ?",
			     "si", j->user_id, j->now);
	if (rc != MX_DB_ROW)
		return rc < 0 ? rc : MX_EDB;
	int64_t pending = mx_db_col_int64(st, 0);
	mx_db_done(st);
	if (pending >= j->max_pending)
		return MX_ELIMIT;
	return mx_db_run(c,
			 "INSERT INTO local_media (media_id, user_id, created_ts, expires_ts)"
			 " VALUES (?, ?, ?, ?)",
			 "ssii", j->media_id, j->user_id, j->now, j->expires_ts);
}

int mx_store_media_reserve(struct mx_db *db, const char *media_id, const char *user_id,
			   int64_t expires_ts, int max_pending)
{
	struct mx_media_job j = {.media_id = media_id, .user_id = user_id,
				 .now = mx_clock_now_ms(), .expires_ts = expires_ts,
				 .max_pending = max_pending};
	return mx_db_write(db, mx_store_media_reserve_job, &j);
}

static int mx_store_media_fill_job(struct mx_db_conn *c, void *arg)
{
	struct mx_media_job *j = arg;
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st,
			     "SELECT user_id, sha256 IS NOT NULL, COALESCE(expires_ts, 0)"
			     " FROM local_media WHERE media_id = ?",
			     "s", j->media_id);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_DONE)
		return MX_ENOTFOUND;
	bool mine = !strcmp(mx_db_col_text(st, 0), j->user_id);
	bool filled = mx_db_col_int64(st, 1) != 0;
	int64_t expires = mx_db_col_int64(st, 2);
	mx_db_done(st);
	if (!mine)
		return MX_EFORBIDDEN;
	if (filled)
		return MX_ECANNOTOVERWRITE;
	if (expires <= j->now)
		return MX_ENOTFOUND;
	return mx_db_run(c,
			 "UPDATE local_media SET sha256 = ?, size = ?, content_type = ?,"
			 " upload_name = ?, uploaded_ts = ?, expires_ts = NULL"
			 " WHERE media_id = ? AND sha256 IS NULL",
			 "sissis", j->c->sha256, j->c->size, j->c->content_type,
			 j->c->upload_name, j->now, j->media_id);
}

int mx_store_media_fill(struct mx_db *db, const char *media_id, const char *user_id,
			const struct mx_media_content *c)
{
	struct mx_media_job j = {.media_id = media_id, .user_id = user_id, .c = c,
				 .now = mx_clock_now_ms()};
	return mx_db_write(db, mx_store_media_fill_job, &j);
}

int mx_store_media_get(struct mx_db_conn *c, struct mx_arena *a, const char *media_id,
		       struct mx_media_info *out)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st,
			     "SELECT user_id, sha256, content_type, upload_name, COALESCE(size, 0),"
			     " created_ts, COALESCE(expires_ts, 0) FROM local_media WHERE media_id = ?",
			     "s", media_id);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_DONE)
		return MX_ENOTFOUND;
	const char *s;
	out->user_id = mx_arena_strdup(a, mx_db_col_text(st, 0));
	out->sha256 = (s = mx_db_col_text(st, 1)) ? mx_arena_strdup(a, s) : NULL;
	out->content_type = (s = mx_db_col_text(st, 2)) ? mx_arena_strdup(a, s) : NULL;
	out->upload_name = (s = mx_db_col_text(st, 3)) ? mx_arena_strdup(a, s) : NULL;
	out->size = mx_db_col_int64(st, 4);
	out->created_ts = mx_db_col_int64(st, 5);
	out->expires_ts = mx_db_col_int64(st, 6);
	mx_db_done(st);
	return 0;
}
