/* The interface between a benchmark workload and the two runtimes it is
 * linked with: the freestanding Multiboot guest (rt/guest.c,
 * rt/guest_start.S) and the native 32-bit Linux program (rt/native.c).
 *
 * A workload is one C file under workloads/ that defines
 *
 *	const struct bench_workload bench_workload = { "name", ITERS, run };
 *
 * where run(iters) does the work iters times and returns a 32-bit checksum.
 * The workload object is compiled once and linked into both programs, so
 * native and guest execute the same machine code for the measured part.
 * Workloads use nothing from a C library: only what this header declares
 * (implemented in rt/lib.c, also shared by both programs). */
#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>
#include <stdint.h>

struct bench_workload {
	const char *name;
	uint32_t default_iters;
	uint32_t (*run)(uint32_t iters);
};

extern const struct bench_workload bench_workload;

/* Provided by each runtime. */
void bench_putchar(char c);

/* rt/lib.c: output. */
void bench_puts(const char *s);
void bench_puthex(uint32_t v);
void bench_putdec(uint32_t v);

/* rt/lib.c: the result line both programs print, which the runner compares:
 *	bench <name> iters <n> checksum 0x<8 hex digits> */
void bench_report(const struct bench_workload *w, uint32_t iters, uint32_t sum);

/* rt/lib.c: a decimal number, 0 when s is not one. */
uint32_t bench_parse_u32(const char *s);

/* rt/lib.c: the memory routines. memcpy and memset align the destination
 * and move whole words with REP MOVSD/STOSD, as many kernels do; the
 * compiler may also call these (structure copies), so both programs get
 * the same code for them. */
void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memset(void *dst, int c, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);

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
