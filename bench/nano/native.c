/* nano-native: the host's side of the nanobenchmark table, a 32-bit Linux
 * program timing what user space can do of the guest kernel's operations
 * (INT 0x80 and vDSO system calls, page faults on fresh anonymous memory,
 * reads of mapped pages, port IN where ioperm allows it), and the host TSC
 * rate (RDTSC against CLOCK_MONOTONIC) the runner turns ns into host
 * cycles with. Output, one line each, in the guest kernel's format:
 *
 *	nano host-tsc-khz <khz>
 *	nano hypervisor yes|no
 *	nano op <name> iters <n> ns/op <ns>
 *	nano skip <name> <why>
 *
 *	nano-native [--quick]     (--quick: a tenth of the iterations)
 *
 * Exit status 0 when every measured figure is a positive number. */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/io.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#define PAGE 4096
#define SYS_GETPPID_I386 64

static unsigned scale = 1;          /* iterations are divided by this */
static bool all_sane = true;

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void report(const char *name, unsigned iters, double best_ns)
{
	double per = best_ns / iters;
	if (!(per > 0) || per > 1e9)
		all_sane = false;
	printf("nano op %s iters %u ns/op %.2f\n", name, iters, per);
}

static void skip(const char *name, const char *why)
{
	printf("nano skip %s %s\n", name, why);
}

/* RDTSC ticks per millisecond of CLOCK_MONOTONIC, over a 50 ms spin. */
static void host_tsc(void)
{
	double span = 50e6 / scale;
	double t0 = now_ns();
	uint64_t c0 = __rdtsc();
	double t;
	while ((t = now_ns()) - t0 < span)
		;
	uint64_t c1 = __rdtsc();
	double khz = (double)(c1 - c0) / (t - t0) * 1e6;
	if (!(khz > 0))
		all_sane = false;
	printf("nano host-tsc-khz %.0f\n", khz);

	unsigned a, b, c, d;
	__cpuid(1, a, b, c, d);
	printf("nano hypervisor %s\n", c & (1u << 31) ? "yes" : "no");
}

static int getppid_int80(void)
{
	int r;
	__asm__ volatile("int $0x80" : "=a"(r) : "0"(SYS_GETPPID_I386) : "memory");
	return r;
}

static void bench_int80(void)
{
	unsigned n = 20000 / scale;
	int want = getppid();
	double best = 1e300;
	for (int rep = 0; rep < 5; rep++) {
		int bad = 0;
		double t0 = now_ns();
		for (unsigned i = 0; i < n; i++)
			bad |= getppid_int80() != want;
		double t = now_ns() - t0;
		if (bad) {
			fprintf(stderr, "nano-native: getppid through int $0x80 returned a wrong value\n");
			all_sane = false;
		}
		if (t < best)
			best = t;
	}
	report("int80", n, best);
}

/* getppid through the vDSO's __kernel_vsyscall (AT_SYSINFO), which enters
 * the kernel with SYSENTER on Intel CPUs (SYSCALL on AMD). */
static void bench_vsyscall(void)
{
	uintptr_t entry = getauxval(AT_SYSINFO);
	if (!entry) {
		skip("sysenter", "no AT_SYSINFO (vDSO system call entry)");
		return;
	}
	unsigned n = 20000 / scale;
	int want = getppid();
	double best = 1e300;
	for (int rep = 0; rep < 5; rep++) {
		int bad = 0;
		double t0 = now_ns();
		for (unsigned i = 0; i < n; i++) {
			int r;
			__asm__ volatile("call *%1" : "=a"(r) : "r"(entry), "0"(SYS_GETPPID_I386) : "memory", "cc");
			bad |= r != want;
		}
		double t = now_ns() - t0;
		if (bad) {
			fprintf(stderr, "nano-native: getppid through __kernel_vsyscall returned a wrong value\n");
			all_sane = false;
		}
		if (t < best)
			best = t;
	}
	report("sysenter", n, best);
}

/* RDTSC in a user process, as the vDSO's clock_gettime reads it. */
static void bench_rdtsc_user(void)
{
	unsigned n = 20000 / scale;
	double best = 1e300;
	for (int rep = 0; rep < 5; rep++) {
		unsigned ok = 0;
		uint32_t lo, hi;
		__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
		uint64_t last = (uint64_t)hi << 32 | lo;
		double t0 = now_ns();
		for (unsigned i = 0; i < n; i++) {
			__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
			uint64_t tsc = (uint64_t)hi << 32 | lo;
			ok += tsc >= last;
			last = tsc;
		}
		double t = now_ns() - t0;
		if (ok != n) {
			fprintf(stderr, "nano-native: RDTSC went backwards\n");
			all_sane = false;
		}
		if (t < best)
			best = t;
	}
	report("rdtsc-user", n, best);
}

/* Fresh anonymous memory in 4 KiB pages (no transparent huge pages, which
 * would take one fault per 2 MiB). */
static unsigned char *map_pages(unsigned pages)
{
	void *p = mmap(NULL, (size_t)pages * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "nano-native: mmap: %s\n", strerror(errno));
		return NULL;
	}
	madvise(p, (size_t)pages * PAGE, MADV_NOHUGEPAGE);
	return p;
}

/* A read of one byte in each page of a fresh mapping: a not-present fault
 * each, which maps the shared zero page. mmap and munmap are not timed. */
static void bench_page_fault(void)
{
	unsigned pages = 512, rounds = 20 / scale + 1;
	double best = 1e300;
	for (unsigned r = 0; r < rounds; r++) {
		volatile unsigned char *p = map_pages(pages);
		if (!p) {
			skip("pf-ring3", "mmap failed");
			all_sane = false;
			return;
		}
		unsigned bad = 0;
		double t0 = now_ns();
		for (unsigned i = 0; i < pages; i++)
			bad |= p[(size_t)i * PAGE];
		double t = now_ns() - t0;
		munmap((void *)p, (size_t)pages * PAGE);
		if (bad) {
			fprintf(stderr, "nano-native: fresh anonymous memory did not read as zero\n");
			all_sane = false;
		}
		if (t < best)
			best = t;
	}
	report("pf-ring3", pages, best);
}

/* One read in each of 1024 pages already mapped (written once before). */
static void bench_touch_warm(void)
{
	unsigned pages = 1024;
	unsigned char *p = map_pages(pages);
	if (!p) {
		skip("touch-warm", "mmap failed");
		all_sane = false;
		return;
	}
	for (unsigned i = 0; i < pages; i++)
		p[(size_t)i * PAGE] = (unsigned char)(i | 1);
	double best = 1e300;
	for (int rep = 0; rep < 5; rep++) {
		unsigned bad = 0;
		double t0 = now_ns();
		for (unsigned i = 0; i < pages; i++)
			bad |= ((volatile unsigned char *)p)[(size_t)i * PAGE] ^ (unsigned char)(i | 1);
		double t = now_ns() - t0;
		if (bad) {
			fprintf(stderr, "nano-native: mapped pages read back wrong\n");
			all_sane = false;
		}
		if (t < best)
			best = t;
	}
	munmap(p, (size_t)pages * PAGE);
	report("touch-warm", pages, best);
}

/* IN from port 0x61 when the process may have the port (ioperm needs
 * CAP_SYS_RAWIO). Reading 0x61 has no side effects. */
static void bench_in_61(void)
{
	if (ioperm(0x61, 1, 1) != 0) {
		char why[96];
		snprintf(why, sizeof(why), "ioperm(0x61) refused: %s", strerror(errno));
		skip("in-61", why);
		return;
	}
	unsigned n = 20000 / scale;
	double best = 1e300;
	for (int rep = 0; rep < 5; rep++) {
		double t0 = now_ns();
		for (unsigned i = 0; i < n; i++)
			(void)inb(0x61);
		double t = now_ns() - t0;
		if (t < best)
			best = t;
	}
	ioperm(0x61, 1, 0);
	report("in-61", n, best);
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--quick")) {
		scale = 10;
	} else if (argc != 1) {
		fprintf(stderr, "usage: %s [--quick]\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	host_tsc();
	skip("cli-sti", "privileged: no user-mode equivalent");
	bench_in_61();
	bench_int80();
	bench_vsyscall();
	bench_rdtsc_user();
	skip("pf-ring0", "kernel-mode fault: no user-mode equivalent");
	bench_page_fault();
	skip("hidden", "needs CR3 loads: no user-mode equivalent");
	bench_touch_warm();
	skip("pte-invlpg", "privileged: no user-mode equivalent");
	skip("pte-invlpg-read", "privileged: no user-mode equivalent");
	skip("cr3", "privileged: no user-mode equivalent");
	skip("cr3-reload", "privileged: no user-mode equivalent");
	skip("cr0-wp", "privileged: no user-mode equivalent");
	skip("cr4-pge", "privileged: no user-mode equivalent");
	if (fflush(stdout))
		return 1;
	if (!all_sane) {
		fprintf(stderr, "nano-native: a check failed or a figure is not a positive number\n");
		return 1;
	}
	return 0;
}
