/* The interface between a benchmark workload and the two programs it is
 * linked into: the freestanding Multiboot guest (rt/bench_guest.c on the
 * guest runtime, rt/guest.h) and the native 32-bit Linux program
 * (rt/native.c).
 *
 * A workload is one C file under workloads/ that defines
 *
 *	const struct bench_workload bench_workload = { "name", ITERS, run };
 *
 * where run(iters) does the work iters times and returns a 32-bit checksum.
 * The workload object is compiled once and linked into both programs, so
 * native and guest execute the same machine code for the measured part.
 * Workloads use nothing from a C library: only what this header and rt/rt.h
 * declare (rt.h's functions are rt/lib.c, linked into both programs). */
#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "rt.h"

struct bench_workload {
	const char *name;
	uint32_t default_iters;
	uint32_t (*run)(uint32_t iters);
};

extern const struct bench_workload bench_workload;

/* The result line both programs print, which the runner compares:
 *	bench <name> iters <n> checksum 0x<8 hex digits> */
static inline void bench_report(const struct bench_workload *w, uint32_t iters, uint32_t sum)
{
	rt_puts("bench ");
	rt_puts(w->name);
	rt_puts(" iters ");
	rt_putdec(iters);
	rt_puts(" checksum 0x");
	rt_puthex(sum);
	rt_putchar('\n');
}

/* Runs the workload with the stack pad bytes (rounded up to 16) lower
 * than the caller's. Where the stack sits modulo 4 KiB against a workload's
 * arrays changes its speed by up to a third on one host (the CPU's memory
 * disambiguation compares the low 12 address bits), so the runner moves it
 * the same way natively and in the guest instead of comparing one layout
 * chosen by chance (the native program's environment size) with another. */
static inline uint32_t bench_run_padded(const struct bench_workload *w, uint32_t iters, uint32_t pad)
{
	char *gap = __builtin_alloca(pad);
	__asm__ volatile("" : : "r"(gap) : "memory");
	return w->run(iters);
}

/* Checksum helpers. */
static inline uint32_t bench_mix(uint32_t h, uint32_t v)
{
	h ^= v;
	h *= 0x01000193u;        /* FNV-1a prime */
	h ^= h >> 15;
	return h;
}

static inline uint32_t bench_mix64(uint32_t h, uint64_t v)
{
	return bench_mix(bench_mix(h, (uint32_t)v), (uint32_t)(v >> 32));
}

/* xorshift32: a small deterministic generator for test data. */
static inline uint32_t bench_rand(uint32_t *state)
{
	uint32_t x = *state;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*state = x;
	return x;
}

#endif
