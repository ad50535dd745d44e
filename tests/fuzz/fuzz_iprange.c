/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer driver for CIDR parsing and matching. Input: 16 bytes of an
 * address, then the range text. A parsed range must have a prefix in
 * [0, 128] (at least 96 for IPv4, stored mapped); its own base address
 * must match it; the fuzzed address with its first prefix bits forced to
 * the range's must match it, and with one bit inside the prefix flipped
 * must not (the range alone in the list). An IPv4-mapped address must
 * match the same ranges as AF_INET and as AF_INET6.
 */
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/iprange.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool match6(const struct mx_iprange *r, const uint8_t a[16])
{
	struct sockaddr_in6 s6;
	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	memcpy(&s6.sin6_addr, a, 16);
	return mx_iprange_match(r, 1, (const struct sockaddr *)&s6);
}

static const uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* The AF_INET form of a mapped address must agree with the AF_INET6 form. */
static void check_v4(const struct mx_iprange *r, const uint8_t a[16])
{
	if (memcmp(a, mapped_prefix, 12))
		return;
	struct sockaddr_in s4;
	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	memcpy(&s4.sin_addr, a + 12, 4);
	if (mx_iprange_match(r, 1, (const struct sockaddr *)&s4) != match6(r, a))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 16 || size > 256)
		return 0;
	uint8_t a[16];
	memcpy(a, data, 16);
	size_t n = size - 16;
	char *s = malloc(n + 1);
	memcpy(s, data + 16, n);
	s[n] = '\0';
	struct mx_iprange r;
	if (mx_iprange_parse(s, &r) == 0) {
		if (r.prefix < 0 || r.prefix > 128)
			abort();
		bool v4 = !memcmp(r.addr, mapped_prefix, 12) && memchr(s, ':', n) == NULL;
		if (v4 && r.prefix < 96)
			abort();
		if (!match6(&r, r.addr))
			abort();
		check_v4(&r, r.addr);
		/* force the first prefix bits of a to the range's */
		uint8_t in[16];
		memcpy(in, a, 16);
		for (int bit = 0; bit < r.prefix; bit++) {
			uint8_t m = (uint8_t)(0x80 >> (bit % 8));
			in[bit / 8] = (uint8_t)((in[bit / 8] & ~m) | (r.addr[bit / 8] & m));
		}
		if (!match6(&r, in))
			abort();
		check_v4(&r, in);
		if (r.prefix > 0) {
			int bit = a[0] % r.prefix;
			in[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
			if (match6(&r, in))
				abort();
			check_v4(&r, in);
		}
		check_v4(&r, a);
	}
	free(s);
	return 0;
}
