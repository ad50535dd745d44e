/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for store/accounts and store/uia against a temporary SQLite
 * database: users, devices, access and refresh tokens (with the rotation
 * rules of the spec), logout, password changes, deactivation, UIA sessions
 * and registration tokens. Password hashes here are opaque strings: no
 * argon2 runs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "testdb.h"
#include <dirent.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/rand.h"
#include "crypto/hash.h"
#include "db/db.h"
#include "store/accounts.h"
#include "store/uia.h"

struct fixture {
	struct mx_test_db t;
};

static int setup(void **state)
{
	struct fixture *f = mx_xcalloc(1, sizeof(*f));
	if (mx_test_db_open(&f->t, "accounts"))
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

/* ---- helpers ---- */

static const char *hash_of(struct fixture *f, const char *token)
{
	char *h = mx_arena_alloc(&f->t.a, 65);
	assert_int_equal(mx_hash_token(token, h), 0);
	return h;
}

/* The token's info, or the lookup's error. */
static int lookup(struct fixture *f, const char *token, struct mx_token_info *ti)
{
	struct mx_token_info scratch;
	return mx_store_token_lookup(f->t.rc, &f->t.a, hash_of(f, token), ti ? ti : &scratch);
}

static void create_user(struct fixture *f, const char *user_id, const char *device_id,
			bool want_refresh, struct mx_session_tokens *t)
{
	struct mx_new_user u = {0};
	u.user_id = user_id;
	u.password_hash = "$argon2id$fake";
	u.displayname = "Display";
	u.device_id = device_id;
	u.device_display_name = "first device";
	u.want_refresh = want_refresh;
	u.access_lifetime_ms = want_refresh ? 300000 : 0;
	struct mx_session_tokens scratch;
	assert_int_equal(mx_store_user_create(f->t.db, &u, t ? t : &scratch), 0);
}

static void login(struct fixture *f, const char *user_id, const char *device_id,
		  bool want_refresh, struct mx_session_tokens *t)
{
	struct mx_new_login l = {0};
	l.user_id = user_id;
	l.device_id = device_id;
	l.device_display_name = "login device";
	l.want_refresh = want_refresh;
	l.access_lifetime_ms = want_refresh ? 300000 : 0;
	assert_int_equal(mx_store_login(f->t.db, &l, t), 0);
}

static int refresh(struct fixture *f, const char *refresh_token, struct mx_session_tokens *t)
{
	return mx_store_refresh(f->t.db, &f->t.a, refresh_token, 300000, 0, t);
}

/* What the HTTP layer does on every authenticated request. */
static void use_access_token(struct fixture *f, const char *token)
{
	struct mx_token_info ti;
	assert_int_equal(lookup(f, token, &ti), 0);
	if (ti.refresh_id && !ti.used)
		assert_int_equal(mx_store_token_first_use(f->t.db, hash_of(f, token), ti.refresh_id), 0);
}

static size_t n_devices(struct fixture *f, const char *user_id)
{
	struct mx_device *d;
	size_t n = 99;
	assert_int_equal(mx_store_devices_list(f->t.rc, &f->t.a, user_id, &d, &n), 0);
	return n;
}

static int64_t query_int(struct fixture *f, const char *sql, const char *arg)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(f->t.rc, &st, sql, "s", arg);
	if (rc != MX_DB_ROW)
		fail_msg("%s: rc %d", sql, rc);
	int64_t v = mx_db_col_int64(st, 0);
	mx_db_done(st);
	return v;
}

/* ---- users ---- */

static void test_user_create(void **state)
{
	struct fixture *f = *state;
	struct mx_session_tokens t;
	int64_t before = mx_clock_now_ms();
	create_user(f, "@alice:example.org", "DEVA", false, &t);
	assert_true(strlen(t.access_token) > 20);
	assert_string_equal(t.refresh_token, "");
	assert_int_equal(t.expires_in_ms, 0);

	struct mx_user u;
	assert_int_equal(mx_store_user_get(f->t.rc, &f->t.a, "@alice:example.org", &u), 0);
	assert_string_equal(u.user_id, "@alice:example.org");
	assert_string_equal(u.password_hash, "$argon2id$fake");
	assert_false(u.is_guest);
	assert_false(u.is_admin);
	assert_false(u.deactivated);
	assert_true(u.created_ts >= before && u.created_ts <= mx_clock_now_ms());
	assert_true(mx_store_user_exists(f->t.rc, "@alice:example.org"));
	assert_false(mx_store_user_exists(f->t.rc, "@bob:example.org"));
	assert_int_equal(mx_store_user_get(f->t.rc, &f->t.a, "@bob:example.org", &u), MX_ENOTFOUND);

	/* The token maps to the user and device; it is stored only hashed. */
	struct mx_token_info ti;
	assert_int_equal(lookup(f, t.access_token, &ti), 0);
	assert_string_equal(ti.user_id, "@alice:example.org");
	assert_string_equal(ti.device_id, "DEVA");
	assert_int_equal(ti.expires_ts, 0);
	assert_int_equal(ti.refresh_id, 0);
	assert_int_equal(ti.last_seen_ts, 0);
	assert_int_equal(query_int(f, "SELECT COUNT(*) FROM access_tokens WHERE token_hash = ?",
				   t.access_token),
			 0);
	assert_int_equal(lookup(f, "mya_not-a-token", NULL), MX_ENOTFOUND);

	struct mx_device d;
	assert_int_equal(mx_store_device_get(f->t.rc, &f->t.a, "@alice:example.org", "DEVA", &d), 0);
	assert_string_equal(d.display_name, "first device");

	/* A duplicate id is refused and leaves nothing behind. */
	struct mx_new_user dup = {.user_id = "@alice:example.org", .device_id = "DEVB"};
	struct mx_session_tokens t2;
	assert_int_equal(mx_store_user_create(f->t.db, &dup, &t2), MX_EUSERINUSE);
	assert_int_equal(n_devices(f, "@alice:example.org"), 1);
	assert_int_equal(mx_store_device_get(f->t.rc, &f->t.a, "@alice:example.org", "DEVB", &d),
			 MX_ENOTFOUND);
	assert_int_equal(mx_store_user_get(f->t.rc, &f->t.a, "@alice:example.org", &u), 0);
	assert_string_equal(u.password_hash, "$argon2id$fake");

	/* inhibit_login: no device, no tokens; guest and admin flags. */
	struct mx_new_user g = {.user_id = "@guest:example.org", .is_guest = true};
	assert_int_equal(mx_store_user_create(f->t.db, &g, &t2), 0);
	assert_int_equal(mx_store_user_get(f->t.rc, &f->t.a, "@guest:example.org", &u), 0);
	assert_true(u.is_guest);
	assert_null(u.password_hash);
	assert_int_equal(n_devices(f, "@guest:example.org"), 0);
	struct mx_new_user adm = {.user_id = "@root:example.org", .is_admin = true,
				  .device_id = "ROOTDEV", .audit_actor = "shared-secret"};
	assert_int_equal(mx_store_user_create(f->t.db, &adm, &t2), 0);
	assert_int_equal(lookup(f, t2.access_token, &ti), 0);
	assert_true(ti.is_admin);
	assert_false(ti.is_guest);
	assert_int_equal(query_int(f, "SELECT COUNT(*) FROM audit_log WHERE target = ?",
				   "@root:example.org"),
			 1);
}

static void test_login_replaces_device_tokens(void **state)
{
	struct fixture *f = *state;
	struct mx_session_tokens t0, t1, t2, other;
	create_user(f, "@bob:example.org", "PHONE", true, &t0);
	login(f, "@bob:example.org", "LAPTOP", false, &other);
	login(f, "@bob:example.org", "PHONE", false, &t1);
	/* Reusing PHONE revoked its access and refresh tokens. */
	assert_int_equal(lookup(f, t0.access_token, NULL), MX_ENOTFOUND);
	struct mx_session_tokens r;
	assert_int_equal(refresh(f, t0.refresh_token, &r), MX_ETOKENINCORRECT);
	assert_int_equal(lookup(f, t1.access_token, NULL), 0);
	assert_int_equal(lookup(f, other.access_token, NULL), 0);
	/* Still one PHONE, keeping its first display name. */
	assert_int_equal(n_devices(f, "@bob:example.org"), 2);
	struct mx_device d;
	assert_int_equal(mx_store_device_get(f->t.rc, &f->t.a, "@bob:example.org", "PHONE", &d), 0);
	assert_string_equal(d.display_name, "first device");
	/* Tokens are fresh each time. */
	login(f, "@bob:example.org", "PHONE", false, &t2);
	assert_string_not_equal(t1.access_token, t2.access_token);
	assert_int_equal(lookup(f, t1.access_token, NULL), MX_ENOTFOUND);
	assert_int_equal(lookup(f, t2.access_token, NULL), 0);
	/* Same device id under another user is a different device. */
	create_user(f, "@carol:example.org", "PHONE", false, NULL);
	assert_int_equal(lookup(f, t2.access_token, NULL), 0);
}

/* SPEC: client-server-api#refreshing-access-tokens: "The old refresh token
 * remains valid until the new access token or refresh token is used, at
 * which point the old refresh token is revoked." */
static void test_refresh_rotation(void **state)
{
	struct fixture *f = *state;
	struct mx_session_tokens t1, t2, t2b, t3, t4, t5;
	int64_t before = mx_clock_now_ms();
	create_user(f, "@r:example.org", "DEV", true, &t1);
	assert_true(strlen(t1.refresh_token) > 20);
	assert_int_equal(t1.expires_in_ms, 300000);
	struct mx_token_info ti;
	assert_int_equal(lookup(f, t1.access_token, &ti), 0);
	assert_true(ti.refresh_id > 0);
	assert_false(ti.used);
	assert_true(ti.expires_ts >= before + 300000 && ti.expires_ts <= mx_clock_now_ms() + 300000);
	use_access_token(f, t1.access_token);
	assert_int_equal(lookup(f, t1.access_token, &ti), 0);
	assert_true(ti.used);

	/* Refresh: new tokens, the old refresh token still works... */
	assert_int_equal(refresh(f, t1.refresh_token, &t2), 0);
	assert_string_not_equal(t2.refresh_token, t1.refresh_token);
	assert_string_not_equal(t2.access_token, t1.access_token);
	assert_int_equal(lookup(f, t2.access_token, &ti), 0);
	assert_string_equal(ti.user_id, "@r:example.org");
	assert_string_equal(ti.device_id, "DEV");
	assert_false(ti.used);
	/* ...so the client can repeat a refresh whose answer it lost. That
	 * replaces the successor it got the first time. */
	assert_int_equal(refresh(f, t1.refresh_token, &t2b), 0);
	assert_int_equal(lookup(f, t2.access_token, NULL), MX_ENOTFOUND);
	assert_int_equal(refresh(f, t2.refresh_token, &t3), MX_ETOKENINCORRECT);
	assert_int_equal(lookup(f, t1.access_token, NULL), 0);

	/* First use of the new access token revokes the old refresh token
	 * and its access token. */
	use_access_token(f, t2b.access_token);
	assert_int_equal(refresh(f, t1.refresh_token, &t3), MX_ETOKENINCORRECT);
	assert_int_equal(lookup(f, t1.access_token, NULL), MX_ENOTFOUND);
	assert_int_equal(lookup(f, t2b.access_token, &ti), 0);
	assert_true(ti.used);
	/* Using it again changes nothing. */
	use_access_token(f, t2b.access_token);
	assert_int_equal(lookup(f, t2b.access_token, NULL), 0);

	/* Using the new refresh token also revokes its predecessor. */
	assert_int_equal(refresh(f, t2b.refresh_token, &t3), 0);
	assert_int_equal(refresh(f, t3.refresh_token, &t4), 0);
	assert_int_equal(refresh(f, t2b.refresh_token, &t5), MX_ETOKENINCORRECT);
	assert_int_equal(lookup(f, t2b.access_token, NULL), MX_ENOTFOUND);
	/* t3's access token was never used and t3 was then refreshed: once t4
	 * is used, t3 and its access token go. */
	assert_int_equal(lookup(f, t3.access_token, NULL), 0);
	use_access_token(f, t4.access_token);
	assert_int_equal(lookup(f, t3.access_token, NULL), MX_ENOTFOUND);
	assert_int_equal(refresh(f, t3.refresh_token, &t5), MX_ETOKENINCORRECT);
	assert_int_equal(lookup(f, t4.access_token, NULL), 0);
	/* One live refresh token per device at rest. */
	assert_int_equal(query_int(f, "SELECT COUNT(*) FROM refresh_tokens WHERE user_id = ?",
				   "@r:example.org"),
			 1);

	/* Garbage and unknown refresh tokens. */
	assert_int_equal(refresh(f, "myr_unknown", &t5), MX_ETOKENINCORRECT);
	assert_int_equal(refresh(f, "", &t5), MX_ETOKENINCORRECT);
	/* A refresh token cannot be used as an access token, nor vice versa. */
	assert_int_equal(lookup(f, t4.refresh_token, NULL), MX_ENOTFOUND);
	assert_int_equal(refresh(f, t4.access_token, &t5), MX_ETOKENINCORRECT);
}

static void test_refresh_expiry(void **state)
{
	struct fixture *f = *state;
	struct mx_session_tokens t, t2;
	struct mx_new_login l = {.user_id = "@e:example.org", .device_id = "D",
				 .want_refresh = true, .access_lifetime_ms = 1000,
				 .refresh_lifetime_ms = 1};
	create_user(f, "@e:example.org", NULL, false, NULL);
	assert_int_equal(mx_store_login(f->t.db, &l, &t), 0);
	struct timespec ts = {0, 5 * 1000000};
	nanosleep(&ts, NULL);
	assert_int_equal(mx_store_refresh(f->t.db, &f->t.a, t.refresh_token, 1000, 0, &t2),
			 MX_ETOKENINCORRECT);
	/* A refresh token that does not expire keeps working. */
	l.refresh_lifetime_ms = 0;
	assert_int_equal(mx_store_login(f->t.db, &l, &t), 0);
	nanosleep(&ts, NULL);
	assert_int_equal(mx_store_refresh(f->t.db, &f->t.a, t.refresh_token, 0, 0, &t2), 0);
	/* Non-expiring access token from a refresh: expires_ts 0. */
	struct mx_token_info ti;
	assert_int_equal(lookup(f, t2.access_token, &ti), 0);
	assert_int_equal(ti.expires_ts, 0);
	assert_int_equal(t2.expires_in_ms, 0);
}

/* ---- logout, devices ---- */

static void test_logout(void **state)
{
	struct fixture *f = *state;
	struct mx_session_tokens a, b, c;
	create_user(f, "@l:example.org", "A", true, &a);
	login(f, "@l:example.org", "B", false, &b);
	create_user(f, "@m:example.org", "A", false, &c);
	assert_int_equal(mx_store_logout(f->t.db, hash_of(f, a.access_token)), 0);
	assert_int_equal(lookup(f, a.access_token, NULL), MX_ENOTFOUND);
	struct mx_session_tokens r;
	assert_int_equal(refresh(f, a.refresh_token, &r), MX_ETOKENINCORRECT);
	struct mx_device d;
	assert_int_equal(mx_store_device_get(f->t.rc, &f->t.a, "@l:example.org", "A", &d),
			 MX_ENOTFOUND);
	assert_int_equal(n_devices(f, "@l:example.org"), 1);
	assert_int_equal(lookup(f, b.access_token, NULL), 0);
	assert_int_equal(lookup(f, c.access_token, NULL), 0); /* same device id, other user */
	/* Unknown token: nothing to do. */
	assert_int_equal(mx_store_logout(f->t.db, hash_of(f, "nope")), 0);

	/* logout/all: every device and token of that user only. */
	login(f, "@l:example.org", "C", true, &a);
	assert_int_equal(mx_store_logout_all(f->t.db, "@l:example.org"), 0);
	assert_int_equal(n_devices(f, "@l:example.org"), 0);
	assert_int_equal(lookup(f, a.access_token, NULL), MX_ENOTFOUND);
	assert_int_equal(lookup(f, b.access_token, NULL), MX_ENOTFOUND);
	assert_int_equal(refresh(f, a.refresh_token, &r), MX_ETOKENINCORRECT);
	assert_int_equal(lookup(f, c.access_token, NULL), 0);
	assert_int_equal(n_devices(f, "@m:example.org"), 1);
	assert_true(mx_store_user_exists(f->t.rc, "@l:example.org"));
}

static void test_devices(void **state)
{
	struct fixture *f = *state;
	struct mx_session_tokens t[12];
	create_user(f, "@d:example.org", "D00", false, &t[0]);
	char id[16];
	for (int i = 1; i < 12; i++) {
		snprintf(id, sizeof(id), "D%02d", i);
		login(f, "@d:example.org", id, false, &t[i]);
	}
	/* More than the list's first allocation, sorted by id. */
	struct mx_device *list;
	size_t n;
	assert_int_equal(mx_store_devices_list(f->t.rc, &f->t.a, "@d:example.org", &list, &n), 0);
	assert_int_equal(n, 12);
	for (size_t i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "D%02zu", i);
		assert_string_equal(list[i].device_id, id);
	}
	assert_string_equal(list[0].display_name, "first device");
	assert_string_equal(list[5].display_name, "login device");
	assert_null(list[5].last_seen_ip);
	assert_int_equal(mx_store_devices_list(f->t.rc, &f->t.a, "@nobody:example.org", &list, &n), 0);
	assert_int_equal(n, 0);

	assert_int_equal(mx_store_device_set_name(f->t.db, "@d:example.org", "D03", "renamed"), 0);
	assert_int_equal(mx_store_device_set_name(f->t.db, "@d:example.org", "NOPE", "x"),
			 MX_ENOTFOUND);
	assert_int_equal(mx_store_device_set_name(f->t.db, "@d:example.org", "D04", NULL), 0);
	struct mx_device d;
	assert_int_equal(mx_store_device_get(f->t.rc, &f->t.a, "@d:example.org", "D03", &d), 0);
	assert_string_equal(d.display_name, "renamed");
	assert_int_equal(mx_store_device_get(f->t.rc, &f->t.a, "@d:example.org", "D04", &d), 0);
	assert_null(d.display_name);

	assert_int_equal(mx_store_device_touch(f->t.db, "@d:example.org", "D03", "10.0.0.1", 12345),
			 0);
	assert_int_equal(mx_store_device_get(f->t.rc, &f->t.a, "@d:example.org", "D03", &d), 0);
	assert_int_equal(d.last_seen_ts, 12345);
	assert_string_equal(d.last_seen_ip, "10.0.0.1");
	struct mx_token_info ti;
	assert_int_equal(lookup(f, t[3].access_token, &ti), 0);
	assert_int_equal(ti.last_seen_ts, 12345);

	const char *const del[] = {"D01", "D02", "UNKNOWN"};
	assert_int_equal(mx_store_devices_delete(f->t.db, "@d:example.org", del, 3), 0);
	assert_int_equal(n_devices(f, "@d:example.org"), 10);
	assert_int_equal(lookup(f, t[1].access_token, NULL), MX_ENOTFOUND);
	assert_int_equal(lookup(f, t[2].access_token, NULL), MX_ENOTFOUND);
	assert_int_equal(lookup(f, t[3].access_token, NULL), 0);
}

static void test_set_password(void **state)
{
	struct fixture *f = *state;
	struct mx_session_tokens a, b, c;
	create_user(f, "@p:example.org", "A", true, &a);
	login(f, "@p:example.org", "B", true, &b);
	login(f, "@p:example.org", "C", false, &c);
	struct mx_user u;

	/* Without logout_devices every session survives. */
	assert_int_equal(mx_store_set_password(f->t.db, "@p:example.org", "hash2", false, "B"), 0);
	assert_int_equal(mx_store_user_get(f->t.rc, &f->t.a, "@p:example.org", &u), 0);
	assert_string_equal(u.password_hash, "hash2");
	assert_int_equal(n_devices(f, "@p:example.org"), 3);

	/* With it, only the given device keeps its tokens. */
	assert_int_equal(mx_store_set_password(f->t.db, "@p:example.org", "hash3", true, "B"), 0);
	assert_int_equal(mx_store_user_get(f->t.rc, &f->t.a, "@p:example.org", &u), 0);
	assert_string_equal(u.password_hash, "hash3");
	assert_int_equal(n_devices(f, "@p:example.org"), 1);
	struct mx_device d;
	assert_int_equal(mx_store_device_get(f->t.rc, &f->t.a, "@p:example.org", "B", &d), 0);
	assert_int_equal(lookup(f, a.access_token, NULL), MX_ENOTFOUND);
	assert_int_equal(lookup(f, c.access_token, NULL), MX_ENOTFOUND);
	assert_int_equal(lookup(f, b.access_token, NULL), 0);
	struct mx_session_tokens r;
	assert_int_equal(refresh(f, a.refresh_token, &r), MX_ETOKENINCORRECT);
	assert_int_equal(refresh(f, b.refresh_token, &r), 0);

	/* No device to keep (an admin or UIA-only change): all logged out. */
	assert_int_equal(mx_store_set_password(f->t.db, "@p:example.org", "hash4", true, NULL), 0);
	assert_int_equal(n_devices(f, "@p:example.org"), 0);
	assert_int_equal(lookup(f, r.access_token, NULL), MX_ENOTFOUND);
}

static void test_deactivate(void **state)
{
	struct fixture *f = *state;
	struct mx_session_tokens a, b;
	create_user(f, "@x:example.org", "A", true, &a);
	login(f, "@x:example.org", "B", false, &b);
	assert_int_equal(mx_store_deactivate(f->t.db, "@x:example.org", "@x:example.org"), 0);
	struct mx_user u;
	assert_int_equal(mx_store_user_get(f->t.rc, &f->t.a, "@x:example.org", &u), 0);
	assert_true(u.deactivated);
	assert_null(u.password_hash);
	assert_int_equal(n_devices(f, "@x:example.org"), 0);
	assert_int_equal(lookup(f, a.access_token, NULL), MX_ENOTFOUND);
	assert_int_equal(lookup(f, b.access_token, NULL), MX_ENOTFOUND);
	struct mx_session_tokens r;
	assert_int_equal(refresh(f, a.refresh_token, &r), MX_ETOKENINCORRECT);
	/* The id stays taken. */
	assert_true(mx_store_user_exists(f->t.rc, "@x:example.org"));
	struct mx_new_user again = {.user_id = "@x:example.org", .device_id = "NEW"};
	assert_int_equal(mx_store_user_create(f->t.db, &again, &r), MX_EUSERINUSE);
	/* Deactivating oneself is not audited; an admin doing it is. */
	assert_int_equal(query_int(f, "SELECT COUNT(*) FROM audit_log WHERE target = ?",
				   "@x:example.org"),
			 0);
	create_user(f, "@y:example.org", "A", false, NULL);
	assert_int_equal(mx_store_deactivate(f->t.db, "@y:example.org", "@admin:example.org"), 0);
	assert_int_equal(query_int(f, "SELECT COUNT(*) FROM audit_log WHERE target = ?",
				   "@y:example.org"),
			 1);
	/* A deactivated user's token, had one survived, would say so. */
	assert_int_equal(mx_store_user_get(f->t.rc, &f->t.a, "@y:example.org", &u), 0);
	assert_true(u.deactivated);
}

/* ---- UIA sessions and registration tokens ---- */

struct regtoken {
	const char *token;
	int64_t uses_allowed; /* -1: NULL */
	int64_t expiry_time;  /* -1: NULL */
};

static int regtoken_job(struct mx_db_conn *c, void *arg)
{
	struct regtoken *r = arg;
	return mx_db_run(c,
			 "INSERT INTO registration_tokens (token, uses_allowed, expiry_time)"
			 " VALUES (?, NULLIF(?, -1), NULLIF(?, -1))",
			 "sii", r->token, r->uses_allowed, r->expiry_time);
}

static void add_regtoken(struct fixture *f, const char *token, int64_t uses, int64_t expiry)
{
	struct regtoken r = {token, uses, expiry};
	assert_int_equal(mx_db_write(f->t.db, regtoken_job, &r), 0);
}

/* SPEC: client-server-api#token-authenticated-registration */
static void test_regtokens(void **state)
{
	struct fixture *f = *state;
	int64_t now = mx_clock_now_ms();
	add_regtoken(f, "unlimited", -1, -1);
	add_regtoken(f, "two", 2, -1);
	add_regtoken(f, "expired", -1, now - 1000);
	add_regtoken(f, "later", 5, now + 60000);
	add_regtoken(f, "zero", 0, -1);
	assert_false(mx_store_regtoken_valid(f->t.rc, "unknown", now));
	assert_true(mx_store_regtoken_valid(f->t.rc, "unlimited", now));
	assert_false(mx_store_regtoken_valid(f->t.rc, "expired", now));
	assert_true(mx_store_regtoken_valid(f->t.rc, "later", now));
	assert_false(mx_store_regtoken_valid(f->t.rc, "later", now + 60000)); /* expiry is exclusive */
	assert_false(mx_store_regtoken_valid(f->t.rc, "zero", now));
	assert_false(mx_store_regtoken_valid(f->t.rc, "TWO", now)); /* case-sensitive */

	/* Pending uses count against uses_allowed. */
	assert_true(mx_store_regtoken_valid(f->t.rc, "two", now));
	assert_int_equal(mx_store_regtoken_add_pending(f->t.db, "two"), 0);
	assert_true(mx_store_regtoken_valid(f->t.rc, "two", now));
	assert_int_equal(mx_store_regtoken_add_pending(f->t.db, "two"), 0);
	assert_false(mx_store_regtoken_valid(f->t.rc, "two", now));
	/* A registration completes: pending becomes completed; still used up. */
	struct mx_new_user u = {.user_id = "@tok:example.org", .registration_token = "two"};
	struct mx_session_tokens t;
	assert_int_equal(mx_store_user_create(f->t.db, &u, &t), 0);
	assert_int_equal(query_int(f, "SELECT pending * 10 + completed FROM registration_tokens"
				      " WHERE token = ?",
				   "two"),
			 11);
	assert_false(mx_store_regtoken_valid(f->t.rc, "two", now));
	/* Completing without a pending use never drives pending negative. */
	u.user_id = "@tok2:example.org";
	u.registration_token = "unlimited";
	assert_int_equal(mx_store_user_create(f->t.db, &u, &t), 0);
	assert_int_equal(query_int(f, "SELECT pending * 10 + completed FROM registration_tokens"
				      " WHERE token = ?",
				   "unlimited"),
			 1);
	assert_true(mx_store_regtoken_valid(f->t.rc, "unlimited", now));
	/* Pending on an unknown token is a no-op. */
	assert_int_equal(mx_store_regtoken_add_pending(f->t.db, "unknown"), 0);
	assert_false(mx_store_regtoken_valid(f->t.rc, "unknown", now));
}

static int old_session_job(struct mx_db_conn *c, void *arg)
{
	(void)arg;
	return mx_db_run(c,
			 "INSERT INTO uia_sessions (session_id, created_ts, purpose) VALUES (?, ?, ?)",
			 "sis", "ancient", mx_clock_now_ms() - 2 * 86400000LL, "register");
}

static void test_uia_sessions(void **state)
{
	struct fixture *f = *state;
	struct mx_uia_session s;
	assert_int_equal(mx_store_uia_get(f->t.rc, &f->t.a, "sess1", &s), MX_ENOTFOUND);
	assert_int_equal(mx_db_write(f->t.db, old_session_job, NULL), 0);
	assert_int_equal(mx_store_uia_get(f->t.rc, &f->t.a, "ancient", &s), 0);

	int64_t before = mx_clock_now_ms();
	assert_int_equal(mx_store_uia_create(f->t.db, "sess1", "register", NULL, "{\"a\":1}"), 0);
	assert_int_equal(mx_store_uia_create(f->t.db, "sess2", "delete_devices", "@u:example.org",
					     NULL),
			 0);
	/* Creating a session sweeps abandoned ones. */
	assert_int_equal(mx_store_uia_get(f->t.rc, &f->t.a, "ancient", &s), MX_ENOTFOUND);
	/* Session ids are unique. */
	assert_int_equal(mx_store_uia_create(f->t.db, "sess1", "register", NULL, NULL), MX_ECONFLICT);

	assert_int_equal(mx_store_uia_get(f->t.rc, &f->t.a, "sess1", &s), 0);
	assert_string_equal(s.purpose, "register");
	assert_null(s.user_id);
	assert_string_equal(s.completed, "[]");
	assert_string_equal(s.params, "{\"a\":1}");
	assert_true(s.created_ts >= before && s.created_ts <= mx_clock_now_ms());
	assert_int_equal(mx_store_uia_get(f->t.rc, &f->t.a, "sess2", &s), 0);
	assert_string_equal(s.purpose, "delete_devices");
	assert_string_equal(s.user_id, "@u:example.org");
	assert_null(s.params);

	assert_int_equal(mx_store_uia_set_completed(f->t.db, "sess1", "[\"m.login.dummy\"]"), 0);
	assert_int_equal(mx_store_uia_get(f->t.rc, &f->t.a, "sess1", &s), 0);
	assert_string_equal(s.completed, "[\"m.login.dummy\"]");
	assert_string_equal(s.params, "{\"a\":1}"); /* pinned at creation */

	assert_int_equal(mx_store_uia_delete(f->t.db, "sess1"), 0);
	assert_int_equal(mx_store_uia_get(f->t.rc, &f->t.a, "sess1", &s), MX_ENOTFOUND);
	assert_int_equal(mx_store_uia_delete(f->t.db, "sess1"), 0);
	assert_int_equal(mx_store_uia_get(f->t.rc, &f->t.a, "sess2", &s), 0);
}

int main(void)
{
	if (mx_rand_init())
		return 1;
	mx_log_set_level(MX_LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_user_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_login_replaces_device_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_logout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_devices, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_password, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deactivate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_regtokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uia_sessions, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
