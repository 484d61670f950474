/* Helper threads that leave the process's signals to the vCPU thread, and
 * the mask of the handlers that run there; the CPUs they may share, and
 * how a spinning one shares its CPU. */
#define _GNU_SOURCE
#include "host/thread.h"
#include "host/clock.h"

#include <sched.h>
#include <unistd.h>

int host_thread_create(pthread_t *thread, void *(*start)(void *), void *arg)
{
	sigset_t mask, old_mask;

	/* The new thread inherits the creator's mask; fault signals stay open
	 * because blocking a synchronous fault only turns a report into a
	 * silent kill. */
	sigfillset(&mask);
	sigdelset(&mask, SIGSEGV);
	sigdelset(&mask, SIGBUS);
	sigdelset(&mask, SIGFPE);
	sigdelset(&mask, SIGILL);
	sigdelset(&mask, SIGABRT);
	pthread_sigmask(SIG_SETMASK, &mask, &old_mask);
	int err = pthread_create(thread, NULL, start, arg);
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	return -err;
}

void host_handler_mask(sigset_t *mask)
{
	sigemptyset(mask);
	sigaddset(mask, HOST_ATTENTION_SIGNAL);
}

int host_cpus_allowed(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		return CPU_COUNT(&set);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

bool host_spin_turn(unsigned turn, uint64_t deadline)
{
	if (turn % 64 == 63) {
		if (host_monotonic_ns() >= deadline)
			return false;
		sched_yield();
	}
	__builtin_ia32_pause();
	return true;
}
