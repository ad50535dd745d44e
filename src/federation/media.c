/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The federation content repository: other servers fetch our users' media
 * (never media we only cached from a third server) as a two-part
 * multipart/mixed body, JSON metadata then the bytes, streamed from the
 * file between the two framing strings.
 * SPEC: server-server-api#content-repository
 */
#include "federation/routes.h"

#include "core/config.h"
#include "core/error.h"
#include "core/mem.h"
#include "federation/multipart.h"
#include "http/request.h"
#include "media/serve.h"

/* Reply with f as the second part of the SPEC's two-part body. */
static int mx_fed_media_reply(struct mx_req *req, const struct mx_media_file *f)
{
	char b[33];
	mx_multipart_boundary(b);
	const char *prefix = mx_arena_printf(&req->arena,
					     "--%s\r\nContent-Type: application/json\r\n\r\n{}\r\n"
					     "--%s\r\nContent-Type: %s\r\nContent-Disposition: %s\r\n\r\n",
					     b, b, f->type, f->disposition);
	const char *suffix = mx_arena_printf(&req->arena, "\r\n--%s--\r\n", b);
	const char *type = mx_arena_printf(&req->arena, "multipart/mixed; boundary=%s", b);
	mx_media_serve_headers(req);
	return mx_req_reply_fd_framed(req, 200, type, prefix, f->fd, f->size, suffix);
}

/* SPEC: server-server-api#get_matrixfederationv1mediadownloadmediaid */
static int mx_fed_media_download(struct mx_req *req)
{
	struct mx_media_info mi;
	struct mx_media_file f;
	int rc;
	if ((rc = mx_media_serve_find(req, req->srv->cfg->server_name, mx_req_param(req, 0), false,
				      &mi)) ||
	    (rc = mx_media_serve_original(req, &mi, NULL, &f)))
		return rc;
	return mx_fed_media_reply(req, &f);
}

/* SPEC: server-server-api#get_matrixfederationv1mediathumbnailmediaid */
static int mx_fed_media_thumbnail(struct mx_req *req)
{
	struct mx_media_thumb_want tw;
	struct mx_media_info mi;
	struct mx_media_file f;
	int rc;
	if ((rc = mx_media_serve_thumb_params(req, &tw)) ||
	    (rc = mx_media_serve_find(req, req->srv->cfg->server_name, mx_req_param(req, 0), false,
				      &mi)) ||
	    (rc = mx_media_serve_thumbnail(req, &mi, &tw, &f)))
		return rc;
	return mx_fed_media_reply(req, &f);
}

const struct mx_route mx_federation_media_routes[] = {
	{MX_GET, "/_matrix/federation/v1/media/download/{mediaId}", mx_fed_media_download,
	 MX_ROUTE_FEDERATION, MX_RES_FEDERATION, MX_RL_NONE, 0},
	{MX_GET, "/_matrix/federation/v1/media/thumbnail/{mediaId}", mx_fed_media_thumbnail,
	 MX_ROUTE_FEDERATION, MX_RES_FEDERATION, MX_RL_NONE, 0},
};
const size_t mx_federation_media_routes_count = MX_ARRAY_LEN(mx_federation_media_routes);
