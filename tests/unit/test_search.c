/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for store/search: the search term -> FTS5 query conversion
 * (words, phrases, keys, hostile input, limits), and the index against a
 * temporary SQLite database: what is indexed (body, name, topic and
 * m.topic; not encrypted events, not other types), accents, keys, rooms
 * (in full and bounded at a leave), senders, both orders and positions
 * in them, counts, highlights, redactions leaving the index, the
 * migration indexing events already stored, and the index check (which
 * sees an index that disagrees with the events) and its repair.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "testdb.h"

#include "core/arena.h"
#include "core/error.h"
#include "core/mem.h"
#include "db/backend.h"
#include "db/db.h"
#include "store/rooms.h"
#include "store/search.h"

/* ---- the term ---- */

static const char *parse(struct mx_arena *a, const char *term, unsigned keys)
{
	struct mx_search_terms t;
	assert_int_equal(mx_store_search_parse(a, term, strlen(term), keys, &t), 0);
	return t.match;
}

static void test_parse_words(void **state)
{
	(void)state;
	struct mx_arena a;
	mx_arena_init(&a);
	assert_string_equal(parse(&a, "hello", MX_SEARCH_ALL_KEYS), "(\"hello\"* OR \"hello\")");
	assert_string_equal(parse(&a, "  martians\tand\nmen ", MX_SEARCH_ALL_KEYS),
			    "(\"martians\"* OR \"martians\") AND (\"and\"* OR \"and\") AND (\"men\"* OR \"men\")");
	/* Punctuation inside a word: adjacent sub-words; around it: dropped. */
	assert_string_equal(parse(&a, "e-mail!", MX_SEARCH_ALL_KEYS),
			    "(\"e mail\"* OR \"e mail\")");
	/* Quotes make an exact phrase, closed or not. */
	assert_string_equal(parse(&a, "\"big  red\" dog", MX_SEARCH_ALL_KEYS),
			    "\"big red\" AND (\"dog\"* OR \"dog\")");
	assert_string_equal(parse(&a, "dog \"big red", MX_SEARCH_ALL_KEYS),
			    "(\"dog\"* OR \"dog\") AND \"big red\"");
	/* Keys: an FTS5 column filter. */
	assert_string_equal(parse(&a, "x", MX_SEARCH_BODY), "{body} : ((\"x\"* OR \"x\"))");
	assert_string_equal(parse(&a, "x", MX_SEARCH_NAME | MX_SEARCH_TOPIC),
			    "{name topic} : ((\"x\"* OR \"x\"))");
	assert_null(parse(&a, "x", 0));
	/* Non-Latin words, accents and digits are words. */
	assert_string_equal(parse(&a, "Café 日本 x2", MX_SEARCH_ALL_KEYS),
			    "(\"Café\"* OR \"Café\") AND (\"日本\"* OR \"日本\") AND (\"x2\"* OR \"x2\")");
	/* The words, for highlights. */
	struct mx_search_terms t;
	assert_int_equal(mx_store_search_parse(&a, "\"a-b\" c!", 5, MX_SEARCH_ALL_KEYS, &t), 0);
	assert_int_equal(t.n_words, 2);
	assert_string_equal(t.words[0], "a");
	assert_string_equal(t.words[1], "b");
	mx_arena_release(&a);
}

/* Query syntax in the term is text: nothing of it reaches FTS5 unquoted. */
static void test_parse_hostile(void **state)
{
	(void)state;
	struct mx_arena a;
	mx_arena_init(&a);
	assert_null(parse(&a, "", MX_SEARCH_ALL_KEYS));
	assert_null(parse(&a, "   ", MX_SEARCH_ALL_KEYS));
	assert_null(parse(&a, "!!! ... \"\" \"*\" ()", MX_SEARCH_ALL_KEYS));
	assert_null(parse(&a, "\xcc\x81", MX_SEARCH_ALL_KEYS)); /* a lone combining accent */
	assert_string_equal(parse(&a, "NEAR(a b, 2)", MX_SEARCH_ALL_KEYS),
			    "(\"NEAR a\"* OR \"NEAR a\") AND (\"b\"* OR \"b\") AND (\"2\"* OR \"2\")");
	assert_string_equal(parse(&a, "a OR b", MX_SEARCH_ALL_KEYS),
			    "(\"a\"* OR \"a\") AND (\"OR\"* OR \"OR\") AND (\"b\"* OR \"b\")");
	assert_string_equal(parse(&a, "body:x ^y z*", MX_SEARCH_ALL_KEYS),
			    "(\"body x\"* OR \"body x\") AND (\"y\"* OR \"y\") AND (\"z\"* OR \"z\")");
	assert_string_equal(parse(&a, "{body} : \"x\"\"y\"", MX_SEARCH_ALL_KEYS),
			    "(\"body\"* OR \"body\") AND \"x\" AND \"y\"");

	struct mx_search_terms t;
	char big[MX_SEARCH_TERM_MAX + 2];
	memset(big, 'a', sizeof(big));
	assert_int_equal(mx_store_search_parse(&a, big, MX_SEARCH_TERM_MAX, 7, &t), 0);
	assert_non_null(t.match);
	assert_int_equal(mx_store_search_parse(&a, big, MX_SEARCH_TERM_MAX + 1, 7, &t), MX_ETOOLARGE);
	/* Words: at most MX_SEARCH_WORDS_MAX (punctuation-only ones do not count),
	 * inside quotes too. */
	char many[4 * (MX_SEARCH_WORDS_MAX + 1) + 1];
	size_t n = 0;
	for (int i = 0; i < MX_SEARCH_WORDS_MAX; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, "w ! ");
	assert_int_equal(mx_store_search_parse(&a, many, n, 7, &t), 0);
	n += (size_t)snprintf(many + n, sizeof(many) - n, "w");
	assert_int_equal(mx_store_search_parse(&a, many, n, 7, &t), MX_ETOOLARGE);
	char quoted[sizeof(many) + 2];
	int qn = snprintf(quoted, sizeof(quoted), "\"%s\"", many);
	assert_int_equal(mx_store_search_parse(&a, quoted, (size_t)qn, 7, &t), MX_ETOOLARGE);
	assert_int_equal(mx_store_search_parse(&a, "\"a-b-c-d\"", 9, 7, &t), 0);
	assert_int_equal(t.n_words, 4);
	/* Not UTF-8. */
	assert_int_equal(mx_store_search_parse(&a, "ab\xff", 3, 7, &t), MX_EINVALID);
	assert_int_equal(mx_store_search_parse(&a, "\"\xc3", 2, 7, &t), MX_EINVALID);
	/* An embedded NUL is a separator, not the end. */
	assert_int_equal(mx_store_search_parse(&a, "a\0b", 3, 7, &t), 0);
	assert_int_equal(t.n_words, 2);
	mx_arena_release(&a);
}

/* ---- the index ---- */

struct fixture {
	struct mx_test_db t;
	int n;
	const char *rooms[8];
	int n_rooms;
};

static int setup(void **state)
{
	struct fixture *f = mx_xcalloc(1, sizeof(*f));
	if (mx_test_db_open(&f->t, "search"))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	/* Every test leaves an index that agrees with its events. */
	int rc = mx_store_search_check(f->t.db);
	mx_test_db_close(&f->t);
	free(f);
	assert_int_equal(rc, 0);
	return 0;
}

/* Persist one event with content (JSON text); returns its nid. */
static int64_t put_full(struct fixture *f, const char *room, const char *id, const char *type,
			const char *state_key, const char *sender, const char *content,
			const char *redacts)
{
	bool exists = false;
	for (int i = 0; i < f->n_rooms; i++)
		exists = exists || !strcmp(f->rooms[i], room);
	char *json = mx_xasprintf("{\"content\":%s,\"type\":\"%s\"}", content, type);
	f->n++;
	struct mx_persist_event e = {
		.event_id = id, .room_id = room, .type = type, .state_key = state_key,
		.sender = sender, .depth = f->n, .origin_server_ts = 1000 + f->n, .json = json,
		.redacts = redacts, .new_room_version = exists ? NULL : "10",
		.new_room_creator = exists ? NULL : sender,
	};
	if (!exists && f->n_rooms < 8)
		f->rooms[f->n_rooms++] = room;
	assert_int_equal(mx_store_events_persist(f->t.db, &e, 1), 0);
	free(json);
	return e.nid;
}

static int64_t msg(struct fixture *f, const char *room, const char *id, const char *sender,
		   const char *body)
{
	json_t *c = json_pack("{s:s, s:s}", "msgtype", "m.text", "body", body);
	char *s = json_dumps(c, JSON_COMPACT);
	int64_t nid = put_full(f, room, id, "m.room.message", NULL, sender, s, NULL);
	free(s);
	json_decref(c);
	return nid;
}

struct hits {
	const char *ids[32];
	int64_t ranks[32];
	int n;
};

static int hits_cb(void *ctx, const struct mx_store_event *ev, int64_t rank)
{
	struct hits *h = ctx;
	if (h->n < 32) {
		h->ids[h->n] = ev->event_id;
		h->ranks[h->n] = rank;
		h->n++;
	}
	return 0;
}

static const struct mx_search_room R1[] = {{"!r:x", INT64_MAX}};
static const struct mx_search_room R12[] = {{"!r:x", INT64_MAX}, {"!s:x", INT64_MAX}};

/* Search term in rooms, by recency unless by_rank; the ids found. */
static struct hits find(struct fixture *f, const char *term, unsigned keys,
			const struct mx_search_room *rooms, size_t n_rooms, bool by_rank)
{
	struct mx_search_terms t;
	assert_int_equal(mx_store_search_parse(&f->t.a, term, strlen(term), keys, &t), 0);
	struct mx_search_params p = {.match = t.match, .rooms = rooms, .n_rooms = n_rooms,
				     .by_rank = by_rank};
	struct hits h = {0};
	int rc = mx_store_search(f->t.rc, &f->t.a, &p, 32, hits_cb, &h);
	assert_true(rc >= 0);
	assert_int_equal(rc, h.n);
	int64_t count;
	assert_int_equal(mx_store_search_count(f->t.rc, &p, &count), 0);
	assert_int_equal(count, h.n);
	return h;
}

static void expect(const struct hits *h, const char *const *want, int n)
{
	assert_int_equal(h->n, n);
	for (int i = 0; i < n; i++)
		assert_string_equal(h->ids[i], want[i]);
}

#define EXPECT(h, ...)                                                                 \
	expect(&(h), (const char *const[]){__VA_ARGS__},                               \
	       (int)(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)))

/* SPEC: client-server-api#server-side-search: the keys, and what is indexed. */
static void test_index(void **state)
{
	struct fixture *f = *state;
	const char *R = "!r:x";
	put_full(f, R, "$create", "m.room.create", "", "@a:x", "{\"creator\":\"@a:x\"}", NULL);
	msg(f, R, "$m1", "@a:x", "Un café à Paris");
	msg(f, R, "$m2", "@b:x", "cafe au lait with the martians");
	put_full(f, R, "$name", "m.room.name", "", "@a:x", "{\"name\":\"Martian Café Club\"}", NULL);
	put_full(f, R, "$topic", "m.room.topic", "", "@a:x", "{\"topic\":\"Talk about martians\"}",
		 NULL);
	put_full(f, R, "$mtopic", "m.room.topic", "", "@a:x",
		 "{\"topic\":\"\",\"m.topic\":{\"m.text\":[{\"mimetype\":\"text/html\","
		 "\"body\":\"<b>rich</b>\"},{\"body\":\"plainly venusians\"}]}}",
		 NULL);
	put_full(f, R, "$enc", "m.room.encrypted", NULL, "@a:x",
		 "{\"algorithm\":\"m.megolm.v1.aes-sha2\",\"ciphertext\":\"martians\"}", NULL);
	put_full(f, R, "$other", "org.example.note", NULL, "@a:x", "{\"body\":\"martians\"}", NULL);
	put_full(f, R, "$statemsg", "m.room.message", "k", "@a:x", "{\"body\":\"martians\"}", NULL);
	put_full(f, R, "$numbody", "m.room.message", NULL, "@a:x", "{\"body\":42}", NULL);

	/* "cafe" finds "café" and the reverse; the words start a word. */
	struct hits h = find(f, "cafe", MX_SEARCH_ALL_KEYS, R1, 1, false);
	EXPECT(h, "$name", "$m2", "$m1");
	h = find(f, "CAFÉ", MX_SEARCH_ALL_KEYS, R1, 1, false);
	EXPECT(h, "$name", "$m2", "$m1");
	h = find(f, "martian", MX_SEARCH_ALL_KEYS, R1, 1, false);
	EXPECT(h, "$topic", "$name", "$m2");
	h = find(f, "martian", MX_SEARCH_BODY, R1, 1, false);
	EXPECT(h, "$m2");
	h = find(f, "martian", MX_SEARCH_NAME | MX_SEARCH_TOPIC, R1, 1, false);
	EXPECT(h, "$topic", "$name");
	h = find(f, "venusians", MX_SEARCH_TOPIC, R1, 1, false);
	EXPECT(h, "$mtopic");
	h = find(f, "rich", MX_SEARCH_ALL_KEYS, R1, 1, false);
	assert_int_equal(h.n, 0); /* only the text/plain form */
	/* All words are needed; a phrase needs them in order. */
	h = find(f, "cafe paris", MX_SEARCH_ALL_KEYS, R1, 1, false);
	EXPECT(h, "$m1");
	h = find(f, "\"paris cafe\"", MX_SEARCH_ALL_KEYS, R1, 1, false);
	assert_int_equal(h.n, 0);
	h = find(f, "\"au lait\"", MX_SEARCH_ALL_KEYS, R1, 1, false);
	EXPECT(h, "$m2");
	/* Syntax is text: these find nothing, and fail nothing. */
	const char *hostile[] = {"NEAR(cafe paris)", "cafe OR nothing", "cafe NOT paris", "*",
				 "\"", "(((", "body:cafe", "^cafe", "-cafe +x", "cafe AND \"\""};
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		struct mx_search_terms t;
		assert_int_equal(mx_store_search_parse(&f->t.a, hostile[i], strlen(hostile[i]), 7, &t), 0);
		struct mx_search_params p = {.match = t.match, .rooms = R1, .n_rooms = 1};
		struct hits hh = {0};
		assert_true(mx_store_search(f->t.rc, &f->t.a, &p, 32, hits_cb, &hh) >= 0);
	}
	h = find(f, "-cafe", MX_SEARCH_ALL_KEYS, R1, 1, false); /* not a negation */
	assert_int_equal(h.n, 3);
}

static void test_rooms_and_senders(void **state)
{
	struct fixture *f = *state;
	msg(f, "!r:x", "$r1", "@a:x", "apple one");
	int64_t r2 = msg(f, "!r:x", "$r2", "@b:x", "apple two");
	msg(f, "!s:x", "$s1", "@a:x", "apple three");
	msg(f, "!t:x", "$t1", "@a:x", "apple four");
	msg(f, "!r:x", "$r3", "@c:x", "apple five");

	struct hits h = find(f, "apple", MX_SEARCH_ALL_KEYS, R1, 1, false);
	EXPECT(h, "$r3", "$r2", "$r1");
	h = find(f, "apple", MX_SEARCH_ALL_KEYS, R12, 2, false);
	EXPECT(h, "$r3", "$s1", "$r2", "$r1");
	/* A room left: up to the leave. */
	const struct mx_search_room bounded[] = {{"!r:x", r2}, {"!s:x", INT64_MAX}};
	h = find(f, "apple", MX_SEARCH_ALL_KEYS, bounded, 2, false);
	EXPECT(h, "$s1", "$r2", "$r1");
	/* No rooms: nothing. */
	h = find(f, "apple", MX_SEARCH_ALL_KEYS, NULL, 0, false);
	assert_int_equal(h.n, 0);

	struct mx_search_terms t;
	assert_int_equal(mx_store_search_parse(&f->t.a, "apple", 5, 7, &t), 0);
	const char *only[] = {"@a:x", "@c:x"}, *not[] = {"@a:x"};
	struct mx_search_params p = {.match = t.match, .rooms = R12, .n_rooms = 2,
				     .senders = only, .n_senders = 2};
	h = (struct hits){0};
	assert_int_equal(mx_store_search(f->t.rc, &f->t.a, &p, 32, hits_cb, &h), 3);
	EXPECT(h, "$r3", "$s1", "$r1");
	p.senders = NULL;
	p.not_senders = not;
	p.n_not_senders = 1;
	h = (struct hits){0};
	assert_int_equal(mx_store_search(f->t.rc, &f->t.a, &p, 32, hits_cb, &h), 2);
	EXPECT(h, "$r3", "$r2");
	int64_t count;
	assert_int_equal(mx_store_search_count(f->t.rc, &p, &count), 0);
	assert_int_equal(count, 2);
}

/* Walk an order page by page from positions; every hit once, in order. */
static void walk(struct fixture *f, const char *term, bool by_rank, int page, const char *const *want,
		 int n_want)
{
	struct mx_search_terms t;
	assert_int_equal(mx_store_search_parse(&f->t.a, term, strlen(term), 7, &t), 0);
	struct mx_search_params p = {.match = t.match, .rooms = R1, .n_rooms = 1, .by_rank = by_rank};
	int seen = 0;
	for (int round = 0; round < 100; round++) {
		struct hits h = {0};
		int rc = mx_store_search(f->t.rc, &f->t.a, &p, page, hits_cb, &h);
		assert_true(rc >= 0);
		for (int i = 0; i < h.n; i++) {
			assert_true(seen < n_want);
			assert_string_equal(h.ids[i], want[seen]);
			seen++;
		}
		if (h.n < page)
			break;
		struct mx_store_event ev;
		assert_int_equal(mx_store_event_get(f->t.rc, &f->t.a, h.ids[h.n - 1], &ev), 0);
		p.has_after = true;
		p.after_nid = ev.nid;
		p.after_rank = h.ranks[h.n - 1];
	}
	assert_int_equal(seen, n_want);
}

static void test_orders(void **state)
{
	struct fixture *f = *state;
	const char *R = "!r:x";
	msg(f, R, "$1", "@a:x", "a long message that mentions pear only once among many other words here");
	msg(f, R, "$2", "@a:x", "pear pear pear");
	msg(f, R, "$3", "@a:x", "pears are not pear");
	msg(f, R, "$4", "@a:x", "pearl");
	msg(f, R, "$5", "@a:x", "nothing");
	msg(f, R, "$6", "@a:x", "pear");
	msg(f, R, "$7", "@a:x", "pear");

	struct hits h = find(f, "pear", MX_SEARCH_ALL_KEYS, R1, 1, true);
	assert_int_equal(h.n, 6);
	for (int i = 1; i < h.n; i++)
		assert_true(h.ranks[i - 1] >= h.ranks[i]);
	assert_true(h.ranks[h.n - 1] > 0);
	assert_true(mx_store_search_rank(h.ranks[0]) > 0);
	/* More mentions in fewer words rank higher; an exact word above a prefix. */
	assert_string_equal(h.ids[0], "$2");
	assert_string_equal(h.ids[h.n - 1], "$1");
	int64_t r4 = 0, r6 = 0;
	for (int i = 0; i < h.n; i++) {
		if (!strcmp(h.ids[i], "$4"))
			r4 = h.ranks[i];
		if (!strcmp(h.ids[i], "$6"))
			r6 = h.ranks[i];
	}
	assert_true(r6 > r4 && r4 > 0);
	/* Equal ranks: the newest first. */
	assert_int_equal(h.ranks[1], h.ranks[2]);
	assert_string_equal(h.ids[1], "$7");
	assert_string_equal(h.ids[2], "$6");

	const char *recent[] = {"$7", "$6", "$4", "$3", "$2", "$1"};
	for (int page = 1; page <= 7; page++) {
		walk(f, "pear", false, page, recent, 6);
		walk(f, "pear", true, page, h.ids, 6);
	}
	/* upto: only what existed when the first page was read. */
	struct mx_search_terms t;
	assert_int_equal(mx_store_search_parse(&f->t.a, "pear", 4, 7, &t), 0);
	struct mx_store_event e6;
	assert_int_equal(mx_store_event_get(f->t.rc, &f->t.a, "$6", &e6), 0);
	struct mx_search_params p = {.match = t.match, .rooms = R1, .n_rooms = 1, .upto = e6.nid};
	h = (struct hits){0};
	assert_int_equal(mx_store_search(f->t.rc, &f->t.a, &p, 32, hits_cb, &h), 5);
	assert_string_equal(h.ids[0], "$6");
}

static void test_redaction(void **state)
{
	struct fixture *f = *state;
	const char *R = "!r:x";
	msg(f, R, "$keep", "@a:x", "secret plans");
	msg(f, R, "$gone", "@a:x", "secret codes");
	put_full(f, R, "$n", "m.room.name", "", "@a:x", "{\"name\":\"secret room\"}", NULL);
	struct hits h = find(f, "secret", MX_SEARCH_ALL_KEYS, R1, 1, false);
	assert_int_equal(h.n, 3);
	put_full(f, R, "$red1", "m.room.redaction", NULL, "@a:x", "{}", "$gone");
	put_full(f, R, "$red2", "m.room.redaction", NULL, "@a:x", "{}", "$n");
	h = find(f, "secret", MX_SEARCH_ALL_KEYS, R1, 1, false);
	EXPECT(h, "$keep");
	h = find(f, "codes", MX_SEARCH_ALL_KEYS, R1, 1, false);
	assert_int_equal(h.n, 0);
	/* Twice, of something never indexed, of an unknown event, in another room: no harm. */
	put_full(f, R, "$red3", "m.room.redaction", NULL, "@a:x", "{}", "$gone");
	put_full(f, R, "$red4", "m.room.redaction", NULL, "@a:x", "{}", "$red1");
	put_full(f, R, "$red5", "m.room.redaction", NULL, "@a:x", "{}", "$unknown");
	put_full(f, "!s:x", "$red6", "m.room.redaction", NULL, "@a:x", "{}", "$keep");
	h = find(f, "secret", MX_SEARCH_ALL_KEYS, R1, 1, false);
	EXPECT(h, "$keep");
	assert_int_equal(mx_store_search_check(f->t.db), 0);
}

/* Highlights: the forms of the words found, as the text writes them. */
static void test_highlights(void **state)
{
	(void)state;
	struct mx_arena a;
	mx_arena_init(&a);
	struct mx_search_terms t;
	const char *term = "CAFE mart \"e mail\" x";
	assert_int_equal(mx_store_search_parse(&a, term, strlen(term), 7, &t), 0);
	assert_int_equal(t.n_words, 5);
	assert_string_equal(t.folded[0], "cafe");
	assert_false(t.exact[1]);
	assert_true(t.exact[2]);
	const char **words = NULL;
	size_t n = 0;
	mx_store_search_highlights(&a, &t, "Le Café des Martiens, e-mail me: email, X-ray, xylophone, "
				   "Café again, mar", &words, &n, 10);
	assert_int_equal(n, 6);
	assert_string_equal(words[0], "Café");
	assert_string_equal(words[1], "Martiens");
	assert_string_equal(words[2], "e");
	assert_string_equal(words[3], "mail");
	assert_string_equal(words[4], "X"); /* not "me", "email" (exact words) nor "mar" (short) */
	assert_string_equal(words[5], "xylophone");
	/* At most max; none from a NULL text. */
	mx_store_search_highlights(&a, &t, "xa xb xc xd xe", &words, &n, 8);
	assert_int_equal(n, 8);
	mx_store_search_highlights(&a, &t, NULL, &words, &n, 20);
	assert_int_equal(n, 8);
	mx_arena_release(&a);
}

/* A row whose text changed under the index: the check sees it; a rebuild repairs. */
static int tamper_job(struct mx_db_conn *c, void *arg)
{
	(void)arg;
	return mx_db_exec(c, "UPDATE events SET json = '{\"content\":{\"body\":\"other words\"}}'"
			     " WHERE event_id = '$a'");
}

static int repair_job(struct mx_db_conn *c, void *arg)
{
	(void)arg;
	return mx_db_exec(c, "INSERT INTO event_search (event_search) VALUES ('rebuild')");
}

static void test_check(void **state)
{
	struct fixture *f = *state;
	msg(f, "!r:x", "$a", "@a:x", "some words");
	put_full(f, "!r:x", "$t", "m.room.topic", "", "@a:x",
		 "{\"m.topic\":{\"m.text\":[{\"mimetype\":\"text/html\",\"body\":\"<p>x</p>\"},"
		 "{\"body\":\"plain\"}]}}",
		 NULL);
	assert_int_equal(mx_store_search_check(f->t.db), 0);
	assert_int_equal(mx_db_write(f->t.db, tamper_job, NULL), 0);
	assert_int_equal(mx_store_search_check(f->t.db), MX_EDB);
	assert_int_equal(mx_db_write(f->t.db, repair_job, NULL), 0);
	assert_int_equal(mx_store_search_check(f->t.db), 0);
	struct hits h = find(f, "other", MX_SEARCH_ALL_KEYS, R1, 1, false);
	EXPECT(h, "$a");
	h = find(f, "plain", MX_SEARCH_TOPIC, R1, 1, false);
	EXPECT(h, "$t");
}

static int rebuild_job(struct mx_db_conn *c, void *arg)
{
	const char *sql = arg;
	int rc = mx_db_exec(c, "DROP TABLE event_search; DROP VIEW event_search_content;");
	return rc ? rc : mx_db_exec(c, sql);
}

/* An upgrade: the migration indexes the events already stored. */
static void test_migration(void **state)
{
	struct fixture *f = *state;
	msg(f, "!r:x", "$old1", "@a:x", "ancient history");
	put_full(f, "!r:x", "$oldname", "m.room.name", "", "@a:x", "{\"name\":\"History Room\"}", NULL);
	msg(f, "!r:x", "$old2", "@a:x", "history redacted");
	put_full(f, "!r:x", "$red", "m.room.redaction", NULL, "@a:x", "{}", "$old2");
	const char *sql = NULL;
	for (int i = 0; i < mx_db_migrations_count; i++)
		if (!strcmp(mx_db_migrations[i].name, "search"))
			sql = mx_db_migrations[i].sql;
	assert_non_null(sql);
	assert_int_equal(mx_db_write(f->t.db, rebuild_job, (void *)sql), 0);
	struct hits h = find(f, "history", MX_SEARCH_ALL_KEYS, R1, 1, false);
	EXPECT(h, "$oldname", "$old1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_words),
		cmocka_unit_test(test_parse_hostile),
		cmocka_unit_test_setup_teardown(test_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rooms_and_senders, setup, teardown),
		cmocka_unit_test_setup_teardown(test_orders, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redaction, setup, teardown),
		cmocka_unit_test(test_highlights),
		cmocka_unit_test_setup_teardown(test_migration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
