/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for src/core/base64: unpadded and URL-safe base64. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/error.h"
#include "core/rand.h"

static void check_encode(const char *plain, size_t n, enum mx_base64_alphabet a,
			 const char *want)
{
	char *got = mx_base64_encode(plain, n, a);
	assert_string_equal(got, want);
	assert_int_equal(strlen(got), mx_base64_encoded_len(n));
	free(got);

	struct mx_buf b;
	mx_buf_init(&b, MX_BUF_UNLIMITED);
	assert_int_equal(mx_buf_puts(&b, ">"), 0);
	assert_int_equal(mx_base64_encode_buf(&b, plain, n, a), 0);
	assert_string_equal(b.data + 1, want);
	mx_buf_release(&b);
}

/* Decode in (NUL-terminated) and expect exactly n bytes equal to want. */
static void check_decode(const char *in, enum mx_base64_alphabet a, const char *want,
			 size_t n)
{
	unsigned char out[128];
	size_t got = 999;
	assert_int_equal(mx_base64_decode(in, strlen(in), a, out, sizeof(out), &got), 0);
	assert_int_equal(got, n);
	assert_memory_equal(out, want, n);
}

static int decode_rc(const char *in, enum mx_base64_alphabet a)
{
	unsigned char out[128];
	size_t got = 0;
	return mx_base64_decode(in, strlen(in), a, out, sizeof(out), &got);
}

/* SPEC: appendices#unpadded-base64: the UNPADDED_BASE64 examples. */
static const struct {
	const char *plain, *b64, *padded;
} spec_vectors[] = {
	{"", "", ""},
	{"f", "Zg", "Zg=="},
	{"fo", "Zm8", "Zm8="},
	{"foo", "Zm9v", "Zm9v"},
	{"foob", "Zm9vYg", "Zm9vYg=="},
	{"fooba", "Zm9vYmE", "Zm9vYmE="},
	{"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

static void test_spec_examples(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(spec_vectors) / sizeof(spec_vectors[0]); i++) {
		const char *p = spec_vectors[i].plain;
		/* SPEC: appendices#unpadded-base64 */
		check_encode(p, strlen(p), MX_BASE64_STD, spec_vectors[i].b64);
		check_decode(spec_vectors[i].b64, MX_BASE64_STD, p, strlen(p));
		/* SPEC: appendices#unpadded-base64: "SHOULD accept input with or without padding" */
		check_decode(spec_vectors[i].padded, MX_BASE64_STD, p, strlen(p));
		/* No characters outside A-Za-z0-9 here, so the URL alphabet agrees. */
		check_encode(p, strlen(p), MX_BASE64_URL, spec_vectors[i].b64);
		check_decode(spec_vectors[i].padded, MX_BASE64_URL, p, strlen(p));
	}
}

/* SPEC: appendices#url-safe-unpadded-base64: '-' and '_' replace '+' and '/'. */
static void test_url_alphabet(void **state)
{
	(void)state;
	static const char bytes[] = "\xfb\xff\xbf\xfe";
	check_encode(bytes, 4, MX_BASE64_STD, "+/+//g");
	check_encode(bytes, 4, MX_BASE64_URL, "-_-__g");
	check_decode("+/+//g", MX_BASE64_STD, bytes, 4);
	check_decode("-_-__g", MX_BASE64_URL, bytes, 4);
	check_decode("-_-__g==", MX_BASE64_URL, bytes, 4);
	/* Each alphabet refuses the other's characters. */
	assert_int_equal(decode_rc("+/+//g", MX_BASE64_URL), MX_EINVALID);
	assert_int_equal(decode_rc("-_-__g", MX_BASE64_STD), MX_EINVALID);
	assert_int_equal(decode_rc("ab+_", MX_BASE64_STD), MX_EINVALID);
	/* The 48 bytes whose encoding is the whole alphabet in order. */
	static const unsigned char all[] = {0x00, 0x10, 0x83, 0x10, 0x51, 0x87, 0x20, 0x92,
					    0x8b, 0x30, 0xd3, 0x8f, 0x41, 0x14, 0x93, 0x51,
					    0x55, 0x97, 0x61, 0x96, 0x9b, 0x71, 0xd7, 0x9f,
					    0x82, 0x18, 0xa3, 0x92, 0x59, 0xa7, 0xa2, 0x9a,
					    0xab, 0xb2, 0xdb, 0xaf, 0xc3, 0x1c, 0xb3, 0xd3,
					    0x5d, 0xb7, 0xe3, 0x9e, 0xbb, 0xf3, 0xdf, 0xbf};
	check_encode((const char *)all, sizeof(all), MX_BASE64_STD,
		     "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
	check_encode((const char *)all, sizeof(all), MX_BASE64_URL,
		     "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
}

static void test_reject(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"Z",         /* a single leftover character carries < 8 bits */
		"Zm9vY",     /* 5 = 4 + 1 */
		"Zg=",       /* padded input must be a multiple of 4 */
		"Zg===",     /* too much padding */
		"Zm8==",     /* wrong amount of padding for the length */
		"Zm9v=",     /* padding where none is due */
		"Zm9v====",  /* a whole quantum of padding */
		"=",
		"==",
		"Zg==Zg==",  /* padding in the middle */
		"Zm 9v",     /* whitespace */
		"Zm9v\n",
		" Zm9v",
		"Zm9v.",
		"Zm\x80v",
		"Zm9\xc3\xa9",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(decode_rc(bad[i], MX_BASE64_STD), MX_EINVALID);
	/* An embedded NUL within len. */
	unsigned char out[8];
	size_t got;
	assert_int_equal(mx_base64_decode("Zm\0v", 4, MX_BASE64_STD, out, sizeof(out), &got),
			 MX_EINVALID);
}

/*
 * SPEC: appendices#signing-key: the spec's own seed ends in "...XA1", whose
 * last character carries two non-zero bits past the 32nd byte. Python (and so
 * Synapse) ignores them; we must too, or the spec's vectors are unusable.
 */
static void test_leftover_bits(void **state)
{
	(void)state;
	static const unsigned char seed[32] = {
		0x60, 0x90, 0xc1, 0x03, 0xd5, 0xe7, 0xaf, 0x6b, 0x15, 0xa9, 0x70,
		0xfd, 0x56, 0x3e, 0xd7, 0x55, 0x49, 0xe6, 0x15, 0x97, 0x19, 0xae,
		0x5c, 0x3c, 0x31, 0xde, 0xe4, 0x31, 0x6f, 0xb7, 0x5c, 0x0d};
	unsigned char out[32];
	assert_int_equal(mx_base64_decode_exact("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1",
						MX_BASE64_STD, out, sizeof(out)), 0);
	assert_memory_equal(out, seed, 32);
	/* The canonical spelling decodes the same, and is what we encode. */
	assert_int_equal(mx_base64_decode_exact("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0",
						MX_BASE64_STD, out, sizeof(out)), 0);
	assert_memory_equal(out, seed, 32);
	char *enc = mx_base64_encode(seed, 32, MX_BASE64_STD);
	assert_string_equal(enc, "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0");
	free(enc);
	/* "Zh" is "Zg" with a stray low bit. */
	check_decode("Zh", MX_BASE64_STD, "f", 1);
}

static void test_sizes(void **state)
{
	(void)state;
	unsigned char out[4];
	size_t got = 0;
	/* "Zm9vYg" is 4 bytes: fits in 4, not in 3. */
	assert_int_equal(mx_base64_decode("Zm9vYg", 6, MX_BASE64_STD, out, 4, &got), 0);
	assert_int_equal(got, 4);
	assert_int_equal(mx_base64_decode("Zm9vYg", 6, MX_BASE64_STD, out, 3, &got),
			 MX_ETOOLARGE);
	assert_int_equal(mx_base64_decode("Zm9vYg==", 8, MX_BASE64_STD, out, 4, &got), 0);
	assert_int_equal(got, 4);

	/* decode_exact wants exactly n bytes. */
	assert_int_equal(mx_base64_decode_exact("Zm9vYg", MX_BASE64_STD, out, 4), 0);
	assert_memory_equal(out, "foob", 4);
	assert_int_equal(mx_base64_decode_exact("Zm9vYg==", MX_BASE64_STD, out, 4), 0);
	assert_int_equal(mx_base64_decode_exact("Zm9vYg", MX_BASE64_STD, out, 3), MX_EINVALID);
	assert_int_equal(mx_base64_decode_exact("Zm9vYmE", MX_BASE64_STD, out, 4), MX_EINVALID);
	assert_int_equal(mx_base64_decode_exact("Zm9v", MX_BASE64_STD, out, 4), MX_EINVALID);
	assert_int_equal(mx_base64_decode_exact("Zm9v!g", MX_BASE64_STD, out, 4), MX_EINVALID);

	assert_int_equal(mx_base64_encoded_len(0), 0);
	assert_int_equal(mx_base64_encoded_len(32), 43);
	assert_int_equal(mx_base64_encoded_len(64), 86);
	assert_int_equal(mx_base64_decoded_max(43), 32);
	assert_int_equal(mx_base64_decoded_max(86), 64);

	/* The buffer's limit applies. */
	struct mx_buf b;
	mx_buf_init(&b, 3);
	assert_int_equal(mx_base64_encode_buf(&b, "foo", 3, MX_BASE64_STD), MX_ETOOLARGE);
	assert_int_equal(b.len, 0);
	mx_buf_release(&b);
}

static void test_round_trip(void **state)
{
	(void)state;
	unsigned char in[200], out[200];
	for (size_t n = 0; n <= sizeof(in); n++) {
		for (int a = MX_BASE64_STD; a <= MX_BASE64_URL; a++) {
			mx_rand_bytes(in, n);
			char *enc = mx_base64_encode(in, n, (enum mx_base64_alphabet)a);
			assert_int_equal(strlen(enc), mx_base64_encoded_len(n));
			assert_null(strchr(enc, '='));
			assert_null(strchr(enc, a == MX_BASE64_URL ? '+' : '-'));
			size_t got = 0;
			assert_int_equal(mx_base64_decode(enc, strlen(enc), (enum mx_base64_alphabet)a,
							  out, sizeof(out), &got), 0);
			assert_int_equal(got, n);
			assert_memory_equal(in, out, n);
			free(enc);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_examples),
		cmocka_unit_test(test_url_alphabet),
		cmocka_unit_test(test_reject),
		cmocka_unit_test(test_leftover_bits),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_round_trip),
	};
	if (mx_rand_init())
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
