/* SPDX-License-Identifier: Apache-2.0 */
/*
 * URL previews: fetching a page (or image) for a user, with the guards a
 * server fetching arbitrary URLs needs, and reading OpenGraph metadata
 * from HTML. Fetches use libcurl restricted to http and https, no proxy,
 * redirects followed here (at most MX_PREVIEW_MAX_REDIRECTS, each checked
 * again), a size cap and a deadline. Every address curl is about to
 * connect to, after resolution and on every redirect, is checked against
 * the blacklist/whitelist first (CURLOPT_OPENSOCKETFUNCTION), so DNS
 * rebinding between a check and the connect cannot slip through.
 * The fetch blocks the calling thread (up to timeout_ms); callers must not
 * hold locks across it.
 * SPEC: client-server-api#get_matrixclientv1mediapreview_url
 */
#ifndef MX_MEDIA_PREVIEW_H
#define MX_MEDIA_PREVIEW_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/iprange.h"

#define MX_PREVIEW_MAX_REDIRECTS 5

struct mx_preview_opts {
	const struct mx_iprange *block; /* refused unless also in allow */
	size_t n_block;
	const struct mx_iprange *allow;
	size_t n_allow;
	int64_t max_size;               /* body bytes (after decoding) */
	long timeout_ms;                /* whole fetch, redirects included */
};

/* A fetched body (heap; mx_preview_resp_release). */
struct mx_preview_resp {
	char *body;
	size_t len;
	char *content_type; /* may be NULL */
	char *url;          /* the final URL, after redirects */
};

/*
 * GET url. 0 with *out filled on a 2xx answer. MX_EINVALIDPARAM for a URL
 * that is not http(s) (also as a redirect target), MX_EFORBIDDEN when an
 * address is blocked, MX_ETOOLARGE above max_size, MX_EIO for any other
 * failure (DNS, connect, timeout, too many redirects, non-2xx). err gets
 * a message either way.
 */
int mx_preview_fetch(const struct mx_preview_opts *o, const char *url,
		     struct mx_preview_resp *out, char *err, size_t errlen);
void mx_preview_resp_release(struct mx_preview_resp *r);

/*
 * The OpenGraph object of an HTML document: every og:* meta property
 * (first wins; og:image:width/height as integers), with <title> standing
 * in for og:title and <meta name="description"> for og:description.
 * Values are entity-decoded, whitespace-collapsed, at most 1000 bytes;
 * values that are not UTF-8 are dropped. A pure function of its input
 * (fuzzable); never fails. Caller owns the result.
 */
json_t *mx_preview_parse_html(const char *html, size_t len);

/* Resolve a possibly relative ref against base; heap, or NULL if invalid. */
char *mx_preview_resolve(const char *base, const char *ref);

#endif
