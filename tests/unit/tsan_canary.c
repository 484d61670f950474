/* Built only under ThreadSanitizer (-DBTVM_TSAN=ON): a deliberate data
 * race, which the test (tsan_canary) wants TSan to report. Without it the
 * tsan set would pass just the same on a build that had lost its
 * instrumentation or its TSAN_OPTIONS. */
#include <pthread.h>
#include <stdio.h>

static int shared;

static void *writer(void *arg)
{
	(void)arg;
	shared = 1;   /* unordered with main's store: a race */
	return NULL;
}

int main(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, writer, NULL))
		return 1;
	shared = 2;
	pthread_join(t, NULL);
	printf("shared = %d\n", shared);
	return 0;
}
