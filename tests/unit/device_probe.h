/* What the timer-device tests watch a device through: a clock the test
 * sets by hand, and a recorder for the device's IRQ line and its
 * deadline-changed callback. A test's harness puts the probe first, so the
 * device's opaque pointers can be the harness itself. */
#ifndef BTVM_TESTS_DEVICE_PROBE_H
#define BTVM_TESTS_DEVICE_PROBE_H

#include <stdint.h>

struct device_probe {
	uint64_t now;            /* what the device's clock reads */
	unsigned line;           /* the IRQ line the device should drive */
	int level;               /* as last driven */
	unsigned rises, calls;   /* rising edges, and every call */
	unsigned bad_line;       /* calls for another line */
	unsigned deadline_changes;
};

static inline uint64_t probe_clock(void *opaque)
{
	const struct device_probe *p = opaque;
	return p->now;
}

static inline void probe_irq(void *opaque, unsigned line, int level)
{
	struct device_probe *p = opaque;
	if (line != p->line)
		p->bad_line++;
	if (level && !p->level)
		p->rises++;
	p->level = level;
	p->calls++;
}

static inline void probe_deadline(void *opaque)
{
	struct device_probe *p = opaque;
	p->deadline_changes++;
}

#endif
