/* Multiboot v1 loading of ELF kernels: header checks, segment loading with
 * libelf, the information structure, and the machine state the
 * specification requires at entry. */
#ifndef BTVM_BOOT_MULTIBOOT_H
#define BTVM_BOOT_MULTIBOOT_H

#include <stddef.h>
#include <stdint.h>

#include "boot/bootfile.h"
#include "isa/vcpu.h"
#include "mmu/guest_ram.h"

#define MULTIBOOT_HEADER_MAGIC 0x1BADB002u
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002u

/* Loads the kernel and sets up *cpu for entry. Returns 0, or a negative
 * errno with a one-line message naming the file and the problem in err. */
int multiboot_load(struct guest_ram *ram, const struct boot_config *cfg,
		   struct vcpu_state *cpu, char *err, size_t err_len);

/* The same from an image already in memory (cfg->kernel_path only names
 * it in messages). image may be any bytes: every field is checked against
 * size before it is read, and nothing is written to RAM before every check
 * has passed. The image is read, never written. */
int multiboot_load_image(struct guest_ram *ram, const struct boot_config *cfg,
			 const uint8_t *image, size_t size, struct vcpu_state *cpu, char *err,
			 size_t err_len);

#endif
