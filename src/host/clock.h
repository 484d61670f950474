/* The host's monotonic clock in nanoseconds, for the monitor's own
 * timing: spin limits, sample intervals, callout timing; and its wall
 * clock. (The guest's clocks are the board's.) */
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

/* The host's wall clock (CLOCK_REALTIME) in nanoseconds since 1970, for
 * what the guest's calendar clock must catch up with: the time its own
 * stood still (a pause, a snapshot on disk). */
static inline int64_t host_realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

#endif
