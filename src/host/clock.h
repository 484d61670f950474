/* The host's monotonic clock in nanoseconds, for the monitor's own
 * timing: spin limits, sample intervals, callout timing. (The guest's
 * clocks are the board's.) */
#ifndef BTVM_HOST_CLOCK_H
#define BTVM_HOST_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t host_monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
