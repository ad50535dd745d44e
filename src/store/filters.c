/* SPDX-License-Identifier: Apache-2.0 */
/* Sync filters, numbered per user from 0. */
#include "store/filters.h"

#include "core/arena.h"
#include "core/error.h"
#include "db/db.h"

struct mx_filter_add_job {
	const char *user_id, *json;
	int64_t id;
};

static int mx_store_filter_add_job(struct mx_db_conn *c, void *arg)
{
	struct mx_filter_add_job *j = arg;
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st,
			     "SELECT filter_id FROM filters WHERE user_id = ? AND filter_json = ?",
			     "ss", j->user_id, j->json);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_ROW) {
		j->id = mx_db_col_int64(st, 0);
		mx_db_done(st);
		return 0;
	}
	rc = mx_db_query(c, &st,
			 "SELECT COALESCE(MAX(filter_id) + 1, 0) FROM filters WHERE user_id = ?", "s",
			 j->user_id);
	if (rc != MX_DB_ROW)
		return rc < 0 ? rc : MX_EDB;
	j->id = mx_db_col_int64(st, 0);
	mx_db_done(st);
	return mx_db_run(c, "INSERT INTO filters (user_id, filter_id, filter_json) VALUES (?, ?, ?)",
			 "sis", j->user_id, j->id, j->json);
}

int mx_store_filter_add(struct mx_db *db, const char *user_id, const char *filter_json,
			int64_t *filter_id)
{
	struct mx_filter_add_job j = {user_id, filter_json, 0};
	int rc = mx_db_write(db, mx_store_filter_add_job, &j);
	if (!rc)
		*filter_id = j.id;
	return rc;
}

int mx_store_filter_get(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
			int64_t filter_id, const char **filter_json)
{
	struct mx_db_stmt *st;
	*filter_json = NULL;
	int rc = mx_db_query(c, &st,
			     "SELECT filter_json FROM filters WHERE user_id = ? AND filter_id = ?",
			     "si", user_id, filter_id);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_DONE)
		return MX_ENOTFOUND;
	*filter_json = mx_arena_strdup(a, mx_db_col_text(st, 0));
	mx_db_done(st);
	return 0;
}
