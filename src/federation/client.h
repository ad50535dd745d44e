/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Outbound Server-Server requests: server discovery (resolve.h), TLS with
 * certificate checks against the delegated name, X-Matrix request signing
 * (xmatrix.h), connection reuse, refusal of blacklisted addresses, and the
 * per-destination health record with exponential backoff that every kind
 * of outbound request shares (DESIGN.md "Federation manners").
 *
 * Calls block: make them from a job thread (core/jobs.h), never from an
 * HTTP thread. struct mx_fed is thread-safe.
 * SPEC: server-server-api#request-authentication, #resolving-server-names
 */
#ifndef MX_FEDERATION_CLIENT_H
#define MX_FEDERATION_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mx_server;
struct mx_fed;

/* Create the federation client for srv (reads srv->cfg and srv->key, loads
 * the persisted destination health records through srv->db). */
int mx_fed_new(struct mx_server *srv, struct mx_fed **out);
void mx_fed_free(struct mx_fed *fed);

/* Receives the response body in chunks; return 0 to go on, negative to abort
 * (the request then fails with that code). */
typedef int (*mx_fed_sink_fn)(void *ctx, const char *p, size_t n);

struct mx_fed_request {
	const char *destination;  /* server name, e.g. "example.org" or "1.2.3.4:8448" */
	const char *method;       /* "GET", "PUT", "POST" */
	const char *uri;          /* path + query exactly as sent (percent-encoded) */
	json_t *body;             /* JSON body (borrowed) or NULL */
	bool sign;                /* send an X-Matrix Authorization header */
	/*
	 * Go even while the destination is backed off (the outcome is still
	 * recorded: a success ends the backoff). For key fetches on behalf of
	 * an inbound request, which the keyring already limits to one a minute
	 * per server: a server that comes back must be able to reach us.
	 */
	bool ignore_backoff;
	int64_t timeout_ms;       /* whole request; 0 = 30 s */
	size_t max_body;          /* response body limit; 0 = 1 MiB (streamed bodies too) */
	/* If set, the body streams here instead of being buffered (2xx bodies
	 * only: an error body is still buffered into the response). */
	mx_fed_sink_fn sink;
	void *sink_ctx;
	/*
	 * If set, called once the response headers are in, before the first
	 * body byte reaches the sink (with sink_ctx): the status and the
	 * Content-Type and Content-Disposition headers (NULL when absent).
	 * Return 0 to go on or a negative MX_E* to abort with it.
	 */
	int (*on_head)(void *ctx, long status, const char *content_type,
		       const char *content_disposition);
};

struct mx_fed_response {
	long status;              /* HTTP status */
	char *content_type;       /* malloc'd, or NULL */
	char *location;           /* Location header (malloc'd) or NULL */
	char *body;               /* malloc'd, NUL-terminated; NULL with a sink */
	size_t body_len;
	json_t *json;             /* body parsed as a JSON object when it is one, else NULL */
};
void mx_fed_response_release(struct mx_fed_response *r);

/*
 * Perform one request. Returns 0 when an HTTP response arrived (any status:
 * the caller interprets 4xx/5xx; a 5xx or a transport failure counts against
 * the destination's health, a 2xx-4xx resets it). MX_EREMOTE when the
 * destination could not be reached or is backed off, MX_EFORBIDDEN when its
 * addresses are blacklisted or it is our own name, MX_ETOOLARGE when the
 * body exceeds max_body, or the sink's error. Also MX_EFORBIDDEN for a
 * destination outside federation_domain_whitelist, MX_EINVALIDPARAM when
 * destination is not a valid server name, MX_EINVALID for a bad method or
 * a uri not starting with '/'. On error out holds nothing to release.
 */
int mx_fed_request(struct mx_fed *fed, const struct mx_fed_request *rq,
		   struct mx_fed_response *out);

/*
 * Plain HTTPS GET of an absolute URL (a Location that a federation media
 * response redirects to): no signing, same address blacklist and limits.
 * Follows up to 5 https redirects; not counted in any destination's
 * health. MX_EINVALIDPARAM for a URL that is not https://.
 */
int mx_fed_get_url(struct mx_fed *fed, const char *url, int64_t timeout_ms, size_t max_body,
		   const struct mx_fed_request *stream, struct mx_fed_response *out);
/* (stream: only its sink, sink_ctx and on_head are used; NULL buffers the body.) */

/* An inbound request from destination arrived: reset its backoff now. */
void mx_fed_destination_seen(struct mx_fed *fed, const char *destination);

/* True while destination is backed off (its next retry is in the future). */
bool mx_fed_destination_backed_off(struct mx_fed *fed, const char *destination);

/* When destination may be tried again (ms since the epoch); 0 if it is not backed off. */
int64_t mx_fed_destination_retry_at(struct mx_fed *fed, const char *destination);

#endif
