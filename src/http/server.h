/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP server: one libmicrohttpd daemon per configured listener, each
 * with an epoll thread pool. Collects bodies under the route's limit,
 * authenticates, rate-limits, dispatches to the route's handler and writes
 * one log line per request.
 */
#ifndef MX_HTTP_SERVER_H
#define MX_HTTP_SERVER_H

#include <stddef.h>

struct mx_server;
struct mx_router;
struct mx_http;
struct mx_worker;

/* Bind every listener in srv->cfg and start serving. router is borrowed. */
int mx_http_start(struct mx_server *srv, const struct mx_router *router, struct mx_http **out,
		  char *err, size_t errlen);
/* Stop accepting, let in-flight requests finish (up to timeout_ms), stop. */
void mx_http_stop(struct mx_http *h, int timeout_ms);

/*
 * The calling thread's worker (read connection), created on first use and
 * closed when the thread exits.
 */
struct mx_worker *mx_http_worker(struct mx_server *srv);

#endif
