/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Server discovery: from a server name to where to connect, what Host
 * header to send and which name the TLS certificate must be valid for,
 * exactly as the spec's "Resolving server names" lays it out: IP literals
 * and explicit ports directly; otherwise /.well-known/matrix/server
 * delegation (then the same steps on the delegated name), SRV records
 * (_matrix-fed._tcp, then the deprecated _matrix._tcp), and port 8448.
 *
 * The pure parts (server name grammar, well-known body validation,
 * Cache-Control, SRV ordering) are separate functions so they can be tested
 * alone; the resolver takes its network operations (well-known fetch, SRV
 * query, clock) through a struct of function pointers, so the whole
 * decision procedure is tested without a network.
 *
 * The resolver caches in memory, keyed by name: well-known answers for
 * their Cache-Control max-age (24 h by default, 5 min to 48 h), failed
 * look-ups for an hour (and a delegation that stops answering for a
 * transient reason keeps working for one more cache period), SRV answers
 * for an hour. It is thread-safe; mx_fed_resolve() blocks (DNS, HTTPS), so
 * call it from a job thread.
 * SPEC: server-server-api#resolving-server-names, appendices#server-name
 */
#ifndef MX_FEDERATION_RESOLVE_H
#define MX_FEDERATION_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MX_FED_DEFAULT_PORT 8448
/* SPEC: appendices#server-name: a 255-character dns-name and ":65535". */
#define MX_FED_SERVER_NAME_MAX (255 + 6)
/* Largest /.well-known/matrix/server body read. */
#define MX_FED_WELLKNOWN_MAX (50 * 1024)
/* Well-known cache times: default, floor, ceiling, and for failures. */
#define MX_FED_WELLKNOWN_CACHE_MS ((int64_t)24 * 3600 * 1000)
#define MX_FED_WELLKNOWN_CACHE_MIN_MS ((int64_t)5 * 60 * 1000)
#define MX_FED_WELLKNOWN_CACHE_MAX_MS ((int64_t)48 * 3600 * 1000)
#define MX_FED_WELLKNOWN_FAIL_CACHE_MS ((int64_t)3600 * 1000)
/* SRV answers (found or not) are kept this long. */
#define MX_FED_SRV_CACHE_MS ((int64_t)3600 * 1000)
/* Most SRV records (and so connect addresses) considered per name. */
#define MX_FED_MAX_ADDRS 8

enum mx_fed_host_kind { MX_FED_HOST_DNS, MX_FED_HOST_IPV4, MX_FED_HOST_IPV6 };

/* A parsed server name. */
struct mx_fed_server_name {
	char name[MX_FED_SERVER_NAME_MAX + 1]; /* the whole name as written */
	char host[256];        /* the hostname; an IPv6 literal keeps its brackets */
	enum mx_fed_host_kind kind;
	uint16_t port;         /* 0 when the name has none */
};

/*
 * Parse and validate a server name: hostname [":" port], where hostname is
 * a dotted-quad IPv4 literal (no leading zeros), a bracketed IPv6 literal,
 * or a DNS name (labels of [A-Za-z0-9-], 1..63 characters, 255 in all; an
 * all-digit last label, or a name the C library would read as a numeric
 * IPv4 address, is refused), and the port is 1..65535. Returns 0, or
 * MX_EINVALID.
 */
int mx_fed_server_name_parse(const char *s, struct mx_fed_server_name *out);

/*
 * Validate a /.well-known/matrix/server response body (at most
 * MX_FED_WELLKNOWN_MAX bytes of a JSON object whose "m.server" is a valid
 * server name, whatever its Content-Type). Returns 0 and the delegated name
 * in out, or MX_EINVALID.
 */
int mx_fed_wellknown_parse(const char *body, size_t len, struct mx_fed_server_name *out);

/*
 * How long to cache a valid well-known answer, from its Cache-Control
 * header value (NULL when absent): max-age, clamped to
 * [MX_FED_WELLKNOWN_CACHE_MIN_MS, MX_FED_WELLKNOWN_CACHE_MAX_MS]; no-store
 * or no-cache give the floor; otherwise MX_FED_WELLKNOWN_CACHE_MS.
 */
int64_t mx_fed_wellknown_cache_ms(const char *cache_control);

struct mx_fed_srv {
	uint16_t priority, weight, port;
	char target[256]; /* a hostname; "." means "no service here" */
};

/*
 * Order SRV records for trying: by priority ascending, then by weight
 * descending (the heaviest first; ties keep their order). Deterministic, so
 * that connections go to the same host and are reused.
 */
void mx_fed_srv_sort(struct mx_fed_srv *r, size_t n);

/* One address to connect to: a host as it is written in a URL (an IPv6
 * literal bracketed) and a port. */
struct mx_fed_addr {
	char host[256];
	uint16_t port;
};

/* Where and how to reach a server. */
struct mx_fed_target {
	char host_header[MX_FED_SERVER_NAME_MAX + 1]; /* the (delegated) server name */
	char tls_name[256];   /* the certificate must be valid for this (URL form) */
	struct mx_fed_addr addrs[MX_FED_MAX_ADDRS]; /* try in order */
	size_t n_addrs;       /* >= 1 on success */
};

/* The answer of a well-known fetch (strings malloc'd; the resolver frees). */
struct mx_fed_wellknown_resp {
	long status;
	char *body;           /* NUL-terminated, or NULL */
	size_t len;
	char *cache_control;  /* Cache-Control header, or NULL */
};

struct mx_fed_resolver_ops {
	/*
	 * GET https://<host>/.well-known/matrix/server, following redirects
	 * without looping, reading at most MX_FED_WELLKNOWN_MAX bytes. 0 with
	 * out filled for any HTTP answer, or a negative MX_E* when none came
	 * (connection, TLS, DNS, timeout, too large).
	 */
	int (*fetch_wellknown)(void *ctx, const char *host, struct mx_fed_wellknown_resp *out);
	/*
	 * The SRV records of qname (at most max into out). 0 with *n >= 1,
	 * MX_ENOTFOUND when there are none (NXDOMAIN, no data), another
	 * negative MX_E* when DNS failed. NULL: c-ares, mx_fed_srv_lookup().
	 */
	int (*lookup_srv)(void *ctx, const char *qname, struct mx_fed_srv *out, size_t max,
			  size_t *n);
	/* Wall-clock ms; NULL: mx_clock_now_ms(). */
	int64_t (*now_ms)(void *ctx);
	void *ctx;
};

struct mx_fed_resolver;

/* A resolver using ops (copied). */
struct mx_fed_resolver *mx_fed_resolver_new(const struct mx_fed_resolver_ops *ops);
void mx_fed_resolver_free(struct mx_fed_resolver *r);

/*
 * Resolve server_name. Returns 0 with out filled; MX_EINVALIDPARAM for a
 * name that is not a valid server name (or delegates to one); MX_EREMOTE
 * when the name's SRV records say it offers no service (a "." target).
 */
int mx_fed_resolve(struct mx_fed_resolver *r, const char *server_name,
		   struct mx_fed_target *out);

/*
 * The default SRV look-up: c-ares, blocking for at most timeout_ms.
 * Contract as mx_fed_resolver_ops.lookup_srv.
 */
int mx_fed_srv_lookup(const char *qname, int64_t timeout_ms, struct mx_fed_srv *out, size_t max,
		      size_t *n);
/* The same asking the given name servers ("127.0.0.1:5353,..."; NULL: the
 * system's), for tests. MX_EINVALID for a bad server list. */
int mx_fed_srv_lookup_via(const char *servers, const char *qname, int64_t timeout_ms,
			  struct mx_fed_srv *out, size_t max, size_t *n);

#endif
