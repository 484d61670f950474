/* The guest runtime's C part (rt/guest.h): COM1 output, the exit port,
 * x87/SSE set-up, the IDT and the command line. */
#include "guest.h"

void rt_putchar(char c)
{
	while (!(inb(RT_COM1 + 5) & 0x20))
		;
	outb(RT_COM1, (uint8_t)c);
}

void rt_put_exception(const uint32_t *frame)
{
	rt_puts("exception ");
	rt_putdec(frame[0]);
	rt_puts(" error 0x");
	rt_puthex(frame[1]);
	rt_puts(" at EIP 0x");
	rt_puthex(frame[2]);
}

void rt_exit(uint32_t code)
{
	outl(RT_DEBUG_EXIT_PORT, code);
	for (;;)
		__asm__ volatile("cli; hlt");
}

void rt_fpu_init(void)
{
	uint32_t cr0, cr4;
	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	cr0 &= ~(1u << 2 | 1u << 3);        /* EM, TS */
	cr0 |= 1u << 1 | 1u << 5;           /* MP, NE */
	__asm__ volatile("mov %0, %%cr0" : : "r"(cr0));
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	cr4 |= 1u << 9 | 1u << 10;          /* OSFXSR, OSXMMEXCPT */
	__asm__ volatile("mov %0, %%cr4" : : "r"(cr4));
	__asm__ volatile("fninit");
}

static uint64_t idt[RT_IDT_MAX];

void rt_idt_set(unsigned vec, uint32_t handler, unsigned dpl)
{
	uint32_t lo = (handler & 0xffff) | (uint32_t)RT_SEL_KCODE << 16;
	uint32_t hi = (handler & 0xffff0000) | 0x8e00 | dpl << 13;   /* present, 32-bit interrupt gate */
	idt[vec] = (uint64_t)hi << 32 | lo;
}

void rt_idt_load(unsigned entries)
{
	struct __attribute__((packed)) { uint16_t limit; uint32_t base; } idtr = {
		(uint16_t)(entries * 8 - 1), (uint32_t)(uintptr_t)idt
	};
	__asm__ volatile("lidt %0" : : "m"(idtr));
}

static struct __attribute__((packed)) {
	uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
	uint32_t gpr[8];
	uint32_t es, cs, ss, ds, fs, gs, ldt;
	uint16_t trap, iomap;
} tss;

_Static_assert(sizeof(tss) == 104, "32-bit TSS");

void rt_tss_load(uint32_t esp0)
{
	tss.ss0 = RT_SEL_KDATA;
	tss.esp0 = esp0;
	tss.iomap = sizeof(tss);   /* no I/O bitmap */
	uint32_t base = (uint32_t)(uintptr_t)&tss, limit = sizeof(tss) - 1;
	rt_gdt[RT_SEL_TSS / 8] = (uint64_t)(limit & 0xffff) | (uint64_t)(base & 0xffffff) << 16 |
				  (uint64_t)0x89 << 40 |   /* present, DPL 0, available 32-bit TSS */
				  (uint64_t)(base >> 24) << 56;
	__asm__ volatile("ltr %w0" : : "r"(RT_SEL_TSS));
}

const char *rt_cmdline_value(const uint32_t *info, const char *key)
{
	if (!(info[0] & MBI_FLAG_CMDLINE))
		return NULL;
	const char *cmdline = (const char *)(uintptr_t)info[4];
	for (const char *p = cmdline; *p; p++) {
		if (p != cmdline && p[-1] != ' ')
			continue;
		size_t i = 0;
		while (key[i] && p[i] == key[i])
			i++;
		if (!key[i])
			return p + i;
	}
	return NULL;
}
