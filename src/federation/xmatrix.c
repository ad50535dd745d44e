/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The X-Matrix Authorization scheme: a strict, bounded parser for the
 * header (RFC 9110 section 11.4 auth-params, plus the spec's allowance for
 * colons in unquoted values), and signing / verification of the request
 * object {method, uri, origin, destination, content}.
 * SPEC: server-server-api#request-authentication
 */
#include "federation/xmatrix.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/error.h"
#include "crypto/keys.h"
#include "crypto/sign.h"
#include "event/ids.h"

/*
 * The longest header accepted. Legitimate ones are ~250 bytes; the bound
 * keeps the scan of unknown parameters finite whatever the HTTP layer let in.
 */
#define MX_XMATRIX_HEADER_MAX 4096

enum { XM_ORIGIN, XM_DESTINATION, XM_KEY, XM_SIG, XM_N };

static const char *const xm_names[XM_N] = {"origin", "destination", "key", "sig"};

static bool xm_is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 9110 section 5.6.2: tchar. */
static bool xm_is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/*
 * A character of an unquoted value: a tchar, or ':' (SPEC: "the recipient
 * should allow colons to be included in values without requiring the value
 * to be enclosed in quotes"), or the '/', '=', '[' and ']' that unquoted
 * base64 signatures and IPv6 server names carry from lenient senders.
 */
static bool xm_is_bare(unsigned char c)
{
	return xm_is_tchar(c) || c == ':' || c == '/' || c == '=' || c == '[' || c == ']';
}

/* RFC 9110 section 5.6.4: qdtext, and what may follow a backslash. */
static bool xm_is_qdtext(unsigned char c)
{
	return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) ||
	       (c >= 0x5d && c <= 0x7e) || c >= 0x80;
}

static bool xm_is_qpair(unsigned char c)
{
	return c == '\t' || c == ' ' || (c >= 0x21 && c <= 0x7e) || c >= 0x80;
}

/* A key id: "algorithm:version", of token characters and colons (never
 * quotes, backslashes or spaces). */
static bool xm_key_id_valid(const char *s)
{
	const char *colon = strchr(s, ':');
	if (!colon || colon == s || !colon[1])
		return false;
	for (const char *p = s; *p; p++)
		if (!xm_is_tchar((unsigned char)*p) && *p != ':')
			return false;
	return true;
}

/* A signature: base64 of either alphabet, padding tolerated. */
static bool xm_sig_valid(const char *s)
{
	if (!*s)
		return false;
	for (const char *p = s; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '/' || c == '-' || c == '_' || c == '='))
			return false;
	}
	return true;
}

static char *xm_field(struct mx_xmatrix *out, int which, size_t *cap)
{
	switch (which) {
	case XM_ORIGIN: *cap = sizeof(out->origin); return out->origin;
	case XM_DESTINATION: *cap = sizeof(out->destination); return out->destination;
	case XM_KEY: *cap = sizeof(out->key_id); return out->key_id;
	default: *cap = sizeof(out->sig); return out->sig;
	}
}

int mx_xmatrix_parse(const char *header, struct mx_xmatrix *out)
{
	bool seen[XM_N] = {false};
	char val[256];

	memset(out, 0, sizeof(*out));
	if (!header || strnlen(header, MX_XMATRIX_HEADER_MAX + 1) > MX_XMATRIX_HEADER_MAX)
		return MX_EUNAUTHORIZED;
	const char *p = header;
	while (xm_is_ows(*p))
		p++;
	/* The scheme is a token, compared case-insensitively (RFC 9110 11.1). */
	if (strncasecmp(p, "X-Matrix", 8) != 0)
		return MX_EUNAUTHORIZED;
	p += 8;
	if (!xm_is_ows(*p))
		return MX_EUNAUTHORIZED;

	for (;;) {
		while (xm_is_ows(*p))
			p++;
		if (*p == ',') { /* empty list elements are allowed (RFC 9110 5.6.1) */
			p++;
			continue;
		}
		if (!*p)
			break;
		const char *name = p;
		while (xm_is_tchar((unsigned char)*p))
			p++;
		size_t name_len = (size_t)(p - name);
		if (!name_len)
			goto bad;
		while (xm_is_ows(*p))
			p++;
		if (*p != '=')
			goto bad;
		p++;
		while (xm_is_ows(*p))
			p++;

		size_t vlen = 0;
		bool overlong = false;
		if (*p == '"') {
			p++;
			for (;;) {
				unsigned char c = (unsigned char)*p;
				if (c == '"') {
					p++;
					break;
				}
				if (c == '\\') {
					c = (unsigned char)*++p;
					if (!xm_is_qpair(c)) /* also a NUL: unterminated */
						goto bad;
				} else if (!xm_is_qdtext(c)) {
					goto bad;
				}
				if (vlen < sizeof(val) - 1)
					val[vlen++] = (char)c;
				else
					overlong = true;
				p++;
			}
		} else {
			while (xm_is_bare((unsigned char)*p)) {
				if (vlen < sizeof(val) - 1)
					val[vlen++] = *p;
				else
					overlong = true;
				p++;
			}
			if (!vlen)
				goto bad;
		}
		val[vlen] = '\0';
		while (xm_is_ows(*p))
			p++;
		if (*p && *p != ',')
			goto bad;

		int which = -1;
		for (int i = 0; i < XM_N; i++)
			if (strlen(xm_names[i]) == name_len &&
			    !strncasecmp(name, xm_names[i], name_len))
				which = i;
		if (which < 0) /* SPEC: "Unknown parameters are ignored." */
			continue;
		if (seen[which])
			goto bad;
		seen[which] = true;
		size_t cap;
		char *field = xm_field(out, which, &cap);
		if (overlong || vlen >= cap)
			goto bad;
		memcpy(field, val, vlen + 1);
	}

	if (!seen[XM_ORIGIN] || !seen[XM_KEY] || !seen[XM_SIG])
		goto bad;
	if (!mx_id_server_name_valid(out->origin))
		goto bad;
	if (seen[XM_DESTINATION] && !mx_id_server_name_valid(out->destination))
		goto bad;
	if (!xm_key_id_valid(out->key_id) || !xm_sig_valid(out->sig))
		goto bad;
	return 0;
bad:
	memset(out, 0, sizeof(*out));
	return MX_EUNAUTHORIZED;
}

/* The object both ends sign: {method, uri, origin, destination?, content?}. */
static json_t *xm_request_object(const char *method, const char *uri, const char *origin,
				 const char *destination, json_t *content)
{
	json_t *obj = json_object();
	json_t *m = json_string(method), *u = json_string(uri), *o = json_string(origin);
	json_t *d = destination ? json_string(destination) : NULL;
	bool ok = m && u && o && (!destination || d);
	json_object_set_new(obj, "method", m ? m : json_null());
	json_object_set_new(obj, "uri", u ? u : json_null());
	json_object_set_new(obj, "origin", o ? o : json_null());
	if (d)
		json_object_set_new(obj, "destination", d);
	if (content && json_object_set(obj, "content", content))
		ok = false;
	if (!ok) { /* a string that is not valid UTF-8 */
		json_decref(obj);
		return NULL;
	}
	return obj;
}

/* Append a quoted-string, escaping what must be (never present in valid
 * names, keys or signatures, but cheap to get right). */
static void xm_put_quoted(struct mx_buf *b, const char *s)
{
	mx_buf_putc(b, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			mx_buf_putc(b, '\\');
		mx_buf_putc(b, *s);
	}
	mx_buf_putc(b, '"');
}

char *mx_xmatrix_sign(const struct mx_signing_key *key, const char *origin,
		      const char *destination, const char *method, const char *uri,
		      json_t *content)
{
	if (!key || !origin || !method || !uri)
		return NULL;
	json_t *obj = xm_request_object(method, uri, origin, destination, content);
	if (!obj)
		return NULL;
	char *hdr = NULL;
	if (mx_sign_json(obj, origin, key))
		goto out;
	const char *sig = json_string_value(json_object_get(
		json_object_get(json_object_get(obj, "signatures"), origin), key->key_id));
	if (!sig)
		goto out;
	/* SPEC: the sender uses one space after the scheme, lower-case names
	 * and no whitespace around the commas. */
	struct mx_buf b;
	mx_buf_init(&b, MX_BUF_UNLIMITED);
	mx_buf_puts(&b, "X-Matrix origin=");
	xm_put_quoted(&b, origin);
	if (destination) {
		mx_buf_puts(&b, ",destination=");
		xm_put_quoted(&b, destination);
	}
	mx_buf_puts(&b, ",key=");
	xm_put_quoted(&b, key->key_id);
	mx_buf_puts(&b, ",sig=");
	xm_put_quoted(&b, sig);
	hdr = mx_buf_detach(&b, NULL);
	mx_buf_release(&b);
out:
	json_decref(obj);
	return hdr;
}

int mx_xmatrix_verify(const struct mx_xmatrix *x, const char *method, const char *uri,
		      json_t *content, const unsigned char pk[32])
{
	if (!x || !method || !uri || !x->origin[0] || !x->key_id[0] || !x->sig[0])
		return MX_EUNAUTHORIZED;
	json_t *obj = xm_request_object(method, uri, x->origin,
					x->destination[0] ? x->destination : NULL, content);
	if (!obj)
		return MX_EUNAUTHORIZED;
	json_t *ent = json_object();
	json_t *sig = json_string(x->sig);
	int rc = MX_EUNAUTHORIZED;
	if (!sig || json_object_set_new(ent, x->key_id, sig)) {
		json_decref(ent);
		goto out;
	}
	json_object_set_new(obj, "signatures", json_pack("{s:o}", x->origin, ent));
	if (mx_verify_json(obj, x->origin, x->key_id, pk) == 0)
		rc = 0;
out:
	json_decref(obj);
	return rc;
}
