/* An 82093AA-style I/O APIC with IOAPIC_PINS inputs: the IOREGSEL/IOWIN
 * register window, the ID, version and arbitration registers, the
 * redirection table, edge and level (Remote IRR) input handling, and the
 * EOI that comes back from the local APIC. Interrupt messages leave through
 * a deliver callback, so the chip knows nothing of who takes them; with
 * one CPU the board points it at lapic_deliver_message.
 *
 * Version 0x11 (the 82093AA): there is no directed EOI register at 0x40
 * (that came with version 0x20), so Linux clears Remote IRR through the
 * local APIC's EOI broadcast, which reaches ioapic_eoi(). The version
 * register reads 0x00170011 for 24 pins.
 *
 * Delivery: fixed and lowest-priority entries send (vector, trigger,
 * destination, destination mode) to the deliver callback, which answers
 * whether some local APIC took the vector; Remote IRR is only set for a
 * level-triggered entry that was taken, so an interrupt nobody accepted
 * (wrong destination, APIC disabled) is tried again on the next EOI, pin
 * change or write to the entry. An NMI entry sends (destination,
 * destination mode) to the deliver_nmi callback, ignoring the vector, and
 * is edge-triggered whatever its trigger bit says (the 82093AA's
 * datasheet: NMI entries must be programmed edge). SMI, INIT, ExtINT and
 * the reserved modes are not delivered (counted in `ignored`): the 8259
 * reaches the CPU through the local APIC's LINT0, not through this chip. Delivery is
 * immediate, so the delivery status bit always reads 0.
 *
 * Inputs: ioapic_set_irq() takes the electrical pin level; polarity low
 * means 0 asserts. Every pin starts at level 0, so a board with active-low
 * (pulled-up) lines drives them to 1 first. An edge entry delivers once for
 * each inactive-to-asserted change seen while unmasked (edges on masked
 * pins are lost, as on the chip). A level entry delivers while its pin is
 * asserted, it is unmasked and Remote IRR is clear, and sets Remote IRR;
 * this is checked on pin changes, on writes to the entry (so unmasking an
 * asserted line delivers) and on EOIs. Switching an entry to edge clears
 * its Remote IRR.
 *
 * MMIO (a 4 KiB page, IOAPIC_MMIO_SIZE): IOREGSEL at 0x00 and IOWIN at
 * 0x10. Reads of any width return the bytes of the containing dword from
 * the byte addressed on (bytes past it read 0); everything else in the page
 * reads 0. A write of any width at offset 0 sets IOREGSEL from its low
 * byte; IOWIN takes only aligned 32-bit writes, other writes are ignored.
 * Registers past the redirection table read 0 and ignore writes.
 *
 * There is no locking: the caller serializes every entry point and register
 * access, and the deliver callback runs under that serialization. */
#ifndef BTVM_DEVICES_IOAPIC_H
#define BTVM_DEVICES_IOAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/bus.h"

#define IOAPIC_DEFAULT_BASE 0xfec00000u
#define IOAPIC_MMIO_SIZE 0x1000u
#define IOAPIC_PINS 24
#define IOAPIC_VERSION (((IOAPIC_PINS - 1u) << 16) | 0x11u)

/* Offsets in the page. */
#define IOAPIC_IOREGSEL 0x00
#define IOAPIC_IOWIN 0x10

/* Register indices behind IOREGSEL. */
#define IOAPIC_REG_ID 0x00
#define IOAPIC_REG_VERSION 0x01
#define IOAPIC_REG_ARBITRATION 0x02
#define IOAPIC_REG_REDIR 0x10	/* entry n: low dword 0x10 + 2n, high 0x11 + 2n */

/* Redirection entry fields. */
#define IOAPIC_VECTOR_MASK	0xffull
#define IOAPIC_DM_SHIFT		8
#define IOAPIC_DM_MASK		(7ull << IOAPIC_DM_SHIFT)
#define IOAPIC_DM_FIXED		(0ull << IOAPIC_DM_SHIFT)
#define IOAPIC_DM_LOWEST	(1ull << IOAPIC_DM_SHIFT)
#define IOAPIC_DM_SMI		(2ull << IOAPIC_DM_SHIFT)
#define IOAPIC_DM_NMI		(4ull << IOAPIC_DM_SHIFT)
#define IOAPIC_DM_INIT		(5ull << IOAPIC_DM_SHIFT)
#define IOAPIC_DM_EXTINT	(7ull << IOAPIC_DM_SHIFT)
#define IOAPIC_DEST_LOGICAL	(1ull << 11)
#define IOAPIC_DELIVERY_STATUS	(1ull << 12)
#define IOAPIC_POLARITY_LOW	(1ull << 13)
#define IOAPIC_REMOTE_IRR	(1ull << 14)
#define IOAPIC_LEVEL_TRIGGER	(1ull << 15)
#define IOAPIC_MASKED		(1ull << 16)
#define IOAPIC_DEST_SHIFT	56

/* Where an interrupt message goes: true if a local APIC accepted it.
 * lowest: the entry's delivery mode is lowest priority (one of the CPUs
 * the destination names takes it) rather than fixed (every one does). */
typedef bool (*ioapic_deliver_fn)(void *opaque, uint8_t vector, bool level, uint8_t dest,
				  bool logical, bool lowest);

struct ioapic {
	uint8_t regsel;
	uint32_t id;		/* register value: ID in bits 24-27 */
	uint32_t arbitration;	/* loaded from the ID whenever the ID is written */
	uint64_t redir[IOAPIC_PINS];
	uint32_t pins;		/* electrical level of each input as last driven */
	ioapic_deliver_fn deliver;
	void *opaque;
	/* NMI messages, to the same opaque (optional: without it they are
	 * ignored). True if a local APIC took it. */
	bool (*deliver_nmi)(void *opaque, uint8_t dest, bool logical);
	/* Messages accepted, messages refused by every local APIC, and
	 * deliveries skipped for a delivery mode this machine does not have. */
	uint64_t delivered, refused, ignored;
};

/* The reset state: ID 0, every entry masked (0x10000) and otherwise clear,
 * every pin at level 0. The board may set `id` afterwards to match its
 * MADT (and `arbitration` with it). */
void ioapic_init(struct ioapic *ioapic, ioapic_deliver_fn deliver, void *opaque);
int ioapic_attach(struct ioapic *ioapic, struct bus *bus, uint64_t base);
/* Drives input pin (0 to IOAPIC_PINS-1) to an electrical level. */
void ioapic_set_irq(struct ioapic *ioapic, unsigned pin, int level);
/* The same with struct irq_line's set_level shape; opaque is the ioapic. */
void ioapic_irq_line_set(void *opaque, unsigned line, int level);
/* An EOI for vector: clears Remote IRR of the level entries with that
 * vector and delivers again those whose pin is still asserted. */
void ioapic_eoi(struct ioapic *ioapic, uint8_t vector);
/* The same shaped as struct lapic's eoi_broadcast; opaque is the ioapic. */
void ioapic_eoi_broadcast(void *opaque, uint8_t vector);

struct snap_writer;
struct snap_reader;
/* Snapshots (host/snapfile.h): section "IOAP", the redirection table and
 * the pins' levels. */
void ioapic_save(const struct ioapic *ioapic, struct snap_writer *w);
int ioapic_load(struct ioapic *ioapic, struct snap_reader *r);

#endif
