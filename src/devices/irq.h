/* An interrupt line as a device sees it: the device drives the level and
 * whoever is wired to the other end decides what that means: the board
 * wires an ISA line to an 8259 input and an I/O APIC pin both
 * (machine/wiring.c, isa_irq_set); a PCI function's INTx goes through the
 * host bridge's PIRQ routing (pci_host.c) to an ISA IRQ's 8259 input and,
 * for the IRQs the board gives PCI, an I/O APIC pin (pci_isa_irq_set).
 * Devices never reach into the CPU. */
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
