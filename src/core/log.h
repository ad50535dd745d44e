/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging to stderr, one line per message with a UTC timestamp and level.
 * The level is set once at start-up (before threads start).
 */
#ifndef MX_CORE_LOG_H
#define MX_CORE_LOG_H

enum mx_log_level { MX_LOG_DEBUG, MX_LOG_INFO, MX_LOG_WARN, MX_LOG_ERROR };

/* Parse "debug", "info", "warn"/"warning", "error"; -1 if unknown. */
int mx_log_level_parse(const char *s);
void mx_log_set_level(enum mx_log_level level);
void mx_log(enum mx_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define mx_log_debug(...) mx_log(MX_LOG_DEBUG, __VA_ARGS__)
#define mx_log_info(...) mx_log(MX_LOG_INFO, __VA_ARGS__)
#define mx_log_warn(...) mx_log(MX_LOG_WARN, __VA_ARGS__)
#define mx_log_error(...) mx_log(MX_LOG_ERROR, __VA_ARGS__)

#endif
