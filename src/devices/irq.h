/* An interrupt line as a device sees it: the device drives the level and
 * whoever is wired to the other end (a PIC input, later an IOAPIC pin)
 * decides what that means. Devices never reach into the CPU. */
#ifndef BTVM_DEVICES_IRQ_H
#define BTVM_DEVICES_IRQ_H

struct irq_line {
	void (*set_level)(void *opaque, unsigned line, int level);
	void *opaque;
	unsigned line;
};

static inline void irq_line_set(const struct irq_line *irq, int level)
{
	if (irq->set_level)
		irq->set_level(irq->opaque, irq->line, level);
}

#endif
