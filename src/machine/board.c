/* Wires the PC together: guest RAM, the bus and every device on it, the
 * guest loader, and the run loop. Only this file knows the PC's port map. */
#define _GNU_SOURCE
#include "machine/board.h"
#include "frontend/board_explain.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "boot/acpi.h"
#include "boot/boot.h"
#include "boot/mptable.h"
#include "boot/pci_firmware.h"
#include "frontend/gdbstub.h"
#include "frontend/migration.h"
#include "frontend/monitor.h"
#include "host/clock.h"
#include "host/console.h"
#include "host/map_limit.h"
#include "host/outfile.h"
#include "host/thread.h"
#include "isa/cpuid.h"
#include "isa/sensitive.h"

#define COM1_PORT 0x3f8
#define COM1_IRQ 4
#define PIT_IRQ 0
#define CASCADE_IRQ 2
#define POST_PORT 0x80
#define PCI_DISPLAY_DEVFN 0x10  /* 00:02.0, where QEMU puts its VGA */
#define PCI_DISK_SLOT 4         /* disks at 00:04.0 on */
#define PCI_NET_SLOT 3          /* the network card at 00:03.0, where QEMU puts its first */
/* The ISA IRQs the firmware routes PCI's PIRQ lines to (A, B: 10; C, D:
 * 11; pci_firmware_config_default). */
#define PCI_IRQ_A 10
#define PCI_IRQ_B 11
#define PORT_B 0x61        /* system control port B: PIT channel 2, speaker */
/* How soon to look again when the UART had no room for console input. */
#define RX_RETRY_NS 1000000ull
/* The guest time the guest runs at least between two runs of the
 * monitor's commands while some wait: a client that floods the monitor
 * slows the guest down by half at most (monitor_run_pending's batch is as
 * long at most). */
#define MONITOR_SLICE_NS 2000000ull
/* How often a paused machine looks at its window. */
#define PAUSED_POLL_NS 20000000ull
/* How often self-checking code pages get their write protection back. */
#define REPROTECT_NS 100000000ull
/* The least time between two periodic timer interrupts (PIT, local APIC).
 * An interrupt costs the guest its handler plus the monitor's round trip
 * (host timer signal, the poll fault, delivery, the EOI and IRET
 * callouts): 5-30 us depending on the host. A guest whose timer period is
 * shorter than that would only ever run its handler, so faster periodic
 * timers are coalesced to one interrupt per 100 us (10 kHz): at most a
 * few tenths of the guest's time go to interrupts, however fast the timer
 * was programmed. Counter reads keep the programmed rate, and every rate
 * a PC OS uses for its tick (up to the RTC's 8 kHz) is untouched. KVM
 * clamps periodic timers the same way (min_timer_period_us, 200 us). */
#define TIMER_IRQ_MIN_INTERVAL_NS 100000ull
/* Periodic timer interrupts (PIT, local APIC, RTC) that came due while
 * the guest could not take them (a host stall it saw, or the previous one
 * not acknowledged yet) are delivered late, one per holdoff, rather than
 * lost, up to this much of them: PC OSes count ticks (Linux's jiffies,
 * which its clocksource watchdog checks the TSC against), as KVM's PIT
 * reinjects lost ticks and QEMU's RTC slews. Past it they are lost. */
#define TIMER_IRQ_BACKLOG_MAX_NS 1000000000ull

/* ------------------------------------------------------------ guest time
 *
 * Every guest clock reads one host counter: the host TSC when it runs at a
 * constant rate (the guest's RDTSC is that counter less cpu->tsc_offset,
 * inline in translated code), else CLOCK_MONOTONIC in ns (RDTSC is then a
 * callout, a 1 GHz TSC). Guest time in ns, which the PIT, the PM timer,
 * the RTC and the local APIC timer all count from, is that same counter
 * scaled by its rate, read at the moment of each access. So the TSC and
 * every device advance together whatever the host does between two reads:
 * a vCPU thread the host deschedules finds all of them moved on by the
 * same amount, as after an SMI on hardware. (Two host clocks would part:
 * CLOCK_MONOTONIC is slewed by NTP, the TSC is not.)
 *
 * What a stall still does to a guest: a PIT countdown that ends inside it
 * measures long against the PM timer, which Linux's 20 ms PM-timer check
 * then rejects. Hiding stalls from the guest would take the inline RDTSC
 * clamped to a ceiling the monitor moves (a signal cannot tell whether the
 * guest read the TSC between the end of a stall and its handler on a host
 * that is itself a VM). What would make that harmful is handled instead:
 * the ticks that came due during the stall are delivered late, not lost
 * (TIMER_IRQ_BACKLOG_MAX_NS), so the jiffies Linux's clocksource watchdog
 * then checks the TSC against still agree with it, the TSC stays its
 * clocksource, and its clock keeps up with the host's. */
#define NS_PER_SEC 1000000000ull
/* The TSC rate: a first estimate against CLOCK_MONOTONIC at start-up,
 * refined over the whole run every second, so that guest time keeps up
 * with the host's (NTP slewing included). A refinement moves the rate by
 * parts per million, far below what a guest's clock cross-checks see. */
#define CLOCK_CALIBRATE_NS 5000000ull
#define CLOCK_REFINE_NS 1000000000ull

static uint64_t host_count(const struct guest_clock *k)
{
	return k->tsc ? __rdtsc() : host_monotonic_ns();
}

/* CLOCK_MONOTONIC and the counter at one instant, for the rate: the count
 * read between two clock reads at most PAIR_NS apart (usually 30-50 ns),
 * retried a while when the host interrupts them; false if none was. */
#define PAIR_NS 250ull
static bool read_pair(const struct guest_clock *k, uint64_t *mono, uint64_t *count)
{
	for (int i = 0; i < 1000; i++) {
		uint64_t a = host_monotonic_ns();
		uint64_t c = host_count(k);
		uint64_t b = host_monotonic_ns();
		if (b - a <= PAIR_NS) {
			*mono = a + (b - a) / 2;
			*count = c;
			return true;
		}
	}
	return false;
}

static void set_rate(struct guest_clock *k, uint64_t hz)
{
	k->hz = hz;
	k->mult = (uint64_t)(((unsigned __int128)NS_PER_SEC << 32) / hz);
}

/* Guest time at host count `count`. */
static uint64_t guest_ns_at(const struct guest_clock *k, uint64_t count)
{
	uint64_t c = count - k->base_count;
	if ((int64_t)c < 0)
		return k->base_ns;
	return k->base_ns + (uint64_t)(((unsigned __int128)c * k->mult) >> 32);
}

/* The clock the devices run on (their clock_ns callback): guest time in ns
 * since power-on. */
static uint64_t board_clock_ns(void *opaque)
{
	const struct board *board = opaque;
	return guest_ns_at(&board->clk, host_count(&board->clk));
}

/* The guest TSC counts the clock's host counts (TSC ticks, or ns). */
void board_guest_time(const struct board *board, uint64_t *guest_ns, uint64_t *tsc)
{
	uint64_t count = board->paused ? board->paused_count : host_count(&board->clk);
	*guest_ns = guest_ns_at(&board->clk, count);
	*tsc = count - board->cpu.tsc_offset;
}

/* Guest time and the TSC go on from the given moment (a restore, or the
 * end of a save, which the guest does not see), running or paused, and
 * every deadline the board kept in the old time is looked at again. */
void board_set_guest_time(struct board *board, uint64_t guest_ns, uint64_t tsc)
{
	struct guest_clock *k = &board->clk;
	uint64_t now = host_count(k);
	k->base_count = now;
	k->base_ns = guest_ns;
	board->cpu.tsc_offset = now - tsc;
	if (board->paused)
		board->paused_count = now;
	board->timer_deadline = UINT64_MAX;
	board->timer_fires_mono = 0;
	board->last_reprotect_ns = guest_ns;
	board->monitor_slice_end_ns = guest_ns;
	board->screen.last_snapshot_ns = 0;
	board->screen.input_retry_ns = guest_ns;
}

static void guest_clock_init(struct guest_clock *k)
{
	memset(k, 0, sizeof(*k));
	k->tsc = host_tsc_is_constant();
	set_rate(k, NS_PER_SEC);
	if (k->tsc) {
		uint64_t m, c;
		while (!read_pair(k, &k->cal_mono, &k->cal_count))
			;
		do
			while (!read_pair(k, &m, &c))
				;
		while (m - k->cal_mono < CLOCK_CALIBRATE_NS);
		set_rate(k, (uint64_t)((unsigned __int128)(c - k->cal_count) * NS_PER_SEC /
				       (m - k->cal_mono)));
		k->refined_mono = m;
	}
	k->base_count = host_count(k);
}

/* Every CLOCK_REFINE_NS: the TSC's rate over the whole run, with guest
 * time carrying on from where it is. */
static void guest_clock_refine(struct guest_clock *k)
{
	uint64_t m, c;
	if (!k->tsc || host_monotonic_ns() - k->refined_mono < CLOCK_REFINE_NS || !read_pair(k, &m, &c))
		return;
	k->refined_mono = m;
	k->base_ns = guest_ns_at(k, c);
	k->base_count = c;
	set_rate(k, (uint64_t)((unsigned __int128)(c - k->cal_count) * NS_PER_SEC / (m - k->cal_mono)));
}

static struct timespec ns_to_timespec(uint64_t ns)
{
	return (struct timespec){ .tv_sec = (time_t)(ns / 1000000000ull),
				  .tv_nsec = (long)(ns % 1000000000ull) };
}

/* The I/O APIC pin of ISA IRQ irq: identity but for the PIT, as the MADT's
 * interrupt source override says. */
static unsigned isa_irq_pin(unsigned irq)
{
	return irq == PIT_IRQ ? 2 : irq;
}

/* An ISA interrupt line goes to both controllers; the guest chooses which
 * one it listens to by masking the other. */
static void isa_irq_set(void *opaque, unsigned irq, int level)
{
	struct board *board = opaque;
	pic8259_set_irq(&board->pic, irq, level);
	ioapic_set_irq(&board->ioapic, isa_irq_pin(irq), level);
}

/* Whether ISA IRQ irq can reach the CPU: through the 8259 pair (while the
 * local APIC passes ExtINT on) or through an unmasked I/O APIC pin. */
static bool irq_unmasked(const struct board *board, unsigned irq)
{
	const struct pic8259_pair *pic = &board->pic;
	if (!(board->ioapic.redir[isa_irq_pin(irq)] & IOAPIC_MASKED) &&
	    lapic_hw_enabled(&board->lapic))
		return true;
	if (!lapic_accepts_pic(&board->lapic))
		return false;
	if (irq < 8)
		return !(pic->chip[0].imr & (1u << irq));
	return !(pic->chip[0].imr & (1u << CASCADE_IRQ)) && !(pic->chip[1].imr & (1u << (irq - 8)));
}

static uint64_t earlier(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* The next moment a timer device has an interrupt to deliver; with
 * only_unmasked, only those that can reach the CPU (the ones that can end
 * a HLT). */
static uint64_t next_device_event(const struct board *board, uint64_t now, bool only_unmasked)
{
	uint64_t deadline = UINT64_MAX;
	if (!only_unmasked || irq_unmasked(board, PIT_IRQ))
		deadline = earlier(deadline, pit8254_next_event_ns(&board->pit, now));
	if (!only_unmasked || irq_unmasked(board, RTC_IRQ))
		deadline = earlier(deadline, mc146818_next_event_ns(&board->rtc, now));
	if (!only_unmasked || irq_unmasked(board, ACPI_PM_SCI_IRQ))
		deadline = earlier(deadline, acpi_pm_next_event_ns(&board->pm, now));
	deadline = earlier(deadline, lapic_next_event_ns(&board->lapic, now));
	return deadline;
}

/* Points the host timer at the next moment a device needs the vCPU's
 * attention (a timer interrupt, or a retry for queued input). A deadline
 * already due asks for attention without a timer, and a timer already
 * armed for the same deadline is left alone, so that a poll costs no
 * timer_settime when nothing changed. Right after a poll a deadline still
 * due is a device that did not act on it: the timer then comes back
 * POLL_GAP_NS later, so that the guest runs meanwhile rather than the
 * next block entry polling again at once, for ever. */
#define POLL_GAP_NS 20000ull
static void arm_timer(struct board *board, bool just_polled)
{
	uint64_t now = board_clock_ns(board);
	uint64_t deadline = next_device_event(board, now, false);
	if (board->rx_backlog && deadline > now + RX_RETRY_NS)
		deadline = now + RX_RETRY_NS;
	deadline = earlier(deadline, board_screen_deadline(board));
	if (board->tc.selfcheck_count && deadline > board->last_reprotect_ns + REPROTECT_NS)
		deadline = board->last_reprotect_ns + REPROTECT_NS;
	deadline = earlier(deadline, board_stats_deadline(board));
	if (monitor_pending(board->monitor))
		deadline = earlier(deadline, board->monitor_slice_end_ns);
	if (!board->timer_ready)
		return;
	if (deadline <= now && !just_polled) {
		cpu_request_attention(&board->cpu);
		return;
	}
	if (deadline <= now)
		deadline = now + POLL_GAP_NS;
	uint64_t mono = host_monotonic_ns();
	if (deadline == board->timer_deadline && mono < board->timer_fires_mono)
		return;
	board->timer_deadline = deadline;
	struct itimerspec its = { 0 };
	if (deadline != UINT64_MAX) {
		/* Guest time runs at the host's rate. */
		board->timer_fires_mono = mono + (deadline - now);
		its.it_value = ns_to_timespec(board->timer_fires_mono);
	} else {
		board->timer_fires_mono = UINT64_MAX;
	}
	timer_settime(board->timer, TIMER_ABSTIME, &its, NULL);
}

static void board_arm_timer(struct board *board)
{
	arm_timer(board, false);
}

/* Whether the PIT's last IRQ 0 pulse still waits where it went: in the
 * 8259's IRR (IRQ 0 unmasked, the APIC passing the 8259 on), or through
 * I/O APIC pin 2 in the local APIC's IRR. */
static bool pit_irq_pending(void *opaque)
{
	const struct board *board = opaque;
	const struct pic8259 *master = &board->pic.chip[0];
	uint64_t pin = board->ioapic.redir[isa_irq_pin(PIT_IRQ)];
	if (lapic_accepts_pic(&board->lapic) && (master->irr & ~master->imr & (1u << PIT_IRQ)))
		return true;
	return !(pin & IOAPIC_MASKED) && lapic_hw_enabled(&board->lapic) &&
	       lapic_vector_pending(&board->lapic, (uint8_t)(pin & IOAPIC_VECTOR_MASK));
}

static void device_deadline_changed(void *opaque)
{
	board_arm_timer(opaque);
}

static void pic_output_changed(void *opaque, int level)
{
	struct board *board = opaque;
	if (level)
		cpu_request_attention(&board->cpu);
}

/* Console input into COM1 as far as its FIFO has room; the rest stays in
 * the console's queue (nothing typed is dropped). */
static void board_pump_input(struct board *board)
{
	uint8_t byte;
	board->rx_backlog = false;
	while (console_read_byte(&byte)) {
		if (!uart16550_receive(&board->com1, byte)) {
			console_unread_byte(byte);
			board->rx_backlog = true;
			break;
		}
	}
}

static void wake_sleeper(struct board *board)
{
	uint64_t one = 1;
	if (board->wake_fd >= 0 && write(board->wake_fd, &one, sizeof(one)) < 0) {
		/* The counter is saturated: a wake-up is pending anyway. */
	}
}

/* Runs on the console's reader thread (and the disks' I/O threads): only
 * a flag, a signal to the vCPU thread and an eventfd write. */
static void board_console_notify(void *opaque)
{
	struct board *board = opaque;
	cpu_request_attention(&board->cpu);
	wake_sleeper(board);
}

void board_wake(struct board *board)
{
	board_console_notify(board);
}

void board_wake_from_signal(struct board *board, void *uctx)
{
	cpu_request_attention_signal(&board->cpu, uctx);
	wake_sleeper(board);
}

/* Console thread: Ctrl-A x. */
static void board_quit_key(void *opaque)
{
	struct board *board = opaque;
	atomic_store(&board->quit_key, true);
	board_wake(board);
}

/* Console thread: a line typed at the monitor's prompt. */
static void board_monitor_line(void *opaque, const char *line)
{
	struct board *board = opaque;
	monitor_submit(board->monitor, MONITOR_TERMINAL, line, strlen(line));
}

/* The first time the shadow drops mappings because the budget is reached:
 * one line on what limits it, since a working set beyond it costs a host
 * fault and an mmap a page touched (docs/DESIGN.md, "Host-mapping budget
 * and replacement"). */
static void board_map_hint(struct board *board)
{
	board->map_hint_shown = true;
	if (board->cfg.map_budget) {
		fprintf(stderr, "btvm: the guest's memory needs more than --map-budget's %ld host mappings:"
			" pages are dropped and mapped again as they are touched (slow)\n",
			board->sh.map_budget);
		return;
	}
	long limit = host_max_map_count();
	fprintf(stderr, "btvm: the guest's memory needs more than the %ld host mappings vm.max_map_count (%ld)"
		" leaves btvm: pages are dropped and mapped again as they are touched (slow);"
		" raising it helps (sysctl vm.max_map_count=%ld)\n",
		board->sh.map_budget, limit, 4 * limit);
}

static void platform_poll(void *opaque)
{
	struct board *board = opaque;
	/* The run loop takes these with the guest stopped (board_control);
	 * the monitor's after the guest's slice, or at once when it has
	 * nothing to do (HLT). */
	if (monitor_pending(board->monitor) &&
	    (board->cpu.halted || board_clock_ns(board) >= board->monitor_slice_end_ns))
		board->cpu.stop = true;
	if (gdbstub_pending(board->gdb) || atomic_load(&board->quit_key))
		board->cpu.stop = true;
	if (migration_poll(board)) {
		board->migrate_final = true;
		board->cpu.stop = true;
	}
	guest_clock_refine(&board->clk);
	uint64_t now = board_clock_ns(board);
	if (now - board->last_reprotect_ns >= REPROTECT_NS) {
		board->last_reprotect_ns = now;
		tcache_reprotect_selfcheck(&board->tc, &board->cpu.ibl_table);
	}
	if (board->sh.stats.replacements && !board->map_hint_shown)
		board_map_hint(board);
	pit8254_update(&board->pit, now);
	if (!irq_unmasked(board, PIT_IRQ))
		pit8254_drop_backlog(&board->pit);
	mc146818_update(&board->rtc, now);
	if (!irq_unmasked(board, RTC_IRQ))
		mc146818_drop_backlog(&board->rtc);
	acpi_pm_update(&board->pm, now);
	lapic_update(&board->lapic, now);
	if (board->cfg.serial == SERIAL_STDIO)
		board_pump_input(board);
	board_screen_poll(board, now);
	for (unsigned i = 0; i < board->cfg.ndisks; i++)
		virtio_blk_poll(&board->disks[i]);
	virtio_net_poll(&board->net);
	board_stats_poll(board, now);
	arm_timer(board, true);
}

/* The local APIC's own requests come first; the 8259's INT reaches the
 * CPU as ExtINT through LINT0 (or directly with the APIC off). */
static bool platform_intr(void *opaque)
{
	const struct board *board = opaque;
	return lapic_has_interrupt(&board->lapic) ||
	       (lapic_accepts_pic(&board->lapic) && pic8259_has_interrupt(&board->pic));
}

static int platform_inta(void *opaque)
{
	struct board *board = opaque;
	int vector;
	bool from_pic = !lapic_has_interrupt(&board->lapic);
	if (!from_pic)
		vector = lapic_acknowledge(&board->lapic);
	else
		vector = pic8259_acknowledge(&board->pic);
	/* IRQ 0 taken, through the 8259 or the I/O APIC (pin 2): a PIT edge
	 * held back for it may follow. */
	uint64_t pin2 = board->ioapic.redir[isa_irq_pin(PIT_IRQ)];
	if (from_pic ? vector == board->pic.chip[0].vector_base + PIT_IRQ
		     : !(pin2 & IOAPIC_MASKED) && vector == (int)(pin2 & IOAPIC_VECTOR_MASK))
		pit8254_irq_taken(&board->pit);
	return vector;
}

static int platform_msr(void *opaque, uint32_t index, bool write, uint64_t *value)
{
	struct board *board = opaque;
	if (index != LAPIC_MSR_APIC_BASE)
		return 1;
	if (!write) {
		*value = lapic_get_base_msr(&board->lapic);
		return 0;
	}
	return lapic_set_base_msr(&board->lapic, *value) < 0 ? -1 : 0;
}

static bool platform_apic_enabled(void *opaque)
{
	const struct board *board = opaque;
	return lapic_hw_enabled(&board->lapic);
}

/* The rate at which the guest TSC runs against the board's own clock,
 * which the PIT and the APIC timer run by: CPUID leaf 0x15 gives it with
 * the APIC timer's input clock as the crystal. */
_Static_assert(CPUID_CRYSTAL_HZ == LAPIC_BUS_HZ, "leaf 0x15's crystal is the APIC timer's clock");
static uint64_t platform_tsc_hz(void *opaque)
{
	const struct board *board = opaque;
	return board->clk.hz;
}

/* How long HLT spins before it sleeps while a disk request is in flight.
 * A 1 MiB direct write is served in 210-450 us (the middle 80%), a read
 * from the host's page cache in tens; a vCPU woken from its sleep took
 * about 170 us to come back on the benchmark host, itself a virtual
 * machine, and 256-512 us when that host had let the CPU idle a while.
 * With 200 us (KVM's default halt-polling limit) a quarter of a guest
 * dd's 1 MiB direct writes waited for that wake, with 500 us 2-6%; with
 * 1 ms the dd ran at 0.62-0.76 of the host's own against 0.51-0.67, in six
 * alternated pairs of runs (each pair's figure higher). The spin ends at
 * the completion, so it costs only while a request is slower than that.
 * Not at all when the process may run on one CPU only
 * (board->halt_poll_allowed): the spin would keep the I/O thread from
 * finishing. */
#define HALT_POLL_NS 1000000ull

/* HLT with a disk request in flight: spins until something asks for
 * attention (the request's completion, a timer) for at most HALT_POLL_NS
 * or span ns, as KVM's halt polling does: a sleep in ppoll and the wake
 * from it cost more than the completion takes to come (bench/disk: a
 * guest's dd of 1 MiB direct writes, 7-10% faster). True if a request
 * came. */
static bool halt_poll(struct board *board, uint64_t span)
{
	uint64_t deadline = host_monotonic_ns() + (span < HALT_POLL_NS ? span : HALT_POLL_NS);
	for (unsigned turn = 0; !board->cpu.attention; turn++)
		if (!host_spin_turn(turn, deadline))
			return false;
	return true;
}

/* HLT: sleeps until the next timer event that can reach the CPU or
 * console input, whichever comes first; false when neither can ever come. */
static bool platform_wait(void *opaque)
{
	struct board *board = opaque;
	uint64_t now = board_clock_ns(board);
	/* Only sources the PIC lets through can end the sleep. */
	uint64_t deadline = next_device_event(board, now, true);
	bool input_possible = board->cfg.serial == SERIAL_STDIO && irq_unmasked(board, COM1_IRQ) &&
			      (!console_input_ended() || board->rx_backlog);
	/* The window's keys and mouse, and its close button (the ACPI SCI). */
	if (board_screen_input_possible(board) &&
	    (irq_unmasked(board, I8042_KBD_IRQ) || irq_unmasked(board, I8042_AUX_IRQ) ||
	     irq_unmasked(board, ACPI_PM_SCI_IRQ)))
		input_possible = true;
	/* A disk request in flight ends in an interrupt (its thread wakes us). */
	bool disk_busy = false;
	for (unsigned i = 0; i < board->cfg.ndisks; i++)
		if (virtio_blk_busy(&board->disks[i]))
			disk_busy = input_possible = true;
	/* So may a network frame, at any time while the driver runs. */
	if (virtio_net_busy(&board->net))
		input_possible = true;
	/* A debugger may stop it (Ctrl-C) to look. */
	if (gdbstub_attached(board->gdb))
		input_possible = true;
	if (board->screen.input_backlog && deadline > board->screen.input_retry_ns)
		deadline = board->screen.input_retry_ns;
	board_screen_flush(board, now);
	if (board->rx_backlog && deadline > now + RX_RETRY_NS)
		deadline = now + RX_RETRY_NS;
	/* Commands wait: a halted guest loses nothing while they run. */
	if (monitor_pending(board->monitor))
		return true;
	if (deadline == UINT64_MAX && !input_possible)
		return false;
	/* A sample wakes the sleep too, but cannot end the guest's wait. */
	deadline = earlier(deadline, board_stats_deadline(board));
	if (deadline <= now)
		return true;
	if (disk_busy && board->halt_poll_allowed) {
		board->cpu.stats.halt_polls++;
		if (halt_poll(board, deadline - now)) {
			board->cpu.stats.halt_poll_wakes++;
			return true;
		}
		now = board_clock_ns(board);
		if (deadline <= now)
			return true;
	}
	board->cpu.stats.halt_sleeps++;
	struct pollfd pfd = { .fd = board->wake_fd, .events = POLLIN };
	struct timespec ts, *tsp = NULL;
	if (deadline != UINT64_MAX) {
		ts = ns_to_timespec(deadline - now);
		tsp = &ts;
	}
	if (ppoll(&pfd, 1, tsp, NULL) > 0) {
		uint64_t count;
		if (read(board->wake_fd, &count, sizeof(count)) < 0) {
			/* Nothing to drain: another read got it first. */
		}
	}
	return true;
}


/* Port 0x61: bit 0 gates PIT channel 2, bit 1 enables the speaker, bit 4
 * toggles with DRAM refresh (firmware and Linux use it to pace delays),
 * bit 5 shows channel 2's output. */
static uint64_t port_b_read(void *opaque, uint64_t offset, unsigned width)
{
	struct board *board = opaque;
	(void)offset;
	(void)width;
	board->refresh_toggle = !board->refresh_toggle;
	uint64_t now = board_clock_ns(board);
	return (board->port_b & 3) | (board->refresh_toggle ? 0x10 : 0) |
	       (pit8254_get_output(&board->pit, 2, now) ? 0x20 : 0);
}

static void port_b_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	struct board *board = opaque;
	(void)offset;
	(void)width;
	board->port_b = (uint8_t)(value & 3);
	pit8254_set_gate(&board->pit, 2, (int)(value & 1), board_clock_ns(board));
}

static const struct bus_ops port_b_ops = {
	.read = port_b_read,
	.write = port_b_write,
	.max_width = 1,
};

static void board_request_exit(void *opaque, int status)
{
	struct board *board = opaque;
	board->exit_requested = true;
	board->exit_status = status;
	board->cpu.stop = true;
}

/* The keyboard controller's reset line or port 0x92's fast reset: the
 * run loop restarts the PC once the access has returned. */
static void board_reset_request(void *opaque)
{
	struct board *board = opaque;
	board->reset_requested = true;
	board->cpu.stop = true;
}

static void lapic_output_changed(void *opaque, int level)
{
	struct board *board = opaque;
	if (level)
		cpu_request_attention(&board->cpu);
}

/* ACPI S5 (what Linux's poweroff does): the machine is off, btvm ends
 * with status 0. */
static void board_power_off(void *opaque)
{
	board_request_exit(opaque, 0);
}

static void com1_transmit(void *opaque, uint8_t byte)
{
	struct board *board = opaque;
	if (board->cfg.serial == SERIAL_STDIO)
		console_write(&byte, 1);
}

/* The POST diagnostic port: firmware and Linux (as an I/O delay) write it;
 * nothing is there to answer. */
static uint64_t post_read(void *opaque, uint64_t offset, unsigned width)
{
	(void)opaque;
	(void)offset;
	(void)width;
	return ~0ULL;
}

static void post_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	(void)opaque;
	(void)offset;
	(void)width;
	(void)value;
}

static const struct bus_ops post_ops = {
	.read = post_read,
	.write = post_write,
	.max_width = 4,
};

/* A PCI interrupt routed (PIIX3 PIRQ) to ISA IRQ irq. PCI's INTx# wires
 * are level-triggered and active low: the 8259 (its ELCR set by the OS)
 * takes the level as asserted-high, the I/O APIC pin the wire itself,
 * which the OS programs active low (ACPI's default for PCI). */
static void pci_isa_irq_set(void *opaque, unsigned irq, int level)
{
	struct board *board = opaque;
	pic8259_set_irq(&board->pic, irq, level);
	if (irq == PCI_IRQ_A || irq == PCI_IRQ_B)
		ioapic_set_irq(&board->ioapic, irq, !level);
}

/* A disk's I/O thread read into guest RAM behind the write protection of
 * code pages: drop the translations made from those pages. */
static void disk_guest_written(void *opaque, uint64_t gpa, uint64_t len)
{
	struct board *board = opaque;
	if (!len)
		return;
	guest_ram_written(&board->ram, gpa, len);
	for (uint64_t p = gpa / GUEST_PAGE_SIZE; p <= (gpa + len - 1) / GUEST_PAGE_SIZE; p++)
		if (tcache_page_traced(&board->tc, (uint32_t)p))
			tcache_invalidate_page(&board->tc, &board->cpu.ibl_table, (uint32_t)p);
}

/* The network backend's frames for the guest, on its thread. */
static void net_receive(void *opaque, const uint8_t *frame, size_t len)
{
	struct board *board = opaque;
	virtio_net_receive(&board->net, frame, len);
}

/* The guest's frames, on the vCPU thread: slirp_net copies them. */
static void net_transmit(void *opaque, const uint8_t *frame, size_t len)
{
	struct board *board = opaque;
	slirp_net_transmit(board->slirp, frame, len);
}

/* Every device to its power-on state; also the reset path, so it only
 * initializes: the bus regions stay registered. */
static void board_reset_devices(struct board *board)
{
	struct irq_line com1_irq = { .set_level = isa_irq_set, .opaque = board, .line = COM1_IRQ };
	struct irq_line pit_irq = { .set_level = isa_irq_set, .opaque = board, .line = PIT_IRQ };
	struct irq_line sci_irq = { .set_level = isa_irq_set, .opaque = board, .line = ACPI_PM_SCI_IRQ };
	struct irq_line kbd_irq = { .set_level = isa_irq_set, .opaque = board, .line = I8042_KBD_IRQ };
	struct irq_line aux_irq = { .set_level = isa_irq_set, .opaque = board, .line = I8042_AUX_IRQ };

	/* The interrupt controllers first: the devices below drive lines. */
	lapic_init(&board->lapic, board_clock_ns, board);
	lapic_virtual_wire(&board->lapic);
	board->lapic.deadline_changed = device_deadline_changed;
	board->lapic.output_changed = lapic_output_changed;
	board->lapic.eoi_broadcast = ioapic_eoi_broadcast;
	board->lapic.eoi_opaque = &board->ioapic;
	board->lapic.irq_min_interval_ns = TIMER_IRQ_MIN_INTERVAL_NS;
	board->lapic.irq_backlog_max_ns = TIMER_IRQ_BACKLOG_MAX_NS;
	ioapic_init(&board->ioapic, lapic_deliver_message, &board->lapic);
	/* The PCI interrupt wires idle high (active low). */
	ioapic_set_irq(&board->ioapic, PCI_IRQ_A, 1);
	ioapic_set_irq(&board->ioapic, PCI_IRQ_B, 1);
	pic8259_init(&board->pic, pic_output_changed, board);
	pit8254_init(&board->pit, &pit_irq, board_clock_ns, board);
	board->pit.deadline_changed = device_deadline_changed;
	board->pit.irq_min_interval_ns = TIMER_IRQ_MIN_INTERVAL_NS;
	board->pit.irq_backlog_max_ns = TIMER_IRQ_BACKLOG_MAX_NS;
	board->pit.irq_pending = pit_irq_pending;
	mc146818_reset(&board->rtc, board_clock_ns(board));
	acpi_pm_init(&board->pm, &sci_irq, board_clock_ns, board);
	board->pm.power_off = board_power_off;
	board->pm.deadline_changed = device_deadline_changed;
	uart16550_init(&board->com1, &com1_irq, com1_transmit, board);
	/* A20 is reported by both devices, never applied: RAM does not wrap
	 * at 1 MiB, so the board has nothing to do when it changes. */
	i8042_init(&board->kbc, &kbd_irq, &aux_irq, NULL, board_reset_request, board);
	port92_init(&board->port92, NULL, board_reset_request, board);
	pci_host_reset(&board->pci);
	vga_init(&board->vga);
	bochs_display_reset(&board->bochs);
	for (unsigned i = 0; i < board->cfg.ndisks; i++)
		virtio_blk_reset(&board->disks[i]);
	virtio_net_reset(&board->net);
	/* What the VGA BIOS leaves in video memory: its font in plane 2 and
	 * a blank screen (0xa0000-0xbffff is guest RAM, see vga.h). */
	vga_init_memory(board->ram.host + VGA_LEGACY_BASE);
	board->reset_requested = false;
	board->port_b = 0;
	board->refresh_toggle = false;
	testdev_init(&board->testdev);
}

static void board_vram_moved(void *opaque, uint64_t gpa);

static int board_wire_devices(struct board *board)
{
	int err;

	/* The CMOS clock is battery-backed: set once, only reset after. */
	struct irq_line rtc_irq = { .set_level = isa_irq_set, .opaque = board, .line = RTC_IRQ };
	mc146818_init(&board->rtc, &rtc_irq, (int64_t)time(NULL), board_clock_ns, board);
	board->rtc.deadline_changed = device_deadline_changed;
	board->rtc.irq_min_interval_ns = TIMER_IRQ_MIN_INTERVAL_NS;
	board->rtc.irq_backlog_max_ns = TIMER_IRQ_BACKLOG_MAX_NS;
	mc146818_set_memory_size(&board->rtc, board->ram.size);
	/* PCI at power-on, and the display's function with its VRAM: the
	 * device memory after RAM in the guest's memfd. */
	pci_host_init(&board->pci);
	board->pci.set_isa_irq = pci_isa_irq_set;
	board->pci.irq_opaque = board;
	bochs_display_init(&board->bochs, PCI_DISPLAY_DEVFN, guest_devmem_ptr(&board->ram, 0),
			   &board->vga);
	board->bochs.vram_moved = board_vram_moved;
	board->bochs.opaque = board;
	board_reset_devices(board);
	err = mc146818_attach(&board->rtc, &board->bus);
	if (err)
		return err;
	err = acpi_pm_attach(&board->pm, &board->bus, ACPI_PM_BASE_PORT);
	if (err)
		return err;
	err = lapic_attach(&board->lapic, &board->bus, LAPIC_DEFAULT_BASE);
	if (err)
		return err;
	err = ioapic_attach(&board->ioapic, &board->bus, IOAPIC_DEFAULT_BASE);
	if (err)
		return err;
	err = i8042_attach(&board->kbc, &board->bus);
	if (err)
		return err;
	err = port92_attach(&board->port92, &board->bus);
	if (err)
		return err;
	err = pci_host_attach(&board->pci, &board->bus);
	if (err)
		return err;
	err = pic8259_attach(&board->pic, &board->bus);
	if (err)
		return err;
	err = pit8254_attach(&board->pit, &board->bus);
	if (err)
		return err;
	err = bus_register(&board->bus, BUS_SPACE_PIO, "port-b", PORT_B, 1, &port_b_ops, board);
	if (err)
		return err;
	err = uart16550_attach(&board->com1, &board->bus, COM1_PORT);
	if (err)
		return err;
	err = vga_attach(&board->vga, &board->bus);
	if (err)
		return err;
	err = bochs_display_attach(&board->bochs, &board->bus);
	if (!err)
		err = pci_host_add(&board->pci, &board->bochs.pci);
	if (err)
		return err;
	const struct virtio_blk_host disk_host = {
		.notify = board_console_notify,
		.guest_written = disk_guest_written,
		.opaque = board,
	};
	for (unsigned i = 0; i < board->cfg.ndisks; i++) {
		struct virtio_blk *disk = &board->disks[i];
		err = virtio_blk_attach(disk, (uint8_t)pci_host_devfn(PCI_DISK_SLOT + i, 0),
					&board->ram, &board->bus, &disk_host);
		if (!err)
			err = pci_host_add(&board->pci, &disk->vp.pci);
		if (err)
			return err;
	}
	if (board->slirp) {
		static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
		const struct virtio_net_host net_host = {
			.notify = board_console_notify,
			.guest_written = disk_guest_written,
			.opaque = board,
		};
		const struct virtio_net_backend backend = { .transmit = net_transmit, .opaque = board };
		err = virtio_net_attach(&board->net, (uint8_t)pci_host_devfn(PCI_NET_SLOT, 0), mac,
					&board->ram, &board->bus, &net_host, &backend);
		if (!err)
			err = pci_host_add(&board->pci, &board->net.vp.pci);
		if (err)
			return err;
	}
	board->debug_exit.request_exit = board_request_exit;
	board->debug_exit.opaque = board;
	err = isa_debug_exit_attach(&board->debug_exit, &board->bus, ISA_DEBUG_EXIT_PORT);
	if (err)
		return err;
	err = testdev_attach(&board->testdev, &board->bus, TESTDEV_BASE);
	if (err)
		return err;
	return bus_register(&board->bus, BUS_SPACE_PIO, "post", POST_PORT, 1, &post_ops, NULL);
}

/* BAR0 of the display decodes somewhere else now: its VRAM follows in
 * the guest's physical space (translated code reaches it there). */
static void board_vram_moved(void *opaque, uint64_t gpa)
{
	struct board *board = opaque;
	uint64_t old = board->ram.devmem_gpa;
	board->ram.devmem_gpa = gpa == PCI_BAR_UNMAPPED ? GUEST_DEVMEM_UNMAPPED : gpa;
	if (board->shadow_ready && old != board->ram.devmem_gpa) {
		shadow_devmem_moved(&board->sh, old);
		cpu_request_attention(&board->cpu);
	}
}

/* What a BIOS does after the devices' reset: PCI BARs placed and decoding
 * (SeaBIOS's pciinit), and with --vga WxH the VBE mode set. */
static int board_firmware(struct board *board)
{
	struct pci_firmware_config pcfg;
	pci_firmware_config_default(&pcfg);
	int err = pci_firmware_setup(&board->pci, &pcfg);
	if (err || !board->cfg.fb_width)
		return err;
	return bochs_display_set_mode(&board->bochs, board->cfg.fb_width, board->cfg.fb_height, 32);
}

/* The loader's view of the machine: the kernel, and the screen as a BIOS
 * would report it (VGA text, or the framebuffer board_firmware set). */
static void board_boot_config(struct board *board, struct boot_config *boot,
			      struct boot_framebuffer *fb)
{
	struct bochs_screen_info si;
	*boot = (struct boot_config){
		.kernel_path = board->cfg.kernel_path,
		.initrd_path = board->cfg.initrd_path,
		.kernel_data = board->cfg.kernel_data,
		.kernel_size = board->cfg.kernel_size,
		.initrd_data = board->cfg.initrd_data,
		.initrd_size = board->cfg.initrd_size,
		.cmdline = board->cfg.cmdline,
		.acpi_rsdp = board->acpi_rsdp,
		.vga_text = true,
	};
	/* A fresh seed for every boot (a reboot too): the host's random
	 * bytes, as a boot loader would pass from its firmware's. */
	if (getrandom(board->rng_seed, sizeof(board->rng_seed), GRND_NONBLOCK) ==
	    (ssize_t)sizeof(board->rng_seed)) {
		boot->rng_seed = board->rng_seed;
		boot->rng_seed_len = sizeof(board->rng_seed);
	}
	if (board->cfg.fb_width && !bochs_display_screen_info(&board->bochs, &si)) {
		*fb = (struct boot_framebuffer){
			.base = si.lfb_base,
			.size = (uint32_t)si.lfb_size << 16,
			.width = si.lfb_width,
			.height = si.lfb_height,
			.line_length = si.lfb_linelength,
		};
		boot->fb = fb;
	}
}

/* The ACPI tables a BIOS would leave at 0xE0000 (reserved in the memory
 * map): the MADT, and the FADT with the PM registers Linux powers off
 * through; and the MP tables at the start of the EBDA (boot/mptable.h).
 * Written again on reset, as firmware would. */
static int board_write_acpi(struct board *board)
{
	struct acpi_config cfg;
	acpi_config_default(&cfg);
	/* PCI memory from the top of RAM (rounded to 256 MiB) up to the APICs. */
	uint64_t top = (board->ram.size + 0xfffffffull) & ~0xfffffffull;
	if (top < cfg.pci_mem_start)
		cfg.pci_mem_start = (uint32_t)top;
	uint8_t buf[ACPI_TABLES_MAX_LEN];
	int n = acpi_build(buf, sizeof(buf), ACPI_TABLES_BASE, &cfg, &board->acpi_rsdp);
	if (n < 0)
		return n;
	memcpy(board->ram.host + ACPI_TABLES_BASE, buf, (size_t)n);
	/* The MP tables beside them: what a kernel looks for first. */
	struct cpuid_result leaf1 = cpuid_model(1, true, 0);
	uint8_t mp[MPTABLE_MAX_LEN];
	n = mptable_build(mp, sizeof(mp), MPTABLE_BASE, &cfg, leaf1.eax, leaf1.edx);
	if (n < 0)
		return n;
	memcpy(board->ram.host + MPTABLE_BASE, mp, (size_t)n);
	return 0;
}

/* A triple fault resets the PC: devices and the processor start over and
 * the kernel image is loaded again. RAM outside the image keeps its
 * contents, as a warm reset leaves DRAM. */
static int board_reset(struct board *board)
{
	char err[256];
	struct boot_config boot;
	struct boot_framebuffer fb;
	int ret = board_write_acpi(board);
	if (ret) {
		fprintf(stderr, "btvm: cannot reset the guest: ACPI tables: %s\n", strerror(-ret));
		return ret;
	}
	board_reset_devices(board);
	ret = board_firmware(board);
	if (ret) {
		fprintf(stderr, "btvm: cannot reset the guest: firmware: %s\n", strerror(-ret));
		return ret;
	}
	board_boot_config(board, &boot, &fb);
	ret = boot_load(&board->ram, &boot, &board->boot, &board->boot_kind, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "btvm: cannot reset the guest: %s\n", err);
		return ret;
	}
	cpu_reset(&board->cpu, &board->boot);
	board->timer_deadline = UINT64_MAX;   /* re-arm for the fresh PIT */
	platform_poll(board);
	return 0;
}

int board_create(struct board *board, const struct board_config *cfg, char *err, size_t err_len)
{
	int ret;

	memset(board, 0, sizeof(*board));
	board->cfg = *cfg;
	board->wake_fd = -1;
	board->timer_deadline = UINT64_MAX;
	guest_clock_init(&board->clk);
	bus_init(&board->bus);

	ret = guest_ram_init(&board->ram, cfg->ram_mib, BOCHS_VRAM_SIZE);
	if (ret == -EINVAL) {
		snprintf(err, err_len, "guest RAM of %llu MiB is not supported (%u to %u MiB)",
			 (unsigned long long)cfg->ram_mib, GUEST_RAM_MIN_MIB, GUEST_RAM_MAX_MIB);
		return ret;
	}
	if (ret) {
		snprintf(err, err_len, "cannot allocate %llu MiB of guest RAM: %s",
			 (unsigned long long)cfg->ram_mib, strerror(-ret));
		return ret;
	}
	for (unsigned i = 0; i < cfg->ndisks; i++) {
		ret = virtio_blk_open(&board->disks[i], cfg->disks[i].path, cfg->disks[i].readonly,
				      cfg->snapshot, err, err_len);
		if (ret)
			goto close_disks;
	}
	if (cfg->net.enabled) {
		/* Before the devices: a host port in use is the user's error. */
		ret = slirp_net_open(&board->slirp, &cfg->net, net_receive, board, err, err_len);
		if (ret)
			goto close_disks;
	}
	ret = board_wire_devices(board);
	if (!ret && board->slirp)
		ret = slirp_net_start(board->slirp);
	if (ret) {
		snprintf(err, err_len, "cannot wire the PC's devices: %s", strerror(-ret));
		goto close_disks;
	}
	ret = board_write_acpi(board);
	if (ret) {
		snprintf(err, err_len, "cannot build the ACPI tables: %s", strerror(-ret));
		goto close_disks;
	}
	ret = board_firmware(board);
	if (ret) {
		snprintf(err, err_len, "cannot set up the PCI devices and the display: %s",
			 strerror(-ret));
		goto close_disks;
	}
	struct boot_config boot;
	struct boot_framebuffer fb;
	board_boot_config(board, &boot, &fb);
	/* A restored guest's kernel is in its saved RAM; the loader runs
	 * again only if it reboots. */
	if (!cfg->restore_path)
		ret = boot_load(&board->ram, &boot, &board->boot, &board->boot_kind, err, err_len);
	if (ret)
		goto close_disks;
	ret = shadow_init(&board->sh, &board->ram);
	board->shadow_ready = ret == 0;
	if (ret) {
		snprintf(err, err_len, "cannot reserve the guest's address-space window: %s", strerror(-ret));
		goto close_disks;
	}
	if (cfg->map_budget)
		shadow_set_map_budget(&board->sh, cfg->map_budget);
	ret = tcache_init(&board->tc, cfg->tcache_mib << 20, board->ram.size, &board->sh);
	if (!ret) {
		board->tc.selfcheck_all = cfg->selfcheck_blocks;
		board->sh.code_pages = board->tc.page_traced;
	}
	if (ret) {
		snprintf(err, err_len, "cannot allocate a %llu MiB translation cache: %s",
			 (unsigned long long)cfg->tcache_mib, strerror(-ret));
		goto destroy_window;
	}
	if (cfg->trace_path) {
		char why[512];
		board->trace = outfile_open_stream(cfg->trace_path, why, sizeof(why));
		if (!board->trace) {
			ret = -EIO;
			snprintf(err, err_len, "--trace %s", why);
			goto destroy_tcache;
		}
	}
	ret = translator_init(&board->tr, cfg->one_insn_blocks, board->trace);
	if (!ret && cfg->max_block_insns)
		board->tr.max_insns = cfg->max_block_insns;
	board->tr.clone = !cfg->no_clone;
	board->tr.clone_check = cfg->clone_check;
	if (!ret)
		ret = cpu_init(&board->cpu, &board->boot, &board->sh, &board->tc, &board->bus);
	board->cpu.no_chain = cfg->no_chain;
	board->cpu.no_ibl = cfg->no_ibl;
	if (ret) {
		snprintf(err, err_len, "cannot set up the vCPU: %s", strerror(-ret));
		goto close_trace;
	}
	board->cpu_ready = true;
	ret = board_explain_init(board, err, err_len);
	if (!ret)
		ret = board_screen_open(board, board_console_notify, err, err_len);
	if (!ret)
		ret = monitor_open(&board->monitor, board, cfg->monitor_path, err, err_len);
	if (!ret && cfg->gdb)
		ret = gdbstub_open(&board->gdb, board, cfg->gdb_host, cfg->gdb_port, err, err_len);
	if (ret) {
		board_destroy(board);
		return ret;
	}
	return 0;

close_trace:
	if (board->trace)
		fclose(board->trace);
	cpu_destroy(&board->cpu);
	translator_destroy(&board->tr);
destroy_tcache:
	tcache_destroy(&board->tc);
destroy_window:
	shadow_destroy(&board->sh);

close_disks:
	slirp_net_close(board->slirp);
	board->slirp = NULL;
	virtio_net_close(&board->net);
	for (unsigned i = 0; i < cfg->ndisks; i++)
		virtio_blk_close(&board->disks[i]);
	guest_ram_destroy(&board->ram);
	return ret;
}

/* The host timer: HOST_ATTENTION_SIGNAL to this process (helper threads
 * block it, so it lands on the vCPU thread) naming the vCPU in its value;
 * the cpu's handler (cpu_install_fault_handlers) asks it for attention. */
static int board_start_timer(struct board *board)
{
	struct sigevent sev;
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = HOST_ATTENTION_SIGNAL;
	sev.sigev_value.sival_ptr = &board->cpu;
	if (timer_create(CLOCK_MONOTONIC, &sev, &board->timer) < 0)
		return -errno;
	board->timer_ready = true;
	board->timer_deadline = UINT64_MAX;

	/* Timers of this thread fire when due rather than up to 50 us later
	 * (the default slack): device deadlines are met as programmed. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	return 0;
}

static void board_stop_timer(struct board *board)
{
	if (!board->timer_ready)
		return;
	timer_delete(board->timer);
	board->timer_ready = false;
}

void board_pause(struct board *board, unsigned hold)
{
	board->holds |= hold;
	if (board->paused)
		return;
	board->paused = true;
	board->paused_count = host_count(&board->clk);
	board_screen_set_state(board, "paused");
	monitor_event(board->monitor, "STOP");
}

/* Guest time carries on from where it stood: the clock's base and the
 * TSC's offset move by the host time the pause took. */
void board_resume(struct board *board, unsigned hold)
{
	board->holds &= ~hold;
	if (!board->paused || board->holds)
		return;
	struct guest_clock *k = &board->clk;
	uint64_t now = host_count(k);
	k->base_ns = guest_ns_at(k, board->paused_count);
	k->base_count = now;
	/* The TSC counts in the clock's host counts (TSC ticks, or ns). */
	board->cpu.tsc_offset += now - board->paused_count;
	board->paused = false;
	board_screen_set_state(board, "running");
	monitor_event(board->monitor, "RESUME");
	board_arm_timer(board);
}

/* The guest stopped for the monitor, gdb (a command, a breakpoint, a
 * step) or Ctrl-A x: runs their commands, and while paused waits for
 * more, keeping the window alive. */
static void board_control(struct board *board)
{
	board->cpu.stop = false;
	for (;;) {
		if (atomic_exchange(&board->quit_key, false)) {
			board->exit_requested = true;
			board->exit_status = 0;
		}
		bool monitor_more = monitor_run_pending(board->monitor);
		gdbstub_run_pending(board->gdb);
		/* SIGUSR1 and SIGTERM while paused; no samples (guest time
		 * stands still). */
		board_stats_poll(board, board->paused ? guest_ns_at(&board->clk, board->paused_count)
						      : board_clock_ns(board));
		if (board->migrate_final) {
			board->migrate_final = false;
			migration_finish(board);
		}
		if (!board->paused || board->exit_requested || board->reset_requested) {
			/* The rest after the guest's slice (arm_timer sees it). */
			board->monitor_slice_end_ns = board_clock_ns(board) + MONITOR_SLICE_NS;
			if (monitor_more)
				board_arm_timer(board);
			break;
		}
		struct pollfd pfd = { .fd = board->wake_fd, .events = POLLIN };
		/* More commands wait: guest time stands still, so no slice to
		 * give it; only a look at the window between. */
		struct timespec ts = ns_to_timespec(monitor_more ? 0 : PAUSED_POLL_NS);
		if (ppoll(&pfd, 1, &ts, NULL) > 0) {
			uint64_t count;
			if (read(board->wake_fd, &count, sizeof(count)) < 0) {
				/* Drained by someone else. */
			}
		}
		/* The window's close button and screenshots work while paused;
		 * its input waits for the guest. */
		board_screen_poll(board, guest_ns_at(&board->clk, board->paused_count));
	}
}

int board_run(struct board *board)
{
	board->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	board->halt_poll_allowed = host_cpus_allowed() > 1;
	int err = board->wake_fd < 0 ? -errno : board_start_timer(board);
	if (err) {
		fprintf(stderr, "btvm: cannot set up the guest's timer: %s\n", strerror(-err));
		if (board->wake_fd >= 0)
			close(board->wake_fd);
		board->wake_fd = -1;
		return 1;
	}
	/* Before the console, which leaves a SIGTERM taken over alone. */
	board_stats_start(board);
	const struct console_ops console_ops = {
		.input = board_console_notify,
		.quit = board_quit_key,
		.monitor_line = board_monitor_line,
		.opaque = board,
	};
	if (board->cfg.serial == SERIAL_STDIO && console_open(&console_ops) < 0)
		fprintf(stderr, "btvm: warning: cannot read the console; guest input is off\n");
	board->plat = (struct cpu_platform){
		.poll = platform_poll,
		.intr = platform_intr,
		.inta = platform_inta,
		.wait = platform_wait,
		.msr = platform_msr,
		.apic_enabled = platform_apic_enabled,
		.tsc_hz = platform_tsc_hz,
		.opaque = board,
	};
	board->cpu.plat = &board->plat;
	platform_poll(board);
	if (board->cfg.start_paused) {
		/* Not one instruction before someone continues it. */
		board_pause(board, board->cfg.gdb ? BOARD_HOLD_GDB : BOARD_HOLD_MONITOR);
		board->cpu.stop = true;
	}
	for (;;) {
		cpu_run(&board->cpu, &board->tr);
		if (!board->exit_requested && !board->reset_requested && !board->cpu.fatal &&
		    board->cpu.stop) {
			board_control(board);
			if (!board->exit_requested && !board->reset_requested)
				continue;
		}
		if (board->exit_requested)
			break;
		if (board->reset_requested && board->cfg.no_reboot) {
			/* The guest asked for the reboot: a clean end, as QEMU's
			 * -no-reboot gives. */
			fprintf(stderr, "btvm: the guest rebooted; --no-reboot ends here\n");
			board->exit_requested = true;
			board->exit_status = 0;
			break;
		}
		if (!(board->reset_requested || board->cpu.triple_fault) || board->cfg.no_reboot ||
		    board_reset(board))
			break;
		monitor_event(board->monitor, "RESET");
	}
	monitor_event(board->monitor, "SHUTDOWN");
	board_screen_close(board);
	board_stop_timer(board);
	console_close();
	close(board->wake_fd);
	board->wake_fd = -1;
	int status = 1;
	if (board->exit_requested)
		status = board->exit_status;
	else
		fprintf(stderr, "btvm: %s: %s (eip 0x%08x)\n", board->cfg.kernel_path,
			board->cpu.fatal ? board->cpu.fatal : "stopped", board->cpu.s.eip);
	gdbstub_exited(board->gdb, status);
	return status;
}

void board_destroy(struct board *board)
{
	board_stats_stop(board);
	gdbstub_close(board->gdb);
	board->gdb = NULL;
	migration_destroy(board);
	monitor_close(board->monitor);
	board->monitor = NULL;
	board_screen_destroy(board);
	if (board->cpu_ready) {
		board_explain_destroy(board);
		cpu_destroy(&board->cpu);
		translator_destroy(&board->tr);
		tcache_destroy(&board->tc);
		shadow_destroy(&board->sh);
		if (board->trace)
			fclose(board->trace);
	}
	/* The backend first: it calls into the device until it stops. */
	slirp_net_close(board->slirp);
	board->slirp = NULL;
	virtio_net_close(&board->net);
	for (unsigned i = 0; i < board->cfg.ndisks; i++)
		virtio_blk_close(&board->disks[i]);
	guest_ram_destroy(&board->ram);
}
