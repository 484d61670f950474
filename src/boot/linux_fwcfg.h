/* A Linux kernel booted through the firmware, the way QEMU's -kernel does
 * it (hw/i386/x86.c, x86_load_linux): btvm writes nothing into guest RAM
 * itself. The kernel's real-mode setup (with its setup header patched as a
 * boot loader patches it), its protected-mode part, the initrd and the
 * command line go to the firmware as fw_cfg items, each with the address
 * it belongs at; QEMU's option ROM linuxboot_dma.bin, which SeaBIOS runs as
 * a boot entry, copies them there by fw_cfg DMA and jumps to the setup
 * code in real mode. So the kernel's own real-mode code runs: its CPU
 * feature checks and messages, its BIOS calls (E820, video), and images
 * that have only a real-mode entry (iPXE's ipxe.lkrn) boot too.
 *
 * Memory as the ROM leaves it (QEMU's layout):
 *   protocol 2.02 and later   setup at 0x10000, command line at 0x20000,
 *                             the kernel at 1 MiB
 *   2.00 and 2.01             setup at 0x90000, command line below 0x9a000
 *                             (the legacy layout: the command line found
 *                             through the 0xA33F magic at 0x20), the
 *                             kernel at 1 MiB
 *   not LOADED_HIGH (zImage)  setup at 0x90000, the kernel at 0x10000
 *   initrd                    page-aligned below the lower of the header's
 *                             initrd_addr_max and the top of RAM less the
 *                             firmware's own tables there */
#ifndef BTVM_BOOT_LINUX_FWCFG_H
#define BTVM_BOOT_LINUX_FWCFG_H

#include <stddef.h>
#include <stdint.h>

/* QEMU's option ROM that boots the kernel from fw_cfg by DMA (package
 * qemu-system-data), and the fw_cfg file name SeaBIOS runs it by. */
#define LINUX_FWCFG_ROM_PATH "/usr/share/qemu/linuxboot_dma.bin"
#define LINUX_FWCFG_ROM_NAME "genroms/linuxboot_dma.bin"
#define LINUX_FWCFG_ROM_MAX 0x10000u
/* type_of_loader: QEMU's ID (0xB), version 0: the kernel was given the
 * same things QEMU would have given it. */
#define LINUX_FWCFG_LOADER_TYPE 0xb0u

/* What the firmware is given. The setup and the command line are the
 * loader's own (malloc'd); the kernel points into the image. */
struct linux_fwcfg {
	uint32_t setup_addr, kernel_addr, cmdline_addr, initrd_addr;
	uint8_t *setup;            /* the setup sectors, their header patched */
	size_t setup_size;
	const uint8_t *kernel;     /* the protected-mode part */
	size_t kernel_size;
	char *cmdline;             /* NUL-terminated; cmdline_size counts the NUL */
	size_t cmdline_size;
	uint16_t protocol;         /* the boot protocol version, for messages */
};

/* Checks image (any bytes: every field is bounds-checked) as a Linux
 * kernel with a setup header (boot protocol 2.00 or later), places its
 * parts, an initrd of initrd_size bytes (0: none) and the command line
 * (NULL: empty) in a guest of ram_size bytes, and patches the header.
 * Returns 0 with *out filled (linux_fwcfg_free frees it), or a negative
 * errno with a one-line message naming path in err. */
int linux_fwcfg_prepare(const uint8_t *image, size_t size, const char *path,
			size_t initrd_size, const char *cmdline, uint64_t ram_size,
			struct linux_fwcfg *out, char *err, size_t err_len);
void linux_fwcfg_free(struct linux_fwcfg *lf);

#endif
