/* Built only under ThreadSanitizer (-DBTVM_TSAN=ON): a deliberate data
 * race, which the test (tsan_canary) wants TSan to report. Without it the
 * tsan set would pass just the same on a build that had lost its
 * instrumentation or its TSAN_OPTIONS.
 *
 * The two stores come in one order: main's waits for the thread's through
 * a relaxed atomic flag, which orders them in time but gives TSan no
 * happens-before. In the other order (main's store first, the thread
 * started late on a busy host) TSan let the race pass unreported now and
 * then: 1 run in 40 beside two busy loops. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>

static int shared;
static atomic_int stored;

static void *writer(void *arg)
{
	(void)arg;
	shared = 1;   /* unordered with main's store: a race */
	atomic_store_explicit(&stored, 1, memory_order_relaxed);
	return NULL;
}

int main(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, writer, NULL))
		return 1;
	while (!atomic_load_explicit(&stored, memory_order_relaxed))
		sched_yield();
	shared = 2;
	pthread_join(t, NULL);
	printf("shared = %d\n", shared);
	return 0;
}
