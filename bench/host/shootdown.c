/* What a host mapping change costs btvm's vCPU threads when another thread
 * of the process runs on another core, measured on the host itself
 * (x86-64, no guest). Every vCPU thread shares one host address space, so
 * each mprotect or mmap that takes a mapping away (a shadow entry dropped,
 * a page write-protected) makes the kernel shoot the TLB down on every
 * core where another thread of the process is running: an IPI and its
 * acknowledgement, which a virtualized host may make costly. A core whose
 * thread sleeps is skipped (its TLB is lazy).
 *
 *   alone     an mprotect to read-only and back to read-write of one
 *             touched page, no other thread
 *   spinning  the same with a second thread spinning on another CPU
 *   sleeping  the same with a second thread asleep in a futex
 *
 * Each prints `SHOOTDOWN <name> <ns> ns` (whole nanoseconds for the pair),
 * the best of five rounds.
 *
 *	shootdown [--quick]
 *
 * Exit status 0, or 1 when the set-up fails (the line says which), or 2 on
 * a bad argument. */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 5

enum other { OTHER_NONE, OTHER_SPINNING, OTHER_SLEEPING };

struct probe {
	uint8_t *page;
	unsigned pairs;
	int cpu_main, cpu_other;   /* two CPUs the process may use */
	atomic_int stop;
	atomic_int ready;
};

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	(void)sched_setaffinity(0, sizeof(set), &set);
}

static void *spinner(void *arg)
{
	struct probe *p = arg;
	pin(p->cpu_other);
	atomic_store(&p->ready, 1);
	while (!atomic_load(&p->stop))
		__asm__ volatile("pause");
	return NULL;
}

static void *sleeper(void *arg)
{
	struct probe *p = arg;
	pin(p->cpu_other);
	atomic_store(&p->ready, 1);
	while (!atomic_load(&p->stop))
		syscall(SYS_futex, &p->stop, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	return NULL;
}

/* The best per-pair time in ns of ROUNDS rounds, or a negative value. */
static double measure(struct probe *p, enum other other)
{
	pthread_t thread;
	atomic_store(&p->stop, 0);
	atomic_store(&p->ready, 0);
	if (other != OTHER_NONE &&
	    pthread_create(&thread, NULL, other == OTHER_SPINNING ? spinner : sleeper, p))
		return -1;
	while (other != OTHER_NONE && !atomic_load(&p->ready))
		sched_yield();
	if (other == OTHER_SLEEPING)
		usleep(10000);   /* into its futex sleep */
	double best = -1;
	for (unsigned round = 0; round < ROUNDS; round++) {
		double t0 = now_ns();
		for (unsigned i = 0; i < p->pairs; i++) {
			if (mprotect(p->page, 4096, PROT_READ) ||
			    mprotect(p->page, 4096, PROT_READ | PROT_WRITE)) {
				best = -1;
				break;
			}
			p->page[0]++;   /* the page stays present in the TLB */
		}
		double t = (now_ns() - t0) / p->pairs;
		if (best < 0 || t < best)
			best = t;
	}
	if (other != OTHER_NONE) {
		atomic_store(&p->stop, 1);
		syscall(SYS_futex, &p->stop, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
		pthread_join(thread, NULL);
	}
	return best;
}

int main(int argc, char **argv)
{
	struct probe p = { .pairs = 4000 };
	if (argc == 2 && strcmp(argv[1], "--quick") == 0)
		p.pairs = 400;
	else if (argc != 1) {
		fprintf(stderr, "usage: shootdown [--quick]\n");
		return 2;
	}
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set)) {
		perror("shootdown: sched_getaffinity");
		return 1;
	}
	p.cpu_main = p.cpu_other = -1;
	for (int cpu = 0; cpu < CPU_SETSIZE && p.cpu_other < 0; cpu++)
		if (CPU_ISSET(cpu, &set)) {
			if (p.cpu_main < 0)
				p.cpu_main = cpu;
			else
				p.cpu_other = cpu;
		}
	if (p.cpu_other < 0) {
		fprintf(stderr, "shootdown: needs two CPUs, the process may use one\n");
		return 1;
	}
	pin(p.cpu_main);
	p.page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p.page == MAP_FAILED) {
		perror("shootdown: mmap");
		return 1;
	}
	p.page[0] = 1;
	static const char *const names[] = { "alone", "spinning", "sleeping" };
	for (enum other o = OTHER_NONE; o <= OTHER_SLEEPING; o++) {
		double ns = measure(&p, o);
		if (ns < 0) {
			fprintf(stderr, "shootdown: %s: mprotect or a thread failed\n", names[o]);
			return 1;
		}
		printf("SHOOTDOWN %s %.0f ns\n", names[o], ns < 1 ? 1 : ns);
	}
	return 0;
}
