/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer driver for the multipart/mixed parser (federation media
 * responses). Input: two bytes giving a split position, then the
 * Content-Type up to the first '\n', then the body. The body is parsed
 * three ways: in one piece, in two pieces split at the given position, and
 * in pieces of 1..8 bytes (sized by the first byte); all three must give
 * the same return codes, the same parts and the same body bytes. Also
 * checks what the parser promises: NUL-terminated header fields, part
 * indexes counting up from 0, and no more body bytes than input bytes.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "federation/multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PARTS 16

/* A digest of one parse: parts' headers and all body bytes in order. */
struct trace {
	int feed_rc, finish_rc;
	int n_parts;
	struct mx_multipart_part parts[MAX_PARTS];
	size_t part_bytes[MAX_PARTS];
	uint8_t *bytes;
	size_t n_bytes, cap;
};

static void check_field(const char *f, size_t size)
{
	if (!memchr(f, '\0', size))
		abort();
}

static int on_part(void *ctx, const struct mx_multipart_part *part)
{
	struct trace *t = ctx;
	if (part->index != t->n_parts)
		abort();
	check_field(part->content_type, sizeof(part->content_type));
	check_field(part->content_disposition, sizeof(part->content_disposition));
	check_field(part->location, sizeof(part->location));
	if (t->n_parts < MAX_PARTS)
		t->parts[t->n_parts] = *part;
	t->n_parts++;
	return 0;
}

static int on_data(void *ctx, const struct mx_multipart_part *part, const char *p, size_t n)
{
	struct trace *t = ctx;
	if (n == 0 || part->index != t->n_parts - 1)
		abort();
	if (part->index < MAX_PARTS)
		t->part_bytes[part->index] += n;
	if (t->n_bytes + n > t->cap) {
		t->cap = (t->n_bytes + n) * 2;
		t->bytes = realloc(t->bytes, t->cap);
		if (!t->bytes)
			abort();
	}
	memcpy(t->bytes + t->n_bytes, p, n);
	t->n_bytes += n;
	return 0;
}

/* chunk 0: whole; SIZE_MAX: two pieces at split; else pieces of chunk. */
static void run(struct trace *t, const char *ct, const char *body, size_t len, size_t chunk,
		size_t split)
{
	memset(t, 0, sizeof(*t));
	struct mx_multipart mp;
	if (mx_multipart_init(&mp, ct, on_part, on_data, t)) {
		t->feed_rc = t->finish_rc = -1000;
		mx_multipart_release(&mp);
		return;
	}
	int rc = 0;
	if (chunk == 0) {
		rc = mx_multipart_feed(&mp, body, len);
	} else if (chunk == SIZE_MAX) {
		rc = mx_multipart_feed(&mp, body, split);
		if (!rc)
			rc = mx_multipart_feed(&mp, body + split, len - split);
	} else {
		for (size_t i = 0; i < len && !rc; i += chunk)
			rc = mx_multipart_feed(&mp, body + i, len - i < chunk ? len - i : chunk);
	}
	t->feed_rc = rc;
	t->finish_rc = mx_multipart_finish(&mp);
	if (rc && t->finish_rc != rc)
		abort(); /* errors stick */
	if (mx_multipart_feed(&mp, "x", 1) != (t->finish_rc ? t->finish_rc : 0))
		abort();
	if (mp.hold_cap > MX_MULTIPART_MAX_HEADERS)
		abort();
	mx_multipart_release(&mp);
	if (t->n_bytes > len)
		abort();
}

static void same(const struct trace *a, const struct trace *b)
{
	if (a->feed_rc != b->feed_rc || a->finish_rc != b->finish_rc || a->n_parts != b->n_parts ||
	    a->n_bytes != b->n_bytes || (a->n_bytes && memcmp(a->bytes, b->bytes, a->n_bytes)))
		abort();
	for (int i = 0; i < a->n_parts && i < MAX_PARTS; i++)
		/* whole structs: the parser zeroes a part before filling it */
		if (memcmp(&a->parts[i], &b->parts[i], sizeof(a->parts[i])) ||
		    a->part_bytes[i] != b->part_bytes[i])
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > 1 << 16)
		return 0;
	size_t pos = (size_t)data[0] << 8 | data[1];
	const char *in = (const char *)data + 2;
	size_t n = size - 2;
	const char *nl = memchr(in, '\n', n);
	if (!nl)
		return 0;
	size_t ct_len = (size_t)(nl - in);
	char *ct = malloc(ct_len + 1);
	if (!ct)
		abort();
	memcpy(ct, in, ct_len);
	ct[ct_len] = '\0'; /* an embedded NUL just shortens it */
	const char *body = nl + 1;
	size_t len = n - ct_len - 1;

	struct trace whole, split, small;
	run(&whole, ct, body, len, 0, 0);
	run(&split, ct, body, len, SIZE_MAX, len ? pos % (len + 1) : 0);
	run(&small, ct, body, len, 1 + (size_t)(data[0] & 7), 0);
	same(&whole, &split);
	same(&whole, &small);
	free(whole.bytes);
	free(split.bytes);
	free(small.bytes);
	free(ct);
	return 0;
}
