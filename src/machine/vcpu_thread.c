/* Several vCPUs on host threads of their own (--smp N without a debugger):
 * the application processors' threads, their HLT sleep and their poll, and
 * what an AP that cannot go on asks of the bootstrap processor. The
 * bootstrap processor runs on the thread that called board_run, which
 * keeps the devices' poll, the front ends and the control point; the
 * machine lock (cpu/cpu_lock.c) keeps everything outside translated code
 * to one vCPU at a time. */
#define _GNU_SOURCE
#include "machine/board_internal.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cpu/profile.h"
#include "host/clock.h"

/* A sched_yield that took this long may have run another thread on this
 * CPU; if the thread's involuntary switches say so, the host is busy, and
 * a thread that spins there instead of sleeping loses the wake-up's
 * preference and waits out the other's time slice (an IPI's round trip
 * beside a CPU hog on each core: 300-450 us against 80-110 asleep).
 * Spinning stops then for a while, as KVM's stops while another task is
 * runnable on the CPU (single_task_running): 1 ms, doubled while the host
 * stays busy, up to 100 ms. A slow yield without a switch is the
 * hypervisor's (a virtualized host's CPU taken away for a while: 30 yields
 * in 200,000 on the quiet 2-core Xeon); another thread of this process or
 * a kernel worker runs now and then too (twice in a 40,000-HLT ipibench
 * run), hence the short first pause. */
#define IPI_POLL_YIELD_SLOW_NS 20000u
#define IPI_POLL_BUSY_MIN_NS 1000000u
#define IPI_POLL_BUSY_MAX_NS 100000000u

static long thread_switches(void)
{
	struct rusage ru;
	return getrusage(RUSAGE_THREAD, &ru) ? -1 : ru.ru_nivcsw;
}

bool board__halt_poll_ipi(struct board_vcpu *v, uint64_t span)
{
	struct cpu *cpu = &v->cpu;
	/* Not when the vCPUs outnumber the CPUs the process may use: the
	 * spin would keep the sender from its CPU (cpu_lock.c's spin). */
	if (!v->ipi_poll_ns || !v->board->threaded || !v->board->lock.spin)
		return false;
	uint64_t now = host_monotonic_ns();
	if (now < v->ipi_poll_busy_until)
		return false;
	uint64_t deadline = now + (span < v->ipi_poll_ns ? span : v->ipi_poll_ns);
	cpu->stats.halt_polls++;
	cpu_unlock(cpu);
	bool came = true;
	long switches = -1;
	for (unsigned turn = 0; !__atomic_load_n(&cpu->attention, __ATOMIC_ACQUIRE); turn++) {
		__builtin_ia32_pause();
		if (turn % 64 != 63)
			continue;
		now = host_monotonic_ns();
		if (now >= deadline) {
			came = false;
			break;
		}
		if (switches < 0)
			switches = thread_switches();
		sched_yield();
		if (host_monotonic_ns() - now >= IPI_POLL_YIELD_SLOW_NS && thread_switches() > switches)
			break;   /* another thread ran here */
	}
	/* Preempted anywhere in the spin, or at a yield: the host is busy. */
	bool busy = switches >= 0 && thread_switches() > switches;
	cpu_lock(cpu);
	if (busy) {
		came = __atomic_load_n(&cpu->attention, __ATOMIC_ACQUIRE);
		uint32_t pause = v->ipi_poll_busy_ns ? v->ipi_poll_busy_ns * 2 : IPI_POLL_BUSY_MIN_NS;
		v->ipi_poll_busy_ns = pause < IPI_POLL_BUSY_MAX_NS ? pause : IPI_POLL_BUSY_MAX_NS;
		v->ipi_poll_busy_until = host_monotonic_ns() + v->ipi_poll_busy_ns;
		v->ipi_poll_ns = 0;
	} else if (switches >= 0) {
		v->ipi_poll_busy_ns /= 2;   /* a whole spin with the CPU to itself */
	}
	if (came)
		cpu->stats.halt_poll_wakes++;
	return came;
}

/* KVM's rule: a HLT longer than the spin but short enough to have been
 * spun through doubles the spin; one longer than the longest spin (an idle
 * CPU between timer ticks) ends spinning until a short one comes again, so
 * an idle guest costs no host CPU. */
void board__halt_poll_adapt(struct board_vcpu *v, uint64_t blocked_ns)
{
	if (blocked_ns <= v->ipi_poll_ns)
		return;
	if (blocked_ns < BOARD_IPI_POLL_MAX_NS) {
		uint64_t grown = (uint64_t)v->ipi_poll_ns * 2;
		if (grown < BOARD_IPI_POLL_START_NS)
			grown = BOARD_IPI_POLL_START_NS;
		v->ipi_poll_ns = (uint32_t)(grown < BOARD_IPI_POLL_MAX_NS ? grown : BOARD_IPI_POLL_MAX_NS);
	} else {
		v->ipi_poll_ns = 0;
	}
}

/* An AP's HLT: sleeps on its own eventfd, without the machine lock, until
 * its LAPIC timer's next expiry or a request (an IPI, an INIT, the end). A
 * request made before the sleep began is seen in attention (the requester
 * found waiting clear and sent a signal instead: cpu_request_attention). */
bool board__ap_wait(struct board_vcpu *v)
{
	struct board *board = v->board;
	struct cpu *cpu = &v->cpu;
	uint64_t now = board__clock_ns(board);
	uint64_t deadline = lapic_next_event_ns(&v->lapic, now);
	if (deadline <= now || cpu->attention || board->threads_quit)
		return true;
	uint64_t start = host_monotonic_ns();
	if (board__halt_poll_ipi(v, deadline - now)) {
		board__halt_poll_adapt(v, host_monotonic_ns() - start);
		return true;
	}
	now = board__clock_ns(board);
	if (deadline <= now || cpu->attention || board->threads_quit)
		return true;
	struct pollfd pfd = { .fd = v->wake_fd, .events = POLLIN };
	struct timespec ts, *tsp = NULL;
	if (deadline != UINT64_MAX) {
		ts = board__ns_to_timespec(deadline - now);
		tsp = &ts;
	}
	cpu->stats.halt_sleeps++;
	cpu_unlock(cpu);
	if (ppoll(&pfd, 1, tsp, NULL) > 0)
		board__drain_eventfd(v->wake_fd);
	cpu_lock(cpu);
	board__halt_poll_adapt(v, host_monotonic_ns() - start);
	return true;
}

/* An AP's attention: its own LAPIC's timer. The devices are the
 * bootstrap processor's to poll, as the board timer's signal is. */
void board__ap_poll(void *opaque)
{
	struct board_vcpu *v = opaque;
	struct board *board = v->board;
	lapic_update(&v->lapic, board__clock_ns(board));
	if (board->threads_quit)
		v->cpu.stop = true;
}

/* The AP stopped for good (a fatal state) or asks for a reset (a triple
 * fault): the bootstrap processor's run loop acts on it, at its control
 * point's place. */
static void report_to_bsp(struct board_vcpu *v)
{
	struct board *board = v->board;
	if (v->cpu.triple_fault && !board->cfg.no_reboot)
		board->reset_requested = true;
	else if (!board->ap_failed)
		board->ap_failed = v;
	struct cpu *bsp = &board__bsp(board)->cpu;
	bsp->stop = true;
	cpu_request_attention(bsp);
}

static bool ap_must_wait(const struct board_vcpu *v)
{
	return v->wait_sipi || v->cpu.fatal || v->cpu.triple_fault;
}

static void *ap_main(void *arg)
{
	struct board_vcpu *v = arg;
	struct board *board = v->board;
	struct cpu *cpu = &v->cpu;
	/* --profile's sampler counts this thread's CPU time for this vCPU. */
	if (cpu->profile && profile_start_thread(cpu) < 0)
		fprintf(stderr, "btvm: warning: --profile cannot sample vCPU %u\n", v->index);
	cpu_lock(cpu);
	for (;;) {
		/* From RESET or an INIT until a start-up IPI; after a fatal
		 * state until the reset clears it. */
		while (!board->threads_quit && ap_must_wait(v))
			cpu_lock_wait(cpu);
		if (board->threads_quit)
			break;
		cpu_run(cpu, &v->tr);
		if (board->threads_quit)
			break;
		if (cpu->fatal)
			report_to_bsp(v);
		cpu->stop = false;   /* an INIT's: wait_sipi says the rest */
	}
	cpu_unlock(cpu);
	return NULL;
}

int board__threads_start(struct board *board)
{
	struct cpu *cpus[BOARD_MAX_VCPUS];
	for (unsigned i = 0; i < board->nvcpus; i++)
		cpus[i] = &board->vcpus[i].cpu;
	int err = cpu_lock_init(&board->lock, cpus, board->nvcpus);
	if (err)
		return err;
	board->threads_quit = false;
	board->ap_failed = NULL;
	board__bsp(board)->cpu.wake_fd = board->wake_fd;
	for (unsigned i = 1; i < board->nvcpus; i++)
		board->vcpus[i].wake_fd = -1;
	/* A vCPU's first HLT spins a little before it sleeps;
	 * board__halt_poll_adapt takes it from there. */
	for (unsigned i = 0; i < board->nvcpus; i++) {
		board->vcpus[i].ipi_poll_ns = BOARD_IPI_POLL_START_NS;
		board->vcpus[i].ipi_poll_busy_ns = 0;
		board->vcpus[i].ipi_poll_busy_until = 0;
	}
	for (unsigned i = 1; i < board->nvcpus; i++) {
		struct board_vcpu *v = &board->vcpus[i];
		v->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (v->wake_fd < 0) {
			err = -errno;
			break;
		}
		v->cpu.wake_fd = v->wake_fd;
	}
	/* The bootstrap processor's thread holds the lock from here on but
	 * in translated code and its sleeps. */
	cpu_lock(&board__bsp(board)->cpu);
	/* The APs' threads take this thread's signal mask: the attention
	 * signal unblocked, as a vCPU thread needs it. */
	for (unsigned i = 1; i < board->nvcpus && !err; i++) {
		struct board_vcpu *v = &board->vcpus[i];
		err = -pthread_create(&v->thread, NULL, ap_main, v);
		v->thread_started = err == 0;
	}
	if (err)
		board__threads_stop(board);
	return err;
}

void board__threads_stop(struct board *board)
{
	struct cpu *bsp = &board__bsp(board)->cpu;
	if (!bsp->lock)
		return;
	board->threads_quit = true;
	for (unsigned i = 1; i < board->nvcpus; i++) {
		board->vcpus[i].cpu.stop = true;
		cpu_request_attention(&board->vcpus[i].cpu);
	}
	cpu_lock_broadcast(bsp);
	cpu_unlock(bsp);
	for (unsigned i = 1; i < board->nvcpus; i++) {
		struct board_vcpu *v = &board->vcpus[i];
		if (v->thread_started)
			pthread_join(v->thread, NULL);
		v->thread_started = false;
		if (v->wake_fd >= 0)
			close(v->wake_fd);
		v->wake_fd = v->cpu.wake_fd = -1;
	}
	bsp->wake_fd = -1;
	cpu_lock_destroy(&board->lock);
}
