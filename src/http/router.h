/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Routes are data (STYLE.md rule 10): each API module exports a table of
 * {method, path template, handler, flags}. Templates are literal segments
 * and {name} captures of exactly one segment; a literal "v3" segment under
 * /_matrix/client also matches the legacy "r0".
 */
#ifndef MX_HTTP_ROUTER_H
#define MX_HTTP_ROUTER_H

#include <stddef.h>
#include <stdint.h>

struct mx_req;

enum mx_method {
	MX_GET = 1 << 0,
	MX_PUT = 1 << 1,
	MX_POST = 1 << 2,
	MX_DELETE = 1 << 3,
	MX_OPTIONS = 1 << 4,
	MX_HEAD = 1 << 5,
};

enum mx_route_flags {
	MX_ROUTE_AUTH = 1 << 0,          /* an access token is required */
	MX_ROUTE_AUTH_OPTIONAL = 1 << 1, /* a token is used if given */
	MX_ROUTE_GUEST = 1 << 2,         /* guests may call it */
	MX_ROUTE_JSON = 1 << 3,          /* the body must be a JSON object (empty only for DELETE) */
	MX_ROUTE_RAW = 1 << 4,           /* the body is passed through unparsed */
	MX_ROUTE_ALLOW_DEACTIVATED = 1 << 5,
	MX_ROUTE_EMPTY_BODY = 1 << 6,    /* with JSON: an empty body reads as {} */
	/*
	 * The body is streamed to the handler instead of buffered (media
	 * uploads): see the stream_* fields of struct mx_req. The limit is
	 * max_upload_size; auth and rate limits run before the first chunk.
	 */
	MX_ROUTE_STREAM = 1 << 7,
	/*
	 * Server-Server: an X-Matrix signature is required (srv->fed_auth
	 * checks it, possibly parking the request while it fetches a key);
	 * req->auth.origin names the requesting server.
	 */
	MX_ROUTE_FEDERATION = 1 << 8,
};

enum mx_ratelimit_class {
	MX_RL_NONE = 0,
	MX_RL_REGISTER,
	MX_RL_LOGIN,
	MX_RL_MESSAGE,
};

typedef int (*mx_handler_fn)(struct mx_req *req);

struct mx_route {
	unsigned method;        /* one MX_* method */
	const char *path;       /* template */
	mx_handler_fn handler;
	unsigned flags;         /* MX_ROUTE_* */
	unsigned resource;      /* MX_RES_* listener resource it belongs to */
	enum mx_ratelimit_class ratelimit;
	size_t body_limit;      /* 0 = config max_request_body_size */
};

#define MX_ROUTE_MAX_PARAMS 6
#define MX_ROUTE_MAX_SEGMENTS 16

struct mx_router;

/* Compile tables into a router. The tables are borrowed and must outlive it. */
struct mx_router *mx_router_new(void);
void mx_router_add(struct mx_router *r, const struct mx_route *routes, size_t n);
void mx_router_free(struct mx_router *r);

/*
 * Match a raw (still percent-encoded) path against routes of the given
 * resources. On success returns 0, sets *route and writes the raw capture
 * slices into params (pointers into path). MX_EUNRECOGNIZED if no template
 * matches, MX_EBADMETHOD if one matches with another method; *allowed then
 * holds the methods that would match.
 */
struct mx_route_capture {
	const char *ptr;
	size_t len;
};
int mx_router_match(const struct mx_router *r, unsigned method, const char *path,
		    unsigned resources, const struct mx_route **route,
		    struct mx_route_capture params[MX_ROUTE_MAX_PARAMS], int *n_params,
		    unsigned *allowed);

#endif
