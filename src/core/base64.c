/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unpadded base64. Encoding is libsodium's (constant-time, which matters for
 * seeds); decoding is our own, for the leftover-bits leniency explained in
 * base64.h, and is also branch-free over the data.
 */
#include "core/base64.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/error.h"
#include "core/mem.h"

static int variant(enum mx_base64_alphabet a)
{
	return a == MX_BASE64_URL ? sodium_base64_VARIANT_URLSAFE_NO_PADDING
				  : sodium_base64_VARIANT_ORIGINAL_NO_PADDING;
}

size_t mx_base64_encoded_len(size_t n)
{
	static const size_t tail[3] = {0, 2, 3};
	return n / 3 * 4 + tail[n % 3];
}

size_t mx_base64_decoded_max(size_t len)
{
	static const size_t tail[4] = {0, 0, 1, 2};
	return len / 4 * 3 + tail[len % 4];
}

char *mx_base64_encode(const void *p, size_t n, enum mx_base64_alphabet a)
{
	size_t cap = mx_base64_encoded_len(n) + 1;
	char *s = mx_xmalloc(cap);
	sodium_bin2base64(s, cap, p, n, variant(a));
	return s;
}

int mx_base64_encode_buf(struct mx_buf *out, const void *p, size_t n,
			 enum mx_base64_alphabet a)
{
	char *s = mx_base64_encode(p, n, a);
	int rc = mx_buf_append(out, s, mx_base64_encoded_len(n));
	free(s);
	return rc;
}

/*
 * The 6-bit value of c in alphabet a, or -1. Computed with masks rather than
 * a table lookup so the time taken does not depend on secret input.
 */
static int sextet(unsigned char c, enum mx_base64_alphabet a)
{
	int x = c, r = -1;
	/* (lo <= x && x <= hi) as an all-ones mask, without branches */
#define MX_IN(lo, hi) ((int)(((unsigned)(x - (lo)) | (unsigned)((hi) - x)) >> 31) - 1)
	r += MX_IN('A', 'Z') & (x - 'A' + 1);
	r += MX_IN('a', 'z') & (x - 'a' + 26 + 1);
	r += MX_IN('0', '9') & (x - '0' + 52 + 1);
	if (a == MX_BASE64_URL) {
		r += MX_IN('-', '-') & (62 + 1);
		r += MX_IN('_', '_') & (63 + 1);
	} else {
		r += MX_IN('+', '+') & (62 + 1);
		r += MX_IN('/', '/') & (63 + 1);
	}
#undef MX_IN
	return r;
}

int mx_base64_decode(const char *in, size_t len, enum mx_base64_alphabet a,
		     unsigned char *out, size_t out_max, size_t *out_len)
{
	size_t pad = 0, n = 0;
	uint32_t acc = 0;
	int bits = 0, bad = 0;

	while (pad < len && pad < 2 && in[len - 1 - pad] == '=')
		pad++;
	if (pad) {
		if (len % 4 != 0)
			return MX_EINVALID;
		len -= pad;
		/* "=" only where the unpadded length needed it */
		if ((len + pad) % 4 != 0 || (4 - len % 4) % 4 != pad)
			return MX_EINVALID;
	}
	if (len % 4 == 1)
		return MX_EINVALID;
	if (mx_base64_decoded_max(len) > out_max)
		return MX_ETOOLARGE;

	for (size_t i = 0; i < len; i++) {
		int v = sextet((unsigned char)in[i], a);
		bad |= v;
		acc = (acc << 6) | ((uint32_t)v & 0x3f);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	/* Leftover bits (2 or 4) are dropped without checking, as Python does. */
	if (bad < 0)
		return MX_EINVALID;
	*out_len = n;
	return 0;
}

int mx_base64_decode_exact(const char *in, enum mx_base64_alphabet a,
			   unsigned char *out, size_t n)
{
	size_t len = strlen(in), got = 0;
	unsigned char *tmp;
	int rc;

	/* Decode into scratch so that a too-long input never overruns out. */
	size_t max = mx_base64_decoded_max(len);
	if (max < n || max > n + 2)
		return MX_EINVALID;
	tmp = mx_xmalloc(max);
	rc = mx_base64_decode(in, len, a, tmp, max, &got);
	if (rc == 0 && got != n)
		rc = MX_EINVALID;
	if (rc == 0)
		memcpy(out, tmp, n);
	else
		rc = MX_EINVALID;
	sodium_memzero(tmp, max);
	free(tmp);
	return rc;
}
