/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for federation/multipart: the multipart/mixed parser that reads
 * remote media responses. Every well-formed case is fed whole, split at
 * every position into two chunks, and one byte at a time, and must yield
 * the same parts and bytes each way. Covers the federation media response
 * shape the spec describes (JSON metadata, then the media or a Location),
 * RFC 2046's own sample message (preamble, a part without headers,
 * epilogue, quoted boundary with a space), CRLFs and "--boundary" inside
 * bodies that are not delimiters, transport padding, folded and
 * case-insensitive headers, and hostile input: junk, missing close,
 * over-long header blocks and values, bad Content-Types, callback errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "core/rand.h"
#include "federation/multipart.h"

#define MAX_PARTS 8

/* What one parse produced. */
struct result {
	int feed_rc, finish_rc;
	int n_parts;
	struct mx_multipart_part parts[MAX_PARTS];
	char *body[MAX_PARTS];
	size_t body_len[MAX_PARTS];
	int fail_part;   /* on_part returns MX_ETOOLARGE for this index (-1: never) */
	size_t max_data; /* largest single on_data call */
};

static int on_part(void *ctx, const struct mx_multipart_part *part)
{
	struct result *r = ctx;
	assert_int_equal(part->index, r->n_parts);
	assert_true(r->n_parts < MAX_PARTS);
	if (part->index == r->fail_part)
		return MX_ETOOLARGE;
	r->parts[r->n_parts++] = *part;
	return 0;
}

static int on_data(void *ctx, const struct mx_multipart_part *part, const char *p, size_t n)
{
	struct result *r = ctx;
	assert_true(n > 0);
	assert_int_equal(part->index, r->n_parts - 1);
	int i = part->index;
	r->body[i] = realloc(r->body[i], r->body_len[i] + n);
	assert_non_null(r->body[i]);
	memcpy(r->body[i] + r->body_len[i], p, n);
	r->body_len[i] += n;
	if (n > r->max_data)
		r->max_data = n;
	return 0;
}

static void result_free(struct result *r)
{
	for (int i = 0; i < MAX_PARTS; i++)
		free(r->body[i]);
	memset(r, 0, sizeof(*r));
}

/* Parse body with ct, fed in chunks: chunk == 0 whole, else split at
 * `split` (when chunk == SIZE_MAX) or chunk bytes at a time. */
static void parse(struct result *r, const char *ct, const char *body, size_t len, size_t chunk,
		  size_t split)
{
	memset(r, 0, sizeof(*r));
	r->fail_part = -1;
	struct mx_multipart mp;
	assert_int_equal(mx_multipart_init(&mp, ct, on_part, on_data, r), 0);
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
	r->feed_rc = rc;
	r->finish_rc = mx_multipart_finish(&mp);
	if (rc)
		assert_int_equal(r->finish_rc, rc); /* an error sticks */
	mx_multipart_release(&mp);
}

static void assert_same(const struct result *a, const struct result *b)
{
	assert_int_equal(a->feed_rc, b->feed_rc);
	assert_int_equal(a->finish_rc, b->finish_rc);
	assert_int_equal(a->n_parts, b->n_parts);
	for (int i = 0; i < a->n_parts; i++) {
		assert_string_equal(a->parts[i].content_type, b->parts[i].content_type);
		assert_string_equal(a->parts[i].content_disposition,
				    b->parts[i].content_disposition);
		assert_string_equal(a->parts[i].location, b->parts[i].location);
		assert_int_equal(a->body_len[i], b->body_len[i]);
		if (a->body_len[i])
			assert_memory_equal(a->body[i], b->body[i], a->body_len[i]);
	}
}

/* Parse whole into *r, then check every split and 1-byte feeding agree. */
static void parse_all_ways(struct result *r, const char *ct, const char *body, size_t len)
{
	parse(r, ct, body, len, 0, 0);
	struct result other;
	for (size_t split = 0; split <= len; split++) {
		parse(&other, ct, body, len, SIZE_MAX, split);
		assert_same(r, &other);
		result_free(&other);
	}
	for (size_t chunk = 1; chunk <= 3; chunk++) {
		parse(&other, ct, body, len, chunk, 0);
		assert_same(r, &other);
		result_free(&other);
	}
}

static void assert_body(const struct result *r, int i, const char *want)
{
	size_t n = strlen(want);
	assert_int_equal(r->body_len[i], n);
	if (n)
		assert_memory_equal(r->body[i], want, n);
}

#define S(lit) lit, sizeof(lit) - 1

/* SPEC: server-server-api#get_matrixfederationv1mediadownloadmediaid:
 * exactly two parts, application/json metadata ({}), then the media with
 * its Content-Type and Content-Disposition. */
static void test_federation_media(void **state)
{
	(void)state;
	struct result r;
	parse_all_ways(&r, "multipart/mixed; boundary=gc0p4Jq0M2Yt08jU534c0p",
		       S("--gc0p4Jq0M2Yt08jU534c0p\r\n"
			 "Content-Type: application/json\r\n"
			 "\r\n"
			 "{}\r\n"
			 "--gc0p4Jq0M2Yt08jU534c0p\r\n"
			 "Content-Type: text/plain\r\n"
			 "Content-Disposition: attachment; filename=\"hello.txt\"\r\n"
			 "\r\n"
			 "This media is plain text. In reality, this could be any binary file.\r\n"
			 "\r\n"
			 "--gc0p4Jq0M2Yt08jU534c0p--\r\n"));
	assert_int_equal(r.feed_rc, 0);
	assert_int_equal(r.finish_rc, 0);
	assert_int_equal(r.n_parts, 2);
	assert_string_equal(r.parts[0].content_type, "application/json");
	assert_string_equal(r.parts[0].content_disposition, "");
	assert_string_equal(r.parts[0].location, "");
	assert_body(&r, 0, "{}");
	assert_string_equal(r.parts[1].content_type, "text/plain");
	assert_string_equal(r.parts[1].content_disposition, "attachment; filename=\"hello.txt\"");
	/* The CRLF before the delimiter belongs to the delimiter. */
	assert_body(&r, 1,
		    "This media is plain text. In reality, this could be any binary file.\r\n");
	result_free(&r);
}

/* The second part may redirect instead of carrying the bytes: a Location
 * header and no body, with or without the blank line's empty body. */
static void test_location(void **state)
{
	(void)state;
	struct result r;
	const char *ct = "multipart/mixed; boundary=6c2f";
	parse_all_ways(&r, ct,
		       S("--6c2f\r\nContent-Type: application/json\r\n\r\n{}\r\n"
			 "--6c2f\r\nLocation: https://cdn.example.org/m/abc?sig=1%2F2\r\n\r\n"
			 "--6c2f--"));
	assert_int_equal(r.finish_rc, 0);
	assert_int_equal(r.n_parts, 2);
	assert_string_equal(r.parts[1].location, "https://cdn.example.org/m/abc?sig=1%2F2");
	assert_string_equal(r.parts[1].content_type, "");
	assert_int_equal(r.body_len[1], 0);
	result_free(&r);

	/* Headers, blank line, then an empty body before the delimiter. */
	parse_all_ways(&r, ct,
		       S("--6c2f\r\n\r\n{}\r\n"
			 "--6c2f\r\nlocation:https://cdn.example.org/x\r\n\r\n\r\n"
			 "--6c2f--\r\nepilogue"));
	assert_int_equal(r.finish_rc, 0);
	assert_int_equal(r.n_parts, 2);
	assert_string_equal(r.parts[0].content_type, "");
	assert_body(&r, 0, "{}");
	assert_string_equal(r.parts[1].location, "https://cdn.example.org/x");
	assert_int_equal(r.body_len[1], 0);
	result_free(&r);
}

/* RFC 2046 section 5.1.1's sample message (its body). */
static void test_rfc2046_sample(void **state)
{
	(void)state;
	struct result r;
	parse_all_ways(&r, "Multipart/Mixed; boundary=\"simple boundary\"",
		       S("This is the preamble.  It is to be ignored, though it\r\n"
			 "is a handy place for composition agents to include an\r\n"
			 "explanatory note to non-MIME conformant readers.\r\n"
			 "\r\n"
			 "--simple boundary\r\n"
			 "\r\n"
			 "This is implicitly typed plain US-ASCII text.\r\n"
			 "It does NOT end with a linebreak.\r\n"
			 "--simple boundary\r\n"
			 "Content-type: text/plain; charset=us-ascii\r\n"
			 "\r\n"
			 "This is explicitly typed plain US-ASCII text.\r\n"
			 "It DOES end with a linebreak.\r\n"
			 "\r\n"
			 "--simple boundary--\r\n"
			 "\r\n"
			 "This is the epilogue.  It is also to be ignored.\r\n"));
	assert_int_equal(r.feed_rc, 0);
	assert_int_equal(r.finish_rc, 0);
	assert_int_equal(r.n_parts, 2);
	assert_string_equal(r.parts[0].content_type, "");
	assert_body(&r, 0,
		    "This is implicitly typed plain US-ASCII text.\r\n"
		    "It does NOT end with a linebreak.");
	assert_string_equal(r.parts[1].content_type, "text/plain; charset=us-ascii");
	assert_body(&r, 1,
		    "This is explicitly typed plain US-ASCII text.\r\n"
		    "It DOES end with a linebreak.\r\n");
	result_free(&r);
}

/* Boundary spellings in the Content-Type. */
static void test_content_type(void **state)
{
	(void)state;
	static const char *const good[] = {
		"multipart/mixed; boundary=abc",
		"multipart/mixed;boundary=abc",
		"MULTIPART/MIXED; BOUNDARY=abc",
		"multipart/mixed; charset=utf-8; boundary=abc; x=\"y;z\"",
		"multipart/mixed; boundary=\"abc\"",
		"multipart/mixed; boundary = abc ;",
		"multipart/mixed; boundary=\"a\\bc\"", /* quoted-pair */
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct result r;
		parse(&r, good[i], S("--abc\r\n\r\nx\r\n--abc--"), 0, 0);
		assert_int_equal(r.finish_rc, 0);
		assert_int_equal(r.n_parts, 1);
		assert_body(&r, 0, "x");
		result_free(&r);
	}
	/* Every bchar, quoted (70 characters, the maximum). */
	char ct[200], body[300];
	const char *b70 = "09azAZ'()+_,-./:=? 012345678901234567890123456789012345678901234567890";
	assert_int_equal(strlen(b70), 70);
	snprintf(ct, sizeof(ct), "multipart/mixed; boundary=\"%s\"", b70);
	int n = snprintf(body, sizeof(body), "--%s\r\n\r\nbody\r\n--%s--", b70, b70);
	struct result r;
	parse_all_ways(&r, ct, body, (size_t)n);
	assert_int_equal(r.finish_rc, 0);
	assert_body(&r, 0, "body");
	result_free(&r);

	static const char *const bad[] = {
		"",
		"multipart/form-data; boundary=abc",
		"multipart/mixedx; boundary=abc",
		"text/plain",
		"multipart/mixed",
		"multipart/mixed; charset=utf-8",
		"multipart/mixed; boundary=",
		"multipart/mixed; boundary=\"\"",
		"multipart/mixed; boundary=\"abc",
		"multipart/mixed; boundary=\"abc \"",      /* ends with a space */
		"multipart/mixed; boundary=\"a\rb\"",
		"multipart/mixed; boundary=\"a;b\"",       /* ';' is no bchar */
		"multipart/mixed; boundary=a=b",           /* needs quoting */
		"multipart/mixed; boundary=abc; boundary=abc",
		"multipart/mixed; boundary=abc junk",
		"multipart/mixed boundary=abc",
		"multipart/mixed; =abc",
		("multipart/mixed; boundary=0123456789012345678901234567890123456789"
		 "012345678901234567890123456789X"), /* 71 characters */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mx_multipart mp;
		assert_int_equal(mx_multipart_init(&mp, bad[i], on_part, on_data, NULL), MX_EINVALID);
		assert_int_equal(mx_multipart_feed(&mp, "x", 1), MX_EINVALID);
		assert_int_equal(mx_multipart_finish(&mp), MX_EINVALID);
		mx_multipart_release(&mp);
	}
	struct mx_multipart mp;
	assert_int_equal(mx_multipart_init(&mp, NULL, on_part, on_data, NULL), MX_EINVALID);
	mx_multipart_release(&mp);
}

/* CRs, CRLFs and dashes that fall short of a delimiter are body bytes. */
static void test_near_delimiters(void **state)
{
	(void)state;
	struct result r;
	parse_all_ways(&r, "multipart/mixed; boundary=bnd",
		       S("--bnd\r\nContent-Type: application/octet-stream\r\n\r\n"
			 "\r\n\r\r\n-\r\n--\r\n--b\r\n--bn\r\n--bnX\r--bnd-ish--bnd\r\r\n"
			 "--bnd\r\n\r\n\r\n\r\n--bnd--"));
	assert_int_equal(r.finish_rc, 0);
	assert_int_equal(r.n_parts, 2);
	assert_body(&r, 0, "\r\n\r\r\n-\r\n--\r\n--b\r\n--bn\r\n--bnX\r--bnd-ish--bnd\r");
	assert_body(&r, 1, "\r\n");
	result_free(&r);

	/* "--boundary" inside a body without the CRLF before it is data. */
	parse_all_ways(&r, "multipart/mixed; boundary=xyz",
		       S("--xyz\r\n\r\nA--xyz--xyz\r\n--xy\r\nz--xyz--\r\n--xyz--"));
	assert_int_equal(r.finish_rc, 0);
	assert_int_equal(r.n_parts, 1);
	assert_body(&r, 0, "A--xyz--xyz\r\n--xy\r\nz--xyz--");
	result_free(&r);

	/* Right after a header block, though, the blank line's CRLF is the
	 * delimiter's (RFC 2046: the part has no body). */
	parse_all_ways(&r, "multipart/mixed; boundary=xyz", S("--xyz\r\n\r\n--xyz--xyz"));
	assert_int_equal(r.finish_rc, 0);
	assert_int_equal(r.n_parts, 1);
	assert_int_equal(r.body_len[0], 0);
	result_free(&r);

	/* A part whose body starts with dashes, right after its blank line. */
	parse_all_ways(&r, "multipart/mixed; boundary=xyz",
		       S("--xyz\r\nContent-Type: a/b\r\n\r\n--xy--\r\n--xyz--"));
	assert_int_equal(r.finish_rc, 0);
	assert_body(&r, 0, "--xy--");
	result_free(&r);

	/* Preamble lines that look almost like the boundary are ignored. */
	parse_all_ways(&r, "multipart/mixed; boundary=xyz",
		       S("--xy\r\n--xyzz\r--\r\n\r\n--xyz\r\n\r\nok\r\n--xyz--"));
	assert_int_equal(r.finish_rc, MX_EINVALID); /* "--xyzz" is a bad boundary line */
	result_free(&r);
	parse_all_ways(&r, "multipart/mixed; boundary=xyz",
		       S("--xy\r\n-xyz\r--\r\n\r\n--xyz\r\n\r\nok\r\n--xyz--"));
	assert_int_equal(r.finish_rc, 0);
	assert_body(&r, 0, "ok");
	result_free(&r);
}

/* Transport padding after a boundary, folded and case-insensitive headers. */
static void test_padding_and_headers(void **state)
{
	(void)state;
	struct result r;
	parse_all_ways(&r, "multipart/mixed; boundary=b",
		       S("--b \t \r\n"
			 "CONTENT-TYPE:   image/png  \r\n"
			 "X-Other: ignored\r\n"
			 "content-disposition: inline;\r\n"
			 "\tfilename=\"cat.png\"\r\n"
			 "\r\n"
			 "PNG\r\n"
			 "--b\t\r\n"
			 "Content-Type: application/json\r\n\r\n{}\r\n"
			 "--b-- trailing junk in the epilogue\r\n--b\r\nnot: parsed"));
	assert_int_equal(r.finish_rc, 0);
	assert_int_equal(r.n_parts, 2);
	assert_string_equal(r.parts[0].content_type, "image/png");
	assert_string_equal(r.parts[0].content_disposition, "inline;\tfilename=\"cat.png\"");
	assert_body(&r, 0, "PNG");
	assert_string_equal(r.parts[1].content_type, "application/json");
	assert_body(&r, 1, "{}");
	result_free(&r);
}

static void expect_invalid(const char *ct, const char *body, size_t len)
{
	struct result r;
	parse_all_ways(&r, ct, body, len);
	assert_int_equal(r.finish_rc, MX_EINVALID);
	result_free(&r);
}

/* Missing close, truncation anywhere, and junk. */
static void test_malformed(void **state)
{
	(void)state;
	const char *ct = "multipart/mixed; boundary=q";
	const char full[] = "--q\r\nContent-Type: a/b\r\n\r\nbody\r\n--q--";
	/* Every proper prefix lacks the close delimiter. */
	for (size_t n = 0; n < sizeof(full) - 1; n++)
		expect_invalid(ct, full, n);
	struct result r;
	parse(&r, ct, full, sizeof(full) - 1, 0, 0);
	assert_int_equal(r.finish_rc, 0);
	result_free(&r);

	expect_invalid(ct, S("no boundary at all"));
	expect_invalid(ct, S("--q--"));                      /* no part */
	expect_invalid(ct, S("--qx\r\n\r\nb\r\n--q--"));     /* junk after the boundary */
	expect_invalid(ct, S("--q\n\r\nb\r\n--q--"));        /* bare LF */
	expect_invalid(ct, S("--q \rx\r\nb\r\n--q--"));      /* CR without LF */
	expect_invalid(ct, S("--q\r\n\r\nb\r\n--q-x"));      /* half a close */
	expect_invalid(ct, S("--q\r\nNo colon here\r\n\r\nb\r\n--q--"));
	expect_invalid(ct, S("--q\r\n: empty name\r\n\r\nb\r\n--q--"));
	expect_invalid(ct, S("--q\r\nBad Name: x\r\n\r\nb\r\n--q--"));
	expect_invalid(ct, S("--q\r\n folded first\r\n\r\nb\r\n--q--"));
	expect_invalid(ct, S("--q\r\nA: b\nc\r\n\r\nb\r\n--q--")); /* LF in a header */
	expect_invalid(ct, S("--q\r\nA: b\rc\r\n\r\nb\r\n--q--")); /* CR in a header */
	expect_invalid(ct, S("--q\r\nA: b\0c\r\n\r\nb\r\n--q--")); /* NUL */
	expect_invalid(ct, S("--q\r\nLocation: a\x01z\r\n\r\nb\r\n--q--"));
	expect_invalid(ct, S("--q\r\nContent-Type: a/b\r\nContent-Type: c/d\r\n\r\nb\r\n--q--"));
	expect_invalid(ct, S("--q\r\nContent-Type:\r\n\r\nb\r\n--q--"));
	expect_invalid(ct, S("--q\r\n--q--")); /* the boundary line's CRLF is not a blank line */
	expect_invalid(ct, S("--q\r\n\r\nb\r\n--q\r\n")); /* a second part never closed */
}

/* Header blocks and kept values have hard limits; nothing is truncated. */
static void test_limits(void **state)
{
	(void)state;
	const char *ct = "multipart/mixed; boundary=L";
	size_t cap = 3 * MX_MULTIPART_MAX_HEADERS;
	char *body = malloc(cap);
	assert_non_null(body);
	struct result r;

	/* A header block of exactly the maximum is accepted, one more byte not. */
	for (int extra = 0; extra <= 1; extra++) {
		size_t n = 0;
		n += (size_t)snprintf(body + n, cap - n, "--L\r\nX-Pad: ");
		size_t block = MX_MULTIPART_MAX_HEADERS + (size_t)extra;
		size_t fill = block - strlen("X-Pad: ") - 4;
		memset(body + n, 'p', fill);
		n += fill;
		n += (size_t)snprintf(body + n, cap - n, "\r\n\r\nok\r\n--L--");
		parse(&r, ct, body, n, 0, 0);
		assert_int_equal(r.finish_rc, extra ? MX_EINVALID : 0);
		if (!extra)
			assert_body(&r, 0, "ok");
		result_free(&r);
		parse(&r, ct, body, n, 7, 0);
		assert_int_equal(r.finish_rc, extra ? MX_EINVALID : 0);
		result_free(&r);
	}

	/* Each kept field: the longest value fits, one more character errs. */
	static const struct {
		const char *name;
		size_t size;
	} fields[] = {
		{"Content-Type", sizeof(((struct mx_multipart_part *)0)->content_type)},
		{"Content-Disposition", sizeof(((struct mx_multipart_part *)0)->content_disposition)},
		{"Location", sizeof(((struct mx_multipart_part *)0)->location)},
	};
	for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
		for (size_t len = fields[f].size - 1; len <= fields[f].size; len++) {
			size_t n = (size_t)snprintf(body, cap, "--L\r\n%s: ", fields[f].name);
			memset(body + n, 'v', len);
			n += len;
			n += (size_t)snprintf(body + n, cap - n, "\r\n\r\nok\r\n--L--");
			parse(&r, ct, body, n, 0, 0);
			if (len < fields[f].size) {
				assert_int_equal(r.finish_rc, 0);
				const struct mx_multipart_part *p = &r.parts[0];
				const char *got = f == 0 ? p->content_type
						  : f == 1 ? p->content_disposition
							   : p->location;
				assert_int_equal(strlen(got), len);
			} else {
				assert_int_equal(r.finish_rc, MX_EINVALID);
			}
			result_free(&r);
		}
	}
	free(body);
}

/* A large body streams through: bytes arrive before the part ends and in
 * big pieces, and the parser holds no more than a delimiter of them. */
static void test_streaming(void **state)
{
	(void)state;
	const char *ct = "multipart/mixed; boundary=stream";
	struct result r;
	memset(&r, 0, sizeof(r));
	r.fail_part = -1;
	struct mx_multipart mp;
	assert_int_equal(mx_multipart_init(&mp, ct, on_part, on_data, &r), 0);
	const char head[] = "--stream\r\nContent-Type: video/mp4\r\n\r\n";
	assert_int_equal(mx_multipart_feed(&mp, head, sizeof(head) - 1), 0);
	assert_int_equal(r.n_parts, 1);
	char chunk[65536];
	memset(chunk, 'z', sizeof(chunk));
	chunk[sizeof(chunk) - 3] = '\r'; /* a chunk ending in a possible delimiter */
	chunk[sizeof(chunk) - 2] = '\n';
	chunk[sizeof(chunk) - 1] = '-';
	size_t fed = 0;
	for (int i = 0; i < 32; i++) {
		assert_int_equal(mx_multipart_feed(&mp, chunk, sizeof(chunk)), 0);
		fed += sizeof(chunk);
		assert_true(r.body_len[0] + 3 >= fed); /* only "\r\n-" held back */
		assert_true(mp.hold_cap <= MX_MULTIPART_MAX_HEADERS);
	}
	assert_true(r.max_data >= sizeof(chunk) - 3);
	assert_int_equal(mx_multipart_feed(&mp, S("-stream--")), 0);
	assert_int_equal(mx_multipart_finish(&mp), 0);
	assert_int_equal(r.body_len[0], fed - 3);
	mx_multipart_release(&mp);
	result_free(&r);
}

/* A callback's error stops the parse and sticks. */
static void test_callback_error(void **state)
{
	(void)state;
	struct result r;
	memset(&r, 0, sizeof(r));
	r.fail_part = 1;
	struct mx_multipart mp;
	assert_int_equal(mx_multipart_init(&mp, "multipart/mixed; boundary=e", on_part, on_data, &r),
			 0);
	assert_int_equal(mx_multipart_feed(&mp, S("--e\r\n\r\none\r\n--e\r\n\r\ntwo")), MX_ETOOLARGE);
	assert_int_equal(r.n_parts, 1);
	assert_int_equal(mx_multipart_feed(&mp, S("\r\n--e--")), MX_ETOOLARGE);
	assert_int_equal(mx_multipart_finish(&mp), MX_ETOOLARGE);
	mx_multipart_release(&mp);
	result_free(&r);

	/* NULL callbacks are allowed: the parse still validates. */
	assert_int_equal(mx_multipart_init(&mp, "multipart/mixed; boundary=e", NULL, NULL, NULL), 0);
	assert_int_equal(mx_multipart_feed(&mp, S("--e\r\n\r\none\r\n--e--")), 0);
	assert_int_equal(mx_multipart_finish(&mp), 0);
	mx_multipart_release(&mp);
}

static void test_boundary(void **state)
{
	(void)state;
	char a[33], b[33];
	mx_multipart_boundary(a);
	mx_multipart_boundary(b);
	assert_int_equal(strlen(a), 32);
	assert_string_not_equal(a, b);
	for (int i = 0; i < 32; i++)
		assert_true((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'z') ||
			    (a[i] >= 'A' && a[i] <= 'Z'));
	/* It round-trips through the parser. */
	char ct[80], body[160];
	snprintf(ct, sizeof(ct), "multipart/mixed; boundary=%s", a);
	int n = snprintf(body, sizeof(body), "--%s\r\n\r\n{}\r\n--%s--\r\n", a, a);
	struct result r;
	parse(&r, ct, body, (size_t)n, 0, 0);
	assert_int_equal(r.finish_rc, 0);
	assert_body(&r, 0, "{}");
	result_free(&r);
}

int main(void)
{
	if (mx_rand_init())
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_federation_media),
		cmocka_unit_test(test_location),
		cmocka_unit_test(test_rfc2046_sample),
		cmocka_unit_test(test_content_type),
		cmocka_unit_test(test_near_delimiters),
		cmocka_unit_test(test_padding_and_headers),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_streaming),
		cmocka_unit_test(test_callback_error),
		cmocka_unit_test(test_boundary),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
