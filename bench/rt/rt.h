/* The part of the C runtime that guest kernels and native 32-bit Linux
 * programs share (rt/lib.c): text output over a putchar each program
 * provides, number parsing and the memory routines. The guest-only part
 * (COM1, the exit port, start-up, IDT) is rt/guest.h.
 *
 * Users: the benchmark workloads and their two runtimes (bench/), the
 * nanobenchmark guest (bench/nano), lbench (bench/linux) and the difftest
 * guest runner (tests/difftest). */
#ifndef RT_H
#define RT_H

#include <stddef.h>
#include <stdint.h>

/* Provided by each program: rt/guest.c writes to COM1, a native program
 * to stdout. */
void rt_putchar(char c);

/* Output. */
void rt_write(const char *s, uint32_t n);
void rt_puts(const char *s);
void rt_puthex(uint32_t v);             /* 8 hex digits */
void rt_putdec(uint64_t v);

/* A decimal number ending at a NUL or a space, 0 when s is not one (or it
 * does not fit in 32 bits). */
uint32_t rt_parse_u32(const char *s);

/* The memory routines. memcpy and memset align the destination and move
 * whole words with REP MOVSD/STOSD, as many kernels do; the compiler may
 * also call these (structure copies), so guest and native programs get the
 * same code for them. */
void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memset(void *dst, int c, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);

#endif
