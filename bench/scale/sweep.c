/* The scale sweep's guest (bench/scale/run.py): a working set of N MiB
 * under 4 KiB (or 4 MiB) paging, touched one word a page in sequential or
 * random page order, pass after pass, so the cost measured is what one
 * page costs the VMM's address translation once the set outgrows what it
 * keeps mapped (btvm's host mappings, QEMU's soft TLB).
 *
 * Command line (Multiboot): mib=N passes=P order=seq|rand pages=4k|4m
 * layout=scatter|contig. The working set is mapped at linear 1 GiB onto
 * frames from 64 MiB up, in a scattered order (as a process's heap gets
 * its frames) or contiguously. One untimed pass writes every page, then
 * the guest prints "sweep go", runs the P timed passes and prints
 * "sweep done pages N checksum 0x...": the driver times the two lines. */
#include <stdbool.h>
#include <stdint.h>

#include "guest.h"

#define PAGE 4096u
#define PTE_PW 0x003u           /* present, writable */
#define PDE_LARGE 0x080u
#define PD_ADDR 0x800000u       /* the image ends below (LIMIT in CMake) */
#define LOW_PTS 16u             /* the identity map of 0-64 MiB */
#define PT_BASE (PD_ADDR + PAGE)
#define ORDER_ADDR 0x1000000u   /* the visiting order: 4 bytes a page */
#define SET_VA 0x40000000u
#define SET_PHYS 0x4000000u     /* 64 MiB */
#define MAX_MIB 2048u

/* Bijections on [0, n): multiplication by a prime larger than n. */
#define SCATTER_PRIME 2654435761u
#define ORDER_PRIME 1610612741u

static uint32_t *table(uint32_t phys)
{
	return (uint32_t *)(uintptr_t)phys;
}

static __attribute__((noreturn)) void fail(const char *what)
{
	rt_puts("sweep: ");
	rt_puts(what);
	rt_puts("\n");
	rt_exit(RT_EXIT_FAIL);
}

void rt_exception(const uint32_t *frame)
{
	rt_puts("sweep: ");
	rt_put_exception(frame);
	rt_puts("\n");
	rt_exit(RT_EXIT_FAIL);
}

static uint32_t arg(const uint32_t *info, const char *key, uint32_t dflt)
{
	const char *v = rt_cmdline_value(info, key);
	return v ? rt_parse_u32(v) : dflt;
}

static bool arg_is(const uint32_t *info, const char *key, const char *want)
{
	const char *v = rt_cmdline_value(info, key);
	if (!v)
		return false;
	uint32_t i = 0;
	for (; want[i]; i++)
		if (v[i] != want[i])
			return false;
	return v[i] == 0 || v[i] == ' ';
}

static uint32_t permute(uint32_t i, uint32_t prime, uint32_t n)
{
	return (uint32_t)((uint64_t)i * prime % n);
}

/* 4 KiB mode: one PTE a page; 4 MiB mode: one large PDE per 1024 pages
 * (frames scattered by 4 MiB unit then). */
static void map_set(uint32_t pages, bool large, bool scatter)
{
	uint32_t *pd = table(PD_ADDR);
	for (uint32_t i = 0; i < 1024; i++)
		pd[i] = 0;
	for (uint32_t t = 0; t < LOW_PTS; t++) {
		for (uint32_t i = 0; i < 1024; i++)
			table(PT_BASE + t * PAGE)[i] = (t * 1024 + i) * PAGE | PTE_PW;
		pd[t] = (PT_BASE + t * PAGE) | PTE_PW;
	}
	if (large) {
		uint32_t units = pages / 1024;
		for (uint32_t u = 0; u < units; u++) {
			uint32_t f = scatter ? permute(u, SCATTER_PRIME, units) : u;
			pd[(SET_VA >> 22) + u] = (SET_PHYS + f * 1024 * PAGE) | PTE_PW | PDE_LARGE;
		}
		return;
	}
	uint32_t pts = PT_BASE + LOW_PTS * PAGE;
	for (uint32_t i = 0; i < pages; i++) {
		uint32_t f = scatter ? permute(i, SCATTER_PRIME, pages) : i;
		table(pts)[i] = (SET_PHYS + f * PAGE) | PTE_PW;
	}
	for (uint32_t t = 0; t < pages / 1024; t++)
		pd[(SET_VA >> 22) + t] = (pts + t * PAGE) | PTE_PW;
}

static void paging_on(bool large)
{
	uint32_t cr4, cr0;
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	if (large)
		__asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | 0x10u));   /* PSE */
	__asm__ volatile("mov %0, %%cr3" : : "r"(PD_ADDR) : "memory");
	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	__asm__ volatile("mov %0, %%cr0" : : "r"(cr0 | 0x80000000u) : "memory");
}

/* The word a pass touches in page idx: a different cache line from page
 * to page, so the caches see a spread set as a real sweep would. */
static volatile uint32_t *word_of(uint32_t idx)
{
	return (volatile uint32_t *)(uintptr_t)(SET_VA + idx * PAGE + ((idx * 64u) & (PAGE - 64u)));
}

void guest_main(uint32_t magic, const uint32_t *info)
{
	rt_idt_catch_exceptions();
	rt_idt_load(32);
	if (magic != MB_BOOT_MAGIC || !(info[0] & MBI_FLAG_MEM))
		fail("no Multiboot memory information");
	uint32_t mib = arg(info, "mib=", 64), passes = arg(info, "passes=", 4);
	bool random = arg_is(info, "order=", "rand");
	bool large = arg_is(info, "pages=", "4m");
	bool scatter = !arg_is(info, "layout=", "contig");
	uint32_t ram_mib = (info[2] / 1024) + 1;   /* mem_upper: KiB above 1 MiB */
	if (mib < 4 || mib > MAX_MIB || mib % 4)
		fail("mib= takes a multiple of 4 from 4 to 2048");
	if (SET_PHYS / (1u << 20) + mib > ram_mib)
		fail("the working set does not fit in RAM above 64 MiB (raise -m)");
	if (!passes)
		fail("passes= takes a positive count");

	uint32_t pages = mib * 256;
	uint32_t *order = table(ORDER_ADDR);
	for (uint32_t j = 0; j < pages; j++)
		order[j] = random ? permute(j, ORDER_PRIME, pages) : j;
	map_set(pages, large, scatter);
	paging_on(large);

	for (uint32_t j = 0; j < pages; j++)
		*word_of(order[j]) = order[j];
	rt_puts("sweep go\n");
	uint32_t sum = 0;
	for (uint32_t p = 0; p < passes; p++) {
		for (uint32_t j = 0; j < pages; j++) {
			volatile uint32_t *w = word_of(order[j]);
			uint32_t v = *w + 1;
			*w = v;
			sum += v;
		}
	}
	rt_puts("sweep done pages ");
	rt_putdec(pages);
	rt_puts(" checksum 0x");
	rt_puthex(sum);
	rt_puts("\n");
	rt_exit(RT_EXIT_PASS);
}
