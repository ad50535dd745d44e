/* SPDX-License-Identifier: Apache-2.0 */
/* Local media rows: direct uploads, async reservations and look-ups. */
#include "store/media.h"

#include <stdbool.h>
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
			     " created_ts, COALESCE(expires_ts, 0), COALESCE(last_access_ts, 0)"
			     " FROM local_media WHERE media_id = ?",
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
	out->last_access_ts = mx_db_col_int64(st, 7);
	mx_db_done(st);
	return 0;
}

int mx_store_media_uploaded_size(struct mx_db_conn *c, const char *user_id, int64_t since_ms,
				 int64_t *bytes)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st,
			     "SELECT COALESCE(SUM(size), 0) FROM local_media WHERE user_id = ?"
			     " AND created_ts >= ? AND sha256 IS NOT NULL",
			     "si", user_id, since_ms);
	if (rc != MX_DB_ROW)
		return rc < 0 ? rc : MX_EDB;
	*bytes = mx_db_col_int64(st, 0);
	mx_db_done(st);
	return 0;
}

static const char *mx_store_opt(struct mx_arena *a, const char *s)
{
	return s ? mx_arena_strdup(a, s) : NULL;
}

int mx_store_remote_media_get(struct mx_db_conn *c, struct mx_arena *a, const char *origin,
			      const char *media_id, struct mx_media_info *out)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st,
			     "SELECT sha256, content_type, upload_name, size, fetched_ts,"
			     " last_access_ts FROM remote_media WHERE origin = ? AND media_id = ?",
			     "ss", origin, media_id);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_DONE)
		return MX_ENOTFOUND;
	memset(out, 0, sizeof(*out));
	out->sha256 = mx_arena_strdup(a, mx_db_col_text(st, 0));
	out->content_type = mx_store_opt(a, mx_db_col_text(st, 1));
	out->upload_name = mx_store_opt(a, mx_db_col_text(st, 2));
	out->size = mx_db_col_int64(st, 3);
	out->created_ts = mx_db_col_int64(st, 4);
	out->last_access_ts = mx_db_col_int64(st, 5);
	mx_db_done(st);
	return 0;
}

struct mx_remote_media_job {
	const char *origin, *media_id;
	const struct mx_media_content *c;
	int64_t now;
};

static int mx_store_remote_media_add_job(struct mx_db_conn *c, void *arg)
{
	struct mx_remote_media_job *j = arg;
	return mx_db_run(c,
			 "INSERT OR REPLACE INTO remote_media (origin, media_id, sha256, size,"
			 " content_type, upload_name, fetched_ts, last_access_ts)"
			 " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			 "sssissii", j->origin, j->media_id, j->c->sha256, j->c->size,
			 j->c->content_type, j->c->upload_name, j->now, j->now);
}

int mx_store_remote_media_add(struct mx_db *db, const char *origin, const char *media_id,
			      const struct mx_media_content *content)
{
	struct mx_remote_media_job j = {.origin = origin, .media_id = media_id, .c = content,
					.now = mx_clock_now_ms()};
	return mx_db_write(db, mx_store_remote_media_add_job, &j);
}

static int mx_store_remote_media_touch_job(struct mx_db_conn *c, void *arg)
{
	struct mx_remote_media_job *j = arg;
	return mx_db_run(c,
			 "UPDATE remote_media SET last_access_ts = ? WHERE origin = ? AND"
			 " media_id = ? AND last_access_ts < ?",
			 "issi", j->now, j->origin, j->media_id, j->now - 3600 * 1000);
}

int mx_store_remote_media_touch(struct mx_db *db, const char *origin, const char *media_id,
				int64_t now)
{
	struct mx_remote_media_job j = {.origin = origin, .media_id = media_id, .now = now};
	return mx_db_write(db, mx_store_remote_media_touch_job, &j);
}

struct mx_media_touch_job {
	const char *media_id;
	int64_t now;
};

static int mx_store_media_touch_job(struct mx_db_conn *c, void *arg)
{
	struct mx_media_touch_job *j = arg;
	return mx_db_run(c,
			 "UPDATE local_media SET last_access_ts = ? WHERE media_id = ?"
			 " AND (last_access_ts IS NULL OR last_access_ts < ?)",
			 "isi", j->now, j->media_id, j->now - 3600 * 1000);
}

int mx_store_media_touch(struct mx_db *db, const char *media_id, int64_t now)
{
	struct mx_media_touch_job j = {.media_id = media_id, .now = now};
	return mx_db_write(db, mx_store_media_touch_job, &j);
}

struct mx_media_purge_job {
	struct mx_arena *a;
	int64_t before;
	struct mx_media_purged *out;
};

/* Append s (copied into a) to a growing array *v of *n entries. */
static void mx_store_media_push(struct mx_arena *a, const char ***v, size_t *n, size_t *cap,
				const char *s)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		const char **nv = mx_arena_alloc(a, ncap * sizeof(*nv));
		if (*n)
			memcpy(nv, *v, *n * sizeof(*nv));
		*v = nv;
		*cap = ncap;
	}
	(*v)[(*n)++] = mx_arena_strdup(a, s);
}

static int mx_store_media_purge_job(struct mx_db_conn *c, void *arg)
{
	struct mx_media_purge_job *j = arg;
	struct mx_media_purged *out = j->out;
	const char **hashes = NULL;
	size_t n_hashes = 0, cap_hashes = 0, cap_media = 0, cap_orphans = 0;
	struct mx_db_stmt *st;
	const char *where = " FROM local_media WHERE MAX(COALESCE(last_access_ts, 0),"
			    " COALESCE(uploaded_ts, 0), created_ts) < ?";
	const char *sql = mx_arena_printf(j->a, "SELECT media_id, sha256%s", where);
	int rc = mx_db_query(c, &st, sql, "i", j->before);
	while (rc == MX_DB_ROW) {
		mx_store_media_push(j->a, &out->media_ids, &out->n_media, &cap_media,
				    mx_db_col_text(st, 0));
		const char *sha = mx_db_col_text(st, 1);
		if (sha)
			mx_store_media_push(j->a, &hashes, &n_hashes, &cap_hashes, sha);
		rc = mx_db_step(st);
	}
	if (rc < 0) /* a finished step has reset the statement */
		return rc;
	if ((rc = mx_db_run(c, mx_arena_printf(j->a, "DELETE%s", where), "i", j->before)))
		return rc;
	const char *rwhere = " FROM remote_media WHERE last_access_ts < ?";
	rc = mx_db_query(c, &st, mx_arena_printf(j->a, "SELECT sha256%s", rwhere), "i", j->before);
	while (rc == MX_DB_ROW) {
		mx_store_media_push(j->a, &hashes, &n_hashes, &cap_hashes, mx_db_col_text(st, 0));
		out->n_remote++;
		rc = mx_db_step(st);
	}
	if (rc < 0)
		return rc;
	if ((rc = mx_db_run(c, mx_arena_printf(j->a, "DELETE%s", rwhere), "i", j->before)))
		return rc;
	for (size_t i = 0; i < n_hashes; i++) {
		bool seen = false;
		for (size_t k = 0; k < out->n_orphans && !seen; k++)
			seen = !strcmp(out->orphans[k], hashes[i]);
		if (seen)
			continue;
		rc = mx_db_query(c, &st,
				 "SELECT 1 FROM local_media WHERE sha256 = ?1 UNION ALL"
				 " SELECT 1 FROM remote_media WHERE sha256 = ?1 LIMIT 1",
				 "s", hashes[i]);
		if (rc < 0)
			return rc;
		if (rc == MX_DB_ROW) {
			mx_db_done(st);
			continue;
		}
		mx_store_media_push(j->a, &out->orphans, &out->n_orphans, &cap_orphans, hashes[i]);
	}
	rc = mx_db_query(c, &st, "SELECT COUNT(*) FROM url_previews WHERE expires_ts < ? OR ts < ?",
			 "ii", mx_clock_now_ms(), j->before);
	if (rc != MX_DB_ROW)
		return rc < 0 ? rc : MX_EDB;
	out->n_previews = mx_db_col_int64(st, 0);
	mx_db_done(st);
	return mx_db_run(c, "DELETE FROM url_previews WHERE expires_ts < ? OR ts < ?", "ii",
			 mx_clock_now_ms(), j->before);
}

int mx_store_media_purge(struct mx_db *db, struct mx_arena *a, int64_t before_ms,
			 struct mx_media_purged *out)
{
	memset(out, 0, sizeof(*out));
	struct mx_media_purge_job j = {.a = a, .before = before_ms, .out = out};
	return mx_db_write(db, mx_store_media_purge_job, &j);
}

int mx_store_url_preview_get(struct mx_db_conn *c, struct mx_arena *a, const char *url,
			     int64_t ts, int64_t now, const char **og)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st,
			     "SELECT og FROM url_previews WHERE url = ? AND ts = ? AND expires_ts > ?",
			     "sii", url, ts, now);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_DONE)
		return MX_ENOTFOUND;
	*og = mx_arena_strdup(a, mx_db_col_text(st, 0));
	mx_db_done(st);
	return 0;
}

struct mx_url_preview_job {
	const char *url, *og;
	int64_t ts, expires;
};

static int mx_store_url_preview_put_job(struct mx_db_conn *c, void *arg)
{
	struct mx_url_preview_job *j = arg;
	return mx_db_run(c,
			 "INSERT OR REPLACE INTO url_previews (url, ts, og, expires_ts)"
			 " VALUES (?, ?, ?, ?)",
			 "sisi", j->url, j->ts, j->og, j->expires);
}

int mx_store_url_preview_put(struct mx_db *db, const char *url, int64_t ts, const char *og,
			     int64_t expires_ts)
{
	struct mx_url_preview_job j = {.url = url, .og = og, .ts = ts, .expires = expires_ts};
	return mx_db_write(db, mx_store_url_preview_put_job, &j);
}
