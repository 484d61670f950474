/* The host's own costs under btvm's kernel-heavy paths, measured on the
 * host itself (x86-64, no guest): what a guest page fault or fork can never
 * cost less than, whatever the translator does, because each one is a host
 * kernel operation btvm's design makes for it (docs/DESIGN.md, "Shadow
 * paging"):
 *
 *   syscall    getppid: one host system call round trip
 *   signal     a read of a PROT_NONE page, the SIGSEGV handler stepping
 *              over it: how a guest #PF, a hidden fault or a trace write
 *              reaches the monitor
 *   mmap       one page of a memfd mapped with MAP_FIXED over a PROT_NONE
 *              reservation, as the shadow maps a guest page into a window
 *   touch      the first read of such a page: the host's own minor fault
 *   mprotect   one page's protection changed (traces, copy-on-write)
 *   pagefault  signal + mmap + touch: the least a guest page fault that
 *              installs a new page costs btvm on this host
 *
 * Each prints `FLOOR <name> <ns> ns`, the best of five rounds. The
 * figures are host properties: on a machine where a signal or an mmap is
 * dear (a paravirtualized sandbox), the guest's page faults are too.
 *
 *	floor [--quick]
 *
 * Exit status 0, or 1 when a host call fails (the line says which). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#define PAGE 4096u
#define ROUNDS 5

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* The faulting read is `mov al, [rdi]` (8A 07): the handler steps over
 * its two bytes. */
static void on_segv(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	(void)si;
	((ucontext_t *)ctx)->uc_mcontext.gregs[REG_RIP] += 2;
}

static inline void read_byte(const volatile void *p)
{
	__asm__ volatile(".byte 0x8a, 0x07" : : "D"(p) : "rax", "memory");
}

static double best_of(double (*round)(unsigned, void *), unsigned n, void *arg)
{
	double best = 0;
	for (int r = 0; r < ROUNDS; r++) {
		double t = round(n, arg);
		if (t < 0)
			return -1;
		if (r == 0 || t < best)
			best = t;
	}
	return best;
}

static double round_syscall(unsigned n, void *arg)
{
	(void)arg;
	double t0 = now_ns();
	for (unsigned i = 0; i < n; i++)
		(void)getppid();
	return (now_ns() - t0) / n;
}

static double round_signal(unsigned n, void *arg)
{
	double t0 = now_ns();
	for (unsigned i = 0; i < n; i++)
		read_byte(arg);
	return (now_ns() - t0) / n;
}

/* A reservation of n pages (PROT_NONE, as a window starts) and a memfd of
 * n pages (as guest RAM). */
struct mapping_round {
	int fd;
	uint8_t *win;
	double touch;                /* the best first touch of the rounds so far */
};

static double round_mmap(unsigned n, void *arg)
{
	struct mapping_round *m = arg;
	size_t len = (size_t)n * 2 * PAGE;
	m->win = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m->win == MAP_FAILED) {
		perror("floor: mmap of the reservation");
		return -1;
	}
	/* Every other page, so that no two mappings merge (scattered frames). */
	double t0 = now_ns();
	for (unsigned i = 0; i < n; i++) {
		if (mmap(m->win + (size_t)i * 2 * PAGE, PAGE, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, m->fd, (off_t)i * PAGE) == MAP_FAILED) {
			perror("floor: mmap of a page");
			return -1;
		}
	}
	double t1 = now_ns();
	for (unsigned i = 0; i < n; i++)
		(void)*(volatile uint8_t *)(m->win + (size_t)i * 2 * PAGE);
	double touch = (now_ns() - t1) / n;
	if (m->touch == 0 || touch < m->touch)
		m->touch = touch;
	munmap(m->win, len);
	return (t1 - t0) / n;
}

static double round_mprotect(unsigned n, void *arg)
{
	uint8_t *p = arg;
	double t0 = now_ns();
	for (unsigned i = 0; i < n; i++) {
		if (mprotect(p + (size_t)(i % 64) * 2 * PAGE, PAGE, i & 64 ? PROT_READ : PROT_READ | PROT_WRITE)) {
			perror("floor: mprotect");
			return -1;
		}
	}
	return (now_ns() - t0) / n;
}

int main(int argc, char **argv)
{
	unsigned scale = 1;
	if (argc == 2 && !strcmp(argv[1], "--quick")) {
		scale = 10;
	} else if (argc != 1) {
		fprintf(stderr, "usage: floor [--quick]\n");
		return 2;
	}
	struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO };
	sigemptyset(&sa.sa_mask);
	uint8_t *guard = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *area = mmap(NULL, 128 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd = memfd_create("btvm-floor", MFD_CLOEXEC);
	unsigned pages = 8192 / scale;
	if (sigaction(SIGSEGV, &sa, NULL) || guard == MAP_FAILED || area == MAP_FAILED || fd < 0 ||
	    ftruncate(fd, (off_t)pages * PAGE)) {
		perror("floor: set-up");
		return 1;
	}
	struct mapping_round m = { .fd = fd };
	double syscall = best_of(round_syscall, 200000 / scale, NULL);
	double signal = best_of(round_signal, 20000 / scale, guard);
	double map = best_of(round_mmap, pages, &m);   /* and m.touch */
	double touch = m.touch;
	double protect = best_of(round_mprotect, 20000 / scale, area);
	if (syscall < 0 || signal < 0 || map < 0 || touch < 0 || protect < 0)
		return 1;
	printf("FLOOR syscall %.0f ns\n", syscall);
	printf("FLOOR signal %.0f ns\n", signal);
	printf("FLOOR mmap %.0f ns\n", map);
	printf("FLOOR touch %.0f ns\n", touch);
	printf("FLOOR mprotect %.0f ns\n", protect);
	printf("FLOOR pagefault %.0f ns\n", signal + map + touch);
	return 0;
}
