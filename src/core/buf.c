/* SPDX-License-Identifier: Apache-2.0 */
/* Growable byte buffers with hard limits. */
#include "core/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"

void mx_buf_init(struct mx_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void mx_buf_release(struct mx_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void mx_buf_reset(struct mx_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

static int mx_buf_reserve(struct mx_buf *b, size_t extra)
{
	/* Room for the NUL is part of the limit: with MX_BUF_UNLIMITED,
	 * len + extra == SIZE_MAX used to wrap `need` to 0 and "succeed". */
	size_t max = b->max < SIZE_MAX ? b->max : SIZE_MAX - 1;
	if (extra > max || b->len > max - extra)
		return MX_ETOOLARGE;
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2; /* no wrap to 0 */
	b->data = mx_xrealloc(b->data, cap);
	b->cap = cap;
	return 0;
}

int mx_buf_append(struct mx_buf *b, const void *p, size_t n)
{
	int rc = mx_buf_reserve(b, n);
	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int mx_buf_puts(struct mx_buf *b, const char *s)
{
	return mx_buf_append(b, s, strlen(s));
}

int mx_buf_putc(struct mx_buf *b, char c)
{
	return mx_buf_append(b, &c, 1);
}

int mx_buf_vprintf(struct mx_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return MX_EINVALID;
	int rc = mx_buf_reserve(b, (size_t)n);
	if (rc)
		return rc;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int mx_buf_printf(struct mx_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = mx_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

char *mx_buf_detach(struct mx_buf *b, size_t *len)
{
	if (!b->data) {
		b->data = mx_xmalloc(1);
		b->data[0] = '\0';
	}
	char *p = b->data;
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

struct mx_slice mx_slice_from(const char *s)
{
	return (struct mx_slice){s, s ? strlen(s) : 0};
}

bool mx_slice_eq(struct mx_slice a, const char *s)
{
	size_t n = strlen(s);
	return a.len == n && memcmp(a.ptr, s, n) == 0;
}

bool mx_slice_has_prefix(struct mx_slice a, const char *prefix)
{
	size_t n = strlen(prefix);
	return a.len >= n && memcmp(a.ptr, prefix, n) == 0;
}
