/* SPDX-License-Identifier: Apache-2.0 */
/* Wall-clock and monotonic time in milliseconds. */
#ifndef MX_CORE_CLOCK_H
#define MX_CORE_CLOCK_H

#include <stdint.h>

/* Milliseconds since the Unix epoch (origin_server_ts, expiry times). */
int64_t mx_clock_now_ms(void);
/* Monotonic milliseconds, for durations and deadlines. */
int64_t mx_clock_mono_ms(void);
/* Monotonic microseconds, for request timing. */
int64_t mx_clock_mono_us(void);

#endif
