/* Fuzzing harness for the Multiboot v1 ELF loader (src/boot/multiboot.c,
 * through libelf): the input is the kernel image, loaded from memory as
 * boot_load does. Guest RAM is an exact-size heap block, so a sanitizer
 * sees any write that leaves it. A refusal must be one clean line; a load
 * must enter inside RAM with the Multiboot registers. */
#include "fuzz.h"

#include "boot/multiboot.h"
#include "isa/vcpu.h"
#include "mmu/guest_ram.h"

#define RAM_BYTES (8u << 20)
#define KERNEL_PATH "fuzz-multiboot"
#define INFO_ADDR 0x9000u

static struct guest_ram *fuzz_ram(void)
{
	static struct guest_ram ram;
	if (!ram.host) {
		ram.memfd = -1;
		ram.size = RAM_BYTES;
		ram.low_size = RAM_BYTES;
		ram.host = malloc(RAM_BYTES);
		fuzz_require(ram.host != NULL, "no memory for guest RAM");
	}
	return &ram;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct guest_ram *ram = fuzz_ram();
	struct boot_config cfg = { .kernel_path = KERNEL_PATH, .cmdline = "fuzz" };
	struct vcpu_state cpu;
	char err[256];
	int rc = multiboot_load_image(ram, &cfg, data, size, &cpu, err, sizeof(err));
	if (rc != 0) {
		fuzz_require_clean_error(rc, err, KERNEL_PATH);
		return 0;
	}
	fuzz_require(cpu.eip >= 0x1000 && cpu.eip < RAM_BYTES, "entry point outside RAM");
	fuzz_require(cpu.regs[REG_EAX] == MULTIBOOT_BOOTLOADER_MAGIC, "EAX is not the magic");
	fuzz_require(cpu.regs[REG_EBX] == INFO_ADDR, "EBX is not the information structure");
	return 0;
}
