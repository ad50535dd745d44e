/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for src/core/canonjson: canonical JSON and the strict parser. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/canonjson.h"
#include "core/error.h"

static json_t *parse(const char *s)
{
	int err = 1;
	json_t *v = mx_json_parse_strict(s, strlen(s), &err);
	assert_non_null(v);
	assert_int_equal(err, 0);
	return v;
}

/* Parse in, canonical-encode, compare with want byte for byte. */
static void check_canon(const char *in, const char *want)
{
	json_t *v = parse(in);
	int err = 1;
	char *got = mx_canonjson_dumps(v, MX_BUF_UNLIMITED, &err);
	assert_int_equal(err, 0);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
	json_decref(v);
}

static int canon_err(const char *in)
{
	json_t *v = parse(in);
	int err = 0;
	char *got = mx_canonjson_dumps(v, MX_BUF_UNLIMITED, &err);
	assert_null(got);
	json_decref(v);
	return err;
}

static int parse_err(const char *in, size_t len)
{
	int err = 0;
	json_t *v = mx_json_parse_strict(in, len, &err);
	assert_null(v);
	return err;
}

/* SPEC: appendices#examples (Canonical JSON), every example in order. */
static void test_spec_examples(void **state)
{
	(void)state;
	/* SPEC: appendices#examples: empty object */
	check_canon("{}", "{}");
	/* SPEC: appendices#examples: one/two */
	check_canon("{\n    \"one\": 1,\n    \"two\": \"Two\"\n}", "{\"one\":1,\"two\":\"Two\"}");
	/* SPEC: appendices#examples: keys reordered, pretty input */
	check_canon("{\n    \"b\": \"2\",\n    \"a\": \"1\"\n}", "{\"a\":\"1\",\"b\":\"2\"}");
	/* SPEC: appendices#examples: keys reordered, compact input */
	check_canon("{\"b\":\"2\",\"a\":\"1\"}", "{\"a\":\"1\",\"b\":\"2\"}");
	/* SPEC: appendices#examples: nested auth object */
	check_canon("{\n"
		    "    \"auth\": {\n"
		    "        \"success\": true,\n"
		    "        \"mxid\": \"@john.doe:example.com\",\n"
		    "        \"profile\": {\n"
		    "            \"display_name\": \"John Doe\",\n"
		    "            \"three_pids\": [\n"
		    "                {\n"
		    "                    \"medium\": \"email\",\n"
		    "                    \"address\": \"john.doe@example.org\"\n"
		    "                },\n"
		    "                {\n"
		    "                    \"medium\": \"msisdn\",\n"
		    "                    \"address\": \"123456789\"\n"
		    "                }\n"
		    "            ]\n"
		    "        }\n"
		    "    }\n"
		    "}",
		    "{\"auth\":{\"mxid\":\"@john.doe:example.com\",\"profile\":{\"display_name\":"
		    "\"John Doe\",\"three_pids\":[{\"address\":\"john.doe@example.org\",\"medium\":"
		    "\"email\"},{\"address\":\"123456789\",\"medium\":\"msisdn\"}]},\"success\":true}}");
	/* SPEC: appendices#examples: non-ASCII value as raw UTF-8 */
	check_canon("{\n    \"a\": \"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\"\n}",
		    "{\"a\":\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\"}");
	/* SPEC: appendices#examples: non-ASCII keys sorted by code point (U+65E5 < U+672C) */
	check_canon("{\n    \"\xe6\x9c\xac\": 2,\n    \"\xe6\x97\xa5\": 1\n}",
		    "{\"\xe6\x97\xa5\":1,\"\xe6\x9c\xac\":2}");
	/* SPEC: appendices#examples: \u escape in input becomes raw UTF-8 */
	check_canon("{\n    \"a\": \"\\u65E5\"\n}", "{\"a\":\"\xe6\x97\xa5\"}");
	/* SPEC: appendices#examples: null */
	check_canon("{\n    \"a\": null\n}", "{\"a\":null}");
}

/*
 * SPEC: appendices#examples, the last example: {"a": -0, "b": 1e10} ->
 * {"a":0,"b":10000000000}. "-0" is an integer to jansson and becomes 0.
 * "1e10" is a real to jansson, and we reject reals outright (the same
 * section: "Float values are not permitted"; rooms v6+: "no longer be
 * formatted as floats"), so this one vector is deliberately NOT reproduced
 * from its input; the integer form of it is.
 */
static void test_spec_negative_zero_and_exponent(void **state)
{
	(void)state;
	check_canon("{\n    \"a\": -0,\n    \"b\": 10000000000\n}", "{\"a\":0,\"b\":10000000000}");
	assert_int_equal(canon_err("{\n    \"a\": -0,\n    \"b\": 1e10\n}"), MX_EBADJSON);
	check_canon("-0", "0");
	check_canon("[-0,0]", "[0,0]");
}

/* SPEC: appendices#grammar: the escaped production, exhaustively. */
static void test_escapes(void **state)
{
	(void)state;
	check_canon("\"\\b\\t\\n\\f\\r\"", "\"\\b\\t\\n\\f\\r\"");
	check_canon("\"\\\"\\\\\"", "\"\\\"\\\\\"");
	/* "/" has a redundant escape in input JSON; canonical form is raw. */
	check_canon("\"\\/a/b\"", "\"/a/b\"");
	/* Other control characters: \u00XX with lowercase hex. */
	check_canon("\"\\u0001\\u0007\\u000B\\u000e\\u000F\\u0010\\u001F\\u001a\"",
		    "\"\\u0001\\u0007\\u000b\\u000e\\u000f\\u0010\\u001f\\u001a\"");
	/* Every U+0000..U+001F except NUL (which the strict parser refuses). */
	for (int c = 1; c < 0x20; c++) {
		char in[16], want[16];
		const char *short_form = NULL;
		switch (c) {
		case 8: short_form = "\\b"; break;
		case 9: short_form = "\\t"; break;
		case 10: short_form = "\\n"; break;
		case 12: short_form = "\\f"; break;
		case 13: short_form = "\\r"; break;
		}
		snprintf(in, sizeof(in), "\"\\u%04X\"", c);
		if (short_form)
			snprintf(want, sizeof(want), "\"%s\"", short_form);
		else
			snprintf(want, sizeof(want), "\"\\u%04x\"", c);
		check_canon(in, want);
	}
	/* DEL and everything above are "unescaped" (%x5D-10FFFF). */
	check_canon("\"\\u007f\"", "\"\x7f\"");
	check_canon("\"\\u00e9\\u2028\\u2029\"", "\"\xc3\xa9\xe2\x80\xa8\xe2\x80\xa9\"");
	/* A surrogate pair becomes the 4-byte UTF-8 of U+1F600. */
	check_canon("\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\"");
	/* Escapes in keys too. */
	check_canon("{\"a\\nb\":1,\"\\u0041\":2}", "{\"A\":2,\"a\\nb\":1}");
}

/* SPEC: appendices#canonical-json: "dictionary keys lexicographically sorted by Unicode codepoint" */
static void test_key_order(void **state)
{
	(void)state;
	/* Prefixes first, uppercase before lowercase, digits before letters. */
	check_canon("{\"b\":1,\"aa\":2,\"a\":3,\"B\":4,\"1\":5,\"\":6}",
		    "{\"\":6,\"1\":5,\"B\":4,\"a\":3,\"aa\":2,\"b\":1}");
	/*
	 * U+FF61 sorts before U+1F600 by code point, but after it in UTF-16
	 * code units (0xD83D < 0xFF61): implementations that sort UTF-16
	 * strings get this wrong.
	 */
	check_canon("{\"\\ud83d\\ude00\":1,\"\\uff61\":2,\"\\u00e9\":3,\"z\":4}",
		    "{\"z\":4,\"\xc3\xa9\":3,\"\xef\xbd\xa1\":2,\"\xf0\x9f\x98\x80\":1}");
	/* Arrays keep their order; nested objects are sorted. */
	check_canon("[3,1,{\"y\":[],\"x\":{}},2]", "[3,1,{\"x\":{},\"y\":[]},2]");
	check_canon("[true,false,null,\"\",[],{}]", "[true,false,null,\"\",[],{}]");
}

/* SPEC: appendices#canonical-json: integers in [-(2**53)+1, (2**53)-1] */
static void test_int_range(void **state)
{
	(void)state;
	check_canon("9007199254740991", "9007199254740991");
	check_canon("-9007199254740991", "-9007199254740991");
	check_canon("{\"a\":[-1,0,1,1234567890123]}", "{\"a\":[-1,0,1,1234567890123]}");
	assert_int_equal(canon_err("9007199254740992"), MX_EBADJSON);
	assert_int_equal(canon_err("-9007199254740992"), MX_EBADJSON);
	assert_int_equal(canon_err("{\"a\":{\"b\":[9223372036854775807]}}"), MX_EBADJSON);
	assert_int_equal(canon_err("-9223372036854775808"), MX_EBADJSON);
}

/* SPEC: appendices#canonical-json: "Float values are not permitted" */
static void test_floats_rejected(void **state)
{
	(void)state;
	assert_int_equal(canon_err("1.0"), MX_EBADJSON);
	assert_int_equal(canon_err("{\"a\":1.5}"), MX_EBADJSON);
	assert_int_equal(canon_err("[0,[1,[2.25]]]"), MX_EBADJSON);
	assert_int_equal(canon_err("{\"a\":1e2}"), MX_EBADJSON);
	assert_int_equal(canon_err("-0.0"), MX_EBADJSON);
}

/* SPEC: rooms/v6#canonical-json: mx_canonjson_check finds reals and big ints anywhere. */
static void test_check(void **state)
{
	(void)state;
	static const struct {
		const char *json;
		int want;
	} cases[] = {
		{"{}", 0},
		{"{\"a\":[1,\"x\",null,true,{\"b\":-9007199254740991}]}", 0},
		{"{\"a\":[1,\"x\",null,true,{\"b\":-9007199254740992}]}", MX_EBADJSON},
		{"{\"content\":{\"n\":9007199254740992}}", MX_EBADJSON},
		{"{\"content\":{\"n\":0.5}}", MX_EBADJSON},
		{"[[[[[1.0]]]]]", MX_EBADJSON},
		{"\"string\"", 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *v = parse(cases[i].json);
		assert_int_equal(mx_canonjson_check(v), cases[i].want);
		json_decref(v);
	}
	assert_int_equal(mx_canonjson_check(NULL), MX_EBADJSON);
}

static void test_parse_strict(void **state)
{
	(void)state;
	/* Duplicate keys, at the top and nested. */
	assert_int_equal(parse_err("{\"a\":1,\"a\":2}", 13), MX_EBADJSON);
	assert_int_equal(parse_err("{\"x\":{\"a\":1,\"b\":2,\"a\":1}}", 25), MX_EBADJSON);
	/* The same key written two ways is still a duplicate. */
	const char dup_esc[] = "{\"a\":1,\"\\u0061\":2}";
	assert_int_equal(parse_err(dup_esc, sizeof(dup_esc) - 1), MX_EBADJSON);
	/* Invalid UTF-8: bad continuation, overlong, lone continuation, surrogate, > U+10FFFF. */
	static const char *const bad_utf8[] = {
		"\"\xc3\x28\"", "\"\xc0\xaf\"", "\"\x80\"", "\"\xed\xa0\x80\"",
		"\"\xf4\x90\x80\x80\"", "{\"\xff\":1}", "\"\xe6\x97\"",
	};
	for (size_t i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++)
		assert_int_equal(parse_err(bad_utf8[i], strlen(bad_utf8[i])), MX_EBADJSON);
	/* NUL in strings and keys, escaped or raw. */
	const char nul_esc[] = "\"a\\u0000b\"";
	assert_int_equal(parse_err(nul_esc, sizeof(nul_esc) - 1), MX_EBADJSON);
	const char nul_key[] = "{\"a\\u0000\":1}";
	assert_int_equal(parse_err(nul_key, sizeof(nul_key) - 1), MX_EBADJSON);
	/* A raw NUL (any raw control character) in a string is not JSON at all. */
	const char nul_raw[] = "\"a\0b\"";
	assert_int_equal(parse_err(nul_raw, sizeof(nul_raw) - 1), MX_ENOTJSON);
	/* Integers beyond 64 bits are JSON, but not JSON we can hold. */
	assert_int_equal(parse_err("99999999999999999999", 20), MX_EBADJSON);
	/* Not JSON at all. */
	assert_int_equal(parse_err("", 0), MX_ENOTJSON);
	assert_int_equal(parse_err("{", 1), MX_ENOTJSON);
	assert_int_equal(parse_err("{} {}", 5), MX_ENOTJSON);
	assert_int_equal(parse_err("[1] x", 5), MX_ENOTJSON);
	assert_int_equal(parse_err("{'a':1}", 7), MX_ENOTJSON);
	assert_int_equal(parse_err("{\"a\":01}", 8), MX_ENOTJSON);
	assert_int_equal(parse_err("NaN", 3), MX_ENOTJSON);
	/* Only len bytes are read: a valid prefix is not enough. */
	assert_int_equal(parse_err("{\"a\":1}", 6), MX_ENOTJSON);
	/* err may be NULL. */
	assert_null(mx_json_parse_strict("{", 1, NULL));

	/* Accepted: whitespace around, any top-level type, reals (rooms v1-5). */
	json_t *v = parse(" \n{\"a\" : [ 1 , 2 ]}\t ");
	assert_true(json_is_object(v));
	json_decref(v);
	v = parse("\"s\"");
	assert_true(json_is_string(v));
	json_decref(v);
	v = parse("{\"a\":1.5,\"b\":9007199254740993}");
	assert_int_equal(mx_canonjson_check(v), MX_EBADJSON);
	json_decref(v);
}

/* Build "[[[...]]]" nested depth deep. */
static char *nested(int depth)
{
	char *s = malloc((size_t)depth * 2 + 1);
	assert_non_null(s);
	for (int i = 0; i < depth; i++) {
		s[i] = '[';
		s[depth * 2 - 1 - i] = ']';
	}
	s[depth * 2] = '\0';
	return s;
}

static void test_depth_limit(void **state)
{
	(void)state;
	char *ok = nested(MX_JSON_MAX_DEPTH);
	json_t *v = parse(ok);
	char *out = mx_canonjson_dumps(v, MX_BUF_UNLIMITED, NULL);
	assert_string_equal(out, ok);
	assert_int_equal(mx_canonjson_check(v), 0);
	free(out);

	/* One level more, built in code, is refused by encode and check. */
	json_t *outer = json_array();
	json_array_append(outer, v);
	int err = 0;
	assert_null(mx_canonjson_dumps(outer, MX_BUF_UNLIMITED, &err));
	assert_int_equal(err, MX_EBADJSON);
	assert_int_equal(mx_canonjson_check(outer), MX_EBADJSON);
	json_decref(outer);
	json_decref(v);
	free(ok);

	char *deep = nested(MX_JSON_MAX_DEPTH + 1);
	assert_int_equal(parse_err(deep, strlen(deep)), MX_EBADJSON);
	free(deep);
	/* Past jansson's own limit (2048) too. */
	deep = nested(5000);
	assert_int_equal(parse_err(deep, strlen(deep)), MX_EBADJSON);
	free(deep);
}

/* DOMs built in code can hold what the parser never produces. */
static void test_dom_edge_cases(void **state)
{
	(void)state;
	int err = 0;
	/* Invalid UTF-8 in a value or a key. */
	json_t *s = json_stringn_nocheck("\xc3\x28", 2);
	assert_null(mx_canonjson_dumps(s, MX_BUF_UNLIMITED, &err));
	assert_int_equal(err, MX_EBADJSON);
	json_decref(s);
	json_t *o = json_object();
	json_object_set_new_nocheck(o, "\xff", json_true());
	assert_null(mx_canonjson_dumps(o, MX_BUF_UNLIMITED, &err));
	assert_int_equal(err, MX_EBADJSON);
	json_decref(o);

	/* Embedded NULs: escaped, and keys compared by full length. */
	o = json_object();
	json_object_setn_new_nocheck(o, "a\0b", 3, json_integer(1));
	json_object_setn_new_nocheck(o, "a", 1, json_integer(2));
	json_object_set_new(o, "v", json_stringn("x\0y", 3));
	char *out = mx_canonjson_dumps(o, MX_BUF_UNLIMITED, &err);
	assert_int_equal(err, 0);
	assert_string_equal(out, "{\"a\":2,\"a\\u0000b\":1,\"v\":\"x\\u0000y\"}");
	free(out);
	json_decref(o);

	/* Reals and out-of-range integers built in code. */
	s = json_real(2.0);
	assert_int_equal(mx_canonjson_check(s), MX_EBADJSON);
	assert_null(mx_canonjson_dumps(s, MX_BUF_UNLIMITED, &err));
	json_decref(s);
	s = json_integer(MX_CANONJSON_INT_MAX + 1);
	assert_null(mx_canonjson_dumps(s, MX_BUF_UNLIMITED, &err));
	assert_int_equal(err, MX_EBADJSON);
	json_decref(s);

	assert_null(mx_canonjson_dumps(NULL, MX_BUF_UNLIMITED, &err));
	assert_int_equal(err, MX_EBADJSON);

	/* A large object (more members than the encoder's on-stack array). */
	o = json_object();
	for (int i = 99; i >= 0; i--) {
		char k[8];
		snprintf(k, sizeof(k), "k%02d", i);
		json_object_set_new(o, k, json_integer(i));
	}
	out = mx_canonjson_dumps(o, MX_BUF_UNLIMITED, &err);
	assert_non_null(out);
	assert_true(strncmp(out, "{\"k00\":0,\"k01\":1,", 17) == 0);
	assert_non_null(strstr(out, ",\"k98\":98,\"k99\":99}"));
	free(out);
	json_decref(o);
}

static void test_buffer_limits(void **state)
{
	(void)state;
	json_t *v = parse("{\"b\":[1,2,3],\"a\":\"hello\"}");
	const char *want = "{\"a\":\"hello\",\"b\":[1,2,3]}";
	size_t n = strlen(want);
	int err = 0;

	/* Exactly enough room, then one byte short. */
	char *out = mx_canonjson_dumps(v, n, &err);
	assert_string_equal(out, want);
	free(out);
	assert_null(mx_canonjson_dumps(v, n - 1, &err));
	assert_int_equal(err, MX_ETOOLARGE);

	/* Appends after existing contents; failure restores them. */
	struct mx_buf b;
	mx_buf_init(&b, 8 + n);
	assert_int_equal(mx_buf_puts(&b, "prefix: "), 0);
	assert_int_equal(mx_canonjson_encode(v, &b), 0);
	assert_int_equal(b.len, 8 + n);
	assert_string_equal(b.data + 8, want);
	mx_buf_reset(&b);
	assert_int_equal(mx_buf_puts(&b, "prefix:  "), 0);
	assert_int_equal(mx_canonjson_encode(v, &b), MX_ETOOLARGE);
	assert_int_equal(b.len, 9);
	assert_string_equal(b.data, "prefix:  ");

	/* A failing value after a good one also leaves the buffer untouched. */
	json_t *bad = parse("{\"a\":\"fine\",\"z\":1.5}");
	mx_buf_reset(&b);
	assert_int_equal(mx_canonjson_encode(bad, &b), MX_EBADJSON);
	assert_int_equal(b.len, 0);
	mx_buf_release(&b);
	json_decref(bad);
	json_decref(v);
}

/* SPEC: appendices#signing-details: the shape signing and content hashing use. */
static void test_encode_except(void **state)
{
	(void)state;
	static const char *const omit[] = {"signatures", "unsigned", NULL};
	json_t *v = parse("{\"unsigned\":{\"age\":1},\"b\":1,\"signatures\":{},\"a\":{\"unsigned\":2}}");
	struct mx_buf b;
	mx_buf_init(&b, MX_BUF_UNLIMITED);
	assert_int_equal(mx_canonjson_encode_except(v, omit, &b), 0);
	/* Only top-level keys are omitted. */
	assert_string_equal(b.data, "{\"a\":{\"unsigned\":2},\"b\":1}");
	mx_buf_reset(&b);
	assert_int_equal(mx_canonjson_encode_except(v, NULL, &b), 0);
	assert_string_equal(b.data, "{\"a\":{\"unsigned\":2},\"b\":1,\"signatures\":{},"
				    "\"unsigned\":{\"age\":1}}");
	json_decref(v);

	v = parse("[1]");
	mx_buf_reset(&b);
	assert_int_equal(mx_canonjson_encode_except(v, omit, &b), MX_EBADJSON);
	json_decref(v);
	v = parse("{\"signatures\":1,\"unsigned\":2}");
	mx_buf_reset(&b);
	assert_int_equal(mx_canonjson_encode_except(v, omit, &b), 0);
	assert_string_equal(b.data, "{}");
	json_decref(v);
	mx_buf_release(&b);
}

/* Canonical output is a fixed point: parsing it and encoding again changes nothing. */
static void test_idempotent(void **state)
{
	(void)state;
	static const char *const inputs[] = {
		"{\"z\":[1,{\"b\":\"\\u0001\\n\",\"a\":null}],\"\xc3\xa9\":\"\\\"\\\\/\"}",
		"[\"\\ud83d\\ude00\",-9007199254740991,false]",
	};
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		json_t *v = parse(inputs[i]);
		char *once = mx_canonjson_dumps(v, MX_BUF_UNLIMITED, NULL);
		json_t *w = parse(once);
		char *twice = mx_canonjson_dumps(w, MX_BUF_UNLIMITED, NULL);
		assert_string_equal(once, twice);
		free(once);
		free(twice);
		json_decref(v);
		json_decref(w);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_examples),
		cmocka_unit_test(test_spec_negative_zero_and_exponent),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_key_order),
		cmocka_unit_test(test_int_range),
		cmocka_unit_test(test_floats_rejected),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_parse_strict),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_dom_edge_cases),
		cmocka_unit_test(test_buffer_limits),
		cmocka_unit_test(test_encode_except),
		cmocka_unit_test(test_idempotent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
