/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Server discovery (federation/resolve.h): the server name grammar, the
 * well-known and SRV steps, their caches, and a blocking SRV query over
 * c-ares.
 */
#include "federation/resolve.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ares.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/canonjson.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/strhash.h"

/* Each SRV query waits at most this long. */
#define MX_FED_SRV_TIMEOUT_MS 5000
/* Beyond this many cached names, expired ones are swept and new ones not
 * cached until there is room: the cache cannot grow without bound. */
#define MX_FED_CACHE_MAX 65536

/* ---- server names ---- */

static bool mx_fed_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool mx_fed_is_alnum(char c)
{
	return mx_fed_is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* A strict dotted quad: four decimal numbers 0..255 without leading zeros. */
static bool mx_fed_ipv4_strict(const char *s, size_t n)
{
	size_t i = 0;
	for (int part = 0; part < 4; part++) {
		if (part) {
			if (i >= n || s[i] != '.')
				return false;
			i++;
		}
		size_t start = i;
		int v = 0;
		while (i < n && mx_fed_is_digit(s[i]) && i - start < 3)
			v = v * 10 + (s[i++] - '0');
		size_t digits = i - start;
		if (!digits || v > 255 || (digits > 1 && s[start] == '0'))
			return false;
	}
	return i == n;
}

/* SPEC: appendices#server-name (dns-name), with conventional hostname labels. */
static bool mx_fed_dns_name_ok(const char *s, size_t n)
{
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (!label)
				return false;
			label = 0;
			continue;
		}
		if (!mx_fed_is_alnum(s[i]) && s[i] != '-')
			return false;
		if (++label > 63)
			return false;
	}
	if (!label)
		return false;
	/* No top-level domain is all digits: "1.2.3.256" is a bad IPv4
	 * literal, not a name. */
	bool numeric = true;
	for (size_t i = n - label; i < n && numeric; i++)
		numeric = mx_fed_is_digit(s[i]);
	if (numeric)
		return false;
	/* "0x7f.0.0.1", "0x7f000001": the C library would read these as IPv4
	 * addresses, which would then dodge the IP-literal rules. */
	char buf[256];
	memcpy(buf, s, n);
	buf[n] = '\0';
	struct in_addr a;
	return inet_aton(buf, &a) == 0;
}

int mx_fed_server_name_parse(const char *s, struct mx_fed_server_name *out)
{
	memset(out, 0, sizeof(*out));
	size_t len = strnlen(s, MX_FED_SERVER_NAME_MAX + 1);
	if (len == 0 || len > MX_FED_SERVER_NAME_MAX)
		return MX_EINVALID;
	const char *p;
	if (s[0] == '[') {
		const char *close = memchr(s, ']', len);
		if (!close)
			return MX_EINVALID;
		size_t in = (size_t)(close - s - 1);
		if (in < 2 || in > 45)
			return MX_EINVALID;
		char buf[46];
		for (size_t i = 0; i < in; i++) {
			char c = s[1 + i];
			if (!mx_fed_is_digit(c) && !(c >= 'a' && c <= 'f') && !(c >= 'A' && c <= 'F') &&
			    c != ':' && c != '.')
				return MX_EINVALID;
			buf[i] = c;
		}
		buf[in] = '\0';
		struct in6_addr a6;
		if (inet_pton(AF_INET6, buf, &a6) != 1)
			return MX_EINVALID;
		out->kind = MX_FED_HOST_IPV6;
		p = close + 1;
	} else {
		size_t hl = strcspn(s, ":");
		if (hl == 0 || hl > 255)
			return MX_EINVALID;
		if (mx_fed_ipv4_strict(s, hl))
			out->kind = MX_FED_HOST_IPV4;
		else if (mx_fed_dns_name_ok(s, hl))
			out->kind = MX_FED_HOST_DNS;
		else
			return MX_EINVALID;
		p = s + hl;
	}
	size_t hl = (size_t)(p - s);
	memcpy(out->host, s, hl);
	out->host[hl] = '\0';
	if (*p == ':') {
		p++;
		size_t digits = 0;
		long port = 0;
		while (mx_fed_is_digit(p[digits]) && digits < 5)
			port = port * 10 + (p[digits++] - '0');
		if (!digits || p[digits] || port < 1 || port > 65535)
			return MX_EINVALID;
		out->port = (uint16_t)port;
	} else if (*p) {
		return MX_EINVALID;
	}
	memcpy(out->name, s, len);
	out->name[len] = '\0';
	return 0;
}

/* ---- well-known ---- */

int mx_fed_wellknown_parse(const char *body, size_t len, struct mx_fed_server_name *out)
{
	if (!body || len > MX_FED_WELLKNOWN_MAX)
		return MX_EINVALID;
	json_t *j = mx_json_parse_strict(body, len, NULL);
	int rc = MX_EINVALID;
	if (!json_is_object(j))
		goto out;
	json_t *v = json_object_get(j, "m.server");
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		goto out;
	rc = mx_fed_server_name_parse(json_string_value(v), out);
out:
	json_decref(j);
	return rc;
}

int64_t mx_fed_wellknown_cache_ms(const char *cc)
{
	if (!cc)
		return MX_FED_WELLKNOWN_CACHE_MS;
	bool no_store = false;
	int64_t max_age = -1;
	const char *p = cc;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *name = p;
		while (*p && *p != '=' && *p != ',' && *p != ' ' && *p != '\t')
			p++;
		size_t nlen = (size_t)(p - name);
		if ((nlen == 8 && !strncasecmp(name, "no-store", 8)) ||
		    (nlen == 8 && !strncasecmp(name, "no-cache", 8)))
			no_store = true;
		if (*p == '=') {
			p++;
			bool quoted = *p == '"';
			if (quoted)
				p++;
			const char *d = p;
			int64_t v = 0;
			while (mx_fed_is_digit(*p)) {
				if (v < INT64_MAX / 1000 / 10)
					v = v * 10 + (*p - '0');
				p++;
			}
			if (nlen == 7 && !strncasecmp(name, "max-age", 7) && p > d &&
			    (!quoted || *p == '"'))
				max_age = v;
		}
		while (*p && *p != ',')
			p++;
	}
	if (no_store)
		return MX_FED_WELLKNOWN_CACHE_MIN_MS;
	if (max_age < 0)
		return MX_FED_WELLKNOWN_CACHE_MS;
	int64_t ms = max_age * 1000;
	if (ms < MX_FED_WELLKNOWN_CACHE_MIN_MS)
		return MX_FED_WELLKNOWN_CACHE_MIN_MS;
	if (ms > MX_FED_WELLKNOWN_CACHE_MAX_MS)
		return MX_FED_WELLKNOWN_CACHE_MAX_MS;
	return ms;
}

/* ---- SRV ---- */

static int mx_fed_srv_cmp(const struct mx_fed_srv *a, const struct mx_fed_srv *b)
{
	if (a->priority != b->priority)
		return a->priority < b->priority ? -1 : 1;
	if (a->weight != b->weight)
		return a->weight > b->weight ? -1 : 1;
	return 0;
}

void mx_fed_srv_sort(struct mx_fed_srv *r, size_t n)
{
	/* insertion sort: stable, and n is at most a handful */
	for (size_t i = 1; i < n; i++) {
		struct mx_fed_srv x = r[i];
		size_t j = i;
		while (j > 0 && mx_fed_srv_cmp(&r[j - 1], &x) > 0) {
			r[j] = r[j - 1];
			j--;
		}
		r[j] = x;
	}
}

struct mx_fed_srv_query {
	bool done;
	int status;
	struct mx_fed_srv *out;
	size_t max, n;
};

static void mx_fed_srv_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct mx_fed_srv_query *q = arg;
	(void)timeouts;
	q->done = true;
	q->status = status;
	if (status != ARES_SUCCESS)
		return;
	struct ares_srv_reply *rep = NULL;
	q->status = ares_parse_srv_reply(abuf, alen, &rep);
	if (q->status != ARES_SUCCESS)
		return;
	for (struct ares_srv_reply *p = rep; p && q->n < q->max; p = p->next) {
		size_t tl = p->host ? strlen(p->host) : 0;
		if (tl >= sizeof(q->out[0].target))
			continue;
		struct mx_fed_srv *s = &q->out[q->n++];
		s->priority = p->priority;
		s->weight = p->weight;
		s->port = p->port;
		/* c-ares gives the root as "" */
		if (tl)
			memcpy(s->target, p->host, tl + 1);
		else
			memcpy(s->target, ".", 2);
	}
	ares_free_data(rep);
}

int mx_fed_srv_lookup(const char *qname, int64_t timeout_ms, struct mx_fed_srv *out, size_t max,
		      size_t *n)
{
	return mx_fed_srv_lookup_via(NULL, qname, timeout_ms, out, max, n);
}

int mx_fed_srv_lookup_via(const char *servers, const char *qname, int64_t timeout_ms,
			  struct mx_fed_srv *out, size_t max, size_t *n)
{
	struct mx_fed_srv_query q = {.out = out, .max = max};
	struct ares_options o;
	memset(&o, 0, sizeof(o));
	o.timeout = (int)(timeout_ms / 2 > 0 ? timeout_ms / 2 : 1);
	o.tries = 2;
	ares_channel ch;
	*n = 0;
	if (ares_init_options(&ch, &o, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES) != ARES_SUCCESS)
		return MX_EREMOTE;
	if (servers && ares_set_servers_ports_csv(ch, servers) != ARES_SUCCESS) {
		ares_destroy(ch);
		return MX_EINVALID;
	}
	ares_query(ch, qname, ns_c_in, ns_t_srv, mx_fed_srv_answer, &q);
	int64_t deadline = mx_clock_mono_ms() + timeout_ms;
	while (!q.done) {
		int64_t left = deadline - mx_clock_mono_ms();
		if (left <= 0)
			break;
		ares_socket_t socks[ARES_GETSOCK_MAXNUM];
		/* the ARES_GETSOCK_* macros shift a signed 1 into the sign bit */
		unsigned bits = (unsigned)ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM);
		struct pollfd pfd[ARES_GETSOCK_MAXNUM];
		nfds_t np = 0;
		for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
			short ev = 0;
			if ((bits >> i) & 1u)
				ev |= POLLIN;
			if ((bits >> (i + ARES_GETSOCK_MAXNUM)) & 1u)
				ev |= POLLOUT;
			if (!ev)
				continue;
			pfd[np].fd = socks[i];
			pfd[np].events = ev;
			pfd[np].revents = 0;
			np++;
		}
		struct timeval tv, *tvp = ares_timeout(ch, NULL, &tv);
		int64_t wait = left;
		if (tvp) {
			int64_t t = (int64_t)tvp->tv_sec * 1000 + tvp->tv_usec / 1000;
			if (t < wait)
				wait = t;
		}
		int pr = poll(pfd, np, (int)wait);
		if (pr < 0 && errno != EINTR)
			break;
		if (pr <= 0) {
			ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
			continue;
		}
		for (nfds_t i = 0; i < np; i++) {
			short re = pfd[i].revents;
			ares_socket_t rfd = re & (POLLIN | POLLERR | POLLHUP) ? pfd[i].fd : ARES_SOCKET_BAD;
			ares_socket_t wfd = re & POLLOUT ? pfd[i].fd : ARES_SOCKET_BAD;
			if (rfd != ARES_SOCKET_BAD || wfd != ARES_SOCKET_BAD)
				ares_process_fd(ch, rfd, wfd);
		}
	}
	ares_destroy(ch); /* a query still pending is answered ARES_EDESTRUCTION */
	switch (q.status) {
	case ARES_SUCCESS:
		*n = q.n;
		return q.n ? 0 : MX_ENOTFOUND;
	case ARES_ENODATA:
	case ARES_ENOTFOUND:
		return MX_ENOTFOUND;
	default:
		return MX_EREMOTE;
	}
}

/* ---- the caches ---- */

struct mx_fed_cache_entry {
	struct mx_fed_cache_entry *next;
	uint64_t hash;
	int64_t expires;      /* look again after this */
	/* well-known entries */
	bool delegated;       /* a valid m.server was found */
	int64_t grace_until;  /* a delegation survives transient failures until then */
	struct mx_fed_server_name to;
	/* SRV entries */
	struct mx_fed_srv *srv; /* NULL when none */
	size_t n_srv;
	char name[];
};

struct mx_fed_cache {
	struct mx_fed_cache_entry **buckets;
	size_t n_buckets, count;
};

static void mx_fed_cache_init(struct mx_fed_cache *c)
{
	c->n_buckets = 64;
	c->count = 0;
	c->buckets = mx_xcalloc(c->n_buckets, sizeof(*c->buckets));
}

static void mx_fed_cache_entry_free(struct mx_fed_cache_entry *e)
{
	free(e->srv);
	free(e);
}

static void mx_fed_cache_release(struct mx_fed_cache *c)
{
	for (size_t i = 0; i < c->n_buckets; i++) {
		for (struct mx_fed_cache_entry *e = c->buckets[i], *next; e; e = next) {
			next = e->next;
			mx_fed_cache_entry_free(e);
		}
	}
	free(c->buckets);
}

static struct mx_fed_cache_entry *mx_fed_cache_find(struct mx_fed_cache *c, const char *name)
{
	uint64_t h = mx_strhash(name);
	for (struct mx_fed_cache_entry *e = c->buckets[h % c->n_buckets]; e; e = e->next)
		if (e->hash == h && !strcmp(e->name, name))
			return e;
	return NULL;
}

/* Drop entries that are expired and past any grace. */
static void mx_fed_cache_sweep(struct mx_fed_cache *c, int64_t now)
{
	for (size_t i = 0; i < c->n_buckets; i++) {
		struct mx_fed_cache_entry **pp = &c->buckets[i];
		while (*pp) {
			struct mx_fed_cache_entry *e = *pp;
			if (e->expires <= now && e->grace_until <= now) {
				*pp = e->next;
				mx_fed_cache_entry_free(e);
				c->count--;
			} else {
				pp = &e->next;
			}
		}
	}
}

/*
 * Store e (heap, its name set) replacing any entry of the same name; e is
 * freed instead when the cache is full.
 */
static void mx_fed_cache_put(struct mx_fed_cache *c, struct mx_fed_cache_entry *e, int64_t now)
{
	e->hash = mx_strhash(e->name);
	for (struct mx_fed_cache_entry **pp = &c->buckets[e->hash % c->n_buckets]; *pp;
	     pp = &(*pp)->next) {
		if ((*pp)->hash == e->hash && !strcmp((*pp)->name, e->name)) {
			struct mx_fed_cache_entry *old = *pp;
			e->next = old->next;
			*pp = e;
			mx_fed_cache_entry_free(old);
			return;
		}
	}
	if (c->count >= MX_FED_CACHE_MAX)
		mx_fed_cache_sweep(c, now);
	if (c->count >= MX_FED_CACHE_MAX) {
		mx_fed_cache_entry_free(e);
		return;
	}
	if (c->count >= c->n_buckets) {
		size_t n = c->n_buckets * 2;
		struct mx_fed_cache_entry **b = mx_xcalloc(n, sizeof(*b));
		for (size_t i = 0; i < c->n_buckets; i++) {
			for (struct mx_fed_cache_entry *x = c->buckets[i], *next; x; x = next) {
				next = x->next;
				x->next = b[x->hash % n];
				b[x->hash % n] = x;
			}
		}
		free(c->buckets);
		c->buckets = b;
		c->n_buckets = n;
	}
	e->next = c->buckets[e->hash % c->n_buckets];
	c->buckets[e->hash % c->n_buckets] = e;
	c->count++;
}

static struct mx_fed_cache_entry *mx_fed_cache_entry_new(const char *name)
{
	size_t n = strlen(name) + 1;
	struct mx_fed_cache_entry *e = mx_xcalloc(1, sizeof(*e) + n);
	memcpy(e->name, name, n);
	return e;
}

/* ---- the resolver ---- */

struct mx_fed_resolver {
	struct mx_fed_resolver_ops ops;
	pthread_mutex_t lock;        /* both caches */
	struct mx_fed_cache wellknown; /* keyed by hostname */
	struct mx_fed_cache srv;       /* keyed by hostname */
};

struct mx_fed_resolver *mx_fed_resolver_new(const struct mx_fed_resolver_ops *ops)
{
	struct mx_fed_resolver *r = mx_xcalloc(1, sizeof(*r));
	r->ops = *ops;
	/* reference-counted by c-ares; a no-op on Linux beyond the count */
	if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
		MX_BUG("ares_library_init");
	pthread_mutex_init(&r->lock, NULL);
	mx_fed_cache_init(&r->wellknown);
	mx_fed_cache_init(&r->srv);
	return r;
}

void mx_fed_resolver_free(struct mx_fed_resolver *r)
{
	if (!r)
		return;
	mx_fed_cache_release(&r->wellknown);
	mx_fed_cache_release(&r->srv);
	pthread_mutex_destroy(&r->lock);
	free(r);
	ares_library_cleanup();
}

static int64_t mx_fed_resolver_now(struct mx_fed_resolver *r)
{
	return r->ops.now_ms ? r->ops.now_ms(r->ops.ctx) : mx_clock_now_ms();
}

/*
 * Step 3 of the spec's procedure: the delegation host publishes, if any.
 * Returns true with *to filled when there is one.
 */
static bool mx_fed_resolve_wellknown(struct mx_fed_resolver *r, const char *host,
				     struct mx_fed_server_name *to)
{
	int64_t now = mx_fed_resolver_now(r);
	bool have_stale = false;
	struct mx_fed_server_name stale;
	int64_t stale_grace = 0;
	pthread_mutex_lock(&r->lock);
	struct mx_fed_cache_entry *e = mx_fed_cache_find(&r->wellknown, host);
	if (e && now < e->expires) {
		bool d = e->delegated;
		if (d)
			*to = e->to;
		pthread_mutex_unlock(&r->lock);
		return d;
	}
	if (e && e->delegated && now < e->grace_until) {
		have_stale = true;
		stale = e->to;
		stale_grace = e->grace_until;
	}
	pthread_mutex_unlock(&r->lock);

	/* SPEC: server-server-api#resolving-server-names step 3 */
	struct mx_fed_wellknown_resp resp = {0};
	int rc = r->ops.fetch_wellknown(r->ops.ctx, host, &resp);
	now = mx_fed_resolver_now(r);
	struct mx_fed_cache_entry *ne = mx_fed_cache_entry_new(host);
	bool transient = rc < 0 || resp.status >= 500;
	if (!rc && resp.status == 200 && !mx_fed_wellknown_parse(resp.body, resp.len, &ne->to)) {
		int64_t ttl = mx_fed_wellknown_cache_ms(resp.cache_control);
		ne->delegated = true;
		ne->expires = now + ttl;
		/* one more period in which a transient failure keeps it */
		ne->grace_until = ne->expires + ttl;
		mx_log_debug("federation: %s delegates to %s (cached %lld s)", host, ne->to.name,
			     (long long)(ttl / 1000));
	} else if (transient && have_stale) {
		ne->delegated = true;
		ne->to = stale;
		ne->grace_until = stale_grace;
		ne->expires = now + MX_FED_WELLKNOWN_FAIL_CACHE_MS;
		if (ne->expires > stale_grace)
			ne->expires = stale_grace;
		mx_log_debug("federation: %s/.well-known failed; keeping its delegation to %s",
			     host, stale.name);
	} else {
		ne->expires = now + MX_FED_WELLKNOWN_FAIL_CACHE_MS;
		mx_log_debug("federation: no valid /.well-known/matrix/server on %s (%s %ld)", host,
			     rc ? "error" : "status", rc ? (long)rc : resp.status);
	}
	free(resp.body);
	free(resp.cache_control);
	bool d = ne->delegated;
	if (d)
		*to = ne->to;
	pthread_mutex_lock(&r->lock);
	mx_fed_cache_put(&r->wellknown, ne, now);
	pthread_mutex_unlock(&r->lock);
	return d;
}

/*
 * The SRV records for host (_matrix-fed._tcp, then _matrix._tcp), sorted,
 * at most MX_FED_MAX_ADDRS. Returns 0 with *n >= 1, MX_ENOTFOUND when there
 * are none, MX_EREMOTE when they say "no service" (a "." target), or
 * MX_EIO when DNS failed and nothing was known before.
 */
static int mx_fed_resolve_srv(struct mx_fed_resolver *r, const char *host, struct mx_fed_srv *out,
			      size_t *n)
{
	int64_t now = mx_fed_resolver_now(r);
	struct mx_fed_srv stale[MX_FED_MAX_ADDRS];
	size_t n_stale = 0;
	*n = 0;
	pthread_mutex_lock(&r->lock);
	struct mx_fed_cache_entry *e = mx_fed_cache_find(&r->srv, host);
	if (e && now < e->expires) {
		*n = e->n_srv;
		if (e->n_srv)
			memcpy(out, e->srv, e->n_srv * sizeof(*out));
		pthread_mutex_unlock(&r->lock);
		goto filter;
	}
	if (e && e->n_srv) {
		n_stale = e->n_srv;
		memcpy(stale, e->srv, n_stale * sizeof(*stale));
	}
	pthread_mutex_unlock(&r->lock);

	static const char *const services[] = {"_matrix-fed._tcp.", "_matrix._tcp."};
	int rc = MX_ENOTFOUND;
	for (size_t i = 0; i < MX_ARRAY_LEN(services) && rc == MX_ENOTFOUND; i++) {
		char qname[300];
		snprintf(qname, sizeof(qname), "%s%s", services[i], host);
		rc = r->ops.lookup_srv
			     ? r->ops.lookup_srv(r->ops.ctx, qname, out, MX_FED_MAX_ADDRS, n)
			     : mx_fed_srv_lookup(qname, MX_FED_SRV_TIMEOUT_MS, out,
						 MX_FED_MAX_ADDRS, n);
		if (rc == 0 && *n == 0)
			rc = MX_ENOTFOUND;
	}
	if (rc && rc != MX_ENOTFOUND) {
		/* DNS failed: what we knew before beats nothing */
		mx_log_debug("federation: SRV look-up for %s failed (%d)", host, rc);
		if (!n_stale)
			return MX_EIO;
		memcpy(out, stale, n_stale * sizeof(*out));
		*n = n_stale;
		goto filter;
	}
	if (rc)
		*n = 0;
	if (*n > MX_FED_MAX_ADDRS)
		*n = MX_FED_MAX_ADDRS;
	mx_fed_srv_sort(out, *n);
	struct mx_fed_cache_entry *ne = mx_fed_cache_entry_new(host);
	ne->expires = now + MX_FED_SRV_CACHE_MS;
	if (*n) {
		ne->srv = mx_xmalloc(*n * sizeof(*ne->srv));
		memcpy(ne->srv, out, *n * sizeof(*out));
		ne->n_srv = *n;
	}
	pthread_mutex_lock(&r->lock);
	mx_fed_cache_put(&r->srv, ne, now);
	pthread_mutex_unlock(&r->lock);
filter:;
	/* RFC 2782: a "." target means the service is decidedly not offered */
	size_t kept = 0, had = *n;
	for (size_t i = 0; i < had; i++) {
		struct mx_fed_server_name t;
		if (!strcmp(out[i].target, ".") || out[i].port == 0)
			continue;
		if (mx_fed_server_name_parse(out[i].target, &t) || t.kind == MX_FED_HOST_IPV6)
			continue;
		out[kept++] = out[i];
	}
	*n = kept;
	if (had && !kept)
		return MX_EREMOTE;
	return kept ? 0 : MX_ENOTFOUND;
}

static void mx_fed_target_direct(struct mx_fed_target *t, const struct mx_fed_server_name *sn)
{
	snprintf(t->host_header, sizeof(t->host_header), "%s", sn->name);
	snprintf(t->tls_name, sizeof(t->tls_name), "%s", sn->host);
	snprintf(t->addrs[0].host, sizeof(t->addrs[0].host), "%s", sn->host);
	t->addrs[0].port = sn->port ? sn->port : MX_FED_DEFAULT_PORT;
	t->n_addrs = 1;
}

/*
 * Everything but the well-known step, for a server name or a delegated
 * one: IP literals and explicit ports directly, else SRV, else port 8448.
 * The Host header is the name as written; the certificate must match its
 * host (never an SRV target: DNS is not trusted to delegate).
 */
static int mx_fed_resolve_name(struct mx_fed_resolver *r, const struct mx_fed_server_name *sn,
			       struct mx_fed_target *t)
{
	if (sn->kind != MX_FED_HOST_DNS || sn->port) {
		mx_fed_target_direct(t, sn);
		return 0;
	}
	struct mx_fed_srv srv[MX_FED_MAX_ADDRS];
	size_t n = 0;
	int rc = mx_fed_resolve_srv(r, sn->host, srv, &n);
	if (rc == MX_EREMOTE)
		return rc;
	if (rc || !n) {
		/* no SRV (or DNS trouble: the A/AAAA look-up will tell) */
		mx_fed_target_direct(t, sn);
		return 0;
	}
	snprintf(t->host_header, sizeof(t->host_header), "%s", sn->name);
	snprintf(t->tls_name, sizeof(t->tls_name), "%s", sn->host);
	t->n_addrs = 0;
	for (size_t i = 0; i < n && t->n_addrs < MX_FED_MAX_ADDRS; i++) {
		struct mx_fed_addr *a = &t->addrs[t->n_addrs++];
		snprintf(a->host, sizeof(a->host), "%s", srv[i].target);
		a->port = srv[i].port;
	}
	return 0;
}

int mx_fed_resolve(struct mx_fed_resolver *r, const char *server_name, struct mx_fed_target *out)
{
	struct mx_fed_server_name sn, to;
	memset(out, 0, sizeof(*out));
	if (mx_fed_server_name_parse(server_name, &sn))
		return MX_EINVALIDPARAM;
	/* SPEC: server-server-api#resolving-server-names steps 1 and 2 */
	if (sn.kind != MX_FED_HOST_DNS || sn.port)
		return mx_fed_resolve_name(r, &sn, out);
	/* step 3: delegation, then 3.1-3.5 on the delegated name */
	if (mx_fed_resolve_wellknown(r, sn.host, &to))
		return mx_fed_resolve_name(r, &to, out);
	/* steps 4-6 */
	return mx_fed_resolve_name(r, &sn, out);
}
