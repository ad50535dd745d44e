/* SPDX-License-Identifier: Apache-2.0 */
/* CIDR ranges and matching (core/iprange.h). */
#include "core/iprange.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/error.h"

static void mx_iprange_map4(uint8_t out[16], const void *v4)
{
	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	memcpy(out + 12, v4, 4);
}

int mx_iprange_parse(const char *s, struct mx_iprange *out)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t len = slash ? (size_t)(slash - s) : strlen(s);
	if (len == 0 || len >= sizeof(buf))
		return MX_EINVALID;
	memcpy(buf, s, len);
	buf[len] = '\0';
	long bits = -1;
	if (slash) {
		char *end;
		bits = strtol(slash + 1, &end, 10);
		if (!slash[1] || *end || bits < 0)
			return MX_EINVALID;
	}
	struct in_addr a4;
	struct in6_addr a6;
	if (inet_pton(AF_INET, buf, &a4) == 1) {
		if (bits > 32)
			return MX_EINVALID;
		mx_iprange_map4(out->addr, &a4);
		out->prefix = bits < 0 ? 128 : 96 + (int)bits;
	} else if (inet_pton(AF_INET6, buf, &a6) == 1) {
		if (bits > 128)
			return MX_EINVALID;
		memcpy(out->addr, &a6, 16);
		out->prefix = bits < 0 ? 128 : (int)bits;
	} else {
		return MX_EINVALID;
	}
	return 0;
}

static bool mx_iprange_contains(const struct mx_iprange *r, const uint8_t a[16])
{
	int full = r->prefix / 8, rest = r->prefix % 8;
	if (memcmp(r->addr, a, (size_t)full))
		return false;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (r->addr[full] & mask) == (a[full] & mask);
}

bool mx_iprange_match(const struct mx_iprange *r, size_t n, const struct sockaddr *sa)
{
	uint8_t a[16];
	if (sa->sa_family == AF_INET)
		mx_iprange_map4(a, &((const struct sockaddr_in *)(const void *)sa)->sin_addr);
	else if (sa->sa_family == AF_INET6)
		memcpy(a, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
	else
		return false;
	for (size_t i = 0; i < n; i++)
		if (mx_iprange_contains(&r[i], a))
			return true;
	return false;
}
