/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Streaming multipart/mixed parser (RFC 2046 section 5.1) for federation
 * media responses.
 *
 * The body is scanned for the delimiter "\r\n--boundary". Because a boundary
 * never contains CR, a partial match can only ever start at a CR: the bytes
 * held back at the end of a chunk are always a prefix of the delimiter, so
 * they are not stored but counted (hold_len while in a body) and re-emitted
 * from mp->delim if the match fails. Memory is therefore the delimiter plus
 * one header block (at most MX_MULTIPART_MAX_HEADERS bytes), whatever the
 * size of the parts.
 *
 * The first boundary and a part whose headers are followed directly by the
 * next delimiter are handled by pretending that a CRLF has already been
 * seen ("virtual" bytes of the delimiter): RFC 2046 lets the body start with
 * "--boundary", and lets "headers CRLF CRLF --boundary" be a part with no
 * body. Virtual bytes are dropped, never emitted, when the match fails.
 *
 * SPEC: server-server-api#get_matrixfederationv1mediadownloadmediaid
 */
#include "federation/multipart.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "core/mem.h"
#include "core/rand.h"

enum {
	ST_PREAMBLE,    /* before the first boundary: bytes are dropped */
	ST_AFTER_DELIM, /* just past "--boundary": "--" closes, else padding CRLF */
	ST_CLOSE_DASH,  /* seen one '-' of the closing "--" */
	ST_PADDING,     /* transport padding (SP / HT) before the CRLF */
	ST_PADDING_CR,  /* seen the CR of the boundary line's CRLF */
	ST_HEADERS,     /* collecting a header block into hold */
	ST_BODY_START,  /* a body whose two held bytes are the virtual CRLF */
	ST_BODY,        /* a part's body: bytes go to on_data */
	ST_EPILOGUE,    /* after the close delimiter: everything ignored */
};

#define MP_HOLD_INITIAL 256

/* ---- Content-Type ---------------------------------------------------------- */

static bool is_ws(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 2045 token characters: printable ASCII but no tspecials or space. */
static bool is_token_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return !strchr("()<>@,;:\\\"/[]?=", c);
}

/* RFC 2046 bcharsnospace, and space (which may not end a boundary). */
static bool is_bchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	return c != '\0' && strchr("'()+_,-./:=? ", c) != NULL;
}

static const char *skip_ws(const char *s)
{
	while (is_ws(*s))
		s++;
	return s;
}

/*
 * Parse one parameter value at *sp (a token, or a quoted-string with
 * backslash escapes) into out (at most max bytes, NUL-terminated).
 * Returns its length, or -1 if malformed or too long.
 */
static int param_value(const char **sp, char *out, size_t max)
{
	const char *s = *sp;
	size_t n = 0;
	if (*s == '"') {
		for (s++; *s != '"'; s++) {
			if (!*s || *s == '\r' || *s == '\n')
				return -1;
			if (*s == '\\') {
				s++;
				if (!*s || *s == '\r' || *s == '\n')
					return -1;
			}
			if (n >= max)
				return -1;
			out[n++] = *s;
		}
		s++;
	} else {
		for (; is_token_char((unsigned char)*s); s++) {
			if (n >= max)
				return -1;
			out[n++] = *s;
		}
		if (n == 0)
			return -1;
	}
	out[n] = '\0';
	*sp = s;
	return (int)n;
}

/*
 * The boundary parameter of a multipart/mixed Content-Type, into out.
 * Other parameters are skipped; a second boundary is an error.
 */
static int parse_content_type(const char *ct, char out[MX_MULTIPART_MAX_BOUNDARY + 1])
{
	static const char type[] = "multipart/mixed";
	const char *s = skip_ws(ct);
	if (strncasecmp(s, type, sizeof(type) - 1))
		return MX_EINVALID;
	s = skip_ws(s + sizeof(type) - 1);
	int blen = -1;
	while (*s == ';') {
		s = skip_ws(s + 1);
		if (!*s)
			break; /* a trailing ';' */
		const char *name = s;
		while (is_token_char((unsigned char)*s))
			s++;
		size_t name_len = (size_t)(s - name);
		s = skip_ws(s);
		if (!name_len || *s != '=')
			return MX_EINVALID;
		s = skip_ws(s + 1);
		char val[1024];
		int n = param_value(&s, val, sizeof(val) - 1);
		if (n < 0)
			return MX_EINVALID;
		if (name_len == 8 && !strncasecmp(name, "boundary", 8)) {
			if (blen >= 0 || n < 1 || n > MX_MULTIPART_MAX_BOUNDARY)
				return MX_EINVALID;
			for (int i = 0; i < n; i++)
				if (!is_bchar((unsigned char)val[i]))
					return MX_EINVALID;
			if (val[n - 1] == ' ')
				return MX_EINVALID;
			memcpy(out, val, (size_t)n + 1);
			blen = n;
		}
		s = skip_ws(s);
	}
	if (*s || blen < 0)
		return MX_EINVALID;
	return 0;
}

int mx_multipart_init(struct mx_multipart *mp, const char *content_type,
		      mx_multipart_part_fn on_part, mx_multipart_data_fn on_data, void *ctx)
{
	memset(mp, 0, sizeof(*mp));
	char boundary[MX_MULTIPART_MAX_BOUNDARY + 1];
	if (!content_type || parse_content_type(content_type, boundary)) {
		mp->err = MX_EINVALID;
		return MX_EINVALID;
	}
	size_t blen = strlen(boundary);
	memcpy(mp->delim, "\r\n--", 4);
	memcpy(mp->delim + 4, boundary, blen);
	mp->delim_len = 4 + blen;
	mp->on_part = on_part;
	mp->on_data = on_data;
	mp->ctx = ctx;
	mp->state = ST_PREAMBLE;
	/* The body may open with "--boundary": act as if a CRLF preceded it. */
	mp->hold_len = 2;
	mp->part.index = -1;
	return 0;
}

/* ---- the header block -------------------------------------------------- */

/*
 * Store one header value (whitespace trimmed) into a fixed field. A
 * duplicate or a value too long for the field is an error: silently
 * truncating a Location or Content-Type would hand on a different value.
 */
static int keep_value(char *field, size_t size, const char *v, size_t n)
{
	while (n && is_ws(*v)) {
		v++;
		n--;
	}
	while (n && is_ws(v[n - 1]))
		n--;
	if (field[0] || n >= size)
		return MX_EINVALID;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return MX_EINVALID;
	}
	memcpy(field, v, n);
	field[n] = '\0';
	/* An empty value would read as "absent"; refuse the ambiguity. */
	return n ? 0 : MX_EINVALID;
}

/* One unfolded header field "Name: value" (no CRLF inside but folds). */
static int parse_field(struct mx_multipart_part *part, char *line, size_t n)
{
	size_t name_len = 0;
	while (name_len < n && is_token_char((unsigned char)line[name_len]))
		name_len++;
	if (!name_len || name_len >= n || line[name_len] != ':')
		return MX_EINVALID;
	const char *v = line + name_len + 1;
	size_t vn = n - name_len - 1;
	static const struct {
		const char *name;
		size_t off, size;
	} kept[] = {
		{"Content-Type", offsetof(struct mx_multipart_part, content_type),
		 sizeof(part->content_type)},
		{"Content-Disposition", offsetof(struct mx_multipart_part, content_disposition),
		 sizeof(part->content_disposition)},
		{"Location", offsetof(struct mx_multipart_part, location), sizeof(part->location)},
	};
	for (size_t i = 0; i < MX_ARRAY_LEN(kept); i++)
		if (strlen(kept[i].name) == name_len && !strncasecmp(line, kept[i].name, name_len))
			return keep_value((char *)part + kept[i].off, kept[i].size, v, vn);
	return 0;
}

/*
 * Parse hold[0..hold_len), which ends in CRLF CRLF (or is a lone CRLF for a
 * part without headers), into mp->part. Folded lines (a line starting with
 * SP or HT continues the previous one) are joined in place by removing the
 * CRLF, as RFC 5322 unfolding does.
 */
static int parse_headers(struct mx_multipart *mp)
{
	char *h = mp->hold;
	size_t n = mp->hold_len;
	if (n == 2)
		return 0;
	n -= 2; /* keep each field's CRLF, drop the blank line */
	if (is_ws(h[0]))
		return MX_EINVALID; /* a fold with nothing to continue */
	size_t out = 0, line_start = 0;
	for (size_t i = 0; i < n;) {
		if (h[i] == '\r' && i + 1 < n && h[i + 1] == '\n') {
			if (i + 2 < n && is_ws(h[i + 2])) {
				i += 2;
				continue;
			}
			int rc = parse_field(&mp->part, h + line_start, out - line_start);
			if (rc)
				return rc;
			i += 2;
			line_start = out;
			continue;
		}
		if (h[i] == '\r' || h[i] == '\n' || h[i] == '\0')
			return MX_EINVALID; /* a bare CR or LF, or a NUL */
		h[out++] = h[i++];
	}
	if (out != line_start)
		MX_BUG("header block not ending in CRLF");
	return 0;
}

/* ---- feeding ------------------------------------------------------------- */

static int fail(struct mx_multipart *mp, int rc)
{
	mp->err = rc;
	return rc;
}

static int emit(struct mx_multipart *mp, const char *p, size_t n)
{
	if (!n || mp->state == ST_PREAMBLE || !mp->on_data)
		return 0;
	int rc = mp->on_data(mp->ctx, &mp->part, p, n);
	return rc < 0 ? rc : 0;
}

/*
 * Scan p[0..n) of a preamble or a body for the delimiter, emitting body
 * bytes (preamble bytes are dropped). In ST_BODY_START the two held bytes
 * are the virtual CRLF. Returns the number of bytes consumed: n, or up to
 * and including the delimiter (then mp->state is ST_AFTER_DELIM); a
 * callback's error goes to *err.
 */
static size_t scan(struct mx_multipart *mp, const char *p, size_t n, int *err)
{
	size_t i = 0;
	*err = 0;
	while (i < n) {
		size_t k = mp->hold_len;
		if (k == 0) {
			/* Nothing held: skip to the next CR, the only byte a delimiter
			 * can start with. */
			const char *cr = memchr(p + i, '\r', n - i);
			size_t end = cr ? (size_t)(cr - p) : n;
			if ((*err = emit(mp, p + i, end - i)))
				return 0;
			if (!cr)
				return n;
			mp->hold_len = 1;
			i = end + 1;
			continue;
		}
		/* Continue a partial match of delim[0..k). */
		size_t want = mp->delim_len - k, avail = n - i;
		size_t m = want < avail ? want : avail, j = 0;
		while (j < m && p[i + j] == mp->delim[k + j])
			j++;
		if (j == m) {
			i += m;
			mp->hold_len = k + m;
			if (mp->hold_len == mp->delim_len) {
				mp->hold_len = 0;
				mp->state = ST_AFTER_DELIM;
				return i;
			}
			return n; /* the chunk ended inside a possible delimiter */
		}
		/* Not a delimiter: the held bytes were data (the virtual CRLF was
		 * not). CR occurs only at delim[0], so none of delim[1..k) nor
		 * p[i..i+j) can begin another match: rescanning from p[i] with
		 * nothing held is exact. */
		size_t virt = mp->state == ST_BODY_START ? 2 : 0;
		if (mp->state == ST_BODY_START)
			mp->state = ST_BODY;
		if (k > virt && (*err = emit(mp, mp->delim + virt, k - virt)))
			return 0;
		mp->hold_len = 0;
	}
	return n;
}

/* Begin a new part's header block. */
static void start_part(struct mx_multipart *mp)
{
	int index = mp->part.index + 1;
	memset(&mp->part, 0, sizeof(mp->part));
	mp->part.index = index;
	mp->hold_len = 0;
	mp->state = ST_HEADERS;
}

/* Whether hold is a complete header block: a lone CRLF, or ends CRLF CRLF. */
static bool headers_complete(const struct mx_multipart *mp)
{
	size_t h = mp->hold_len;
	return (h == 2 && !memcmp(mp->hold, "\r\n", 2)) ||
	       (h >= 4 && !memcmp(mp->hold + h - 4, "\r\n\r\n", 4));
}

/* Copy header bytes from p[0..n) into hold until the block is complete;
 * returns the number used, or -1 when the block outgrows the limit. */
static long take_headers(struct mx_multipart *mp, const char *p, size_t n)
{
	if (!mp->hold) {
		mp->hold_cap = MP_HOLD_INITIAL;
		mp->hold = mx_xmalloc(mp->hold_cap);
	}
	size_t i = 0;
	while (i < n && !headers_complete(mp)) {
		if (mp->hold_len == MX_MULTIPART_MAX_HEADERS)
			return -1;
		if (mp->hold_len == mp->hold_cap) {
			mp->hold_cap *= 2;
			if (mp->hold_cap > MX_MULTIPART_MAX_HEADERS)
				mp->hold_cap = MX_MULTIPART_MAX_HEADERS;
			mp->hold = mx_xrealloc(mp->hold, mp->hold_cap);
		}
		mp->hold[mp->hold_len++] = p[i++];
	}
	return (long)i;
}

int mx_multipart_feed(struct mx_multipart *mp, const char *p, size_t n)
{
	if (mp->err)
		return mp->err;
	size_t i = 0;
	int rc;
	while (i < n) {
		char c = p[i];
		switch (mp->state) {
		case ST_PREAMBLE:
		case ST_BODY_START:
		case ST_BODY:
			i += scan(mp, p + i, n - i, &rc);
			if (rc)
				return fail(mp, rc);
			break;
		case ST_AFTER_DELIM:
			i++;
			if (c == '-')
				mp->state = ST_CLOSE_DASH;
			else if (is_ws(c))
				mp->state = ST_PADDING;
			else if (c == '\r')
				mp->state = ST_PADDING_CR;
			else
				return fail(mp, MX_EINVALID);
			break;
		case ST_CLOSE_DASH:
			i++;
			/* RFC 2046: at least one body part before the close. */
			if (c != '-' || mp->part.index < 0)
				return fail(mp, MX_EINVALID);
			mp->state = ST_EPILOGUE;
			mp->done = true;
			break;
		case ST_PADDING:
			i++;
			if (c == '\r')
				mp->state = ST_PADDING_CR;
			else if (!is_ws(c))
				return fail(mp, MX_EINVALID);
			break;
		case ST_PADDING_CR:
			i++;
			if (c != '\n')
				return fail(mp, MX_EINVALID);
			start_part(mp);
			break;
		case ST_HEADERS: {
			long used = take_headers(mp, p + i, n - i);
			if (used < 0)
				return fail(mp, MX_EINVALID);
			i += (size_t)used;
			if (!headers_complete(mp))
				break; /* the chunk ended first */
			if ((rc = parse_headers(mp)))
				return fail(mp, rc);
			if (mp->on_part && (rc = mp->on_part(mp->ctx, &mp->part)) < 0)
				return fail(mp, rc);
			/* "headers CRLF CRLF --boundary" is a part with no body: the
			 * blank line's CRLF may also begin the delimiter. */
			mp->state = ST_BODY_START;
			mp->hold_len = 2;
			break;
		}
		case ST_EPILOGUE:
			return 0; /* ignored */
		}
	}
	return 0;
}

int mx_multipart_finish(struct mx_multipart *mp)
{
	if (mp->err)
		return mp->err;
	if (mp->state != ST_EPILOGUE)
		return fail(mp, MX_EINVALID);
	return 0;
}

void mx_multipart_release(struct mx_multipart *mp)
{
	free(mp->hold);
	mp->hold = NULL;
	mp->hold_len = mp->hold_cap = 0;
}

void mx_multipart_boundary(char out[33])
{
	mx_rand_token(out, 33);
}
