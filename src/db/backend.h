/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside db/: the backend interface. A backend's connection and statement
 * structs embed struct mx_db_conn / struct mx_db_stmt as their first member.
 */
#ifndef MX_DB_BACKEND_H
#define MX_DB_BACKEND_H

#include <pthread.h>

#include "db/db.h"

struct mx_db_ops {
	const char *name;
	int (*conn_open)(struct mx_db *db, bool writer, struct mx_db_conn **out);
	void (*conn_close)(struct mx_db_conn *c);
	int (*prepare)(struct mx_db_conn *c, const char *sql, struct mx_db_stmt **out);
	void (*done)(struct mx_db_stmt *st);
	int (*bind_textn)(struct mx_db_stmt *st, int idx, const char *s, size_t n);
	int (*bind_int64)(struct mx_db_stmt *st, int idx, int64_t v);
	int (*bind_blob)(struct mx_db_stmt *st, int idx, const void *p, size_t n);
	int (*bind_null)(struct mx_db_stmt *st, int idx);
	int (*step)(struct mx_db_stmt *st);
	const char *(*col_text)(struct mx_db_stmt *st, int col);
	int64_t (*col_int64)(struct mx_db_stmt *st, int col);
	const void *(*col_blob)(struct mx_db_stmt *st, int col, size_t *len);
	bool (*col_is_null)(struct mx_db_stmt *st, int col);
	int64_t (*changes)(struct mx_db_conn *c);
	int (*exec)(struct mx_db_conn *c, const char *sql);
};

struct mx_db_conn {
	const struct mx_db_ops *ops;
};

struct mx_db_stmt {
	struct mx_db_conn *conn;
};

struct mx_db_job;

struct mx_db {
	const struct mx_db_ops *ops;
	char *path;              /* sqlite file, or ":memory:" / "file:...?mode=memory" */
	struct mx_db_conn *wconn; /* the writer's connection */
	pthread_t writer;
	bool writer_running;
	pthread_mutex_t lock;
	pthread_cond_t wake;     /* signals the writer: jobs queued or stop */
	pthread_cond_t done;     /* signals callers: a batch finished */
	struct mx_db_job *head, *tail;
	bool stopping;
	uint64_t batches, jobs;
	int schema_version;
};

extern const struct mx_db_ops mx_db_sqlite_ops;

/* Embedded migrations, generated from db/migrations/NNN_*.sql at build. */
struct mx_db_migration {
	int version;
	const char *name;
	const char *sql;
};
extern const struct mx_db_migration mx_db_migrations[];
extern const int mx_db_migrations_count;

#endif
