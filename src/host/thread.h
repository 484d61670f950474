/* Starting the monitor's helper threads (console reader, window, sockets,
 * network, disk I/O, migration sender) so that no signal meant for the
 * vCPU thread lands on them. */
#ifndef BTVM_HOST_THREAD_H
#define BTVM_HOST_THREAD_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

/* The signal that asks the vCPU thread for attention: the board's timer
 * sends it, and so does a request made on another thread
 * (cpu_request_attention). */
#define HOST_ATTENTION_SIGNAL SIGALRM

/* Whether this is a ThreadSanitizer build (cmake -DBTVM_TSAN=ON): GCC
 * says so with __SANITIZE_THREAD__, clang with __has_feature. Tested with
 * an if, not #if, so both builds compile every path. */
#if defined(__SANITIZE_THREAD__)
#define HOST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HOST_TSAN 1
#endif
#endif
#ifndef HOST_TSAN
#define HOST_TSAN 0
#endif

/* Code a signal handler the TSan runtime does not know of runs
 * (host_fault.c's attention handler, installed past it): uninstrumented,
 * since it may interrupt the runtime itself. No effect in other builds. */
#define HOST_NO_TSAN __attribute__((no_sanitize("thread")))

/* Fills mask with what a signal handler that can run on the vCPU thread
 * keeps blocked (its sa_mask): the attention signal, whose handler must
 * interrupt the code the vCPU was running, not another handler (it
 * rewrites a register of the context it finds). */
void host_handler_mask(sigset_t *mask);

/* pthread_create with every asynchronous signal blocked in the new thread
 * (the attention signal, SIGUSR1/SIGTERM dumps are for the vCPU thread);
 * faults stay unblocked so a bug in the thread still reports. Returns 0 or
 * a negative errno. */
int host_thread_create(pthread_t *thread, void *(*start)(void *), void *arg);

/* How many CPUs this process may run on (its affinity mask). A thread
 * that spins waiting for another's work (HLT polling, an I/O thread
 * waiting for the next request) only delays that work with one. */
int host_cpus_allowed(void);

/* One turn of a thread spinning for another's work (HLT polling, an I/O
 * thread waiting for the next request), whose caller checks what it waits
 * for between turns: a PAUSE, and every 64th turn a look at the clock
 * (false once deadline, host_monotonic_ns time, has passed) and a
 * sched_yield, which gives the CPU to a thread ready to run there, often
 * the one the spinner waits for. Without the yield, on the two-CPU
 * benchmark host, the two spins kept an I/O thread with a finished write
 * to hand in, or the vCPU, waiting 0.5-2.7 ms for the scheduler's next
 * turn: 1-8% of a guest dd's 1 MiB direct writes, in runs after the
 * guest idled; with it, none. */
bool host_spin_turn(unsigned turn, uint64_t deadline);

#endif
