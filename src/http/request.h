/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One HTTP request as handlers see it. Everything a handler allocates for a
 * request comes from req->arena and is freed when the request ends.
 * Handlers return 0 after replying, or a negative MX_E* (usually through
 * mx_req_fail) and the server sends the matching Matrix error exactly once.
 */
#ifndef MX_HTTP_REQUEST_H
#define MX_HTTP_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/server.h"
#include "http/router.h"

struct MHD_Connection;
struct mx_appservice;

/* Who made the request, from the access token. */
struct mx_auth {
	const char *user_id;      /* NULL when unauthenticated */
	const char *device_id;
	const char *token_hash;   /* hex SHA-256 of the access token */
	bool is_guest;
	bool is_admin;
	const char *origin;       /* X-Matrix: the server that signed the request */
	const struct mx_appservice *appservice; /* the as_token's registration, or NULL */
};

#define MX_REQ_MAX_HEADERS 8

struct mx_req {
	struct mx_arena arena;
	struct mx_server *srv;
	struct mx_worker *w;
	struct MHD_Connection *conn;
	const struct mx_route *route;
	unsigned method;
	const char *path;                   /* raw, percent-encoded */
	const char *raw_uri;                /* the request target as sent: path and query */
	const char *params[MX_ROUTE_MAX_PARAMS]; /* decoded path captures */
	int n_params;
	struct mx_buf body;
	json_t *json;                       /* parsed body, MX_ROUTE_JSON routes (borrowed) */
	const char *client_ip;
	unsigned listener_resources;
	struct mx_auth auth;

	/* response */
	int status;
	char *resp;                         /* heap; handed to libmicrohttpd */
	size_t resp_len;
	const char *resp_type;
	const char *hdr_name[MX_REQ_MAX_HEADERS];
	const char *hdr_value[MX_REQ_MAX_HEADERS];
	int n_hdrs;
	bool replied;
	int err;                            /* the MX_E* sent, for the log */
	bool too_large;
	size_t discarded;                   /* bytes of a refused body dropped */
	bool bad_param;                     /* a path capture decoded to a NUL */
	bool started;
	bool begun;                         /* routed (the first access call ran) */
	bool auth_parked;                   /* federation auth waits for a key fetch */
	void *fed_auth_state;               /* federation/auth.c's, kept across that park (arena) */
	bool suspended;                     /* parked: the handler runs again on resume */
	bool resumed;                       /* this run follows a resume */
	void *park_slot;                    /* the notifier's entry while parked */
	void *handler_state;                /* a handler's own, kept across a park (arena) */
	json_t *ignored_users;              /* mx_ignored's cache (arena); NULL: not loaded */
	int64_t start_us;

	/*
	 * MX_ROUTE_STREAM routes: the handler is called once per body chunk
	 * with stream_chunk/stream_len set (stream_total counts the bytes so
	 * far, this chunk included); it returns 0 to go on, or replies / returns
	 * a negative MX_E* and the rest of the body is dropped. The final call,
	 * as for any route, has stream_chunk NULL. on_close, if set, runs when
	 * the request ends whatever the outcome (abort included): the place to
	 * remove a partial temporary file.
	 */
	const char *stream_chunk;
	size_t stream_len;
	uint64_t stream_total;
	bool stream_authed;                 /* auth and rate limit ran before the body */
	void (*on_close)(struct mx_req *req);

	/* A reply from a file (mx_req_reply_fd): owned until handed to MHD. */
	int resp_fd;
	bool resp_from_fd;
	uint64_t resp_fd_size;
	const char *resp_prefix, *resp_suffix; /* framing around the file (arena) or NULL */
	bool queued;                        /* the response was handed to MHD */
};

/* Decoded path parameter i (0-based), or "" if absent. Lives in the arena. */
const char *mx_req_param(struct mx_req *req, int i);
/* Decoded query-string value, or NULL. Lives in the arena. */
const char *mx_req_query(struct mx_req *req, const char *name);
/* A request header, or NULL. Borrowed for the request. */
const char *mx_req_header(struct mx_req *req, const char *name);

/* Reply with v (reference stolen). Returns 0. */
int mx_req_reply_json(struct mx_req *req, int status, json_t *v);
/* Reply 200 with {}. */
int mx_req_reply_empty(struct mx_req *req);
/* Reply with raw bytes of a content type (copied). */
int mx_req_reply_raw(struct mx_req *req, int status, const char *type, const void *p,
		     size_t n);
/*
 * Reply with the first size bytes of the open file fd. Ownership of fd
 * passes to the request: it is closed once sent, or when the request ends.
 * The file is streamed by libmicrohttpd, never copied into memory.
 */
int mx_req_reply_fd(struct mx_req *req, int status, const char *type, int fd, uint64_t size);
/*
 * The same, with the file framed: prefix, the file, then suffix (both
 * copied), e.g. a file as one part of a multipart body.
 */
int mx_req_reply_fd_framed(struct mx_req *req, int status, const char *type, const char *prefix,
			   int fd, uint64_t size, const char *suffix);
/* Add a response header (strings must live as long as the request). */
void mx_req_add_header(struct mx_req *req, const char *name, const char *value);
/*
 * Reply with the Matrix error for err and a message (NULL: the default).
 * Returns err so handlers can `return mx_req_fail(...)`.
 */
int mx_req_fail(struct mx_req *req, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/*
 * Park the request (long-poll). The handler must then return MX_ESUSPENDED;
 * it is called again, with req->resumed set, after mx_req_resume(). Whoever
 * parks a request must resume it by a deadline: a suspended connection
 * never times out on its own. Call only from a handler.
 */
void mx_req_suspend(struct mx_req *req);
/* Wake a parked request (any thread, exactly once per suspend). */
void mx_req_resume(struct mx_req *req);

/* Reply with a custom error object (reference stolen); returns err. */
int mx_req_fail_json(struct mx_req *req, int err, int status, json_t *body);

#endif
