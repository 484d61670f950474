/* The vCPU's attention protocol (cpu/cpu.h).
 *
 * First the stores: a request stores attention, then points poll_ptr at
 * the guard page; the run loop takes it with cpu_take_attention, which
 * points poll_ptr back at poll_ok, then clears attention. A request from
 * a signal handler or another thread can land between the run loop's two
 * stores. Each of the six interleavings of the two pairs is played here
 * store by store, and the state it leaves must either have been polled
 * for (the request came before the run loop's first store) or be taken at
 * the next look: a pointer left at the guard with attention clear once
 * stalled the guest until some other request came (every block entry
 * faulted and came back with nothing to do).
 *
 * Then the register: translated code polls through a copy of poll_ptr in
 * r9, which a request must reach where it is. A context in translated
 * code or in a door gets its r9 rewritten by a signal handler's request,
 * one in monitor code does not; a request from another thread sends the
 * attention signal to the vCPU thread, naming the cpu, unless that
 * thread waits in HLT (cpu->waiting). And end to end:
 * this thread spins in a poll loop like a translated block's, placed in
 * the translation cache's buffer, r9 loaded from poll_ptr as a door does;
 * a request from another thread, and the board's kind of timer, each make
 * its next poll fault on the guard page (here a handler of the test's
 * takes the fault and jumps out). Without the kick, or with the handler
 * not rewriting r9, the loop would spin for ever: a watchdog thread fails
 * the test after a minute. A request that a loaded host let come before
 * the loop (its first poll faults, r9 loaded at the guard) proves nothing
 * of the rewrite: that try is made again. */
#define _GNU_SOURCE
#include "check.h"
#include "cache/tcache.h"
#include "cpu/cpu.h"
#include "cpu/run_internal.h"
#include "host/thread.h"

#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

enum store { REQ_FLAG, REQ_POINTER, TAKE_POINTER, TAKE_FLAG };

static void apply(struct cpu *cpu, enum store s)
{
	switch (s) {
	case REQ_FLAG:
		cpu->attention = 1;
		break;
	case REQ_POINTER:
		cpu->poll_ptr = (uint64_t)(uintptr_t)cpu->poll_guard;
		break;
	case TAKE_POINTER:
		cpu->poll_ptr = (uint64_t)(uintptr_t)&cpu->poll_ok;
		break;
	case TAKE_FLAG:
		cpu->attention = 0;
		break;
	}
}

static void check_stores(struct cpu *cpu)
{
	cpu->poll_ptr = (uint64_t)(uintptr_t)&cpu->poll_ok;

	/* Quiet: nothing to take. */
	CHECK(!cpu_take_attention(cpu));
	/* A request on its own: taken once, then quiet again. */
	cpu_request_attention(cpu);
	CHECK(cpu_take_attention(cpu));
	CHECK_EQ(cpu->poll_ptr, (uintptr_t)&cpu->poll_ok);
	CHECK_EQ(cpu->attention, 0);
	CHECK(!cpu_take_attention(cpu));

	/* The interleavings: the request's stores keep their order, and so
	 * do the run loop's (cpu_take_attention's, after its look). */
	static const enum store orders[6][4] = {
		{ REQ_FLAG, REQ_POINTER, TAKE_POINTER, TAKE_FLAG },
		{ REQ_FLAG, TAKE_POINTER, REQ_POINTER, TAKE_FLAG },
		{ REQ_FLAG, TAKE_POINTER, TAKE_FLAG, REQ_POINTER },
		{ TAKE_POINTER, REQ_FLAG, REQ_POINTER, TAKE_FLAG },
		{ TAKE_POINTER, REQ_FLAG, TAKE_FLAG, REQ_POINTER },
		{ TAKE_POINTER, TAKE_FLAG, REQ_FLAG, REQ_POINTER },
	};
	for (unsigned i = 0; i < 6; i++) {
		/* A request the run loop had seen, being taken. */
		cpu->attention = 1;
		cpu->poll_ptr = (uint64_t)(uintptr_t)cpu->poll_guard;
		for (unsigned k = 0; k < 4; k++)
			apply(cpu, orders[i][k]);
		/* Both of the request's stores before the run loop's: the
		 * poll that follows sees it. Otherwise the next look must. */
		bool polled = i == 0;
		bool taken = cpu_take_attention(cpu);
		if (!polled && !taken)
			fprintf(stderr, "interleaving %u: the request is lost (attention %u, pointer %s)\n",
				i, cpu->attention,
				cpu->poll_ptr == (uint64_t)(uintptr_t)&cpu->poll_ok ? "ok" : "at the guard");
		CHECK(polled || taken);
		/* Whatever it was, the pointer ends at poll_ok: a block entry
		 * that faults with nothing to take would do so for ever. */
		CHECK_EQ(cpu->poll_ptr, (uintptr_t)&cpu->poll_ok);
		CHECK_EQ(cpu->attention, 0);
	}
}

extern const uint8_t btvm_doors_begin[];

/* A context of this thread at rip with r9 = 0x1234, asked for attention
 * through cpu_request_attention_signal as a handler would: r9 after. */
static uint64_t r9_after_signal_request(struct cpu *cpu, uintptr_t rip)
{
	ucontext_t uc;
	memset(&uc, 0, sizeof(uc));
	uc.uc_mcontext.gregs[REG_RIP] = (greg_t)rip;
	uc.uc_mcontext.gregs[REG_R9] = 0x1234;
	cpu_request_attention_signal(cpu, &uc);
	CHECK(cpu_take_attention(cpu));
	return (uint64_t)uc.uc_mcontext.gregs[REG_R9];
}

static void *request_from_thread(void *arg)
{
	cpu_request_attention(arg);
	return NULL;
}

/* The kick of a request from another thread, taken here with sigtimedwait
 * (the signal blocked): it must name the cpu, as the timer's does. */
static void check_kick(struct cpu *cpu)
{
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, HOST_ATTENTION_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	/* On this, the vCPU thread, in monitor code: no signal. */
	uint64_t kicks = cpu_kicks(cpu);
	cpu_request_attention(cpu);
	CHECK(cpu_take_attention(cpu));
	struct timespec none = { 0, 0 }, wait = { 5, 0 };
	siginfo_t si;
	CHECK(sigtimedwait(&set, &si, &none) < 0);
	/* Nor outside cpu_run (the board's control loop, a snapshot): a
	 * signal to itself there was answered by another, for ever. */
	cpu_bind_thread(NULL);
	cpu_request_attention(cpu);
	ucontext_t uc;
	memset(&uc, 0, sizeof(uc));
	cpu_request_attention_signal(cpu, &uc);
	CHECK(cpu_take_attention(cpu));
	CHECK(sigtimedwait(&set, &si, &none) < 0);
	CHECK_EQ(cpu_kicks(cpu), kicks);
	cpu_bind_thread(cpu);
	/* From another thread: the signal, to this thread. */
	pthread_t helper;
	CHECK(host_thread_create(&helper, request_from_thread, cpu) == 0);
	pthread_join(helper, NULL);
	CHECK(sigtimedwait(&set, &si, &wait) == HOST_ATTENTION_SIGNAL);
	CHECK_EQ(si.si_code, SI_QUEUE);
	CHECK_EQ(si.si_pid, getpid());
	CHECK_EQ((uintptr_t)si.si_value.sival_ptr, (uintptr_t)cpu);
	CHECK(cpu_take_attention(cpu));
	CHECK_EQ(cpu_kicks(cpu), kicks + 1);   /* counted for --stats */
	/* While the vCPU thread waits in HLT (the platform's wait, which the
	 * requester ends itself): the request, but no signal. */
	atomic_store(&cpu->waiting, true);
	CHECK(host_thread_create(&helper, request_from_thread, cpu) == 0);
	pthread_join(helper, NULL);
	atomic_store(&cpu->waiting, false);
	CHECK(sigtimedwait(&set, &si, &none) < 0);
	CHECK_EQ(cpu_kicks(cpu), kicks + 1);
	CHECK(cpu_take_attention(cpu));
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* The end-to-end part: the poll loop, its fault and the way out. */
static sigjmp_buf escape;
static void *volatile fault_addr;
static volatile uintptr_t fault_rip;
static atomic_bool spinning, escaped;

static void on_poll_fault(int sig, siginfo_t *si, void *uctx)
{
	(void)sig, (void)uctx;
	fault_addr = si->si_addr;
	fault_rip = (uintptr_t)((ucontext_t *)uctx)->uc_mcontext.gregs[REG_RIP];
	siglongjmp(escape, 1);
}

/* A hang detector, not a speed check: on a loaded host the requesting
 * thread may wait long for a CPU (60 s). */
static void *watchdog(void *arg)
{
	(void)arg;
	for (int i = 0; i < 6000 && !atomic_load(&escaped); i++)
		usleep(10000);
	if (!atomic_load(&escaped)) {
		fprintf(stderr, "test_attention: the poll loop never saw the request (r9 not reached)\n");
		_exit(1);
	}
	return NULL;
}

static void *request_while_spinning(void *arg)
{
	while (!atomic_load(&spinning))
		usleep(1000);
	usleep(20000);   /* well inside the loop */
	cpu_request_attention(arg);
	return NULL;
}

/* How a spin ended: on the guard with attention asked, in the loop (r9
 * rewritten) or at the poll before it (the request came first); or not
 * so. The offsets are check_spin's loop's. */
enum spin_end { SPIN_REWRITTEN, SPIN_EARLY, SPIN_BAD };
#define SPIN_FIRST_POLL 3
#define SPIN_LOOP_POLL 6

/* Spins in the cache's buffer until a poll faults; how the request comes
 * is start's business (a thread, or a timer). */
static enum spin_end spin_until_request(struct cpu *cpu, void (*spin)(const void *))
{
	atomic_store(&escaped, false);
	atomic_store(&spinning, false);
	fault_addr = NULL;
	pthread_t dog;
	if (host_thread_create(&dog, watchdog, NULL) != 0)
		return SPIN_BAD;
	if (!sigsetjmp(escape, 1)) {
		atomic_store(&spinning, true);
		spin((const void *)&cpu->poll_ptr);
	}
	atomic_store(&escaped, true);
	pthread_join(dog, NULL);
	enum spin_end end = SPIN_BAD;
	uintptr_t code = (uintptr_t)cpu->tc->code;
	if (fault_addr == cpu->poll_guard && cpu->attention)
		end = fault_rip == code + SPIN_LOOP_POLL ? SPIN_REWRITTEN :
		      fault_rip == code + SPIN_FIRST_POLL ? SPIN_EARLY : SPIN_BAD;
	cpu_take_attention(cpu);
	return end;
}

static void check_spin(struct cpu *cpu)
{
	/* mov r9, [rdi] (poll_ptr, as a door loads it); mov r11d, [r9];
	 * 1: mov r11d, [r9]; jmp 1b: the block entry's poll. */
	static const uint8_t loop[] = { 0x4c, 0x8b, 0x0f, 0x45, 0x8b, 0x19,
					0x45, 0x8b, 0x19, 0xeb, 0xfb };
	memcpy(cpu->tc->code, loop, sizeof(loop));
	void (*spin)(const void *);
	void *code = cpu->tc->code;
	memcpy(&spin, &code, sizeof(spin));

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_poll_fault;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	host_handler_mask(&sa.sa_mask);
	CHECK(sigaction(SIGSEGV, &sa, NULL) == 0);

	/* A request from another thread. */
	enum spin_end end = SPIN_EARLY;
	for (unsigned i = 0; i < 5 && end == SPIN_EARLY; i++) {
		pthread_t helper;
		CHECK(host_thread_create(&helper, request_while_spinning, cpu) == 0);
		end = spin_until_request(cpu, spin);
		pthread_join(helper, NULL);
	}
	CHECK_EQ(end, SPIN_REWRITTEN);

	/* The board's timer: its signal to the process, naming the cpu. */
	struct sigevent sev;
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = HOST_ATTENTION_SIGNAL;
	sev.sigev_value.sival_ptr = cpu;
	timer_t timer;
	CHECK(timer_create(CLOCK_MONOTONIC, &sev, &timer) == 0);
	end = SPIN_EARLY;
	for (unsigned i = 0; i < 5 && end == SPIN_EARLY; i++) {
		struct itimerspec its = { .it_value = { 0, 30000000 } };
		CHECK(timer_settime(timer, 0, &its, NULL) == 0);
		end = spin_until_request(cpu, spin);
	}
	CHECK_EQ(end, SPIN_REWRITTEN);
	timer_delete(timer);
}

int main(void)
{
	struct cpu *cpu = calloc(1, sizeof(*cpu));
	struct tcache *tc = calloc(1, sizeof(*tc));
	CHECK(cpu != NULL && tc != NULL);
	if (!cpu || !tc)
		return 1;
	void *guard = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(guard != MAP_FAILED && code != MAP_FAILED);
	if (guard == MAP_FAILED || code == MAP_FAILED)
		return 1;
	cpu->poll_guard = guard;
	tc->code = code;
	tc->code_size = 4096;
	cpu->tc = tc;

	check_stores(cpu);

	/* Not bound to this thread yet: a request anywhere sends nothing
	 * (no thread to send it to) and leaves the context alone. */
	CHECK_EQ(r9_after_signal_request(cpu, (uintptr_t)code), 0x1234);
	CHECK(cpu_install_fault_handlers() == 0);
	cpu_bind_thread(cpu);
	CHECK_EQ(cpu->tid, gettid());
	/* Translated code and the doors keep the pointer in r9: rewritten. */
	CHECK_EQ(r9_after_signal_request(cpu, (uintptr_t)code + 100), (uintptr_t)guard);
	CHECK_EQ(r9_after_signal_request(cpu, (uintptr_t)btvm_doors_begin), (uintptr_t)guard);
	/* Monitor code uses r9 for its own: left alone. */
	CHECK_EQ(r9_after_signal_request(cpu, (uintptr_t)&check_stores), 0x1234);

	check_kick(cpu);
	check_spin(cpu);

	cpu_bind_thread(NULL);
	munmap(code, 4096);
	munmap(guard, 4096);
	free(tc);
	free(cpu);
	return check_report("attention");
}
