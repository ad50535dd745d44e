/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Growable byte buffers with a hard limit, and {ptr,len} string slices.
 * Every buffer that outside input can grow is created with a maximum; an
 * append past it fails with MX_ETOOLARGE and leaves the buffer unchanged.
 */
#ifndef MX_CORE_BUF_H
#define MX_CORE_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct mx_buf {
	char *data;  /* always NUL-terminated when non-NULL */
	size_t len;
	size_t cap;
	size_t max;  /* hard limit on len */
};

struct mx_slice {
	const char *ptr;
	size_t len;
};

#define MX_BUF_UNLIMITED ((size_t)-1)
#define MX_SLICE_LIT(s) ((struct mx_slice){(s), sizeof(s) - 1})

void mx_buf_init(struct mx_buf *b, size_t max);
void mx_buf_release(struct mx_buf *b);
/* Forget the contents, keep the memory. */
void mx_buf_reset(struct mx_buf *b);
int mx_buf_append(struct mx_buf *b, const void *p, size_t n);
int mx_buf_puts(struct mx_buf *b, const char *s);
int mx_buf_putc(struct mx_buf *b, char c);
int mx_buf_printf(struct mx_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int mx_buf_vprintf(struct mx_buf *b, const char *fmt, va_list ap);
/* Hand the contents to the caller (who frees them) and reset the buffer. */
char *mx_buf_detach(struct mx_buf *b, size_t *len);

struct mx_slice mx_slice_from(const char *s);
bool mx_slice_eq(struct mx_slice a, const char *s);
bool mx_slice_has_prefix(struct mx_slice a, const char *prefix);

#endif
