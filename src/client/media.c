/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The content repository's client endpoints: uploads (direct, and async
 * through /create then PUT), authenticated download and thumbnails, the
 * config, and the frozen legacy unauthenticated endpoints. Upload bodies
 * stream to disk (MX_ROUTE_STREAM) and downloads stream from it
 * (mx_req_reply_fd): no file is ever held in memory.
 * SPEC: client-server-api#content-repository
 */
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/routes.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "core/jobs.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/rand.h"
#include "http/request.h"
#include "media/media.h"
#include "media/preview.h"
#include "media/serve.h"
#include "media/thumbnail.h"
#include "store/media.h"
#include "sync/notifier.h"

#define MX_MEDIA_ID_LEN 24               /* random ids: ~137 bits */

/* ---- receiving a body ---- */

/* An upload's state across the chunks of one request (arena). */
struct mx_media_recv {
	struct mx_media_upload *u;
};

static void mx_media_recv_close(struct mx_req *req)
{
	struct mx_media_recv *r = req->handler_state;
	if (r && r->u) {
		mx_media_upload_abort(r->u); /* never finished: a refusal or an abort */
		r->u = NULL;
	}
}

/*
 * Whether user's uploads within every media_upload_limits period plus
 * size more bytes stay within that period's max_size. Replies when not
 * (as Synapse: 400 M_RESOURCE_LIMIT_EXCEEDED) or on a database error.
 */
static int mx_media_quota_check(struct mx_req *req, int64_t size)
{
	const struct mx_config *cfg = req->srv->cfg;
	int64_t now = mx_clock_now_ms();
	for (size_t i = 0; i < cfg->n_media_upload_limits; i++) {
		const struct mx_config_upload_limit *l = &cfg->media_upload_limits[i];
		int64_t used;
		int rc = mx_store_media_uploaded_size(req->w->rconn, req->auth.user_id,
						      now - l->time_period_ms, &used);
		if (rc)
			return mx_req_fail(req, rc, NULL);
		if (used + size > l->max_size)
			return mx_req_fail_json(req, MX_ERESOURCELIMIT, 400,
						json_pack("{s:s, s:s}", "errcode",
							  "M_RESOURCE_LIMIT_EXCEEDED", "error",
							  "Upload request exceeds media upload limit"));
	}
	return 0;
}

/* One streamed chunk: append it to the upload's temp file. */
static int mx_media_recv_chunk(struct mx_req *req)
{
	struct mx_media_recv *r = req->handler_state;
	if (!r) {
		r = mx_arena_alloc(&req->arena, sizeof(*r));
		r->u = NULL;
		req->handler_state = r;
		req->on_close = mx_media_recv_close;
	}
	if (!r->u) {
		/* Refuse early on the announced size; the finish checks the real one. */
		const char *cl = mx_req_header(req, "Content-Length");
		char *end;
		long long n = cl ? strtoll(cl, &end, 10) : -1;
		int rc;
		if (cl && *cl && !*end && n >= 0 && (rc = mx_media_quota_check(req, n)))
			return rc;
		rc = mx_media_upload_begin(req->srv->cfg->media_store_path, &r->u);
		if (rc) {
			mx_log_error("media: cannot create a file under %s",
				     req->srv->cfg->media_store_path);
			return mx_req_fail(req, rc, "Cannot store the upload");
		}
	}
	return mx_media_upload_write(r->u, req->stream_chunk, req->stream_len);
}

/*
 * The final call: move the received bytes (possibly none) to their
 * content-addressed file and describe them in *c (strings in the arena).
 * Replies on error.
 */
static int mx_media_recv_finish(struct mx_req *req, struct mx_media_content *c)
{
	struct mx_media_recv *r = req->handler_state;
	struct mx_media_upload *u = r ? r->u : NULL;
	const char *store = req->srv->cfg->media_store_path;
	int rc = 0;
	if (!u && (rc = mx_media_upload_begin(store, &u)))
		return mx_req_fail(req, rc, "Cannot store the upload");
	if (r)
		r->u = NULL; /* finish frees it */
	/* SPEC-less (Synapse's media_upload_limits): refused, nothing is kept. */
	if ((rc = mx_media_quota_check(req, (int64_t)mx_media_upload_size(u)))) {
		mx_media_upload_abort(u);
		return rc;
	}
	char *sha = mx_arena_alloc(&req->arena, 65);
	uint64_t size;
	if ((rc = mx_media_upload_finish(u, store, sha, &size)))
		return mx_req_fail(req, rc, "Cannot store the upload");
	c->sha256 = sha;
	c->size = (int64_t)size;
	return 0;
}

/* The Content-Type header and filename query of an upload; replies on error. */
static int mx_media_upload_meta(struct mx_req *req, struct mx_media_content *c)
{
	const char *type = mx_req_header(req, "Content-Type");
	const char *name = mx_req_query(req, "filename");
	if (type && !*type)
		type = NULL;
	if (type && !mx_media_content_type_ok(type))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid Content-Type");
	if (name && *name && !mx_media_filename_ok(name))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid filename");
	c->content_type = type;
	c->upload_name = name && *name ? name : NULL;
	return 0;
}

/* ---- uploads ---- */

static const char *mx_media_new_id(struct mx_req *req)
{
	char *id = mx_arena_alloc(&req->arena, MX_MEDIA_ID_LEN + 1);
	mx_rand_token(id, MX_MEDIA_ID_LEN + 1);
	return id;
}

/* SPEC: client-server-api#post_matrixmediav3upload */
static int mx_media_upload(struct mx_req *req)
{
	if (req->stream_chunk)
		return mx_media_recv_chunk(req);
	struct mx_media_content c;
	int rc = mx_media_upload_meta(req, &c);
	if (rc || (rc = mx_media_recv_finish(req, &c)))
		return rc;
	const char *id = mx_media_new_id(req);
	rc = mx_store_media_add(req->srv->db, id, req->auth.user_id, &c);
	if (rc) /* the file stays: content-addressed, a later purge reclaims it */
		return mx_req_fail(req, rc, NULL);
	mx_media_serve_pregenerate(req, c.sha256);
	const char *uri = mx_arena_printf(&req->arena, "mxc://%s/%s", req->srv->cfg->server_name,
					  id);
	return mx_req_reply_json(req, 200, json_pack("{s:s}", "content_uri", uri));
}

/* SPEC: client-server-api#post_matrixmediav1create */
static int mx_media_create(struct mx_req *req)
{
	const struct mx_config *cfg = req->srv->cfg;
	const char *id = mx_media_new_id(req);
	int64_t expires = mx_clock_now_ms() + cfg->unused_expiration_time_ms;
	int rc = mx_store_media_reserve(req->srv->db, id, req->auth.user_id, expires,
					cfg->max_pending_media_uploads);
	if (rc == MX_ELIMIT)
		return mx_req_fail(req, rc, "Too many pending media uploads");
	if (rc)
		return mx_req_fail(req, rc, NULL);
	const char *uri = mx_arena_printf(&req->arena, "mxc://%s/%s", cfg->server_name, id);
	return mx_req_reply_json(req, 200, json_pack("{s:s, s:I}", "content_uri", uri,
						     "unused_expires_at", (json_int_t)expires));
}

/* Checks serverName/mediaId params of a local media path; replies on error. */
static int mx_media_local_id(struct mx_req *req, const char **id)
{
	*id = mx_req_param(req, 1);
	if (!mx_media_id_ok(*id))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid media ID");
	/* Only our own media can be uploaded here. */
	if (strcmp(mx_req_param(req, 0), req->srv->cfg->server_name) != 0)
		return mx_req_fail(req, MX_ENOTFOUND, "Media not found");
	return 0;
}

/* SPEC: client-server-api#put_matrixmediav3uploadservernamemediaid */
static int mx_media_upload_async(struct mx_req *req)
{
	const char *id;
	int rc;
	if (req->stream_chunk && !req->handler_state) {
		/* Before storing any byte: is this the creator's open id? */
		struct mx_media_info mi;
		if ((rc = mx_media_local_id(req, &id)))
			return rc;
		rc = mx_store_media_get(req->w->rconn, &req->arena, id, &mi);
		if (!rc && strcmp(mi.user_id, req->auth.user_id))
			rc = MX_EFORBIDDEN;
		else if (!rc && mi.sha256)
			rc = MX_ECANNOTOVERWRITE;
		else if (!rc && mi.expires_ts <= mx_clock_now_ms())
			rc = MX_ENOTFOUND;
		if (rc)
			return mx_req_fail(req, rc, NULL);
	}
	if (req->stream_chunk)
		return mx_media_recv_chunk(req);
	struct mx_media_content c;
	if ((rc = mx_media_local_id(req, &id)) || (rc = mx_media_upload_meta(req, &c)) ||
	    (rc = mx_media_recv_finish(req, &c)))
		return rc;
	rc = mx_store_media_fill(req->srv->db, id, req->auth.user_id, &c);
	if (rc == MX_EFORBIDDEN)
		return mx_req_fail(req, rc, "Only the creator may upload to this media ID");
	if (rc == MX_ECANNOTOVERWRITE)
		return mx_req_fail(req, rc, "Media already uploaded");
	if (rc)
		return mx_req_fail(req, rc, NULL);
	/* Wake downloads waiting for this id. */
	const char *key = mx_arena_printf(&req->arena, "media:%s", id);
	mx_notifier_wake(req->srv->notifier, &key, 1);
	mx_media_serve_pregenerate(req, c.sha256);
	return mx_req_reply_empty(req);
}

/* ---- downloads ---- */

/* SPEC: client-server-api#get_matrixclientv1mediadownloadservernamemediaidfilename */
static int mx_media_download(struct mx_req *req)
{
	struct mx_media_info mi;
	int rc = mx_media_serve_find(req, mx_req_param(req, 0), mx_req_param(req, 1), true, &mi);
	if (rc)
		return rc;
	const char *name = NULL;
	if (req->n_params > 2) {
		name = mx_req_param(req, 2);
		if (!mx_media_filename_ok(name))
			return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid file name");
	}
	struct mx_media_file f;
	if ((rc = mx_media_serve_original(req, &mi, name, &f)))
		return rc;
	mx_media_serve_headers(req);
	mx_req_add_header(req, "Content-Disposition", f.disposition);
	return mx_req_reply_fd(req, 200, f.type, f.fd, f.size);
}

/* SPEC: client-server-api#get_matrixclientv1mediathumbnailservernamemediaid */
static int mx_media_thumbnail(struct mx_req *req)
{
	struct mx_media_thumb_want tw;
	struct mx_media_info mi;
	struct mx_media_file f;
	int rc;
	if ((rc = mx_media_serve_thumb_params(req, &tw)) ||
	    (rc = mx_media_serve_find(req, mx_req_param(req, 0), mx_req_param(req, 1), true,
				      &mi)) ||
	    (rc = mx_media_serve_thumbnail(req, &mi, &tw, &f)))
		return rc;
	mx_media_serve_headers(req);
	mx_req_add_header(req, "Content-Disposition", f.disposition);
	return mx_req_reply_fd(req, 200, f.type, f.fd, f.size);
}

/* ---- URL previews ---- */

#define MX_PREVIEW_CACHE_MS (3600 * 1000)
#define MX_PREVIEW_TIMEOUT_MS 10000

/* A fetch failure as Synapse answers it: 502, except refusals. */
static int mx_preview_fail(struct mx_req *req, int rc, const char *msg)
{
	if (rc == MX_EFORBIDDEN || rc == MX_EINVALIDPARAM)
		return mx_req_fail(req, rc, "%s", msg);
	return mx_req_reply_json(req, 502, json_pack("{s:s, s:s}", "errcode", "M_UNKNOWN",
						     "error", msg));
}

/* Store a fetched image as local media of user_id; its mxc URI, or NULL. */
static const char *mx_preview_store_image(struct mx_req *req, const struct mx_preview_resp *r)
{
	const char *store = req->srv->cfg->media_store_path;
	struct mx_media_upload *u;
	char *sha = mx_arena_alloc(&req->arena, 65);
	uint64_t size;
	if (mx_media_upload_begin(store, &u))
		return NULL;
	if (mx_media_upload_write(u, r->body, r->len)) {
		mx_media_upload_abort(u);
		return NULL;
	}
	if (mx_media_upload_finish(u, store, sha, &size))
		return NULL;
	struct mx_media_content c = {.sha256 = sha, .size = (int64_t)size,
				     .content_type = r->content_type, .upload_name = NULL};
	const char *id = mx_media_new_id(req);
	if (mx_store_media_add(req->srv->db, id, req->auth.user_id, &c))
		return NULL;
	mx_media_serve_pregenerate(req, sha);
	return mx_arena_printf(&req->arena, "mxc://%s/%s", req->srv->cfg->server_name, id);
}

/* A preview being made on a job thread (req arena; see mx_media_preview_url). */
struct mx_preview_job {
	struct mx_req *req;
	const char *url;
	int64_t key_ts, now;
	bool done;
	int rc;                /* 0: og is the answer */
	json_t *og;            /* owned by the arena once set */
	char err[256];
};

/* og:image of a page, fetched and stored as our media (best effort). */
static void mx_preview_add_image(struct mx_req *req, const struct mx_preview_opts *o,
				 const char *page_url, json_t *og)
{
	json_t *img = json_object_get(og, "og:image");
	char *abs = json_is_string(img) ? mx_preview_resolve(page_url, json_string_value(img))
					: NULL;
	json_object_del(og, "og:image");
	struct mx_preview_resp ir;
	char err[256];
	if (abs && !mx_preview_fetch(o, abs, &ir, err, sizeof(err))) {
		const char *itype = ir.content_type ? ir.content_type : "";
		const char *mxc = !strncasecmp(itype, "image/", 6) ? mx_preview_store_image(req, &ir)
								  : NULL;
		if (mxc) {
			json_object_set_new(og, "og:image", json_string(mxc));
			json_object_set_new(og, "og:image:type", json_string(itype));
			json_object_set_new(og, "matrix:image:size", json_integer((json_int_t)ir.len));
		}
		mx_preview_resp_release(&ir);
	}
	free(abs);
}

/* Fetch and parse the page (blocking: a job thread). 0 with *og, or rc and st->err. */
static int mx_preview_build(struct mx_preview_job *st, json_t **og)
{
	struct mx_req *req = st->req;
	const struct mx_config *cfg = req->srv->cfg;
	struct mx_preview_opts o = {
		.block = cfg->url_preview_ip_range_blacklist,
		.n_block = cfg->n_url_preview_ip_range_blacklist,
		.allow = cfg->url_preview_ip_range_whitelist,
		.n_allow = cfg->n_url_preview_ip_range_whitelist,
		.max_size = cfg->max_spider_size,
		.timeout_ms = MX_PREVIEW_TIMEOUT_MS,
	};
	struct mx_preview_resp r;
	int rc = mx_preview_fetch(&o, st->url, &r, st->err, sizeof(st->err));
	if (rc)
		return rc;
	const char *type = r.content_type ? r.content_type : "";
	if (!strncasecmp(type, "image/", 6)) {
		/* A URL that is itself an image previews as that image. */
		*og = json_object();
		const char *mxc = mx_preview_store_image(req, &r);
		if (mxc) {
			json_object_set_new(*og, "og:image", json_string(mxc));
			json_object_set_new(*og, "og:image:type", json_string(type));
			json_object_set_new(*og, "matrix:image:size", json_integer((json_int_t)r.len));
		}
	} else if (!strncasecmp(type, "text/html", 9) ||
		   !strncasecmp(type, "application/xhtml", 17)) {
		*og = mx_preview_parse_html(r.body, r.len);
		mx_preview_add_image(req, &o, r.url, *og);
	} else {
		mx_preview_resp_release(&r);
		snprintf(st->err, sizeof(st->err),
			 "Requested file's content type not allowed for this operation");
		return MX_EIO;
	}
	mx_preview_resp_release(&r);
	return 0;
}

static void mx_preview_job_run(void *arg)
{
	struct mx_preview_job *st = arg;
	json_t *og = NULL;
	st->rc = mx_preview_build(st, &og);
	if (!st->rc) {
		st->og = mx_arena_json(&st->req->arena, og);
		char *text = json_dumps(og, JSON_COMPACT);
		if (text && mx_store_url_preview_put(st->req->srv->db, st->url, st->key_ts, text,
						     st->now + MX_PREVIEW_CACHE_MS))
			mx_log_warn("media: cannot cache the preview of %s", st->url);
		free(text);
	}
	st->done = true;
	mx_req_resume(st->req);
}

/*
 * SPEC: client-server-api#get_matrixclientv1mediapreview_url
 * A cached preview is answered at once; otherwise the request is parked
 * while a job thread fetches the page (up to 10 s, twice with its image).
 */
static int mx_media_preview_url(struct mx_req *req)
{
	const struct mx_config *cfg = req->srv->cfg;
	struct mx_preview_job *st = req->handler_state;
	if (st && st->done) {
		if (st->rc)
			return mx_preview_fail(req, st->rc, st->err);
		return mx_req_reply_json(req, 200, json_incref(st->og));
	}
	/* As Synapse, which does not register the endpoint when disabled. */
	if (!cfg->url_preview_enabled)
		return mx_req_fail(req, MX_EUNRECOGNIZED, "URL previews are disabled");
	const char *url = mx_req_query(req, "url");
	if (!url || !*url)
		return mx_req_fail(req, MX_EMISSINGPARAM, "Missing url");
	if (strlen(url) > 2048)
		return mx_req_fail(req, MX_EINVALIDPARAM, "URL too long");
	int64_t now = mx_clock_now_ms(), ts = now;
	const char *ts_s = mx_req_query(req, "ts");
	if (ts_s) {
		char *end;
		long long v = strtoll(ts_s, &end, 10);
		if (!*ts_s || *end || v < 0)
			return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid ts");
		ts = v;
	}
	int64_t key_ts = ts - ts % MX_PREVIEW_CACHE_MS;
	const char *cached;
	if (!mx_store_url_preview_get(req->w->rconn, &req->arena, url, key_ts, now, &cached)) {
		json_t *og = json_loads(cached, 0, NULL);
		if (og)
			return mx_req_reply_json(req, 200, og);
	}
	st = mx_arena_alloc(&req->arena, sizeof(*st));
	memset(st, 0, sizeof(*st));
	st->req = req;
	st->url = url;
	st->key_ts = key_ts;
	st->now = now;
	req->handler_state = st;
	mx_req_suspend(req);
	mx_jobs_submit(req->srv->jobs, mx_preview_job_run, st);
	return MX_ESUSPENDED;
}

/* SPEC: client-server-api#get_matrixclientv1mediaconfig */
static int mx_media_config(struct mx_req *req)
{
	return mx_req_reply_json(req, 200, json_pack("{s:I}", "m.upload.size",
						     (json_int_t)req->srv->cfg->max_upload_size));
}

/*
 * The deprecated unauthenticated download and thumbnail endpoints are
 * frozen: media uploaded after the freeze is served only through the
 * authenticated ones, and all of ours is (Myelin never served media
 * unauthenticated).
 * SPEC: client-server-api#content-repository ("servers SHOULD freeze")
 */
static int mx_media_frozen(struct mx_req *req)
{
	return mx_req_fail(req, MX_ENOTFOUND, "Not found");
}

#define M MX_RES_MEDIA
#define A MX_ROUTE_AUTH
#define S (MX_ROUTE_AUTH | MX_ROUTE_STREAM)
const struct mx_route mx_media_routes[] = {
	{MX_POST, "/_matrix/media/v3/upload", mx_media_upload, S, M, MX_RL_NONE, 0},
	{MX_PUT, "/_matrix/media/v3/upload/{serverName}/{mediaId}", mx_media_upload_async, S, M,
	 MX_RL_NONE, 0},
	{MX_POST, "/_matrix/media/v1/create", mx_media_create, A, M, MX_RL_MESSAGE, 0},
	{MX_GET, "/_matrix/client/v1/media/config", mx_media_config, A, M, MX_RL_NONE, 0},
	{MX_GET, "/_matrix/media/v3/config", mx_media_config, A, M, MX_RL_NONE, 0},
	{MX_GET, "/_matrix/client/v1/media/preview_url", mx_media_preview_url, A, M, MX_RL_NONE,
	 0},
	{MX_GET, "/_matrix/client/v1/media/download/{serverName}/{mediaId}", mx_media_download, A,
	 M, MX_RL_NONE, 0},
	{MX_GET, "/_matrix/client/v1/media/download/{serverName}/{mediaId}/{fileName}",
	 mx_media_download, A, M, MX_RL_NONE, 0},
	{MX_GET, "/_matrix/client/v1/media/thumbnail/{serverName}/{mediaId}", mx_media_thumbnail,
	 A, M, MX_RL_NONE, 0},
	{MX_GET, "/_matrix/media/v3/download/{serverName}/{mediaId}", mx_media_frozen, 0, M,
	 MX_RL_NONE, 0},
	{MX_GET, "/_matrix/media/v3/download/{serverName}/{mediaId}/{fileName}", mx_media_frozen,
	 0, M, MX_RL_NONE, 0},
	{MX_GET, "/_matrix/media/v3/thumbnail/{serverName}/{mediaId}", mx_media_frozen, 0, M,
	 MX_RL_NONE, 0},
};
const size_t mx_media_routes_count = MX_ARRAY_LEN(mx_media_routes);
