/* SPDX-License-Identifier: Apache-2.0 */
/*
 * IP address ranges in CIDR notation ("10.0.0.0/8", "fe80::/10", or a bare
 * address), as Synapse's url_preview_ip_range_blacklist/whitelist lists
 * them, and matching a resolved socket address against a list. IPv4
 * addresses also match as IPv4-mapped IPv6 (::ffff:a.b.c.d), so a v4
 * blacklist entry cannot be dodged through a mapped address.
 */
#ifndef MX_CORE_IPRANGE_H
#define MX_CORE_IPRANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sockaddr;

struct mx_iprange {
	uint8_t addr[16]; /* IPv4 ranges are stored IPv4-mapped */
	int prefix;       /* in bits of the 128-bit form */
};

/* Parse "addr" or "addr/prefix". 0, or MX_EINVALID. */
int mx_iprange_parse(const char *s, struct mx_iprange *out);

/* Whether sa (AF_INET or AF_INET6) lies in one of the n ranges. */
bool mx_iprange_match(const struct mx_iprange *r, size_t n, const struct sockaddr *sa);

#endif
