/* SPDX-License-Identifier: Apache-2.0 */
/* Federation destination health rows (store/destinations.h). */
#include "store/destinations.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "core/mem.h"
#include "db/db.h"

int mx_store_destinations_load(struct mx_db_conn *c, mx_store_destination_fn fn, void *ctx)
{
	struct mx_db_stmt *st;
	int rc = mx_db_prepare(c,
			       "SELECT destination, failures, retry_interval_ms, retry_at_ms,"
			       " last_success_ms FROM destinations",
			       &st);
	if (rc)
		return rc;
	while ((rc = mx_db_step(st)) == MX_DB_ROW) {
		struct mx_destination_row r = {
			.destination = mx_db_col_text(st, 0),
			.failures = mx_db_col_int64(st, 1),
			.retry_interval_ms = mx_db_col_int64(st, 2),
			.retry_at_ms = mx_db_col_int64(st, 3),
			.last_success_ms = mx_db_col_int64(st, 4),
		};
		if (!r.destination)
			continue;
		if ((rc = fn(ctx, &r)))
			break;
	}
	mx_db_done(st);
	return rc == MX_DB_DONE ? 0 : rc;
}

int mx_store_destination_put(struct mx_db_conn *c, const struct mx_destination_row *r)
{
	return mx_db_run(c,
			 "INSERT INTO destinations (destination, failures, retry_interval_ms,"
			 " retry_at_ms, last_success_ms) VALUES (?, ?, ?, ?, ?)"
			 " ON CONFLICT (destination) DO UPDATE SET failures = excluded.failures,"
			 " retry_interval_ms = excluded.retry_interval_ms,"
			 " retry_at_ms = excluded.retry_at_ms,"
			 " last_success_ms = excluded.last_success_ms",
			 "siiii", r->destination, r->failures, r->retry_interval_ms, r->retry_at_ms,
			 r->last_success_ms);
}

/* A queued save: the row with its own copy of the name. */
struct mx_destination_save {
	struct mx_destination_row row;
	char name[];
};

static int mx_store_destination_save_job(struct mx_db_conn *c, void *arg)
{
	struct mx_destination_save *s = arg;
	return mx_store_destination_put(c, &s->row);
}

static void mx_store_destination_save_done(void *arg, int result)
{
	struct mx_destination_save *s = arg;
	if (result < 0)
		mx_log_warn("federation: could not save the health of %s (error %d)", s->name,
			    result);
	free(s);
}

void mx_store_destination_save_async(struct mx_db *db, const struct mx_destination_row *row)
{
	size_t n = strlen(row->destination) + 1;
	struct mx_destination_save *s = mx_xmalloc(sizeof(*s) + n);
	memcpy(s->name, row->destination, n);
	s->row = *row;
	s->row.destination = s->name;
	mx_db_write_async(db, mx_store_destination_save_job, s, mx_store_destination_save_done);
}
