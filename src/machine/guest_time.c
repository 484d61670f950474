/* Guest time, and the host timer that brings the vCPU to the devices'
 * deadlines (run_loop.c's arm_timer points it); the clock's inline reads
 * are in board_internal.h.
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
#define _GNU_SOURCE
#include "machine/board_internal.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <time.h>

#include "host/clock.h"
#include "host/thread.h"

/* CLOCK_MONOTONIC and the counter at one instant, for the rate: the count
 * read between two clock reads at most PAIR_NS apart (usually 30-50 ns),
 * retried a while when the host interrupts them; false if none was. */
#define PAIR_NS 250ull
bool board__read_pair(const struct guest_clock *k, uint64_t *mono, uint64_t *count)
{
	for (int i = 0; i < 1000; i++) {
		uint64_t a = host_monotonic_ns();
		uint64_t c = board__host_count(k);
		uint64_t b = host_monotonic_ns();
		if (b - a <= PAIR_NS) {
			*mono = a + (b - a) / 2;
			*count = c;
			return true;
		}
	}
	return false;
}

/* The guest TSC counts the clock's host counts (TSC ticks, or ns). */
void board_guest_time(const struct board *board, uint64_t *guest_ns, uint64_t *tsc)
{
	uint64_t count = board->paused ? board->paused_count : board__host_count(&board->clk);
	*guest_ns = board__guest_ns_at(&board->clk, count);
	/* Every vCPU's TSC has the same offset (they start and stop
	 * together): the first one's. */
	*tsc = count - board->vcpus[0].cpu.tsc_offset;
}

/* Guest time and the TSC go on from the given moment (a restore, or the
 * end of a save, which the guest does not see), running or paused, and
 * every deadline the board kept in the old time is looked at again. */
void board_set_guest_time(struct board *board, uint64_t guest_ns, uint64_t tsc)
{
	struct guest_clock *k = &board->clk;
	uint64_t now = board__host_count(k);
	k->base_count = now;
	k->base_ns = guest_ns;
	/* The BSP's TSC is tsc; each other vCPU's keeps its distance from
	 * the BSP's (none unless the guest wrote IA32_TSC on one of them). */
	uint64_t bsp_offset = board->vcpus[0].cpu.tsc_offset;
	for (unsigned i = 0; i < board->nvcpus; i++) {
		struct cpu *cpu = &board->vcpus[i].cpu;
		cpu->tsc_offset = now - tsc + (cpu->tsc_offset - bsp_offset);
	}
	if (board->paused)
		board->paused_count = now;
	board->timer_deadline = UINT64_MAX;
	board->timer_fires_mono = 0;
	board->last_reprotect_ns = guest_ns;
	board->control_slice_end_ns = guest_ns;
	board__event(board, BOARD_EVENT_CLOCK_SET);
}

void board__clock_init(struct guest_clock *k)
{
	memset(k, 0, sizeof(*k));
	k->tsc = host_tsc_is_constant();
	board__set_rate(k, NS_PER_SEC);
	if (k->tsc) {
		uint64_t m, c;
		while (!board__read_pair(k, &k->cal_mono, &k->cal_count))
			;
		do
			while (!board__read_pair(k, &m, &c))
				;
		while (m - k->cal_mono < CLOCK_CALIBRATE_NS);
		board__set_rate(k, (uint64_t)((unsigned __int128)(c - k->cal_count) * NS_PER_SEC /
					      (m - k->cal_mono)));
		k->refined_mono = m;
	}
	k->base_count = board__host_count(k);
}

/* The host timer: HOST_ATTENTION_SIGNAL to this process (helper threads
 * block it, so it lands on the vCPU thread) naming the vCPU that polls
 * the devices (board__bsp) in its value;
 * the cpu's handler (cpu_install_fault_handlers) asks it for attention. */
int board__start_timer(struct board *board)
{
	struct sigevent sev;
	memset(&sev, 0, sizeof(sev));
	/* To this thread, the bootstrap processor's, which polls the
	 * devices: not to any thread of the process (an AP's). */
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev._sigev_un._tid = gettid();   /* glibc 2.36 names no field for it */
	sev.sigev_signo = HOST_ATTENTION_SIGNAL;
	sev.sigev_value.sival_ptr = &board__bsp(board)->cpu;
	if (timer_create(CLOCK_MONOTONIC, &sev, &board->timer) < 0)
		return -errno;
	board->timer_ready = true;
	board->timer_deadline = UINT64_MAX;

	/* Timers of this thread fire when due rather than up to 50 us later
	 * (the default slack): device deadlines are met as programmed. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	return 0;
}

void board__stop_timer(struct board *board)
{
	if (!board->timer_ready)
		return;
	timer_delete(board->timer);
	board->timer_ready = false;
}
