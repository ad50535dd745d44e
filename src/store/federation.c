/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Federation transactions in the database (store/federation.h): the
 * outbox, and the inbound transaction and to-device message records. The
 * inbound commit is one write job, so a transaction is either processed
 * and recorded or neither: a crash in between cannot deliver a message
 * that the retry then delivers again.
 */
#include "store/federation.h"

#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "core/mem.h"
#include "db/db.h"
#include "store/e2ee.h"

/* ---- outbox ---- */

int mx__store_fed_outbox_add(struct mx_db_conn *c, const struct mx_fed_edu *edus, size_t n,
			     int64_t now_ms)
{
	for (size_t i = 0; i < n; i++) {
		int rc = mx_db_run(c,
				   "INSERT INTO fed_outbox (destination, edu_type, content, created_ts)"
				   " VALUES (?, ?, ?, ?)",
				   "sssi", edus[i].destination, edus[i].type, edus[i].content, now_ms);
		if (rc)
			return rc;
	}
	return 0;
}

struct mx_outbox_add_job {
	const struct mx_fed_edu *edus;
	size_t n;
};

static int mx_outbox_add_job(struct mx_db_conn *c, void *arg)
{
	struct mx_outbox_add_job *j = arg;
	return mx__store_fed_outbox_add(c, j->edus, j->n, mx_clock_now_ms());
}

int mx_store_fed_outbox_add(struct mx_db *db, const struct mx_fed_edu *edus, size_t n)
{
	struct mx_outbox_add_job j = {edus, n};
	return n ? mx_db_write(db, mx_outbox_add_job, &j) : 0;
}

int mx_store_fed_outbox_destinations(struct mx_db_conn *c, struct mx_arena *a, const char ***out,
				     size_t *n)
{
	struct mx_db_stmt *st;
	*out = NULL;
	*n = 0;
	int rc = mx_db_prepare(c, "SELECT DISTINCT destination FROM fed_outbox", &st);
	if (rc)
		return rc;
	size_t cap = 0;
	while ((rc = mx_db_step(st)) == MX_DB_ROW) {
		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			const char **nv = mx_arena_alloc(a, nc * sizeof(*nv));
			if (*n)
				memcpy(nv, *out, *n * sizeof(*nv));
			*out = nv;
			cap = nc;
		}
		(*out)[(*n)++] = mx_arena_strdup(a, mx_db_col_text(st, 0));
	}
	mx_db_done(st);
	return rc < 0 ? rc : 0;
}

int mx_store_fed_outbox_read(struct mx_db_conn *c, const char *destination, int64_t after,
			     int64_t upto, int limit, mx_store_fed_row_fn fn, void *ctx)
{
	struct mx_db_stmt *st;
	int rc = mx_db_prepare(c,
			       "SELECT id, created_ts, edu_type, content FROM fed_outbox"
			       " WHERE destination = ? AND id > ? AND id <= ? ORDER BY id LIMIT ?",
			       &st);
	if (rc)
		return rc;
	mx_db_bind_text(st, 1, destination);
	mx_db_bind_int64(st, 2, after);
	mx_db_bind_int64(st, 3, upto);
	mx_db_bind_int64(st, 4, limit);
	while ((rc = mx_db_step(st)) == MX_DB_ROW)
		if (fn(ctx, mx_db_col_int64(st, 0), mx_db_col_int64(st, 1), mx_db_col_text(st, 2),
		       mx_db_col_text(st, 3)))
			break;
	mx_db_done(st);
	return rc < 0 ? rc : 0;
}

int mx__store_fed_outbox_delete(struct mx_db_conn *c, const char *destination, int64_t upto)
{
	return mx_db_run(c, "DELETE FROM fed_outbox WHERE destination = ? AND id <= ?", "si",
			 destination, upto);
}

int64_t mx_store_fed_outbox_count(struct mx_db_conn *c, const char *destination)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st,
			     "SELECT COUNT(*) FROM fed_outbox WHERE ?1 IS NULL OR destination = ?1",
			     "s", destination);
	if (rc != MX_DB_ROW)
		return -1;
	int64_t n = mx_db_col_int64(st, 0);
	mx_db_done(st);
	return n;
}

/* ---- inbound ---- */

static int mx_fed_txn_lookup(struct mx_db_conn *c, struct mx_arena *a, const char *origin,
			     const char *txn_id, const char **response)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st,
			     "SELECT response FROM fed_inbound_txns WHERE origin = ? AND txn_id = ?",
			     "ss", origin, txn_id);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_DONE)
		return MX_ENOTFOUND;
	if (response && a)
		*response = mx_arena_strdup(a, mx_db_col_text(st, 0));
	mx_db_done(st);
	return 0;
}

int mx_store_fed_txn_get(struct mx_db_conn *c, struct mx_arena *a, const char *origin,
			 const char *txn_id, const char **response)
{
	return mx_fed_txn_lookup(c, a, origin, txn_id, response);
}

static int mx_fed_txn_commit_job(struct mx_db_conn *c, void *arg)
{
	struct mx_fed_txn_in *t = arg;
	int rc = mx_fed_txn_lookup(c, t->a, t->origin, t->txn_id, &t->earlier);
	if (rc == 0)
		return MX_EEXISTS;
	if (rc != MX_ENOTFOUND)
		return rc;
	for (size_t i = 0; i < t->n_to_device; i++) {
		struct mx_fed_to_device_in *td = &t->to_device[i];
		td->duplicate = false;
		td->skipped = 0;
		rc = mx_db_run(c,
			       "INSERT INTO fed_to_device_seen (origin, message_id, received_ts)"
			       " VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
			       "ssi", t->origin, td->message_id, t->now_ms);
		if (rc)
			return rc;
		if (mx_db_changes(c) == 0) {
			td->duplicate = true;
			continue;
		}
		rc = mx__store_to_device_deliver(c, td->sender, td->type, td->msgs, td->n,
						 t->max_pending, &td->skipped);
		if (rc)
			return rc;
	}
	return mx_db_run(c,
			 "INSERT INTO fed_inbound_txns (origin, txn_id, response, received_ts)"
			 " VALUES (?, ?, ?, ?)",
			 "sssi", t->origin, t->txn_id, t->response, t->now_ms);
}

int mx_store_fed_txn_commit(struct mx_db *db, struct mx_fed_txn_in *t)
{
	t->earlier = NULL;
	return mx_db_write(db, mx_fed_txn_commit_job, t);
}

int mx__store_fed_inbound_prune(struct mx_db_conn *c, int64_t before_ms)
{
	int rc = mx_db_run(c, "DELETE FROM fed_inbound_txns WHERE received_ts < ?", "i", before_ms);
	if (!rc)
		rc = mx_db_run(c, "DELETE FROM fed_to_device_seen WHERE received_ts < ?", "i",
			       before_ms);
	return rc;
}

static int mx_fed_prune_job(struct mx_db_conn *c, void *arg)
{
	return mx__store_fed_inbound_prune(c, *(int64_t *)arg);
}

static void mx_fed_prune_done(void *arg, int result)
{
	if (result < 0 && result != MX_EUNAVAILABLE)
		mx_log_warn("federation: could not prune old inbound transactions (error %d)", result);
	free(arg);
}

void mx_store_fed_inbound_prune_async(struct mx_db *db, int64_t before_ms)
{
	int64_t *arg = mx_xmalloc(sizeof(*arg));
	*arg = before_ms;
	mx_db_write_async(db, mx_fed_prune_job, arg, mx_fed_prune_done);
}
