/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Route matching. Templates are split into segments once at start-up; a
 * request's path is split once and compared segment by segment. The tables
 * hold a few hundred routes, so a linear scan with an early exit on the
 * first segment costs well under a microsecond.
 */
#include "http/router.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"

struct mx_route_seg {
	const char *lit;  /* NULL for a capture */
	size_t len;
};

struct mx_compiled_route {
	const struct mx_route *route;
	struct mx_route_seg segs[MX_ROUTE_MAX_SEGMENTS];
	int n_segs;
	bool client_api; /* under /_matrix/client: v3 also matches r0 */
};

struct mx_router {
	struct mx_compiled_route *routes;
	size_t n, cap;
};

struct mx_router *mx_router_new(void)
{
	return mx_xcalloc(1, sizeof(struct mx_router));
}

void mx_router_free(struct mx_router *r)
{
	if (!r)
		return;
	free(r->routes);
	free(r);
}

static int mx_router_split(const char *path, struct mx_route_capture *segs, int max)
{
	int n = 0;
	if (*path != '/')
		return -1;
	const char *p = path + 1;
	for (;;) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		/* A trailing slash yields an empty last segment; ignore it as
		 * Synapse does. Checked before the limit so that a path of the
		 * maximum depth plus a trailing slash is not refused. */
		if (!end && len == 0 && n > 0)
			break;
		if (n == max)
			return -1;
		segs[n].ptr = p;
		segs[n].len = len;
		n++;
		if (!end)
			break;
		p = end + 1;
	}
	return n;
}

void mx_router_add(struct mx_router *r, const struct mx_route *routes, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (r->n == r->cap) {
			r->cap = r->cap ? r->cap * 2 : 64;
			r->routes = mx_xrealloc(r->routes, r->cap * sizeof(*r->routes));
		}
		struct mx_compiled_route *c = &r->routes[r->n++];
		memset(c, 0, sizeof(*c));
		c->route = &routes[i];
		struct mx_route_capture segs[MX_ROUTE_MAX_SEGMENTS];
		int ns = mx_router_split(routes[i].path, segs, MX_ROUTE_MAX_SEGMENTS);
		if (ns < 0)
			MX_BUG("bad route template");
		c->n_segs = ns;
		for (int s = 0; s < ns; s++) {
			bool cap = segs[s].len >= 2 && segs[s].ptr[0] == '{' &&
				   segs[s].ptr[segs[s].len - 1] == '}';
			c->segs[s].lit = cap ? NULL : segs[s].ptr;
			c->segs[s].len = segs[s].len;
		}
		c->client_api = ns >= 2 && !strncmp(routes[i].path, "/_matrix/client/", 16);
	}
}

static bool mx_seg_eq(const struct mx_route_seg *t, const struct mx_route_capture *p,
		      bool client_api)
{
	if (t->len == p->len && !memcmp(t->lit, p->ptr, p->len))
		return true;
	return client_api && t->len == 2 && !memcmp(t->lit, "v3", 2) && p->len == 2 &&
	       !memcmp(p->ptr, "r0", 2);
}

int mx_router_match(const struct mx_router *r, unsigned method, const char *path,
		    unsigned resources, const struct mx_route **route,
		    struct mx_route_capture params[MX_ROUTE_MAX_PARAMS], int *n_params,
		    unsigned *allowed)
{
	struct mx_route_capture segs[MX_ROUTE_MAX_SEGMENTS];
	int ns = mx_router_split(path, segs, MX_ROUTE_MAX_SEGMENTS);
	*allowed = 0;
	if (ns < 0)
		return MX_EUNRECOGNIZED;
	for (size_t i = 0; i < r->n; i++) {
		const struct mx_compiled_route *c = &r->routes[i];
		if (c->n_segs != ns || !(c->route->resource & resources))
			continue;
		int np = 0;
		bool ok = true;
		for (int s = 0; s < ns && ok; s++) {
			if (c->segs[s].lit)
				ok = mx_seg_eq(&c->segs[s], &segs[s], c->client_api && s == 2);
			else if (segs[s].len == 0 || np == MX_ROUTE_MAX_PARAMS)
				ok = false;
			else
				params[np++] = segs[s];
		}
		if (!ok)
			continue;
		if (c->route->method != method) {
			*allowed |= c->route->method;
			continue;
		}
		*route = c->route;
		*n_params = np;
		return 0;
	}
	return *allowed ? MX_EBADMETHOD : MX_EUNRECOGNIZED;
}
