/* SPDX-License-Identifier: Apache-2.0 */
/* Identifier grammars. SPEC: appendices#identifier-grammar */
#include "event/ids.h"

#include <stddef.h>
#include <string.h>

#include "event/version.h"

/* Well-formed UTF-8 (RFC 3629): no overlong forms, surrogates or > U+10FFFF. */
static bool utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		size_t need;
		unsigned char lo = 0x80, hi = 0xbf;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else {
			return false;
		}
		if (n - i - 1 < need)
			return false;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= need; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return false;
		i += need + 1;
	}
	return true;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* SPEC: appendices#server-name, on the n bytes at s. */
static bool server_name_valid(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0)
		return false;
	if (s[0] == '[') {
		/* IPv6address = 2*45IPv6char, IPv6char = DIGIT / A-F / a-f / ":" / "." */
		size_t start = ++i;
		while (i < n && s[i] != ']') {
			if (!is_hex(s[i]) && s[i] != ':' && s[i] != '.')
				return false;
			i++;
		}
		if (i == n || i - start < 2 || i - start > 45)
			return false;
		i++; /* the ']' */
	} else {
		/* dns-name = 1*255dns-char (IPv4 literals are a subset) */
		while (i < n && s[i] != ':') {
			if (!is_alpha(s[i]) && !is_digit(s[i]) && s[i] != '-' && s[i] != '.')
				return false;
			i++;
		}
		if (i == 0 || i > 255)
			return false;
	}
	if (i == n)
		return true;
	/* port = 1*5DIGIT */
	if (s[i] != ':')
		return false;
	size_t digits = n - i - 1;
	if (digits < 1 || digits > 5)
		return false;
	for (i++; i < n; i++)
		if (!is_digit(s[i]))
			return false;
	return true;
}

bool mx_id_server_name_valid(const char *s)
{
	return s && server_name_valid(s, strlen(s));
}

const char *mx_id_server(const char *id)
{
	const char *colon = id ? strchr(id, ':') : NULL;
	return colon ? colon + 1 : NULL;
}

/*
 * sigil opaque ":" server_name, opaque any UTF-8 without ':' (the split is
 * at the first ':'), at most MX_ID_MAX_LEN bytes; opaque may be empty.
 */
static bool domain_id_valid(const char *s, char sigil)
{
	size_t n;
	const char *colon;

	if (!s || s[0] != sigil)
		return false;
	n = strlen(s);
	if (n > MX_ID_MAX_LEN || !utf8_valid((const unsigned char *)s, n))
		return false;
	colon = strchr(s, ':');
	if (!colon)
		return false;
	return server_name_valid(colon + 1, n - (size_t)(colon + 1 - s));
}

/* sigil + exactly MX_ID_HASH_B64_LEN characters of the given base64 alphabet. */
static bool hash_id_valid(const char *s, char sigil, bool url_safe)
{
	if (!s || s[0] != sigil)
		return false;
	for (size_t i = 1; i <= MX_ID_HASH_B64_LEN; i++) {
		char c = s[i];
		if (is_alpha(c) || is_digit(c))
			continue;
		if (url_safe ? (c == '-' || c == '_') : (c == '+' || c == '/'))
			continue;
		return false; /* includes an early NUL */
	}
	return s[MX_ID_HASH_B64_LEN + 1] == '\0';
}

bool mx_id_user_valid(const char *s)
{
	/* SPEC: appendices#historical-user-ids: any code point but ':' and NUL */
	return domain_id_valid(s, '@');
}

bool mx_id_user_compliant(const char *s)
{
	if (!mx_id_user_valid(s) || s[1] == ':')
		return false;
	for (const char *p = s + 1; *p != ':'; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || is_digit(c) || c == '.' || c == '_' || c == '=' ||
		      c == '-' || c == '/' || c == '+'))
			return false;
	}
	return true;
}

bool mx_id_room_valid(const char *s, const struct mx_room_version *v)
{
	if (!v)
		return hash_id_valid(s, '!', true) || domain_id_valid(s, '!');
	/* SPEC: appendices#room-ids: v12+ room ids are the create event's id with "!" */
	if (v->room_id_from_create)
		return hash_id_valid(s, '!', true);
	return domain_id_valid(s, '!');
}

bool mx_id_event_valid(const char *s, const struct mx_room_version *v)
{
	if (!v)
		return hash_id_valid(s, '$', true) || hash_id_valid(s, '$', false) ||
		       domain_id_valid(s, '$');
	switch (v->event_id) {
	case MX_EVID_V1:
		return domain_id_valid(s, '$');
	case MX_EVID_V3:
		return hash_id_valid(s, '$', false);
	case MX_EVID_V4:
		return hash_id_valid(s, '$', true);
	}
	return false;
}

bool mx_id_alias_valid(const char *s)
{
	return domain_id_valid(s, '#');
}
