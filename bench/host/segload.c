/* What the window's segment costs the host CPU, measured on the host
 * itself (x86-64, no guest). Translated code reaches guest memory as
 * gs:[r32 + disp] with GS.base the window (docs/DESIGN.md, "Confinement"),
 * where a native program uses [reg + disp]; compute that runs through
 * chains of loads (sha256, qsort) pays any difference
 * on every link, whatever the translator does:
 *
 *   chase_plain    a pointer chase, mov rax, [rax]: load-to-use latency
 *   chase_gs       the same through mov eax, gs:[eax] (addr32, nonzero base)
 *
 * A store and the reload of the same place, timed the same way, was
 * bimodal on AMD Zen 3 (0.34 or 0.7 ns from one process to the next, with
 * GS and without: the CPU's memory renaming takes or not), so it is not
 * among the figures.
 *
 * Each prints `SEGLOAD <name> <ns> ns` (two decimals), the best of five
 * rounds; the figures are the host CPU's, like bench/host/floor's kernel
 * ones.
 *
 *	segload [--quick]
 *
 * Exit status 0, or 1 when the set-up fails (the line says which). */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 5
#define AREA 0x10000u
/* GS.base sits this far below the area, so gs offsets are small and the
 * base is never zero (a zero base is as fast as none on some CPUs). */
#define GS_BELOW 0x10000u

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

struct probe {
	uint8_t *area;
	uint64_t n;
};

static double chase_plain(const struct probe *p)
{
	uint64_t *slot = (uint64_t *)(p->area + 0x200), n = p->n;
	*slot = (uint64_t)(uintptr_t)slot;
	double t0 = now_ns();
	__asm__ volatile("1: mov (%%rax), %%rax\n\tdec %%rcx\n\tjnz 1b"
			 : "+a"(slot), "+c"(n) : : "memory");
	return (now_ns() - t0) / (double)p->n;
}

static double chase_gs(const struct probe *p)
{
	uint32_t off = GS_BELOW + 0x200;
	uint64_t n = p->n;
	*(uint32_t *)(p->area + 0x200) = off;
	double t0 = now_ns();
	__asm__ volatile("1: mov %%gs:(%%eax), %%eax\n\tdec %%rcx\n\tjnz 1b"
			 : "+a"(off), "+c"(n) : : "memory");
	return (now_ns() - t0) / (double)p->n;
}

static double best_of(double (*round)(const struct probe *), const struct probe *p)
{
	double best = 0;
	for (int r = 0; r < ROUNDS; r++) {
		double t = round(p);
		if (r == 0 || t < best)
			best = t;
	}
	return best;
}

int main(int argc, char **argv)
{
	uint64_t n = 100000000;
	if (argc == 2 && !strcmp(argv[1], "--quick")) {
		n /= 20;
	} else if (argc != 1) {
		fprintf(stderr, "usage: segload [--quick]\n");
		return 2;
	}
	uint8_t *area = mmap(NULL, AREA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED || (uintptr_t)area < GS_BELOW) {
		perror("segload: mmap");
		return 1;
	}
	if (syscall(SYS_arch_prctl, ARCH_SET_GS, (unsigned long)(area - GS_BELOW))) {
		perror("segload: arch_prctl(ARCH_SET_GS)");
		return 1;
	}
	const struct probe p = { area, n };
	static const struct {
		const char *name;
		double (*round)(const struct probe *);
	} probes[] = {
		{ "chase_plain", chase_plain },
		{ "chase_gs", chase_gs },
	};
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		printf("SEGLOAD %s %.2f ns\n", probes[i].name, best_of(probes[i].round, &p));
	return 0;
}
