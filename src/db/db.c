/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Backend-independent database plumbing: dispatch to the backend, the
 * variadic query helpers, migrations, and the group-commit writer thread.
 */
#include "db/db.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/mem.h"
#include "db/backend.h"


/* ---- dispatch ---- */

int mx_db_conn_open(struct mx_db *db, struct mx_db_conn **out)
{
	return db->ops->conn_open(db, false, out);
}

void mx_db_conn_close(struct mx_db_conn *c)
{
	if (c)
		c->ops->conn_close(c);
}

int mx_db_prepare(struct mx_db_conn *c, const char *sql, struct mx_db_stmt **out)
{
	return c->ops->prepare(c, sql, out);
}

void mx_db_done(struct mx_db_stmt *st)
{
	st->conn->ops->done(st);
}

int mx_db_bind_text(struct mx_db_stmt *st, int idx, const char *s)
{
	if (!s)
		return st->conn->ops->bind_null(st, idx);
	return st->conn->ops->bind_textn(st, idx, s, strlen(s));
}

int mx_db_bind_textn(struct mx_db_stmt *st, int idx, const char *s, size_t n)
{
	return st->conn->ops->bind_textn(st, idx, s, n);
}

int mx_db_bind_int64(struct mx_db_stmt *st, int idx, int64_t v)
{
	return st->conn->ops->bind_int64(st, idx, v);
}

int mx_db_bind_blob(struct mx_db_stmt *st, int idx, const void *p, size_t n)
{
	return st->conn->ops->bind_blob(st, idx, p, n);
}

int mx_db_bind_null(struct mx_db_stmt *st, int idx)
{
	return st->conn->ops->bind_null(st, idx);
}

int mx_db_step(struct mx_db_stmt *st)
{
	return st->conn->ops->step(st);
}

const char *mx_db_col_text(struct mx_db_stmt *st, int col)
{
	return st->conn->ops->col_text(st, col);
}

int64_t mx_db_col_int64(struct mx_db_stmt *st, int col)
{
	return st->conn->ops->col_int64(st, col);
}

const void *mx_db_col_blob(struct mx_db_stmt *st, int col, size_t *len)
{
	return st->conn->ops->col_blob(st, col, len);
}

bool mx_db_col_is_null(struct mx_db_stmt *st, int col)
{
	return st->conn->ops->col_is_null(st, col);
}

int64_t mx_db_changes(struct mx_db_conn *c)
{
	return c->ops->changes(c);
}

int mx_db_exec(struct mx_db_conn *c, const char *sql)
{
	return c->ops->exec(c, sql);
}

/* ---- variadic helpers ---- */

static int mx_db_vbind(struct mx_db_stmt *st, const char *fmt, va_list ap)
{
	int rc = 0;
	for (int i = 0; fmt[i] && !rc; i++) {
		int idx = i + 1;
		switch (fmt[i]) {
		case 's':
			rc = mx_db_bind_text(st, idx, va_arg(ap, const char *));
			break;
		case 'i':
			rc = mx_db_bind_int64(st, idx, va_arg(ap, int64_t));
			break;
		case 'b': {
			const void *p = va_arg(ap, const void *);
			size_t n = va_arg(ap, size_t);
			rc = mx_db_bind_blob(st, idx, p, n);
			break;
		}
		case 'n':
			rc = mx_db_bind_null(st, idx);
			break;
		default:
			MX_BUG("bad mx_db bind format");
		}
	}
	return rc;
}

int mx_db_query(struct mx_db_conn *c, struct mx_db_stmt **out, const char *sql,
		const char *fmt, ...)
{
	struct mx_db_stmt *st;
	int rc = mx_db_prepare(c, sql, &st);
	if (rc)
		return rc;
	va_list ap;
	va_start(ap, fmt);
	rc = mx_db_vbind(st, fmt, ap);
	va_end(ap);
	if (rc) {
		mx_db_done(st);
		return rc;
	}
	rc = mx_db_step(st);
	if (rc == MX_DB_ROW)
		*out = st;
	return rc;
}

int mx_db_run(struct mx_db_conn *c, const char *sql, const char *fmt, ...)
{
	struct mx_db_stmt *st;
	int rc = mx_db_prepare(c, sql, &st);
	if (rc)
		return rc;
	va_list ap;
	va_start(ap, fmt);
	rc = mx_db_vbind(st, fmt, ap);
	va_end(ap);
	if (rc) {
		mx_db_done(st);
		return rc;
	}
	while ((rc = mx_db_step(st)) == MX_DB_ROW)
		;
	return rc;
}

/* ---- migrations ---- */

int mx_db_schema_latest(void)
{
	return mx_db_migrations_count;
}

int mx_db_schema_version(struct mx_db *db)
{
	return db->schema_version;
}

static int mx_db_read_version(struct mx_db_conn *c, int *version)
{
	int rc = mx_db_exec(c, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);");
	if (rc)
		return rc;
	struct mx_db_stmt *st;
	rc = mx_db_query(c, &st, "SELECT MAX(version) FROM schema_version", "");
	if (rc < 0)
		return rc;
	*version = rc == MX_DB_ROW ? (int)mx_db_col_int64(st, 0) : 0;
	if (rc == MX_DB_ROW)
		mx_db_done(st);
	return 0;
}

static int mx_db_migrate(struct mx_db *db, char *err, size_t errlen)
{
	struct mx_db_conn *c = db->wconn;
	int version, rc = mx_db_read_version(c, &version);
	if (rc) {
		snprintf(err, errlen, "%s: cannot read the schema version", db->path);
		return rc;
	}
	if (version > mx_db_migrations_count) {
		snprintf(err, errlen,
			 "%s: database schema version %d is newer than this myelin (%d); "
			 "refusing to start: upgrade myelin or restore a backup",
			 db->path, version, mx_db_migrations_count);
		return MX_EDB;
	}
	for (int i = version; i < mx_db_migrations_count; i++) {
		const struct mx_db_migration *m = &mx_db_migrations[i];
		rc = mx_db_exec(c, "BEGIN IMMEDIATE");
		if (!rc)
			rc = mx_db_exec(c, m->sql);
		if (!rc)
			rc = mx_db_run(c, "INSERT INTO schema_version (version) VALUES (?)", "i",
				       (int64_t)m->version);
		if (!rc)
			rc = mx_db_exec(c, "COMMIT");
		if (rc) {
			mx_db_exec(c, "ROLLBACK");
			snprintf(err, errlen, "%s: migration %03d_%s failed", db->path, m->version,
				 m->name);
			return MX_EDB;
		}
		mx_log_info("database: applied migration %03d_%s", m->version, m->name);
	}
	db->schema_version = mx_db_migrations_count;
	return 0;
}

/* ---- the writer ---- */

static void mx_db_run_batch(struct mx_db *db, struct mx_db_job *jobs)
{
	struct mx_db_conn *c = db->wconn;
	int rc = mx_db_exec(c, "BEGIN IMMEDIATE");
	for (struct mx_db_job *j = jobs; j; j = j->next) {
		if (rc) {
			j->result = MX_EDB;
			continue;
		}
		if (mx_db_exec(c, "SAVEPOINT job")) {
			j->result = MX_EDB;
			continue;
		}
		j->result = j->fn(c, j->arg);
		if (j->result < 0)
			mx_db_exec(c, "ROLLBACK TO job");
		mx_db_exec(c, "RELEASE job");
	}
	if (!rc && mx_db_exec(c, "COMMIT")) {
		mx_db_exec(c, "ROLLBACK");
		rc = MX_EDB;
	}
	if (rc)
		for (struct mx_db_job *j = jobs; j; j = j->next)
			j->result = MX_EDB;
}

static void *mx_db_writer_main(void *arg)
{
	struct mx_db *db = arg;
	pthread_mutex_lock(&db->lock);
	for (;;) {
		while (!db->head && !db->stopping)
			pthread_cond_wait(&db->wake, &db->lock);
		if (!db->head && db->stopping)
			break;
		struct mx_db_job *batch = db->head;
		db->head = db->tail = NULL;
		pthread_mutex_unlock(&db->lock);

		mx_db_run_batch(db, batch);

		/* Detached jobs are ours: release them before anyone waiting on
		 * this batch wakes, and drop them from the list. */
		uint64_t n_jobs = 0;
		for (struct mx_db_job **pp = &batch; *pp;) {
			struct mx_db_job *j = *pp;
			n_jobs++;
			if (!j->detached) {
				pp = &j->next;
				continue;
			}
			*pp = j->next;
			if (j->release)
				j->release(j->arg, j->result);
			free(j);
		}

		pthread_mutex_lock(&db->lock);
		db->batches++;
		db->jobs += n_jobs;
		for (struct mx_db_job *j = batch; j;) {
			struct mx_db_job *next = j->next; /* j lives on its caller's stack */
			j->done = true;
			j = next;
		}
		pthread_cond_broadcast(&db->done);
	}
	pthread_mutex_unlock(&db->lock);
	return NULL;
}

/* Queue job (fields set by the caller); see mx_db_write_async for detached jobs. */
static void mx_db_enqueue(struct mx_db *db, struct mx_db_job *job)
{
	job->next = NULL;
	job->result = 0;
	job->done = false;
	pthread_mutex_lock(&db->lock);
	if (db->stopping) {
		job->result = MX_EUNAVAILABLE;
		job->done = true;
		pthread_mutex_unlock(&db->lock);
		if (job->detached) {
			if (job->release)
				job->release(job->arg, job->result);
			free(job);
		}
		return;
	}
	if (db->tail)
		db->tail->next = job;
	else
		db->head = job;
	db->tail = job;
	pthread_cond_signal(&db->wake);
	pthread_mutex_unlock(&db->lock);
}

void mx_db_write_submit(struct mx_db *db, struct mx_db_job *job, mx_db_write_fn fn, void *arg)
{
	job->fn = fn;
	job->arg = arg;
	job->detached = false;
	job->release = NULL;
	mx_db_enqueue(db, job);
}

void mx_db_write_async(struct mx_db *db, mx_db_write_fn fn, void *arg, mx_db_release_fn release)
{
	struct mx_db_job *job = mx_xcalloc(1, sizeof(*job));
	job->fn = fn;
	job->arg = arg;
	job->detached = true;
	job->release = release;
	mx_db_enqueue(db, job);
}

int mx_db_write_wait(struct mx_db *db, struct mx_db_job *job)
{
	pthread_mutex_lock(&db->lock);
	while (!job->done)
		pthread_cond_wait(&db->done, &db->lock);
	pthread_mutex_unlock(&db->lock);
	return job->result;
}

int mx_db_write(struct mx_db *db, mx_db_write_fn fn, void *arg)
{
	struct mx_db_job job;
	mx_db_write_submit(db, &job, fn, arg);
	return mx_db_write_wait(db, &job);
}

void mx_db_write_stats(struct mx_db *db, uint64_t *batches, uint64_t *jobs)
{
	pthread_mutex_lock(&db->lock);
	*batches = db->batches;
	*jobs = db->jobs;
	pthread_mutex_unlock(&db->lock);
}

/* ---- open/close ---- */

int mx_db_open_sqlite(struct mx_db **out, const char *path, char *err, size_t errlen)
{
	struct mx_db *db = mx_xcalloc(1, sizeof(*db));
	db->ops = &mx_db_sqlite_ops;
	db->path = mx_xstrdup(path);
	pthread_mutex_init(&db->lock, NULL);
	pthread_cond_init(&db->wake, NULL);
	pthread_cond_init(&db->done, NULL);
	int rc = db->ops->conn_open(db, true, &db->wconn);
	if (rc) {
		snprintf(err, errlen, "%s: cannot open the database", path);
		goto out;
	}
	rc = mx_db_migrate(db, err, errlen);
	if (rc)
		goto out;
	if (pthread_create(&db->writer, NULL, mx_db_writer_main, db)) {
		snprintf(err, errlen, "cannot start the database writer thread");
		rc = MX_EDB;
		goto out;
	}
	db->writer_running = true;
	*out = db;
	return 0;
out:
	mx_db_close(db);
	return rc;
}

int mx_db_open(struct mx_db **out, const struct mx_config *cfg, char *err, size_t errlen)
{
	if (cfg->database_engine && strcmp(cfg->database_engine, "sqlite3") != 0) {
		snprintf(err, errlen, "database.name: engine '%s' is not supported yet (use sqlite3)",
			 cfg->database_engine);
		return MX_EINVALID;
	}
	return mx_db_open_sqlite(out, cfg->database_path, err, errlen);
}

void mx_db_close(struct mx_db *db)
{
	if (!db)
		return;
	if (db->writer_running) {
		pthread_mutex_lock(&db->lock);
		db->stopping = true;
		pthread_cond_signal(&db->wake);
		pthread_mutex_unlock(&db->lock);
		pthread_join(db->writer, NULL);
	}
	mx_db_conn_close(db->wconn);
	pthread_mutex_destroy(&db->lock);
	pthread_cond_destroy(&db->wake);
	pthread_cond_destroy(&db->done);
	free(db->path);
	free(db);
}
