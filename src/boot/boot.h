/* Loading the guest: the firmware ROM when the configuration has one,
 * else the loader the kernel image's format picks (a bzImage's setup
 * header, else a Multiboot ELF). */
#ifndef BTVM_BOOT_BOOT_H
#define BTVM_BOOT_BOOT_H

#include <stddef.h>

#include "boot/bootfile.h"
#include "isa/vcpu.h"
#include "mmu/guest_ram.h"

enum boot_kind { BOOT_MULTIBOOT, BOOT_LINUX, BOOT_FIRMWARE };

/* Returns 0 with *kind set, or a negative errno with a one-line message. */
int boot_load(struct guest_ram *ram, const struct boot_config *cfg, struct vcpu_state *cpu,
	      enum boot_kind *kind, char *err, size_t err_len);

#endif
