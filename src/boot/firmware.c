/* The firmware ROM's place in the PC and the processor's RESET state
 * (Intel SDM vol. 3, 9.1.1 "Processor State After Reset"; AMD APM vol. 2,
 * 14.1.3 "Processor Initialization State"). */
#include "boot/firmware.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "boot/bootfile.h"

/* Descriptor bits 40-47 of the hidden caches after RESET: present,
 * accessed, read/write data or readable code, DPL 0, 16-bit, byte
 * granular. */
#define RESET_DATA_ACCESS 0x93
#define RESET_CODE_ACCESS 0x9b
#define RESET_LDT_ACCESS 0x82
#define RESET_TSS_ACCESS 0x8b   /* a busy 16-bit TSS */
#define RESET_CR0 0x60000010u   /* CD, NW, ET */
#define RESET_DR6 0xffff0ff0u
#define RESET_DR7 0x00000400u

int firmware_read(const char *path, uint8_t **image, size_t *size, char *err, size_t err_len)
{
	int rc = boot_read_file(path, "firmware", FIRMWARE_MAX_SIZE, image, size, err, err_len);
	if (rc)
		return rc;
	if (*size < FIRMWARE_MIN_SIZE || *size % FIRMWARE_MIN_SIZE) {
		rc = boot_fail(err, err_len, path, -EINVAL,
			       "firmware is %zu bytes: a ROM image is 64, 128, 192 or 256 KiB",
			       *size);
		free(*image);
		*image = NULL;
		*size = 0;
	}
	return rc;
}

static struct segment reset_segment(uint16_t selector, uint32_t base, uint16_t access)
{
	return (struct segment){ .selector = selector, .base = base, .limit = 0xffff, .flags = access };
}

void firmware_load(struct guest_ram *ram, const uint8_t *image, size_t size,
		   uint32_t cpu_signature, struct vcpu_state *cpu)
{
	memcpy(ram->host + GUEST_ROM_ALIAS_END - size, image, size);
	guest_ram_written(ram, GUEST_ROM_ALIAS_END - size, size);
	ram->rom_size = (uint32_t)size;
	firmware_reset_state(cpu_signature, cpu);
}

void firmware_reset_state(uint32_t cpu_signature, struct vcpu_state *cpu)
{
	memset(cpu, 0, sizeof(*cpu));
	cpu->regs[REG_EDX] = cpu_signature;
	cpu->eip = 0xfff0;
	cpu->eflags = EFLAGS_FIXED1;
	for (unsigned s = 0; s < SEG_COUNT; s++)
		cpu->seg[s] = reset_segment(0, 0, RESET_DATA_ACCESS);
	cpu->seg[SEG_CS] = reset_segment(0xf000, 0xffff0000u, RESET_CODE_ACCESS);
	cpu->gdtr = (struct table_reg){ .base = 0, .limit = 0xffff };
	cpu->idtr = (struct table_reg){ .base = 0, .limit = 0xffff };
	cpu->ldtr = reset_segment(0, 0, RESET_LDT_ACCESS);
	cpu->tr = reset_segment(0, 0, RESET_TSS_ACCESS);
	cpu->cr0 = RESET_CR0;
	cpu->dr[6] = RESET_DR6;
	cpu->dr[7] = RESET_DR7;
	cpu->cpl = 0;
}

void firmware_startup_state(uint32_t cpu_signature, uint8_t vector, struct vcpu_state *cpu)
{
	firmware_reset_state(cpu_signature, cpu);
	cpu->eip = 0;
	cpu->seg[SEG_CS] = reset_segment((uint16_t)(vector << 8), (uint32_t)vector << 12,
					 RESET_CODE_ACCESS);
}
