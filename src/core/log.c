/* SPDX-License-Identifier: Apache-2.0 */
/* stderr logging; each line is written with a single write() so lines from
 * different threads never interleave. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Set once before threads start; read-only afterwards. */
static enum mx_log_level mx_log_min = MX_LOG_INFO;

int mx_log_level_parse(const char *s)
{
	if (!strcasecmp(s, "debug"))
		return MX_LOG_DEBUG;
	if (!strcasecmp(s, "info"))
		return MX_LOG_INFO;
	if (!strcasecmp(s, "warn") || !strcasecmp(s, "warning"))
		return MX_LOG_WARN;
	if (!strcasecmp(s, "error"))
		return MX_LOG_ERROR;
	return -1;
}

void mx_log_set_level(enum mx_log_level level)
{
	mx_log_min = level;
}

void mx_log(enum mx_log_level level, const char *fmt, ...)
{
	static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
	if (level < mx_log_min)
		return;
	char line[2048];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, ts.tv_nsec / 1000000, names[level]);
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}
