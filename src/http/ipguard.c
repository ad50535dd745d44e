/* SPDX-License-Identifier: Apache-2.0 */
/* The outbound address check. See ipguard.h. */
#include "http/ipguard.h"

#include <sys/socket.h>

bool mx_ipguard_refuses(const struct mx_ipguard *g, const struct sockaddr *sa)
{
	return mx_iprange_match(g->block, g->n_block, sa) &&
	       !mx_iprange_match(g->allow, g->n_allow, sa);
}

static curl_socket_t mx_ipguard_opensocket(void *ctx, curlsocktype purpose,
					   struct curl_sockaddr *a)
{
	struct mx_ipguard *g = ctx;
	(void)purpose;
	if (mx_ipguard_refuses(g, &a->addr)) {
		g->blocked = true;
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype, a->protocol);
}

void mx_ipguard_install(struct mx_ipguard *g, CURL *h)
{
	curl_easy_setopt(h, CURLOPT_PROXY, ""); /* addresses are ours to check */
	curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, mx_ipguard_opensocket);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, g);
}
