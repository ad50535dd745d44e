/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer driver for the X-Matrix Authorization header parser. Input:
 * the header value. A header that parses must give a valid server name as
 * origin (and destination, when present), a non-empty key id and
 * signature, each NUL-terminated within its field; and writing the fields
 * back as a header in the form senders use must parse to the same fields.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event/ids.h"
#include "federation/xmatrix.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_field(const char *f, size_t cap, bool may_be_empty)
{
	size_t n = strnlen(f, cap);
	if (n == cap || (!may_be_empty && n == 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 8192)
		return 0;
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	struct mx_xmatrix x;
	if (mx_xmatrix_parse(s, &x) == 0) {
		check_field(x.origin, sizeof(x.origin), false);
		check_field(x.destination, sizeof(x.destination), true);
		check_field(x.key_id, sizeof(x.key_id), false);
		check_field(x.sig, sizeof(x.sig), false);
		if (!mx_id_server_name_valid(x.origin) ||
		    (x.destination[0] && !mx_id_server_name_valid(x.destination)))
			abort();
		/* Fields never hold '"' or '\\' once valid, so quoting is plain. */
		char h[1024];
		int n;
		if (x.destination[0])
			n = snprintf(h, sizeof(h),
				     "X-Matrix origin=\"%s\",destination=\"%s\",key=\"%s\",sig=\"%s\"",
				     x.origin, x.destination, x.key_id, x.sig);
		else
			n = snprintf(h, sizeof(h), "X-Matrix origin=\"%s\",key=\"%s\",sig=\"%s\"",
				     x.origin, x.key_id, x.sig);
		if (n < 0 || (size_t)n >= sizeof(h))
			abort();
		struct mx_xmatrix y;
		if (mx_xmatrix_parse(h, &y) != 0 || memcmp(&x, &y, sizeof(x)) != 0)
			abort();
	}
	free(s);
	return 0;
}
