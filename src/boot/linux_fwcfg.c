/* A Linux kernel for the firmware to boot (linux_fwcfg.h): the setup
 * header checked and patched as QEMU's x86_load_linux does, the parts
 * placed, nothing written to guest RAM. Field offsets are the boot
 * protocol's (Documentation/arch/x86/boot.rst). */
#include "boot/linux_fwcfg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "boot/bootfile.h"

enum {
	HDR_OLD_CL_MAGIC = 0x020,    /* protocol < 2.02: the command line's magic... */
	HDR_OLD_CL_OFFSET = 0x022,   /* ...and its offset from the setup's segment */
	HDR_SETUP_SECTS = 0x1f1,
	HDR_VID_MODE = 0x1fa,
	HDR_BOOT_FLAG = 0x1fe,
	HDR_JUMP = 0x200,
	HDR_MAGIC = 0x202,
	HDR_VERSION = 0x206,
	HDR_TYPE_OF_LOADER = 0x210,
	HDR_LOADFLAGS = 0x211,
	HDR_RAMDISK_IMAGE = 0x218,
	HDR_RAMDISK_SIZE = 0x21c,
	HDR_HEAP_END_PTR = 0x224,
	HDR_CMD_LINE_PTR = 0x228,
	HDR_INITRD_ADDR_MAX = 0x22c,
	HDR_XLOADFLAGS = 0x236,
	HDR_CMDLINE_SIZE = 0x238,
	HDR_PREF_ADDRESS = 0x258,
	HDR_INIT_SIZE = 0x260,
};

#define BOOT_FLAG 0xaa55u
#define HDRS_MAGIC 0x53726448u        /* "HdrS" */
#define OLD_CL_MAGIC 0xa33fu
#define LOADED_HIGH 0x01u
#define CAN_USE_HEAP 0x80u
#define XLF_CAN_BE_LOADED_ABOVE_4G 0x02u
#define SECTOR 512u

/* QEMU's addresses (x86_load_linux). */
#define REAL_ADDR_MODERN 0x10000u
#define CMDLINE_ADDR_MODERN 0x20000u
#define REAL_ADDR_LEGACY 0x90000u
#define CMDLINE_END_LEGACY 0x9a000u
#define PROT_ADDR_HIGH 0x100000u
#define PROT_ADDR_LOW 0x10000u
/* Before protocol 2.03 the header has no initrd_addr_max; this is what
 * the protocol says such kernels take. */
#define INITRD_MAX_OLD 0x37ffffffu
/* The command line before protocol 2.06 (no cmdline_size field). */
#define CMDLINE_MAX_OLD 255u
/* SeaBIOS keeps its tables (ACPI, SMBIOS, its own "high" allocations) in
 * the top of RAM and reserves them in the E820 map; the initrd stays
 * below that much (QEMU keeps 160 KiB clear; SeaBIOS's high zone is at
 * most 256 KiB). linuxboot_dma.bin moves an initrd that still reaches
 * into reserved memory lower, by the E801 memory size. */
#define FIRMWARE_HIGH_RESERVE 0x40000u
#define PAGE_SIZE 4096u

/* vga=normal|ext|ask|N on the command line: the mode the setup code
 * switches to, as QEMU passes it in vid_mode. Returns false when the
 * word is not one (the header is left alone, the kernel parses it). */
static bool parse_vga(const char *cmdline, uint16_t *mode)
{
	const char *v = NULL;
	for (const char *p = cmdline; (p = strstr(p, "vga=")); p += 4)
		if (p == cmdline || p[-1] == ' ')
			v = p + 4;   /* the last one wins, as in the kernel */
	if (!v)
		return false;
	size_t n = strcspn(v, " ");
	if (n == 6 && !strncmp(v, "normal", 6))
		*mode = 0xffff;
	else if (n == 3 && !strncmp(v, "ext", 3))
		*mode = 0xfffe;
	else if (n == 3 && !strncmp(v, "ask", 3))
		*mode = 0xfffd;
	else {
		char *end;
		unsigned long m = strtoul(v, &end, 0);
		if (end == v || (size_t)(end - v) != n || m > 0xffff)
			return false;
		*mode = (uint16_t)m;
	}
	return true;
}

/* The header must reach the last field this protocol version has that
 * the loader reads or writes. */
static size_t header_needs(uint16_t version)
{
	if (version >= 0x020a)
		return HDR_INIT_SIZE + 4;
	if (version >= 0x0206)
		return HDR_CMDLINE_SIZE + 4;
	if (version >= 0x0203)
		return HDR_INITRD_ADDR_MAX + 4;
	if (version >= 0x0202)
		return HDR_CMD_LINE_PTR + 4;
	if (version >= 0x0201)
		return HDR_HEAP_END_PTR + 2;
	return HDR_RAMDISK_SIZE + 4;
}

int linux_fwcfg_prepare(const uint8_t *image, size_t size, const char *path,
			size_t initrd_size, const char *cmdline, uint64_t ram_size,
			struct linux_fwcfg *out, char *err, size_t err_len)
{
	memset(out, 0, sizeof(*out));
	if (!cmdline)
		cmdline = "";
	if (size < HDR_MAGIC + 4 || boot_get16(image + HDR_BOOT_FLAG) != BOOT_FLAG ||
	    boot_get32(image + HDR_MAGIC) != HDRS_MAGIC)
		return boot_fail(err, err_len, path, -ENOEXEC,
				 "not a Linux kernel image (no \"HdrS\" setup header): --firmware bios "
				 "boots bzImages; a Multiboot kernel boots with --firmware direct");
	if (size < HDR_VERSION + 2)
		return boot_fail(err, err_len, path, -ENOEXEC,
				 "truncated setup header (%zu bytes)", size);
	uint16_t version = boot_get16(image + HDR_VERSION);
	out->protocol = version;
	if (version < 0x0200)
		return boot_fail(err, err_len, path, -ENOEXEC,
				 "Linux boot protocol %u.%02u is too old (2.00 or later needed)",
				 version >> 8, version & 0xff);
	unsigned sects = image[HDR_SETUP_SECTS] ? image[HDR_SETUP_SECTS] : 4;
	size_t setup_size = ((size_t)sects + 1) * SECTOR;
	size_t header_end = HDR_MAGIC + (size_t)image[HDR_JUMP + 1];
	if (header_end < header_needs(version) || header_end > setup_size || setup_size > size)
		return boot_fail(err, err_len, path, -ENOEXEC,
				 "truncated or corrupt setup header (protocol %u.%02u, %zu bytes)",
				 version >> 8, version & 0xff, size);
	if (setup_size == size)
		return boot_fail(err, err_len, path, -ENOEXEC,
				 "no kernel after its %u setup sectors", sects);

	bool high = image[HDR_LOADFLAGS] & LOADED_HIGH;
	size_t cmdline_max = version >= 0x0206 ? boot_get32(image + HDR_CMDLINE_SIZE)
					       : CMDLINE_MAX_OLD;
	size_t cmdline_len = strlen(cmdline);
	if (cmdline_len > cmdline_max)
		return boot_fail(err, err_len, path, -E2BIG,
				 "the command line is %zu bytes; this kernel takes at most %zu",
				 cmdline_len, cmdline_max);
	if (high && version >= 0x0202) {
		out->setup_addr = REAL_ADDR_MODERN;
		out->cmdline_addr = CMDLINE_ADDR_MODERN;
	} else {
		/* The legacy layout: everything in the 0x90000 segment,
		 * the command line at its top (16-byte aligned, as QEMU). */
		out->setup_addr = REAL_ADDR_LEGACY;
		out->cmdline_addr = CMDLINE_END_LEGACY - (uint32_t)((cmdline_len + 16) & ~(size_t)15);
	}
	if (out->setup_addr + setup_size > out->cmdline_addr)
		return boot_fail(err, err_len, path, -ENOEXEC,
				 "%u setup sectors do not fit below the command line at 0x%" PRIx32,
				 sects, out->cmdline_addr);
	out->kernel_addr = high ? PROT_ADDR_HIGH : PROT_ADDR_LOW;
	out->kernel = image + setup_size;
	out->kernel_size = size - setup_size;
	if (!high && out->kernel_addr + out->kernel_size > REAL_ADDR_LEGACY)
		return boot_fail(err, err_len, path, -ENOEXEC,
				 "a zImage (loaded below 1 MiB) of %zu bytes does not fit below 0x90000",
				 out->kernel_size);

	/* Where the kernel's working area ends: it decompresses itself at
	 * its preferred address into init_size bytes (2.10 on). */
	uint64_t kernel_end = (uint64_t)out->kernel_addr + out->kernel_size;
	if (high && version >= 0x020a) {
		uint64_t pref = (uint64_t)boot_get32(image + HDR_PREF_ADDRESS) |
				(uint64_t)boot_get32(image + HDR_PREF_ADDRESS + 4) << 32;
		uint64_t init_end = pref + boot_get32(image + HDR_INIT_SIZE);
		if (pref <= UINT32_MAX && init_end > kernel_end)
			kernel_end = init_end;
	}
	uint64_t usable = ram_size > FIRMWARE_HIGH_RESERVE ? ram_size - FIRMWARE_HIGH_RESERVE : 0;
	if (kernel_end > usable)
		return boot_fail(err, err_len, path, -ENOMEM,
				 "the kernel needs %" PRIu64 " MiB of RAM to load and decompress itself (%"
				 PRIu64 " MiB given)",
				 (kernel_end + FIRMWARE_HIGH_RESERVE + (1u << 20) - 1) >> 20, ram_size >> 20);

	if (initrd_size) {
		uint64_t initrd_max = INITRD_MAX_OLD;
		if (version >= 0x020c &&
		    boot_get16(image + HDR_XLOADFLAGS) & XLF_CAN_BE_LOADED_ABOVE_4G)
			initrd_max = UINT32_MAX;
		else if (version >= 0x0203)
			initrd_max = boot_get32(image + HDR_INITRD_ADDR_MAX);
		if (initrd_max > usable - 1)
			initrd_max = usable - 1;
		uint64_t floor = (kernel_end + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1);
		if (initrd_size > initrd_max + 1 ||
		    ((initrd_max + 1 - initrd_size) & ~(uint64_t)(PAGE_SIZE - 1)) < floor)
			return boot_fail(err, err_len, path, -ENOMEM,
					 "an initrd of %zu bytes does not fit in guest RAM beside the "
					 "kernel (%" PRIu64 " MiB of RAM; try a larger -m)",
					 initrd_size, ram_size >> 20);
		out->initrd_addr = (uint32_t)((initrd_max + 1 - initrd_size) & ~(uint64_t)(PAGE_SIZE - 1));
	}

	out->setup = malloc(setup_size);
	out->cmdline = strdup(cmdline);
	if (!out->setup || !out->cmdline) {
		linux_fwcfg_free(out);
		return boot_fail(err, err_len, path, -ENOMEM, "out of memory");
	}
	out->setup_size = setup_size;
	out->cmdline_size = cmdline_len + 1;
	uint8_t *hdr = out->setup;
	memcpy(hdr, image, setup_size);
	if (version >= 0x0202) {
		boot_put32(hdr + HDR_CMD_LINE_PTR, out->cmdline_addr);
	} else {
		boot_put16(hdr + HDR_OLD_CL_MAGIC, OLD_CL_MAGIC);
		boot_put16(hdr + HDR_OLD_CL_OFFSET, (uint16_t)(out->cmdline_addr - out->setup_addr));
	}
	uint16_t vid_mode;
	if (parse_vga(cmdline, &vid_mode))
		boot_put16(hdr + HDR_VID_MODE, vid_mode);
	hdr[HDR_TYPE_OF_LOADER] = LINUX_FWCFG_LOADER_TYPE;
	if (version >= 0x0201) {
		/* The setup code's heap and stack: up to the command line,
		 * less the 512 bytes the ROM's stack takes below it. */
		hdr[HDR_LOADFLAGS] |= CAN_USE_HEAP;
		boot_put16(hdr + HDR_HEAP_END_PTR,
			   (uint16_t)(out->cmdline_addr - out->setup_addr - 0x200));
	}
	boot_put32(hdr + HDR_RAMDISK_IMAGE, out->initrd_addr);
	boot_put32(hdr + HDR_RAMDISK_SIZE, (uint32_t)initrd_size);
	return 0;
}

void linux_fwcfg_free(struct linux_fwcfg *lf)
{
	free(lf->setup);
	free(lf->cmdline);
	memset(lf, 0, sizeof(*lf));
}
