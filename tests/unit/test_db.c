/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for db/: migrations and the schema-version guard, the
 * group-commit writer (many threads' jobs share a transaction, and a job
 * that fails is rolled back alone), error mapping, parameter binding, the
 * statement cache, and read connections seeing committed writes. Each test
 * uses a fresh SQLite file in a mkdtemp directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <dirent.h>

#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/rand.h"
#include "db/backend.h" /* the writer's queue, to line jobs up in one batch */
#include "db/db.h"

struct fixture {
	char dir[64];
	char path[128];
	struct mx_db *db;
	struct mx_db_conn *rc; /* a read connection on the test thread */
};

static int setup(void **state)
{
	struct fixture *f = mx_xcalloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/myelin-test-db-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/test.sqlite", f->dir);
	char err[256] = "";
	if (mx_db_open_sqlite(&f->db, f->path, err, sizeof(err))) {
		fprintf(stderr, "open: %s\n", err);
		return -1;
	}
	if (mx_db_conn_open(f->db, &f->rc))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	mx_db_conn_close(f->rc);
	mx_db_close(f->db);
	/* The database, its -wal and -shm files, and any second database. */
	DIR *d = opendir(f->dir);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			char p[512];
			snprintf(p, sizeof(p), "%s/%s", f->dir, e->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* A single integer from a query on the read connection. */
static int64_t query_int(struct mx_db_conn *c, const char *sql)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st, sql, "");
	if (rc != MX_DB_ROW)
		fail_msg("%s: rc %d", sql, rc);
	int64_t v = mx_db_col_int64(st, 0);
	mx_db_done(st);
	return v;
}

static int exec_job(struct mx_db_conn *c, void *arg)
{
	return mx_db_exec(c, arg);
}

static void make_table(struct fixture *f)
{
	assert_int_equal(mx_db_write(f->db, exec_job,
				     "CREATE TABLE t (a INTEGER, b INTEGER, s TEXT, UNIQUE (a, b));"),
			 0);
}

/* ---- migrations ---- */

static void test_migrations(void **state)
{
	struct fixture *f = *state;
	int latest = mx_db_schema_latest();
	assert_true(latest >= 1);
	assert_int_equal(mx_db_schema_version(f->db), latest);
	/* One row per applied migration, numbered 1..latest. */
	assert_int_equal(query_int(f->rc, "SELECT COUNT(*) FROM schema_version"), latest);
	assert_int_equal(query_int(f->rc, "SELECT MAX(version) FROM schema_version"), latest);
	assert_int_equal(query_int(f->rc, "SELECT MIN(version) FROM schema_version"), 1);
	/* The first migration's tables exist. */
	assert_int_equal(query_int(f->rc, "SELECT COUNT(*) FROM sqlite_master"
					  " WHERE type = 'table' AND name IN ('users', 'devices',"
					  " 'access_tokens', 'refresh_tokens')"),
			 4);
	/* WAL mode, as the backend promises. */
	struct mx_db_stmt *st;
	assert_int_equal(mx_db_query(f->rc, &st, "PRAGMA journal_mode", ""), MX_DB_ROW);
	assert_string_equal(mx_db_col_text(st, 0), "wal");
	mx_db_done(st);
}

static int insert_marker_job(struct mx_db_conn *c, void *arg)
{
	(void)arg;
	return mx_db_run(c, "INSERT INTO audit_log (ts, actor, action) VALUES (1, 'test', 'marker')",
			 "");
}

static void test_reopen_is_noop(void **state)
{
	struct fixture *f = *state;
	int latest = mx_db_schema_latest();
	assert_int_equal(mx_db_write(f->db, insert_marker_job, NULL), 0);
	mx_db_conn_close(f->rc);
	f->rc = NULL;
	mx_db_close(f->db);
	f->db = NULL;
	for (int i = 0; i < 2; i++) {
		char err[256] = "";
		assert_int_equal(mx_db_open_sqlite(&f->db, f->path, err, sizeof(err)), 0);
		assert_int_equal(mx_db_schema_version(f->db), latest);
		assert_int_equal(mx_db_conn_open(f->db, &f->rc), 0);
		/* No migration ran twice, and the data is still there. */
		assert_int_equal(query_int(f->rc, "SELECT COUNT(*) FROM schema_version"), latest);
		assert_int_equal(query_int(f->rc, "SELECT COUNT(*) FROM audit_log"), 1);
		if (i == 0) {
			mx_db_conn_close(f->rc);
			f->rc = NULL;
			mx_db_close(f->db);
			f->db = NULL;
		}
	}
}

static int bump_version_job(struct mx_db_conn *c, void *arg)
{
	return mx_db_run(c, "INSERT INTO schema_version (version) VALUES (?)", "i",
			 (int64_t)(intptr_t)arg);
}

static void test_newer_schema_refused(void **state)
{
	struct fixture *f = *state;
	int future = mx_db_schema_latest() + 1;
	assert_int_equal(mx_db_write(f->db, bump_version_job, (void *)(intptr_t)future), 0);
	mx_db_conn_close(f->rc);
	f->rc = NULL;
	mx_db_close(f->db);
	f->db = NULL;

	struct mx_db *db = (struct mx_db *)0x1; /* must not be written on failure */
	char err[512] = "";
	int rc = mx_db_open_sqlite(&db, f->path, err, sizeof(err));
	assert_int_equal(rc, MX_EDB);
	assert_ptr_equal(db, (struct mx_db *)0x1);
	if (!strstr(err, "newer"))
		fail_msg("message does not say the schema is newer: %s", err);
	assert_non_null(strstr(err, f->path));

	/* The same through mx_db_open and a config. */
	struct mx_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.database_engine = "sqlite3";
	cfg.database_path = f->path;
	err[0] = '\0';
	assert_int_equal(mx_db_open(&db, &cfg, err, sizeof(err)), MX_EDB);
	assert_non_null(strstr(err, "newer"));
	/* The refusal changed nothing: still refused. */
	err[0] = '\0';
	assert_int_equal(mx_db_open_sqlite(&db, f->path, err, sizeof(err)), MX_EDB);
	assert_non_null(strstr(err, "newer"));

	/* Give the teardown an open database again: a fresh file beside it. */
	snprintf(f->path + strlen(f->path), sizeof(f->path) - strlen(f->path), "2");
	assert_int_equal(mx_db_open_sqlite(&f->db, f->path, err, sizeof(err)), 0);
	assert_int_equal(mx_db_conn_open(f->db, &f->rc), 0);
}

static void test_open_errors(void **state)
{
	(void)state;
	struct mx_db *db = NULL;
	char err[256] = "";
	assert_int_equal(
		mx_db_open_sqlite(&db, "/nonexistent-dir-for-myelin-tests/x.sqlite", err, sizeof(err)),
		MX_EDB);
	assert_null(db);
	assert_non_null(strstr(err, "/nonexistent-dir-for-myelin-tests/x.sqlite"));

	struct mx_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.database_engine = "psycopg2";
	cfg.database_path = "/tmp/unused";
	err[0] = '\0';
	assert_int_equal(mx_db_open(&db, &cfg, err, sizeof(err)), MX_EINVALID);
	assert_null(db);
	assert_non_null(strstr(err, "psycopg2"));
	mx_db_close(NULL);
}

/* ---- group commit ---- */

enum { N_THREADS = 8, N_JOBS = 200 };

struct writer_arg {
	struct mx_db *db;
	int thread;
	int seq;
	int failures;
};

static int insert_row_job(struct mx_db_conn *c, void *arg)
{
	struct writer_arg *w = arg;
	return mx_db_run(c, "INSERT INTO t (a, b, s) VALUES (?, ?, ?)", "iis", (int64_t)w->thread,
			 (int64_t)w->seq, "row");
}

static void *writer_thread(void *arg)
{
	struct writer_arg *w = arg;
	struct mx_db_conn *rc;
	if (mx_db_conn_open(w->db, &rc)) {
		w->failures = -1;
		return NULL;
	}
	for (int i = 0; i < N_JOBS; i++) {
		w->seq = i;
		if (mx_db_write(w->db, insert_row_job, w) != 0)
			w->failures++;
	}
	/* Every write answered is visible to this thread's read connection. */
	struct mx_db_stmt *st;
	if (mx_db_query(rc, &st, "SELECT COUNT(*) FROM t WHERE a = ?", "i", (int64_t)w->thread) !=
	    MX_DB_ROW)
		w->failures++;
	else {
		if (mx_db_col_int64(st, 0) != N_JOBS)
			w->failures++;
		mx_db_done(st);
	}
	mx_db_conn_close(rc);
	return NULL;
}

static void test_group_commit(void **state)
{
	struct fixture *f = *state;
	make_table(f);
	uint64_t b0, j0, b1, j1;
	mx_db_write_stats(f->db, &b0, &j0);
	pthread_t th[N_THREADS];
	struct writer_arg args[N_THREADS];
	for (int i = 0; i < N_THREADS; i++) {
		args[i] = (struct writer_arg){.db = f->db, .thread = i};
		assert_int_equal(pthread_create(&th[i], NULL, writer_thread, &args[i]), 0);
	}
	for (int i = 0; i < N_THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].failures, 0);
	}
	mx_db_write_stats(f->db, &b1, &j1);
	assert_int_equal(j1 - j0, N_THREADS * N_JOBS);
	assert_true(b1 - b0 >= 1);
	if (b1 - b0 >= j1 - j0)
		fail_msg("no grouping: %llu batches for %llu jobs", (unsigned long long)(b1 - b0),
			 (unsigned long long)(j1 - j0));
	assert_int_equal(query_int(f->rc, "SELECT COUNT(*) FROM t"), N_THREADS * N_JOBS);
	assert_int_equal(query_int(f->rc, "SELECT COUNT(DISTINCT a * 1000 + b) FROM t"),
			 N_THREADS * N_JOBS);
}

/* Jobs lined up behind a blocker so that they run in one batch. */
struct batch_ctx {
	struct mx_db *db;
	int want_queued;     /* the blocker waits for this many queued jobs */
	atomic_int blocker_running;
	atomic_int timed_out;
};

static int queued_jobs(struct mx_db *db)
{
	int n = 0;
	pthread_mutex_lock(&db->lock);
	for (struct mx_db_job *j = db->head; j; j = j->next)
		n++;
	pthread_mutex_unlock(&db->lock);
	return n;
}

static int blocker_job(struct mx_db_conn *c, void *arg)
{
	(void)c;
	struct batch_ctx *x = arg;
	atomic_store(&x->blocker_running, 1);
	for (int i = 0; i < 10000; i++) {
		if (queued_jobs(x->db) >= x->want_queued)
			return 0;
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	atomic_store(&x->timed_out, 1);
	return 0;
}

static void *blocker_thread(void *arg)
{
	struct batch_ctx *x = arg;
	mx_db_write(x->db, blocker_job, x);
	return NULL;
}

enum job_kind { JOB_OK, JOB_FAIL_AFTER_INSERT, JOB_CONFLICT_AFTER_INSERT, JOB_POSITIVE };

struct mixed_arg {
	struct mx_db *db;
	int id;
	enum job_kind kind;
	int result;
};

static int mixed_job(struct mx_db_conn *c, void *arg)
{
	struct mixed_arg *m = arg;
	int rc = mx_db_run(c, "INSERT INTO t (a, b, s) VALUES (?, 0, 'mixed')", "i", (int64_t)m->id);
	if (rc)
		return rc;
	switch (m->kind) {
	case JOB_OK:
		return 0;
	case JOB_FAIL_AFTER_INSERT:
		return MX_EINVALID;
	case JOB_CONFLICT_AFTER_INSERT:
		/* Row (-1, 0) exists before the batch: a unique violation. */
		return mx_db_run(c, "INSERT INTO t (a, b, s) VALUES (-1, 0, 'dup')", "");
	case JOB_POSITIVE:
		return 5;
	}
	return MX_EUNKNOWN;
}

static void *mixed_thread(void *arg)
{
	struct mixed_arg *m = arg;
	m->result = mx_db_write(m->db, mixed_job, m);
	return NULL;
}

static int seed_job(struct mx_db_conn *c, void *arg)
{
	(void)arg;
	return mx_db_run(c, "INSERT INTO t (a, b, s) VALUES (-1, 0, 'seed')", "");
}

static void test_failed_job_rolled_back_alone(void **state)
{
	struct fixture *f = *state;
	make_table(f);
	assert_int_equal(mx_db_write(f->db, seed_job, NULL), 0);
	/* A unique violation surfaces as MX_ECONFLICT. */
	assert_int_equal(mx_db_write(f->db, seed_job, NULL), MX_ECONFLICT);

	enum { N = 12 };
	struct batch_ctx x = {.db = f->db, .want_queued = N};
	uint64_t b0, j0, b1, j1;
	mx_db_write_stats(f->db, &b0, &j0);
	pthread_t blocker, th[N];
	assert_int_equal(pthread_create(&blocker, NULL, blocker_thread, &x), 0);
	while (!atomic_load(&x.blocker_running)) {
		struct timespec ts = {0, 100000};
		nanosleep(&ts, NULL);
	}
	static const enum job_kind kinds[N] = {
		JOB_OK, JOB_FAIL_AFTER_INSERT, JOB_OK, JOB_CONFLICT_AFTER_INSERT, JOB_POSITIVE, JOB_OK,
		JOB_FAIL_AFTER_INSERT, JOB_FAIL_AFTER_INSERT, JOB_OK, JOB_CONFLICT_AFTER_INSERT, JOB_OK,
		JOB_POSITIVE,
	};
	struct mixed_arg args[N];
	for (int i = 0; i < N; i++) {
		args[i] = (struct mixed_arg){.db = f->db, .id = 100 + i, .kind = kinds[i]};
		assert_int_equal(pthread_create(&th[i], NULL, mixed_thread, &args[i]), 0);
	}
	pthread_join(blocker, NULL);
	for (int i = 0; i < N; i++)
		pthread_join(th[i], NULL);
	assert_false(atomic_load(&x.timed_out));
	mx_db_write_stats(f->db, &b1, &j1);
	/* The blocker's batch, then all twelve together. */
	assert_int_equal(j1 - j0, N + 1);
	assert_int_equal(b1 - b0, 2);

	int committed = 0;
	for (int i = 0; i < N; i++) {
		struct mx_db_stmt *st;
		int rc = mx_db_query(f->rc, &st, "SELECT COUNT(*) FROM t WHERE a = ?", "i",
				     (int64_t)args[i].id);
		assert_int_equal(rc, MX_DB_ROW);
		int64_t n = mx_db_col_int64(st, 0);
		mx_db_done(st);
		switch (args[i].kind) {
		case JOB_OK:
			assert_int_equal(args[i].result, 0);
			assert_int_equal(n, 1);
			break;
		case JOB_POSITIVE:
			assert_int_equal(args[i].result, 5); /* fn's result, and committed */
			assert_int_equal(n, 1);
			break;
		case JOB_FAIL_AFTER_INSERT:
			assert_int_equal(args[i].result, MX_EINVALID);
			assert_int_equal(n, 0); /* its insert was rolled back */
			break;
		case JOB_CONFLICT_AFTER_INSERT:
			assert_int_equal(args[i].result, MX_ECONFLICT);
			assert_int_equal(n, 0);
			break;
		}
		committed += (int)n;
	}
	assert_int_equal(committed, 7);
	assert_int_equal(query_int(f->rc, "SELECT COUNT(*) FROM t WHERE a = -1"), 1);
}

/* ---- binding and reading ---- */

struct bind_arg {
	const char *text;
	int64_t i;
	const void *blob;
	size_t blob_len;
};

static int bind_job(struct mx_db_conn *c, void *arg)
{
	struct bind_arg *b = arg;
	int rc = mx_db_exec(c, "CREATE TABLE IF NOT EXISTS v (k INTEGER PRIMARY KEY, s, i, b, n)");
	if (rc)
		return rc;
	rc = mx_db_run(c, "INSERT INTO v (s, i, b, n) VALUES (?, ?, ?, ?)", "sibn", b->text, b->i,
		       b->blob, b->blob_len);
	if (rc)
		return rc;
	if (mx_db_changes(c) != 1)
		return MX_EUNKNOWN;
	return 0;
}

static void test_binding(void **state)
{
	struct fixture *f = *state;
	static const unsigned char blob[] = {0, 1, 2, 0xff, 0, 'x'};
	struct bind_arg rows[] = {
		{"hello", 42, blob, sizeof(blob)},
		{NULL, INT64_MIN, blob, 0},
		{"", INT64_MAX, NULL, 0},
		{"ünïcödé ✓", -1, blob + 3, 1},
	};
	for (size_t i = 0; i < MX_ARRAY_LEN(rows); i++)
		assert_int_equal(mx_db_write(f->db, bind_job, &rows[i]), 0);

	struct mx_db_stmt *st;
	for (size_t r = 0; r < MX_ARRAY_LEN(rows); r++) {
		int rc = mx_db_query(f->rc, &st,
				     "SELECT s, i, b, n, typeof(s), typeof(i), typeof(b) FROM v"
				     " WHERE k = ?",
				     "i", (int64_t)r + 1);
		assert_int_equal(rc, MX_DB_ROW);
		if (rows[r].text) {
			assert_string_equal(mx_db_col_text(st, 0), rows[r].text);
			assert_string_equal(mx_db_col_text(st, 4), "text");
			assert_false(mx_db_col_is_null(st, 0));
		} else {
			assert_null(mx_db_col_text(st, 0));
			assert_true(mx_db_col_is_null(st, 0));
		}
		assert_int_equal(mx_db_col_int64(st, 1), rows[r].i);
		assert_string_equal(mx_db_col_text(st, 5), "integer");
		size_t len = 99;
		const void *p = mx_db_col_blob(st, 2, &len);
		assert_int_equal(len, rows[r].blob_len);
		if (len)
			assert_memory_equal(p, rows[r].blob, len);
		assert_true(mx_db_col_is_null(st, 3));
		assert_null(mx_db_col_text(st, 3));
		assert_int_equal(mx_db_col_int64(st, 3), 0);
		mx_db_done(st);
	}
	/* The blob type survives (not text), except an empty blob SQLite may
	 * store as zero-length. */
	assert_int_equal(mx_db_query(f->rc, &st, "SELECT typeof(b) FROM v WHERE k = 1", ""),
			 MX_DB_ROW);
	assert_string_equal(mx_db_col_text(st, 0), "blob");
	mx_db_done(st);

	/* Binding through the typed calls, parameters by index. */
	assert_int_equal(mx_db_prepare(f->rc, "SELECT ?2 || ?1, ?3 IS NULL, length(?4)", &st), 0);
	assert_int_equal(mx_db_bind_text(st, 1, "tail"), 0);
	assert_int_equal(mx_db_bind_textn(st, 2, "head-ignored", 4), 0);
	assert_int_equal(mx_db_bind_null(st, 3), 0);
	assert_int_equal(mx_db_bind_blob(st, 4, blob, sizeof(blob)), 0);
	assert_int_equal(mx_db_step(st), MX_DB_ROW);
	assert_string_equal(mx_db_col_text(st, 0), "headtail");
	assert_int_equal(mx_db_col_int64(st, 1), 1);
	assert_int_equal(mx_db_col_int64(st, 2), sizeof(blob));
	assert_int_equal(mx_db_step(st), MX_DB_DONE);
	/* An out-of-range index is an error, not a crash. */
	assert_true(mx_db_bind_int64(st, 9, 1) < 0);
	mx_db_done(st);

	/* mx_db_query: MX_DB_DONE when there is no row (statement already done). */
	assert_int_equal(mx_db_query(f->rc, &st, "SELECT 1 FROM v WHERE k = ?", "i", (int64_t)999),
			 MX_DB_DONE);
	/* A bind error is returned, not stepped. */
	assert_true(mx_db_query(f->rc, &st, "SELECT ?", "ii", (int64_t)1, (int64_t)2) < 0);
	/* The same SQL prepared again comes back reset and unbound. */
	assert_int_equal(mx_db_query(f->rc, &st, "SELECT COUNT(*) FROM v", ""), MX_DB_ROW);
	assert_int_equal(mx_db_col_int64(st, 0), MX_ARRAY_LEN(rows));
	mx_db_done(st);
	/* Bad SQL fails to prepare. */
	assert_int_equal(mx_db_prepare(f->rc, "SELEKT nonsense", &st), MX_EDB);
	/* The read connection refuses writes. */
	assert_true(mx_db_run(f->rc, "DELETE FROM v", "") < 0);
}

/* More distinct statements than the per-connection cache holds. */
static void test_statement_cache_overflow(void **state)
{
	struct fixture *f = *state;
	enum { N = 3000 };
	char(*sql)[48] = mx_xcalloc(N, sizeof(*sql));
	for (int i = 0; i < N; i++)
		snprintf(sql[i], sizeof(sql[i]), "SELECT %d + ?", i);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < N; i++) {
			struct mx_db_stmt *st;
			assert_int_equal(mx_db_query(f->rc, &st, sql[i], "i", (int64_t)round), MX_DB_ROW);
			assert_int_equal(mx_db_col_int64(st, 0), i + round);
			mx_db_done(st);
		}
	}
	/* The read connection is closed (finalizing everything) before the SQL
	 * texts that keyed its cache are freed. */
	mx_db_conn_close(f->rc);
	f->rc = NULL;
	free(sql);
	assert_int_equal(mx_db_conn_open(f->db, &f->rc), 0);
}

static void test_read_sees_commits(void **state)
{
	struct fixture *f = *state;
	make_table(f);
	/* A second read connection opened before the writes. */
	struct mx_db_conn *other;
	assert_int_equal(mx_db_conn_open(f->db, &other), 0);
	assert_int_equal(query_int(f->rc, "SELECT COUNT(*) FROM t"), 0);
	assert_int_equal(query_int(other, "SELECT COUNT(*) FROM t"), 0);
	struct writer_arg w = {.db = f->db, .thread = 7, .seq = 1};
	assert_int_equal(mx_db_write(f->db, insert_row_job, &w), 0);
	assert_int_equal(query_int(f->rc, "SELECT COUNT(*) FROM t"), 1);
	assert_int_equal(query_int(other, "SELECT COUNT(*) FROM t"), 1);
	/* A failed job leaves nothing visible. */
	assert_int_equal(mx_db_write(f->db, insert_row_job, &w), MX_ECONFLICT);
	assert_int_equal(query_int(other, "SELECT COUNT(*) FROM t"), 1);
	w.seq = 2;
	assert_int_equal(mx_db_write(f->db, insert_row_job, &w), 0);
	assert_int_equal(query_int(other, "SELECT COUNT(*) FROM t"), 2);
	mx_db_conn_close(other);
	mx_db_conn_close(NULL);
}

int main(void)
{
	mx_rand_init();
	mx_log_set_level(MX_LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_migrations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_is_noop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_job_rolled_back_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_binding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_statement_cache_overflow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_sees_commits, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
