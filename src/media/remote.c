/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fetching remote media (see remote.h). The response streams through the
 * multipart parser straight into an upload's temporary file: a 50 MB video
 * from another server never sits in memory.
 */
#include "media/remote.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/server.h"
#include "federation/client.h"
#include "federation/multipart.h"
#include "media/media.h"
#include "store/media.h"

#define MX_REMOTE_MAX_INFLIGHT 1024

struct mx_media_remote {
	pthread_mutex_t lock;
	char *keys[MX_REMOTE_MAX_INFLIGHT]; /* fetches running (few at a time) */
	size_t n;
};

struct mx_media_remote *mx_media_remote_new(void)
{
	struct mx_media_remote *rm = mx_xcalloc(1, sizeof(*rm));
	pthread_mutex_init(&rm->lock, NULL);
	return rm;
}

void mx_media_remote_free(struct mx_media_remote *rm)
{
	if (!rm)
		return;
	for (size_t i = 0; i < rm->n; i++)
		free(rm->keys[i]);
	pthread_mutex_destroy(&rm->lock);
	free(rm);
}

bool mx_media_remote_claim(struct mx_media_remote *rm, const char *key)
{
	pthread_mutex_lock(&rm->lock);
	bool ok = true;
	for (size_t i = 0; i < rm->n && ok; i++)
		ok = strcmp(rm->keys[i], key) != 0;
	/* Past the bound nobody waits: duplicates are only wasteful. */
	if (ok && rm->n < MX_REMOTE_MAX_INFLIGHT)
		rm->keys[rm->n++] = mx_xstrdup(key);
	pthread_mutex_unlock(&rm->lock);
	return ok;
}

void mx_media_remote_release(struct mx_media_remote *rm, const char *key)
{
	pthread_mutex_lock(&rm->lock);
	for (size_t i = 0; i < rm->n; i++) {
		if (!strcmp(rm->keys[i], key)) {
			free(rm->keys[i]);
			rm->keys[i] = rm->keys[--rm->n];
			break;
		}
	}
	pthread_mutex_unlock(&rm->lock);
}

/* ---- Content-Disposition ---- */

static int mx_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The value of parameter name (case-insensitive) in a header, unquoted; NULL if absent. */
static char *mx_disposition_param(struct mx_arena *a, const char *h, const char *name)
{
	size_t nl = strlen(name);
	const char *p = strchr(h, ';');
	while (p) {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!strncasecmp(p, name, nl) && p[nl] == '=') {
			p += nl + 1;
			char *out = mx_arena_alloc(a, strlen(p) + 1);
			size_t n = 0;
			if (*p == '"') {
				for (p++; *p && *p != '"'; p++) {
					if (*p == '\\' && p[1])
						p++;
					out[n++] = *p;
				}
			} else {
				while (*p && *p != ';' && *p != ' ' && *p != '\t')
					out[n++] = *p++;
			}
			out[n] = '\0';
			return out;
		}
		p = strchr(p, ';');
	}
	return NULL;
}

const char *mx_media_disposition_filename(struct mx_arena *a, const char *disposition)
{
	if (!disposition)
		return NULL;
	/* RFC 6266: filename* (RFC 5987 charset''pct-encoded) wins. */
	char *ext = mx_disposition_param(a, disposition, "filename*");
	if (ext && !strncasecmp(ext, "utf-8''", 7)) {
		char *out = ext, *q = ext;
		for (const char *p = ext + 7; *p; p++) {
			int hi, lo;
			if (*p == '%' && (hi = mx_hex(p[1])) >= 0 && (lo = mx_hex(p[2])) >= 0) {
				*q++ = (char)(hi * 16 + lo);
				p += 2;
			} else {
				*q++ = *p;
			}
		}
		*q = '\0';
		if (*out && mx_media_filename_ok(out))
			return out;
	}
	char *name = mx_disposition_param(a, disposition, "filename");
	return name && *name && mx_media_filename_ok(name) ? name : NULL;
}

/* ---- the fetch ---- */

struct mx_remote_fetch {
	struct mx_server *srv;
	struct mx_arena *a;
	struct mx_media_upload *u;
	struct mx_multipart mp;
	bool multipart;           /* the federation endpoint's body */
	bool mp_ready;            /* mp was initialised from a 200's Content-Type */
	bool raw_ok;              /* a plain body (legacy endpoint, Location) with a 200 */
	bool failed;              /* not a 200: the body is an error object */
	char err[4096];           /* its start */
	size_t err_len;
	int parts;
	const char *content_type, *disposition, *location;
};

static int mx_remote_part(void *ctx, const struct mx_multipart_part *part)
{
	struct mx_remote_fetch *f = ctx;
	f->parts = part->index + 1;
	if (part->index == 0)
		return 0; /* metadata: currently always {} (SPEC) */
	if (part->index > 1)
		return MX_EINVALID; /* SPEC: exactly two parts */
	f->content_type = part->content_type[0] ? mx_arena_strdup(f->a, part->content_type) : NULL;
	f->disposition = part->content_disposition[0]
				 ? mx_arena_strdup(f->a, part->content_disposition) : NULL;
	f->location = part->location[0] ? mx_arena_strdup(f->a, part->location) : NULL;
	return 0;
}

static int mx_remote_part_data(void *ctx, const struct mx_multipart_part *part, const char *p,
			       size_t n)
{
	struct mx_remote_fetch *f = ctx;
	if (part->index != 1)
		return part->index == 0 && n > 65536 ? MX_ETOOLARGE : 0;
	return mx_media_upload_write(f->u, p, n);
}

static int mx_remote_head(void *ctx, long status, const char *type, const char *disposition)
{
	struct mx_remote_fetch *f = ctx;
	if (status != 200) {
		f->failed = true; /* keep the start of the error object */
		return 0;
	}
	if (f->multipart) {
		if (!type || mx_multipart_init(&f->mp, type, mx_remote_part, mx_remote_part_data, f))
			return MX_EREMOTE;
		f->mp_ready = true;
		return 0;
	}
	f->raw_ok = true;
	f->content_type = type ? mx_arena_strdup(f->a, type) : NULL;
	f->disposition = disposition ? mx_arena_strdup(f->a, disposition) : NULL;
	return 0;
}

static int mx_remote_sink(void *ctx, const char *p, size_t n)
{
	struct mx_remote_fetch *f = ctx;
	if (f->failed) {
		size_t k = MX_MIN(n, sizeof(f->err) - 1 - f->err_len);
		memcpy(f->err + f->err_len, p, k);
		f->err_len += k;
		f->err[f->err_len] = '\0';
		return 0;
	}
	if (f->mp_ready)
		return mx_multipart_feed(&f->mp, p, n);
	if (f->raw_ok)
		return mx_media_upload_write(f->u, p, n);
	return MX_EREMOTE;
}

/* The error a non-200 federation answer means. */
static int mx_remote_status(const struct mx_fed_response *r)
{
	if (r->status == 404)
		return MX_ENOTFOUND;
	if (r->status == 413 || r->status == 502)
		return r->status == 413 ? MX_ETOOLARGE : MX_EREMOTE;
	return MX_EREMOTE;
}

/* GET one URI (federation) or url (Location) into f->u; 0 on a 200 with a complete body. */
static int mx_remote_get(struct mx_remote_fetch *f, const char *origin, const char *uri,
			 const char *url, int64_t timeout_ms, struct mx_fed_response *resp)
{
	const struct mx_config *cfg = f->srv->cfg;
	struct mx_fed_request rq = {
		.destination = origin, .method = "GET", .uri = uri, .sign = true,
		.timeout_ms = timeout_ms + 10000,
		.max_body = (size_t)cfg->max_upload_size + 65536,
		.sink = mx_remote_sink, .sink_ctx = f, .on_head = mx_remote_head,
	};
	memset(resp, 0, sizeof(*resp));
	int rc = url ? mx_fed_get_url(f->srv->fed, url, rq.timeout_ms, rq.max_body, &rq, resp)
		     : mx_fed_request(f->srv->fed, &rq, resp);
	if (rc)
		return rc;
	if (resp->status != 200)
		return mx_remote_status(resp);
	if (f->multipart && (mx_multipart_finish(&f->mp) || f->parts != 2))
		return MX_EREMOTE;
	if (mx_media_upload_size(f->u) > (uint64_t)cfg->max_upload_size)
		return MX_ETOOLARGE;
	return 0;
}

/* A fresh temp file for another attempt. */
static int mx_remote_restart(struct mx_remote_fetch *f, bool multipart)
{
	mx_media_upload_abort(f->u);
	f->u = NULL;
	mx_multipart_release(&f->mp);
	memset(&f->mp, 0, sizeof(f->mp));
	f->multipart = multipart;
	f->mp_ready = f->raw_ok = f->failed = false;
	f->err_len = 0;
	f->err[0] = '\0';
	f->parts = 0;
	f->content_type = f->disposition = f->location = NULL;
	return mx_media_upload_begin(f->srv->cfg->media_store_path, &f->u);
}

/* 404 with M_UNRECOGNIZED (or 400/405): the server predates federation media. */
static bool mx_remote_no_endpoint(const struct mx_remote_fetch *f,
				  const struct mx_fed_response *r)
{
	if (r->status == 400 || r->status == 405 || r->status == 501)
		return true;
	if (r->status != 404)
		return false;
	/* The client buffers error bodies; a sink may have seen one too. */
	json_t *v = r->json ? json_incref(r->json) : json_loadb(f->err, f->err_len, 0, NULL);
	json_t *e = json_object_get(v, "errcode");
	bool unknown = json_is_string(e) && !strcmp(json_string_value(e), "M_UNRECOGNIZED");
	json_decref(v);
	return unknown;
}

static int mx_remote_fetch_bytes(struct mx_remote_fetch *f, const char *origin,
				 const char *media_id, int64_t timeout_ms)
{
	struct mx_fed_response r;
	const char *uri = mx_arena_printf(f->a, "/_matrix/federation/v1/media/download/%s"
					  "?timeout_ms=%lld", media_id, (long long)timeout_ms);
	int rc = mx_remote_restart(f, true);
	if (rc)
		return rc;
	rc = mx_remote_get(f, origin, uri, NULL, timeout_ms, &r);
	bool legacy = rc && mx_remote_no_endpoint(f, &r);
	mx_fed_response_release(&r);
	if (!rc && f->location) {
		/* SPEC: the second part may redirect; never cache the URL. */
		const char *loc = f->location;
		if ((rc = mx_remote_restart(f, false)))
			return rc;
		rc = mx_remote_get(f, origin, NULL, loc, timeout_ms, &r);
		mx_fed_response_release(&r);
	} else if (legacy) {
		uri = mx_arena_printf(f->a, "/_matrix/media/v3/download/%s/%s?allow_remote=false"
				      "&allow_redirect=true&timeout_ms=%lld", origin, media_id,
				      (long long)timeout_ms);
		if ((rc = mx_remote_restart(f, false)))
			return rc;
		rc = mx_remote_get(f, origin, uri, NULL, timeout_ms, &r);
		mx_fed_response_release(&r);
	}
	return rc;
}

int mx_media_remote_fetch(struct mx_server *srv, struct mx_arena *a, const char *origin,
			  const char *media_id, int64_t timeout_ms, struct mx_media_content *out)
{
	struct mx_remote_fetch f = {.srv = srv, .a = a};
	int rc = mx_remote_fetch_bytes(&f, origin, media_id, timeout_ms);
	mx_multipart_release(&f.mp);
	if (rc) {
		mx_media_upload_abort(f.u);
		mx_log_info("media: fetching mxc://%s/%s failed (%d)", origin, media_id, rc);
		return rc;
	}
	char *sha = mx_arena_alloc(a, 65);
	uint64_t size;
	if ((rc = mx_media_upload_finish(f.u, srv->cfg->media_store_path, sha, &size)))
		return rc;
	const char *type = f.content_type;
	if (type && !mx_media_content_type_ok(type))
		type = NULL;
	*out = (struct mx_media_content){
		.sha256 = sha, .size = (int64_t)size, .content_type = type,
		.upload_name = mx_media_disposition_filename(a, f.disposition),
	};
	rc = mx_store_remote_media_add(srv->db, origin, media_id, out);
	if (rc)
		mx_log_error("media: cannot record mxc://%s/%s (%d)", origin, media_id, rc);
	return rc;
}
