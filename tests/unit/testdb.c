/* SPDX-License-Identifier: Apache-2.0 */
/* The temporary-database fixture shared by the store tests. */
#include "testdb.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/mem.h"
#include "store/rooms.h"

int mx_test_db_open(struct mx_test_db *t, const char *name)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "/tmp/myelin-test-%s-XXXXXX", name);
	if (!mkdtemp(t->dir))
		return -1;
	snprintf(t->path, sizeof(t->path), "%s/test.sqlite", t->dir);
	char err[256] = "";
	if (mx_db_open_sqlite(&t->db, t->path, err, sizeof(err))) {
		fprintf(stderr, "open %s: %s\n", t->path, err);
		return -1;
	}
	if (mx_db_conn_open(t->db, &t->rc))
		return -1;
	mx_arena_init(&t->a);
	return 0;
}

void mx_test_db_close(struct mx_test_db *t)
{
	mx_arena_release(&t->a);
	mx_db_conn_close(t->rc);
	mx_db_close(t->db);
	DIR *d = opendir(t->dir);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			char p[512];
			snprintf(p, sizeof(p), "%s/%s", t->dir, e->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(t->dir);
}

int mx_test_db_setup_named(void **state, const char *name)
{
	struct mx_test_db *t = mx_xcalloc(1, sizeof(*t));
	if (mx_test_db_open(t, name)) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

int mx_test_db_teardown(void **state)
{
	mx_test_db_close(*state);
	free(*state);
	return 0;
}

int mx_test_db_put_state(struct mx_test_db *t, const char *room_id, const char *type,
			 const char *state_key, const char *content, const char *membership,
			 bool new_room)
{
	struct mx_persist_event e = {0};
	t->seq++;
	e.event_id = mx_arena_printf(&t->a, "$ev%d", t->seq);
	e.room_id = room_id;
	e.type = type;
	e.state_key = state_key;
	e.sender = "@alice:test";
	e.depth = t->seq;
	e.origin_server_ts = 1000 + t->seq;
	e.json = mx_arena_printf(&t->a,
				 "{\"type\":\"%s\",\"state_key\":\"%s\",\"sender\":\"@alice:test\","
				 "\"content\":%s}",
				 type, state_key, content);
	e.membership = membership;
	if (new_room) {
		e.new_room_version = "11";
		e.new_room_creator = "@alice:test";
	}
	return mx_store_events_persist(t->db, &e, 1);
}
