/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer driver for search terms (src/store/search.c): the term of
 * POST /search is user input that becomes an FTS5 query. The first byte
 * picks the keys, the rest is the term. Whatever the term:
 *  - parsing fails only with the documented codes, and only a term over
 *    the limits or not UTF-8 fails;
 *  - a query comes out only when there are words, and outside its "..."
 *    phrases it holds nothing but the converter's own syntax (AND, OR,
 *    parentheses, '*', the column filter): nothing of FTS5's syntax comes
 *    from the term; a phrase never holds a quote;
 *  - FTS5 accepts the query: counting and searching, in both orders, an
 *    index holding a few events succeed (a syntax error would be MX_EDB);
 *  - highlights found in a text are words of that text.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/error.h"
#include "db/db.h"
#include "store/rooms.h"
#include "store/search.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mx_db *db;
static struct mx_db_conn *rconn;
static char dir[64];

static void cleanup(void)
{
	mx_db_conn_close(rconn);
	mx_db_close(db);
	char p[128];
	static const char *const files[] = {"search.sqlite", "search.sqlite-wal", "search.sqlite-shm"};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		unlink(p);
	}
	rmdir(dir);
}

static void put(const char *id, const char *type, const char *state_key, const char *content,
		bool first)
{
	static int64_t depth;
	char json[512];
	snprintf(json, sizeof(json), "{\"content\":%s}", content);
	depth++;
	struct mx_persist_event e = {
		.event_id = id, .room_id = "!r:x", .type = type, .state_key = state_key,
		.sender = "@a:x", .depth = depth, .origin_server_ts = depth, .json = json,
		.new_room_version = first ? "10" : NULL, .new_room_creator = first ? "@a:x" : NULL,
	};
	if (mx_store_events_persist(db, &e, 1))
		abort();
}

static void init(void)
{
	snprintf(dir, sizeof(dir), "/tmp/myelin-fuzz-search-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	char path[128], err[256];
	snprintf(path, sizeof(path), "%s/search.sqlite", dir);
	if (mx_db_open_sqlite(&db, path, err, sizeof(err)) || mx_db_conn_open(db, &rconn)) {
		fprintf(stderr, "fuzz_search: %s\n", err);
		abort();
	}
	atexit(cleanup);
	put("$1", "m.room.message", NULL, "{\"body\":\"Un café à Paris, e-mail NEAR the \\\"quoted\\\" star*\"}", true);
	put("$2", "m.room.message", NULL, "{\"body\":\"日本語のテキスト and AND OR NOT words\"}", false);
	put("$3", "m.room.name", "", "{\"name\":\"Martian (Club) {body}: x\"}", false);
	put("$4", "m.room.topic", "", "{\"topic\":\"a b c d e f g h i j\"}", false);
}

static int count_cb(void *ctx, const struct mx_store_event *ev, int64_t rank)
{
	(void)ev;
	(void)rank;
	(*(int *)ctx)++;
	return 0;
}

/* Outside the phrases: only what the converter writes itself. */
static void check_shape(const char *m)
{
	static const char allowed[] = " ()*:{}ANDORbodynametopic";
	bool in = false;
	size_t phrase_len = 0;
	for (const char *p = m; *p; p++) {
		if (*p == '"') {
			if (in && phrase_len == 0)
				abort(); /* an empty phrase, or a doubled quote */
			in = !in;
			phrase_len = 0;
			continue;
		}
		if (in)
			phrase_len++;
		else if (!strchr(allowed, *p))
			abort();
	}
	if (in)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!db)
		init();
	if (size < 1 || size > MX_SEARCH_TERM_MAX + 64)
		return 0;
	unsigned keys = data[0] & MX_SEARCH_ALL_KEYS;
	const char *term = (const char *)data + 1;
	size_t len = size - 1;
	struct mx_arena a;
	mx_arena_init(&a);
	struct mx_search_terms t;
	int rc = mx_store_search_parse(&a, term, len, keys, &t);
	if (rc && rc != MX_ETOOLARGE && rc != MX_EINVALID)
		abort();
	if (!rc && t.match) {
		if (!keys || !t.n_words)
			abort();
		check_shape(t.match);
		static const struct mx_search_room rooms[] = {{"!r:x", INT64_MAX}};
		struct mx_search_params p = {.match = t.match, .rooms = rooms, .n_rooms = 1};
		int64_t count;
		if (mx_store_search_count(rconn, &p, &count) || count < 0 || count > 4)
			abort();
		for (int by_rank = 0; by_rank < 2; by_rank++) {
			int n = 0;
			p.by_rank = by_rank;
			if (mx_store_search(rconn, &a, &p, 10, count_cb, &n) != n || n != count)
				abort();
		}
		/* Highlights, in the term itself and in a fixed text: words of the text. */
		char *text = malloc(len + 1);
		memcpy(text, term, len);
		text[len] = '\0';
		static const char fixed[] = "Un café à Paris, e-mail NEAR Martians 日本語のテキスト x²";
		const char *texts[] = {text, fixed};
		for (size_t i = 0; i < 2; i++) {
			const char **words = NULL;
			size_t n_words = 0;
			mx_store_search_highlights(&a, &t, texts[i], &words, &n_words, 8);
			if (n_words > 8)
				abort();
			for (size_t j = 0; j < n_words; j++)
				if (!*words[j] || !strstr(texts[i], words[j]))
					abort();
		}
		free(text);
	}
	mx_arena_release(&a);
	return 0;
}
