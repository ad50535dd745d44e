/* SPDX-License-Identifier: Apache-2.0 */
/* Allocation wrappers that abort on exhaustion. */
#include "core/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void mx_oom(size_t n) __attribute__((noreturn));
static void mx_oom(size_t n)
{
	fprintf(stderr, "myelin: out of memory allocating %zu bytes\n", n);
	abort();
}

void *mx_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		mx_oom(n);
	return p;
}

void *mx_xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (!p)
		mx_oom(nmemb * size);
	return p;
}

void *mx_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		mx_oom(n);
	return q;
}

char *mx_xstrdup(const char *s)
{
	return mx_xstrndup(s, strlen(s));
}

char *mx_xstrndup(const char *s, size_t n)
{
	char *p = mx_xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *mx_xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		MX_BUG("vsnprintf failed");
	char *p = mx_xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void mx_bug(const char *file, int line, const char *what)
{
	fprintf(stderr, "myelin: BUG at %s:%d: %s\n", file, line, what);
	abort();
}
