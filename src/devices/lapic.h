/* A virtual CPU's local APIC, in xAPIC mode only (no
 * x2APIC): its 4 KiB register page, the IA32_APIC_BASE MSR, fixed-interrupt
 * acceptance (IRR, ISR, TMR, TPR, PPR), EOI with the broadcast that lets an
 * I/O APIC clear Remote IRR, IPIs through the ICR (to itself, or through
 * the board's ipi callback to every CPU), the error status
 * register and error LVT, and the LVT timer in one-shot and periodic modes.
 * What the CPU does with an interrupt, the 8259's INTR and how the MSR is
 * reached stay with the board; see "Wiring" below.
 *
 * The register set is a Pentium 4-class integrated APIC: version 0x14 with
 * six LVT entries (timer, thermal, performance counters, LINT0, LINT1,
 * error), so the version register reads 0x00050014. There is no LVT CMCI
 * (0x2F0 is a reserved offset), no TSC-deadline mode (bit 18 of the LVT
 * timer is reserved and reads 0, so mode 10 written by a guest becomes
 * one-shot), and no EOI-broadcast suppression (version bit 24 clear, SVR bit
 * 12 reserved). Thermal and performance-counter LVTs hold what is written
 * but no source ever fires them. LINT0 and LINT1 take edges through
 * lapic_set_lint(): in NMI delivery mode (either pin; edge whatever the
 * trigger bit) an unmasked pin's rising edge is an NMI, as are NMI IPIs
 * and I/O APIC NMI messages; the NMI itself is the CPU's (the nmi
 * callback), never held in IRR. In fixed mode LINT1's rising edge
 * requests its vector. ExtINT on LINT0 works through lapic_accepts_pic().
 *
 * Time is virtual, as for the 8254: the timer's bus clock runs at
 * LAPIC_BUS_HZ from time 0 of the caller's nanosecond clock, entry points
 * take now_ns, and register handlers (called by the bus without a time) ask
 * the clock_ns callback given to lapic_init(). Periodic expiries sit at
 * fixed multiples of the period from where counting started, so nothing
 * drifts however late the caller looks; if several periods went by between
 * two lapic_update() calls one interrupt is delivered and the rest are
 * counted as lost. Two knobs change that in periodic mode:
 * irq_min_interval_ns (interrupts no closer together than that, faster
 * expiries coalesced) and irq_backlog_max_ns (late expiries queued and
 * delivered one per holdoff instead of lost).
 *
 * MMIO: only aligned 32-bit registers exist (each at the start of a 16-byte
 * slot). A read of any width returns the bytes of the containing dword from
 * the byte addressed on (bytes past that dword read as 0), so byte reads of
 * a register work; the other 12 bytes of each slot read 0. Writes that are
 * not a 32-bit access at a register's offset are ignored, since the SDM
 * leaves them undefined and EOI and ICR writes have side effects. Accesses
 * to a reserved slot below 0x400 set ESR bit 7 (illegal register address);
 * the rest of the page reads 0 and ignores writes. While the APIC is
 * hardware-disabled (IA32_APIC_BASE bit 11 clear) the page is not decoded:
 * reads return all ones and writes are dropped. Every access first
 * delivers the timer expiries already due (lapic_update() at the clock's
 * now), so a guest polling IRR or the current count sees them.
 *
 * Wiring (the board):
 * - lapic_init(), then lapic_virtual_wire() to leave the APIC as a PC BIOS
 *   does (software-enabled, LINT0 ExtINT, LINT1 NMI), so guests that only
 *   know the 8259 keep getting its interrupts; lapic_attach() at
 *   LAPIC_DEFAULT_BASE.
 * - Interrupt priority at an instruction boundary: lapic_has_interrupt()
 *   first (lapic_acknowledge() for the vector), otherwise, if
 *   lapic_accepts_pic(), the 8259's INTR (pic8259_acknowledge()). ExtINT
 *   bypasses IRR/ISR/TPR, as on hardware.
 * - Timer: call lapic_update(now) wherever the PIT's pit8254_update() is called,
 *   and fold lapic_next_event_ns() into the host timer deadline (and into
 *   the HLT sleep); deadline_changed asks for a re-arm.
 * - output_changed (level 1) asks for the vCPU's attention.
 * - IA32_APIC_BASE reads and writes go to lapic_get_base_msr() and
 *   lapic_set_base_msr() (-1 means #GP(0)); CPUID.1:EDX bit 9 should follow
 *   lapic_hw_enabled().
 * - An I/O APIC's deliver callback can be lapic_deliver_message with the
 *   lapic as opaque; eoi_broadcast can be ioapic_eoi_broadcast with the
 *   I/O APIC as eoi_opaque.
 *
 * There is no locking: the caller serializes every entry point and register
 * access, and the callbacks run under that serialization (and may call back
 * into this APIC, e.g. an EOI broadcast re-delivering a level interrupt). */
#ifndef BTVM_DEVICES_LAPIC_H
#define BTVM_DEVICES_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/bus.h"

#define LAPIC_DEFAULT_BASE 0xfee00000u
#define LAPIC_MMIO_SIZE 0x1000u
#define LAPIC_MSR_APIC_BASE 0x1bu
/* The timer's input clock before the divider. Real parts use the bus or
 * core crystal clock; 100 MHz gives whole 10 ns steps, which keeps the
 * arithmetic exact, and is in the range Linux expects to calibrate. */
#define LAPIC_BUS_HZ 100000000u
#define LAPIC_VERSION 0x00050014u

/* IA32_APIC_BASE bits. */
#define LAPIC_BASE_BSP		(1u << 8)
#define LAPIC_BASE_X2APIC	(1u << 10)
#define LAPIC_BASE_ENABLE	(1u << 11)

/* Register offsets in the page. */
enum lapic_reg {
	LAPIC_ID = 0x20,
	LAPIC_VER = 0x30,
	LAPIC_TPR = 0x80,
	LAPIC_APR = 0x90,
	LAPIC_PPR = 0xa0,
	LAPIC_EOI = 0xb0,
	LAPIC_RRD = 0xc0,
	LAPIC_LDR = 0xd0,
	LAPIC_DFR = 0xe0,
	LAPIC_SVR = 0xf0,
	LAPIC_ISR = 0x100,	/* 8 registers, 0x10 apart */
	LAPIC_TMR = 0x180,
	LAPIC_IRR = 0x200,
	LAPIC_ESR = 0x280,
	LAPIC_ICR_LO = 0x300,
	LAPIC_ICR_HI = 0x310,
	LAPIC_LVT_TIMER = 0x320,
	LAPIC_LVT_THERMAL = 0x330,
	LAPIC_LVT_PERF = 0x340,
	LAPIC_LVT_LINT0 = 0x350,
	LAPIC_LVT_LINT1 = 0x360,
	LAPIC_LVT_ERROR = 0x370,
	LAPIC_TIMER_INITIAL = 0x380,
	LAPIC_TIMER_CURRENT = 0x390,
	LAPIC_TIMER_DIVIDE = 0x3e0,
};

/* LVT and ICR fields. */
#define LAPIC_VECTOR_MASK	0xffu
#define LAPIC_DM_SHIFT		8
#define LAPIC_DM_MASK		(7u << LAPIC_DM_SHIFT)
#define LAPIC_DM_FIXED		(0u << LAPIC_DM_SHIFT)
#define LAPIC_DM_LOWEST		(1u << LAPIC_DM_SHIFT)
#define LAPIC_DM_SMI		(2u << LAPIC_DM_SHIFT)
#define LAPIC_DM_NMI		(4u << LAPIC_DM_SHIFT)
#define LAPIC_DM_INIT		(5u << LAPIC_DM_SHIFT)
#define LAPIC_DM_STARTUP	(6u << LAPIC_DM_SHIFT)
#define LAPIC_DM_EXTINT		(7u << LAPIC_DM_SHIFT)
#define LAPIC_DEST_LOGICAL	(1u << 11)
#define LAPIC_DELIVERY_STATUS	(1u << 12)
#define LAPIC_LVT_POLARITY_LOW	(1u << 13)
#define LAPIC_LVT_REMOTE_IRR	(1u << 14)
#define LAPIC_ICR_LEVEL_ASSERT	(1u << 14)
#define LAPIC_LEVEL_TRIGGER	(1u << 15)
#define LAPIC_LVT_MASKED	(1u << 16)
#define LAPIC_TIMER_PERIODIC	(1u << 17)
#define LAPIC_ICR_SHORTHAND_SHIFT 18
#define LAPIC_ICR_SELF		(1u << LAPIC_ICR_SHORTHAND_SHIFT)
#define LAPIC_ICR_ALL_INCL_SELF	(2u << LAPIC_ICR_SHORTHAND_SHIFT)
#define LAPIC_ICR_ALL_BUT_SELF	(3u << LAPIC_ICR_SHORTHAND_SHIFT)

#define LAPIC_SVR_ENABLE	(1u << 8)

/* ESR bits this APIC reports. */
#define LAPIC_ESR_SEND_ILLEGAL_VECTOR	(1u << 5)
#define LAPIC_ESR_RECV_ILLEGAL_VECTOR	(1u << 6)
#define LAPIC_ESR_ILLEGAL_REGISTER	(1u << 7)

enum lapic_lvt {
	LAPIC_LVT_INDEX_TIMER,
	LAPIC_LVT_INDEX_THERMAL,
	LAPIC_LVT_INDEX_PERF,
	LAPIC_LVT_INDEX_LINT0,
	LAPIC_LVT_INDEX_LINT1,
	LAPIC_LVT_INDEX_ERROR,
	LAPIC_LVT_COUNT,
};

struct lapic {
	uint64_t base_msr;
	uint32_t id;		/* register value: APIC ID in bits 24-31 */
	uint8_t apic_id;	/* the ID power-up and INIT give it (lapic_set_apic_id) */
	uint32_t tpr;
	uint32_t ldr, dfr;
	uint32_t svr;
	uint32_t irr[8], isr[8], tmr[8];	/* bit v%32 of word v/32 */
	uint32_t esr;		/* what reads show: errors latched by the last write */
	uint32_t esr_pending;	/* errors seen since the last ESR write */
	uint32_t icr_lo, icr_hi;
	uint32_t lvt[LAPIC_LVT_COUNT];
	uint32_t timer_initial;
	uint32_t timer_divide;	/* the divide configuration register */
	/* Bus clock tick at which the counter next reaches zero, or
	 * UINT64_MAX when it is not counting (initial count 0, or a one-shot
	 * that ran out). Periodic expiries follow at timer_period steps. */
	uint64_t timer_deadline;
	/* Periodic mode: expiries counted but not delivered yet, and the tick
	 * before which none is (the last delivery plus irq_min_interval_ns). */
	uint32_t timer_backlog;
	uint64_t timer_holdoff;
	uint64_t timer_recheck;	/* the last one was still in IRR: look again then */
	/* Set after lapic_init(), for periodic mode. irq_min_interval_ns (0:
	 * none) is the least time between two timer interrupts, so that a
	 * guest whose timer outruns its own handler still gets to run between
	 * them (faster expiries are coalesced). irq_backlog_max_ns (0: none)
	 * is how much of late expiries is delivered late, one per holdoff,
	 * rather than lost, so that a guest the host stalled counts every
	 * tick. The current count keeps the programmed period. */
	uint64_t irq_min_interval_ns;
	uint64_t irq_backlog_max_ns;
	bool output;		/* lapic_has_interrupt() as last reported */

	uint64_t (*clock_ns)(void *opaque);
	void *opaque;
	/* Optional, set after lapic_init(), all called with opaque:
	 * deadline_changed when a register or MSR write moved
	 * lapic_next_event_ns(), so a board sleeping until the old deadline can
	 * re-arm its timer; output_changed when lapic_has_interrupt() changes
	 * (level 1: an interrupt became deliverable). */
	void (*deadline_changed)(void *opaque);
	void (*output_changed)(void *opaque, int level);
	/* Optional: an EOI for a vector accepted as level-triggered (TMR set),
	 * for the I/O APICs' Remote IRR. */
	void (*eoi_broadcast)(void *opaque, uint8_t vector);
	void *eoi_opaque;
	/* Optional: an NMI for the CPU (called with opaque). */
	void (*nmi)(void *opaque);
	/* Optional: the other CPUs. Set, every IPI the ICR sends (a fixed
	 * or lowest-priority one with a valid vector) goes to it with the
	 * ICR's low word and its destination field, to self included; the
	 * board routes it. Unset, only this APIC can be reached. */
	void (*ipi)(void *opaque, uint32_t icr_lo, uint8_t dest);
	/* LINT0 (bit 0) and LINT1 (bit 1) as last driven, for their edges.
	 * Their drivers report changes only: LINT0's level is in the
	 * snapshot, LINT1's the board recomputes from the registers that
	 * drive it (lapic_restore_lint). */
	uint8_t lint_levels;

	/* Timer interrupts delivered, periods that went by without one (the
	 * caller looked too late), and fixed interrupts accepted in all. */
	uint64_t timer_irqs, timer_lost_irqs;
	uint64_t accepted;
	uint64_t nmis;		/* NMIs passed to the CPU */
};

/* The power-up state (SDM "Local APIC State After Power-Up or Reset"): the
 * base MSR at LAPIC_DEFAULT_BASE, enabled, BSP; ID 0; IRR, ISR, TMR, TPR,
 * ICR, LDR and the timer clear; DFR all ones; SVR 0xff (software-disabled);
 * every LVT masked. clock_ns is only read by register accesses. */
void lapic_init(struct lapic *lapic, uint64_t (*clock_ns)(void *opaque), void *opaque);
/* What a PC BIOS leaves for the OS (MP specification virtual wire mode):
 * software-enabled with spurious vector 0xff, LINT0 unmasked in ExtINT mode
 * so the 8259 keeps reaching the CPU, LINT1 unmasked in NMI mode. */
void lapic_virtual_wire(struct lapic *lapic);
/* The APIC ID hardware gives this APIC (0 for the bootstrap processor,
 * whose MSR keeps the BSP bit; others lose it), kept by resets. */
void lapic_set_apic_id(struct lapic *lapic, uint8_t apic_id);
/* An INIT (IPI or INIT#): every register to its power-up value but the
 * APIC ID and the base MSR (SDM 10.4.7.3). */
void lapic_init_signal(struct lapic *lapic);
int lapic_attach(struct lapic *lapic, struct bus *bus, uint64_t base);
/* The register page's bus handlers (opaque the lapic), for a board whose
 * CPUs each reach their own APIC at one address. */
uint64_t lapic_mmio_read(void *opaque, uint64_t offset, unsigned width);
void lapic_mmio_write(void *opaque, uint64_t offset, unsigned width, uint64_t value);

/* Delivers the timer expiries up to now_ns. */
void lapic_update(struct lapic *lapic, uint64_t now_ns);
/* When lapic_update() next has a timer interrupt to deliver: now_ns if one
 * is already due, UINT64_MAX if none can come unless a register changes
 * (counter stopped, LVT timer masked, APIC disabled). */
uint64_t lapic_next_event_ns(const struct lapic *lapic, uint64_t now_ns);

/* A fixed interrupt arriving (I/O APIC message, self-IPI, LVT): sets IRR,
 * and TMR for level-triggered ones. Dropped while the APIC is hardware- or
 * software-disabled (the vector is not accepted); vectors 0-15 are refused
 * with ESR bit 6. */
void lapic_set_irq(struct lapic *lapic, uint8_t vector, bool level_triggered);
/* The highest IRR vector's priority class beats the PPR's and the APIC is
 * enabled (hardware and software). */
bool lapic_has_interrupt(const struct lapic *lapic);
/* The INTA cycle: moves the highest IRR vector to ISR and returns it; with
 * nothing deliverable (TPR raised since, or nothing pending) returns the
 * spurious vector (SVR bits 0-7) and changes nothing. */
int lapic_acknowledge(struct lapic *lapic);
/* Whether the 8259's INTR reaches the CPU: the APIC is hardware-disabled
 * (the CPU's INTR pin is then the 8259's), or LVT LINT0 is unmasked with
 * ExtINT delivery. When software-disabled, LINT0 is forced masked, so the
 * 8259 is cut off, as on hardware. */
bool lapic_accepts_pic(const struct lapic *lapic);
/* Whether vector waits in IRR (accepted, not yet taken by the CPU). */
bool lapic_vector_pending(const struct lapic *lapic, uint8_t vector);
/* Whether a message for dest in physical (dest == APIC ID, or 0xff) or
 * logical mode (flat or cluster model per DFR, against LDR) is for this
 * APIC. A logical 0xff is taken as a broadcast too, whatever LDR holds, so
 * an OS that routes before setting LDR is not left without interrupts. */
bool lapic_matches_destination(const struct lapic *lapic, uint8_t dest, bool logical);
/* An interrupt message from an I/O APIC, shaped as its deliver callback
 * (opaque is the struct lapic): true if this APIC accepted the vector.
 * With one APIC, lowest priority and fixed are the same: lowest is
 * ignored. */
bool lapic_deliver_message(void *opaque, uint8_t vector, bool level, uint8_t dest,
			   bool logical, bool lowest);

/* An NMI message (I/O APIC redirection entry in NMI mode) for dest:
 * passed to the CPU if it is this APIC's and the APIC is hardware-enabled;
 * true then. */
bool lapic_deliver_nmi_message(void *opaque, uint8_t dest, bool logical);
/* Drives LINT0 (pin 0) or LINT1 (pin 1) to level. A rising edge on an
 * unmasked pin in NMI mode is an NMI; with the APIC hardware-disabled LINT1
 * is the CPU's NMI pin itself. A rising edge on LINT1 in fixed mode
 * requests its vector. Other delivery modes are left to their callers
 * (ExtINT: lapic_accepts_pic()). */
void lapic_set_lint(struct lapic *lapic, unsigned pin, bool level);
/* Sets a pin's level without an edge: after a restore, the level the
 * snapshot or the board's restored registers give. */
void lapic_restore_lint(struct lapic *lapic, unsigned pin, bool level);
/* Whether an edge on the pin would be an NMI now. */
bool lapic_nmi_routed(const struct lapic *lapic, unsigned pin);

bool lapic_hw_enabled(const struct lapic *lapic);
uint64_t lapic_get_base_msr(const struct lapic *lapic);
/* Returns 0, or -1 where the CPU raises #GP(0): reserved bits (0-7, 9 and
 * 32-63: the CPU has 32-bit physical addresses), the x2APIC enable bit, or
 * a base other than LAPIC_DEFAULT_BASE (relocation is not supported, so the
 * bus region never moves). Bit 8 (BSP) is read-only here. Clearing bit 11
 * disables the APIC and returns it to the power-up state, which it keeps
 * when bit 11 is set again. */
int lapic_set_base_msr(struct lapic *lapic, uint64_t value);

struct snap_writer;
struct snap_reader;
/* Snapshots (host/snapfile.h): section "LAPC" (an application
 * processor's: "LAPn", machine/board_snapshot.c), every register and the
 * timer (bus ticks of guest time). */
void lapic_save_as(const struct lapic *apic, const char *tag, struct snap_writer *w);
static inline void lapic_save(const struct lapic *apic, struct snap_writer *w)
{
	lapic_save_as(apic, "LAPC", w);
}
int lapic_load(struct lapic *apic, struct snap_reader *r);

#endif
