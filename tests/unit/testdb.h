/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared fixture for store tests: a fresh SQLite database with every
 * migration applied, in its own temporary directory, with a read
 * connection and an arena.
 */
#ifndef MX_TEST_TESTDB_H
#define MX_TEST_TESTDB_H

#include <stdbool.h>

#include "core/arena.h"
#include "db/db.h"

struct mx_test_db {
	char dir[64];
	char path[128];
	struct mx_db *db;
	struct mx_db_conn *rc;
	struct mx_arena a;
	int seq;              /* numbers the events mx_test_db_put_state makes */
};

/* Open; name goes into the directory name. 0 or -1 (with a message). */
int mx_test_db_open(struct mx_test_db *t, const char *name);
/* Close everything and remove the directory. */
void mx_test_db_close(struct mx_test_db *t);

/*
 * Persist one state event sent by @alice:test with content (JSON text);
 * new_room makes the room's row (version 11). Ids, depths and timestamps
 * follow t->seq. 0 or the store's error.
 */
int mx_test_db_put_state(struct mx_test_db *t, const char *room_id, const char *type,
			 const char *state_key, const char *content, const char *membership,
			 bool new_room);

/* cmocka setup/teardown: *state becomes a heap struct mx_test_db. */
int mx_test_db_setup_named(void **state, const char *name);
int mx_test_db_teardown(void **state);
/* Defines static setup() and teardown() around a database named name. */
#define MX_TEST_DB_FIXTURE(name)                                                 \
	static int setup(void **state) { return mx_test_db_setup_named(state, name); } \
	static int teardown(void **state) { return mx_test_db_teardown(state); }

#endif
