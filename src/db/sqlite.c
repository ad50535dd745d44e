/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SQLite backend: WAL mode, synchronous=FULL (an answered write survives
 * kill -9 and power loss), one writer connection plus a read connection per
 * thread. Prepared statements are cached per connection, keyed by the
 * address of the SQL literal.
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "core/mem.h"
#include "db/backend.h"

#define MX_SQLITE_CACHE 1024 /* open-addressed; must be a power of two */

struct mx_sqlite_stmt {
	struct mx_db_stmt base;
	sqlite3_stmt *st;
	const char *sql;
};

struct mx_sqlite_conn {
	struct mx_db_conn base;
	sqlite3 *h;
	struct mx_sqlite_stmt cache[MX_SQLITE_CACHE];
	struct mx_sqlite_stmt oneoff; /* overflow: statements past the cache */
};

static int mx_sqlite_err(struct mx_sqlite_conn *c, int rc, const char *what)
{
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return MX_ECONFLICT;
	mx_log_error("sqlite: %s: %s", what, sqlite3_errmsg(c->h));
	return MX_EDB;
}

/*
 * Server-side search needs the FTS5 module (store/search.c, migration
 * 015). Debian's SQLite has it; a build without it must fail at start-up
 * with a reason, not at the first migration or search.
 */
static bool mx_sqlite_has_fts5(sqlite3 *h)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(h, "SELECT 1 FROM pragma_module_list WHERE name = 'fts5'", -1, &st,
			       NULL) != SQLITE_OK)
		return sqlite3_compileoption_used("ENABLE_FTS5"); /* no introspection pragmas */
	bool found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

static int mx_sqlite_conn_open(struct mx_db *db, bool writer, struct mx_db_conn **out)
{
	struct mx_sqlite_conn *c = mx_xcalloc(1, sizeof(*c));
	c->base.ops = &mx_db_sqlite_ops;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI;
	if (writer)
		flags |= SQLITE_OPEN_CREATE;
	int rc = sqlite3_open_v2(db->path, &c->h, flags, NULL);
	if (rc != SQLITE_OK) {
		mx_log_error("sqlite: cannot open %s: %s", db->path,
			     c->h ? sqlite3_errmsg(c->h) : sqlite3_errstr(rc));
		sqlite3_close(c->h);
		free(c);
		return MX_EDB;
	}
	if (writer && !mx_sqlite_has_fts5(c->h)) {
		mx_log_error("sqlite: this SQLite (%s) has no FTS5 module, which search needs: "
			     "use a SQLite built with SQLITE_ENABLE_FTS5 (Debian's libsqlite3-0 is)",
			     sqlite3_libversion());
		sqlite3_close(c->h);
		free(c);
		return MX_EDB;
	}
	sqlite3_busy_timeout(c->h, 10000);
	sqlite3_extended_result_codes(c->h, 1);
	const char *pragmas = writer ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
				       "PRAGMA foreign_keys=OFF; PRAGMA temp_store=MEMORY;"
				       /* Checkpoint less often: hot pages (the tail of the
					* events table and its indexes) are copied to the
					* database once per checkpoint, not once per commit. */
				       "PRAGMA wal_autocheckpoint=8000;"
				     : "PRAGMA query_only=1; PRAGMA temp_store=MEMORY;";
	char *msg = NULL;
	if (sqlite3_exec(c->h, pragmas, NULL, NULL, &msg) != SQLITE_OK) {
		mx_log_error("sqlite: %s: %s", db->path, msg ? msg : "pragma failed");
		sqlite3_free(msg);
		sqlite3_close(c->h);
		free(c);
		return MX_EDB;
	}
	*out = &c->base;
	return 0;
}

static void mx_sqlite_conn_close(struct mx_db_conn *base)
{
	struct mx_sqlite_conn *c = (struct mx_sqlite_conn *)base;
	for (size_t i = 0; i < MX_SQLITE_CACHE; i++)
		sqlite3_finalize(c->cache[i].st);
	sqlite3_finalize(c->oneoff.st);
	sqlite3_close(c->h);
	free(c);
}

static size_t mx_sqlite_slot(const char *sql)
{
	uintptr_t p = (uintptr_t)sql;
	p ^= p >> 17;
	p *= 0x9e3779b97f4a7c15ull;
	return (size_t)(p >> 40) & (MX_SQLITE_CACHE - 1);
}

static int mx_sqlite_prepare(struct mx_db_conn *base, const char *sql, struct mx_db_stmt **out)
{
	struct mx_sqlite_conn *c = (struct mx_sqlite_conn *)base;
	size_t i = mx_sqlite_slot(sql);
	struct mx_sqlite_stmt *s = NULL;
	for (size_t probe = 0; probe < 8; probe++) {
		struct mx_sqlite_stmt *cand = &c->cache[(i + probe) & (MX_SQLITE_CACHE - 1)];
		if (cand->sql == sql || !cand->st) {
			s = cand;
			break;
		}
	}
	if (!s) {
		s = &c->oneoff;
		sqlite3_finalize(s->st);
		s->st = NULL;
		s->sql = NULL;
	}
	if (s->st) {
		sqlite3_reset(s->st);
		sqlite3_clear_bindings(s->st);
	} else {
		int rc = sqlite3_prepare_v3(c->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->st, NULL);
		if (rc != SQLITE_OK) {
			mx_log_error("sqlite: prepare failed: %s: %s", sqlite3_errmsg(c->h), sql);
			s->st = NULL;
			return MX_EDB;
		}
		s->sql = sql;
	}
	s->base.conn = base;
	*out = &s->base;
	return 0;
}

#define MX_SQ(st) (((struct mx_sqlite_stmt *)(st))->st)

static void mx_sqlite_done(struct mx_db_stmt *st)
{
	sqlite3_reset(MX_SQ(st));
}

static int mx_sqlite_bind_rc(struct mx_db_stmt *st, int rc)
{
	return rc == SQLITE_OK ? 0 : mx_sqlite_err((struct mx_sqlite_conn *)st->conn, rc, "bind");
}

static int mx_sqlite_bind_textn(struct mx_db_stmt *st, int idx, const char *s, size_t n)
{
	return mx_sqlite_bind_rc(st, sqlite3_bind_text64(MX_SQ(st), idx, s, n, SQLITE_TRANSIENT,
							 SQLITE_UTF8));
}

static int mx_sqlite_bind_int64(struct mx_db_stmt *st, int idx, int64_t v)
{
	return mx_sqlite_bind_rc(st, sqlite3_bind_int64(MX_SQ(st), idx, v));
}

static int mx_sqlite_bind_blob(struct mx_db_stmt *st, int idx, const void *p, size_t n)
{
	return mx_sqlite_bind_rc(st, sqlite3_bind_blob64(MX_SQ(st), idx, p, n, SQLITE_TRANSIENT));
}

static int mx_sqlite_bind_null(struct mx_db_stmt *st, int idx)
{
	return mx_sqlite_bind_rc(st, sqlite3_bind_null(MX_SQ(st), idx));
}

static int mx_sqlite_step(struct mx_db_stmt *st)
{
	int rc = sqlite3_step(MX_SQ(st));
	if (rc == SQLITE_ROW)
		return MX_DB_ROW;
	if (rc == SQLITE_DONE) {
		sqlite3_reset(MX_SQ(st));
		return MX_DB_DONE;
	}
	int err = mx_sqlite_err((struct mx_sqlite_conn *)st->conn, rc, "step");
	sqlite3_reset(MX_SQ(st));
	return err;
}

static const char *mx_sqlite_col_text(struct mx_db_stmt *st, int col)
{
	return (const char *)sqlite3_column_text(MX_SQ(st), col);
}

static int64_t mx_sqlite_col_int64(struct mx_db_stmt *st, int col)
{
	return sqlite3_column_int64(MX_SQ(st), col);
}

static const void *mx_sqlite_col_blob(struct mx_db_stmt *st, int col, size_t *len)
{
	const void *p = sqlite3_column_blob(MX_SQ(st), col);
	*len = (size_t)sqlite3_column_bytes(MX_SQ(st), col);
	return p;
}

static bool mx_sqlite_col_is_null(struct mx_db_stmt *st, int col)
{
	return sqlite3_column_type(MX_SQ(st), col) == SQLITE_NULL;
}

static int64_t mx_sqlite_changes(struct mx_db_conn *base)
{
	return sqlite3_changes64(((struct mx_sqlite_conn *)base)->h);
}

static int mx_sqlite_exec(struct mx_db_conn *base, const char *sql)
{
	struct mx_sqlite_conn *c = (struct mx_sqlite_conn *)base;
	char *msg = NULL;
	int rc = sqlite3_exec(c->h, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		mx_log_error("sqlite: exec failed: %s", msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return (rc & 0xff) == SQLITE_CONSTRAINT ? MX_ECONFLICT : MX_EDB;
	}
	return 0;
}

const struct mx_db_ops mx_db_sqlite_ops = {
	.name = "sqlite3",
	.conn_open = mx_sqlite_conn_open,
	.conn_close = mx_sqlite_conn_close,
	.prepare = mx_sqlite_prepare,
	.done = mx_sqlite_done,
	.bind_textn = mx_sqlite_bind_textn,
	.bind_int64 = mx_sqlite_bind_int64,
	.bind_blob = mx_sqlite_bind_blob,
	.bind_null = mx_sqlite_bind_null,
	.step = mx_sqlite_step,
	.col_text = mx_sqlite_col_text,
	.col_int64 = mx_sqlite_col_int64,
	.col_blob = mx_sqlite_col_blob,
	.col_is_null = mx_sqlite_col_is_null,
	.changes = mx_sqlite_changes,
	.exec = mx_sqlite_exec,
};
