/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Serving media, shared by the client download/thumbnail endpoints and
 * the federation ones: finding the media (a local id, waiting for an async
 * upload; or a remote one, fetched over federation on a job thread while
 * the request is parked), opening the original or a thumbnail (made and
 * cached with libvips), and the safety headers.
 * SPEC: client-server-api#content-repository
 */
#ifndef MX_MEDIA_SERVE_H
#define MX_MEDIA_SERVE_H

#include <stdbool.h>
#include <stdint.h>

#include "store/media.h"

struct mx_req;

/* A file ready to be sent: the caller hands fd to a reply (or closes it). */
struct mx_media_file {
	int fd;
	uint64_t size;
	const char *type;         /* Content-Type */
	const char *disposition;  /* Content-Disposition (arena) */
};

struct mx_media_thumb_want {
	int width, height;
	bool crop;
	bool animated;            /* animated=true */
};

/*
 * Find server_name/media_id for serving. Local media: waits up to the
 * request's timeout_ms for a pending async upload. Remote media: from the
 * cache, else fetched from its server (remote=false: refused with 404, as
 * the federation API must never fetch for another server). Returns 0 with
 * *mi filled, MX_ESUSPENDED when parked (the handler returns it and runs
 * again), or an error already replied.
 */
int mx_media_serve_find(struct mx_req *req, const char *server_name, const char *media_id,
			bool remote, struct mx_media_info *mi);

/* width, height, method, animated query parameters; replies on error. */
int mx_media_serve_thumb_params(struct mx_req *req, struct mx_media_thumb_want *tw);

/* Open the original, named name (NULL: its upload name); replies on error. */
int mx_media_serve_original(struct mx_req *req, const struct mx_media_info *mi, const char *name,
			    struct mx_media_file *out);

/* Open (making it if needed) a thumbnail of mi; replies on error. */
int mx_media_serve_thumbnail(struct mx_req *req, const struct mx_media_info *mi,
			     const struct mx_media_thumb_want *tw, struct mx_media_file *out);

/* Content-Security-Policy, nosniff, CORP and caching headers. */
void mx_media_serve_headers(struct mx_req *req);

/*
 * Make the configured thumbnail_sizes of a new image (best effort: a
 * failure only means making them on demand later).
 */
void mx_media_serve_pregenerate(struct mx_req *req, const char *sha);

#endif
