/* The Linux/x86 boot protocol's 32-bit entry for bzImage kernels: the
 * setup header checks, the protected-mode kernel at 1 MiB, the initrd near
 * the top of low RAM, the zero page (boot_params with the e820 map, the
 * command line, the ACPI RSDP address and an RNG seed in setup_data) and
 * the vCPU state at code32_start. */
#ifndef BTVM_BOOT_LINUX_H
#define BTVM_BOOT_LINUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot/bootfile.h"
#include "isa/vcpu.h"
#include "mmu/guest_ram.h"

/* Where the loader puts its own structures; all below the EBDA. */
#define LINUX_GDT_ADDR 0x1000u
#define LINUX_BOOT_PARAMS_ADDR 0x10000u
#define LINUX_SETUP_DATA_ADDR 0x11000u   /* the setup_data list: an RNG seed */
#define LINUX_CMDLINE_ADDR 0x20000u
#define LINUX_CMDLINE_MAX 0x8000u

/* True when image looks like a bzImage (boot sector signature and the
 * "HdrS" setup header magic), whatever its version. */
bool linux_is_bzimage(const uint8_t *image, size_t size);

/* Loads a bzImage and sets up *cpu for its 32-bit entry. image may be any
 * bytes (every field is bounds-checked against size; nothing is written to
 * RAM before every check has passed). Returns 0, or a negative errno with
 * a one-line message in err. */
int linux_load(struct guest_ram *ram, const struct boot_config *cfg, const uint8_t *image,
	       size_t size, struct vcpu_state *cpu, char *err, size_t err_len);

#endif
