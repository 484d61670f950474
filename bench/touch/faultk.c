/* faultk: the fault-heavy ring-3 guest kernel (issue 47). A Multiboot
 * kernel on the guest runtime (bench/rt/guest.h) whose ring-3 loop, for
 * each of FAULT_PAGES pages in each of `iters` rounds (command line
 * "iters=N", default 100):
 *   makes a system call (INT 0x80, SYS_COUNT),
 *   reads the page, which is not present: a #PF whose handler writes the
 *     PTE (the next of FRAMES frames in turn) and returns to retry,
 *   writes the page,
 *   makes a system call that unmaps the page again (SYS_UNMAP: the PTE
 *     cleared, INVLPG), so that the next round faults on it again.
 * At the default, 200,000 system calls and 100,000 page faults, all from
 * ring 3, as a process that maps and unmaps memory makes them.
 *
 * It prints the line bench/run.sh's guests print,
 *
 *	bench faultk iters <n> checksum 0x<8 hex digits>
 *
 * and exits through isa-debug-exit (33 on success, 35 on a failed check);
 * the runner (bench/touch/run.sh) times the whole VMM run, as bench/run.sh
 * does. The checksum folds in every value the pages held when read (which
 * frame a page got depends on every fault before it) and the system
 * calls' results, so a lost or doubled fault or a stale TLB entry changes
 * it; the counts are checked as well. There is no native form: it is
 * compared between btvm and QEMU only. */
#include <stdbool.h>

#include "bench.h"
#include "faultk.h"

#define DEFAULT_ROUNDS 100

/* faultk_start.S */
extern volatile uint32_t faultk_syscalls, faultk_faults, faultk_next_frame;
void faultk_syscall_entry(void);
void faultk_pf_entry(void);

/* Shared with the ring-3 loop (every page below 16 MiB is a user page). */
static volatile uint32_t user_rounds;
static volatile uint32_t user_sum;
static volatile uint32_t user_bad;

static __attribute__((noreturn)) void fail(const char *why, uint32_t got, uint32_t want)
{
	rt_puts("bench faultk FAIL: ");
	rt_puts(why);
	rt_puts(": got ");
	rt_putdec(got);
	rt_puts(" expected ");
	rt_putdec(want);
	rt_putchar('\n');
	rt_exit(RT_EXIT_FAIL);
}

void rt_exception(const uint32_t *frame)
{
	rt_puts("bench faultk: ");
	rt_put_exception(frame);
	if (frame[0] == VEC_PF) {
		uint32_t cr2;
		__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
		rt_puts(" CR2 0x");
		rt_puthex(cr2);
	}
	rt_putchar('\n');
	rt_exit(RT_EXIT_FAIL);
}

static inline uint32_t sys0(uint32_t nr)
{
	uint32_t r = nr;
	__asm__ volatile("int %1" : "+a"(r) : "i"(VEC_SYSCALL) : "memory");
	return r;
}

static inline uint32_t sys1(uint32_t nr, uint32_t arg)
{
	uint32_t r = nr;
	__asm__ volatile("int %1" : "+a"(r) : "i"(VEC_SYSCALL), "b"(arg) : "memory");
	return r;
}

/* The ring-3 loop. */
static void user_loop(void)
{
	uint32_t rounds = user_rounds, h = 2166136261u, bad = 0;
	for (uint32_t r = 0; r < rounds; r++) {
		for (uint32_t i = 0; i < FAULT_PAGES; i++) {
			uint32_t count = sys0(SYS_COUNT);
			volatile uint32_t *p = (volatile uint32_t *)(FAULT_VA + i * PAGE);
			uint32_t v = p[i & 1023];            /* faults */
			p[i & 1023] = v * 31 + i + r;
			h = bench_mix(h, v ^ count);
			bad += sys1(SYS_UNMAP, i) != 0;
		}
	}
	user_sum = h;
	user_bad = bad;
}

static void setup_cpu(void)
{
	rt_idt_catch_exceptions();
	rt_idt_set(VEC_PF, (uint32_t)faultk_pf_entry, 0);
	rt_idt_set(VEC_SYSCALL, (uint32_t)faultk_syscall_entry, 3);
	rt_user_init();
	rt_idt_load(IDT_ENTRIES);

	/* No interrupts from the PICs. */
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
}

/* 0-16 MiB identity-mapped as user pages, FAULT_VA's table empty; every
 * frame starts with a word of its own. */
static void setup_paging(void)
{
	uint32_t *pd = (uint32_t *)PD_PHYS;
	memset(pd, 0, PAGE * (2 + KPT_COUNT));
	for (uint32_t t = 0; t < KPT_COUNT; t++) {
		uint32_t *pt = (uint32_t *)(KPT_PHYS + t * PAGE);
		for (uint32_t i = 0; i < 1024; i++)
			pt[i] = (t * 1024 + i) * PAGE | PTE_PUW;
		pd[t] = (KPT_PHYS + t * PAGE) | PTE_PUW;
	}
	pd[FAULT_VA >> 22] = FPT_PHYS | PTE_PUW;
	for (uint32_t f = 0; f < FRAMES; f++) {
		uint32_t *frame = (uint32_t *)(FRAME_BASE + f * PAGE);
		memset(frame, 0, PAGE);
		for (uint32_t w = 0; w < 1024; w += 64)
			frame[w] = f * 0x9e3779b9u + w;
	}
	__asm__ volatile("mov %0, %%cr3" : : "r"(PD_PHYS) : "memory");
	uint32_t cr0;
	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	__asm__ volatile("mov %0, %%cr0" : : "r"(cr0 | 0x80000000u) : "memory");
}

void guest_main(uint32_t magic, const uint32_t *info)
{
	if (magic != MB_BOOT_MAGIC)
		fail("Multiboot magic", magic, MB_BOOT_MAGIC);
	/* mem_upper is the KiB above 1 MiB. */
	if (!(info[0] & MBI_FLAG_MEM) || info[2] + 1024 < RAM_NEEDED / 1024)
		fail("KiB of RAM", (info[0] & MBI_FLAG_MEM) ? info[2] + 1024 : 0, RAM_NEEDED / 1024);
	const char *arg = rt_cmdline_value(info, "iters=");
	uint32_t rounds = arg ? rt_parse_u32(arg) : 0;
	if (!rounds)
		rounds = DEFAULT_ROUNDS;

	setup_cpu();
	setup_paging();
	user_rounds = rounds;
	rt_enter_user(user_loop);

	uint32_t faults = rounds * FAULT_PAGES;
	if (user_bad)
		fail("SYS_UNMAP calls that failed", user_bad, 0);
	if (faultk_faults != faults)
		fail("page faults", faultk_faults, faults);
	if (faultk_syscalls != 2 * faults)
		fail("system calls", faultk_syscalls, 2 * faults);
	uint32_t sum = bench_mix(bench_mix(user_sum, faultk_faults), faultk_syscalls);
	rt_puts("bench faultk iters ");
	rt_putdec(rounds);
	rt_puts(" checksum 0x");
	rt_puthex(sum);
	rt_putchar('\n');
	rt_exit(RT_EXIT_PASS);
}
