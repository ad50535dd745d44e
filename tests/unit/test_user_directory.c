/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for store/user_directory: the folding that makes searches
 * case- and accent-insensitive, and searches against a temporary SQLite
 * database whose rooms and memberships are written directly as rows
 * (visibility through shared and public rooms, deactivated users, remote
 * members' names from their join events, ranking, limit and limited).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testdb.h"
#include <dirent.h>

#include "core/arena.h"
#include "core/error.h"
#include "core/mem.h"
#include "db/db.h"
#include "store/user_directory.h"

/* ---- folding ---- */

static char *fold(const char *s)
{
	char *out = NULL;
	assert_int_equal(mx_store_user_directory_fold(s, strlen(s), &out), 0);
	assert_non_null(out);
	return out;
}

#define assert_folds(in, want)                  \
	do {                                    \
		char *got_ = fold(in);          \
		assert_string_equal(got_, want); \
		free(got_);                     \
	} while (0)

static void test_fold_accents_and_case(void **state)
{
	(void)state;
	assert_folds("José", "jose");
	assert_folds("jose", "jose");
	assert_folds("ÉMILE", "emile");
	assert_folds("émile", "emile");
	/* The same letter precomposed (U+00E9) and decomposed (e + U+0301). */
	assert_folds("Jos\xc3\xa9", "jose");
	assert_folds("Jose\xcc\x81", "jose");
	assert_folds("Zoë Brontë", "zoe bronte");
	assert_folds("Ångström", "angstrom");
	assert_folds("ÇA ÑANDÚ", "ca nandu");
	assert_folds("İstanbul", "istanbul");
}

/* German sharp s: full case folding turns ß and capital ẞ into "ss". */
static void test_fold_sharp_s(void **state)
{
	(void)state;
	assert_folds("Straße", "strasse");
	assert_folds("STRASSE", "strasse");
	assert_folds("STRAẞE", "strasse");
	assert_folds("Weiß", "weiss");
}

/* Compatibility forms (NFKD) and letters Unicode does not decompose. */
static void test_fold_compat_and_strokes(void **state)
{
	(void)state;
	assert_folds("Ａｌｉｃｅ", "alice"); /* fullwidth */
	assert_folds("ﬁnn", "finn");         /* ligature */
	assert_folds("Ⅻ", "xii");
	assert_folds("Søren Łukasz Đorđe", "soren lukasz dorde");
	assert_folds("Æsir Œuvre", "aesir oeuvre");
	/* Default-ignorable characters vanish inside a word. */
	assert_folds("jo\xe2\x80\x8dse", "jose");       /* zero-width joiner */
	assert_folds("jo\xc2\xad" "se", "jose");        /* soft hyphen */
}

static void test_fold_words(void **state)
{
	(void)state;
	assert_folds("", "");
	assert_folds("!!! ...", "");
	assert_folds("  Jean-Luc   Picard ", "jean luc picard");
	assert_folds("@alice.smith:example.org", "alice smith example org");
	assert_folds("under_score", "under score");
	assert_folds("日本語 テスト", "日本語 テスト");
	assert_folds("R2-D2", "r2 d2");
}

static void test_fold_invalid_and_long(void **state)
{
	(void)state;
	char *out = (char *)1;
	assert_int_equal(mx_store_user_directory_fold("\xff\xfe", 2, &out), MX_EINVALID);
	assert_null(out);
	assert_int_equal(mx_store_user_directory_fold("ab\xc3", 3, &out), MX_EINVALID);

	/* Longer than the limit: cut at a character boundary, still valid. */
	size_t n = 3000;
	char *big = mx_xmalloc(n * 2 + 1);
	for (size_t i = 0; i < n; i++)
		memcpy(big + 2 * i, "\xc3\xa9", 2); /* é */
	big[n * 2] = '\0';
	assert_int_equal(mx_store_user_directory_fold(big, n * 2, &out), 0);
	assert_int_equal(strlen(out), MX_USER_DIRECTORY_TEXT_MAX / 2);
	for (size_t i = 0; out[i]; i++)
		assert_int_equal(out[i], 'e');
	free(out);
	free(big);
	/* "x" then é...: the limit falls inside an é, the cut moves back. */
	big = mx_xmalloc(n * 2 + 2);
	big[0] = 'X';
	for (size_t i = 0; i < n; i++)
		memcpy(big + 1 + 2 * i, "\xc3\xa9", 2);
	big[n * 2 + 1] = '\0';
	assert_int_equal(mx_store_user_directory_fold(big, n * 2 + 1, &out), 0);
	assert_int_equal(strlen(out), 1 + (MX_USER_DIRECTORY_TEXT_MAX - 1) / 2);
	assert_int_equal(out[0], 'x');
	free(out);
	free(big);
}

/* ---- searches ---- */

struct fixture {
	struct mx_test_db t;
};

static int setup(void **state)
{
	struct fixture *f = mx_xcalloc(1, sizeof(*f));
	if (mx_test_db_open(&f->t, "userdir"))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	mx_test_db_close(&f->t);
	free(f);
	return 0;
}

static int exec_job(struct mx_db_conn *c, void *arg)
{
	return mx_db_exec(c, arg);
}

/* Run a script of SQL on the writer (the test builds its world as rows). */
static void sql(struct fixture *f, const char *script)
{
	assert_int_equal(mx_db_write(f->t.db, exec_job, (void *)script), 0);
}

static void add_user(struct fixture *f, const char *localpart, const char *displayname,
		     bool deactivated)
{
	char *s = mx_xasprintf("INSERT INTO users (user_id, created_ts, deactivated, displayname)"
			       " VALUES ('@%s:example.org', 0, %d, %s%s%s)",
			       localpart, deactivated ? 1 : 0, displayname ? "'" : "",
			       displayname ? displayname : "NULL", displayname ? "'" : "");
	sql(f, s);
	free(s);
}

static int64_t next_nid = 1;

/* A state event row with its current_state entry. */
static void add_state(struct fixture *f, const char *room, const char *type, const char *key,
		      const char *membership, const char *content)
{
	int64_t nid = next_nid++;
	char *s = mx_xasprintf(
		"INSERT INTO events (nid, event_id, room_id, type, state_key, sender, depth,"
		" origin_server_ts, json) VALUES (%lld, '$e%lld', '%s', '%s', '%s', '@x:example.org',"
		" %lld, 0, '{\"type\":\"%s\",\"state_key\":\"%s\",\"content\":%s}');"
		"INSERT INTO current_state (room_id, type, state_key, event_nid, membership)"
		" VALUES ('%s', '%s', '%s', %lld, %s%s%s)"
		" ON CONFLICT (room_id, type, state_key) DO UPDATE SET event_nid = excluded.event_nid,"
		" membership = excluded.membership",
		(long long)nid, (long long)nid, room, type, key, (long long)nid, type, key, content,
		room, type, key, (long long)nid, membership ? "'" : "", membership ? membership : "NULL",
		membership ? "'" : "");
	sql(f, s);
	free(s);
}

static void add_room(struct fixture *f, const char *room, bool published)
{
	char *s = mx_xasprintf("INSERT INTO rooms (room_id, room_version, created_ts, published)"
			       " VALUES ('%s', '10', 0, %d)",
			       room, published ? 1 : 0);
	sql(f, s);
	free(s);
}

static void join(struct fixture *f, const char *room, const char *user, const char *content)
{
	add_state(f, room, "m.room.member", user, "join",
		  content ? content : "{\"membership\":\"join\"}");
}

struct result {
	struct mx_store_user_directory_hit *hits;
	size_t n;
	bool limited;
};

static struct result search(struct fixture *f, const char *searcher, const char *term, int limit)
{
	struct result r;
	assert_int_equal(mx_store_user_directory_search(f->t.rc, &f->t.a, searcher, term, strlen(term),
							 limit, &r.hits, &r.n, &r.limited),
			 0);
	return r;
}

static bool found(struct result r, const char *user_id)
{
	for (size_t i = 0; i < r.n; i++)
		if (!strcmp(r.hits[i].user_id, user_id))
			return true;
	return false;
}

#define ALICE "@alice:example.org"
#define BOB "@bob:example.org"
#define CAROL "@carol:example.org"
#define DAVE "@dave:example.org"
#define EVE "@eve:example.org"
#define MALLORY "@mallory:example.org"
#define FRANK "@frank:remote.test"

/*
 * alice, bob, carol and dave (deactivated) share !private; eve is alone in
 * !public (join rule public); frank (remote) shares !fed with alice;
 * mallory is in !other with nobody else.
 */
static void build_world(struct fixture *f)
{
	add_user(f, "alice", "José Müller", false);
	add_user(f, "bob", "ÉMILE Zola", false);
	add_user(f, "carol", "Straße", false);
	add_user(f, "dave", "Dave", true);
	add_user(f, "eve", "Eve Öffentlich", false);
	add_user(f, "mallory", "Mallory", false);
	add_room(f, "!private:example.org", false);
	add_room(f, "!public:example.org", false);
	add_room(f, "!fed:example.org", false);
	add_room(f, "!other:example.org", false);
	add_state(f, "!private:example.org", "m.room.join_rules", "", NULL,
		  "{\"join_rule\":\"invite\"}");
	add_state(f, "!public:example.org", "m.room.join_rules", "", NULL,
		  "{\"join_rule\":\"public\"}");
	join(f, "!private:example.org", ALICE, NULL);
	join(f, "!private:example.org", BOB, NULL);
	join(f, "!private:example.org", CAROL, NULL);
	join(f, "!private:example.org", DAVE, NULL);
	join(f, "!public:example.org", EVE, NULL);
	join(f, "!fed:example.org", ALICE, NULL);
	join(f, "!fed:example.org", FRANK,
	     "{\"membership\":\"join\",\"displayname\":\"François Ærø\","
	     "\"avatar_url\":\"mxc://remote.test/abc\"}");
	join(f, "!other:example.org", MALLORY, NULL);
	assert_int_equal(mx_store_user_directory_populate(f->t.db), 0);
}

static void test_search_visibility(void **state)
{
	struct fixture *f = *state;
	build_world(f);

	/* Shared room, accents and case folded both ways. */
	struct result r = search(f, BOB, "jose", 10);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.hits[0].user_id, ALICE);
	assert_string_equal(r.hits[0].display_name, "José Müller");
	assert_null(r.hits[0].avatar_url);
	assert_false(r.limited);
	assert_true(found(search(f, BOB, "MÜLLER", 10), ALICE));
	assert_true(found(search(f, ALICE, "emile", 10), BOB));
	assert_true(found(search(f, ALICE, "Émile zo", 10), BOB));
	assert_true(found(search(f, ALICE, "strasse", 10), CAROL));
	assert_true(found(search(f, ALICE, "STRAẞE", 10), CAROL));
	/* By localpart and by pasted user id. */
	assert_true(found(search(f, ALICE, "car", 10), CAROL));
	assert_true(found(search(f, ALICE, CAROL, 10), CAROL));

	/* Every word must start a word of the entry. */
	assert_int_equal(search(f, ALICE, "emile xyz", 10).n, 0);
	assert_int_equal(search(f, ALICE, "mile", 10).n, 0);

	/* Deactivated users are never found. */
	assert_int_equal(search(f, ALICE, "dave", 10).n, 0);
	/* A user in a public room is found by anyone, even one in no room. */
	assert_true(found(search(f, ALICE, "offentlich", 10), EVE));
	assert_true(found(search(f, MALLORY, "eve", 10), EVE));
	/* No shared room, no public room: not found. */
	assert_int_equal(search(f, ALICE, "mallory", 10).n, 0);
	assert_int_equal(search(f, MALLORY, "alice", 10).n, 0);
	/* The searcher is not among the users sharing their private rooms. */
	assert_int_equal(search(f, ALICE, "alice", 10).n, 0);

	/* A remote member's name and avatar come from their join event. */
	r = search(f, ALICE, "francois aero", 10);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.hits[0].user_id, FRANK);
	assert_string_equal(r.hits[0].display_name, "François Ærø");
	assert_string_equal(r.hits[0].avatar_url, "mxc://remote.test/abc");
	assert_int_equal(search(f, BOB, "francois", 10).n, 0);

	/* Terms without letters or digits match nobody; LIKE wildcards are literal. */
	assert_int_equal(search(f, ALICE, "", 10).n, 0);
	assert_int_equal(search(f, ALICE, "%", 10).n, 0);
	assert_int_equal(search(f, ALICE, "_", 10).n, 0);
	size_t n;
	bool limited;
	struct mx_store_user_directory_hit *hits;
	assert_int_equal(mx_store_user_directory_search(f->t.rc, &f->t.a, ALICE, "\xff", 1, 10, &hits,
							 &n, &limited),
			 MX_EINVALID);
}

static void test_search_public_changes(void **state)
{
	struct fixture *f = *state;
	build_world(f);
	assert_int_equal(search(f, ALICE, "mallory", 10).n, 0);

	/* Published in the room directory: its members become visible. */
	sql(f, "UPDATE rooms SET published = 1 WHERE room_id = '!other:example.org'");
	assert_true(found(search(f, ALICE, "mallory", 10), MALLORY));
	sql(f, "UPDATE rooms SET published = 0 WHERE room_id = '!other:example.org'");
	assert_int_equal(search(f, ALICE, "mallory", 10).n, 0);

	/* History visibility world_readable, then back to shared. */
	add_state(f, "!other:example.org", "m.room.history_visibility", "", NULL,
		  "{\"history_visibility\":\"world_readable\"}");
	assert_int_equal(mx_store_user_directory_refresh_room(f->t.db, "!other:example.org"), 0);
	assert_true(found(search(f, ALICE, "mallory", 10), MALLORY));
	add_state(f, "!other:example.org", "m.room.history_visibility", "", NULL,
		  "{\"history_visibility\":\"shared\"}");
	assert_int_equal(mx_store_user_directory_refresh_room(f->t.db, "!other:example.org"), 0);
	assert_int_equal(search(f, ALICE, "mallory", 10).n, 0);

	/* The public room turns invite-only: eve is no longer found by mallory. */
	add_state(f, "!public:example.org", "m.room.join_rules", "", NULL,
		  "{\"join_rule\":\"invite\"}");
	assert_int_equal(mx_store_user_directory_refresh_room(f->t.db, "!public:example.org"), 0);
	assert_int_equal(search(f, MALLORY, "eve", 10).n, 0);

	/* Leaving the shared room: bob no longer finds alice. */
	add_state(f, "!private:example.org", "m.room.member", BOB, "leave",
		  "{\"membership\":\"leave\"}");
	assert_int_equal(search(f, BOB, "jose", 10).n, 0);
}

static void test_search_profile_changes(void **state)
{
	struct fixture *f = *state;
	build_world(f);
	sql(f, "UPDATE users SET displayname = 'Zoë Ångström', avatar_url = 'mxc://example.org/x'"
	       " WHERE user_id = '@alice:example.org'");
	/* Not refreshed yet: the old name still matches. */
	assert_true(found(search(f, BOB, "jose", 10), ALICE));
	assert_int_equal(mx_store_user_directory_refresh_user(f->t.db, ALICE, NULL), 0);
	assert_int_equal(search(f, BOB, "jose", 10).n, 0);
	struct result r = search(f, BOB, "zoe angstrom", 10);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.hits[0].display_name, "Zoë Ångström");
	assert_string_equal(r.hits[0].avatar_url, "mxc://example.org/x");

	/* No display name: found by localpart only, no display_name returned. */
	sql(f, "UPDATE users SET displayname = NULL WHERE user_id = '@alice:example.org'");
	assert_int_equal(mx_store_user_directory_refresh_user(f->t.db, ALICE, NULL), 0);
	assert_int_equal(search(f, BOB, "zoe", 10).n, 0);
	r = search(f, BOB, "alice", 10);
	assert_int_equal(r.n, 1);
	assert_null(r.hits[0].display_name);

	/* Deactivation removes the entry. */
	sql(f, "UPDATE users SET deactivated = 1 WHERE user_id = '@alice:example.org'");
	assert_int_equal(mx_store_user_directory_refresh_user(f->t.db, ALICE, NULL), 0);
	assert_int_equal(search(f, BOB, "alice", 10).n, 0);

	/* A remote user's newer join event renames them. */
	join(f, "!fed:example.org", FRANK, "{\"membership\":\"join\",\"displayname\":\"Frankie\"}");
	assert_int_equal(mx_store_user_directory_refresh_user(f->t.db, FRANK, "!fed:example.org"), 0);
	add_user(f, "alice2", NULL, false);
	join(f, "!fed:example.org", "@alice2:example.org", NULL);
	assert_int_equal(mx_store_user_directory_refresh_user(f->t.db, "@alice2:example.org",
							      "!fed:example.org"),
			 0);
	r = search(f, "@alice2:example.org", "frankie", 10);
	assert_int_equal(r.n, 1);
	assert_null(r.hits[0].avatar_url);
}

static void test_search_rank_and_limit(void **state)
{
	struct fixture *f = *state;
	add_room(f, "!big:example.org", false);
	add_user(f, "searcher", NULL, false);
	join(f, "!big:example.org", "@searcher:example.org", NULL);
	/* 12 users whose display name starts with "Sam", and one whose
	 * localpart is exactly "sam" but whose display name does not. */
	for (int i = 0; i < 12; i++) {
		char lp[32], dn[32], uid[64];
		snprintf(lp, sizeof(lp), "user%02d", i);
		snprintf(dn, sizeof(dn), "Sam Number %d", i);
		snprintf(uid, sizeof(uid), "@%s:example.org", lp);
		add_user(f, lp, dn, false);
		join(f, "!big:example.org", uid, NULL);
	}
	add_user(f, "sam", "Zzz", false);
	join(f, "!big:example.org", "@sam:example.org", NULL);
	add_user(f, "samantha", "Other", false);
	join(f, "!big:example.org", "@samantha:example.org", NULL);
	assert_int_equal(mx_store_user_directory_populate(f->t.db), 0);

	/* Default limit 10: 14 matches, limited. Exact localpart first, then
	 * the localpart prefix, then the display names. */
	struct result r = search(f, "@searcher:example.org", "sam", 10);
	assert_int_equal(r.n, 10);
	assert_true(r.limited);
	assert_string_equal(r.hits[0].user_id, "@sam:example.org");
	assert_string_equal(r.hits[1].user_id, "@samantha:example.org");

	r = search(f, "@searcher:example.org", "sam", 50);
	assert_int_equal(r.n, 14);
	assert_false(r.limited);
	r = search(f, "@searcher:example.org", "sam", 14);
	assert_int_equal(r.n, 14);
	assert_false(r.limited);
	r = search(f, "@searcher:example.org", "sam", 13);
	assert_int_equal(r.n, 13);
	assert_true(r.limited);
	/* Limits are clamped to 1..50. */
	r = search(f, "@searcher:example.org", "sam", 0);
	assert_int_equal(r.n, 1);
	assert_true(r.limited);
	r = search(f, "@searcher:example.org", "sam", 1000);
	assert_int_equal(r.n, 14);

	/* A display name equal to the term beats one that only starts with it. */
	r = search(f, "@searcher:example.org", "sam number 1", 10);
	assert_int_equal(r.n, 3); /* 1, 10, 11 */
	assert_string_equal(r.hits[0].user_id, "@user01:example.org");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fold_accents_and_case),
		cmocka_unit_test(test_fold_sharp_s),
		cmocka_unit_test(test_fold_compat_and_strokes),
		cmocka_unit_test(test_fold_words),
		cmocka_unit_test(test_fold_invalid_and_long),
		cmocka_unit_test_setup_teardown(test_search_visibility, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search_public_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search_profile_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search_rank_and_limit, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
