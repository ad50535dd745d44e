/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Canonical JSON encoding and the strict JSON parser. The encoder walks the
 * jansson DOM itself rather than using json_dumps(JSON_SORT_KEYS |
 * JSON_COMPACT): jansson writes control characters as uppercase "\u001F"
 * where the spec's grammar requires lowercase, and sorts keys with strcmp(),
 * which stops at an embedded NUL.
 */
#include "core/canonjson.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"

struct mx_cj_member {
	const char *key;
	size_t key_len;
	json_t *value;
};

/*
 * Well-formed UTF-8 per RFC 3629: no overlong forms, no surrogates, nothing
 * above U+10FFFF. jansson checks this when parsing, but a DOM built in code
 * (json_stringn_nocheck, json_object_setn_nocheck) may hold anything, and
 * what we sign must be text every other server can parse.
 */
static bool utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t need;
		unsigned char lo = 0x80, hi = 0xbf;
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			if (c == 0xe0)
				lo = 0xa0; /* overlong */
			else if (c == 0xed)
				hi = 0x9f; /* surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			if (c == 0xf0)
				lo = 0x90; /* overlong */
			else if (c == 0xf4)
				hi = 0x8f; /* above U+10FFFF */
		} else {
			return false;
		}
		if (n - i - 1 < need)
			return false;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= need; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
		i += need + 1;
	}
	return true;
}

/* SPEC: appendices#grammar: only '"', '\' and U+0000..U+001F are escaped. */
static int put_string(struct mx_buf *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	int rc;

	if (!utf8_valid((const unsigned char *)s, n))
		return MX_EBADJSON;
	if ((rc = mx_buf_putc(out, '"')))
		return rc;
	size_t run = 0; /* start of the pending unescaped run */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6];
		size_t esc_len = 2;
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		if ((rc = mx_buf_append(out, s + run, i - run)))
			return rc;
		run = i + 1;
		esc[0] = '\\';
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\t': esc[1] = 't'; break;
		case '\n': esc[1] = 'n'; break;
		case '\f': esc[1] = 'f'; break;
		case '\r': esc[1] = 'r'; break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			esc_len = 6;
			break;
		}
		if ((rc = mx_buf_append(out, esc, esc_len)))
			return rc;
	}
	if ((rc = mx_buf_append(out, s + run, n - run)))
		return rc;
	return mx_buf_putc(out, '"');
}

/* Code point order is byte order for UTF-8; a proper prefix sorts first. */
static int member_cmp(const void *a, const void *b)
{
	const struct mx_cj_member *x = a, *y = b;
	size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
	int c = memcmp(x->key, y->key, n);
	if (c)
		return c;
	return (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

static bool omitted(const char *key, size_t key_len, const char *const *omit)
{
	if (!omit)
		return false;
	for (; *omit; omit++)
		if (strlen(*omit) == key_len && memcmp(*omit, key, key_len) == 0)
			return true;
	return false;
}

static int encode_value(const json_t *v, struct mx_buf *out, int depth);

static int encode_object(const json_t *v, struct mx_buf *out, int depth,
			 const char *const *omit)
{
	struct mx_cj_member stack_members[16];
	struct mx_cj_member *m = stack_members;
	size_t n = 0, cap = json_object_size(v);
	const char *key;
	size_t key_len;
	json_t *val;
	int rc;

	if (cap > MX_ARRAY_LEN(stack_members))
		m = mx_xmalloc(cap * sizeof(*m));
	/* jansson's iteration API takes a non-const object; it does not write. */
	json_object_keylen_foreach((json_t *)v, key, key_len, val) {
		if (omitted(key, key_len, omit))
			continue;
		MX_ASSERT(n < cap);
		m[n++] = (struct mx_cj_member){key, key_len, val};
	}
	qsort(m, n, sizeof(*m), member_cmp);

	if ((rc = mx_buf_putc(out, '{')))
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (i && (rc = mx_buf_putc(out, ',')))
			goto out;
		if ((rc = put_string(out, m[i].key, m[i].key_len)))
			goto out;
		if ((rc = mx_buf_putc(out, ':')))
			goto out;
		if ((rc = encode_value(m[i].value, out, depth + 1)))
			goto out;
	}
	rc = mx_buf_putc(out, '}');
out:
	if (m != stack_members)
		free(m);
	return rc;
}

static int encode_value(const json_t *v, struct mx_buf *out, int depth)
{
	int rc;

	if (depth > MX_JSON_MAX_DEPTH)
		return MX_EBADJSON;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return encode_object(v, out, depth, NULL);
	case JSON_ARRAY: {
		size_t n = json_array_size(v);
		if ((rc = mx_buf_putc(out, '[')))
			return rc;
		for (size_t i = 0; i < n; i++) {
			if (i && (rc = mx_buf_putc(out, ',')))
				return rc;
			if ((rc = encode_value(json_array_get(v, i), out, depth + 1)))
				return rc;
		}
		return mx_buf_putc(out, ']');
	}
	case JSON_STRING:
		return put_string(out, json_string_value(v), json_string_length(v));
	case JSON_INTEGER: {
		json_int_t i = json_integer_value(v);
		if (i < MX_CANONJSON_INT_MIN || i > MX_CANONJSON_INT_MAX)
			return MX_EBADJSON;
		/* "%lld" never writes "-0": -0 is the integer 0 by now. */
		return mx_buf_printf(out, "%lld", (long long)i);
	}
	case JSON_TRUE:
		return mx_buf_append(out, "true", 4);
	case JSON_FALSE:
		return mx_buf_append(out, "false", 5);
	case JSON_NULL:
		return mx_buf_append(out, "null", 4);
	case JSON_REAL:
	default:
		/* SPEC: appendices#canonical-json: "Float values are not permitted". */
		return MX_EBADJSON;
	}
}

/* Undo a partial append so a failed encode leaves out as it found it. */
static void buf_truncate(struct mx_buf *out, size_t len)
{
	out->len = len;
	if (out->data)
		out->data[len] = '\0';
}

int mx_canonjson_encode(const json_t *v, struct mx_buf *out)
{
	size_t start = out->len;
	int rc = v ? encode_value(v, out, 1) : MX_EBADJSON;
	if (rc)
		buf_truncate(out, start);
	return rc;
}

int mx_canonjson_encode_except(const json_t *obj, const char *const *omit,
			       struct mx_buf *out)
{
	size_t start = out->len;
	if (!json_is_object(obj))
		return MX_EBADJSON;
	int rc = encode_object(obj, out, 1, omit);
	if (rc)
		buf_truncate(out, start);
	return rc;
}

char *mx_canonjson_dumps(const json_t *v, size_t max, int *err)
{
	struct mx_buf b;
	mx_buf_init(&b, max);
	int rc = mx_canonjson_encode(v, &b);
	if (err)
		*err = rc;
	if (rc) {
		mx_buf_release(&b);
		return NULL;
	}
	return mx_buf_detach(&b, NULL);
}

static int check_value(const json_t *v, int depth)
{
	const char *key;
	json_t *val;
	int rc;

	if (depth > MX_JSON_MAX_DEPTH)
		return MX_EBADJSON;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		json_object_foreach((json_t *)v, key, val) {
			if ((rc = check_value(val, depth + 1)))
				return rc;
		}
		return 0;
	case JSON_ARRAY:
		for (size_t i = 0, n = json_array_size(v); i < n; i++)
			if ((rc = check_value(json_array_get(v, i), depth + 1)))
				return rc;
		return 0;
	case JSON_INTEGER: {
		json_int_t i = json_integer_value(v);
		if (i < MX_CANONJSON_INT_MIN || i > MX_CANONJSON_INT_MAX)
			return MX_EBADJSON;
		return 0;
	}
	case JSON_REAL:
		return MX_EBADJSON;
	default:
		return 0;
	}
}

int mx_canonjson_check(const json_t *v)
{
	return v ? check_value(v, 1) : MX_EBADJSON;
}

static int depth_ok(const json_t *v, int depth)
{
	const char *key;
	json_t *val;

	if (depth > MX_JSON_MAX_DEPTH)
		return 0;
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, key, val) {
			if (!depth_ok(val, depth + 1))
				return 0;
		}
	} else if (json_is_array(v)) {
		for (size_t i = 0, n = json_array_size(v); i < n; i++)
			if (!depth_ok(json_array_get(v, i), depth + 1))
				return 0;
	}
	return 1;
}

json_t *mx_json_parse_strict(const char *data, size_t len, int *err)
{
	json_error_t jerr;
	int rc = 0;

	/*
	 * No JSON_DISABLE_EOF_CHECK: trailing bytes after the value are an
	 * error. No JSON_ALLOW_NUL: "\u0000" is rejected. jansson always
	 * rejects invalid UTF-8 and stops at JSON_PARSER_MAX_DEPTH (2048);
	 * our tighter MX_JSON_MAX_DEPTH is checked afterwards.
	 */
	json_t *v = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!v) {
		switch (json_error_code(&jerr)) {
		case json_error_duplicate_key:
		case json_error_invalid_utf8:
		case json_error_null_character:
		case json_error_null_byte_in_key:
		case json_error_numeric_overflow:
		case json_error_stack_overflow:
			rc = MX_EBADJSON;
			break;
		default:
			rc = MX_ENOTJSON;
			break;
		}
		goto out;
	}
	if (!depth_ok(v, 1)) {
		json_decref(v);
		v = NULL;
		rc = MX_EBADJSON;
	}
out:
	if (err)
		*err = rc;
	return v;
}
