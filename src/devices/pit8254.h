/* The 8254 programmable interval timer at 0x40-0x43. Channel 0 drives IRQ 0
 * through a struct irq_line; channel 2's gate and output belong to port
 * 0x61, which the board owns and reaches through pit8254_set_gate() and
 * pit8254_get_output(); channel 1 (DRAM refresh) is connected to nothing.
 *
 * Time is virtual: the device never reads a host clock on its own. Every
 * entry point takes now_ns from the caller's monotonic nanosecond clock,
 * and the register handlers, which the bus calls without a time, ask the
 * clock_ns callback given to pit8254_init(). The counters run at
 * PIT_FREQUENCY_HZ, with clock edges at fixed points of that clock, so
 * nothing drifts however often the caller looks.
 *
 * IRQ 0 as the PIC sees it: in modes 0 and 1 the line follows OUT (low
 * while counting, high from terminal count on); in modes 2 to 5, whose OUT
 * is high nearly all the time, the line rests low and each rising edge of
 * OUT becomes a pulse (raised then lowered at once), so an edge-triggered
 * PIC input latches exactly one request. The caller runs pit8254_update() at
 * or after pit8254_next_event_ns(); if several periods went by in between,
 * one pulse is delivered and the rest are counted as lost, as a guest
 * would lose ticks on a busy machine. In the periodic modes two knobs
 * change that: irq_min_interval_ns (no pulse sooner than that after the
 * last, faster edges coalesced) and irq_backlog_max_ns (late edges queued
 * and delivered one per holdoff instead of lost).
 *
 * BCD counting is refused: the BCD bit of a control word is ignored,
 * counting is binary and the status byte reports binary. There is no
 * locking: the caller serializes every entry point and register access,
 * and the callbacks run under that serialization. */
#ifndef BTVM_DEVICES_PIT8254_H
#define BTVM_DEVICES_PIT8254_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/irq.h"

#define PIT_PORT 0x40
#define PIT_FREQUENCY_HZ 1193182u
#define PIT_CHANNELS 3

struct pit_channel {
	uint8_t ctrl;		/* control word bits 5-1 as written, for status */
	uint8_t mode;		/* 0-5 */
	uint8_t access;		/* 1 LSB only, 2 MSB only, 3 LSB then MSB */
	bool gate;
	bool loaded;		/* a count was written since the control word */
	bool running;		/* counting started (modes 1 and 5: triggered) */
	bool paused;		/* stopped by a low gate, at paused_elapsed */
	bool fresh;		/* count written but not yet in the counting element */
	uint32_t count;		/* count in effect, 1-65536 */
	uint32_t reload;	/* count last written, 1-65536 */
	uint64_t start_tick;	/* counter clock edge at which `count` was loaded */
	uint64_t paused_elapsed;
	uint64_t pending_tick;	/* modes 2 and 3: where reload takes over, or UINT64_MAX */
	uint16_t hold;		/* what reads show while nothing counts */
	uint8_t write_lsb;
	bool write_msb_next, read_msb_next;
	bool count_latched, status_latched;
	uint16_t latch;
	uint8_t status;
};

struct pit8254 {
	struct pit_channel ch[PIT_CHANNELS];
	struct irq_line irq;	/* channel 0's output, IRQ 0 */
	bool irq_level;		/* what the line was last driven to */
	uint64_t irq_next_tick;	/* when pit8254_update() next has a pulse to deliver */
	uint64_t irq_edge_tick;	/* next rising edge of channel 0 not yet counted */
	/* Periodic modes: edges counted but not delivered yet, and the tick
	 * before which no pulse goes out (the last plus the holdoff). */
	uint32_t irq_backlog;
	uint64_t irq_hold_tick;
	uint64_t irq_recheck_tick;	/* the last pulse was pending: look again then */
	uint64_t (*clock_ns)(void *opaque);
	void *clock_opaque;
	/* Optional, set after pit8254_init(): called with clock_opaque when a
	 * register write or gate change moved pit8254_next_event_ns(), so a
	 * board sleeping until the old deadline can re-arm its timer. */
	void (*deadline_changed)(void *opaque);
	/* Set after pit8254_init(), for the periodic modes. irq_min_interval_ns
	 * (0: none) is the least time between two IRQ 0 pulses, so that a
	 * guest whose timer outruns its own interrupt handler still gets to
	 * run between them. irq_backlog_max_ns (0: none) is how much of late
	 * edges is delivered late rather than lost, one pulse per holdoff, so
	 * that a guest the host stalled counts every tick (the tick-counting
	 * clocks of PC OSes: jiffies). Counter reads are not affected. */
	uint64_t irq_min_interval_ns;
	uint64_t irq_backlog_max_ns;
	/* Optional, with a backlog: whether the last pulse still waits where
	 * it went (the 8259's IRR, the local APIC's through the I/O APIC),
	 * called with clock_opaque. */
	bool (*irq_pending)(void *opaque);
	/* IRQ 0 pulses delivered, and periods that went by without one. */
	uint64_t irqs, lost_irqs;
};

/* Leaves the timer as a PC BIOS does: channel 0 in mode 3 with count 65536
 * (18.2 Hz), channel 1 in mode 2 with count 18, channel 2 unprogrammed
 * with its gate low; the gates of channels 0 and 1 are wired high. The
 * clock is read once here for the starting time. */
void pit8254_init(struct pit8254 *pit, const struct irq_line *irq0,
		  uint64_t (*clock_ns)(void *opaque), void *clock_opaque);
int pit8254_attach(struct pit8254 *pit, struct bus *bus);
/* Delivers what channel 0 did up to now_ns on IRQ 0. */
void pit8254_update(struct pit8254 *pit, uint64_t now_ns);
/* Forgets the edges queued for late delivery: IRQ 0 is masked where it
 * goes, so they would never have been taken (the caller tells). */
void pit8254_drop_backlog(struct pit8254 *pit);
/* The CPU took IRQ 0 (its INTA cycle): a queued edge held back for it
 * may go out now rather than at its next look. */
void pit8254_irq_taken(struct pit8254 *pit);
/* When pit8254_update() next has an IRQ 0 edge to deliver: now_ns if one is
 * already due, UINT64_MAX if channel 0 will not raise IRQ 0 again unless
 * reprogrammed. */
uint64_t pit8254_next_event_ns(const struct pit8254 *pit, uint64_t now_ns);
/* The GATE input of channel ch (port 0x61 bit 0 drives channel 2). */
void pit8254_set_gate(struct pit8254 *pit, unsigned ch, int level, uint64_t now_ns);
/* The OUT pin of channel ch (port 0x61 bit 5 shows channel 2). */
int pit8254_get_output(const struct pit8254 *pit, unsigned ch, uint64_t now_ns);

struct snap_writer;
struct snap_reader;
/* Snapshots (host/snapfile.h): section "PIT ", every channel and the IRQ 0
 * bookkeeping (times are guest ticks, so they carry on with guest time). */
void pit8254_save(const struct pit8254 *pit, struct snap_writer *w);
int pit8254_load(struct pit8254 *pit, struct snap_reader *r);

#endif
