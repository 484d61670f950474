/* The guest runner: a Multiboot kernel that runs the difftest batch handed
 * to it as module 0 (btvm --initrd, QEMU -initrd) with the shared runner,
 * at ring 0 with paging off, and prints the results on COM1. It sets up a
 * GDT (flat code and data, plus data segments with the FS and GS bases of
 * dt_abi.h), an IDT whose vectors 0-31 go to the stubs in guest_start.S,
 * CR0 for native x87 error reporting (NE, MP) and CR4 for SSE (OSFXSR,
 * OSXMMEXCPT). The command line may say "start=N" to skip records. Exit
 * through isa-debug-exit: 0x10 when the batch ran (status 33), 0x11 on a
 * harness failure (35). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runner.h"

#define COM1 0x3f8
#define EXIT_PORT 0xf4
#define EXIT_OK 0x10
#define EXIT_FAIL 0x11

#define SEL_CODE 0x08
#define SEL_DATA 0x10
#define SEL_FS 0x18
#define SEL_GS 0x20

void dt_guest_main(uint32_t magic, uint32_t mbi);
void dt_guest_panic(uint32_t vec, uint32_t eip);
void dt_load_gdt(const void *gdtr, unsigned data_sel);
extern const uint32_t dt_exc_table[32];

/* gcc may call these even in freestanding code. */
void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);

void *memcpy(void *d, const void *s, size_t n)
{
	uint8_t *dp = d;
	const uint8_t *sp = s;
	while (n--)
		*dp++ = *sp++;
	return d;
}

void *memset(void *d, int c, size_t n)
{
	uint8_t *dp = d;
	while (n--)
		*dp++ = (uint8_t)c;
	return d;
}

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static void serial_write(const char *s, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		while (!(inb(COM1 + 5) & 0x20))
			;
		outb(COM1, (uint8_t)s[i]);
	}
}

static void puts_(const char *s)
{
	uint32_t n = 0;
	while (s[n])
		n++;
	serial_write(s, n);
}

static void puthex(uint32_t v)
{
	char b[8];
	for (int i = 0; i < 8; i++)
		b[i] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 15];
	serial_write(b, 8);
}

static void guest_exit(uint8_t code)
{
	outb(EXIT_PORT, code);
	for (;;)
		__asm__ volatile("cli; hlt");
}

void dt_guest_panic(uint32_t vec, uint32_t eip)
{
	puts_("DT-PANIC exception ");
	puthex(vec);
	puts_(" at ");
	puthex(eip);
	puts_("\n");
	guest_exit(EXIT_FAIL);
}

static uint64_t gdt[5];
static uint64_t idt[32];

static uint64_t seg_desc(uint32_t base, uint8_t access)
{
	/* limit 0xfffff in 4 KiB pages, 32-bit */
	return 0xffffull | (uint64_t)(base & 0xffffff) << 16 | (uint64_t)access << 40 |
	       (uint64_t)0xcf << 48 | (uint64_t)(base >> 24) << 56;
}

static void setup_cpu(void)
{
	gdt[0] = 0;
	gdt[1] = seg_desc(0, 0x9a);
	gdt[2] = seg_desc(0, 0x92);
	gdt[3] = seg_desc(DT_FS_BASE, 0x92);
	gdt[4] = seg_desc(DT_GS_BASE, 0x92);
	struct __attribute__((packed)) { uint16_t limit; uint32_t base; } gdtr = {
		sizeof(gdt) - 1, (uint32_t)(uintptr_t)gdt }, idtr = { sizeof(idt) - 1, (uint32_t)(uintptr_t)idt };
	dt_load_gdt(&gdtr, SEL_DATA);
	for (int v = 0; v < 32; v++) {
		uint32_t h = dt_exc_table[v];
		idt[v] = (uint64_t)(h & 0xffff) | (uint64_t)SEL_CODE << 16 | (uint64_t)0x8e << 40 |
			 (uint64_t)(h >> 16) << 48;
	}
	__asm__ volatile("lidt %0" : : "m"(idtr));

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

static uint32_t parse_start(const char *cmd)
{
	for (const char *p = cmd; p && *p; p++) {
		if (p[0] == 's' && p[1] == 't' && p[2] == 'a' && p[3] == 'r' && p[4] == 't' && p[5] == '=') {
			uint32_t v = 0;
			for (p += 6; *p >= '0' && *p <= '9'; p++)
				v = v * 10 + (uint32_t)(*p - '0');
			return v;
		}
	}
	return 0;
}

void dt_guest_main(uint32_t magic, uint32_t mbi)
{
	const volatile uint32_t *info = (const volatile uint32_t *)(uintptr_t)mbi;
	if (magic != 0x2badb002u) {
		puts_("DT-ERROR bad Multiboot magic\n");
		guest_exit(EXIT_FAIL);
	}
	if (!(info[0] & (1u << 3)) || info[5] == 0) {
		puts_("DT-ERROR no module: pass the batch as the initrd\n");
		guest_exit(EXIT_FAIL);
	}
	const volatile uint32_t *mod = (const volatile uint32_t *)(uintptr_t)info[6];
	uint32_t mod_start = mod[0], mod_end = mod[1];
	uint32_t start = (info[0] & (1u << 2)) ? parse_start((const char *)(uintptr_t)info[4]) : 0;
	bool below = mod_start >= DT_LOW_BASE + DT_LOW_SIZE && mod_end <= DT_CTRL_BASE;
	bool above = mod_start >= DT_CODE_BASE + DT_CODE_SIZE;
	if (mod_end <= mod_start || !(below || above)) {
		puts_("DT-ERROR module overlaps the test areas\n");
		guest_exit(EXIT_FAIL);
	}
	setup_cpu();
	struct dt_env env = { .write = serial_write, .fs_sel = SEL_FS, .gs_sel = SEL_GS };
	int rc = dt_run_batch(&env, (const uint8_t *)(uintptr_t)mod_start, mod_end - mod_start, start);
	guest_exit(rc == 0 ? EXIT_OK : EXIT_FAIL);
}
