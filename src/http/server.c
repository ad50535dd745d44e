/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libmicrohttpd glue. Each listener is one daemon in
 * MHD_USE_EPOLL_INTERNAL_THREAD mode with a thread pool (never
 * thread-per-connection: suspend/resume needs the pool). The access handler
 * is called at least twice per request: the first call only sets up state,
 * later calls collect the body under the route's cap, and the last one
 * dispatches and queues the response (queuing on the first call makes MHD
 * close the connection). Paths and query strings reach us still
 * percent-encoded (a no-op unescape callback) so that an encoded '/' inside
 * an id cannot change the route.
 */
#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/canonjson.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/mem.h"
#include "db/db.h"
#include "http/auth.h"
#include "http/ratelimit.h"
#include "http/request.h"
#include "sync/notifier.h"

/* How much of a refused body we read and drop before closing instead. */
#define MX_HTTP_MAX_DISCARD ((size_t)64 << 20)

struct mx_listener {
	struct mx_http *h;
	const struct mx_config_listener *cfg;
	struct MHD_Daemon *daemon;
	/* libmicrohttpd's messages while the daemon starts, joined, for our
	 * own start-up error (its logger may run on its threads: locked). */
	pthread_mutex_t log_lock;
	bool starting;
	char start_err[512];
};

struct mx_http {
	struct mx_server *srv;
	const struct mx_router *router;
	struct mx_listener *listeners;
	size_t n_listeners;
	pthread_key_t worker_key;
	atomic_int inflight;
	/* tls_certificate_path and tls_private_key_path as read at start-up
	 * (NUL-terminated PEM), when a listener has tls: true; else NULL. */
	char *tls_cert, *tls_key;
	size_t tls_key_len;
};

/* Larger PEM files are not a certificate chain or a key. */
#define MX_HTTP_MAX_PEM ((size_t)1 << 20)

static const char *const mx_cors_headers[][2] = {
	{"Access-Control-Allow-Origin", "*"},
	{"Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, DELETE, OPTIONS"},
	{"Access-Control-Allow-Headers", "X-Requested-With, Content-Type, Authorization"},
};

/* ---- workers ---- */

static void mx_worker_destroy(void *p)
{
	struct mx_worker *w = p;
	mx_db_conn_close(w->rconn);
	free(w);
}

struct mx_worker *mx_http_worker(struct mx_server *srv)
{
	struct mx_worker *w = pthread_getspecific(srv->http->worker_key);
	if (w)
		return w;
	w = mx_xcalloc(1, sizeof(*w));
	w->srv = srv;
	if (mx_db_conn_open(srv->db, &w->rconn))
		MX_BUG("cannot open a read connection to the database");
	pthread_setspecific(srv->http->worker_key, w);
	return w;
}

/* ---- request helpers for handlers ---- */

static int mx_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The length a percent-decoding of s yields (as mx_http_decode counts). */
static size_t mx_http_decoded_len(const char *s, size_t n)
{
	size_t len = 0;
	for (size_t i = 0; i < n; i++, len++)
		if (s[i] == '%' && i + 2 < n && mx_hexval(s[i + 1]) >= 0 && mx_hexval(s[i + 2]) >= 0)
			i += 2;
	return len;
}

/* Percent-decode into the arena; '+' becomes ' ' only in query strings. */
static char *mx_http_decode(struct mx_arena *a, const char *s, size_t n, bool query)
{
	char *out = mx_arena_alloc(a, n + 1), *o = out;
	for (size_t i = 0; i < n; i++) {
		int hi, lo;
		if (s[i] == '%' && i + 2 < n && (hi = mx_hexval(s[i + 1])) >= 0 &&
		    (lo = mx_hexval(s[i + 2])) >= 0) {
			*o++ = (char)(hi << 4 | lo);
			i += 2;
		} else if (query && s[i] == '+') {
			*o++ = ' ';
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

const char *mx_req_param(struct mx_req *req, int i)
{
	return i >= 0 && i < req->n_params ? req->params[i] : "";
}

const char *mx_req_query(struct mx_req *req, const char *name)
{
	const char *v = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
	if (!v)
		return NULL;
	return mx_http_decode(&req->arena, v, strlen(v), true);
}

const char *mx_req_header(struct mx_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

void mx_req_add_header(struct mx_req *req, const char *name, const char *value)
{
	if (req->n_hdrs < MX_REQ_MAX_HEADERS) {
		req->hdr_name[req->n_hdrs] = name;
		req->hdr_value[req->n_hdrs] = value;
		req->n_hdrs++;
	}
}

int mx_req_reply_raw(struct mx_req *req, int status, const char *type, const void *p, size_t n)
{
	if (req->replied)
		MX_BUG("second reply to one request");
	free(req->resp);
	req->resp = mx_xmalloc(n ? n : 1);
	if (n)
		memcpy(req->resp, p, n);
	req->resp_len = n;
	req->resp_type = type;
	req->status = status;
	req->replied = true;
	return 0;
}

int mx_req_reply_fd(struct mx_req *req, int status, const char *type, int fd, uint64_t size)
{
	if (req->replied)
		MX_BUG("second reply to one request");
	req->resp_fd = fd;
	req->resp_from_fd = true;
	req->resp_fd_size = size;
	req->resp_type = type;
	req->status = status;
	req->replied = true;
	return 0;
}

int mx_req_reply_fd_framed(struct mx_req *req, int status, const char *type, const char *prefix,
			   int fd, uint64_t size, const char *suffix)
{
	mx_req_reply_fd(req, status, type, fd, size);
	req->resp_prefix = mx_arena_strdup(&req->arena, prefix);
	req->resp_suffix = mx_arena_strdup(&req->arena, suffix);
	return 0;
}

int mx_req_reply_json(struct mx_req *req, int status, json_t *v)
{
	if (req->replied)
		MX_BUG("second reply to one request");
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(v);
	if (!s)
		MX_BUG("json_dumps failed");
	req->resp = s;
	req->resp_len = strlen(s);
	req->resp_type = "application/json";
	req->status = status;
	req->replied = true;
	return 0;
}

int mx_req_reply_empty(struct mx_req *req)
{
	return mx_req_reply_json(req, 200, json_object());
}

int mx_req_fail_json(struct mx_req *req, int err, int status, json_t *body)
{
	mx_req_reply_json(req, status, body);
	req->err = err;
	return err;
}

int mx_req_fail(struct mx_req *req, int err, const char *fmt, ...)
{
	char msg[512];
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
	}
	json_t *body = json_pack("{s:s, s:s}", "errcode", mx_error_errcode(err), "error",
				 fmt ? msg : mx_error_message(err));
	return mx_req_fail_json(req, err, mx_error_status(err), body);
}

/* ---- lifecycle ---- */

static unsigned mx_http_method(const char *m)
{
	static const struct {
		const char *name;
		unsigned bit;
	} methods[] = {{"GET", MX_GET},   {"PUT", MX_PUT},         {"POST", MX_POST},
		       {"DELETE", MX_DELETE}, {"OPTIONS", MX_OPTIONS}, {"HEAD", MX_HEAD}};
	for (size_t i = 0; i < MX_ARRAY_LEN(methods); i++)
		if (!strcmp(m, methods[i].name))
			return methods[i].bit;
	return 0;
}

static const char *mx_http_method_name(unsigned m)
{
	switch (m) {
	case MX_GET: return "GET";
	case MX_PUT: return "PUT";
	case MX_POST: return "POST";
	case MX_DELETE: return "DELETE";
	case MX_OPTIONS: return "OPTIONS";
	case MX_HEAD: return "HEAD";
	default: return "?";
	}
}

static const char *mx_http_client_ip(struct mx_req *req, const struct mx_listener *l)
{
	if (l->cfg->x_forwarded) {
		const char *xff = mx_req_header(req, "X-Forwarded-For");
		if (xff && *xff) {
			size_t n = strcspn(xff, ", ");
			return mx_arena_strndup(&req->arena, xff, n);
		}
	}
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char buf[INET6_ADDRSTRLEN] = "?";
	if (ci && ci->client_addr) {
		const struct sockaddr *sa = ci->client_addr;
		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, sizeof(buf));
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf,
				  sizeof(buf));
	}
	return mx_arena_strdup(&req->arena, buf);
}

static size_t mx_http_body_limit(const struct mx_req *req)
{
	if (req->route && (req->route->flags & MX_ROUTE_STREAM))
		return (size_t)req->srv->cfg->max_upload_size;
	if (req->route && req->route->body_limit)
		return req->route->body_limit;
	return (size_t)req->srv->cfg->max_request_body_size;
}

/*
 * libmicrohttpd's first callback of a request, with the request target as
 * sent (path and query, still encoded): X-Matrix signatures cover exactly
 * that string. The request struct is born here; its pointer becomes the
 * access handler's *con_cls.
 */
static void *mx_http_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct mx_listener *l = cls;
	struct mx_req *req = mx_xcalloc(1, sizeof(*req));
	mx_arena_init(&req->arena);
	req->start_us = mx_clock_mono_us();
	req->raw_uri = mx_arena_strdup(&req->arena, uri ? uri : "");
	atomic_fetch_add(&l->h->inflight, 1);
	return req;
}

/* First access call: set up the request and route it. Never queues a response. */
static void mx_http_begin(struct mx_listener *l, struct mx_req *req, struct MHD_Connection *conn,
			  const char *url, const char *method)
{
	req->begun = true;
	req->srv = l->h->srv;
	req->conn = conn;
	req->listener_resources = l->cfg->resources;
	req->path = mx_arena_strdup(&req->arena, url);
	req->method = mx_http_method(method);
	req->client_ip = mx_http_client_ip(req, l);

	if (req->method == MX_OPTIONS || !req->method)
		return;
	struct mx_route_capture caps[MX_ROUTE_MAX_PARAMS];
	unsigned allowed;
	int rc = mx_router_match(l->h->router, req->method == MX_HEAD ? MX_GET : req->method, url,
				 l->cfg->resources, &req->route, caps, &req->n_params, &allowed);
	if (rc) {
		req->err = rc;
		return;
	}
	for (int i = 0; i < req->n_params; i++) {
		req->params[i] = mx_http_decode(&req->arena, caps[i].ptr, caps[i].len, false);
		/* No identifier contains NUL; a %00 would silently truncate it. */
		if (memchr(caps[i].ptr, '%', caps[i].len) &&
		    strlen(req->params[i]) != mx_http_decoded_len(caps[i].ptr, caps[i].len))
			req->bad_param = true;
	}
	mx_buf_init(&req->body, mx_http_body_limit(req));
	const char *cl = mx_req_header(req, "Content-Length");
	if (cl) {
		char *end;
		errno = 0;
		unsigned long long n = strtoull(cl, &end, 10);
		if (errno || *end || n > req->body.max)
			req->too_large = true;
	}
}

/* Run the handler; a handler that parked the request replies later. */
static void mx_http_run_handler(struct mx_req *req)
{
	int rc = req->route->handler(req);
	if (rc == MX_ESUSPENDED && req->suspended)
		return;
	if (!req->replied) {
		if (rc < 0)
			mx_req_fail(req, rc, NULL);
		else
			mx_req_reply_empty(req);
	}
}

static void mx_http_authenticate_and_run(struct mx_req *req)
{
	struct mx_server *srv = req->srv;
	req->w = mx_http_worker(srv);
	const struct mx_route *r = req->route;
	if (!req->stream_authed) {
		int rc = mx_http_auth(req);
		if (rc == MX_ESUSPENDED && req->suspended) {
			req->auth_parked = true;
			return;
		}
		if (rc)
			return;
		rc = mx_http_ratelimit(req);
		if (rc)
			return;
	}
	if (r->flags & MX_ROUTE_JSON) {
		/* An empty body is {} only where the spec makes the body optional. */
		if (req->body.len == 0 && !(r->flags & MX_ROUTE_EMPTY_BODY) &&
		    req->method != MX_DELETE) {
			mx_req_fail(req, MX_ENOTJSON, "Content not JSON");
			return;
		}
		if (req->body.len == 0) {
			req->json = mx_arena_json(&req->arena, json_object());
		} else {
			int perr = 0;
			json_t *v = mx_json_parse_strict(req->body.data, req->body.len, &perr);
			if (!v) {
				mx_req_fail(req, perr ? perr : MX_ENOTJSON,
					    perr == MX_EBADJSON ? "Invalid JSON" : "Content not JSON");
				return;
			}
			mx_arena_json(&req->arena, v);
			if (!json_is_object(v)) {
				mx_req_fail(req, MX_ENOTJSON, "Content must be a JSON object");
				return;
			}
			req->json = v;
		}
	}
	mx_http_run_handler(req);
}

/* A framed file reply being sent: prefix, then the file, then suffix. */
struct mx_http_framed {
	int fd;
	uint64_t size;
	size_t prefix_len, suffix_len;
	char *prefix, *suffix; /* point into text */
	char text[];
};

static ssize_t mx_http_framed_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct mx_http_framed *f = cls;
	size_t done = 0;
	while (done < max) {
		uint64_t at = pos + done;
		size_t n;
		if (at < f->prefix_len) {
			n = MX_MIN(max - done, f->prefix_len - (size_t)at);
			memcpy(buf + done, f->prefix + at, n);
		} else if (at < f->prefix_len + f->size) {
			uint64_t off = at - f->prefix_len;
			size_t want = (size_t)MX_MIN((uint64_t)(max - done), f->size - off);
			ssize_t r = pread(f->fd, buf + done, want, (off_t)off);
			if (r <= 0)
				return done ? (ssize_t)done : MHD_CONTENT_READER_END_WITH_ERROR;
			n = (size_t)r;
		} else if (at < f->prefix_len + f->size + f->suffix_len) {
			size_t off = (size_t)(at - f->prefix_len - f->size);
			n = MX_MIN(max - done, f->suffix_len - off);
			memcpy(buf + done, f->suffix + off, n);
		} else {
			break;
		}
		done += n;
	}
	return done ? (ssize_t)done : MHD_CONTENT_READER_END_OF_STREAM;
}

static void mx_http_framed_free(void *cls)
{
	struct mx_http_framed *f = cls;
	close(f->fd);
	free(f);
}

static struct MHD_Response *mx_http_framed_response(struct mx_req *req)
{
	size_t pl = strlen(req->resp_prefix), sl = strlen(req->resp_suffix);
	struct mx_http_framed *f = mx_xmalloc(sizeof(*f) + pl + sl);
	f->fd = req->resp_fd;
	f->size = req->resp_fd_size;
	f->prefix = f->text;
	f->suffix = f->text + pl;
	f->prefix_len = pl;
	f->suffix_len = sl;
	memcpy(f->prefix, req->resp_prefix, pl);
	memcpy(f->suffix, req->resp_suffix, sl);
	return MHD_create_response_from_callback(pl + f->size + sl, 64 * 1024,
						 mx_http_framed_read, f, mx_http_framed_free);
}

static enum MHD_Result mx_http_send(struct mx_req *req)
{
	if (!req->replied)
		mx_req_fail(req, MX_EUNKNOWN, NULL);
	struct MHD_Response *resp;
	if (req->resp_from_fd) {
		/* MHD owns and closes the fd from here, even on failure. */
		resp = req->resp_prefix ? mx_http_framed_response(req)
					: MHD_create_response_from_fd64(req->resp_fd_size, req->resp_fd);
		req->resp_from_fd = false;
		if (!resp)
			MX_BUG("MHD_create_response_from_fd64 failed");
	} else {
		resp = MHD_create_response_from_buffer(req->resp_len, req->resp,
						       MHD_RESPMEM_MUST_FREE);
		req->resp = NULL; /* now owned by MHD */
	}
	req->queued = true;
	for (size_t i = 0; i < MX_ARRAY_LEN(mx_cors_headers); i++)
		MHD_add_response_header(resp, mx_cors_headers[i][0], mx_cors_headers[i][1]);
	if (req->resp_type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, req->resp_type);
	for (int i = 0; i < req->n_hdrs; i++)
		MHD_add_response_header(resp, req->hdr_name[i], req->hdr_value[i]);
	enum MHD_Result ret = MHD_queue_response(req->conn, (unsigned)req->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void mx_http_dispatch(struct mx_req *req)
{
	if (req->replied) /* a streamed body was refused mid-way */
		return;
	if (req->method == MX_OPTIONS) {
		/* SPEC: client-server-api#web-browser-clients: no endpoint logic. */
		mx_req_reply_raw(req, 204, NULL, "", 0);
		return;
	}
	if (!req->method) {
		mx_req_fail(req, MX_EBADMETHOD, "Unsupported method");
		return;
	}
	if (req->err == MX_EBADMETHOD) {
		mx_req_fail(req, MX_EBADMETHOD, "Method not allowed for this endpoint");
		return;
	}
	if (req->err) {
		mx_req_fail(req, req->err, "Unrecognized request");
		return;
	}
	if (req->too_large) {
		mx_req_fail(req, MX_ETOOLARGE, "Request body too large");
		return;
	}
	if (req->bad_param) {
		mx_req_fail(req, MX_EINVALIDPARAM, "NUL in a path parameter");
		return;
	}
	mx_http_authenticate_and_run(req);
}

/*
 * One chunk of an MX_ROUTE_STREAM body. The first chunk authenticates
 * (so nobody unauthenticated fills the disk); then the handler consumes
 * each chunk. A refusal (a reply, or a negative return) drops the rest
 * of the body; the final call of mx_http_access sends the answer.
 */
static void mx_http_stream(struct mx_req *req, const char *p, size_t n)
{
	if (!req->stream_authed) {
		req->w = mx_http_worker(req->srv);
		if (mx_http_auth(req) || mx_http_ratelimit(req))
			return; /* replied */
		req->stream_authed = true;
	}
	if (n > req->body.max - req->stream_total) {
		req->too_large = true; /* the rest goes to the discard path */
		req->discarded += n;
		return;
	}
	req->stream_total += n;
	req->stream_chunk = p;
	req->stream_len = n;
	int rc = req->route->handler(req);
	req->stream_chunk = NULL;
	req->stream_len = 0;
	if (rc < 0 && !req->replied)
		mx_req_fail(req, rc, NULL);
}

static enum MHD_Result mx_http_access(void *cls, struct MHD_Connection *conn, const char *url,
				      const char *method, const char *version,
				      const char *upload_data, size_t *upload_data_size,
				      void **con_cls)
{
	struct mx_listener *l = cls;
	struct mx_req *req = *con_cls;
	if (!req->begun) {
		mx_http_begin(l, req, conn, url, method);
		return MHD_YES;
	}
	if (*upload_data_size && req->route && (req->route->flags & MX_ROUTE_STREAM) &&
	    !req->too_large && !req->err && !req->bad_param && !req->replied) {
		mx_http_stream(req, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size) {
		/* A body we will refuse is read and dropped, so the client gets
		 * the error: answering mid-upload makes the kernel reset the
		 * connection and the client may never see the answer. Past a
		 * bound we stop reading and answer at once. */
		if (req->too_large || !req->route || req->err ||
		    (req->route->flags & MX_ROUTE_STREAM) || /* refused mid-stream */
		    mx_buf_append(&req->body, upload_data, *upload_data_size)) {
			if (req->route && !req->err)
				req->too_large = true;
			req->discarded += *upload_data_size;
			*upload_data_size = 0;
			if (req->discarded > MX_HTTP_MAX_DISCARD && !req->queued) {
				mx_http_dispatch(req);
				return mx_http_send(req);
			}
			return MHD_YES;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (req->queued) /* a response was already queued */
		return MHD_YES;
	if (req->suspended && req->auth_parked) {
		/* Federation auth waited for a key fetch: authenticate again. */
		req->suspended = false;
		req->auth_parked = false;
		mx_http_authenticate_and_run(req);
	} else if (req->suspended) {
		/* Resumed by a wake-up or the deadline: run the handler again. */
		req->suspended = false;
		req->resumed = true;
		mx_http_run_handler(req);
	} else {
		mx_http_dispatch(req);
	}
	if (req->suspended)
		return MHD_YES;
	return mx_http_send(req);
}

void mx_req_suspend(struct mx_req *req)
{
	req->suspended = true;
	MHD_suspend_connection(req->conn);
}

void mx_req_resume(struct mx_req *req)
{
	MHD_resume_connection(req->conn);
}

static void mx_http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			      enum MHD_RequestTerminationCode toe)
{
	struct mx_listener *l = cls;
	struct mx_req *req = *con_cls;
	if (!req)
		return;
	int64_t us = mx_clock_mono_us() - req->start_us;
	const char *who = req->auth.user_id ? req->auth.user_id
			  : req->auth.origin ? req->auth.origin : "-";
	if (req->begun) /* else the connection closed before the request line was done */
		mx_log_info("%s %s %s %d %s %.3fms%s", req->client_ip,
			    mx_http_method_name(req->method), req->path, req->status, who,
			    (double)us / 1000.0,
			    toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (aborted)");
	if (req->park_slot)
		mx_notifier_unpark(req->srv->notifier, req);
	if (req->on_close)
		req->on_close(req);
	if (req->resp_from_fd)
		close(req->resp_fd);
	free(req->resp);
	mx_buf_release(&req->body);
	mx_arena_release(&req->arena);
	free(req);
	*con_cls = NULL;
	atomic_fetch_sub(&l->h->inflight, 1);
}

static size_t mx_http_no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	return strlen(s);
}

static void mx_http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct mx_listener *l = cls;
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	mx_log_debug("libmicrohttpd: %s", msg);
	pthread_mutex_lock(&l->log_lock);
	size_t used = strlen(l->start_err);
	if (l->starting && used + 3 < sizeof(l->start_err))
		snprintf(l->start_err + used, sizeof(l->start_err) - used, "%s%s", used ? "; " : "",
			 msg);
	pthread_mutex_unlock(&l->log_lock);
}

/*
 * Read a PEM file named by config key `key` into a fresh NUL-terminated
 * string (libmicrohttpd takes PEM text; GnuTLS parses it when the daemon
 * starts). Checks only what gives a clearer message than GnuTLS would:
 * readable, not huge, no NUL, a `want` PEM block present, and for keys,
 * not encrypted. Returns 0, or MX_EIO / MX_EINVALID with err set.
 */
static int mx_http_read_pem(const char *key, const char *path, bool is_key, char **out,
			    size_t *out_len, char *err, size_t errlen)
{
	int rc = MX_EIO;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = fopen(path, "rb");
	*out = NULL;
	if (!f) {
		snprintf(err, errlen, "%s: %s: cannot read: %s", key, path, strerror(errno));
		goto out;
	}
	buf = mx_xmalloc(MX_HTTP_MAX_PEM + 1);
	len = fread(buf, 1, MX_HTTP_MAX_PEM + 1, f);
	if (ferror(f)) {
		snprintf(err, errlen, "%s: %s: cannot read: %s", key, path, strerror(errno));
		goto out;
	}
	rc = MX_EINVALID;
	if (len > MX_HTTP_MAX_PEM) {
		snprintf(err, errlen, "%s: %s: larger than 1M, not a PEM %s", key, path,
			 is_key ? "private key" : "certificate chain");
		goto out;
	}
	buf[len] = '\0';
	if (strlen(buf) != len) {
		snprintf(err, errlen, "%s: %s: binary (DER?); expected PEM text", key, path);
		goto out;
	}
	if (!is_key && !strstr(buf, "-----BEGIN CERTIFICATE-----")) {
		snprintf(err, errlen, "%s: %s: no PEM certificate in it (-----BEGIN CERTIFICATE-----)",
			 key, path);
		goto out;
	}
	if (is_key && (strstr(buf, "ENCRYPTED PRIVATE KEY-----") ||
		       strstr(buf, "Proc-Type: 4,ENCRYPTED"))) {
		snprintf(err, errlen, "%s: %s: the private key is encrypted; store it unencrypted "
			 "(readable only by the server)", key, path);
		goto out;
	}
	if (is_key && !strstr(buf, "PRIVATE KEY-----")) {
		snprintf(err, errlen, "%s: %s: no PEM private key in it (-----BEGIN PRIVATE KEY-----)",
			 key, path);
		goto out;
	}
	*out = buf;
	*out_len = len;
	buf = NULL;
	rc = 0;
out:
	if (buf) {
		explicit_bzero(buf, len); /* len <= MX_HTTP_MAX_PEM + 1, the buffer's size */
		free(buf);
	}
	if (f)
		fclose(f);
	return rc;
}

/* Load the certificate and key once when any listener has tls: true. */
static int mx_http_load_tls(struct mx_http *h, char *err, size_t errlen)
{
	const struct mx_config *cfg = h->srv->cfg;
	bool any = false;
	for (size_t i = 0; i < cfg->n_listeners; i++)
		any |= cfg->listeners[i].tls;
	if (!any)
		return 0;
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		snprintf(err, errlen, "a listener has tls: true but this libmicrohttpd was built "
			 "without TLS (GnuTLS) support; terminate TLS in a reverse proxy instead");
		return MX_EINVALID;
	}
	/* mx_config_load guarantees both paths for a TLS listener. */
	if (!cfg->tls_certificate_path || !cfg->tls_private_key_path)
		MX_BUG("TLS listener without certificate paths");
	size_t cert_len;
	int rc = mx_http_read_pem("tls_certificate_path", cfg->tls_certificate_path, false,
				  &h->tls_cert, &cert_len, err, errlen);
	if (!rc)
		rc = mx_http_read_pem("tls_private_key_path", cfg->tls_private_key_path, true,
				      &h->tls_key, &h->tls_key_len, err, errlen);
	return rc;
}

static int mx_http_listen(struct mx_http *h, struct mx_listener *l, char *err, size_t errlen)
{
	const struct mx_config *cfg = h->srv->cfg;
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC |
			 MHD_USE_ERROR_LOG;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, l->cfg->bind_address, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(l->cfg->port);
	} else if (inet_pton(AF_INET6, l->cfg->bind_address, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(l->cfg->port);
		flags |= MHD_USE_IPv6;
	} else {
		snprintf(err, errlen, "listeners: bind address '%s' is not an IP address",
			 l->cfg->bind_address);
		return MX_EINVALID;
	}
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	/* Handlers block while their write becomes durable (group commit), so
	 * more threads than cores keep the writer's batches full. */
	unsigned threads = cfg->http_threads > 0 ? (unsigned)cfg->http_threads
						 : (unsigned)(cores > 2 ? 4 * cores : 8);
	/* GnuTLS inside libmicrohttpd; a file reply (MHD_create_response_from_fd64)
	 * is then read and encrypted instead of sendfile()d. */
	struct MHD_OptionItem tls_opts[] = {
		{MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls_cert},
		{MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key},
		{MHD_OPTION_END, 0, NULL},
	};
	if (l->cfg->tls)
		flags |= MHD_USE_TLS;
	else
		tls_opts[0].option = MHD_OPTION_END;
	pthread_mutex_lock(&l->log_lock);
	l->starting = true;
	pthread_mutex_unlock(&l->log_lock);
	l->daemon = MHD_start_daemon(
		flags, l->cfg->port, NULL, NULL, mx_http_access, l,
		/* First, or the options before it log to stderr. */
		MHD_OPTION_EXTERNAL_LOGGER, mx_http_mhd_log, l,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_THREAD_POOL_SIZE, threads,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)(cfg->max_connections > 0 ? cfg->max_connections : 10000),
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)90,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
		MHD_OPTION_NOTIFY_COMPLETED, mx_http_completed, l,
		MHD_OPTION_URI_LOG_CALLBACK, mx_http_uri, l,
		MHD_OPTION_UNESCAPE_CALLBACK, mx_http_no_unescape, NULL,
		MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
		MHD_OPTION_ARRAY, tls_opts,
		MHD_OPTION_END);
	pthread_mutex_lock(&l->log_lock);
	l->starting = false;
	pthread_mutex_unlock(&l->log_lock);
	if (!l->daemon) {
		const char *why = l->start_err[0] ? l->start_err : "in use or not permitted";
		/* A bad certificate or key, or one not matching the other, fails here. */
		bool tls_fault = l->cfg->tls && !strstr(why, "bind") && !strstr(why, "listen");
		snprintf(err, errlen, "cannot listen on %s:%u%s: %s%s", l->cfg->bind_address,
			 l->cfg->port, l->cfg->tls ? " with TLS" : "", why,
			 tls_fault ? " (tls_certificate_path must hold a PEM certificate, chain "
				     "after it, and tls_private_key_path its unencrypted key)"
				   : "");
		return MX_EIO;
	}
	mx_log_info("listening on %s:%u%s", l->cfg->bind_address, l->cfg->port,
		    l->cfg->tls ? " (TLS)" : "");
	return 0;
}

int mx_http_start(struct mx_server *srv, const struct mx_router *router, struct mx_http **out,
		  char *err, size_t errlen)
{
	struct mx_http *h = mx_xcalloc(1, sizeof(*h));
	h->srv = srv;
	h->router = router;
	srv->http = h;
	pthread_key_create(&h->worker_key, mx_worker_destroy);
	const struct mx_config *cfg = srv->cfg;
	h->listeners = mx_xcalloc(cfg->n_listeners ? cfg->n_listeners : 1, sizeof(*h->listeners));
	int tls_rc = mx_http_load_tls(h, err, errlen);
	if (tls_rc) {
		mx_http_stop(h, 0);
		return tls_rc;
	}
	for (size_t i = 0; i < cfg->n_listeners; i++) {
		struct mx_listener *l = &h->listeners[i];
		l->h = h;
		l->cfg = &cfg->listeners[i];
		pthread_mutex_init(&l->log_lock, NULL);
		h->n_listeners++;
		int rc = mx_http_listen(h, l, err, errlen);
		if (rc) {
			mx_http_stop(h, 0);
			return rc;
		}
	}
	*out = h;
	return 0;
}

void mx_http_stop(struct mx_http *h, int timeout_ms)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n_listeners; i++)
		if (h->listeners[i].daemon)
			MHD_quiesce_daemon(h->listeners[i].daemon);
	int64_t deadline = mx_clock_mono_ms() + timeout_ms;
	while (atomic_load(&h->inflight) > 0 && mx_clock_mono_ms() < deadline)
		usleep(10000);
	for (size_t i = 0; i < h->n_listeners; i++) {
		if (h->listeners[i].daemon)
			MHD_stop_daemon(h->listeners[i].daemon);
		pthread_mutex_destroy(&h->listeners[i].log_lock);
	}
	h->srv->http = NULL;
	pthread_key_delete(h->worker_key);
	free(h->listeners);
	free(h->tls_cert);
	if (h->tls_key) {
		explicit_bzero(h->tls_key, h->tls_key_len);
		free(h->tls_key);
	}
	free(h);
}
