/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer driver for the URL-preview HTML scanner: arbitrary bytes as
 * a fetched page. The input is copied to an exact-size heap block (no
 * terminator) so ASan catches any read past it. Every extracted value must
 * be a non-empty string of valid UTF-8 within the 1000-byte cap with no
 * leading or trailing space, except og:image:width/height, which must be
 * non-negative integers; every key must be og:*.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/preview.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define VALUE_MAX 1000

static bool utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		size_t k;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			k = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			k = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			k = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (n - i <= k)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 20)
		return 0;
	char *html = malloc(size ? size : 1);
	if (!html)
		return 0;
	if (size)
		memcpy(html, data, size);
	json_t *og = mx_preview_parse_html(html, size);
	if (!og || !json_is_object(og))
		abort();
	const char *key;
	json_t *v;
	json_object_foreach(og, key, v) {
		if (strncmp(key, "og:", 3) != 0)
			abort();
		if (!strcmp(key, "og:image:width") || !strcmp(key, "og:image:height")) {
			if (!json_is_integer(v) || json_integer_value(v) < 0)
				abort();
			continue;
		}
		if (!json_is_string(v))
			abort();
		const unsigned char *s = (const unsigned char *)json_string_value(v);
		size_t n = json_string_length(v);
		if (n == 0 || n > VALUE_MAX || !utf8_valid(s, n))
			abort();
		if (s[0] == ' ' || s[n - 1] == ' ')
			abort();
	}
	json_decref(og);
	free(html);
	return 0;
}
