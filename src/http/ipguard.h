/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The address check every outbound HTTP request makes (federation, URL
 * previews, pushers): libcurl calls back before it opens each socket,
 * after DNS, so a name that resolves to a private address is refused
 * whatever the URL said. An address is refused when it lies in one of the
 * block ranges and in none of the allow ranges (Synapse's
 * ip_range_blacklist less ip_range_whitelist).
 *
 * Usage: fill block/allow (borrowed: they must outlive the transfer),
 * mx_ipguard_install() it on the easy handle, perform, then read blocked.
 * The guard must stay at the same address while the transfer runs.
 */
#ifndef MX_HTTP_IPGUARD_H
#define MX_HTTP_IPGUARD_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/iprange.h"

struct mx_ipguard {
	const struct mx_iprange *block, *allow;
	size_t n_block, n_allow;
	bool blocked; /* set when a connection was refused */
};

/* Whether the guard refuses sa. */
bool mx_ipguard_refuses(const struct mx_ipguard *g, const struct sockaddr *sa);

/*
 * Make h check every address through g (CURLOPT_OPENSOCKETFUNCTION and
 * CURLOPT_OPENSOCKETDATA). Also turns off proxies: the address checked
 * must be the address connected to.
 */
void mx_ipguard_install(struct mx_ipguard *g, CURL *h);

#endif
