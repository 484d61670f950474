/* The nanobenchmark guest kernel: machine set-up (IDT, TSS, SYSENTER
 * MSRs, page tables), TSC calibration against PIT channel 2, and the timed
 * operations themselves. Each operation runs a fixed number of times per
 * repetition, checks its own result, and the fastest repetition is
 * reported on COM1 as
 *
 *	nano op <name> iters <n> ticks/op <t> ns/op <ns>
 *
 * The command line "ops=a,b,..." picks the operations and their order
 * (default: all, in table order). Before each one the kernel prints
 * "nano begin <name>", so a runner can tell which one a crash belongs to;
 * a failed check prints "nano FAIL <name>: <why>" and exits with 0x11
 * through isa-debug-exit (status 35), success exits with 0x10 (status 33).
 * Layout and selectors: nano.h; handlers and ring changes: nano_start.S. */
#include <stdbool.h>

#include "guest.h"
#include "nano.h"

#define PIT_HZ 1193182u
#define PIT_CAL_LATCH (PIT_HZ / 40)   /* 25 ms */
#define PIT_CAL_GOOD 3                /* undisturbed windows wanted */
#define PIT_CAL_MAX 12                /* windows tried at most */

#define MSR_SYSENTER_CS 0x174
#define MSR_SYSENTER_ESP 0x175
#define MSR_SYSENTER_EIP 0x176

/* nano_start.S */
void nano_int80_entry(void);
void nano_sysenter_entry(void);
void nano_pf_entry(void);

/* Read by the #PF handler. */
volatile uint32_t nano_pf_expect_err;
volatile uint32_t nano_pf_count;

static const char *current_op = "start-up";

/* ------------------------------------------------------------ hardware */

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static inline void wrmsr(uint32_t msr, uint32_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"(v), "d"(0));
}

static inline void write_cr3(uint32_t v)
{
	__asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory");
}

static inline uint32_t read_cr0(void)
{
	uint32_t v;
	__asm__ volatile("mov %%cr0, %0" : "=r"(v));
	return v;
}

static inline void write_cr0(uint32_t v)
{
	__asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory");
}

static inline uint32_t read_cr4(void)
{
	uint32_t v;
	__asm__ volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}

static inline void write_cr4(uint32_t v)
{
	__asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory");
}

static inline void invlpg(uint32_t va)
{
	__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

static inline uint32_t read32(uint32_t addr)
{
	return *(volatile const uint32_t *)addr;
}

static inline void write32(uint32_t addr, uint32_t v)
{
	*(volatile uint32_t *)addr = v;
}

static inline uint32_t *table(uint32_t phys)
{
	return (uint32_t *)phys;
}

/* The word each data frame starts with, so a read shows which frame the
 * linear address reached. */
static inline uint32_t tag(uint32_t phys)
{
	return phys ^ 0x9e3779b9u;
}

/* -------------------------------------------------------------- output */

/* num / den with two decimals. */
static void put_ratio(uint64_t num, uint64_t den)
{
	uint64_t hundredths = (num * 100 + den / 2) / den;
	rt_putdec(hundredths / 100);
	rt_putchar('.');
	rt_putchar((char)('0' + hundredths / 10 % 10));
	rt_putchar((char)('0' + hundredths % 10));
}

static __attribute__((noreturn)) void fail(const char *why)
{
	rt_puts("nano FAIL ");
	rt_puts(current_op);
	rt_puts(": ");
	rt_puts(why);
	rt_putchar('\n');
	rt_exit(RT_EXIT_FAIL);
}

/* A failed comparison: "<what>: got 0x.. expected 0x..". */
static __attribute__((noreturn)) void fail_value(const char *what, uint32_t got, uint32_t want)
{
	rt_puts("nano FAIL ");
	rt_puts(current_op);
	rt_puts(": ");
	rt_puts(what);
	rt_puts(": got 0x");
	rt_puthex(got);
	rt_puts(" expected 0x");
	rt_puthex(want);
	rt_putchar('\n');
	rt_exit(RT_EXIT_FAIL);
}

void rt_exception(const uint32_t *frame)
{
	rt_puts("nano FAIL ");
	rt_puts(current_op);
	rt_puts(": ");
	rt_put_exception(frame);
	rt_puts(" CS 0x");
	rt_puthex(frame[3]);
	if (frame[0] == VEC_PF) {
		uint32_t cr2;
		__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
		rt_puts(" CR2 0x");
		rt_puthex(cr2);
	}
	rt_putchar('\n');
	rt_exit(RT_EXIT_FAIL);
}

/* --------------------------------------------------------------- set-up */

static void setup_cpu(void)
{
	rt_idt_catch_exceptions();
	rt_idt_set(VEC_PF, (uint32_t)nano_pf_entry, 0);
	rt_idt_set(VEC_SYSCALL, (uint32_t)nano_int80_entry, 3);
	rt_user_init();
	rt_idt_load(IDT_ENTRIES);

	/* No interrupts from the PICs, even while CLI/STI runs. */
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
}

static uint32_t cpuid1_edx(void)
{
	uint32_t a, b, c, d;
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
	return d;
}

static bool paging_on;

/* Identity map 0-32 MiB (global pages, as a Linux kernel's; G means
 * nothing until an operation sets CR4.PGE); PD_MAIN and PD_ALT differ only
 * at PROBE_VA. The FAULT_VA table starts empty, HIDDEN_VA is mapped
 * through PT_WARM, RO_VA is read-only. Every data frame gets its tag. */
static void setup_paging(void)
{
	if (paging_on)
		return;
	memset(table(PD_MAIN), 0, PAGE * 14);   /* PD_MAIN up to PT_PROBE_B */
	for (uint32_t t = 0; t < KPT_COUNT; t++) {
		for (uint32_t i = 0; i < 1024; i++)
			table(KPT_BASE + t * PAGE)[i] = (t * 1024 + i) * PAGE | PTE_PUW | PTE_G;
		table(PD_MAIN)[t] = (KPT_BASE + t * PAGE) | PTE_PUW;
	}
	table(PD_MAIN)[FAULT_VA >> 22] = PT_FAULT | PTE_PUW;
	table(PD_MAIN)[HIDDEN_VA >> 22] = PT_WARM | PTE_PUW;
	table(PD_MAIN)[PROBE_VA >> 22] = PT_PROBE_A | PTE_PUW;
	for (uint32_t i = 0; i < HIDDEN_PAGES; i++)
		table(PT_WARM)[i] = (HIDDEN_PHYS + i * PAGE) | PTE_PUW;
	table(PT_PROBE_A)[0] = FRAME_A | PTE_PUW;
	table(PT_PROBE_A)[1] = FRAME_C | PTE_PUW;
	table(PT_PROBE_A)[2] = FRAME_E | PTE_PU;
	table(PT_PROBE_B)[0] = FRAME_B | PTE_PUW;
	memcpy(table(PD_ALT), table(PD_MAIN), PAGE);
	table(PD_ALT)[PROBE_VA >> 22] = PT_PROBE_B | PTE_PUW;

	for (uint32_t i = 0; i < FAULT_PAGES; i++)
		write32(FAULT_PHYS + i * PAGE, tag(FAULT_PHYS + i * PAGE));
	for (uint32_t i = 0; i < HIDDEN_PAGES; i++)
		write32(HIDDEN_PHYS + i * PAGE, tag(HIDDEN_PHYS + i * PAGE));
	for (uint32_t f = FRAME_A; f <= FRAME_E; f += PAGE)
		write32(f, tag(f));

	write_cr3(PD_MAIN);
	write_cr0(read_cr0() | 0x80000000u);
	paging_on = true;
	if (read32(PROBE_VA) != tag(FRAME_A))
		fail_value("read through the new page tables", read32(PROBE_VA), tag(FRAME_A));
}

/* ---------------------------------------------------------- calibration */

/* TSC ticks while PIT channel 2 counts PIT_CAL_LATCH ticks in mode 0 (its
 * OUT, port 0x61 bit 5, goes high at terminal count), as Linux's
 * pit_calibrate_tsc does. Both ends are bracketed by TSC reads; *slack is
 * the sum of the two brackets' widths (large when the vCPU was
 * descheduled there). */
static uint64_t pit_window_ticks(uint64_t *slack)
{
	outb(0x61, (uint8_t)((inb(0x61) & ~0x02) | 0x01));   /* gate on, speaker off */
	outb(0x43, 0xb0);                                     /* ch 2, lo/hi, mode 0, binary */
	outb(0x42, PIT_CAL_LATCH & 0xff);
	uint64_t start_lo = rdtsc();
	outb(0x42, PIT_CAL_LATCH >> 8);                       /* counting starts */
	uint64_t start_hi = rdtsc(), low = start_lo, high;
	for (;;) {
		/* OUT went high after the last low read's first TSC read
		 * and before the high read's second one. */
		uint64_t before = rdtsc();
		bool out = inb(0x61) & 0x20;
		high = rdtsc();
		if (out)
			break;
		low = before;
		if (high - start_lo > (1ull << 36))
			fail("PIT channel 2 never reached its terminal count");
	}
	*slack = (start_hi - start_lo) + (high - low);
	return (low + high) / 2 - (start_lo + start_hi) / 2;
}

/* The median of PIT_CAL_GOOD windows whose ends are known to 1/2000 of
 * their length; when too many are disturbed (a loaded host), the least
 * disturbed window, with a warning. */
static uint32_t calibrate_tsc_khz(void)
{
	uint64_t good[PIT_CAL_GOOD], best = 0, best_slack = ~0ull;
	int n = 0;
	for (int attempt = 0; attempt < PIT_CAL_MAX && n < PIT_CAL_GOOD; attempt++) {
		uint64_t slack, t = pit_window_ticks(&slack);
		if (slack <= t / 2000)
			good[n++] = t;
		if (slack < best_slack) {
			best = t;
			best_slack = slack;
		}
	}
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (good[j] < good[i]) {
				uint64_t x = good[i];
				good[i] = good[j];
				good[j] = x;
			}
	uint64_t ticks = n ? good[(n - 1) / 2] : best;
	if (!n) {
		rt_puts("nano warn TSC calibration disturbed: PIT window ends known to ");
		rt_putdec(best_slack);
		rt_puts(" of ");
		rt_putdec(best);
		rt_puts(" TSC ticks\n");
	}
	uint64_t khz = ticks * PIT_HZ / PIT_CAL_LATCH / 1000;
	if (khz == 0 || khz > 0xffffffffu)
		fail("TSC calibration gave an impossible rate");
	return (uint32_t)khz;
}

/* --------------------------------------------------------- ring 3 runs */

/* Shared with the functions that run in ring 3 (every page is a user page). */
static volatile uint32_t user_iters;
static volatile uint64_t user_ticks;
static volatile uint32_t user_result;

static void user_int80(void)
{
	uint32_t n = user_iters, v = 0;
	uint64_t t0 = rdtsc();
	for (uint32_t i = 0; i < n; i++)
		__asm__ volatile("int %1" : "+a"(v) : "i"(VEC_SYSCALL) : "memory");
	user_ticks = rdtsc() - t0;
	user_result = v;
}

/* RDTSC in ring 3, as a vDSO's clock_gettime reads it; the sum of the low
 * words' differences must come back positive. */
static void user_rdtsc(void)
{
	uint32_t n = user_iters, ok = 0;
	uint64_t t0 = rdtsc(), last = t0;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t now = rdtsc();
		ok += now >= last;
		last = now;
	}
	user_ticks = rdtsc() - t0;
	user_result = ok;
}

static void user_sysenter(void)
{
	uint32_t n = user_iters, v = 0;
	uint64_t t0 = rdtsc();
	for (uint32_t i = 0; i < n; i++)
		__asm__ volatile("movl %%esp, %%ecx\n\t"
				 "movl $1f, %%edx\n\t"
				 "sysenter\n"
				 "1:"
				 : "+a"(v) : : "ecx", "edx", "memory");
	user_ticks = rdtsc() - t0;
	user_result = v;
}

/* Reads each FAULT_VA page once; user_result counts wrong values. */
static void touch_fault_pages(void)
{
	uint32_t n = user_iters, bad = 0;
	uint64_t t0 = rdtsc();
	for (uint32_t i = 0; i < n; i++)
		bad += read32(FAULT_VA + i * PAGE) != tag(FAULT_PHYS + i * PAGE);
	user_ticks = rdtsc() - t0;
	user_result = bad;
}

/* ----------------------------------------------------------- operations */

/* Each returns the TSC ticks of one repetition of n operations. */

static uint64_t op_cli_sti(uint32_t n)
{
	uint64_t t0 = rdtsc();
	for (uint32_t i = 0; i < n; i++)
		__asm__ volatile("cli; sti" : : : "memory");
	uint64_t t = rdtsc() - t0;
	uint32_t fl;
	__asm__ volatile("pushfl; popl %0; cli" : "=r"(fl) : : "memory");
	if (!(fl & 0x200))
		fail("EFLAGS.IF clear after STI");
	return t;
}

static uint64_t op_in_61(uint32_t n)
{
	uint8_t want = inb(0x61) & 3, bad = 0;
	uint64_t t0 = rdtsc();
	for (uint32_t i = 0; i < n; i++)
		bad |= (uint8_t)((inb(0x61) & 3) ^ want);
	uint64_t t = rdtsc() - t0;
	if (bad)
		fail("port 0x61 bits 0-1 changed while only being read");
	return t;
}

static uint64_t op_int80(uint32_t n)
{
	user_iters = n;
	rt_enter_user(user_int80);
	if (user_result != n)
		fail_value("EAX after n system calls that each add 1", user_result, n);
	return user_ticks;
}

static uint64_t op_rdtsc_user(uint32_t n)
{
	user_iters = n;
	rt_enter_user(user_rdtsc);
	if (user_result != n)
		fail_value("RDTSC reads in ring 3 not behind the one before", user_result, n);
	return user_ticks;
}

static uint64_t op_sysenter(uint32_t n)
{
	wrmsr(MSR_SYSENTER_CS, RT_SEL_KCODE);
	wrmsr(MSR_SYSENTER_ESP, (uint32_t)rt_ring0_stack_top);
	wrmsr(MSR_SYSENTER_EIP, (uint32_t)nano_sysenter_entry);
	user_iters = n;
	rt_enter_user(user_sysenter);
	if (user_result != n)
		fail_value("EAX after n SYSENTERs that each add 1", user_result, n);
	return user_ticks;
}

/* Unmap the FAULT_VA pages (untimed) and arm the #PF handler. */
static void unmap_fault_pages(uint32_t n, uint32_t err)
{
	setup_paging();
	if (n > FAULT_PAGES)
		fail("more pages than FAULT_VA has");
	memset(table(PT_FAULT), 0, PAGE);
	write_cr3(PD_MAIN);
	nano_pf_expect_err = err;
	nano_pf_count = 0;
}

static void check_faults(uint32_t n)
{
	if (user_result)
		fail_value("pages that read a wrong value after their fault", user_result, 0);
	if (nano_pf_count != n)
		fail_value("page faults taken", nano_pf_count, n);
}

static uint64_t op_pf_ring0(uint32_t n)
{
	unmap_fault_pages(n, 0);             /* supervisor read, not present */
	user_iters = n;
	touch_fault_pages();                 /* in ring 0 here */
	check_faults(n);
	return user_ticks;
}

static uint64_t op_pf_ring3(uint32_t n)
{
	unmap_fault_pages(n, 4);             /* user read, not present */
	user_iters = n;
	rt_enter_user(touch_fault_pages);
	check_faults(n);
	return user_ticks;
}

static uint32_t touch_hidden_pages(uint32_t n)
{
	uint32_t bad = 0;
	for (uint32_t i = 0; i < n; i++)
		bad += read32(HIDDEN_VA + i * PAGE) != tag(HIDDEN_PHYS + i * PAGE);
	return bad;
}

/* A fresh page directory and page table per repetition, built untimed;
 * timed: the CR3 load and the first read of every HIDDEN_VA page. */
static uint64_t op_hidden(uint32_t n)
{
	static uint32_t round;
	setup_paging();
	if (round >= HIDDEN_ROUNDS || n > HIDDEN_PAGES)
		fail("more rounds or pages than the hidden-fault pool has");
	uint32_t pd = HIDDEN_POOL + round * 2 * PAGE, pt = pd + PAGE;
	round++;
	memcpy(table(pd), table(PD_MAIN), PAGE);
	table(pd)[HIDDEN_VA >> 22] = pt | PTE_PUW;
	for (uint32_t i = 0; i < 1024; i++)
		table(pt)[i] = (HIDDEN_PHYS + i * PAGE) | PTE_PUW;

	uint64_t t0 = rdtsc();
	write_cr3(pd);
	uint32_t bad = touch_hidden_pages(n);
	uint64_t t = rdtsc() - t0;
	write_cr3(PD_MAIN);
	if (bad)
		fail_value("pages that read a wrong value", bad, 0);
	return t;
}

/* The same reads with the mappings long in place (PD_MAIN, warmed). */
static uint64_t op_touch_warm(uint32_t n)
{
	setup_paging();
	if (n > HIDDEN_PAGES)
		fail("more pages than HIDDEN_VA has");
	touch_hidden_pages(n);
	uint64_t t0 = rdtsc();
	uint32_t bad = touch_hidden_pages(n);
	uint64_t t = rdtsc() - t0;
	if (bad)
		fail_value("pages that read a wrong value", bad, 0);
	return t;
}

/* PTE_VA's PTE alternates between FRAME_C and FRAME_D. */
static inline uint32_t pte_frame(uint32_t i)
{
	return i & 1 ? FRAME_D : FRAME_C;
}

static uint64_t op_pte_invlpg(uint32_t n)
{
	setup_paging();
	volatile uint32_t *pte = &table(PT_PROBE_A)[(PTE_VA >> 12) & 1023];
	/* A TLB entry for FRAME_C, which the last write (odd i: FRAME_D)
	 * leaves stale unless an INVLPG drops it. */
	*pte = FRAME_C | PTE_PUW;
	invlpg(PTE_VA);
	if (read32(PTE_VA) != tag(FRAME_C) || (n & 1))
		fail("PTE_VA does not start at FRAME_C, or n is odd");
	uint64_t t0 = rdtsc();
	for (uint32_t i = 0; i < n; i++) {
		*pte = pte_frame(i) | PTE_PUW;
		invlpg(PTE_VA);
	}
	uint64_t t = rdtsc() - t0;
	if (read32(PTE_VA) != tag(pte_frame(n - 1)))
		fail_value("read after the last PTE write", read32(PTE_VA), tag(pte_frame(n - 1)));
	return t;
}

static uint64_t op_pte_invlpg_read(uint32_t n)
{
	setup_paging();
	volatile uint32_t *pte = &table(PT_PROBE_A)[(PTE_VA >> 12) & 1023];
	uint32_t bad = 0;
	uint64_t t0 = rdtsc();
	for (uint32_t i = 0; i < n; i++) {
		*pte = pte_frame(i) | PTE_PUW;
		invlpg(PTE_VA);
		bad += read32(PTE_VA) != tag(pte_frame(i));
	}
	uint64_t t = rdtsc() - t0;
	if (bad)
		fail_value("reads that did not see the new PTE", bad, 0);
	return t;
}

/* Alternates PD_ALT and PD_MAIN; PROBE_VA reads FRAME_B, then FRAME_A. */
static uint64_t op_cr3(uint32_t n)
{
	setup_paging();
	uint32_t bad = 0;
	uint64_t t0 = rdtsc();
	for (uint32_t i = 0; i < n; i++) {
		bool alt = !(i & 1);
		write_cr3(alt ? PD_ALT : PD_MAIN);
		bad += read32(PROBE_VA) != tag(alt ? FRAME_B : FRAME_A);
	}
	uint64_t t = rdtsc() - t0;
	write_cr3(PD_MAIN);
	if (bad)
		fail_value("reads of PROBE_VA that saw the other directory's frame", bad, 0);
	return t;
}

/* Reads the TOUCH_PAGES pages, as a kernel goes on after a flush (on
 * hardware: TLB misses; for a VMM: whatever it dropped, filled again).
 * Returns how many read a wrong value. */
static uint32_t touch_spread(void)
{
	uint32_t bad = 0;
	for (uint32_t i = 0; i < TOUCH_PAGES; i++) {
		uint32_t off = i * TOUCH_STRIDE * PAGE;
		bad += read32(HIDDEN_VA + off) != tag(HIDDEN_PHYS + off);
	}
	return bad;
}

/* CR3 loaded with its own value (a non-global TLB flush, as Linux's
 * flush_tlb_local), then the touches. */
static uint64_t op_cr3_reload(uint32_t n)
{
	setup_paging();
	uint32_t bad = 0;
	uint64_t t0 = rdtsc();
	for (uint32_t i = 0; i < n; i++) {
		write_cr3(PD_MAIN);
		bad += touch_spread();
	}
	uint64_t t = rdtsc() - t0;
	if (bad)
		fail_value("touches that read a wrong value", bad, 0);
	return t;
}

/* CR0.WP cleared, a supervisor write to the read-only RO_VA (allowed with
 * WP clear: how a kernel patches its read-only data), CR0.WP set again,
 * then the touches and a read of what was written. */
static uint64_t op_cr0_wp(uint32_t n)
{
	setup_paging();
	uint32_t was = read_cr0(), cr0 = was | CR0_WP, bad = 0;
	write_cr0(cr0);
	uint64_t t0 = rdtsc();
	for (uint32_t i = 0; i < n; i++) {
		write_cr0(cr0 & ~CR0_WP);
		write32(RO_VA, i);
		write_cr0(cr0);
		bad += touch_spread();
		bad += read32(RO_VA) != i;
	}
	uint64_t t = rdtsc() - t0;
	write_cr0(cr0 & ~CR0_WP);
	write32(RO_VA, tag(FRAME_E));
	write_cr0(was);
	if (bad)
		fail_value("reads that saw a wrong value", bad, 0);
	return t;
}

/* CR4.PGE cleared and set again, which flushes every TLB entry, global
 * ones included (Linux's __flush_tlb_all without INVPCID), with the
 * kernel map global, then the touches. */
static uint64_t op_cr4_pge(uint32_t n)
{
	setup_paging();
	uint32_t cr4 = read_cr4(), bad = 0;
	write_cr4(cr4 | CR4_PGE);
	uint64_t t0 = rdtsc();
	for (uint32_t i = 0; i < n; i++) {
		write_cr4(cr4 & ~CR4_PGE);
		write_cr4(cr4 | CR4_PGE);
		bad += touch_spread();
	}
	uint64_t t = rdtsc() - t0;
	write_cr4(cr4);
	if (bad)
		fail_value("touches that read a wrong value", bad, 0);
	return t;
}

struct op {
	const char *name;
	uint32_t iters;          /* operations per repetition */
	uint32_t reps;           /* the fastest repetition counts */
	uint64_t (*run)(uint32_t n);
	uint32_t needs;          /* CPUID.1:EDX bits the operation needs */
	const char *needs_what;
};

#define CPUID_SEP (1u << 11)
#define CPUID_PGE (1u << 13)
#define NEEDS_SEP CPUID_SEP, "CPUID does not offer SEP (SYSENTER/SYSEXIT)"
#define NEEDS_PGE CPUID_PGE, "CPUID does not offer PGE (global pages)"
#define NEEDS_NONE 0, NULL

/* Iteration counts keep each platform's whole run to a few seconds. */
static const struct op ops[] = {
	{ "cli-sti", 100000, 5, op_cli_sti, NEEDS_NONE },
	{ "in-61", 20000, 5, op_in_61, NEEDS_NONE },
	{ "int80", 20000, 5, op_int80, NEEDS_NONE },
	{ "sysenter", 20000, 5, op_sysenter, NEEDS_SEP },
	{ "rdtsc-user", 20000, 5, op_rdtsc_user, NEEDS_NONE },
	{ "pf-ring0", FAULT_PAGES, 8, op_pf_ring0, NEEDS_NONE },
	{ "pf-ring3", FAULT_PAGES, 8, op_pf_ring3, NEEDS_NONE },
	{ "hidden", HIDDEN_PAGES, HIDDEN_ROUNDS, op_hidden, NEEDS_NONE },
	{ "touch-warm", HIDDEN_PAGES, 5, op_touch_warm, NEEDS_NONE },
	{ "pte-invlpg", 20000, 5, op_pte_invlpg, NEEDS_NONE },
	{ "pte-invlpg-read", 20000, 5, op_pte_invlpg_read, NEEDS_NONE },
	{ "cr3", 10000, 3, op_cr3, NEEDS_NONE },
	{ "cr3-reload", 5000, 3, op_cr3_reload, NEEDS_NONE },
	{ "cr0-wp", 2000, 3, op_cr0_wp, NEEDS_NONE },
	{ "cr4-pge", 2000, 3, op_cr4_pge, NEEDS_PGE },
};
#define NOPS (sizeof(ops) / sizeof(ops[0]))

static void run_op(const struct op *op, uint32_t tsc_khz)
{
	current_op = op->name;
	rt_puts("nano begin ");
	rt_puts(op->name);
	rt_putchar('\n');
	if ((cpuid1_edx() & op->needs) != op->needs) {
		rt_puts("nano skip ");
		rt_puts(op->name);
		rt_putchar(' ');
		rt_puts(op->needs_what);
		rt_putchar('\n');
		return;
	}
	uint64_t best = ~0ull;
	for (uint32_t r = 0; r < op->reps; r++) {
		uint64_t t = op->run(op->iters);
		if (t < best)
			best = t;
	}
	if (best > (1ull << 36))                 /* keeps put_ratio's products in range */
		fail("one repetition took longer than 2^36 TSC ticks");
	rt_puts("nano op ");
	rt_puts(op->name);
	rt_puts(" iters ");
	rt_putdec(op->iters);
	rt_puts(" ticks/op ");
	put_ratio(best, op->iters);
	rt_puts(" ns/op ");
	put_ratio(best * 1000000, (uint64_t)op->iters * tsc_khz);
	rt_putchar('\n');
}

/* ------------------------------------------------------------ main */

static const struct op *find_op(const char *s, size_t len)
{
	for (size_t i = 0; i < NOPS; i++) {
		size_t j = 0;
		while (j < len && ops[i].name[j] == s[j])
			j++;
		if (j == len && !ops[i].name[j])
			return &ops[i];
	}
	return NULL;
}

void guest_main(uint32_t magic, const uint32_t *info)
{
	if (magic != MB_BOOT_MAGIC)
		fail_value("Multiboot magic", magic, MB_BOOT_MAGIC);
	if (!(info[0] & MBI_FLAG_MEM) || info[2] < RAM_NEEDED / 1024 - 1024)
		fail("needs at least 32 MiB of RAM");
	if (!(cpuid1_edx() & (1u << 4)))
		fail("CPUID does not offer a TSC");
	setup_cpu();

	const char *list = rt_cmdline_value(info, "ops=");

	uint32_t khz = calibrate_tsc_khz();
	rt_puts("nano tsc-khz ");
	rt_putdec(khz);
	rt_putchar('\n');

	if (!list) {
		for (size_t i = 0; i < NOPS; i++)
			run_op(&ops[i], khz);
	} else {
		const char *p = list;
		while (*p && *p != ' ') {
			size_t len = 0;
			while (p[len] && p[len] != ',' && p[len] != ' ')
				len++;
			const struct op *op = find_op(p, len);
			current_op = "command line";
			if (!op)
				fail("unknown operation in ops=");
			run_op(op, khz);
			p += len;
			if (*p == ',')
				p++;
		}
	}
	current_op = "end";
	rt_puts("nano done\n");
	rt_exit(RT_EXIT_PASS);
}
