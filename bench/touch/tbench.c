/* tbench: the first-touch benchmark program (issue 47). One static i386
 * program, built like lbench (bench/linux/lbench.c), that bench/touch/run.sh
 * runs natively as a 32-bit process and inside Debian's i386 kernel under
 * btvm and under QEMU, so all three run the same machine code.
 *
 *	tbench alloctouch      calloc and free a 2 MiB array forty times and
 *	                       sieve in it each time, then a recursive fib:
 *	                       the shape of an ordinary program that keeps
 *	                       asking its C library for fresh memory
 *	tbench sweep S         mmap a fresh anonymous array of S MiB (4 KiB
 *	                       pages), touch it once in order (the first pass,
 *	                       also printed on its own), then six passes in
 *	                       order and six in a scattered order (a fixed-seed
 *	                       permutation of the page indices); the figure is
 *	                       the total, first pass included
 *	tbench --list [S...]   the "<name> <unit>" lines the above print
 *
 * Each figure is one line, as lbench's,
 *
 *	TBENCH <name> <seconds> s 0x<checksum>
 *
 * where the checksum depends only on what was computed, so it must be the
 * same natively and in either guest; a failure prints
 * `TBENCH-FAILED <name> <why>` and exits with status 1 (2 on bad usage).
 *
 * The sweep asks for 4 KiB pages with madvise(MADV_NOHUGEPAGE) so that a
 * host with transparent huge pages does not give the native run 2 MiB
 * pages (one fault per 512 pages); the i386 guest kernel (non-PAE 686) has
 * no transparent huge pages at all, so there the call fails and changes
 * nothing. MAP_POPULATE is not used: the first touch of each page is what
 * is being measured. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "bench.h"

#define PAGE 4096u
#define WORDS_PER_PAGE (PAGE / 4)

/* alloctouch's shape: forty 2 MiB arrays, a sieve of Eratosthenes over each
 * (one byte per number), then fib(FIB_N) by plain recursion. */
#define AT_ROUNDS 40
#define AT_BYTES (2u << 20)
#define FIB_N 32

#define SWEEP_IN_ORDER 6
#define SWEEP_SCATTERED 6
#define SWEEP_SEED 0x2545f491u
#define SWEEP_MAX_MIB 3072u

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

static void report(const char *name, int64_t ns, uint32_t sum)
{
	printf("TBENCH %s %.4f s 0x%08x\n", name, (double)ns / 1e9, sum);
	fflush(stdout);
}

static int failed(const char *name, const char *why)
{
	printf("TBENCH-FAILED %s %s\n", name, why);
	fflush(stdout);
	return 1;
}

/* The number of primes below n, sieving in a (n bytes, zeroed). */
static uint32_t sieve(uint8_t *a, uint32_t n)
{
	uint32_t count = 0;
	for (uint32_t i = 2; i < n; i++) {
		if (a[i])
			continue;
		count++;
		if ((uint64_t)i * i < n)
			for (uint32_t j = i * i; j < n; j += i)
				a[j] = 1;
	}
	return count;
}

/* noinline and called through a volatile argument: the recursion is what
 * is measured, gcc must not fold it. */
static __attribute__((noinline)) uint32_t fib(uint32_t n)
{
	return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static int run_alloctouch(void)
{
	uint32_t h = 2166136261u;
	volatile uint32_t fib_n = FIB_N;
	int64_t t0 = now_ns();
	for (uint32_t r = 0; r < AT_ROUNDS; r++) {
		uint8_t *a = calloc(AT_BYTES, 1);
		if (!a)
			return failed("alloctouch", "calloc failed");
		/* A different top each round, so no round repeats another. */
		h = bench_mix(h, sieve(a, AT_BYTES - r * 4096));
		free(a);
	}
	h = bench_mix(h, fib(fib_n));
	report("alloctouch", now_ns() - t0, h);
	return 0;
}

/* A fixed-seed Fisher-Yates permutation of 0..n-1. */
static void permute(uint32_t *perm, uint32_t n)
{
	uint32_t state = SWEEP_SEED;
	for (uint32_t i = 0; i < n; i++)
		perm[i] = i;
	for (uint32_t i = n - 1; i > 0; i--) {
		uint32_t j = bench_rand(&state) % (i + 1);
		uint32_t t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
}

static int run_sweep(uint32_t mib)
{
	char name[32], first_name[40];
	snprintf(name, sizeof(name), "sweep-%u", mib);
	snprintf(first_name, sizeof(first_name), "sweep-%u-first", mib);
	uint32_t pages = mib * (1u << 20) / PAGE;
	size_t bytes = (size_t)pages * PAGE;

	/* The permutation is made before the clock starts: it is not what
	 * is measured (and its own pages are touched here, not later). */
	uint32_t *perm = malloc((size_t)pages * sizeof(*perm));
	if (!perm)
		return failed(name, "no memory for the permutation");
	permute(perm, pages);

	int64_t t0 = now_ns();
	volatile uint32_t *a = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED) {
		char why[96];
		snprintf(why, sizeof(why), "mmap of %u MiB: %s", mib, strerror(errno));
		free(perm);
		return failed(name, why);
	}
	/* Fails on a kernel without transparent huge pages (the i386
	 * guest's): nothing to turn off there. */
	madvise((void *)a, bytes, MADV_NOHUGEPAGE);

	/* The first pass: one word written in every page, in order. */
	for (uint32_t i = 0; i < pages; i++)
		a[i * WORDS_PER_PAGE] = i * 2654435761u;
	int64_t t1 = now_ns();

	/* Six passes in order, then six scattered: each reads and writes
	 * one word per page, a different word each pass. */
	for (uint32_t p = 1; p <= SWEEP_IN_ORDER; p++)
		for (uint32_t i = 0; i < pages; i++)
			a[i * WORDS_PER_PAGE + p * 17] += a[i * WORDS_PER_PAGE] ^ p;
	for (uint32_t p = 1; p <= SWEEP_SCATTERED; p++)
		for (uint32_t k = 0; k < pages; k++) {
			uint32_t i = perm[k];
			a[i * WORDS_PER_PAGE + 512 + p * 29] += a[i * WORDS_PER_PAGE + p * 17] ^ k;
		}
	int64_t t2 = now_ns();

	/* The checksum, untimed: every word the passes wrote. */
	uint32_t h_first = 2166136261u, h = h_first;
	for (uint32_t i = 0; i < pages; i++) {
		h_first = bench_mix(h_first, a[i * WORDS_PER_PAGE]);
		for (uint32_t p = 1; p <= SWEEP_IN_ORDER; p++)
			h = bench_mix(h, a[i * WORDS_PER_PAGE + p * 17]);
		for (uint32_t p = 1; p <= SWEEP_SCATTERED; p++)
			h = bench_mix(h, a[i * WORDS_PER_PAGE + 512 + p * 29]);
	}
	munmap((void *)a, bytes);
	free(perm);
	report(first_name, t1 - t0, h_first);
	report(name, t2 - t0, bench_mix(h, h_first));
	return 0;
}

static uint32_t parse_mib(const char *s)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > SWEEP_MAX_MIB)
		return 0;
	return (uint32_t)v;
}

static int usage(void)
{
	fprintf(stderr, "usage: tbench alloctouch\n"
			"       tbench sweep MIB      (1 to %u)\n"
			"       tbench --list [MIB...]\n", SWEEP_MAX_MIB);
	return 2;
}

int main(int argc, char **argv)
{
	/* Line-buffered even when the output is a pipe (the host run). */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && strcmp(argv[1], "--list") == 0) {
		printf("alloctouch s\n");
		for (int i = 2; i < argc; i++) {
			uint32_t mib = parse_mib(argv[i]);
			if (!mib)
				return usage();
			printf("sweep-%u-first s\nsweep-%u s\n", mib, mib);
		}
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "alloctouch") == 0)
		return run_alloctouch();
	if (argc == 3 && strcmp(argv[1], "sweep") == 0) {
		uint32_t mib = parse_mib(argv[2]);
		return mib ? run_sweep(mib) : usage();
	}
	return usage();
}
