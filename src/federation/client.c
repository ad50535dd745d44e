/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The outbound federation client (federation/client.h) over libcurl's easy
 * interface: each request runs on its calling job thread with an easy
 * handle taken from a pool. Connections stay with their handle (curl does
 * not support one connection cache shared by concurrent threads), so the
 * pool hands out the handle that last talked to the same destination when
 * there is one; DNS answers and TLS sessions are shared by all handles
 * through a CURLSH with one mutex per kind of data.
 *
 * The URL names the TLS name (the server name or the delegated name), so
 * SNI and certificate checks use it (IP literals are checked against IP
 * SANs), while CURLOPT_CONNECT_TO sends the connection where discovery
 * said; resolved addresses are checked against the blacklist in the
 * open-socket callback, after DNS, so a name cannot smuggle in a private
 * address.
 */
#include "federation/client.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/canonjson.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/server.h"
#include "db/db.h"
#include "federation/destinations.h"
#include "federation/resolve.h"
#include "federation/xmatrix.h"
#include "http/ipguard.h"

#define MX_FED_CONNECT_TIMEOUT_MS 10000
#define MX_FED_DEFAULT_TIMEOUT_MS 30000
#define MX_FED_DEFAULT_MAX_BODY ((size_t)1 << 20)
#define MX_FED_WELLKNOWN_TIMEOUT_MS 10000
#define MX_FED_MAX_REDIRECTS 5
/* Idle easy handles kept (each with its few cached connections). */
#define MX_FED_POOL_MAX 32
/* A PEM file in federation_custom_ca_list may not be larger than this. */
#define MX_FED_CA_FILE_MAX ((long)16 << 20)
#define MX_FED_USER_AGENT "Myelin/" MX_VERSION

struct mx_fed_handle {
	struct mx_fed_handle *next;
	CURL *h;
	char tag[MX_FED_SERVER_NAME_MAX + 1]; /* the destination it last talked to */
};

struct mx_fed {
	struct mx_server *srv;
	const struct mx_config *cfg;
	struct mx_ipguard lists;     /* the address lists every transfer's guard copies */
	char *ca_pem;                /* federation_custom_ca_list, concatenated */
	size_t ca_len;
	CURLSH *share;
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
	pthread_mutex_t pool_lock;
	struct mx_fed_handle *idle;  /* most recently used first */
	size_t n_idle;
	struct mx_fed_resolver *resolver;
	struct mx_fed_dests *dests;
};

/* ---- the shared DNS cache and TLS sessions ---- */

static void mx_fed_share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ctx)
{
	struct mx_fed *fed = ctx;
	(void)h;
	(void)access;
	if ((unsigned)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&fed->share_locks[data]);
}

static void mx_fed_share_unlock(CURL *h, curl_lock_data data, void *ctx)
{
	struct mx_fed *fed = ctx;
	(void)h;
	if ((unsigned)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&fed->share_locks[data]);
}

/* ---- the handle pool ---- */

/* A handle, reset, preferably the one that last talked to tag. */
static struct mx_fed_handle *mx_fed_handle_get(struct mx_fed *fed, const char *tag)
{
	struct mx_fed_handle *fh = NULL;
	pthread_mutex_lock(&fed->pool_lock);
	for (struct mx_fed_handle **pp = &fed->idle; *pp; pp = &(*pp)->next) {
		if (!strcmp((*pp)->tag, tag)) {
			fh = *pp;
			*pp = fh->next;
			break;
		}
	}
	if (!fh && fed->idle) {
		/* the least recently used one: its connections are the stalest */
		struct mx_fed_handle **pp = &fed->idle;
		while ((*pp)->next)
			pp = &(*pp)->next;
		fh = *pp;
		*pp = NULL;
	}
	if (fh)
		fed->n_idle--;
	pthread_mutex_unlock(&fed->pool_lock);
	if (fh) {
		curl_easy_reset(fh->h);
	} else {
		fh = mx_xcalloc(1, sizeof(*fh));
		fh->h = curl_easy_init();
		if (!fh->h)
			MX_BUG("curl_easy_init");
		curl_easy_setopt(fh->h, CURLOPT_SHARE, fed->share);
	}
	snprintf(fh->tag, sizeof(fh->tag), "%s", tag);
	return fh;
}

static void mx_fed_handle_put(struct mx_fed *fed, struct mx_fed_handle *fh)
{
	struct mx_fed_handle *drop = NULL;
	pthread_mutex_lock(&fed->pool_lock);
	fh->next = fed->idle;
	fed->idle = fh;
	if (++fed->n_idle > MX_FED_POOL_MAX) {
		struct mx_fed_handle **pp = &fed->idle;
		while ((*pp)->next)
			pp = &(*pp)->next;
		drop = *pp;
		*pp = NULL;
		fed->n_idle--;
	}
	pthread_mutex_unlock(&fed->pool_lock);
	if (drop) {
		curl_easy_cleanup(drop->h);
		free(drop);
	}
}

/* ---- one transfer ---- */

struct mx_fed_xfer {
	struct mx_fed *fed;
	CURL *h;
	size_t max;              /* body limit */
	size_t received;
	struct mx_buf body;      /* when not streaming */
	mx_fed_sink_fn sink;     /* streams 2xx bodies */
	void *sink_ctx;
	int (*on_head)(void *ctx, long status, const char *content_type,
		       const char *content_disposition);
	bool head_done;
	int sink_err;            /* the sink's or on_head's error */
	int streaming;           /* -1 undecided, 0 buffer, 1 sink */
	struct mx_ipguard guard; /* the fed's lists; .blocked: an address was refused */
	bool too_large;
};

/* Tell on_head about the response, once. 0 or its error (kept in sink_err). */
static int mx_fed_xfer_head(struct mx_fed_xfer *x)
{
	if (x->head_done || !x->on_head)
		return 0;
	x->head_done = true;
	long status = 0;
	char *type = NULL;
	struct curl_header *cd = NULL;
	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(x->h, CURLINFO_CONTENT_TYPE, &type);
	if (curl_easy_header(x->h, "Content-Disposition", 0, CURLH_HEADER, -1, &cd) != CURLHE_OK)
		cd = NULL;
	int rc = x->on_head(x->sink_ctx, status, type, cd ? cd->value : NULL);
	if (rc)
		x->sink_err = rc < 0 ? rc : MX_EIO;
	return x->sink_err;
}

static size_t mx_fed_write(char *p, size_t size, size_t n, void *ctx)
{
	struct mx_fed_xfer *x = ctx;
	size_t len = size * n;
	if (mx_fed_xfer_head(x))
		return 0;
	if (len > x->max || x->received > x->max - len) {
		x->too_large = true;
		return 0;
	}
	x->received += len;
	if (x->streaming < 0) {
		long status = 0;
		curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
		x->streaming = x->sink && status >= 200 && status < 300;
	}
	if (x->streaming) {
		int rc = x->sink(x->sink_ctx, p, len);
		if (rc) {
			x->sink_err = rc < 0 ? rc : MX_EIO;
			return 0;
		}
		return len;
	}
	if (mx_buf_append(&x->body, p, len)) {
		x->too_large = true;
		return 0;
	}
	return len;
}

/* Options every federation transfer shares. */
static void mx_fed_setopt_common(struct mx_fed *fed, struct mx_fed_xfer *x, int64_t timeout_ms)
{
	CURL *h = x->h;
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(timeout_ms < MX_FED_CONNECT_TIMEOUT_MS ? timeout_ms
								    : MX_FED_CONNECT_TIMEOUT_MS));
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_USERAGENT, MX_FED_USER_AGENT);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	mx_ipguard_install(&x->guard, h);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, mx_fed_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max);
	if (!fed->cfg->federation_verify_certificates) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (fed->ca_pem) {
		struct curl_blob blob = {.data = fed->ca_pem, .len = fed->ca_len,
					 .flags = CURL_BLOB_NOCOPY};
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL); /* only the listed CAs */
	}
}

/* stream may be NULL (buffer the body); only its sink fields are used. */
static void mx_fed_xfer_init(struct mx_fed_xfer *x, struct mx_fed *fed, CURL *h, size_t max,
			     const struct mx_fed_request *stream)
{
	memset(x, 0, sizeof(*x));
	x->fed = fed;
	x->h = h;
	x->max = max;
	x->guard = fed->lists;
	x->guard.blocked = false;
	if (stream) {
		x->sink = stream->sink;
		x->sink_ctx = stream->sink_ctx;
		x->on_head = stream->on_head;
	}
	x->streaming = -1;
	mx_buf_init(&x->body, max);
}

/* Start the next attempt afresh (another address). */
static void mx_fed_xfer_restart(struct mx_fed_xfer *x)
{
	mx_buf_reset(&x->body);
	x->received = 0;
	x->streaming = -1;
	x->guard.blocked = x->too_large = x->head_done = false;
	x->sink_err = 0;
}

/* Move what a finished transfer got into out. */
static void mx_fed_xfer_finish(struct mx_fed_xfer *x, const char *url,
			       struct mx_fed_response *out)
{
	CURL *h = x->h;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
	char *type = NULL;
	curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &type);
	out->content_type = type ? mx_xstrdup(type) : NULL;
	struct curl_header *loc = NULL;
	if (curl_easy_header(h, "Location", 0, CURLH_HEADER, -1, &loc) == CURLHE_OK && loc &&
	    loc->value && loc->value[0]) {
		/* relative references resolve against the request URL */
		CURLU *u = curl_url();
		char *s = NULL;
		if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
		    curl_url_set(u, CURLUPART_URL, loc->value, 0) == CURLUE_OK &&
		    curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK)
			out->location = mx_xstrdup(s);
		else
			out->location = mx_xstrdup(loc->value);
		curl_free(s);
		curl_url_cleanup(u);
	}
	/* a 2xx body went to the sink (even when there was none to send) */
	if (x->streaming == 1 || (x->streaming < 0 && x->sink && out->status >= 200 &&
				   out->status < 300))
		return;
	if (!x->body.data)
		mx_buf_append(&x->body, "", 0);
	out->body = mx_buf_detach(&x->body, &out->body_len);
	if (!out->body)
		out->body = mx_xstrdup("");
	json_t *j = out->body_len ? mx_json_parse_strict(out->body, out->body_len, NULL) : NULL;
	if (json_is_object(j))
		out->json = j;
	else
		json_decref(j);
}

void mx_fed_response_release(struct mx_fed_response *r)
{
	if (!r)
		return;
	free(r->content_type);
	free(r->location);
	free(r->body);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

/* ---- well-known fetches (the resolver's network half) ---- */

static int mx_fed_fetch_wellknown(void *ctx, const char *host, struct mx_fed_wellknown_resp *out)
{
	struct mx_fed *fed = ctx;
	struct mx_fed_handle *fh = mx_fed_handle_get(fed, host);
	struct mx_fed_xfer x;
	mx_fed_xfer_init(&x, fed, fh->h, MX_FED_WELLKNOWN_MAX, NULL);
	char *url = mx_xasprintf("https://%s/.well-known/matrix/server", host);
	int64_t t0 = mx_clock_mono_ms();
	mx_fed_setopt_common(fed, &x, MX_FED_WELLKNOWN_TIMEOUT_MS);
	curl_easy_setopt(fh->h, CURLOPT_URL, url);
	/* SPEC: follow 30x redirects, carefully avoiding loops: curl counts
	 * the hops, and each hop's addresses pass the blacklist again. */
	curl_easy_setopt(fh->h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(fh->h, CURLOPT_MAXREDIRS, (long)MX_FED_MAX_REDIRECTS);
	curl_easy_setopt(fh->h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	CURLcode cc = curl_easy_perform(fh->h);
	int rc = 0;
	memset(out, 0, sizeof(*out));
	curl_easy_getinfo(fh->h, CURLINFO_RESPONSE_CODE, &out->status);
	if (x.too_large || cc == CURLE_FILESIZE_EXCEEDED) {
		/* an answer, but not a valid one */
		out->status = out->status ? out->status : 200;
	} else if (cc != CURLE_OK) {
		rc = x.guard.blocked ? MX_EFORBIDDEN : MX_EREMOTE;
	} else {
		struct curl_header *cch = NULL;
		if (curl_easy_header(fh->h, "Cache-Control", 0, CURLH_HEADER, -1, &cch) ==
			    CURLHE_OK &&
		    cch && cch->value)
			out->cache_control = mx_xstrdup(cch->value);
		if (!x.body.data)
			mx_buf_append(&x.body, "", 0);
		out->body = mx_buf_detach(&x.body, &out->len);
	}
	mx_log_debug("federation: GET https://%s/.well-known/matrix/server -> %ld%s%s (%lld ms)",
		     host, out->status, cc != CURLE_OK ? " " : "",
		     cc != CURLE_OK ? (x.guard.blocked ? "blocked" : curl_easy_strerror(cc)) : "",
		     (long long)(mx_clock_mono_ms() - t0));
	mx_buf_release(&x.body);
	free(url);
	mx_fed_handle_put(fed, fh);
	return rc;
}

/* ---- start-up ---- */

/* Read the custom CA files into one PEM blob. */
static int mx_fed_load_cas(struct mx_fed *fed)
{
	const struct mx_config *cfg = fed->cfg;
	struct mx_buf b;
	int rc = 0;
	mx_buf_init(&b, MX_BUF_UNLIMITED);
	for (size_t i = 0; i < cfg->n_federation_custom_ca_list; i++) {
		const char *path = cfg->federation_custom_ca_list[i];
		FILE *f = fopen(path, "rb");
		if (!f) {
			mx_log_error("federation_custom_ca_list: cannot open %s: %s", path,
				     strerror(errno));
			rc = MX_EIO;
			goto out;
		}
		char chunk[8192];
		size_t n;
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len < MX_FED_CA_FILE_MAX * 4)
			mx_buf_append(&b, chunk, n);
		bool bad = ferror(f) != 0;
		fclose(f);
		if (bad) {
			mx_log_error("federation_custom_ca_list: cannot read %s", path);
			rc = MX_EIO;
			goto out;
		}
		mx_buf_putc(&b, '\n');
	}
	if (cfg->n_federation_custom_ca_list)
		fed->ca_pem = mx_buf_detach(&b, &fed->ca_len);
out:
	mx_buf_release(&b);
	return rc;
}

int mx_fed_new(struct mx_server *srv, struct mx_fed **out)
{
	const struct mx_config *cfg = srv->cfg;
	struct mx_fed *fed = mx_xcalloc(1, sizeof(*fed));
	int rc = 0;
	*out = NULL;
	fed->srv = srv;
	fed->cfg = cfg;
	pthread_mutex_init(&fed->pool_lock, NULL);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&fed->share_locks[i], NULL);
	/* As Synapse: the deprecated federation_ip_range_blacklist, when set,
	 * is the whole rule; else ip_range_blacklist less ip_range_whitelist. */
	if (cfg->federation_ip_range_blacklist) {
		fed->lists.block = cfg->federation_ip_range_blacklist;
		fed->lists.n_block = cfg->n_federation_ip_range_blacklist;
	} else {
		fed->lists.block = cfg->ip_range_blacklist;
		fed->lists.n_block = cfg->n_ip_range_blacklist;
		fed->lists.allow = cfg->ip_range_whitelist;
		fed->lists.n_allow = cfg->n_ip_range_whitelist;
	}
	if ((rc = mx_fed_load_cas(fed)))
		goto out;

	fed->share = curl_share_init();
	if (!fed->share)
		MX_BUG("curl_share_init");
	curl_share_setopt(fed->share, CURLSHOPT_LOCKFUNC, mx_fed_share_lock);
	curl_share_setopt(fed->share, CURLSHOPT_UNLOCKFUNC, mx_fed_share_unlock);
	curl_share_setopt(fed->share, CURLSHOPT_USERDATA, fed);
	curl_share_setopt(fed->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(fed->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);

	struct mx_fed_resolver_ops ops = {.fetch_wellknown = mx_fed_fetch_wellknown, .ctx = fed};
	fed->resolver = mx_fed_resolver_new(&ops);

	struct mx_fed_backoff policy = {
		.min_ms = cfg->destination_min_retry_interval_ms,
		.max_ms = cfg->destination_max_retry_interval_ms,
		.multiplier = cfg->destination_retry_multiplier,
		.jitter = 0.1,
	};
	fed->dests = mx_fed_dests_new(&policy, srv->db);
	if (srv->db) {
		struct mx_db_conn *c;
		if ((rc = mx_db_conn_open(srv->db, &c)))
			goto out;
		rc = mx_fed_dests_load(fed->dests, c);
		mx_db_conn_close(c);
		if (rc) {
			mx_log_error("federation: cannot load the destination health records");
			goto out;
		}
	}
	*out = fed;
out:
	if (rc)
		mx_fed_free(fed);
	return rc;
}

void mx_fed_free(struct mx_fed *fed)
{
	if (!fed)
		return;
	while (fed->idle) {
		struct mx_fed_handle *fh = fed->idle;
		fed->idle = fh->next;
		curl_easy_cleanup(fh->h);
		free(fh);
	}
	if (fed->share)
		curl_share_cleanup(fed->share);
	mx_fed_resolver_free(fed->resolver);
	mx_fed_dests_free(fed->dests);
	free(fed->ca_pem);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&fed->share_locks[i]);
	pthread_mutex_destroy(&fed->pool_lock);
	free(fed);
}

/* ---- requests ---- */

/* May we contact destination at all? MX_EFORBIDDEN if not. */
static int mx_fed_destination_allowed(struct mx_fed *fed, const char *destination)
{
	const struct mx_config *cfg = fed->cfg;
	if (cfg->server_name && !strcmp(destination, cfg->server_name))
		return MX_EFORBIDDEN;
	if (cfg->federation_domain_whitelist) {
		for (size_t i = 0; i < cfg->n_federation_domain_whitelist; i++)
			if (!strcmp(destination, cfg->federation_domain_whitelist[i]))
				return 0;
		return MX_EFORBIDDEN;
	}
	return 0;
}

static bool mx_fed_method_ok(const char *m)
{
	return m && (!strcmp(m, "GET") || !strcmp(m, "PUT") || !strcmp(m, "POST") ||
		     !strcmp(m, "DELETE"));
}

/* The health outcome and log line of a finished request. */
static void mx_fed_request_done(struct mx_fed *fed, const struct mx_fed_request *rq, bool probe,
				enum mx_fed_dest_outcome outcome, long status, const char *error,
				int64_t t0)
{
	int64_t now = mx_clock_now_ms();
	enum mx_fed_dest_change ch = mx_fed_dests_end(fed->dests, rq->destination, probe, outcome,
						      now);
	long long ms = (long long)(mx_clock_mono_ms() - t0);
	if (error)
		mx_log_debug("federation: %s %s %s -> %s (%lld ms)", rq->method, rq->destination,
			     rq->uri, error, ms);
	else
		mx_log_debug("federation: %s %s %s -> %ld (%lld ms)", rq->method, rq->destination,
			     rq->uri, status, ms);
	struct mx_fed_dest_state st;
	switch (ch) {
	case MX_FED_DEST_NOW_BACKED_OFF:
		if (!mx_fed_dests_get(fed->dests, rq->destination, &st))
			mx_log_warn("federation: %s is unreachable (%s); backing off for %lld s",
				    rq->destination, error ? error : "server error",
				    (long long)((st.retry_at_ms - now) / 1000));
		break;
	case MX_FED_DEST_STILL_FAILING:
		if (!mx_fed_dests_get(fed->dests, rq->destination, &st))
			mx_log_debug("federation: %s still unreachable after %lld attempts; next "
				     "try in %lld s",
				     rq->destination, (long long)st.failures,
				     (long long)((st.retry_at_ms - now) / 1000));
		break;
	case MX_FED_DEST_RECOVERED:
		mx_log_info("federation: %s is reachable again", rq->destination);
		break;
	case MX_FED_DEST_UNCHANGED:
		break;
	}
}

int mx_fed_request(struct mx_fed *fed, const struct mx_fed_request *rq,
		   struct mx_fed_response *out)
{
	memset(out, 0, sizeof(*out));
	struct mx_fed_server_name sn;
	if (!rq->destination || mx_fed_server_name_parse(rq->destination, &sn))
		return MX_EINVALIDPARAM;
	if (!mx_fed_method_ok(rq->method) || !rq->uri || rq->uri[0] != '/')
		return MX_EINVALID;
	int rc = mx_fed_destination_allowed(fed, rq->destination);
	if (rc)
		return rc;

	int64_t t0 = mx_clock_mono_ms();
	enum mx_fed_dest_verdict v = mx_fed_dests_begin(fed->dests, rq->destination,
							mx_clock_now_ms());
	if (v == MX_FED_DEST_BACKED_OFF && !rq->ignore_backoff) {
		mx_log_debug("federation: %s %s %s -> not tried: backed off", rq->method,
			     rq->destination, rq->uri);
		return MX_EREMOTE;
	}
	bool probe = v == MX_FED_DEST_PROBE;
	int64_t timeout = rq->timeout_ms > 0 ? rq->timeout_ms : MX_FED_DEFAULT_TIMEOUT_MS;
	int64_t deadline = t0 + timeout;
	size_t max = rq->max_body ? rq->max_body : MX_FED_DEFAULT_MAX_BODY;
	char *body = NULL, *auth = NULL, *url = NULL;
	struct curl_slist *headers = NULL;
	struct mx_fed_handle *fh = NULL;
	struct mx_fed_xfer x;
	struct mx_fed_target t;
	bool xfer_init = false, all_blocked = true;
	enum mx_fed_dest_outcome outcome = MX_FED_DEST_NEUTRAL;
	const char *error = NULL;
	CURLcode cc = CURLE_OK;
	long status = 0;

	if (rq->body) {
		int err = 0;
		body = mx_canonjson_dumps(rq->body, MX_CANONJSON_MAX_BYTES, &err);
		if (!body) {
			rc = err ? err : MX_EBADJSON;
			error = "body is not canonical JSON";
			goto out;
		}
	}
	if (rq->sign) {
		auth = mx_xmatrix_sign(fed->srv->key, fed->cfg->server_name, rq->destination,
				       rq->method, rq->uri, rq->body);
		if (!auth) {
			rc = MX_EUNKNOWN;
			error = "cannot sign the request";
			goto out;
		}
	}

	rc = mx_fed_resolve(fed->resolver, rq->destination, &t);
	if (rc) {
		if (rc == MX_EREMOTE) {
			outcome = MX_FED_DEST_FAILED;
			error = "no service (SRV)";
		} else {
			error = "cannot resolve";
		}
		goto out;
	}

	char *hv = mx_xasprintf("Host: %s", t.host_header);
	headers = curl_slist_append(headers, hv);
	free(hv);
	if (auth) {
		char *av = mx_xasprintf("Authorization: %s", auth);
		headers = curl_slist_append(headers, av);
		free(av);
	}
	if (body)
		headers = curl_slist_append(headers, "Content-Type: application/json");
	headers = curl_slist_append(headers, "Expect:");
	if (!headers)
		MX_BUG("curl_slist_append");

	fh = mx_fed_handle_get(fed, rq->destination);
	mx_fed_xfer_init(&x, fed, fh->h, max, rq);
	xfer_init = true;
	for (size_t i = 0; i < t.n_addrs; i++) {
		int64_t left = deadline - mx_clock_mono_ms();
		if (left <= 0) {
			cc = CURLE_OPERATION_TIMEDOUT;
			all_blocked = false;
			break;
		}
		if (i) {
			curl_easy_reset(fh->h);
			mx_fed_xfer_restart(&x);
		}
		const struct mx_fed_addr *a = &t.addrs[i];
		free(url);
		url = mx_xasprintf("https://%s:%u%s", t.tls_name, (unsigned)a->port, rq->uri);
		char *ct = mx_xasprintf("::%s:%u", a->host, (unsigned)a->port);
		struct curl_slist *connect_to = curl_slist_append(NULL, ct);
		free(ct);
		if (!connect_to)
			MX_BUG("curl_slist_append");
		mx_fed_setopt_common(fed, &x, left);
		curl_easy_setopt(fh->h, CURLOPT_URL, url);
		curl_easy_setopt(fh->h, CURLOPT_CONNECT_TO, connect_to);
		curl_easy_setopt(fh->h, CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(fh->h, CURLOPT_FOLLOWLOCATION, 0L);
		if (!strcmp(rq->method, "GET")) {
			curl_easy_setopt(fh->h, CURLOPT_HTTPGET, 1L);
		} else {
			curl_easy_setopt(fh->h, CURLOPT_POSTFIELDS, body ? body : "");
			curl_easy_setopt(fh->h, CURLOPT_POSTFIELDSIZE_LARGE,
					 (curl_off_t)(body ? strlen(body) : 0));
			curl_easy_setopt(fh->h, CURLOPT_CUSTOMREQUEST, rq->method);
		}
		cc = curl_easy_perform(fh->h);
		curl_easy_setopt(fh->h, CURLOPT_CONNECT_TO, NULL);
		curl_slist_free_all(connect_to);
		status = 0;
		curl_easy_getinfo(fh->h, CURLINFO_RESPONSE_CODE, &status);
		if (status && cc == CURLE_OK)
			mx_fed_xfer_head(&x); /* a response without a body */
		if (!x.guard.blocked)
			all_blocked = false;
		if (status || x.too_large || x.sink_err)
			break;
		/* nothing answered: the next address, if nothing was sent yet */
		curl_off_t sent = 0;
		curl_easy_getinfo(fh->h, CURLINFO_PRETRANSFER_TIME_T, &sent);
		if (sent > 0 && !x.guard.blocked)
			break;
	}

	if (status) {
		/* DESIGN.md "Federation manners": any answer below 500 shows the
		 * server alive; a 5xx counts against it like no answer */
		outcome = status < 500 ? MX_FED_DEST_OK : MX_FED_DEST_FAILED;
		if (x.sink_err) {
			rc = x.sink_err;
			error = "aborted by the sink";
		} else if (x.too_large || cc == CURLE_FILESIZE_EXCEEDED) {
			rc = MX_ETOOLARGE;
			error = "response too large";
		} else if (cc != CURLE_OK) {
			rc = MX_EREMOTE;
			error = curl_easy_strerror(cc);
		} else {
			mx_fed_xfer_finish(&x, url, out);
			rc = 0;
		}
	} else if (all_blocked && t.n_addrs) {
		rc = MX_EFORBIDDEN;
		error = "address blacklisted";
	} else {
		rc = MX_EREMOTE;
		outcome = MX_FED_DEST_FAILED;
		error = curl_easy_strerror(cc);
	}

out:
	mx_fed_request_done(fed, rq, probe, outcome, out->status, rc ? error : NULL, t0);
	if (rc)
		mx_fed_response_release(out);
	if (xfer_init)
		mx_buf_release(&x.body);
	if (fh) {
		curl_easy_setopt(fh->h, CURLOPT_HTTPHEADER, NULL);
		mx_fed_handle_put(fed, fh);
	}
	curl_slist_free_all(headers);
	free(url);
	free(body);
	free(auth);
	return rc;
}

int mx_fed_get_url(struct mx_fed *fed, const char *url, int64_t timeout_ms, size_t max_body,
		   const struct mx_fed_request *stream, struct mx_fed_response *out)
{
	memset(out, 0, sizeof(*out));
	if (!url || strncasecmp(url, "https://", 8))
		return MX_EINVALIDPARAM;
	int64_t timeout = timeout_ms > 0 ? timeout_ms : MX_FED_DEFAULT_TIMEOUT_MS;
	size_t max = max_body ? max_body : MX_FED_DEFAULT_MAX_BODY;
	int64_t t0 = mx_clock_mono_ms();
	struct mx_fed_handle *fh = mx_fed_handle_get(fed, "");
	struct mx_fed_xfer x;
	mx_fed_xfer_init(&x, fed, fh->h, max, stream);
	mx_fed_setopt_common(fed, &x, timeout);
	curl_easy_setopt(fh->h, CURLOPT_URL, url);
	curl_easy_setopt(fh->h, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(fh->h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(fh->h, CURLOPT_MAXREDIRS, (long)MX_FED_MAX_REDIRECTS);
	curl_easy_setopt(fh->h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	CURLcode cc = curl_easy_perform(fh->h);
	int rc;
	long status = 0;
	curl_easy_getinfo(fh->h, CURLINFO_RESPONSE_CODE, &status);
	if (status && cc == CURLE_OK)
		mx_fed_xfer_head(&x);
	if (x.guard.blocked && !status)
		rc = MX_EFORBIDDEN;
	else if (x.sink_err)
		rc = x.sink_err;
	else if (x.too_large || cc == CURLE_FILESIZE_EXCEEDED)
		rc = MX_ETOOLARGE;
	else if (cc != CURLE_OK)
		rc = MX_EREMOTE;
	else
		rc = 0;
	if (!rc) {
		char *eff = NULL;
		curl_easy_getinfo(fh->h, CURLINFO_EFFECTIVE_URL, &eff);
		mx_fed_xfer_finish(&x, eff ? eff : url, out);
	}
	mx_log_debug("federation: GET %.200s -> %ld%s%s (%lld ms)", url, status, rc ? " " : "",
		     rc ? (x.guard.blocked ? "blocked" : curl_easy_strerror(cc)) : "",
		     (long long)(mx_clock_mono_ms() - t0));
	mx_buf_release(&x.body);
	mx_fed_handle_put(fed, fh);
	return rc;
}

void mx_fed_destination_seen(struct mx_fed *fed, const char *destination)
{
	if (fed && destination && mx_fed_dests_seen(fed->dests, destination))
		mx_log_info("federation: %s contacted us; retrying it now", destination);
}

bool mx_fed_destination_backed_off(struct mx_fed *fed, const char *destination)
{
	return mx_fed_dests_backed_off(fed->dests, destination, mx_clock_now_ms());
}

int64_t mx_fed_destination_retry_at(struct mx_fed *fed, const char *destination)
{
	struct mx_fed_dest_state st;
	if (mx_fed_dests_get(fed->dests, destination, &st))
		return 0;
	return st.retry_at_ms;
}
