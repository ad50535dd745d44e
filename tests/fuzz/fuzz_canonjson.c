/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer driver for the strict JSON parser and the canonical JSON
 * encoder. For every input the strict parser accepts:
 *  - encoding succeeds exactly when mx_canonjson_check() passes;
 *  - the canonical output parses strictly, to a value equal to the input,
 *    and encoding that again gives the same bytes (a fixed point);
 *  - encoding never leaves partial output behind on failure.
 *
 * Build (from the repository root):
 *   clang -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
 *     -Isrc tests/fuzz/fuzz_canonjson.c src/core/canonjson.c src/core/buf.c \
 *     src/core/mem.c -ljansson -o fuzz_canonjson
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/canonjson.h"
#include "core/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_OUT ((size_t)1 << 22)

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_canonjson: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mx_buf a, b;
	json_t *v, *w = NULL;
	int err = 0, rc;

	v = mx_json_parse_strict((const char *)data, size, &err);
	if (!v) {
		if (err != MX_ENOTJSON && err != MX_EBADJSON)
			fail("parse failed with an unexpected code");
		return 0;
	}
	mx_buf_init(&a, FUZZ_MAX_OUT);
	mx_buf_init(&b, FUZZ_MAX_OUT);

	rc = mx_canonjson_encode(v, &a);
	if (rc == MX_ETOOLARGE)
		goto out;
	if ((rc == 0) != (mx_canonjson_check(v) == 0))
		fail("encode and check disagree");
	if (rc) {
		if (rc != MX_EBADJSON)
			fail("encode failed with an unexpected code");
		if (a.len != 0)
			fail("failed encode left output behind");
		goto out;
	}
	w = mx_json_parse_strict(a.data, a.len, &err);
	if (!w)
		fail("canonical output does not parse strictly");
	if (!json_equal(v, w))
		fail("canonical output means something else");
	if (mx_canonjson_encode(w, &b) != 0)
		fail("canonical output does not re-encode");
	if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
		fail("canonical output is not a fixed point");
	/* Control characters are always escaped, so none appear raw. */
	for (size_t i = 0; i < a.len; i++)
		if ((unsigned char)a.data[i] < 0x20)
			fail("raw control character in canonical output");
out:
	json_decref(v);
	json_decref(w);
	mx_buf_release(&a);
	mx_buf_release(&b);
	return 0;
}
