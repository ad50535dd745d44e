/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for federation/xmatrix: parsing the Authorization header
 * (quoted and unquoted values, escapes, whitespace, case, unknown,
 * duplicate and missing parameters, junk, over-long input), signing with
 * the spec's test key (signatures computed independently with Python's
 * cryptography package over the canonical JSON), and verification, which
 * must fail when any signed part is changed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/base64.h"
#include "core/canonjson.h"
#include "core/error.h"
#include "crypto/keys.h"
#include "federation/xmatrix.h"

/* SPEC: appendices#signing-key */
#define SPEC_SEED_B64 "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"

/* {"destination":"remote.example","method":"GET","origin":"domain",
 *  "uri":"/_matrix/federation/v1/version"} signed with the spec key. */
#define SIG_VERSION                                                                          \
	"wR1E4UZ3G3F2knf0x+RNgxQ2N/hCiZ/ZdOktAey0wSvTWc/nHH8YPJaOvRhipwX46AZPntLZhHd0DFjZ7H7iDQ"
/* The PUT below, with its content. */
#define SIG_SEND                                                                             \
	"H77rLRgfALfmTJqhr6BMVXpK3v9yAbrmnf+TbcjHoI4kqBxw2WyVDJsSfavbKGpDE1WSWAQe3P40k5cnCYtbDQ"
/* {"method":"GET","origin":"domain","uri":"/_matrix/key/v2/server"}: no destination. */
#define SIG_NODEST                                                                           \
	"+MNceghZdY7pMnzKSqS/SmSheIRUGThohC0yZg3RP+GBifAXar+Z3f0mfg0mosnlV89B/vN2sbEvr1siILk7Ag"

#define SEND_URI "/_matrix/federation/v1/send/1234?x=y"
#define SEND_BODY                                                                            \
	"{\"pdus\":[],\"edus\":[{\"edu_type\":\"m.typing\",\"content\":{\"room_id\":"       \
	"\"!r:domain\",\"user_id\":\"@a:domain\",\"typing\":true}}]}"

static void spec_key(struct mx_signing_key *k)
{
	unsigned char seed[32];
	assert_int_equal(mx_base64_decode_exact(SPEC_SEED_B64, MX_BASE64_STD, seed, 32), 0);
	assert_int_equal(mx_signing_key_from_seed(k, "1", seed), 0);
}

static json_t *parse(const char *s)
{
	json_t *v = mx_json_parse_strict(s, strlen(s), NULL);
	assert_non_null(v);
	return v;
}

static int p(const char *h, struct mx_xmatrix *x)
{
	return mx_xmatrix_parse(h, x);
}

/* ---- parsing ---------------------------------------------------------------- */

static void test_parse_spec_example(void **state)
{
	(void)state;
	struct mx_xmatrix x;
	assert_int_equal(p("X-Matrix origin=\"origin.hs.example.com\","
			   "destination=\"destination.hs.example.com\",key=\"ed25519:key1\","
			   "sig=\"ABCDEF\"",
			   &x),
			 0);
	assert_string_equal(x.origin, "origin.hs.example.com");
	assert_string_equal(x.destination, "destination.hs.example.com");
	assert_string_equal(x.key_id, "ed25519:key1");
	assert_string_equal(x.sig, "ABCDEF");
}

static void test_parse_unquoted_and_case(void **state)
{
	(void)state;
	struct mx_xmatrix x;
	/* Colons in unquoted values are allowed for older servers. */
	assert_int_equal(p("X-Matrix origin=example.org:8448,key=ed25519:a_b,sig=AB+/cd", &x), 0);
	assert_string_equal(x.origin, "example.org:8448");
	assert_string_equal(x.key_id, "ed25519:a_b");
	assert_string_equal(x.sig, "AB+/cd");
	assert_string_equal(x.destination, "");
	/* The scheme and parameter names are case-insensitive. */
	assert_int_equal(p("x-matrix Origin=\"a.org\",KEY=\"ed25519:1\",SiG=\"x\"", &x), 0);
	assert_string_equal(x.origin, "a.org");
	assert_int_equal(p("X-MATRIX origin=a.org,key=ed25519:1,sig=x", &x), 0);
	/* An IPv6 literal needs no quotes either. */
	assert_int_equal(p("X-Matrix origin=[::1]:8448,key=ed25519:1,sig=x", &x), 0);
	assert_string_equal(x.origin, "[::1]:8448");
}

static void test_parse_whitespace(void **state)
{
	(void)state;
	struct mx_xmatrix x;
	assert_int_equal(p("  X-Matrix   origin = \"a.org\" ,\tdestination=\"b.org\"\t,  "
			   "key= \"ed25519:1\" , sig =\"xyz\"  ",
			   &x),
			 0);
	assert_string_equal(x.origin, "a.org");
	assert_string_equal(x.destination, "b.org");
	assert_string_equal(x.sig, "xyz");
	/* Empty list elements are allowed (RFC 9110 section 5.6.1). */
	assert_int_equal(p("X-Matrix ,origin=a.org,,key=ed25519:1,sig=x,", &x), 0);
	/* A tab after the scheme. */
	assert_int_equal(p("X-Matrix\torigin=a.org,key=ed25519:1,sig=x", &x), 0);
}

static void test_parse_escapes_and_unknown(void **state)
{
	(void)state;
	struct mx_xmatrix x;
	/* A backslash-character pair becomes the character. */
	assert_int_equal(p("X-Matrix origin=\"ex\\ample.org\",key=\"ed25519:\\1\",sig=\"x\"", &x),
			 0);
	assert_string_equal(x.origin, "example.org");
	assert_string_equal(x.key_id, "ed25519:1");
	/* Unknown parameters are ignored, escaped quotes and commas included. */
	assert_int_equal(p("X-Matrix foo=\"a\\\",b\",origin=a.org,bar=baz,key=ed25519:1,"
			   "signature=zzz,sig=x",
			   &x),
			 0);
	assert_string_equal(x.origin, "a.org");
	assert_string_equal(x.sig, "x");
	/* An escaped quote in origin makes it an invalid server name. */
	assert_int_equal(p("X-Matrix origin=\"a\\\"b\",key=ed25519:1,sig=x", &x),
			 MX_EUNAUTHORIZED);
}

static void test_parse_missing_and_duplicates(void **state)
{
	(void)state;
	struct mx_xmatrix x;
	assert_int_equal(p("X-Matrix key=ed25519:1,sig=x", &x), MX_EUNAUTHORIZED);
	assert_int_equal(p("X-Matrix origin=a.org,sig=x", &x), MX_EUNAUTHORIZED);
	assert_int_equal(p("X-Matrix origin=a.org,key=ed25519:1", &x), MX_EUNAUTHORIZED);
	assert_int_equal(p("X-Matrix origin=a.org,origin=a.org,key=ed25519:1,sig=x", &x),
			 MX_EUNAUTHORIZED);
	assert_int_equal(p("X-Matrix origin=a.org,Origin=b.org,key=ed25519:1,sig=x", &x),
			 MX_EUNAUTHORIZED);
	assert_int_equal(p("X-Matrix origin=a.org,key=ed25519:1,sig=x,sig=y", &x),
			 MX_EUNAUTHORIZED);
	assert_int_equal(p("X-Matrix origin=a.org,destination=b.org,destination=b.org,"
			   "key=ed25519:1,sig=x",
			   &x),
			 MX_EUNAUTHORIZED);
	/* Nothing of a refused header is left behind. */
	assert_string_equal(x.origin, "");
}

static void test_parse_junk(void **state)
{
	(void)state;
	struct mx_xmatrix x;
	static const char *const bad[] = {
		"",
		"X-Matrix",
		"X-Matrix ",
		"Bearer abc",
		"X-Matrixorigin=a.org,key=ed25519:1,sig=x",
		"XMatrix origin=a.org,key=ed25519:1,sig=x",
		"X-Matrix origin=\"a.org\" junk,key=ed25519:1,sig=x",
		"X-Matrix origin=\"a.org,key=ed25519:1,sig=x",   /* unterminated */
		"X-Matrix origin=a.org,key=ed25519:1,sig=\"x\\", /* trailing backslash */
		"X-Matrix origin=,key=ed25519:1,sig=x",
		"X-Matrix =a.org,key=ed25519:1,sig=x",
		"X-Matrix origin\"a.org\",key=ed25519:1,sig=x",
		"X-Matrix origin=a.org;key=ed25519:1;sig=x",
		"X-Matrix origin=a.org key=ed25519:1 sig=x",
		"X-Matrix origin=\"a\x01.org\",key=ed25519:1,sig=x", /* a control character */
		"X-Matrix origin=\"a.org\",key=\"ed25519:1\",sig=\"x\x7f\"",
		"X-Matrix origin=\"bad name\",key=ed25519:1,sig=x",
		"X-Matrix origin=a/b,key=ed25519:1,sig=x",
		"X-Matrix origin=a.org,destination=\"x y\",key=ed25519:1,sig=x",
		"X-Matrix origin=a.org,destination=\"\",key=ed25519:1,sig=x",
		"X-Matrix origin=a.org,key=nocolon,sig=x",
		"X-Matrix origin=a.org,key=\":1\",sig=x",
		"X-Matrix origin=a.org,key=\"ed25519:a b\",sig=x",
		"X-Matrix origin=a.org,key=ed25519:1,sig=\"a*b\"",
		"X-Matrix origin=a.org,key=ed25519:1,sig=\"\"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (p(bad[i], &x) != MX_EUNAUTHORIZED)
			fail_msg("accepted: %s", bad[i]);
	}
	assert_int_equal(p(NULL, &x), MX_EUNAUTHORIZED);
}

static void test_parse_overlong(void **state)
{
	(void)state;
	struct mx_xmatrix x;
	char h[8192];
	char longname[300];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	/* A 299-character origin does not fit (and is no server name). */
	snprintf(h, sizeof(h), "X-Matrix origin=\"%s\",key=ed25519:1,sig=x", longname);
	assert_int_equal(p(h, &x), MX_EUNAUTHORIZED);
	/* A 255-character origin is the longest that fits. */
	longname[255] = '\0';
	snprintf(h, sizeof(h), "X-Matrix origin=%s,key=ed25519:1,sig=x", longname);
	assert_int_equal(p(h, &x), 0);
	assert_int_equal(strlen(x.origin), 255);
	/* A 200-character signature does not fit either. */
	char longsig[201];
	memset(longsig, 'A', 200);
	longsig[200] = '\0';
	snprintf(h, sizeof(h), "X-Matrix origin=a.org,key=ed25519:1,sig=%s", longsig);
	assert_int_equal(p(h, &x), MX_EUNAUTHORIZED);
	/* Long unknown parameters are fine up to the header bound... */
	char big[4200];
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[3900] = '\0';
	snprintf(h, sizeof(h), "X-Matrix foo=%s,origin=a.org,key=ed25519:1,sig=x", big);
	assert_int_equal(p(h, &x), 0);
	/* ... and not past it. */
	big[3900] = 'z';
	snprintf(h, sizeof(h), "X-Matrix foo=%s,origin=a.org,key=ed25519:1,sig=x", big);
	assert_int_equal(p(h, &x), MX_EUNAUTHORIZED);
}

/* ---- signing and verifying -------------------------------------------------- */

static void test_sign_vectors(void **state)
{
	(void)state;
	struct mx_signing_key k;
	spec_key(&k);

	char *h = mx_xmatrix_sign(&k, "domain", "remote.example", "GET",
				  "/_matrix/federation/v1/version", NULL);
	assert_non_null(h);
	assert_string_equal(h, "X-Matrix origin=\"domain\",destination=\"remote.example\","
			       "key=\"ed25519:1\",sig=\"" SIG_VERSION "\"");
	free(h);

	json_t *body = parse(SEND_BODY);
	h = mx_xmatrix_sign(&k, "domain", "remote.example", "PUT", SEND_URI, body);
	assert_non_null(h);
	assert_string_equal(h, "X-Matrix origin=\"domain\",destination=\"remote.example\","
			       "key=\"ed25519:1\",sig=\"" SIG_SEND "\"");
	free(h);
	json_decref(body);

	h = mx_xmatrix_sign(&k, "domain", NULL, "GET", "/_matrix/key/v2/server", NULL);
	assert_non_null(h);
	assert_string_equal(h, "X-Matrix origin=\"domain\",key=\"ed25519:1\",sig=\"" SIG_NODEST
			       "\"");
	free(h);
	mx_signing_key_release(&k);
}

static void test_sign_refuses(void **state)
{
	(void)state;
	struct mx_signing_key k;
	spec_key(&k);
	/* Not canonical JSON: a real number. */
	json_t *body = parse("{\"a\":1.5}");
	assert_null(mx_xmatrix_sign(&k, "domain", "remote.example", "PUT", "/x", body));
	json_decref(body);
	/* Not UTF-8. */
	assert_null(mx_xmatrix_sign(&k, "domain", "remote.example", "GET", "/\xff", NULL));
	assert_null(mx_xmatrix_sign(&k, "domain", "remote.example", NULL, "/x", NULL));
	mx_signing_key_release(&k);
}

static void test_round_trip_and_tampering(void **state)
{
	(void)state;
	struct mx_signing_key k, other;
	spec_key(&k);
	assert_int_equal(mx_signing_key_generate(&other), 0);

	json_t *body = parse(SEND_BODY);
	char *h = mx_xmatrix_sign(&k, "domain", "remote.example", "PUT", SEND_URI, body);
	assert_non_null(h);
	struct mx_xmatrix x, t;
	assert_int_equal(mx_xmatrix_parse(h, &x), 0);
	assert_string_equal(x.origin, "domain");
	assert_string_equal(x.destination, "remote.example");
	assert_string_equal(x.key_id, "ed25519:1");
	assert_string_equal(x.sig, SIG_SEND);
	assert_int_equal(mx_xmatrix_verify(&x, "PUT", SEND_URI, body, k.pk), 0);

	/* Each signed part changed. */
	assert_int_equal(mx_xmatrix_verify(&x, "POST", SEND_URI, body, k.pk), MX_EUNAUTHORIZED);
	assert_int_equal(mx_xmatrix_verify(&x, "PUT", "/_matrix/federation/v1/send/1234", body,
					   k.pk),
			 MX_EUNAUTHORIZED);
	t = x;
	memcpy(t.origin, "domain2", sizeof("domain2"));
	assert_int_equal(mx_xmatrix_verify(&t, "PUT", SEND_URI, body, k.pk), MX_EUNAUTHORIZED);
	t = x;
	memcpy(t.destination, "other.example", sizeof("other.example"));
	assert_int_equal(mx_xmatrix_verify(&t, "PUT", SEND_URI, body, k.pk), MX_EUNAUTHORIZED);
	t = x;
	t.destination[0] = '\0'; /* dropped from the header */
	assert_int_equal(mx_xmatrix_verify(&t, "PUT", SEND_URI, body, k.pk), MX_EUNAUTHORIZED);
	json_t *body2 = parse(SEND_BODY);
	json_object_set_new(body2, "pdus", json_pack("[{}]"));
	assert_int_equal(mx_xmatrix_verify(&x, "PUT", SEND_URI, body2, k.pk), MX_EUNAUTHORIZED);
	json_decref(body2);
	assert_int_equal(mx_xmatrix_verify(&x, "PUT", SEND_URI, NULL, k.pk), MX_EUNAUTHORIZED);
	t = x;
	t.sig[5] = t.sig[5] == 'A' ? 'B' : 'A';
	assert_int_equal(mx_xmatrix_verify(&t, "PUT", SEND_URI, body, k.pk), MX_EUNAUTHORIZED);
	t = x;
	memcpy(t.key_id, "ed25519:2", sizeof("ed25519:2")); /* the signed object is the same */
	assert_int_equal(mx_xmatrix_verify(&t, "PUT", SEND_URI, body, k.pk), 0);
	memcpy(t.key_id, "curve25519:1", sizeof("curve25519:1"));
	assert_int_equal(mx_xmatrix_verify(&t, "PUT", SEND_URI, body, k.pk), MX_EUNAUTHORIZED);
	/* Another key. */
	assert_int_equal(mx_xmatrix_verify(&x, "PUT", SEND_URI, body, other.pk), MX_EUNAUTHORIZED);
	free(h);
	json_decref(body);

	/* Without content: content {} is not the same request. */
	h = mx_xmatrix_sign(&k, "domain", "remote.example", "GET", "/_matrix/federation/v1/version",
			    NULL);
	assert_int_equal(mx_xmatrix_parse(h, &x), 0);
	assert_string_equal(x.sig, SIG_VERSION);
	assert_int_equal(mx_xmatrix_verify(&x, "GET", "/_matrix/federation/v1/version", NULL, k.pk),
			 0);
	json_t *empty = json_object();
	assert_int_equal(mx_xmatrix_verify(&x, "GET", "/_matrix/federation/v1/version", empty,
					   k.pk),
			 MX_EUNAUTHORIZED);
	json_decref(empty);
	free(h);

	/* A header without destination verifies without one. */
	h = mx_xmatrix_sign(&k, "domain", NULL, "GET", "/_matrix/key/v2/server", NULL);
	assert_int_equal(mx_xmatrix_parse(h, &x), 0);
	assert_string_equal(x.destination, "");
	assert_int_equal(mx_xmatrix_verify(&x, "GET", "/_matrix/key/v2/server", NULL, k.pk), 0);
	free(h);
	mx_signing_key_release(&k);
	mx_signing_key_release(&other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_spec_example),
		cmocka_unit_test(test_parse_unquoted_and_case),
		cmocka_unit_test(test_parse_whitespace),
		cmocka_unit_test(test_parse_escapes_and_unknown),
		cmocka_unit_test(test_parse_missing_and_duplicates),
		cmocka_unit_test(test_parse_junk),
		cmocka_unit_test(test_parse_overlong),
		cmocka_unit_test(test_sign_vectors),
		cmocka_unit_test(test_sign_refuses),
		cmocka_unit_test(test_round_trip_and_tampering),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
