/* SPDX-License-Identifier: Apache-2.0 */
/*
 * URL preview fetching and OpenGraph scanning (media/preview.h). The HTML
 * scanner is a small tag walker, not a parser: it looks only at <meta>
 * and <title>, skips comments, <script> and <style>, and bounds every
 * value, which is all a preview needs from hostile markup.
 */
#include "media/preview.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/mem.h"
#include "http/ipguard.h"

#define MX_PREVIEW_VALUE_MAX 1000

/* ---- fetching ---- */

struct mx_preview_fetch {
	const struct mx_preview_opts *o;
	struct mx_preview_resp *r;
	size_t cap;
	struct mx_ipguard guard;
	bool too_large;
};

static size_t mx_preview_write(char *p, size_t size, size_t n, void *ctx)
{
	struct mx_preview_fetch *f = ctx;
	size_t len = size * n;
	if ((int64_t)(f->r->len + len) > f->o->max_size) {
		f->too_large = true;
		return 0;
	}
	if (f->r->len + len + 1 > f->cap) {
		size_t cap = f->cap ? f->cap : 16384;
		while (cap < f->r->len + len + 1)
			cap *= 2;
		f->r->body = mx_xrealloc(f->r->body, cap);
		f->cap = cap;
	}
	memcpy(f->r->body + f->r->len, p, len);
	f->r->len += len;
	f->r->body[f->r->len] = '\0';
	return len;
}

static bool mx_preview_scheme_ok(const char *url)
{
	return !strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8);
}

void mx_preview_resp_release(struct mx_preview_resp *r)
{
	free(r->body);
	free(r->content_type);
	free(r->url);
	memset(r, 0, sizeof(*r));
}

int mx_preview_fetch(const struct mx_preview_opts *o, const char *url,
		     struct mx_preview_resp *out, char *err, size_t errlen)
{
	struct mx_preview_fetch f = {
		.o = o,
		.r = out,
		.guard = {.block = o->block, .n_block = o->n_block, .allow = o->allow,
			  .n_allow = o->n_allow},
	};
	int64_t deadline = mx_clock_mono_ms() + o->timeout_ms;
	char *cur = mx_xstrdup(url);
	int rc = MX_EIO;
	memset(out, 0, sizeof(*out));
	CURL *h = curl_easy_init();
	if (!h) {
		snprintf(err, errlen, "cannot start a fetch");
		goto out;
	}
	for (int hop = 0;; hop++) {
		if (!mx_preview_scheme_ok(cur)) {
			snprintf(err, errlen, "Only http and https URLs can be previewed");
			rc = MX_EINVALIDPARAM;
			goto out;
		}
		int64_t left = deadline - mx_clock_mono_ms();
		if (left <= 0) {
			snprintf(err, errlen, "Timed out fetching the URL");
			goto out;
		}
		free(out->body);
		out->body = NULL;
		out->len = 0;
		f.cap = 0;
		curl_easy_reset(h);
		curl_easy_setopt(h, CURLOPT_URL, cur);
		curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)left);
		curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_size);
		curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
		curl_easy_setopt(h, CURLOPT_USERAGENT, "Myelin URL preview");
		mx_ipguard_install(&f.guard, h);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, mx_preview_write);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &f);
		CURLcode cc = curl_easy_perform(h);
		if (f.guard.blocked) {
			snprintf(err, errlen, "IP address blocked by IP blacklist entry");
			rc = MX_EFORBIDDEN;
			goto out;
		}
		if (f.too_large || cc == CURLE_FILESIZE_EXCEEDED) {
			snprintf(err, errlen, "Content is larger than %lld bytes",
				 (long long)o->max_size);
			rc = MX_ETOOLARGE;
			goto out;
		}
		if (cc != CURLE_OK) {
			snprintf(err, errlen, "Failed to fetch the URL: %s", curl_easy_strerror(cc));
			goto out;
		}
		long status = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 300 && status < 400) {
			char *next = NULL;
			curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &next);
			if (!next) {
				snprintf(err, errlen, "Redirect without a location");
				goto out;
			}
			if (hop >= MX_PREVIEW_MAX_REDIRECTS) {
				snprintf(err, errlen, "Too many redirects");
				goto out;
			}
			free(cur);
			cur = mx_xstrdup(next);
			continue;
		}
		if (status < 200 || status >= 300) {
			snprintf(err, errlen, "The URL answered HTTP %ld", status);
			goto out;
		}
		char *type = NULL;
		curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &type);
		out->content_type = type ? mx_xstrdup(type) : NULL;
		if (!out->body) {
			out->body = mx_xstrdup("");
			out->len = 0;
		}
		out->url = cur;
		cur = NULL;
		rc = 0;
		break;
	}
out:
	if (rc)
		mx_preview_resp_release(out);
	free(cur);
	if (h)
		curl_easy_cleanup(h);
	return rc;
}

char *mx_preview_resolve(const char *base, const char *ref)
{
	CURLU *u = curl_url();
	char *res = NULL, *s = NULL;
	if (!u)
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_URL, ref, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK)
		res = mx_xstrdup(s);
	curl_free(s);
	curl_url_cleanup(u);
	return res;
}

/* ---- HTML scanning ---- */

struct mx_html {
	const char *p, *end;
};

static bool mx_html_starts(const struct mx_html *h, const char *s)
{
	size_t n = strlen(s);
	return (size_t)(h->end - h->p) >= n && !strncasecmp(h->p, s, n);
}

/* Advance past the next case-insensitive occurrence of s (or to the end). */
static void mx_html_skip_past(struct mx_html *h, const char *s)
{
	size_t n = strlen(s);
	while (h->p < h->end) {
		if ((size_t)(h->end - h->p) >= n && !strncasecmp(h->p, s, n)) {
			h->p += n;
			return;
		}
		h->p++;
	}
}

/* Append one code point as UTF-8 (invalid ones dropped). */
static void mx_html_put_cp(struct mx_buf *b, unsigned long cp)
{
	if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return;
	if (cp < 0x80) {
		mx_buf_putc(b, (char)cp);
	} else if (cp < 0x800) {
		mx_buf_putc(b, (char)(0xc0 | (cp >> 6)));
		mx_buf_putc(b, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		mx_buf_putc(b, (char)(0xe0 | (cp >> 12)));
		mx_buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
		mx_buf_putc(b, (char)(0x80 | (cp & 0x3f)));
	} else {
		mx_buf_putc(b, (char)(0xf0 | (cp >> 18)));
		mx_buf_putc(b, (char)(0x80 | ((cp >> 12) & 0x3f)));
		mx_buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
		mx_buf_putc(b, (char)(0x80 | (cp & 0x3f)));
	}
}

/*
 * Decode entities in [p, end) and collapse whitespace into b (cleared
 * first), stopping at MX_PREVIEW_VALUE_MAX bytes.
 */
static void mx_html_text(struct mx_buf *b, const char *p, const char *end)
{
	static const struct {
		const char *name;
		unsigned long cp;
	} named[] = {{"amp;", '&'}, {"lt;", '<'},   {"gt;", '>'},     {"quot;", '"'},
		     {"apos;", '\''}, {"nbsp;", ' '}, {"#39;", '\''}};
	bool space = true; /* drops leading whitespace */
	b->len = 0;
	/* one byte past the cap, so the cut below sees where a sequence ends */
	while (p < end && b->len <= MX_PREVIEW_VALUE_MAX) {
		unsigned char c = (unsigned char)*p;
		if (isspace(c)) {
			if (!space)
				mx_buf_putc(b, ' ');
			space = true;
			p++;
			continue;
		}
		bool was_space = space;
		space = false;
		if (c != '&') {
			mx_buf_putc(b, (char)c);
			p++;
			continue;
		}
		p++;
		size_t i;
		for (i = 0; i < MX_ARRAY_LEN(named); i++) {
			size_t n = strlen(named[i].name);
			if ((size_t)(end - p) >= n && !strncmp(p, named[i].name, n)) {
				if (named[i].cp == ' ') { /* &nbsp; collapses like a space */
					if (!was_space)
						mx_buf_putc(b, ' ');
					space = true;
				} else {
					mx_html_put_cp(b, named[i].cp);
				}
				p += n;
				break;
			}
		}
		if (i < MX_ARRAY_LEN(named))
			continue;
		if (p < end && *p == '#') {
			const char *q = p + 1;
			int base = 10;
			if (q < end && (*q == 'x' || *q == 'X')) {
				base = 16;
				q++;
			}
			unsigned long cp = 0;
			const char *d = q;
			while (q < end && q - d < 8 && isxdigit((unsigned char)*q) &&
			       (base == 16 || isdigit((unsigned char)*q))) {
				int v = isdigit((unsigned char)*q) ? *q - '0'
								   : (tolower((unsigned char)*q) - 'a' + 10);
				cp = cp * (unsigned long)base + (unsigned long)v;
				q++;
			}
			if (q > d && q < end && *q == ';') {
				size_t before = b->len;
				mx_html_put_cp(b, cp);
				if (b->len == before) /* dropped (&#0;): no text */
					space = was_space;
				p = q + 1;
				continue;
			}
		}
		mx_buf_putc(b, '&');
	}
	if (b->len > MX_PREVIEW_VALUE_MAX) {
		/* never cut a UTF-8 sequence in half: data[n] is the first byte dropped */
		size_t n = MX_PREVIEW_VALUE_MAX;
		while (n && ((unsigned char)b->data[n] & 0xc0) == 0x80)
			n--;
		b->len = n;
	}
	while (b->len && b->data[b->len - 1] == ' ')
		b->len--;
}

/* One attribute of the tag at h->p: false at the tag's end. */
static bool mx_html_attr(struct mx_html *h, const char **name, size_t *nlen, const char **val,
			 size_t *vlen)
{
	while (h->p < h->end && (isspace((unsigned char)*h->p) || *h->p == '/'))
		h->p++;
	if (h->p >= h->end || *h->p == '>')
		return false;
	*name = h->p;
	while (h->p < h->end && !isspace((unsigned char)*h->p) && *h->p != '=' && *h->p != '>' &&
	       *h->p != '/')
		h->p++;
	*nlen = (size_t)(h->p - *name);
	*val = NULL;
	*vlen = 0;
	while (h->p < h->end && isspace((unsigned char)*h->p))
		h->p++;
	if (h->p >= h->end || *h->p != '=') {
		if (*nlen == 0 && h->p < h->end)
			h->p++; /* a stray byte: move on */
		return true;
	}
	h->p++;
	while (h->p < h->end && isspace((unsigned char)*h->p))
		h->p++;
	if (h->p < h->end && (*h->p == '"' || *h->p == '\'')) {
		char q = *h->p++;
		*val = h->p;
		while (h->p < h->end && *h->p != q)
			h->p++;
		*vlen = (size_t)(h->p - *val);
		if (h->p < h->end)
			h->p++;
	} else {
		*val = h->p;
		while (h->p < h->end && !isspace((unsigned char)*h->p) && *h->p != '>')
			h->p++;
		*vlen = (size_t)(h->p - *val);
	}
	return true;
}

static bool mx_html_name_is(const char *n, size_t len, const char *s)
{
	return strlen(s) == len && !strncasecmp(n, s, len);
}

/* Set key to the decoded text if not yet present (and valid UTF-8). */
static void mx_html_set(json_t *og, struct mx_buf *b, const char *key, const char *p,
			const char *end)
{
	if (json_object_get(og, key))
		return;
	mx_html_text(b, p, end);
	if (!b->len)
		return;
	json_t *v = json_stringn(b->data, b->len);
	if (v)
		json_object_set_new(og, key, v);
}

static void mx_html_meta(struct mx_html *h, json_t *og, struct mx_buf *b, const char **desc,
			 size_t *desc_len)
{
	const char *name, *val, *prop = NULL, *content = NULL;
	size_t nlen, vlen, prop_len = 0, content_len = 0;
	bool is_desc = false;
	while (mx_html_attr(h, &name, &nlen, &val, &vlen)) {
		if (!val)
			continue;
		if (mx_html_name_is(name, nlen, "property") ||
		    (mx_html_name_is(name, nlen, "name") && vlen > 3 && !strncasecmp(val, "og:", 3))) {
			prop = val;
			prop_len = vlen;
		} else if (mx_html_name_is(name, nlen, "name") &&
			   mx_html_name_is(val, vlen, "description")) {
			is_desc = true;
		} else if (mx_html_name_is(name, nlen, "content")) {
			content = val;
			content_len = vlen;
		}
	}
	if (h->p < h->end)
		h->p++; /* '>' */
	if (!content)
		return;
	if (is_desc && !*desc) {
		*desc = content;
		*desc_len = content_len;
	}
	if (!prop || prop_len < 4 || prop_len > 64 || strncasecmp(prop, "og:", 3))
		return;
	char key[65];
	for (size_t i = 0; i < prop_len; i++)
		key[i] = (char)tolower((unsigned char)prop[i]);
	key[prop_len] = '\0';
	if (!strcmp(key, "og:image:width") || !strcmp(key, "og:image:height")) {
		if (json_object_get(og, key))
			return;
		long long v = 0;
		size_t i;
		for (i = 0; i < content_len && i < 9 && isdigit((unsigned char)content[i]); i++)
			v = v * 10 + (content[i] - '0');
		if (i && i == content_len)
			json_object_set_new(og, key, json_integer(v));
		return;
	}
	mx_html_set(og, b, key, content, content + content_len);
}

json_t *mx_preview_parse_html(const char *html, size_t len)
{
	struct mx_html h = {html, html + len};
	json_t *og = json_object();
	struct mx_buf b;
	mx_buf_init(&b, MX_PREVIEW_VALUE_MAX + 8);
	const char *title = NULL, *title_end = NULL, *desc = NULL;
	size_t desc_len = 0;
	while (h.p < h.end) {
		const char *lt = memchr(h.p, '<', (size_t)(h.end - h.p));
		if (!lt)
			break;
		h.p = lt;
		if (mx_html_starts(&h, "<!--")) {
			mx_html_skip_past(&h, "-->");
		} else if (mx_html_starts(&h, "<script")) {
			mx_html_skip_past(&h, "</script");
		} else if (mx_html_starts(&h, "<style")) {
			mx_html_skip_past(&h, "</style");
		} else if (mx_html_starts(&h, "<meta") && h.p + 5 < h.end &&
			   (isspace((unsigned char)h.p[5]) || h.p[5] == '/')) {
			h.p += 5;
			mx_html_meta(&h, og, &b, &desc, &desc_len);
		} else if (!title && mx_html_starts(&h, "<title") && h.p + 6 < h.end &&
			   (h.p[6] == '>' || isspace((unsigned char)h.p[6]))) {
			const char *gt = memchr(h.p, '>', (size_t)(h.end - h.p));
			if (!gt)
				break;
			title = gt + 1;
			h.p = title;
			mx_html_skip_past(&h, "</title");
			title_end = h.p;
			if (title_end - title >= 7 && !strncasecmp(title_end - 7, "</title", 7))
				title_end -= 7;
		} else {
			h.p++;
		}
	}
	if (title)
		mx_html_set(og, &b, "og:title", title, title_end);
	if (desc)
		mx_html_set(og, &b, "og:description", desc, desc + desc_len);
	mx_buf_release(&b);
	return og;
}
