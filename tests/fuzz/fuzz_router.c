/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer driver for request routing: arbitrary bytes as a request path
 * against the real route tables. Matching must never read out of bounds,
 * and every capture must lie inside the path.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/routes.h"
#include "core/config.h"
#include "federation/routes.h"
#include "http/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mx_router *fuzz_router(void)
{
	static struct mx_router *r;
	if (!r) {
		r = mx_router_new();
		mx_router_add(r, mx_discovery_routes, mx_discovery_routes_count);
		mx_router_add(r, mx_account_routes, mx_account_routes_count);
		mx_router_add(r, mx_federation_routes, mx_federation_routes_count);
	}
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 4096)
		return 0;
	char *path = malloc(size);
	memcpy(path, data + 1, size - 1);
	path[size - 1] = '\0';
	unsigned method = 1u << (data[0] % 6);
	const struct mx_route *route;
	struct mx_route_capture caps[MX_ROUTE_MAX_PARAMS];
	int n = 0;
	unsigned allowed;
	if (mx_router_match(fuzz_router(), method, path, ~0u, &route, caps, &n, &allowed) == 0) {
		size_t len = strlen(path);
		for (int i = 0; i < n; i++)
			if (caps[i].ptr < path || caps[i].ptr + caps[i].len > path + len)
				abort();
	}
	free(path);
	return 0;
}
