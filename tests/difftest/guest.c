/* The guest runner: a Multiboot kernel on the guest runtime
 * (bench/rt/guest.h) that runs the difftest batch handed to it as module 0
 * (btvm --initrd, QEMU -initrd) with the shared runner, at ring 0 with
 * paging off, and prints the results on COM1. It sets up a GDT (flat code
 * and data, data segments with the FS and GS bases of dt_abi.h, and the
 * 16-bit code segment of a DT_BATCH_CODE16 batch), an
 * IDT whose vectors 0-31 go to the stubs in guest_exc.S, CR0 for native
 * x87 error reporting (NE, MP) and CR4 for SSE (OSFXSR, OSXMMEXCPT). The
 * command line may say "start=N" to skip records. Exit through
 * isa-debug-exit: 0x10 when the batch ran (status 33), 0x11 on a harness
 * failure (35). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest.h"
#include "runner.h"

#define SEL_DATA 0x10
#define SEL_FS 0x18
#define SEL_GS 0x20
#define SEL_CODE16 0x28

void dt_guest_panic(uint32_t vec, uint32_t eip);
void dt_load_gdt(const void *gdtr, unsigned data_sel);
extern const uint32_t dt_exc_table[32];

void dt_guest_panic(uint32_t vec, uint32_t eip)
{
	rt_puts("DT-PANIC exception ");
	rt_puthex(vec);
	rt_puts(" at ");
	rt_puthex(eip);
	rt_puts("\n");
	rt_exit(RT_EXIT_FAIL);
}

static uint64_t gdt[6];

static uint64_t seg_desc(uint32_t base, uint8_t access)
{
	/* limit 0xfffff in 4 KiB pages, 32-bit */
	return 0xffffull | (uint64_t)(base & 0xffffff) << 16 | (uint64_t)access << 40 |
	       (uint64_t)0xcf << 48 | (uint64_t)(base >> 24) << 56;
}

/* The 16-bit code segment: limit 64 KiB in bytes, D clear. The CPU reads
 * the descriptor when the runner's far jump loads CS. */
static int set_code16_base(uint32_t base)
{
	gdt[5] = 0xffffull | (uint64_t)(base & 0xffffff) << 16 | (uint64_t)0x9a << 40 |
		 (uint64_t)(base >> 24) << 56;
	return 0;
}

static void setup_cpu(void)
{
	gdt[0] = 0;
	gdt[1] = seg_desc(0, 0x9a);
	gdt[2] = seg_desc(0, 0x92);
	gdt[3] = seg_desc(DT_FS_BASE, 0x92);
	gdt[4] = seg_desc(DT_GS_BASE, 0x92);
	set_code16_base(0);
	struct __attribute__((packed)) { uint16_t limit; uint32_t base; } gdtr = {
		sizeof(gdt) - 1, (uint32_t)(uintptr_t)gdt };
	dt_load_gdt(&gdtr, SEL_DATA);
	for (unsigned v = 0; v < 32; v++)
		rt_idt_set(v, dt_exc_table[v], 0);
	rt_idt_load(32);
	rt_fpu_init();
}

void guest_main(uint32_t magic, const uint32_t *info)
{
	if (magic != MB_BOOT_MAGIC) {
		rt_puts("DT-ERROR bad Multiboot magic\n");
		rt_exit(RT_EXIT_FAIL);
	}
	if (!(info[0] & MBI_FLAG_MODS) || info[5] == 0) {
		rt_puts("DT-ERROR no module: pass the batch as the initrd\n");
		rt_exit(RT_EXIT_FAIL);
	}
	const volatile uint32_t *mod = (const volatile uint32_t *)(uintptr_t)info[6];
	uint32_t mod_start = mod[0], mod_end = mod[1];
	const char *start_arg = rt_cmdline_value(info, "start=");
	uint32_t start = start_arg ? rt_parse_u32(start_arg) : 0;
	bool below = mod_start >= DT_LOW_BASE + DT_LOW_SIZE && mod_end <= DT_CTRL_BASE;
	bool above = mod_start >= DT_CODE_BASE + DT_CODE_SIZE;
	if (mod_end <= mod_start || !(below || above)) {
		rt_puts("DT-ERROR module overlaps the test areas\n");
		rt_exit(RT_EXIT_FAIL);
	}
	setup_cpu();
	struct dt_env env = { .write = rt_write, .fs_sel = SEL_FS, .gs_sel = SEL_GS,
			      .code16_sel = SEL_CODE16, .set_code16_base = set_code16_base };
	int rc = dt_run_batch(&env, (const uint8_t *)(uintptr_t)mod_start, mod_end - mod_start, start);
	rt_exit(rc == 0 ? RT_EXIT_PASS : RT_EXIT_FAIL);
}
