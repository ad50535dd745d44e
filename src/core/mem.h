/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Allocation that never fails: out of memory aborts the process, so error
 * paths only ever deal with protocol errors (STYLE.md rule 6).
 */
#ifndef MX_CORE_MEM_H
#define MX_CORE_MEM_H

#include <stddef.h>

void *mx_xmalloc(size_t n);
void *mx_xcalloc(size_t nmemb, size_t size);
void *mx_xrealloc(void *p, size_t n);
char *mx_xstrdup(const char *s);
char *mx_xstrndup(const char *s, size_t n);
/* printf into a fresh heap string; caller frees. */
char *mx_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define MX_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MX_MIN(a, b) ((a) < (b) ? (a) : (b))

#ifndef NDEBUG
#include <assert.h>
#define MX_ASSERT(x) assert(x)
#else
#define MX_ASSERT(x) ((void)0)
#endif
void mx_bug(const char *file, int line, const char *what) __attribute__((noreturn));
#define MX_BUG(what) mx_bug(__FILE__, __LINE__, what)

#endif
