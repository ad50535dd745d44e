/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for src/core/rand and src/crypto: randomness, hashes, signing
 * keys and their file format, JSON signatures, event content hashes and
 * password hashing. The spec's cryptographic test vectors come first.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base64.h"
#include "core/canonjson.h"
#include "core/error.h"
#include "core/rand.h"
#include "crypto/hash.h"
#include "crypto/keys.h"
#include "crypto/password.h"
#include "crypto/sign.h"

/* SPEC: appendices#signing-key */
#define SPEC_SEED_B64 "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"
#define SPEC_SERVER_NAME "domain"
#define SPEC_KEY_ID "ed25519:1"
/* The public key for SPEC_SEED_B64 (computed independently with Python's cryptography). */
#define SPEC_PUBLIC_B64 "XGX0JRS2Af3be3knz2fBiRbApjm2Dh61gXDJA8kcJNI"

static void spec_key(struct mx_signing_key *k)
{
	unsigned char seed[32];
	assert_int_equal(mx_base64_decode_exact(SPEC_SEED_B64, MX_BASE64_STD, seed, 32), 0);
	assert_int_equal(mx_signing_key_from_seed(k, "1", seed), 0);
	assert_string_equal(k->key_id, SPEC_KEY_ID);
}

static json_t *parse(const char *s)
{
	int err = 1;
	json_t *v = mx_json_parse_strict(s, strlen(s), &err);
	assert_non_null(v);
	assert_int_equal(err, 0);
	return v;
}

static char *canon(const json_t *v)
{
	char *s = mx_canonjson_dumps(v, MX_BUF_UNLIMITED, NULL);
	assert_non_null(s);
	return s;
}

/* The canonical forms of a and b are identical. */
static void assert_json_equal(const json_t *a, const char *b_text)
{
	json_t *b = parse(b_text);
	char *ca = canon(a), *cb = canon(b);
	assert_string_equal(ca, cb);
	free(ca);
	free(cb);
	json_decref(b);
}

static const char *sig_of(const json_t *obj, const char *entity, const char *key_id)
{
	json_t *s = json_object_get(json_object_get(json_object_get(obj, "signatures"), entity),
				    key_id);
	return json_string_value(s);
}

/* ---- rand ---------------------------------------------------------------- */

static void test_rand(void **state)
{
	(void)state;
	char a[33], b[33];
	mx_rand_token(a, sizeof(a));
	mx_rand_token(b, sizeof(b));
	assert_int_equal(strlen(a), 32);
	assert_string_not_equal(a, b);
	for (size_t i = 0; i < 32; i++) {
		char c = a[i];
		assert_true((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			    (c >= '0' && c <= '9'));
	}
	char one[1] = {'x'};
	mx_rand_token(one, 1);
	assert_int_equal(one[0], '\0');
	mx_rand_token(NULL, 0); /* writes nothing */

	/* Every one of the 62 characters turns up, and nothing else does. */
	char big[20001];
	int seen[256] = {0};
	mx_rand_token(big, sizeof(big));
	for (size_t i = 0; i < sizeof(big) - 1; i++)
		seen[(unsigned char)big[i]]++;
	int kinds = 0;
	for (int c = 0; c < 256; c++) {
		if (!seen[c])
			continue;
		kinds++;
		/* expected ~322 each; 150 is far outside any plausible deviation */
		assert_true(seen[c] > 150);
	}
	assert_int_equal(kinds, 62);

	assert_true(mx_rand_u64() != mx_rand_u64() || mx_rand_u64() != mx_rand_u64());
	unsigned char zero[32] = {0}, buf[32] = {0};
	mx_rand_bytes(buf, sizeof(buf));
	assert_memory_not_equal(buf, zero, sizeof(buf));
}

/* ---- hash ---------------------------------------------------------------- */

static void test_sha256(void **state)
{
	(void)state;
	/* FIPS 180-2 appendix B.1 */
	static const unsigned char abc[32] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
		0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
		0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
	unsigned char out[32];
	mx_sha256("abc", 3, out);
	assert_memory_equal(out, abc, 32);

	char hex[65];
	assert_int_equal(mx_hash_token("abc", hex), 0);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(mx_hash_token("", hex), 0);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* ---- keys ---------------------------------------------------------------- */

static void test_key_from_seed(void **state)
{
	(void)state;
	struct mx_signing_key k;
	spec_key(&k);
	char *pub = mx_signing_key_public_b64(&k);
	assert_string_equal(pub, SPEC_PUBLIC_B64);
	free(pub);
	assert_string_equal(mx_signing_key_version(&k), "1");
	/* Re-deriving in place from the key's own seed and version is a no-op. */
	struct mx_signing_key copy = k;
	assert_int_equal(mx_signing_key_from_seed(&k, mx_signing_key_version(&k), k.seed), 0);
	assert_memory_equal(&copy, &k, sizeof(k));
	mx_signing_key_release(&copy);

	unsigned char seed[32] = {0};
	assert_int_equal(mx_signing_key_from_seed(&k, "", seed), MX_EINVALID);
	assert_int_equal(mx_signing_key_from_seed(&k, "a-b", seed), MX_EINVALID);
	assert_int_equal(mx_signing_key_from_seed(&k, "a:b", seed), MX_EINVALID);
	assert_true(mx_signing_key_version_valid("a_AbC9"));
	/* key_id[64] holds "ed25519:" + 55 characters + NUL, no more. */
	char v[64];
	memset(v, 'x', sizeof(v));
	v[55] = '\0';
	assert_true(mx_signing_key_version_valid(v));
	v[55] = 'x';
	v[56] = '\0';
	assert_false(mx_signing_key_version_valid(v));
	mx_signing_key_release(&k);
}

static void test_key_generate(void **state)
{
	(void)state;
	struct mx_signing_key a, b;
	assert_int_equal(mx_signing_key_generate(&a), 0);
	assert_int_equal(mx_signing_key_generate(&b), 0);
	assert_int_equal(strlen(a.key_id), strlen("ed25519:a_XXXX"));
	assert_true(strncmp(a.key_id, "ed25519:a_", 10) == 0);
	assert_true(mx_signing_key_version_valid(mx_signing_key_version(&a)));
	assert_memory_not_equal(a.seed, b.seed, 32);
	/* The pair is consistent: it signs and verifies. */
	json_t *o = parse("{\"x\":1}");
	assert_int_equal(mx_sign_json(o, "example.org", &a), 0);
	assert_int_equal(mx_verify_json(o, "example.org", a.key_id, a.pk), 0);
	json_decref(o);
	mx_signing_key_release(&a);
	mx_signing_key_release(&b);
}

static char tmpdir[] = "/tmp/myelin-test-keys-XXXXXX";

static char *tmp_path(const char *name)
{
	size_t n = strlen(tmpdir) + strlen(name) + 2;
	char *p = malloc(n);
	assert_non_null(p);
	snprintf(p, n, "%s/%s", tmpdir, name);
	return p;
}

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static int load_text(const char *text, struct mx_signing_key *k)
{
	char *p = tmp_path("text.key");
	write_file(p, text, strlen(text));
	int rc = mx_signing_key_load(k, p);
	unlink(p);
	free(p);
	return rc;
}

static void test_key_file(void **state)
{
	(void)state;
	struct mx_signing_key k, l;
	char *p = tmp_path("signing.key");

	/* Synapse's format, with the spec's seed. */
	assert_int_equal(load_text("ed25519 1 " SPEC_SEED_B64 "\n", &k), 0);
	assert_string_equal(k.key_id, SPEC_KEY_ID);
	char *pub = mx_signing_key_public_b64(&k);
	assert_string_equal(pub, SPEC_PUBLIC_B64);
	free(pub);
	/* No trailing newline, CRLF, extra blank lines, padding: all fine. */
	assert_int_equal(load_text("ed25519 a_AbCd " SPEC_SEED_B64, &l), 0);
	assert_string_equal(l.key_id, "ed25519:a_AbCd");
	assert_memory_equal(l.seed, k.seed, 32);
	assert_int_equal(load_text("\n ed25519\ta_x  " SPEC_SEED_B64 "=\r\n\n", &l), 0);
	assert_string_equal(l.key_id, "ed25519:a_x");
	assert_memory_equal(l.pk, k.pk, 32);
	/* Several keys: the first is used, all must be valid. */
	assert_int_equal(load_text("ed25519 new " SPEC_SEED_B64 "\n"
				   "ed25519 old AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n", &l), 0);
	assert_string_equal(l.key_id, "ed25519:new");
	assert_int_equal(load_text("ed25519 new " SPEC_SEED_B64 "\nbroken\n", &l), MX_EINVALID);

	static const char *const bad[] = {
		"",
		"\n\n",
		"ed25519 1\n",
		"ed25519 1 " SPEC_SEED_B64 " extra\n",
		"curve25519 1 " SPEC_SEED_B64 "\n",
		"ed25519 a-b " SPEC_SEED_B64 "\n",
		"ed25519 1 Zm9v\n", /* not 32 bytes */
		"ed25519 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW-3XA1\n", /* URL alphabet */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(load_text(bad[i], &l), MX_EINVALID);
	/* A NUL byte, and a file past the size limit. */
	write_file(p, "ed25519 1 \0", 11);
	assert_int_equal(mx_signing_key_load(&l, p), MX_EINVALID);
	char *huge = malloc(MX_SIGNING_KEY_FILE_MAX + 100);
	assert_non_null(huge);
	memset(huge, '\n', MX_SIGNING_KEY_FILE_MAX + 100);
	memcpy(huge, "ed25519 1 " SPEC_SEED_B64, strlen("ed25519 1 " SPEC_SEED_B64));
	write_file(p, huge, MX_SIGNING_KEY_FILE_MAX);
	assert_int_equal(mx_signing_key_load(&l, p), 0);
	write_file(p, huge, MX_SIGNING_KEY_FILE_MAX + 1);
	assert_int_equal(mx_signing_key_load(&l, p), MX_EINVALID);
	free(huge);
	unlink(p);
	assert_int_equal(mx_signing_key_load(&l, p), MX_ENOTFOUND);

	/* Save writes the canonical line, mode 0600, and loads back. */
	assert_int_equal(mx_signing_key_save(&k, p), 0);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	char text[200] = {0};
	FILE *f = fopen(p, "rb");
	assert_non_null(f);
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	assert_string_equal(text, "ed25519 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0\n");
	assert_int_equal(mx_signing_key_load(&l, p), 0);
	assert_memory_equal(&l, &k, sizeof(k));

	/* Save replaces an existing file, and leaves no temporary files. */
	struct mx_signing_key g;
	assert_int_equal(mx_signing_key_generate(&g), 0);
	assert_int_equal(mx_signing_key_save(&g, p), 0);
	assert_int_equal(mx_signing_key_load(&l, p), 0);
	assert_memory_equal(&l, &g, sizeof(g));
	assert_int_equal(count_entries(tmpdir), 1);

	/* Saving into a missing directory fails cleanly. */
	char *missing = tmp_path("no/such/dir.key");
	assert_int_equal(mx_signing_key_save(&k, missing), MX_EIO);
	free(missing);

	unlink(p);
	free(p);
	mx_signing_key_release(&k);
	mx_signing_key_release(&l);
	mx_signing_key_release(&g);
}

static void test_key_load_or_generate(void **state)
{
	(void)state;
	struct mx_signing_key a, b;
	bool generated = false;
	char *p = tmp_path("auto.key");

	unlink(p);
	assert_int_equal(mx_signing_key_load_or_generate(&a, p, &generated), 0);
	assert_true(generated);
	assert_int_equal(mx_signing_key_load_or_generate(&b, p, &generated), 0);
	assert_false(generated);
	assert_memory_equal(&a, &b, sizeof(a));
	/* An invalid file is an error, never silently replaced. */
	write_file(p, "garbage\n", 8);
	assert_int_equal(mx_signing_key_load_or_generate(&b, p, NULL), MX_EINVALID);
	assert_int_equal(load_text("garbage\n", &b), MX_EINVALID);
	unlink(p);
	free(p);
	mx_signing_key_release(&a);
	mx_signing_key_release(&b);
}

/* ---- sign ---------------------------------------------------------------- */

/* SPEC: appendices#json-signing: signing {} with the spec key. */
static void test_spec_sign_empty(void **state)
{
	(void)state;
	struct mx_signing_key k;
	spec_key(&k);
	json_t *o = parse("{}");
	assert_int_equal(mx_sign_json(o, SPEC_SERVER_NAME, &k), 0);
	assert_json_equal(o, "{\n"
			     "    \"signatures\": {\n"
			     "        \"domain\": {\n"
			     "            \"ed25519:1\": \"K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7"
			     "Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ\"\n"
			     "        }\n"
			     "    }\n"
			     "}");
	assert_int_equal(mx_verify_json(o, SPEC_SERVER_NAME, SPEC_KEY_ID, k.pk), 0);
	assert_int_equal(mx_verify_json_b64key(o, SPEC_SERVER_NAME, SPEC_KEY_ID, SPEC_PUBLIC_B64),
			 0);
	json_decref(o);
	mx_signing_key_release(&k);
}

/* SPEC: appendices#json-signing: signing {"one":1,"two":"Two"} with the spec key. */
static void test_spec_sign_one_two(void **state)
{
	(void)state;
	struct mx_signing_key k;
	spec_key(&k);
	json_t *o = parse("{\n    \"one\": 1,\n    \"two\": \"Two\"\n}");
	assert_int_equal(mx_sign_json(o, SPEC_SERVER_NAME, &k), 0);
	assert_json_equal(o, "{\n"
			     "    \"one\": 1,\n"
			     "    \"signatures\": {\n"
			     "        \"domain\": {\n"
			     "            \"ed25519:1\": \"KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN"
			     "6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw\"\n"
			     "        }\n"
			     "    },\n"
			     "    \"two\": \"Two\"\n"
			     "}");
	assert_int_equal(mx_verify_json(o, SPEC_SERVER_NAME, SPEC_KEY_ID, k.pk), 0);
	json_decref(o);
	mx_signing_key_release(&k);
}

/*
 * SPEC: appendices#signing-details: "unsigned" and other signatures are
 * preserved and not covered; the spec's own vector re-checked with them
 * present.
 */
static void test_sign_preserves(void **state)
{
	(void)state;
	struct mx_signing_key k;
	spec_key(&k);
	json_t *o = parse("{\"one\":1,\"two\":\"Two\",\"unsigned\":{\"age_ts\":922834800000},"
			  "\"signatures\":{\"other.org\":{\"ed25519:x\":\"abc\"},"
			  "\"domain\":{\"ed25519:0\":\"old\"}}}");
	json_t *unsigned_before = json_object_get(o, "unsigned");
	assert_int_equal(mx_sign_json(o, SPEC_SERVER_NAME, &k), 0);
	assert_ptr_equal(json_object_get(o, "unsigned"), unsigned_before);
	assert_string_equal(sig_of(o, SPEC_SERVER_NAME, SPEC_KEY_ID),
			    "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kY"
			    "dD13EIMJpvhJI+6Bw");
	assert_string_equal(sig_of(o, SPEC_SERVER_NAME, "ed25519:0"), "old");
	assert_string_equal(sig_of(o, "other.org", "ed25519:x"), "abc");
	assert_json_equal(json_object_get(o, "unsigned"), "{\"age_ts\":922834800000}");

	/* Changing unsigned or adding signatures does not break the signature... */
	json_object_set_new(json_object_get(o, "unsigned"), "age", json_integer(5));
	json_object_set_new(json_object_get(o, "signatures"), "third.org", json_object());
	assert_int_equal(mx_verify_json(o, SPEC_SERVER_NAME, SPEC_KEY_ID, k.pk), 0);
	/* ...changing anything else does. */
	json_object_set_new(o, "two", json_string("Three"));
	assert_int_equal(mx_verify_json(o, SPEC_SERVER_NAME, SPEC_KEY_ID, k.pk), MX_EFORBIDDEN);
	json_object_set_new(o, "two", json_string("Two"));
	json_object_set_new(o, "three", json_integer(3));
	assert_int_equal(mx_verify_json(o, SPEC_SERVER_NAME, SPEC_KEY_ID, k.pk), MX_EFORBIDDEN);
	json_object_del(o, "three");
	assert_int_equal(mx_verify_json(o, SPEC_SERVER_NAME, SPEC_KEY_ID, k.pk), 0);
	json_decref(o);
	mx_signing_key_release(&k);
}

static void test_verify_failures(void **state)
{
	(void)state;
	struct mx_signing_key k, other;
	spec_key(&k);
	assert_int_equal(mx_signing_key_generate(&other), 0);
	json_t *o = parse("{\"one\":1,\"two\":\"Two\"}");
	assert_int_equal(mx_sign_json(o, SPEC_SERVER_NAME, &k), 0);

	/* Wrong key, entity or key id. */
	assert_int_equal(mx_verify_json(o, SPEC_SERVER_NAME, SPEC_KEY_ID, other.pk), MX_EFORBIDDEN);
	assert_int_equal(mx_verify_json(o, "elsewhere", SPEC_KEY_ID, k.pk), MX_EFORBIDDEN);
	assert_int_equal(mx_verify_json(o, SPEC_SERVER_NAME, "ed25519:2", k.pk), MX_EFORBIDDEN);
	/* SPEC: appendices#checking-for-a-signature step 2: unknown algorithms fail. */
	json_object_set_new(json_object_get(json_object_get(o, "signatures"), SPEC_SERVER_NAME),
			    "curve25519:1",
			    json_string(sig_of(o, SPEC_SERVER_NAME, SPEC_KEY_ID)));
	assert_int_equal(mx_verify_json(o, SPEC_SERVER_NAME, "curve25519:1", k.pk), MX_EFORBIDDEN);
	/* Bad public key text. */
	assert_int_equal(mx_verify_json_b64key(o, SPEC_SERVER_NAME, SPEC_KEY_ID, "Zm9v"),
			 MX_EINVALID);
	assert_int_equal(mx_verify_json_b64key(o, SPEC_SERVER_NAME, SPEC_KEY_ID, SPEC_PUBLIC_B64 "="),
			 0);

	/* SPEC: appendices#checking-for-a-signature step 4: undecodable or mangled signatures. */
	json_t *ent = json_object_get(json_object_get(o, "signatures"), SPEC_SERVER_NAME);
	char *good = strdup(sig_of(o, SPEC_SERVER_NAME, SPEC_KEY_ID));
	static const char *const mangled[] = {"", "!!!!", "Zm9v", "K8280/U9SSy9IVtjBuVeLr+H"};
	for (size_t i = 0; i < sizeof(mangled) / sizeof(mangled[0]); i++) {
		json_object_set_new(ent, SPEC_KEY_ID, json_string(mangled[i]));
		assert_int_equal(mx_verify_json(o, SPEC_SERVER_NAME, SPEC_KEY_ID, k.pk),
				 MX_EFORBIDDEN);
	}
	char flipped[128];
	snprintf(flipped, sizeof(flipped), "%s", good);
	flipped[10] = flipped[10] == 'A' ? 'B' : 'A';
	json_object_set_new(ent, SPEC_KEY_ID, json_string(flipped));
	assert_int_equal(mx_verify_json(o, SPEC_SERVER_NAME, SPEC_KEY_ID, k.pk), MX_EFORBIDDEN);
	/* Padded base64 of the right signature is accepted. */
	snprintf(flipped, sizeof(flipped), "%s==", good);
	json_object_set_new(ent, SPEC_KEY_ID, json_string(flipped));
	assert_int_equal(mx_verify_json(o, SPEC_SERVER_NAME, SPEC_KEY_ID, k.pk), 0);
	/* Wrong types are bad JSON, not just a failed check. */
	json_object_set_new(ent, SPEC_KEY_ID, json_integer(1));
	assert_int_equal(mx_verify_json(o, SPEC_SERVER_NAME, SPEC_KEY_ID, k.pk), MX_EBADJSON);
	json_object_set_new(json_object_get(o, "signatures"), SPEC_SERVER_NAME, json_string("x"));
	assert_int_equal(mx_verify_json(o, SPEC_SERVER_NAME, SPEC_KEY_ID, k.pk), MX_EBADJSON);
	json_object_set_new(o, "signatures", json_array());
	assert_int_equal(mx_verify_json(o, SPEC_SERVER_NAME, SPEC_KEY_ID, k.pk), MX_EBADJSON);
	json_object_del(o, "signatures");
	assert_int_equal(mx_verify_json(o, SPEC_SERVER_NAME, SPEC_KEY_ID, k.pk), MX_EFORBIDDEN);
	free(good);
	json_decref(o);

	/* Not an object; not encodable. */
	o = parse("[]");
	assert_int_equal(mx_verify_json(o, SPEC_SERVER_NAME, SPEC_KEY_ID, k.pk), MX_EBADJSON);
	assert_int_equal(mx_sign_json(o, SPEC_SERVER_NAME, &k), MX_EBADJSON);
	json_decref(o);
	o = parse("{\"f\":1.5,\"signatures\":{\"domain\":{\"ed25519:1\":\"" SPEC_PUBLIC_B64
		  "\"}}}");
	assert_int_equal(mx_sign_json(o, SPEC_SERVER_NAME, &k), MX_EBADJSON);
	assert_string_equal(sig_of(o, SPEC_SERVER_NAME, SPEC_KEY_ID), SPEC_PUBLIC_B64);
	json_decref(o);
	/* A malformed signatures member is refused and left alone. */
	o = parse("{\"signatures\":{\"domain\":[]}}");
	assert_int_equal(mx_sign_json(o, SPEC_SERVER_NAME, &k), MX_EBADJSON);
	assert_true(json_is_array(json_object_get(json_object_get(o, "signatures"), "domain")));
	json_decref(o);
	o = parse("{\"signatures\":\"no\"}");
	assert_int_equal(mx_sign_json(o, SPEC_SERVER_NAME, &k), MX_EBADJSON);
	json_decref(o);
	/* An entity that is not UTF-8. */
	o = parse("{}");
	assert_int_equal(mx_sign_json(o, "\xff", &k), MX_EINVALID);
	assert_null(json_object_get(o, "signatures"));
	json_decref(o);

	mx_signing_key_release(&k);
	mx_signing_key_release(&other);
}

/* ---- events: content hash and signature --------------------------------- */

/*
 * What the event layer will do (SPEC: server-server-api#signing-events):
 * content hash, then sign the redacted copy and copy the signature back.
 * Redaction is not this module's; the callers here pass the keys to keep.
 */
static void hash_and_sign_event(json_t *ev, const struct mx_signing_key *k,
				const char *const *content_keep)
{
	char hash[64];
	assert_int_equal(mx_event_content_hash(ev, hash), 0);
	assert_int_equal(strlen(hash), MX_SHA256_B64_LEN);
	json_t *hashes = json_object();
	json_object_set_new(hashes, "sha256", json_string(hash));
	json_object_set_new(ev, "hashes", hashes);

	json_t *redacted = json_deep_copy(ev);
	if (content_keep) {
		json_t *content = json_object_get(redacted, "content");
		json_t *kept = json_object();
		for (; *content_keep; content_keep++) {
			json_t *v = json_object_get(content, *content_keep);
			if (v)
				json_object_set(kept, *content_keep, v);
		}
		json_object_set_new(redacted, "content", kept);
	}
	json_object_del(redacted, "unsigned");
	assert_int_equal(mx_sign_json(redacted, SPEC_SERVER_NAME, k), 0);
	json_object_set(ev, "signatures", json_object_get(redacted, "signatures"));
	json_decref(redacted);
}

/* SPEC: appendices#event-signing: the minimally-sized event. */
static void test_spec_event_minimal(void **state)
{
	(void)state;
	struct mx_signing_key k;
	spec_key(&k);
	json_t *ev = parse("{\n"
			   "    \"room_id\": \"!x:domain\",\n"
			   "    \"sender\": \"@a:domain\",\n"
			   "    \"origin\": \"domain\",\n"
			   "    \"origin_server_ts\": 1000000,\n"
			   "    \"signatures\": {},\n"
			   "    \"hashes\": {},\n"
			   "    \"type\": \"X\",\n"
			   "    \"content\": {},\n"
			   "    \"prev_events\": [],\n"
			   "    \"auth_events\": [],\n"
			   "    \"depth\": 3,\n"
			   "    \"unsigned\": {\n"
			   "        \"age_ts\": 1000000\n"
			   "    }\n"
			   "}");
	char hash[64];
	assert_int_equal(mx_event_content_hash(ev, hash), 0);
	assert_string_equal(hash, "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos");
	/* Type "X" has no content to redact. */
	static const char *const keep_none[] = {NULL};
	hash_and_sign_event(ev, &k, keep_none);
	assert_json_equal(ev, "{\n"
			      "    \"auth_events\": [],\n"
			      "    \"content\": {},\n"
			      "    \"depth\": 3,\n"
			      "    \"hashes\": {\n"
			      "        \"sha256\": \"5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos\"\n"
			      "    },\n"
			      "    \"origin\": \"domain\",\n"
			      "    \"origin_server_ts\": 1000000,\n"
			      "    \"prev_events\": [],\n"
			      "    \"room_id\": \"!x:domain\",\n"
			      "    \"sender\": \"@a:domain\",\n"
			      "    \"signatures\": {\n"
			      "        \"domain\": {\n"
			      "            \"ed25519:1\": \"KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16A"
			      "qLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg\"\n"
			      "        }\n"
			      "    },\n"
			      "    \"type\": \"X\",\n"
			      "    \"unsigned\": {\n"
			      "        \"age_ts\": 1000000\n"
			      "    }\n"
			      "}");
	/* The content hash ignores hashes/signatures/unsigned, so it is stable. */
	assert_int_equal(mx_event_content_hash(ev, hash), 0);
	assert_string_equal(hash, "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos");
	assert_int_equal(mx_verify_json(ev, SPEC_SERVER_NAME, SPEC_KEY_ID, k.pk), 0);
	json_decref(ev);
	mx_signing_key_release(&k);
}

/*
 * SPEC: appendices#event-signing: the event with redactable content. The
 * signature is over the redacted event, which for m.room.message has empty
 * content; "origin" and "event_id" survive redaction in the room versions
 * this example predates (v11 would drop "origin" and change the signature).
 */
static void test_spec_event_redactable(void **state)
{
	(void)state;
	struct mx_signing_key k;
	spec_key(&k);
	json_t *ev = parse("{\n"
			   "    \"content\": {\n"
			   "        \"body\": \"Here is the message content\"\n"
			   "    },\n"
			   "    \"event_id\": \"$0:domain\",\n"
			   "    \"origin\": \"domain\",\n"
			   "    \"origin_server_ts\": 1000000,\n"
			   "    \"type\": \"m.room.message\",\n"
			   "    \"room_id\": \"!r:domain\",\n"
			   "    \"sender\": \"@u:domain\",\n"
			   "    \"signatures\": {},\n"
			   "    \"unsigned\": {\n"
			   "        \"age_ts\": 1000000\n"
			   "    }\n"
			   "}");
	static const char *const keep_none[] = {NULL};
	hash_and_sign_event(ev, &k, keep_none);
	assert_json_equal(ev, "{\n"
			      "    \"content\": {\n"
			      "        \"body\": \"Here is the message content\"\n"
			      "    },\n"
			      "    \"event_id\": \"$0:domain\",\n"
			      "    \"hashes\": {\n"
			      "        \"sha256\": \"onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g\"\n"
			      "    },\n"
			      "    \"origin\": \"domain\",\n"
			      "    \"origin_server_ts\": 1000000,\n"
			      "    \"type\": \"m.room.message\",\n"
			      "    \"room_id\": \"!r:domain\",\n"
			      "    \"sender\": \"@u:domain\",\n"
			      "    \"signatures\": {\n"
			      "        \"domain\": {\n"
			      "            \"ed25519:1\": \"Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC"
			      "78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA\"\n"
			      "        }\n"
			      "    },\n"
			      "    \"unsigned\": {\n"
			      "        \"age_ts\": 1000000\n"
			      "    }\n"
			      "}");
	/* The full event's signature does not verify; the redacted one's does. */
	assert_int_equal(mx_verify_json(ev, SPEC_SERVER_NAME, SPEC_KEY_ID, k.pk), MX_EFORBIDDEN);
	json_object_set_new(ev, "content", json_object());
	assert_int_equal(mx_verify_json(ev, SPEC_SERVER_NAME, SPEC_KEY_ID, k.pk), 0);
	json_decref(ev);
	mx_signing_key_release(&k);
}

static void test_content_hash_errors(void **state)
{
	(void)state;
	char hash[64] = "junk";
	json_t *v = parse("[]");
	assert_int_equal(mx_event_content_hash(v, hash), MX_EBADJSON);
	assert_string_equal(hash, "");
	json_decref(v);
	v = parse("{\"content\":{\"x\":0.5}}");
	assert_int_equal(mx_event_content_hash(v, hash), MX_EBADJSON);
	json_decref(v);
	/* Only the three top-level keys are excluded. */
	json_t *a = parse("{\"type\":\"X\",\"content\":{\"hashes\":1}}");
	json_t *b = parse("{\"type\":\"X\",\"content\":{}}");
	char ha[64], hb[64];
	assert_int_equal(mx_event_content_hash(a, ha), 0);
	assert_int_equal(mx_event_content_hash(b, hb), 0);
	assert_string_not_equal(ha, hb);
	json_object_set_new(b, "hashes", json_string("anything"));
	json_object_set_new(b, "signatures", json_null());
	json_object_set_new(b, "unsigned", json_true());
	assert_int_equal(mx_event_content_hash(b, ha), 0);
	assert_string_equal(ha, hb);
	json_decref(a);
	json_decref(b);
}

/* ---- password ------------------------------------------------------------ */

static void test_password(void **state)
{
	(void)state;
	const struct mx_password_cost fast = MX_PASSWORD_COST_MIN;
	char h1[MX_PASSWORD_HASH_MAX], h2[MX_PASSWORD_HASH_MAX];

	assert_int_equal(mx_password_hash("correct horse", h1, &fast), 0);
	assert_int_equal(mx_password_hash("correct horse", h2, &fast), 0);
	assert_true(strncmp(h1, "$argon2id$", 10) == 0);
	assert_string_not_equal(h1, h2); /* fresh salt each time */
	assert_int_equal(mx_password_verify(h1, "correct horse"), 0);
	assert_int_equal(mx_password_verify(h2, "correct horse"), 0);
	assert_int_equal(mx_password_verify(h1, "correct horsf"), MX_EFORBIDDEN);
	assert_int_equal(mx_password_verify(h1, "correct hors"), MX_EFORBIDDEN);
	assert_int_equal(mx_password_verify(h1, ""), MX_EFORBIDDEN);

	/* The empty password and non-ASCII passwords work like any other. */
	assert_int_equal(mx_password_hash("", h2, &fast), 0);
	assert_int_equal(mx_password_verify(h2, ""), 0);
	assert_int_equal(mx_password_verify(h2, " "), MX_EFORBIDDEN);
	assert_int_equal(mx_password_hash("p\xc3\xa4ss", h2, &fast), 0);
	assert_int_equal(mx_password_verify(h2, "p\xc3\xa4ss"), 0);

	/* 512 bytes is the limit. */
	char longpw[MX_PASSWORD_MAX_LEN + 2];
	memset(longpw, 'p', sizeof(longpw));
	longpw[MX_PASSWORD_MAX_LEN] = '\0';
	assert_int_equal(mx_password_hash(longpw, h2, &fast), 0);
	assert_int_equal(mx_password_verify(h2, longpw), 0);
	longpw[MX_PASSWORD_MAX_LEN] = 'p';
	longpw[MX_PASSWORD_MAX_LEN + 1] = '\0';
	assert_int_equal(mx_password_hash(longpw, h2, &fast), MX_EINVALIDPARAM);
	assert_string_equal(h2, "");
	assert_int_equal(mx_password_verify(h1, longpw), MX_EFORBIDDEN);

	/* Hashes that are not ours never match. */
	assert_int_equal(mx_password_verify("", "x"), MX_EFORBIDDEN);
	assert_int_equal(mx_password_verify("$2b$12$abcdefghijklmnopqrstuuJ3Gm0pY2LK5tEwqfu9h0fCuQzbqVrWy",
					    "x"), MX_EFORBIDDEN);
	assert_int_equal(mx_password_verify("$argon2id$v=19$m=1,t=1,p=1$broken", "x"), MX_EFORBIDDEN);

	/* Cost changes are detected for rehashing. */
	assert_false(mx_password_needs_rehash(h1, &fast));
	assert_true(mx_password_needs_rehash(h1, NULL));
	assert_true(mx_password_needs_rehash("$2b$12$whatever", &fast));
	assert_true(mx_password_needs_rehash("", &fast));

	/* An impossible cost fails rather than producing a weak hash. */
	const struct mx_password_cost silly = {0, 0};
	assert_int_equal(mx_password_hash("x", h2, &silly), MX_EUNKNOWN);
}

/* The default (interactive) cost, once: slow-ish (~64 MiB) but must work. */
static void test_password_default_cost(void **state)
{
	(void)state;
	char h[MX_PASSWORD_HASH_MAX];
	assert_int_equal(mx_password_hash("pw", h, NULL), 0);
	assert_false(mx_password_needs_rehash(h, NULL));
	assert_int_equal(mx_password_verify(h, "pw"), 0);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return rmdir(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rand),
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_key_from_seed),
		cmocka_unit_test(test_key_generate),
		cmocka_unit_test(test_key_file),
		cmocka_unit_test(test_key_load_or_generate),
		cmocka_unit_test(test_spec_sign_empty),
		cmocka_unit_test(test_spec_sign_one_two),
		cmocka_unit_test(test_sign_preserves),
		cmocka_unit_test(test_verify_failures),
		cmocka_unit_test(test_spec_event_minimal),
		cmocka_unit_test(test_spec_event_redactable),
		cmocka_unit_test(test_content_hash_errors),
		cmocka_unit_test(test_password),
		cmocka_unit_test(test_password_default_cost),
	};
	if (mx_rand_init())
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
