/* The guest runtime: COM1 output, exit through isa-debug-exit (port 0xf4),
 * FPU/SSE set-up, the iteration count from the Multiboot command line
 * ("iters=N"), and the exception report. rt/guest_start.S calls
 * bench_guest_main. */
#include "bench.h"

#define COM1 0x3f8
#define DEBUG_EXIT_PORT 0xf4
#define MB_BOOT_MAGIC 0x2BADB002u
#define MBI_FLAG_CMDLINE (1u << 2)

/* Written to isa-debug-exit: btvm and QEMU then exit with (V << 1) | 1,
 * 33 for a pass and 35 for a failure (the test guests' convention). */
#define GUEST_PASS 0x10u
#define GUEST_FAIL 0x11u

void bench_guest_main(uint32_t magic, const uint32_t *info);
void bench_guest_exception(const uint32_t *frame);

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

void bench_putchar(char c)
{
	while (!(inb(COM1 + 5) & 0x20))
		;
	outb(COM1, (uint8_t)c);
}

static __attribute__((noreturn)) void guest_exit(uint32_t code)
{
	outl(DEBUG_EXIT_PORT, code);
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* x87 to its initial state (the same control word, 0x37f, that Linux
 * gives a process), and SSE enabled: CR0.EM clear, CR0.MP and CR0.NE set,
 * CR4.OSFXSR and CR4.OSXMMEXCPT set. MXCSR is 0x1f80 after reset. */
static void fpu_init(void)
{
	uint32_t cr0, cr4;
	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	cr0 = (cr0 & ~(1u << 2)) | (1u << 1) | (1u << 5);
	__asm__ volatile("mov %0, %%cr0" : : "r"(cr0));
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	cr4 |= (1u << 9) | (1u << 10);
	__asm__ volatile("mov %0, %%cr4" : : "r"(cr4));
	__asm__ volatile("fninit");
}

/* "iters=N" anywhere in the command line, as a whole word. */
static uint32_t cmdline_iters(const char *cmdline)
{
	static const char key[] = "iters=";
	for (const char *p = cmdline; *p; p++) {
		if (p != cmdline && p[-1] != ' ')
			continue;
		size_t i = 0;
		while (key[i] && p[i] == key[i])
			i++;
		if (!key[i])
			return bench_parse_u32(p + i);
	}
	return 0;
}

void bench_guest_main(uint32_t magic, const uint32_t *info)
{
	if (magic != MB_BOOT_MAGIC) {
		bench_puts("bench: bad Multiboot magic 0x");
		bench_puthex(magic);
		bench_putchar('\n');
		guest_exit(GUEST_FAIL);
	}
	fpu_init();
	uint32_t iters = 0;
	if (info[0] & MBI_FLAG_CMDLINE)
		iters = cmdline_iters((const char *)(uintptr_t)info[4]);
	if (!iters)
		iters = bench_workload.default_iters;
	uint32_t sum = bench_workload.run(iters);
	bench_report(&bench_workload, iters, sum);
	guest_exit(GUEST_PASS);
}

void bench_guest_exception(const uint32_t *frame)
{
	bench_puts("bench ");
	bench_puts(bench_workload.name);
	bench_puts(": exception ");
	bench_putdec(frame[0]);
	bench_puts(" error 0x");
	bench_puthex(frame[1]);
	bench_puts(" at EIP 0x");
	bench_puthex(frame[2]);
	bench_putchar('\n');
	guest_exit(GUEST_FAIL);
}
