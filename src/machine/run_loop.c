/* The run loop: the vCPU runs, and between its blocks it calls the
 * platform (struct cpu_platform, its opaque the vCPU's slot): the poll
 * that brings every device and front end to the present and re-arms the
 * host timer, interrupt delivery, HLT's sleep (and its spin while a disk
 * request is in flight). The guest stops at the control point for what the
 * front ends have waiting (the monitor's commands, gdb's packets, the
 * migration's last round), which runs at an instruction boundary, and
 * stays there while a front end holds it paused. Which ISA lines can reach
 * the CPU is asked here rather than in wiring.c: the poll and HLT ask it
 * every time. */
#define _GNU_SOURCE
#include "machine/board_internal.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "host/clock.h"
#include "host/console.h"
#include "host/map_limit.h"
#include "host/thread.h"
#include "isa/cpuid.h"

#define CASCADE_IRQ 2

/* How soon to look again when the UART had no room for console input. */
#define RX_RETRY_NS 1000000ull

/* How often a paused machine looks at its window. */
#define PAUSED_POLL_NS 20000000ull

/* How often self-checking code pages get their write protection back. */
#define REPROTECT_NS 100000000ull

/* Whether ISA IRQ irq can reach the CPU: through the 8259 pair (while the
 * local APIC passes ExtINT on, or takes the 8259's INT on LINT0 as an NMI)
 * or through an unmasked I/O APIC pin. */
static bool irq_unmasked(const struct board *board, unsigned irq)
{
	const struct pic8259_pair *pic = &board->pic;
	/* Both controllers reach the bootstrap processor (board__bsp). */
	const struct lapic *lapic = &board->vcpus[0].lapic;
	if (!(board->ioapic.redir[board__isa_irq_pin(irq)] & IOAPIC_MASKED) &&
	    lapic_hw_enabled(lapic))
		return true;
	if (!lapic_accepts_pic(lapic) && !lapic_nmi_routed(lapic, 0))
		return false;
	if (irq < 8)
		return !(pic->chip[0].imr & (1u << irq));
	return !(pic->chip[0].imr & (1u << CASCADE_IRQ)) && !(pic->chip[1].imr & (1u << (irq - 8)));
}

static uint64_t earlier(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Whether HPET timer n's interrupt can reach the CPU: its ISA line under
 * legacy replacement, else its I/O APIC pin unmasked. */
static bool hpet_timer_unmasked(const struct board *board, unsigned n)
{
	unsigned irq, pin;
	if (hpet_timer_route(&board->hpet, n, &irq, &pin))
		return irq_unmasked(board, irq);
	return pin < IOAPIC_PINS && !(board->ioapic.redir[pin] & IOAPIC_MASKED) &&
	       lapic_hw_enabled(&board->vcpus[0].lapic);
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
	for (unsigned n = 0; n < HPET_TIMERS; n++)
		if (!only_unmasked || hpet_timer_unmasked(board, n))
			deadline = earlier(deadline, hpet_timer_next_event_ns(&board->hpet, n, now));
	for (unsigned i = 0; i < board->nvcpus; i++)
		deadline = earlier(deadline, lapic_next_event_ns(&board->vcpus[i].lapic, now));
	/* The sound card's next piece for the host, interrupt or not: a
	 * halted guest's sound plays on. */
	if (board->ac97.attached)
		deadline = earlier(deadline, ac97_next_event_ns(&board->ac97, now));
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
	uint64_t now = board__clock_ns(board);
	uint64_t deadline = next_device_event(board, now, false);
	if (board->rx_backlog && deadline > now + RX_RETRY_NS)
		deadline = now + RX_RETRY_NS;
	if (board->tc.selfcheck_count && deadline > board->last_reprotect_ns + REPROTECT_NS)
		deadline = board->last_reprotect_ns + REPROTECT_NS;
	deadline = earlier(deadline, board__frontends_deadline(board));
	if (board__frontends_want_slice(board))
		deadline = earlier(deadline, board->control_slice_end_ns);
	/* The running vCPU's turn ends, if another can take it. */
	if (board->nvcpus > 1 && !board->threaded && board__other_runnable(board, board->running))
		deadline = earlier(deadline, board->slice_end_ns);
	if (!board->timer_ready)
		return;
	if (deadline <= now && !just_polled) {
		/* The vCPU that polls the devices: the one whose turn it is,
		 * or with threads of their own the bootstrap processor. */
		cpu_request_attention(board->threaded ? &board__bsp(board)->cpu : &board->running->cpu);
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
		its.it_value = board__ns_to_timespec(board->timer_fires_mono);
	} else {
		board->timer_fires_mono = UINT64_MAX;
	}
	timer_settime(board->timer, TIMER_ABSTIME, &its, NULL);
}

void board__arm_timer(struct board *board)
{
	arm_timer(board, false);
}

void board__deadline_changed(void *opaque)
{
	board__arm_timer(opaque);
}

void board__vcpu_deadline_changed(void *opaque)
{
	const struct board_vcpu *v = opaque;
	board__arm_timer(v->board);
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
void board__console_notify(void *opaque)
{
	struct board *board = opaque;
	for (unsigned i = 0; i < board->nvcpus; i++)
		cpu_request_attention(&board->vcpus[i].cpu);
	wake_sleeper(board);
}

void board_wake(struct board *board)
{
	board__console_notify(board);
}

void board_wake_from_signal(struct board *board, void *uctx)
{
	for (unsigned i = 0; i < board->nvcpus; i++)
		cpu_request_attention_signal(&board->vcpus[i].cpu, uctx);
	wake_sleeper(board);
}

/* Console thread: Ctrl-A x. */
static void board_quit_key(void *opaque)
{
	struct board *board = opaque;
	atomic_store(&board->quit_key, true);
	board_wake(board);
}

/* Console thread: a line typed at the monitor's prompt, for the front
 * end that takes them. */
static void board_monitor_line(void *opaque, const char *line)
{
	board__frontends_terminal_line(opaque, line);
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

void board__platform_poll(void *opaque)
{
	struct board_vcpu *v = opaque;
	struct board *board = v->board;
	if (v->init_pending) {
		board__take_init(v);   /* cpu_run stops; the rest at the next poll */
		return;
	}
	/* The run loop takes these with the guest stopped (control_point):
	 * some after the guest's slice, or at once when it has nothing to do
	 * (HLT). */
	if (board__frontends_want_stop(board, v->cpu.halted) || atomic_load(&board->quit_key)) {
		v->cpu.stop = true;
		v->yield = false;   /* the control point first */
	}
	board__clock_refine(&board->clk);
	uint64_t now = board__clock_ns(board);
	if (now - board->last_reprotect_ns >= REPROTECT_NS) {
		board->last_reprotect_ns = now;
		tcache_reprotect_selfcheck(&board->tc, &v->cpu.ibl_table);
	}
	if (board->sh.stats.replacements && !board->map_hint_shown)
		board_map_hint(board);
	/* Under the HPET's legacy replacement the PIT and the RTC reach
	 * no line: ticks they queued would never be taken. */
	pit8254_update(&board->pit, now);
	if (!irq_unmasked(board, PIT_IRQ) || hpet_legacy(&board->hpet))
		pit8254_drop_backlog(&board->pit);
	mc146818_update(&board->rtc, now);
	if (!irq_unmasked(board, RTC_IRQ) || hpet_legacy(&board->hpet))
		mc146818_drop_backlog(&board->rtc);
	acpi_pm_update(&board->pm, now);
	hpet_update(&board->hpet, now);
	for (unsigned i = 0; i < board->nvcpus; i++)
		lapic_update(&board->vcpus[i].lapic, now);
	if (board->ac97.attached)
		ac97_update(&board->ac97, now);
	if (board->cfg.serial == SERIAL_STDIO)
		board_pump_input(board);
	for (unsigned i = 0; i < board->cfg.ndisks; i++)
		virtio_blk_poll(&board->disks[i]);
	virtio_net_poll(&board->net);
	for (unsigned i = 0; i < board->cfg.nshares; i++)
		virtio_9p_poll(&board->shares[i]);
	/* The window's input and pictures, the statistics' samples, the
	 * migration's rounds. */
	if (board__frontends_poll(board, now)) {
		v->cpu.stop = true;
		v->yield = false;
	}
	/* Its turn is over: the run loop gives the next vCPU one. */
	if (board->nvcpus > 1 && !board->threaded && !v->cpu.stop && now >= board->slice_end_ns &&
	    board__other_runnable(board, v))
		v->cpu.stop = v->yield = true;
	arm_timer(board, true);
}

/* The local APIC's own requests come first; the 8259's INT reaches the
 * bootstrap processor as ExtINT through LINT0 (or directly with the APIC
 * off). */
static bool bsp_intr(void *opaque)
{
	struct board_vcpu *v = opaque;
	return lapic_has_interrupt(&v->lapic) ||
	       (lapic_accepts_pic(&v->lapic) && pic8259_has_interrupt(&board__of_bsp(v)->pic));
}

static int bsp_inta(void *opaque)
{
	struct board_vcpu *v = opaque;
	struct board *board = board__of_bsp(v);
	int vector;
	bool from_pic = !lapic_has_interrupt(&v->lapic);
	if (!from_pic)
		vector = lapic_acknowledge(&v->lapic);
	else
		vector = pic8259_acknowledge(&board->pic);
	/* IRQ 0 taken, through the 8259 or the I/O APIC (pin 2): a PIT edge
	 * held back for it may follow. */
	uint64_t pin2 = board->ioapic.redir[board__isa_irq_pin(PIT_IRQ)];
	if (from_pic ? vector == board->pic.chip[0].vector_base + PIT_IRQ
		     : !(pin2 & IOAPIC_MASKED) && vector == (int)(pin2 & IOAPIC_VECTOR_MASK))
		pit8254_irq_taken(&board->pit);
	return vector;
}

/* Any other vCPU hears its LAPIC only: the 8259 and the I/O APIC's
 * messages go to the bootstrap processor. */
static bool ap_intr(void *opaque)
{
	const struct board_vcpu *v = opaque;
	return lapic_has_interrupt(&v->lapic);
}

static int ap_inta(void *opaque)
{
	struct board_vcpu *v = opaque;
	return lapic_acknowledge(&v->lapic);
}

/* What can still raise an NMI while IF is clear: an unmasked I/O APIC
 * entry in NMI mode, or the 8259 through LINT0 in NMI mode. LINT1, the
 * PC's NMI line, has only the monitor's NMI button for a source (see
 * "Interrupts and time"), which like its power button is no device that
 * will wake the guest, so LINT1 in NMI mode, as the BIOS leaves it, does
 * not count. */
static bool bsp_nmi_possible(void *opaque)
{
	const struct board_vcpu *v = opaque;
	const struct board *board = v->board;
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
		uint64_t e = board->ioapic.redir[pin];
		if (!(e & IOAPIC_MASKED) && (e & IOAPIC_DM_MASK) == IOAPIC_DM_NMI)
			return lapic_hw_enabled(&v->lapic);
	}
	return lapic_hw_enabled(&v->lapic) && lapic_nmi_routed(&v->lapic, 0);
}

/* PAUSE: a spin-wait, most likely for another vCPU (a lock it holds, a
 * flag it sets), which gets the turn now. */
static void smp_pause(void *opaque)
{
	struct board_vcpu *v = opaque;
	if (!v->cpu.stop && board__other_runnable(v->board, v))
		v->cpu.stop = v->yield = true;
}

static bool smp_nmi_possible(void *opaque)
{
	(void)opaque;
	return true;
}

static int platform_msr(void *opaque, uint32_t index, bool write, uint64_t *value)
{
	struct board_vcpu *v = opaque;
	if (index != LAPIC_MSR_APIC_BASE)
		return 1;
	if (!write) {
		*value = lapic_get_base_msr(&v->lapic);
		return 0;
	}
	return lapic_set_base_msr(&v->lapic, *value) < 0 ? -1 : 0;
}

static bool platform_apic_enabled(void *opaque)
{
	const struct board_vcpu *v = opaque;
	return lapic_hw_enabled(&v->lapic);
}

/* The rate at which the guest TSC runs against the board's own clock,
 * which the PIT and the APIC timer run by: CPUID leaf 0x15 gives it with
 * the APIC timer's input clock as the crystal. */
_Static_assert(CPUID_CRYSTAL_HZ == LAPIC_BUS_HZ, "leaf 0x15's crystal is the APIC timer's clock");
static uint64_t platform_tsc_hz(void *opaque)
{
	const struct board_vcpu *v = opaque;
	return v->board->clk.hz;
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
static bool halt_poll(const struct board_vcpu *v, uint64_t span)
{
	uint64_t deadline = host_monotonic_ns() + (span < HALT_POLL_NS ? span : HALT_POLL_NS);
	for (unsigned turn = 0; !__atomic_load_n(&v->cpu.attention, __ATOMIC_RELAXED); turn++)
		if (!host_spin_turn(turn, deadline))
			return false;
	return true;
}

/* HLT: sleeps until the next timer event that can reach the CPU or
 * console input, whichever comes first; false when neither can ever come. */
static bool platform_wait(void *opaque)
{
	struct board_vcpu *v = opaque;
	struct board *board = v->board;
	if (board->threaded && v->index > 0)
		return board__ap_wait(v);
	/* Another vCPU has something to do: its turn, rather than a sleep. */
	if (board->nvcpus > 1 && !board->threaded && board__other_runnable(board, v)) {
		v->cpu.stop = v->yield = true;
		return true;
	}
	uint64_t now = board__clock_ns(board);
	/* Only sources the PIC lets through can end the sleep. */
	uint64_t deadline = next_device_event(board, now, true);
	bool input_possible = board->cfg.serial == SERIAL_STDIO && irq_unmasked(board, COM1_IRQ) &&
			      (!console_input_ended() || board->rx_backlog);
	/* The front ends: the window's keys and mouse and its close button
	 * (the ACPI SCI), and its input held back; a debugger, which may stop
	 * the guest (Ctrl-C) to look. The window shows the screen as the
	 * guest left it. */
	struct board_halt h = { .wakes = 0, .input_ns = UINT64_MAX, .own_ns = UINT64_MAX };
	board__frontends_halt(board, now, &h);
	if (((h.wakes & BOARD_WAKE_KEYBOARD) && irq_unmasked(board, I8042_KBD_IRQ)) ||
	    ((h.wakes & BOARD_WAKE_MOUSE) && irq_unmasked(board, I8042_AUX_IRQ)) ||
	    ((h.wakes & BOARD_WAKE_POWER_BUTTON) && irq_unmasked(board, ACPI_PM_SCI_IRQ)) ||
	    (h.wakes & BOARD_WAKE_STOP))
		input_possible = true;
	/* A disk request in flight ends in an interrupt (its thread wakes us). */
	bool disk_busy = false;
	for (unsigned i = 0; i < board->cfg.ndisks; i++)
		if (virtio_blk_busy(&board->disks[i]))
			disk_busy = input_possible = true;
	/* So may a network frame, at any time while the driver runs. */
	if (virtio_net_busy(&board->net))
		input_possible = true;
	/* And a shared folder's reply, while requests are out. */
	for (unsigned i = 0; i < board->cfg.nshares; i++)
		if (virtio_9p_busy(&board->shares[i]))
			input_possible = true;
	deadline = earlier(deadline, h.input_ns);
	if (board->rx_backlog && deadline > now + RX_RETRY_NS)
		deadline = now + RX_RETRY_NS;
	/* Work waits for the control point: a halted guest loses nothing
	 * while it runs. */
	if (board__frontends_want_slice(board))
		return true;
	/* With other vCPUs on threads of their own, an IPI may come. */
	if (deadline == UINT64_MAX && !input_possible && !board->threaded)
		return false;
	/* A sample wakes the sleep too, but cannot end the guest's wait. */
	deadline = earlier(deadline, h.own_ns);
	if (deadline <= now)
		return true;
	uint64_t start = host_monotonic_ns();
	if (board->threaded) {
		if (board__halt_poll_ipi(v, deadline - now)) {
			board__halt_poll_adapt(v, host_monotonic_ns() - start);
			return true;
		}
		now = board__clock_ns(board);
		if (deadline <= now)
			return true;
	}
	if (disk_busy && board->halt_poll_allowed) {
		v->cpu.stats.halt_polls++;
		cpu_unlock(&v->cpu);   /* the other vCPUs run meanwhile */
		bool came = halt_poll(v, deadline - now);
		cpu_lock(&v->cpu);
		if (came) {
			v->cpu.stats.halt_poll_wakes++;
			return true;
		}
		now = board__clock_ns(board);
		if (deadline <= now)
			return true;
	}
	v->cpu.stats.halt_sleeps++;
	struct pollfd pfd = { .fd = board->wake_fd, .events = POLLIN };
	struct timespec ts, *tsp = NULL;
	if (deadline != UINT64_MAX) {
		ts = board__ns_to_timespec(deadline - now);
		tsp = &ts;
	}
	/* A request from another vCPU before the sleep (cpu_request_attention
	 * found waiting clear and sent a signal that ended nothing). */
	if (board->threaded && v->cpu.attention)
		return true;
	cpu_unlock(&v->cpu);
	int ready = ppoll(&pfd, 1, tsp, NULL);
	cpu_lock(&v->cpu);
	if (ready > 0)
		board__drain_eventfd(board->wake_fd);
	if (board->threaded)
		board__halt_poll_adapt(v, host_monotonic_ns() - start);
	return true;
}

/* The guest stopped at an instruction boundary for what the front ends
 * have waiting (a monitor command, a gdb packet, a breakpoint or a step,
 * the migration's last round) or Ctrl-A x: runs it, and while paused
 * waits for more, keeping the front ends alive (the window's close button
 * and screenshots work while paused; its input waits for the guest). */
static void control_point(struct board *board, struct board_vcpu *v)
{
	v->cpu.stop = false;
	for (;;) {
		if (atomic_exchange(&board->quit_key, false)) {
			board->exit_requested = true;
			board->exit_status = 0;
		}
		bool more = board__frontends_run_stopped(board);
		if (!board->paused || board->exit_requested || board->reset_requested) {
			/* The rest after the guest's slice (arm_timer sees it). */
			board->control_slice_end_ns = board__clock_ns(board) + BOARD_CONTROL_SLICE_NS;
			if (more)
				board__arm_timer(board);
			break;
		}
		struct pollfd pfd = { .fd = board->wake_fd, .events = POLLIN };
		/* More work waits: guest time stands still, so no slice to give
		 * it; only a look at the front ends between. */
		struct timespec ts = board__ns_to_timespec(more ? 0 : PAUSED_POLL_NS);
		if (ppoll(&pfd, 1, &ts, NULL) > 0)
			board__drain_eventfd(board->wake_fd);
		board__frontends_paused(board, board__guest_ns_at(&board->clk, board->paused_count));
	}
}

int board_run(struct board *board)
{
	struct board_vcpu *v = board__bsp(board);
	board->halt_poll_allowed = host_cpus_allowed() > 1;
	int err = board__start_timer(board);
	if (err) {
		fprintf(stderr, "btvm: cannot set up the guest's timer: %s\n", strerror(-err));
		return 1;
	}
	/* Before the console, which leaves a SIGTERM taken over alone. */
	board__event(board, BOARD_EVENT_START);
	const struct console_ops console_ops = {
		.input = board__console_notify,
		.quit = board_quit_key,
		.monitor_line = board_monitor_line,
		.opaque = board,
	};
	if (board->cfg.serial == SERIAL_STDIO && console_open(&console_ops) < 0)
		fprintf(stderr, "btvm: warning: cannot read the console; guest input is off\n");
	for (unsigned i = 0; i < board->nvcpus; i++)
		board__vcpu_platform(&board->vcpus[i]);
	if (board->threaded) {
		err = board__threads_start(board);
		if (err) {
			fprintf(stderr, "btvm: warning: cannot start the vCPUs' threads (%s): they take turns on one\n",
				strerror(-err));
			board->threaded = false;
			for (unsigned i = 0; i < board->nvcpus; i++)
				board__vcpu_platform(&board->vcpus[i]);
		}
	}
	board__platform_poll(v);
	if (board->start_paused) {
		/* Not one instruction before someone continues it. */
		board_pause(board, board->cfg.gdb ? BOARD_HOLD_GDB : BOARD_HOLD_MONITOR);
		v->cpu.stop = true;
	}
	for (;;) {
		cpu_run(&v->cpu, &v->tr);
		if (v->yield) {
			/* Its turn is over: nothing for the control point. */
			v->yield = false;
			/* A breakpoint or a step the vCPU stopped for goes to
			 * the control point first, on its own turn. */
			if (v->cpu.stop && !v->cpu.fatal && v->cpu.debug.event == DEBUG_EVENT_NONE &&
			    !board->exit_requested && !board->reset_requested) {
				v->cpu.stop = false;
				/* With threads of their own (an INIT taken: the
				 * BSP's run loop starts anew) the BSP goes on. */
				if (!board->threaded)
					v = board__next_vcpu(board, v);
				board__arm_timer(board);   /* for the end of its slice */
				continue;
			}
		}
		if (board->ap_failed && !v->cpu.fatal) {
			/* An AP cannot go on: the machine ends with its reason. */
			v = board->ap_failed;
			break;
		}
		if (!board->exit_requested && !board->reset_requested && !v->cpu.fatal &&
		    v->cpu.stop) {
			/* Every other vCPU out of translated code meanwhile. */
			cpu_exclusive_begin(&v->cpu);
			control_point(board, v);
			cpu_exclusive_end(&v->cpu);
			if (board->step_turn && board->step_turn != v) {
				/* A debugger stepped another vCPU: its turn now. */
				v = board__give_turn(board, board->step_turn);
				board__arm_timer(board);
			}
			board->step_turn = NULL;
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
		if (!(board->reset_requested || v->cpu.triple_fault) || board->cfg.no_reboot)
			break;
		cpu_exclusive_begin(&v->cpu);
		int reset_err = board__reset(board);
		cpu_exclusive_end(&v->cpu);
		if (reset_err)
			break;
		v = board__bsp(board);   /* the APs wait for their start-up IPIs again */
		board__event(board, BOARD_EVENT_RESET);
	}
	board__threads_stop(board);
	/* The window writes its --screenshot files and closes. */
	board__event(board, BOARD_EVENT_SHUTDOWN);
	board__stop_timer(board);
	console_close();
	int status = 1;
	if (board->exit_requested)
		status = board->exit_status;
	else
		fprintf(stderr, "btvm: %s: %s%s (eip 0x%08x)\n",
			board->cfg.kernel_path ? board->cfg.kernel_path : board->cfg.bios_path,
			v->index ? "an application processor: " : "",
			v->cpu.fatal ? v->cpu.fatal : "stopped", v->cpu.s.eip);
	board__frontends_exited(board, status);
	return status;
}

/* The machine lock is v's now (vCPUs on threads of their own): the
 * devices' "this CPU", the LAPIC page, is v. */
static void vcpu_acquired(void *opaque)
{
	struct board_vcpu *v = opaque;
	v->board->running = v;
}

/* Each vCPU's platform: its slot is the callbacks' opaque. */
void board__vcpu_platform(struct board_vcpu *v)
{
	bool bsp = v->index == 0;
	struct board *board = v->board;
	bool own_thread = board->threaded && !bsp;
	v->plat = (struct cpu_platform){
		.poll = own_thread ? board__ap_poll : board__platform_poll,
		.intr = bsp ? bsp_intr : ap_intr,
		.inta = bsp ? bsp_inta : ap_inta,
		.wait = platform_wait,
		/* With other CPUs, one of them may send an NMI (or INIT). */
		.nmi_possible = board->nvcpus > 1 ? smp_nmi_possible : bsp ? bsp_nmi_possible : NULL,
		.msr = platform_msr,
		.apic_enabled = platform_apic_enabled,
		.tsc_hz = platform_tsc_hz,
		.pause = board->nvcpus > 1 && !board->threaded ? smp_pause : NULL,
		.acquired = board->threaded ? vcpu_acquired : NULL,
		.apic_id = v->index,
		.ncpus = board->nvcpus,
		.opaque = v,
	};
	v->cpu.plat = &v->plat;
}
