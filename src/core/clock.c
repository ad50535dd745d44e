/* SPDX-License-Identifier: Apache-2.0 */
#include "core/clock.h"

#include <time.h>

int64_t mx_clock_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mx_clock_mono_ms(void)
{
	return mx_clock_mono_us() / 1000;
}

int64_t mx_clock_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
