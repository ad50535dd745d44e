/* SPDX-License-Identifier: Apache-2.0 */
/* UIA sessions and registration tokens. */
#include "store/uia.h"

#include "core/arena.h"
#include "core/clock.h"
#include "core/error.h"
#include "db/db.h"

struct mx_uia_job {
	const char *id, *purpose, *user_id, *params, *completed;
	int op;
};

static int mx_store_uia_job(struct mx_db_conn *c, void *arg)
{
	struct mx_uia_job *j = arg;
	switch (j->op) {
	case 0:
		/* Sessions older than a day are abandoned: drop them as we go. */
		mx_db_run(c, "DELETE FROM uia_sessions WHERE created_ts < ?", "i",
			  mx_clock_now_ms() - 86400000);
		return mx_db_run(c,
				 "INSERT INTO uia_sessions (session_id, created_ts, purpose, user_id,"
				 " params) VALUES (?, ?, ?, ?, ?)",
				 "sisss", j->id, mx_clock_now_ms(), j->purpose, j->user_id, j->params);
	case 1:
		return mx_db_run(c, "UPDATE uia_sessions SET completed = ? WHERE session_id = ?",
				 "ss", j->completed, j->id);
	case 2:
		return mx_db_run(c, "DELETE FROM uia_sessions WHERE session_id = ?", "s", j->id);
	default:
		return mx_db_run(c, "UPDATE registration_tokens SET pending = pending + 1 WHERE token = ?",
				 "s", j->id);
	}
}

int mx_store_uia_create(struct mx_db *db, const char *session_id, const char *purpose,
			const char *user_id, const char *params)
{
	struct mx_uia_job j = {.id = session_id, .purpose = purpose, .user_id = user_id,
			       .params = params, .op = 0};
	return mx_db_write(db, mx_store_uia_job, &j);
}

int mx_store_uia_set_completed(struct mx_db *db, const char *session_id, const char *completed)
{
	struct mx_uia_job j = {.id = session_id, .completed = completed, .op = 1};
	return mx_db_write(db, mx_store_uia_job, &j);
}

int mx_store_uia_delete(struct mx_db *db, const char *session_id)
{
	struct mx_uia_job j = {.id = session_id, .op = 2};
	return mx_db_write(db, mx_store_uia_job, &j);
}

int mx_store_regtoken_add_pending(struct mx_db *db, const char *token)
{
	struct mx_uia_job j = {.id = token, .op = 3};
	return mx_db_write(db, mx_store_uia_job, &j);
}

int mx_store_uia_get(struct mx_db_conn *c, struct mx_arena *a, const char *session_id,
		     struct mx_uia_session *out)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st,
			     "SELECT purpose, user_id, completed, params, created_ts FROM uia_sessions"
			     " WHERE session_id = ?",
			     "s", session_id);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_DONE)
		return MX_ENOTFOUND;
	const char *u = mx_db_col_text(st, 1), *p = mx_db_col_text(st, 3);
	out->purpose = mx_arena_strdup(a, mx_db_col_text(st, 0));
	out->user_id = u ? mx_arena_strdup(a, u) : NULL;
	out->completed = mx_arena_strdup(a, mx_db_col_text(st, 2));
	out->params = p ? mx_arena_strdup(a, p) : NULL;
	out->created_ts = mx_db_col_int64(st, 4);
	mx_db_done(st);
	return 0;
}

bool mx_store_regtoken_valid(struct mx_db_conn *c, const char *token, int64_t now_ms)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st,
			     "SELECT 1 FROM registration_tokens WHERE token = ?"
			     " AND (uses_allowed IS NULL OR pending + completed < uses_allowed)"
			     " AND (expiry_time IS NULL OR expiry_time > ?)",
			     "si", token, now_ms);
	if (rc == MX_DB_ROW)
		mx_db_done(st);
	return rc == MX_DB_ROW;
}
