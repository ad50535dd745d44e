/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Finding, opening and thumbnailing media for a request (serve.h). A
 * request's waiting state (async upload, remote fetch) lives in its arena
 * as req->handler_state, so a parked request resumes where it left off.
 */
#include "media/serve.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "core/jobs.h"
#include "core/log.h"
#include "core/rand.h"
#include "federation/resolve.h"
#include "http/request.h"
#include "media/media.h"
#include "media/remote.h"
#include "media/thumbnail.h"
#include "sync/notifier.h"

#define MX_MEDIA_DEFAULT_WAIT_MS 20000   /* SPEC: timeout_ms defaults to 20s */
#define MX_MEDIA_MAX_WAIT_MS 120000
#define MX_MEDIA_REMOTE_GRACE_MS 60000   /* transfer time beyond the remote's wait */
#define MX_MEDIA_CSP                                                                   \
	"sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; " \
	"style-src 'unsafe-inline'; object-src 'self';"

/* Kept across parks (arena): a wait for an upload, or for a remote fetch. */
struct mx_media_wait {
	int64_t timeout_ms;
	int64_t deadline_ms;
	/* the remote fetch this request runs on a job thread */
	struct mx_req *req;
	const char *origin, *media_id, *key;
	bool fetched;
	int fetch_rc;
};

/* The wait state, made on the first call from timeout_ms; replies on error. */
static int mx_media_wait_state(struct mx_req *req, bool remote, struct mx_media_wait **out)
{
	struct mx_media_wait *wait = req->handler_state;
	if (!wait) {
		int64_t timeout = MX_MEDIA_DEFAULT_WAIT_MS;
		const char *t = mx_req_query(req, "timeout_ms");
		if (t) {
			char *end;
			long long v = strtoll(t, &end, 10);
			if (!*t || *end || v < 0)
				return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid timeout_ms");
			timeout = v > MX_MEDIA_MAX_WAIT_MS ? MX_MEDIA_MAX_WAIT_MS : v;
		}
		wait = mx_arena_alloc(&req->arena, sizeof(*wait));
		memset(wait, 0, sizeof(*wait));
		wait->timeout_ms = timeout;
		wait->deadline_ms = mx_clock_mono_ms() + timeout +
				    (remote ? MX_MEDIA_REMOTE_GRACE_MS : 0);
		req->handler_state = wait;
	}
	*out = wait;
	return 0;
}

/*
 * Local media, waiting for a pending async upload.
 * SPEC: client-server-api#get_matrixclientv1mediadownloadservernamemediaid
 * (M_NOT_YET_UPLOADED after timeout_ms)
 */
static int mx_media_find_local(struct mx_req *req, const char *id, struct mx_media_wait *wait,
			       struct mx_media_info *mi)
{
	const char *key = mx_arena_printf(&req->arena, "media:%s", id);
	uint64_t seq = mx_notifier_seq(req->srv->notifier, key);
	int rc = mx_store_media_get(req->w->rconn, &req->arena, id, mi);
	if (rc == MX_ENOTFOUND)
		return mx_req_fail(req, rc, "Media not found");
	if (rc)
		return mx_req_fail(req, rc, NULL);
	if (mi->sha256) {
		int64_t now = mx_clock_now_ms();
		if (mi->last_access_ts < now - 3600 * 1000 &&
		    mx_store_media_touch(req->srv->db, id, now))
			mx_log_warn("media: cannot record the access of %s", id);
		return 0;
	}
	if (mi->expires_ts <= mx_clock_now_ms())
		return mx_req_fail(req, MX_ENOTFOUND, "Media not found");
	if (mx_clock_mono_ms() >= wait->deadline_ms)
		return mx_req_fail(req, MX_ENOTYETUPLOADED, "Media has not been uploaded yet");
	rc = mx_notifier_park(req->srv->notifier, req, key, seq, wait->deadline_ms);
	if (rc == MX_ECONFLICT) /* uploaded meanwhile: look again */
		return mx_media_find_local(req, id, wait, mi);
	return MX_ESUSPENDED;
}

/* Job thread: fetch, record, wake the other waiters, resume our request. */
static void mx_media_fetch_job(void *arg)
{
	struct mx_media_wait *wait = arg;
	struct mx_server *srv = wait->req->srv;
	struct mx_arena a;
	mx_arena_init(&a);
	struct mx_media_content c;
	wait->fetch_rc = mx_media_remote_fetch(srv, &a, wait->origin, wait->media_id,
					       wait->timeout_ms, &c);
	mx_arena_release(&a);
	mx_media_remote_release(srv->remote_media, wait->key + 7);
	mx_notifier_wake(srv->notifier, &wait->key, 1);
	wait->fetched = true;
	mx_req_resume(wait->req);
}

static int mx_media_fetch_failed(struct mx_req *req, int rc)
{
	if (rc == MX_ENOTFOUND)
		return mx_req_fail(req, rc, "Media not found");
	if (rc == MX_ETOOLARGE)
		return mx_req_fail_json(req, rc, 502,
					json_pack("{s:s, s:s}", "errcode", "M_TOO_LARGE", "error",
						  "Remote media is too large"));
	return mx_req_fail(req, MX_EREMOTE, "Failed to fetch remote media");
}

/* Remote media: the cache, else one fetch shared by everyone asking. */
static int mx_media_find_remote(struct mx_req *req, const char *origin, const char *id,
				struct mx_media_wait *wait, struct mx_media_info *mi)
{
	struct mx_server *srv = req->srv;
	const char *key = mx_arena_printf(&req->arena, "rmedia:%s/%s", origin, id);
	uint64_t seq = mx_notifier_seq(srv->notifier, key);
	int rc = mx_store_remote_media_get(req->w->rconn, &req->arena, origin, id, mi);
	if (!rc) {
		int64_t now = mx_clock_now_ms();
		if (mi->last_access_ts < now - 3600 * 1000 &&
		    mx_store_remote_media_touch(srv->db, origin, id, now))
			mx_log_warn("media: cannot record the access of mxc://%s/%s", origin, id);
		return 0;
	}
	if (rc != MX_ENOTFOUND)
		return mx_req_fail(req, rc, NULL);
	if (wait->fetched)
		return mx_media_fetch_failed(req, wait->fetch_rc ? wait->fetch_rc : MX_EREMOTE);
	if (mx_clock_mono_ms() >= wait->deadline_ms)
		return mx_req_fail(req, MX_EREMOTE, "Timed out fetching remote media");
	if (mx_media_remote_claim(srv->remote_media, key + 7)) {
		wait->req = req;
		wait->origin = origin;
		wait->media_id = id;
		wait->key = key;
		mx_req_suspend(req);
		mx_jobs_submit(srv->jobs, mx_media_fetch_job, wait);
		return MX_ESUSPENDED;
	}
	rc = mx_notifier_park(srv->notifier, req, key, seq, wait->deadline_ms);
	if (rc == MX_ECONFLICT) /* fetched meanwhile: look again */
		return mx_media_find_remote(req, origin, id, wait, mi);
	return MX_ESUSPENDED;
}

int mx_media_serve_find(struct mx_req *req, const char *server_name, const char *media_id,
			bool remote, struct mx_media_info *mi)
{
	if (!mx_media_id_ok(media_id))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid media ID");
	bool local = strcmp(server_name, req->srv->cfg->server_name) == 0;
	if (!local && !remote)
		return mx_req_fail(req, MX_ENOTFOUND, "Media not found");
	struct mx_media_wait *wait = NULL;
	int rc = mx_media_wait_state(req, !local, &wait);
	if (rc)
		return rc;
	if (local)
		return mx_media_find_local(req, media_id, wait, mi);
	/* A server name that cannot be one never reaches the network. */
	struct mx_fed_server_name parsed;
	if (mx_fed_server_name_parse(server_name, &parsed))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid server name");
	return mx_media_find_remote(req, server_name, media_id, wait, mi);
}

/* ---- opening files ---- */

/* Open a file for an fd reply; replies 500 on failure. */
static int mx_media_open(struct mx_req *req, const char *path, struct mx_media_file *out)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		mx_log_error("media: cannot open %s", path);
		return mx_req_fail(req, MX_EIO, "Media file missing");
	}
	out->fd = fd;
	out->size = (uint64_t)st.st_size;
	return 0;
}

void mx_media_serve_headers(struct mx_req *req)
{
	mx_req_add_header(req, "Content-Security-Policy", MX_MEDIA_CSP);
	mx_req_add_header(req, "X-Content-Type-Options", "nosniff");
	mx_req_add_header(req, "Cross-Origin-Resource-Policy", "cross-origin");
	mx_req_add_header(req, "Cache-Control", "public, max-age=86400, s-maxage=86400");
}

int mx_media_serve_original(struct mx_req *req, const struct mx_media_info *mi, const char *name,
			    struct mx_media_file *out)
{
	if (!name)
		name = mi->upload_name;
	out->type = mi->content_type ? mi->content_type : "application/octet-stream";
	out->disposition = mx_media_disposition(&req->arena, out->type, name);
	const char *path = mx_media_content_path(&req->arena, req->srv->cfg->media_store_path,
						 mi->sha256);
	return mx_media_open(req, path, out);
}

/* ---- thumbnails ---- */

/* An animated thumbnail is cached beside the static one of the same size. */
static const char *mx_media_thumb_path(struct mx_req *req, const char *sha, int w, int h,
				       bool crop, bool animated)
{
	return mx_arena_printf(&req->arena, "%s/thumbnails/%.2s/%.2s/%s/%dx%d-%s%s",
			       req->srv->cfg->media_store_path, sha, sha + 2, sha, w, h,
			       crop ? "crop" : "scale", animated ? "-anim" : "");
}

void mx_media_serve_pregenerate(struct mx_req *req, const char *sha)
{
	const struct mx_config *cfg = req->srv->cfg;
	const char *src = mx_media_content_path(&req->arena, cfg->media_store_path, sha);
	int w, h;
	const char *type;
	if (mx_thumbnail_probe(src, &w, &h, &type) || (int64_t)w * h > cfg->max_image_pixels)
		return;
	for (size_t i = 0; i < cfg->n_thumbnail_sizes; i++) {
		const struct mx_config_thumbnail *t = &cfg->thumbnail_sizes[i];
		if (w <= t->width && h <= t->height)
			continue; /* served as the original */
		const char *dst = mx_media_thumb_path(req, sha, t->width, t->height, t->crop,
						      false);
		struct stat st;
		if (!stat(dst, &st) || mx_media_mkdirs(dst))
			continue;
		if (mx_thumbnail_make(src, dst, t->width, t->height, t->crop, cfg->max_image_pixels,
				      &type))
			return; /* undecodable: no point trying other sizes */
	}
}

/* A positive integer query parameter; replies on error. */
static int mx_media_dim(struct mx_req *req, const char *name, int *out)
{
	const char *s = mx_req_query(req, name);
	if (!s)
		return mx_req_fail(req, MX_EMISSINGPARAM, "Missing %s", name);
	char *end;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v < 1 || v > 10000)
		return mx_req_fail(req, MX_EINVALIDPARAM, "%s must be an integer in 1..10000", name);
	*out = (int)v;
	return 0;
}

int mx_media_serve_thumb_params(struct mx_req *req, struct mx_media_thumb_want *tw)
{
	int rc;
	if ((rc = mx_media_dim(req, "width", &tw->width)) ||
	    (rc = mx_media_dim(req, "height", &tw->height)))
		return rc;
	const char *method = mx_req_query(req, "method");
	if (method && strcmp(method, "crop") && strcmp(method, "scale"))
		return mx_req_fail(req, MX_EINVALIDPARAM, "method must be crop or scale");
	tw->crop = method && !strcmp(method, "crop");
	/* SPEC: animated: when true, an animated thumbnail "if possible and
	 * supported"; when false it MUST NOT be, and when absent SHOULD NOT. */
	const char *animated = mx_req_query(req, "animated");
	if (animated && strcmp(animated, "true") && strcmp(animated, "false"))
		return mx_req_fail(req, MX_EINVALIDPARAM, "animated must be true or false");
	tw->animated = animated && !strcmp(animated, "true");
	return 0;
}

/*
 * The size to make for a request: the smallest configured size of the
 * method that is at least as large (so the cache holds a bounded set),
 * else the request itself (then not cached). SPEC: #thumbnails: "The
 * server will return an image larger than or equal to the dimensions
 * requested where possible."
 */
static bool mx_media_thumb_size(const struct mx_config *cfg, int *w, int *h, bool crop)
{
	const struct mx_config_thumbnail *best = NULL;
	for (size_t i = 0; i < cfg->n_thumbnail_sizes; i++) {
		const struct mx_config_thumbnail *t = &cfg->thumbnail_sizes[i];
		if (t->crop != crop || t->width < *w || t->height < *h)
			continue;
		if (!best || (int64_t)t->width * t->height < (int64_t)best->width * best->height)
			best = t;
	}
	if (!best)
		return false;
	*w = best->width;
	*h = best->height;
	return true;
}

/* SPEC: the thumbnail's disposition "MUST be inline". */
static const char *mx_media_thumb_disposition(const char *type)
{
	return !strcmp(type, "image/jpeg")  ? "inline; filename=\"thumbnail.jpg\""
	       : !strcmp(type, "image/png") ? "inline; filename=\"thumbnail.png\""
	       : !strcmp(type, "image/gif") ? "inline; filename=\"thumbnail.gif\""
					    : "inline; filename=\"thumbnail.webp\"";
}

/* Make the thumbnail at path unless it is there; replies on error. */
static int mx_media_thumb_make(struct mx_req *req, const char *src, const char *path, int w,
			       int h, bool crop, bool anim, const char **type)
{
	const struct mx_config *cfg = req->srv->cfg;
	struct stat st;
	if (!stat(path, &st))
		return 0;
	if (mx_media_mkdirs(path))
		return mx_req_fail(req, MX_EIO, "Cannot store the thumbnail");
	int rc = anim ? mx_thumbnail_make_animated(src, path, w, h, crop, cfg->max_image_pixels,
						   type)
		      : mx_thumbnail_make(src, path, w, h, crop, cfg->max_image_pixels, type);
	if (rc == MX_EINVALID)
		return mx_req_fail(req, MX_EBADREQUEST,
				   "Cannot generate a thumbnail: the image is corrupt or truncated");
	if (rc)
		return mx_req_fail(req, rc, NULL);
	return 0;
}

int mx_media_serve_thumbnail(struct mx_req *req, const struct mx_media_info *mi,
			     const struct mx_media_thumb_want *tw, struct mx_media_file *out)
{
	const struct mx_config *cfg = req->srv->cfg;
	int w = tw->width, h = tw->height, rc;
	const char *src = mx_media_content_path(&req->arena, cfg->media_store_path, mi->sha256);
	int iw, ih;
	const char *src_type;
	if (mx_thumbnail_probe(src, &iw, &ih, &src_type))
		return mx_req_fail(req, MX_EBADREQUEST,
				   "Cannot generate a thumbnail: not a supported image");
	if ((int64_t)iw * ih > cfg->max_image_pixels)
		return mx_req_fail(req, MX_ETOOLARGE, "Image too large to thumbnail");
	bool cached = mx_media_thumb_size(cfg, &w, &h, tw->crop);
	int pages = mx_thumbnail_pages(src);
	/* SPEC: "When true and the media cannot be animated ... the server
	 * SHOULD behave as though animated is false": so too when decoding
	 * every frame would exceed max_image_pixels. */
	bool anim = tw->animated && pages > 1 &&
		    (int64_t)iw * ih * pages <= cfg->max_image_pixels;
	const char *path, *type;
	bool temp = false;
	if (iw <= w && ih <= h && (anim || pages == 1)) {
		/* SPEC: #thumbnails: content smaller than requested is served as is. */
		path = src;
		type = src_type;
	} else {
		path = cached ? mx_media_thumb_path(req, mi->sha256, w, h, tw->crop, anim)
			      : mx_arena_printf(&req->arena, "%s/tmp/thumb-%llx",
						cfg->media_store_path,
						(unsigned long long)mx_rand_u64());
		temp = !cached;
		type = anim ? "image/webp" : mx_thumbnail_type_for(src_type);
		if ((rc = mx_media_thumb_make(req, src, path, w, h, tw->crop, anim, &type)))
			return rc;
	}
	rc = mx_media_open(req, path, out);
	if (temp)
		unlink(path); /* the open fd keeps it until sent */
	if (rc)
		return rc;
	out->type = type;
	out->disposition = mx_media_thumb_disposition(type);
	return 0;
}
