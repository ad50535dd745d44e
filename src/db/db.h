/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one thin SQL interface. Backends (sqlite.c; postgres.c later) sit
 * behind struct mx_db_ops; nothing outside db/ includes a driver header and
 * SQL text lives only in store/.
 *
 * Threads: struct mx_db is shared. A struct mx_db_conn belongs to one thread
 * at a time. Reads use a per-thread read connection; every write goes
 * through mx_db_write(), which runs the job on the single writer thread
 * inside a group-committed transaction and returns once it is durable.
 *
 * SQL uses `?` placeholders, numbered from 1 when binding.
 */
#ifndef MX_DB_DB_H
#define MX_DB_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mx_config;
struct mx_db;
struct mx_db_conn;
struct mx_db_stmt;

enum { MX_DB_DONE = 0, MX_DB_ROW = 1 };

/*
 * Open the configured database, apply pending migrations and start the
 * writer thread. Refuses (MX_EDB, message in err) a database whose schema is
 * newer than this binary.
 */
int mx_db_open(struct mx_db **out, const struct mx_config *cfg, char *err, size_t errlen);
/* Open (creating) the SQLite file at path with migrations applied. */
int mx_db_open_sqlite(struct mx_db **out, const char *path, char *err, size_t errlen);
/* Drain and stop the writer, close everything. */
void mx_db_close(struct mx_db *db);
/* Highest migration this binary knows and the one the database is at. */
int mx_db_schema_version(struct mx_db *db);
int mx_db_schema_latest(void);

/* A connection for reads on the calling thread; caller closes. */
int mx_db_conn_open(struct mx_db *db, struct mx_db_conn **out);
void mx_db_conn_close(struct mx_db_conn *c);

/*
 * Prepared statements are cached per connection, keyed by the SQL text's
 * address: pass string literals. The returned statement is reset and
 * unbound; it is borrowed until the next mx_db_prepare of the same SQL on the
 * same connection. Call mx_db_done() when finished reading rows.
 */
int mx_db_prepare(struct mx_db_conn *c, const char *sql, struct mx_db_stmt **out);
void mx_db_done(struct mx_db_stmt *st);
int mx_db_bind_text(struct mx_db_stmt *st, int idx, const char *s); /* NULL binds NULL */
int mx_db_bind_textn(struct mx_db_stmt *st, int idx, const char *s, size_t n);
int mx_db_bind_int64(struct mx_db_stmt *st, int idx, int64_t v);
int mx_db_bind_blob(struct mx_db_stmt *st, int idx, const void *p, size_t n);
int mx_db_bind_null(struct mx_db_stmt *st, int idx);
/* MX_DB_ROW, MX_DB_DONE, or negative MX_E* (MX_ECONFLICT on a unique violation). */
int mx_db_step(struct mx_db_stmt *st);
/* Column values are borrowed until the next step/done. NULL text reads as NULL. */
const char *mx_db_col_text(struct mx_db_stmt *st, int col);
int64_t mx_db_col_int64(struct mx_db_stmt *st, int col);
const void *mx_db_col_blob(struct mx_db_stmt *st, int col, size_t *len);
bool mx_db_col_is_null(struct mx_db_stmt *st, int col);
/* Rows changed by the last statement on c. */
int64_t mx_db_changes(struct mx_db_conn *c);

/*
 * Convenience: prepare sql, bind args described by fmt and step once.
 * fmt chars: 's' const char * (NULL binds NULL), 'i' int64_t, 'b' const void *
 * then size_t, 'n' NULL. Returns MX_DB_ROW (statement left open: read the
 * columns, then mx_db_done), MX_DB_DONE (statement already done) or an error.
 */
int mx_db_query(struct mx_db_conn *c, struct mx_db_stmt **st, const char *sql,
		const char *fmt, ...);
/* As mx_db_query, discarding rows: for INSERT/UPDATE/DELETE. 0 or error. */
int mx_db_run(struct mx_db_conn *c, const char *sql, const char *fmt, ...);
/* Execute a script of statements without parameters. */
int mx_db_exec(struct mx_db_conn *c, const char *sql);

/*
 * Run fn(conn, arg) on the writer thread inside a transaction shared with
 * whatever else is queued (group commit). A negative return from fn rolls
 * back that job alone (a savepoint). Returns fn's result once the batch is
 * durably committed, or MX_EDB if the commit failed.
 */
typedef int (*mx_db_write_fn)(struct mx_db_conn *c, void *arg);
int mx_db_write(struct mx_db *db, mx_db_write_fn fn, void *arg);

/*
 * The same in two steps, so that a caller can queue a write while holding
 * its own lock (fixing the order of writes) and wait for durability after
 * releasing it: jobs run in submission order. The job lives in caller
 * memory (usually its stack) until mx_db_write_wait() returns.
 */
typedef void (*mx_db_release_fn)(void *arg, int result);
struct mx_db_job {
	struct mx_db_job *next; /* first: the writer's queue link */
	mx_db_write_fn fn;
	void *arg;
	int result;
	bool done;
	bool detached;             /* mx_db_write_async: the writer frees the job */
	mx_db_release_fn release;  /* detached jobs only; may be NULL */
};
void mx_db_write_submit(struct mx_db *db, struct mx_db_job *job, mx_db_write_fn fn, void *arg);
/* Wait for a submitted job; returns its result as mx_db_write() does. */
int mx_db_write_wait(struct mx_db *db, struct mx_db_job *job);

/*
 * Fire and forget: queue fn(conn, arg) like mx_db_write_submit() and return
 * at once, for writes nobody waits on (bookkeeping such as federation
 * destination health). The job memory belongs to db. Once its batch has
 * committed (or failed), release(arg, result) runs on the writer thread,
 * outside the queue lock and before any waiter on the same or a later batch
 * returns, so that the caller's arg can be freed there; release may be
 * NULL. When the writer is stopping, fn never runs and release(arg,
 * MX_EUNAVAILABLE) is called before this returns. Queued jobs still run
 * when the database closes (the writer drains its queue).
 */
void mx_db_write_async(struct mx_db *db, mx_db_write_fn fn, void *arg, mx_db_release_fn release);

/* Counters for benchmarks: committed batches and jobs. */
void mx_db_write_stats(struct mx_db *db, uint64_t *batches, uint64_t *jobs);

#endif
