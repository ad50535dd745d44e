/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Canonical JSON (SPEC: appendices#canonical-json) over a jansson DOM, and
 * the strict JSON parser every piece of outside JSON goes through.
 *
 * Canonical JSON is the byte string that signatures, content hashes and
 * reference hashes (and so event ids) are computed over, so it must match
 * every other implementation bit for bit: object keys sorted by code point
 * (which for UTF-8 is plain byte order), no insignificant whitespace, only
 * `"`, `\` and U+0000..U+001F escaped (\b \t \n \f \r short forms, the rest
 * as \u00XX in lowercase hex), everything else as raw UTF-8, and integers
 * only, in [-(2^53)+1, (2^53)-1].
 *
 * None of these functions keep a reference to the values they are given.
 */
#ifndef MX_CORE_CANONJSON_H
#define MX_CORE_CANONJSON_H

#include <stddef.h>

#include <jansson.h>

#include "core/buf.h"

/* The largest and smallest integers canonical JSON can carry: 2^53 - 1. */
#define MX_CANONJSON_INT_MAX 9007199254740991LL
#define MX_CANONJSON_INT_MIN (-9007199254740991LL)

/*
 * Nesting limit for parsed and encoded JSON. Far deeper than any legitimate
 * Matrix JSON; it bounds the recursion of every walker over a DOM that came
 * from outside, and catches reference cycles in DOMs built in code.
 */
#define MX_JSON_MAX_DEPTH 256

/*
 * Size limit for canonical encodings of values that are already in memory
 * (and so already bounded by the request or PDU limit that let them in):
 * a backstop, not a protocol limit.
 */
#define MX_CANONJSON_MAX_BYTES ((size_t)64 << 20)

/*
 * Append the canonical encoding of v to out.
 *
 * Returns 0, or:
 *  MX_EBADJSON   v (anywhere inside) holds a real, an integer outside the
 *                canonical range, a string or key that is not valid UTF-8,
 *                or nests deeper than MX_JSON_MAX_DEPTH;
 *  MX_ETOOLARGE  the encoding would take out past its max.
 * On error out is left as it was on entry (its length and contents are
 * restored).
 */
int mx_canonjson_encode(const json_t *v, struct mx_buf *out);

/*
 * Like mx_canonjson_encode() for an object, but as if the top-level keys
 * named in omit (a NULL-terminated array; NULL means none) were absent.
 * This is what signing ("signatures", "unsigned") and content hashing
 * ("signatures", "unsigned", "hashes") need, without copying or mutating
 * the object. Returns MX_EBADJSON if obj is not an object.
 */
int mx_canonjson_encode_except(const json_t *obj, const char *const *omit,
			       struct mx_buf *out);

/*
 * The canonical encoding of v as a fresh NUL-terminated heap string
 * (caller frees), at most max bytes long. Returns NULL on failure and sets
 * *err (if err is non-NULL) to the code mx_canonjson_encode() gave.
 */
char *mx_canonjson_dumps(const json_t *v, size_t max, int *err);

/*
 * Check that v could be canonically encoded: no reals, no integers outside
 * [MX_CANONJSON_INT_MIN, MX_CANONJSON_INT_MAX], no nesting deeper than
 * MX_JSON_MAX_DEPTH. Room versions 6 and later require this of every event
 * (SPEC: rooms/v6#canonical-json). Returns 0 or MX_EBADJSON.
 */
int mx_canonjson_check(const json_t *v);

/*
 * Parse len bytes of JSON strictly: the whole input must be exactly one
 * JSON value (any type; callers check it is the type they want), with no
 * duplicate object keys, valid UTF-8 only, no NUL (\u0000) in strings or
 * keys, and nesting no deeper than MX_JSON_MAX_DEPTH.
 *
 * Integers that do not fit in 64 bits fail with MX_EBADJSON. Reals and
 * 64-bit integers outside the canonical range do parse (events in room
 * versions 1-5 may carry them); use mx_canonjson_check() where they are
 * forbidden. "-0" parses as the integer 0.
 *
 * Returns a new reference (caller decrefs), or NULL with *err (if err is
 * non-NULL) set to MX_ENOTJSON when the input is not JSON at all, or
 * MX_EBADJSON when it is JSON that breaks one of the rules above.
 */
json_t *mx_json_parse_strict(const char *data, size_t len, int *err);

#endif
