/* lbench: the Linux-guest benchmark program. One static i386 program that
 * bench/linux/run.sh runs inside Debian's i386 kernel under btvm and under
 * QEMU, and natively on the host as a 32-bit process, so all three run the
 * same machine code (the compute workloads' memcpy/memset are rt/lib.c's,
 * not glibc's CPUID-selected ones).
 *
 * Workloads, each timed with clock_gettime(CLOCK_MONOTONIC):
 *   the compute set of bench/workloads/ (sieve ... mandel), at a fraction
 *     of their stand-alone iteration counts: about 1.5 s in all natively;
 *   syscall    getppid() in a loop                     (ns per call)
 *   fork       fork + _exit + waitpid                  (ns per iteration)
 *   pagefault  mmap 64 MiB anonymous, write one word in every page,
 *              munmap; repeated                        (ns per page)
 *   pipe       1-byte ping-pong with a child through two pipes
 *                                                      (ns per round trip)
 * Each prints one line,
 *
 *	LBENCH <name> <value> <unit> 0x<checksum>
 *
 * where the checksum depends only on what was computed (never on pids or
 * times), so it must be the same natively and in either guest. The last
 * line is `LBENCH-END <seconds>`, the time all workloads took by this
 * program's clock (the runner compares it with the host's to check the
 * guest's clock).
 *
 *	lbench [--quick] [--no-pin] [NAME...]   run all or the named workloads
 *	lbench --list                           print "<name> <unit>" lines
 *
 * --quick divides the iteration counts by 8 (compute) or 10 (the others).
 * The two-process workloads (fork, pipe) pin the process to the CPU it is
 * on while they run, unless --no-pin: the guests have one CPU, and the
 * host's scheduler would otherwise spread the pair over two.
 * Exit status: 0 when every workload ran and checked out, 1 otherwise,
 * 2 on bad usage. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

/* The compute workloads: the files of bench/workloads/, each compiled with
 * -Dbench_workload=lbench_wl_<name> so that all of them link into one
 * program. */
extern const struct bench_workload lbench_wl_sieve, lbench_wl_fib, lbench_wl_sha256,
	lbench_wl_matmul, lbench_wl_qsort, lbench_wl_memops, lbench_wl_nbody,
	lbench_wl_nbody_sse, lbench_wl_mandel;

struct workload {
	const char *name;
	const char *unit;
	const struct bench_workload *compute;   /* NULL for the kernel workloads */
	uint32_t iters;                          /* at full size */
	/* The kernel workloads: run iters times; return false (after saying
	 * why on stderr) on failure; *sum is the checksum, *units the count
	 * the time is divided by. */
	bool (*run)(uint32_t iters, uint32_t *sum, uint32_t *units);
};

static bool run_syscall(uint32_t iters, uint32_t *sum, uint32_t *units);
static bool run_fork(uint32_t iters, uint32_t *sum, uint32_t *units);
static bool run_pagefault(uint32_t iters, uint32_t *sum, uint32_t *units);
static bool run_pipe(uint32_t iters, uint32_t *sum, uint32_t *units);

/* Compute iteration counts: about 1/8 of each stand-alone default (so each
 * takes 0.1-0.3 s natively). */
static const struct workload workloads[] = {
	{ "sieve", "s", &lbench_wl_sieve, 8, NULL },
	{ "fib", "s", &lbench_wl_fib, 200, NULL },
	{ "sha256", "s", &lbench_wl_sha256, 500, NULL },
	{ "matmul", "s", &lbench_wl_matmul, 40, NULL },
	{ "qsort", "s", &lbench_wl_qsort, 3, NULL },
	{ "memops", "s", &lbench_wl_memops, 3, NULL },
	{ "nbody", "s", &lbench_wl_nbody, 1000, NULL },
	{ "nbody-sse", "s", &lbench_wl_nbody_sse, 2000, NULL },
	{ "mandel", "s", &lbench_wl_mandel, 1, NULL },
	{ "syscall", "ns/call", NULL, 200000, run_syscall },
	{ "fork", "ns/fork", NULL, 2000, run_fork },
	{ "pagefault", "ns/page", NULL, 4, run_pagefault },     /* rounds of 64 MiB */
	{ "pipe", "ns/rtt", NULL, 20000, run_pipe },
};
#define NUM_WORKLOADS (sizeof(workloads) / sizeof(workloads[0]))

static bool pin = true;

void rt_putchar(char c)
{
	putchar(c);
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Pinning for the two-process workloads: to the CPU this process is on. */
static cpu_set_t saved_mask;
static bool pinned;

static void pin_begin(void)
{
	pinned = false;
	if (!pin || sched_getaffinity(0, sizeof(saved_mask), &saved_mask) != 0)
		return;
	int cpu = sched_getcpu();
	if (cpu < 0 || CPU_COUNT(&saved_mask) < 2)
		return;
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	pinned = sched_setaffinity(0, sizeof(one), &one) == 0;
}

static void pin_end(void)
{
	if (pinned)
		sched_setaffinity(0, sizeof(saved_mask), &saved_mask);
	pinned = false;
}

static bool run_syscall(uint32_t iters, uint32_t *sum, uint32_t *units)
{
	pid_t first = getppid();
	uint32_t same = 0;
	for (uint32_t i = 0; i < iters; i++)
		same += getppid() == first;
	if (same != iters) {
		fprintf(stderr, "lbench: syscall: getppid() changed %u times\n", iters - same);
		return false;
	}
	*sum = bench_mix(bench_mix(2166136261u, iters), same);
	*units = iters;
	return true;
}

static bool run_fork(uint32_t iters, uint32_t *sum, uint32_t *units)
{
	uint32_t h = 2166136261u;
	for (uint32_t i = 0; i < iters; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			fprintf(stderr, "lbench: fork: %s\n", strerror(errno));
			return false;
		}
		if (pid == 0)
			_exit((int)(i & 0x7f));
		int status;
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
			fprintf(stderr, "lbench: fork: waitpid failed or the child did not exit\n");
			return false;
		}
		h = bench_mix(h, (uint32_t)WEXITSTATUS(status));
	}
	*sum = h;
	*units = iters;
	return true;
}

#define PF_BYTES (64u << 20)
#define PAGE 4096u

static bool run_pagefault(uint32_t rounds, uint32_t *sum, uint32_t *units)
{
	uint32_t h = 2166136261u;
	for (uint32_t r = 0; r < rounds; r++) {
		uint8_t *p = mmap(NULL, PF_BYTES, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			fprintf(stderr, "lbench: pagefault: mmap: %s\n", strerror(errno));
			return false;
		}
		/* One fault per 4 KiB page, also on a host with transparent
		 * huge pages (the i386 guest kernel has none); an error (no
		 * THP support) changes nothing. */
		madvise(p, PF_BYTES, MADV_NOHUGEPAGE);
		for (uint32_t off = 0; off < PF_BYTES; off += PAGE)
			*(volatile uint32_t *)(p + off) = off ^ r;
		for (uint32_t off = 0; off < PF_BYTES; off += 61 * PAGE)
			h = bench_mix(h, *(volatile uint32_t *)(p + off + (off & 0xffc)));
		if (munmap(p, PF_BYTES) != 0) {
			fprintf(stderr, "lbench: pagefault: munmap: %s\n", strerror(errno));
			return false;
		}
	}
	*sum = h;
	*units = rounds * (PF_BYTES / PAGE);
	return true;
}

/* The child's side of the ping-pong: answer each byte with byte ^ 0x5a
 * until the parent closes its end. */
static void pipe_child(int in, int out)
{
	unsigned char c;
	ssize_t n;
	while ((n = read(in, &c, 1)) == 1) {
		c ^= 0x5a;
		if (write(out, &c, 1) != 1)
			_exit(3);
	}
	_exit(n == 0 ? 0 : 4);
}

static bool pipe_round_trip(int to, int from, unsigned char c, unsigned char *reply)
{
	return write(to, &c, 1) == 1 && read(from, reply, 1) == 1;
}

static bool run_pipe(uint32_t iters, uint32_t *sum, uint32_t *units)
{
	int down[2], up[2];
	if (pipe(down) != 0 || pipe(up) != 0) {
		fprintf(stderr, "lbench: pipe: %s\n", strerror(errno));
		return false;
	}
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "lbench: pipe: fork: %s\n", strerror(errno));
		return false;
	}
	if (pid == 0) {
		close(down[1]);
		close(up[0]);
		pipe_child(down[0], up[1]);
	}
	close(down[0]);
	close(up[1]);
	uint32_t h = 2166136261u;
	bool ok = true;
	for (uint32_t i = 0; i < iters && ok; i++) {
		unsigned char reply;
		ok = pipe_round_trip(down[1], up[0], (unsigned char)i, &reply) &&
		     reply == ((unsigned char)i ^ 0x5a);
		h = bench_mix(h, reply);
	}
	close(down[1]);
	close(up[0]);
	int status;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		ok = false;
	if (!ok) {
		fprintf(stderr, "lbench: pipe: a round trip failed or the child did not exit cleanly\n");
		return false;
	}
	*sum = h;
	*units = iters;
	return true;
}

/* Runs one workload and prints its line. */
static bool run_one(const struct workload *w, bool quick)
{
	uint32_t iters = w->iters, sum = 0, units = 1;
	if (quick)
		iters /= w->compute ? 8 : 10;
	if (iters == 0)
		iters = 1;
	bool ok = true;
	int64_t t0, t1;
	if (w->compute) {
		t0 = now_ns();
		sum = w->compute->run(iters);
		t1 = now_ns();
	} else {
		bool two_procs = w->run == run_fork || w->run == run_pipe;
		if (two_procs)
			pin_begin();
		/* fork and pipe start with one untimed round, so the first
		 * timed one does not pay for first touches. */
		if (two_procs) {
			uint32_t s, u;
			ok = w->run(1, &s, &u);
		}
		t0 = now_ns();
		ok = ok && w->run(iters, &sum, &units);
		t1 = now_ns();
		if (two_procs)
			pin_end();
	}
	if (!ok) {
		printf("LBENCH-FAILED %s\n", w->name);
		fflush(stdout);
		return false;
	}
	double elapsed = (double)(t1 - t0);
	if (w->compute)
		printf("LBENCH %s %.4f %s 0x%08x\n", w->name, elapsed / 1e9, w->unit, sum);
	else
		printf("LBENCH %s %.1f %s 0x%08x\n", w->name, elapsed / units, w->unit, sum);
	fflush(stdout);
	return true;
}

static void usage(void)
{
	fprintf(stderr, "usage: lbench [--quick] [--no-pin] [NAME...]\n"
			"       lbench --list\n");
	exit(2);
}

int main(int argc, char **argv)
{
	bool quick = false, want[NUM_WORKLOADS], any = false;
	memset(want, 0, sizeof(want));
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			quick = true;
		} else if (strcmp(argv[i], "--no-pin") == 0) {
			pin = false;
		} else if (strcmp(argv[i], "--list") == 0) {
			for (size_t k = 0; k < NUM_WORKLOADS; k++)
				printf("%s %s\n", workloads[k].name, workloads[k].unit);
			return 0;
		} else if (argv[i][0] == '-') {
			usage();
		} else {
			size_t k = 0;
			while (k < NUM_WORKLOADS && strcmp(argv[i], workloads[k].name) != 0)
				k++;
			if (k == NUM_WORKLOADS) {
				fprintf(stderr, "lbench: no workload '%s' (--list lists them)\n", argv[i]);
				return 2;
			}
			want[k] = any = true;
		}
	}
	/* Line-buffered even when the output is a pipe (the host run). */
	setvbuf(stdout, NULL, _IOLBF, 0);
	bool ok = true;
	int64_t start = now_ns();
	for (size_t k = 0; k < NUM_WORKLOADS; k++)
		if (!any || want[k])
			ok &= run_one(&workloads[k], quick);
	printf("LBENCH-END %.3f\n", (double)(now_ns() - start) / 1e9);
	return fflush(stdout) == 0 && ok ? 0 : 1;
}
