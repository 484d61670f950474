/* The HPET (IA-PC High Precision Event Timers, Intel's specification
 * 1.0a) as a PC chipset has it at 0xfed00000, with the legacy interrupt
 * multiplexer beside it: one 64-bit main counter at 100 MHz and three
 * comparators, as QEMU's hpet (what Linux and SeaBIOS are used to).
 *
 * Registers (1 KiB of MMIO, every width at every offset: an access is cut
 * into the 64-bit registers it covers, so a 32-bit guest reads the main
 * counter as two dwords):
 *   0x000 GCAP_ID   rev 1, 3 timers, 64-bit counter, legacy route
 *                   capable, vendor 8086, COUNTER_CLK_PERIOD 10^7 fs
 *   0x010 GEN_CONF  ENABLE_CNF (bit 0: the counter runs, timers may
 *                   interrupt), LEG_RT_CNF (bit 1)
 *   0x020 GINTR_STA a level-triggered timer's bit, set when it fires,
 *                   write 1 to clear (which lowers its line)
 *   0x0f0 MAIN_CNT  reads the counter; a write sets it (the
 *                   specification wants it halted first; here it is
 *                   taken either way)
 *   0x100 + 0x20 n  Tn_CONF_CAP: INT_TYPE (1 level), INT_ENB, TYPE (1
 *                   periodic), VAL_SET, 32MODE, INT_ROUTE; read-only
 *                   PER_INT_CAP and SIZE_CAP (every timer is periodic
 *                   and 64-bit capable), no FSB delivery, INT_ROUTE_CAP
 *                   I/O APIC pins 20-23 (HPET_ROUTE_CAP)
 *   0x108 + 0x20 n  Tn_COMPARATOR; in periodic mode a write sets the
 *                   period, and also the comparator while VAL_SET is on
 *                   (VAL_SET then clears), as QEMU does
 *   0x110 + 0x20 n  Tn_FSB_INT_ROUTE: stored, unused
 *
 * A timer fires when the counter (its low 32 bits in 32-bit mode) comes
 * to the comparator's value; a periodic one then adds its period to the
 * comparator until it lies ahead; a one-shot one in 32-bit mode also
 * fires when the counter's low 32 bits wrap round (the specification's
 * 2.3.9.2.1; QEMU's only where the match lies past the wrap). Linux's
 * one-shot clock events run in that mode and take one more interrupt per
 * 43 s. Time it missed (a host stall) gives one interrupt, not one per
 * period. Interrupts: with LEG_RT_CNF timer 0 is
 * ISA IRQ 0 (8259 input 0, I/O APIC pin 2) and timer 1 ISA IRQ 8, and
 * the PIT's and the RTC's outputs are cut off from those lines (the
 * multiplexer: they come in through hpet_isa_input); otherwise a timer
 * drives the I/O APIC pin INT_ROUTE names, active low as the PCI lines
 * that share pins 20-23 on Intel's ICH. Edge-triggered timers pulse their
 * line; level-triggered ones set their GINTR_STA bit (also with INT_ENB
 * clear) and hold the line while INT_ENB is set, until the bit is
 * cleared. Disabling the HPET releases every line.
 *
 * The counter is the board's guest time (clock_ns) in 10 ns steps: it
 * stands still while the machine is paused and keeps step with the TSC
 * and the PM timer. Like the other timer devices, the caller runs
 * hpet_update() at or after hpet_next_event_ns() and on every access;
 * periodic timers faster than min_interval_ns interrupt at that pace. */
#ifndef BTVM_DEVICES_HPET_H
#define BTVM_DEVICES_HPET_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/bus.h"

#define HPET_BASE 0xfed00000u
#define HPET_MMIO_LEN 0x400u
#define HPET_TIMERS 3
#define HPET_PERIOD_FS 10000000u	/* 10 ns: 100 MHz */
#define HPET_TICK_NS 10u
/* The I/O APIC pins a timer may be routed to (INT_ROUTE_CAP). */
#define HPET_ROUTE_CAP 0x00f00000u
#define HPET_VENDOR_INTEL 0x8086u

/* Register offsets and bits the board and tests name. */
#define HPET_REG_CAP 0x000
#define HPET_REG_CONFIG 0x010
#define HPET_REG_STATUS 0x020
#define HPET_REG_COUNTER 0x0f0
#define HPET_REG_TIMER(n) (0x100u + 0x20u * (n))
#define HPET_CFG_ENABLE 0x1u
#define HPET_CFG_LEGACY 0x2u

struct hpet_timer {
	uint64_t config;	/* the writable bits; capabilities are added on reads */
	uint64_t cmp, period;
	uint64_t fsb;
	uint64_t last_fire_ns;	/* guest time of its last interrupt */
};

struct hpet {
	uint64_t config;	/* GEN_CONF */
	uint64_t isr;		/* GINTR_STA */
	/* The counter is count_base + (now - ns_base) / HPET_TICK_NS while
	 * enabled, count_base while halted. */
	uint64_t count_base, ns_base;
	uint64_t seen_count;	/* the counter at the last hpet_update */
	struct hpet_timer timer[HPET_TIMERS];
	/* The PIT's and the RTC's outputs (hpet_isa_input) and the levels
	 * last driven on ISA IRQ 0 and 8 and on pins 20-23 (electrical,
	 * active low). */
	bool pit_in, rtc_in;
	bool isa_out[2];
	uint8_t pins_out;	/* bit n: pin 20 + n is high */
	uint64_t min_interval_ns;
	/* Every callback gets opaque. set_isa_irq drives an ISA line (both
	 * interrupt controllers), set_ioapic_pin an I/O APIC pin alone. */
	uint64_t (*clock_ns)(void *opaque);
	void (*set_isa_irq)(void *opaque, unsigned irq, int level);
	void (*set_ioapic_pin)(void *opaque, unsigned pin, int level);
	/* A register write moved hpet_next_event_ns(). */
	void (*deadline_changed)(void *opaque);
	void *opaque;
	uint64_t interrupts;	/* interrupts raised, for --stats */
};

/* Power-on state, the callbacks set, PIT and RTC inputs low, nothing
 * driven yet. */
void hpet_init(struct hpet *hpet, uint64_t (*clock_ns)(void *opaque),
	       void (*set_isa_irq)(void *opaque, unsigned irq, int level),
	       void (*set_ioapic_pin)(void *opaque, unsigned pin, int level), void *opaque);
/* A machine reset: registers to their defaults (counter 0, halted,
 * legacy routing off, every timer off); the PIT and RTC inputs pass
 * through again; pins 20-23 idle high. */
void hpet_reset(struct hpet *hpet);
/* Claims HPET_MMIO_LEN bytes of MMIO at base. */
int hpet_attach(struct hpet *hpet, struct bus *bus, uint64_t base);
/* The PIT's (line 0) or the RTC's (line 8) interrupt output: an irq_line
 * callback whose opaque is the hpet. */
void hpet_isa_input(void *opaque, unsigned line, int level);
/* Fires the timers whose comparators the counter reached by now_ns. */
void hpet_update(struct hpet *hpet, uint64_t now_ns);
/* The earliest moment a timer with INT_ENB interrupts; UINT64_MAX for
 * none. Timer n's alone with hpet_timer_next_event_ns. */
uint64_t hpet_next_event_ns(const struct hpet *hpet, uint64_t now_ns);
uint64_t hpet_timer_next_event_ns(const struct hpet *hpet, unsigned n, uint64_t now_ns);
/* Where timer n's interrupt goes: *isa_irq 0 or 8 under legacy routing
 * (true), else the I/O APIC pin in *pin (false). */
bool hpet_timer_route(const struct hpet *hpet, unsigned n, unsigned *isa_irq, unsigned *pin);
static inline bool hpet_legacy(const struct hpet *hpet)
{
	return (hpet->config & HPET_CFG_LEGACY) != 0;
}
/* GCAP_ID, for the ACPI table's event timer block ID. */
uint64_t hpet_capabilities(void);
/* The main counter at now_ns. */
uint64_t hpet_counter(const struct hpet *hpet, uint64_t now_ns);

struct snap_writer;
struct snap_reader;
/* Snapshots (host/snapfile.h): section "HPET". */
void hpet_save(const struct hpet *hpet, struct snap_writer *w);
int hpet_load(struct hpet *hpet, struct snap_reader *r);

#endif
