/* Late periodic timer ticks, one policy for the PIT, the RTC and the local
 * APIC timer: ticks that came due while the guest could not take them wait
 * to be delivered one by one, as many as backlog_max_ns of them hold; a
 * period shorter than the storm floor (min_interval_ns) or no backlog
 * keeps only floor of them (the rest are merged, counted as lost). */
#ifndef BTVM_DEVICES_TICK_BACKLOG_H
#define BTVM_DEVICES_TICK_BACKLOG_H

#include <stdint.h>

static inline uint64_t tick_backlog_limit(uint64_t period_ns, uint64_t min_interval_ns,
					  uint64_t backlog_max_ns, uint64_t floor)
{
	if (!backlog_max_ns || !period_ns || period_ns < min_interval_ns)
		return floor;
	uint64_t n = backlog_max_ns / period_ns;
	return n > floor ? n : floor;
}

/* The backlog after due more ticks, at most limit; the excess goes to *lost. */
static inline uint32_t tick_backlog_add(uint32_t backlog, uint64_t due, uint64_t limit, uint64_t *lost)
{
	uint64_t queued = backlog + due;
	if (queued > limit) {
		*lost += queued - limit;
		queued = limit;
	}
	return (uint32_t)queued;
}

#endif
