/* The MC146818 real-time clock and its CMOS memory at ports 0x70-0x71: the
 * time of day and calendar, the alarm, the periodic and update-ended
 * interrupts on IRQ 8 through a struct irq_line, the NMI mask bit that
 * PCs put on port 0x70, and the battery-backed bytes whose meaning comes
 * from PC firmware (memory size, equipment, shutdown status), which the
 * board fills with mc146818_set_cmos() and mc146818_set_memory_size().
 *
 * Time is virtual, as for the PIT: the device never reads a host clock.
 * Entry points take now_ns from the caller's monotonic nanosecond clock
 * and the register handlers, which the bus calls without a time, ask the
 * clock_ns callback given to mc146818_init(). The 32.768 kHz divider chain has
 * its ticks at fixed points of that clock, so the once-a-second update
 * cycles and the periodic interrupt never drift however often the caller
 * looks. The time of day starts from the epoch_seconds given to
 * mc146818_init() (UTC; the guest sees UTC) and counts whole seconds from
 * there; a guest that writes the clock registers moves it, and the
 * update cycles carry on from what it wrote. The board moves it with
 * mc146818_move_time() when guest time stood still while the host's did
 * not.
 *
 * IRQ 8 as the PIC sees it: the line is raised when a flag of register C
 * whose enable bit in register B is on gets set, and lowered when the
 * guest reads register C, which clears the flags. While the line is up
 * nothing new can reach the (edge-triggered) PIC, so mc146818_next_event_ns()
 * has no deadline until the guest reads C. The caller runs mc146818_update() at
 * or after mc146818_next_event_ns(); periods of the periodic interrupt that
 * end while PF is still set (the caller was late, or the guest has not
 * read C yet) are counted as lost, or with irq_backlog_max_ns set queued
 * and delivered after the guest reads C (mc146818_drop_backlog() is for a
 * masked IRQ 8).
 *
 * Daylight saving (register B bit 0) is stored and ignored, and the square
 * wave output is connected to nothing. There is no locking: the caller
 * serializes every entry point and register access, and the callbacks run
 * under that serialization. */
#ifndef BTVM_DEVICES_MC146818_H
#define BTVM_DEVICES_MC146818_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/irq.h"

#define RTC_PORT 0x70
#define RTC_IRQ 8
#define RTC_CMOS_SIZE 128
#define RTC_FREQUENCY_HZ 32768u

struct mc146818 {
	/* Every CMOS byte but registers C and D. The clock bytes (0, 2, 4,
	 * 6-9 and the century at 0x32) show the time as of divider tick
	 * last_tick; they are brought forward whenever someone looks. */
	uint8_t cmos[RTC_CMOS_SIZE];
	uint8_t index;		/* port 0x70 bits 6-0: the byte port 0x71 reaches */
	bool nmi_masked;	/* port 0x70 bit 7 as last written */
	uint8_t flags;		/* register C: IRQF, PF, AF, UF */
	struct irq_line irq;	/* IRQ 8 */
	bool irq_level;		/* what the line was last driven to */
	/* The divider chain stood at origin_tick at origin_ns, and stays
	 * there while register A stops it. */
	uint64_t origin_ns, origin_tick;
	uint64_t last_tick;	/* update cycles and flags are done up to here */
	uint64_t next_tick;	/* next tick that raises IRQ 8, or UINT64_MAX */
	uint64_t (*clock_ns)(void *opaque);
	void *clock_opaque;
	/* Optional, set after mc146818_init(): called with clock_opaque when a
	 * register access or board call moved mc146818_next_event_ns() (reading
	 * register C, enabling an interrupt, changing the rate), so a board
	 * sleeping until the old deadline can re-arm its timer. */
	void (*deadline_changed)(void *opaque);
	/* Optional, set after mc146818_init(): called with clock_opaque when
	 * a write to port 0x70 changed bit 7, which gates the chipset's NMI
	 * sources on a PC (the board's, not the clock's). */
	void (*nmi_mask_changed)(void *opaque);
	/* Set after mc146818_init() (0: none): periods of the periodic interrupt
	 * that found PF still set are delivered later, as far as
	 * irq_backlog_max_ns of them, each at least irq_min_interval_ns after
	 * the guest read C (so that a guest the host stalled still counts
	 * every tick); rates faster than that are not queued. */
	uint64_t irq_min_interval_ns, irq_backlog_max_ns;
	uint32_t pf_backlog;	/* periods waiting for PF */
	uint64_t pf_hold_tick;	/* not before this tick */
	/* Times IRQ 8 was raised, and periods of the periodic interrupt,
	 * while it was enabled, that found PF still set from an earlier one
	 * and were not queued. */
	uint64_t irqs, lost_irqs;
};

/* Forgets the periods queued for late delivery: IRQ 8 is masked where it
 * goes, so they would never have been taken (the caller tells). */
void mc146818_drop_backlog(struct mc146818 *rtc);
/* Powers the clock on at epoch_seconds (UTC unix time) as a PC BIOS leaves
 * it: register A 0x26 (32.768 kHz, 1024 Hz rate, interrupts off), register
 * B 0x02 (24-hour BCD), the other CMOS bytes zero. The clock is read once
 * here: that instant is epoch_seconds, and the first update cycle comes
 * one second later. */
void mc146818_init(struct mc146818 *rtc, const struct irq_line *irq8, int64_t epoch_seconds,
		   uint64_t (*clock_ns)(void *opaque), void *clock_opaque);
/* Ports 0x70-0x71. */
int mc146818_attach(struct mc146818 *rtc, struct bus *bus);
/* Runs the update cycles and periodic ticks up to now_ns and delivers what
 * they raise on IRQ 8. */
void mc146818_update(struct mc146818 *rtc, uint64_t now_ns);
/* When mc146818_update() next has an interrupt to raise: now_ns if one is
 * already due, UINT64_MAX if no enabled source will raise IRQ 8 (none is
 * enabled, the divider is stopped, or the line is still up waiting for the
 * guest to read register C). */
uint64_t mc146818_next_event_ns(const struct mc146818 *rtc, uint64_t now_ns);
/* The chip's RESET pin, for a board that ties it to system reset:
 * interrupt enables, SQWE and the flags are cleared and IRQ 8 drops; the
 * time, the rate, the format and the memory bytes stay, as the chip is
 * battery-backed (so a board reset should call this, not mc146818_init()). */
void mc146818_reset(struct mc146818 *rtc, uint64_t now_ns);
/* The time of day moved by delta_ns (forward, or back when negative) at
 * now_ns, as the board does when the guest's time stood still while the
 * host's went on (a pause, a snapshot on disk): the clock bytes and the
 * divider's phase within the second both move, so the clock stays as far
 * from the host's as it was. Seconds skipped forward set UF, and AF when
 * the alarm was among them (IRQ 8 if enabled), as the update cycles would
 * have; periodic ticks are not made up. A clock the guest stopped
 * (register A's divider) or holds with SET stays as it is. */
void mc146818_move_time(struct mc146818 *rtc, uint64_t now_ns, int64_t delta_ns);
/* Stores CMOS byte index (0-127) as firmware would: like a guest write to
 * port 0x71, except that bytes 0x10-0x2d also update the standard checksum
 * at 0x2e-0x2f that firmware keeps over them. */
void mc146818_set_cmos(struct mc146818 *rtc, unsigned index, uint8_t value);
/* Fills the bytes PC firmware reports memory and equipment in: base memory
 * (640 KiB) at 0x15-0x16, KiB above 1 MiB at 0x17-0x18 and 0x30-0x31
 * (at most 0xffff), 64 KiB units above 16 MiB at 0x34-0x35 (at most
 * 0xffff), no floppy at 0x10 and the equipment byte at 0x14 (coprocessor,
 * no floppy). */
void mc146818_set_memory_size(struct mc146818 *rtc, uint64_t ram_bytes);
/* RAM from 4 GiB up, in 64 KiB units at 0x5b-0x5d, low byte first (at
 * most 0xffffff), where QEMU's pc puts it and SeaBIOS reads it when
 * fw_cfg has no e820 table; outside the checksummed range. */
void mc146818_set_memory_above_4g(struct mc146818 *rtc, uint64_t bytes);

struct snap_writer;
struct snap_reader;
/* Snapshots (host/snapfile.h): section "RTC ", CMOS and the divider chain
 * (guest time, so the clock carries on from the saved moment). */
void mc146818_save(const struct mc146818 *rtc, struct snap_writer *w);
int mc146818_load(struct mc146818 *rtc, struct snap_reader *r);

#endif
