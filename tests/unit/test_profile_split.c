/* The host-time split of --stats (cpu/profile.c): a sample counts for
 * translated code when the PC it interrupted is in the cache's buffer.
 * The attention signal (the board's timer, another thread's request) and
 * the profile's SIGPROF can be pending at once: on a loaded host the
 * thread gets its CPU back with both due. The kernel delivers the
 * lower-numbered attention signal first and, unless its handler blocks
 * SIGPROF, the sample next, on top of the handler's frame, where it saw
 * the handler's PC and counted the monitor's time. Here this thread
 * blocks both, queues both to itself (each naming the vCPU, as the
 * timers do), and unblocks them with a system call made from the cache's
 * buffer, so that both are delivered as it returns there: the one sample
 * must count for translated code. */
#define _GNU_SOURCE
#include "check.h"
#include "cache/tcache.h"
#include "cpu/cpu.h"
#include "cpu/profile.h"
#include "cpu/run_internal.h"
#include "host/thread.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static int queue_to_self(int sig, int code, struct cpu *cpu)
{
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	si.si_signo = sig;
	si.si_code = code;
	si.si_pid = getpid();
	si.si_uid = getuid();
	si.si_value.sival_ptr = cpu;
	return (int)syscall(SYS_rt_tgsigqueueinfo, getpid(), gettid(), sig, &si);
}

int main(void)
{
	struct cpu *cpu = calloc(1, sizeof(*cpu));
	struct tcache *tc = calloc(1, sizeof(*tc));
	void *guard = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(cpu && tc && guard != MAP_FAILED && code != MAP_FAILED);
	if (!cpu || !tc || guard == MAP_FAILED || code == MAP_FAILED)
		return check_report("test_profile_split");
	cpu->poll_guard = guard;
	cpu->poll_ptr = (uint64_t)(uintptr_t)&cpu->poll_ok;
	tc->code = code;
	tc->code_size = 4096;
	cpu->tc = tc;
	CHECK(cpu_install_fault_handlers() == 0);
	cpu_bind_thread(cpu);
	CHECK(profile_start(cpu, 0) == 0);
	CHECK(profile_start_thread(cpu) == 0);
	/* The sampler itself stopped: the one sample is the test's. */
	struct itimerspec off = { { 0, 0 }, { 0, 0 } };
	CHECK(timer_settime(cpu->profile->timer, 0, &off, NULL) == 0);

	/* rt_sigprocmask(SIG_SETMASK, rsi, NULL, 8) made at the buffer's
	 * start, so that the signals it unblocks arrive at its return there:
	 * mov eax, 14; mov edi, 2; xor edx, edx; mov r10d, 8; syscall; ret. */
	static const uint8_t unblock[] = { 0xb8, 0x0e, 0x00, 0x00, 0x00, 0xbf, 0x02, 0x00, 0x00, 0x00,
					   0x31, 0xd2, 0x41, 0xba, 0x08, 0x00, 0x00, 0x00, 0x0f, 0x05,
					   0xc3 };
	memcpy(code, unblock, sizeof(unblock));
	void (*set_mask)(uint64_t, const uint64_t *);
	memcpy(&set_mask, &code, sizeof(set_mask));

	sigset_t both, old;
	sigemptyset(&both);
	sigaddset(&both, HOST_ATTENTION_SIGNAL);
	sigaddset(&both, SIGPROF);
	CHECK(pthread_sigmask(SIG_BLOCK, &both, &old) == 0);
	uint64_t old_bits;
	memcpy(&old_bits, &old, sizeof(old_bits));   /* the kernel's 8-byte set */
	for (unsigned round = 0; round < 3; round++) {
		uint64_t before[PHASE_COUNT];
		for (unsigned i = 0; i < PHASE_COUNT; i++)
			before[i] = cpu->profile->phase_samples[i];
		CHECK(queue_to_self(HOST_ATTENTION_SIGNAL, SI_QUEUE, cpu) == 0);
		CHECK(queue_to_self(SIGPROF, SI_TIMER, cpu) == 0);
		uint64_t blocked_bits = old_bits;
		set_mask(0, &blocked_bits);   /* both delivered at its return */
		CHECK(pthread_sigmask(SIG_BLOCK, &both, NULL) == 0);
		uint64_t translated = cpu->profile->phase_samples[PHASE_TRANSLATED] - before[PHASE_TRANSLATED];
		uint64_t monitor = cpu->profile->phase_samples[PHASE_MONITOR] - before[PHASE_MONITOR];
		if (translated != 1)
			fprintf(stderr, "test_profile_split: round %u: the sample counted %llu for translated "
					"code, %llu for the monitor\n",
				round, (unsigned long long)translated, (unsigned long long)monitor);
		CHECK_EQ(translated, 1);
		CHECK_EQ(monitor, 0);
		CHECK(cpu_take_attention(cpu));   /* the request arrived too */
	}
	CHECK(pthread_sigmask(SIG_SETMASK, &old, NULL) == 0);
	profile_stop(cpu);
	cpu_bind_thread(NULL);
	munmap(code, 4096);
	munmap(guard, 4096);
	free(tc);
	free(cpu);
	return check_report("test_profile_split");
}
