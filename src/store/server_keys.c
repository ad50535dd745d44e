/* SPDX-License-Identifier: Apache-2.0 */
/* Other servers' verified signing keys and the responses that listed them. */
#include "store/server_keys.h"

#include <string.h>

#include "core/arena.h"
#include "core/error.h"
#include "db/db.h"

struct mx_server_keys_job {
	const char *server_name, *from_server, *key_json;
	int64_t valid_until_ts, fetched_ts;
	const struct mx_server_key *keys;
	size_t n;
};

static int mx_store_server_keys_put_job(struct mx_db_conn *c, void *arg)
{
	struct mx_server_keys_job *j = arg;
	for (size_t i = 0; i < j->n; i++) {
		const struct mx_server_key *k = &j->keys[i];
		/* expired_ts 0 stores NULL: a current key. */
		int rc = mx_db_run(
			c,
			"INSERT INTO server_keys (server_name, key_id, verify_key, valid_until_ts,"
			" expired_ts, fetched_ts, from_server, key_json)"
			" VALUES (?, ?, ?, ?, NULLIF(?, 0), ?, ?, ?)"
			" ON CONFLICT (server_name, key_id) DO UPDATE SET"
			" verify_key = excluded.verify_key, valid_until_ts = excluded.valid_until_ts,"
			" expired_ts = excluded.expired_ts, fetched_ts = excluded.fetched_ts,"
			" from_server = excluded.from_server, key_json = excluded.key_json"
			" WHERE excluded.valid_until_ts >= server_keys.valid_until_ts",
			"ssbiiiss", j->server_name, k->key_id, (const void *)k->pk, sizeof(k->pk),
			j->valid_until_ts, k->expired_ts, j->fetched_ts, j->from_server, j->key_json);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int mx_store_server_keys_put(struct mx_db *db, const char *server_name, const char *from_server,
			     const char *key_json, int64_t valid_until_ts, int64_t fetched_ts,
			     const struct mx_server_key *keys, size_t n)
{
	struct mx_server_keys_job j = {.server_name = server_name, .from_server = from_server,
				       .key_json = key_json, .valid_until_ts = valid_until_ts,
				       .fetched_ts = fetched_ts, .keys = keys, .n = n};
	return mx_db_write(db, mx_store_server_keys_put_job, &j);
}

/* Columns of a row, in the order both readers select them. */
#define MX_SERVER_KEY_COLS                                                                  \
	"server_name, key_id, verify_key, valid_until_ts, COALESCE(expired_ts, 0),"         \
	" fetched_ts, from_server, key_json"

/* Copy the current row into out; MX_EDB if the stored key is not 32 bytes. */
static int mx_store_server_key_row(struct mx_db_stmt *st, struct mx_arena *a,
				   struct mx_server_key_row *out)
{
	size_t len = 0;
	const void *pk = mx_db_col_blob(st, 2, &len);
	if (!pk || len != sizeof(out->pk))
		return MX_EDB;
	out->server_name = mx_arena_strdup(a, mx_db_col_text(st, 0));
	out->key_id = mx_arena_strdup(a, mx_db_col_text(st, 1));
	memcpy(out->pk, pk, sizeof(out->pk));
	out->valid_until_ts = mx_db_col_int64(st, 3);
	out->expired_ts = mx_db_col_int64(st, 4);
	out->fetched_ts = mx_db_col_int64(st, 5);
	out->from_server = mx_arena_strdup(a, mx_db_col_text(st, 6));
	out->key_json = mx_arena_strdup(a, mx_db_col_text(st, 7));
	return 0;
}

int mx_store_server_key_get(struct mx_db_conn *c, struct mx_arena *a, const char *server_name,
			    const char *key_id, struct mx_server_key_row *out)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st,
			     "SELECT " MX_SERVER_KEY_COLS
			     " FROM server_keys WHERE server_name = ? AND key_id = ?",
			     "ss", server_name, key_id);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_DONE)
		return MX_ENOTFOUND;
	rc = mx_store_server_key_row(st, a, out);
	mx_db_done(st);
	return rc;
}

int mx_store_server_keys_list(struct mx_db_conn *c, struct mx_arena *a, const char *server_name,
			      size_t max, struct mx_server_key_row **out, size_t *n)
{
	struct mx_db_stmt *st;
	*out = NULL;
	*n = 0;
	if (!max)
		return 0;
	int rc = mx_db_query(c, &st,
			     "SELECT " MX_SERVER_KEY_COLS " FROM server_keys WHERE server_name = ?"
			     " ORDER BY valid_until_ts DESC, key_id LIMIT ?",
			     "si", server_name, (int64_t)max);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_DONE)
		return 0;
	struct mx_server_key_row *rows = mx_arena_alloc(a, max * sizeof(*rows));
	size_t k = 0;
	while (rc == MX_DB_ROW && k < max) {
		if ((rc = mx_store_server_key_row(st, a, &rows[k])) != 0)
			break;
		k++;
		rc = mx_db_step(st);
	}
	mx_db_done(st);
	if (rc < 0)
		return rc;
	*out = rows;
	*n = k;
	return 0;
}
