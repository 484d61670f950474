/* Linux boot protocol (Documentation/arch/x86/boot.rst), 32-bit entry.
 *
 * btvm has no BIOS and no real-mode setup code runs: the loader does what
 * the setup code would have done (fill the zero page with the memory map)
 * and enters the protected-mode kernel the way the protocol's "32-bit boot
 * protocol" section describes: flat __BOOT_CS (0x10) and __BOOT_DS (0x18)
 * descriptors in a GDT, paging and interrupts off, ESI at boot_params,
 * EBP, EDI and EBX zero.
 *
 * Guest physical memory as the loader leaves it:
 *   0x1000   GDT: null, null, __BOOT_CS, __BOOT_DS
 *   0x10000  boot_params (the zero page)
 *   0x11000  setup_data: the RNG seed, when there is one
 *   0x20000  kernel command line
 *   0x9fc00-0xa0000, 0xe0000-0x100000 reserved (EBDA, ACPI tables, "BIOS")
 *   0x100000 the protected-mode kernel, which decompresses itself to its
 *            preferred address and needs init_size bytes there
 *   initrd   page-aligned at the top of RAM below 880 MiB (so it is in the
 *            32-bit kernel's direct map) and below initrd_addr_max */
#include "boot/linux.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Setup header fields, as offsets in the image's first sector and in
 * boot_params alike. */
enum {
	HDR_SETUP_SECTS = 0x1f1,
	HDR_VID_MODE = 0x1fa,
	HDR_BOOT_FLAG = 0x1fe,
	HDR_JUMP = 0x200,
	HDR_MAGIC = 0x202,
	HDR_VERSION = 0x206,
	HDR_TYPE_OF_LOADER = 0x210,
	HDR_LOADFLAGS = 0x211,
	HDR_CODE32_START = 0x214,
	HDR_RAMDISK_IMAGE = 0x218,
	HDR_RAMDISK_SIZE = 0x21c,
	HDR_CMD_LINE_PTR = 0x228,
	HDR_INITRD_ADDR_MAX = 0x22c,
	HDR_XLOADFLAGS = 0x236,
	HDR_CMDLINE_SIZE = 0x238,
	HDR_SETUP_DATA = 0x250,
	HDR_PREF_ADDRESS = 0x258,
	HDR_INIT_SIZE = 0x260,
};

/* boot_params fields outside the setup header. */
enum {
	BP_ORIG_X = 0x000,           /* screen_info: what a BIOS would report */
	BP_ORIG_Y = 0x001,
	BP_ORIG_VIDEO_MODE = 0x006,
	BP_ORIG_VIDEO_COLS = 0x007,
	BP_ORIG_VIDEO_EGA_BX = 0x00a,
	BP_ORIG_VIDEO_LINES = 0x00e,
	BP_ORIG_VIDEO_IS_VGA = 0x00f,
	BP_ORIG_VIDEO_POINTS = 0x010,
	BP_LFB_WIDTH = 0x012,
	BP_LFB_HEIGHT = 0x014,
	BP_LFB_DEPTH = 0x016,
	BP_LFB_BASE = 0x018,
	BP_LFB_SIZE = 0x01c,         /* in 64 KiB units */
	BP_LFB_LINELENGTH = 0x024,
	BP_RED_SIZE = 0x026,         /* then red_pos, green, blue, reserved */
	BP_LFB_PAGES = 0x032,
	BP_ACPI_RSDP_ADDR = 0x070,
	BP_ALT_MEM_K = 0x1e0,
	BP_E820_ENTRIES = 0x1e8,
	BP_E820_TABLE = 0x2d0,
	BP_SIZE = 0x1000,
};

#define BOOT_FLAG 0xaa55u
#define VIDEO_TYPE_VLFB 0x23u     /* screen_info: VESA linear framebuffer */
#define HDRS_MAGIC 0x53726448u   /* "HdrS" */
#define MIN_VERSION 0x0206u      /* cmdline_size, 32-bit entry documented */
#define LOADED_HIGH 0x01u
#define XLF_KERNEL_64 0x01u
#define LOADER_UNDEFINED 0xffu   /* type_of_loader: no assigned ID */
#define SETUP_DATA_VERSION 0x0209u  /* the header's setup_data pointer */
#define SETUP_RNG_SEED 9u        /* setup_data type: bytes for the entropy pool */
#define SETUP_DATA_HEADER 16u    /* u64 next, u32 type, u32 len */

#define E820_RAM 1u
#define E820_RESERVED 2u
#define E820_ENTRY_SIZE 20u

#define EBDA_START 0x9fc00u
#define LEGACY_START 0xa0000u
#define RESERVED_ROM_START 0xe0000u
#define HIGH_MEM_START 0x100000u
#define PAGE_SIZE 4096u
/* The top of the initrd: inside the non-PAE kernel's 896 MiB direct map
 * less its vmalloc reserve, so the kernel never has to move it. */
#define INITRD_CEILING 0x37000000u

#define BOOT_CS 0x10u
#define BOOT_DS 0x18u
#define FLAT_CODE_FLAGS 0xC09Bu  /* present, DPL 0, code, execute/read, accessed, 4 KiB granular, 32-bit */
#define FLAT_DATA_FLAGS 0xC093u  /* present, DPL 0, data, read/write, accessed, 4 KiB granular, 32-bit */
#define GDT_ENTRIES 4u
#define ENTRY_ESP 0x9000u        /* unspecified by the protocol; kernel sets its own */

bool linux_is_bzimage(const uint8_t *image, size_t size)
{
	return size >= HDR_MAGIC + 4 && boot_get16(image + HDR_BOOT_FLAG) == BOOT_FLAG &&
	       boot_get32(image + HDR_MAGIC) == HDRS_MAGIC;
}

struct linux_image {
	const uint8_t *setup;     /* the setup header's sector */
	size_t header_end;        /* one past the header's last byte */
	const uint8_t *kernel;    /* protected-mode part */
	size_t kernel_size;
	uint32_t code32_start;
	uint64_t decompress_end;  /* where the kernel's working area ends */
	uint32_t initrd_max;
	uint32_t cmdline_max;
	bool setup_data;          /* the header has the setup_data pointer */
};

/* Every field is read only once the bytes under it are known to be in the
 * file: the version needs the first HDR_VERSION + 2 bytes, every later
 * field lies inside the header, whose end (the jump's target) is checked
 * against the file size and against the fields the version promises. */
static int parse_header(const uint8_t *image, size_t size, struct linux_image *li,
			const char *path, char *err, size_t err_len)
{
	if (size < HDR_VERSION + 2 || !linux_is_bzimage(image, size))
		return boot_fail(err, err_len, path, -ENOEXEC,
				 "truncated or corrupt setup header (%zu bytes)", size);
	uint16_t version = boot_get16(image + HDR_VERSION);
	if (version < MIN_VERSION)
		return boot_fail(err, err_len, path, -ENOEXEC,
				 "Linux boot protocol %u.%02u is too old (btvm needs 2.06 or later)",
				 version >> 8, version & 0xff);
	li->header_end = HDR_MAGIC + image[HDR_JUMP + 1];
	if (li->header_end > size || li->header_end < HDR_CMDLINE_SIZE + 4 ||
	    (version >= 0x020a && li->header_end < HDR_INIT_SIZE + 4))
		return boot_fail(err, err_len, path, -ENOEXEC, "truncated or corrupt setup header");
	if (!(image[HDR_LOADFLAGS] & LOADED_HIGH))
		return boot_fail(err, err_len, path, -ENOEXEC,
				 "zImage kernels (loaded below 1 MiB) are not supported");
	if (version >= 0x020c && image[HDR_XLOADFLAGS] & XLF_KERNEL_64)
		return boot_fail(err, err_len, path, -ENOEXEC,
				 "a 64-bit kernel; btvm runs 32-bit guests (its CPU has no long mode)");
	unsigned setup_sects = image[HDR_SETUP_SECTS] ? image[HDR_SETUP_SECTS] : 4;
	size_t kernel_offset = ((size_t)setup_sects + 1) * 512;
	if (kernel_offset >= size)
		return boot_fail(err, err_len, path, -ENOEXEC,
				 "truncated image: %u setup sectors but only %zu bytes", setup_sects, size);
	li->setup = image;
	li->kernel = image + kernel_offset;
	li->kernel_size = size - kernel_offset;
	li->code32_start = boot_get32(image + HDR_CODE32_START);
	li->cmdline_max = boot_get32(image + HDR_CMDLINE_SIZE);
	li->initrd_max = boot_get32(image + HDR_INITRD_ADDR_MAX);
	li->setup_data = version >= SETUP_DATA_VERSION && li->header_end >= HDR_SETUP_DATA + 8;
	uint64_t pref = HIGH_MEM_START;
	uint64_t init_size = li->kernel_size;
	if (version >= 0x020a) {
		pref = (uint64_t)boot_get32(image + HDR_PREF_ADDRESS) |
		       (uint64_t)boot_get32(image + HDR_PREF_ADDRESS + 4) << 32;
		init_size = boot_get32(image + HDR_INIT_SIZE);
	}
	/* A 32-bit kernel cannot run at 4 GiB or above; refusing it here
	 * also keeps pref + init_size from wrapping. */
	if (pref > UINT32_MAX)
		return boot_fail(err, err_len, path, -ENOEXEC,
				 "pref_address 0x%" PRIx64 " is beyond 4 GiB", pref);
	uint64_t loaded_end = (uint64_t)li->code32_start + li->kernel_size;
	li->decompress_end = pref + init_size > loaded_end ? pref + init_size : loaded_end;
	return 0;
}

static int check_fit(const struct linux_image *li, const struct guest_ram *ram,
		     const char *path, char *err, size_t err_len)
{
	if (li->code32_start != HIGH_MEM_START)
		return boot_fail(err, err_len, path, -ENOEXEC,
				 "code32_start 0x%" PRIx32 " is not 1 MiB; hooked entry points are not supported",
				 li->code32_start);
	if (li->decompress_end > ram->low_size)
		return boot_fail(err, err_len, path, -ENOMEM,
				 "the kernel needs %" PRIu64 " MiB of RAM to decompress itself (%" PRIu64
				 " MiB given)",
				 (li->decompress_end + (1u << 20) - 1) >> 20, ram->low_size >> 20);
	return 0;
}

/* Picks the initrd's place: as high as allowed, clear of the kernel. */
static int place_initrd(const struct linux_image *li, const struct guest_ram *ram, size_t size,
			const char *path, uint32_t *start, char *err, size_t err_len)
{
	uint64_t top = ram->low_size;   /* the protocol's addresses are 32-bit */
	if (top > INITRD_CEILING)
		top = INITRD_CEILING;
	if (li->initrd_max && top > (uint64_t)li->initrd_max + 1)
		top = (uint64_t)li->initrd_max + 1;
	uint64_t floor = (li->decompress_end + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1);
	if (size > top || ((top - size) & ~(uint64_t)(PAGE_SIZE - 1)) < floor)
		return boot_fail(err, err_len, path, -ENOMEM,
				 "initrd of %zu bytes does not fit in guest RAM beside the kernel (%" PRIu64
				 " MiB of RAM; try a larger -m)",
				 size, ram->low_size >> 20);
	*start = (uint32_t)((top - size) & ~(uint64_t)(PAGE_SIZE - 1));
	return 0;
}

static void put_e820(uint8_t *bp, unsigned *n, uint64_t start, uint64_t end, uint32_t type)
{
	uint8_t *e = bp + BP_E820_TABLE + *n * E820_ENTRY_SIZE;
	boot_put64(e, start);
	boot_put64(e + 8, end - start);
	boot_put32(e + 16, type);
	(*n)++;
}

static void write_boot_params(const struct linux_image *li, struct guest_ram *ram,
			      const struct boot_config *cfg, uint32_t initrd_start, size_t initrd_size)
{
	uint8_t *bp = ram->host + LINUX_BOOT_PARAMS_ADDR;
	memset(bp, 0, BP_SIZE);
	memcpy(bp + HDR_SETUP_SECTS, li->setup + HDR_SETUP_SECTS, li->header_end - HDR_SETUP_SECTS);
	boot_put16(bp + HDR_VID_MODE, 0xffff);   /* "normal": no mode change asked */
	bp[HDR_TYPE_OF_LOADER] = LOADER_UNDEFINED;
	boot_put32(bp + HDR_CMD_LINE_PTR, LINUX_CMDLINE_ADDR);
	boot_put32(bp + HDR_RAMDISK_IMAGE, initrd_size ? initrd_start : 0);
	boot_put32(bp + HDR_RAMDISK_SIZE, (uint32_t)initrd_size);
	boot_put64(bp + BP_ACPI_RSDP_ADDR, cfg->acpi_rsdp);
	boot_put32(bp + BP_ALT_MEM_K, (uint32_t)((ram->low_size - HIGH_MEM_START) >> 10));
	if (cfg->fb) {
		/* What setup stores after a VBE mode set with a linear
		 * framebuffer (VIDEO_TYPE_VLFB): vesafb and fbcon take it. */
		const struct boot_framebuffer *fb = cfg->fb;
		static const uint8_t xrgb[8] = { 8, 16, 8, 8, 8, 0, 8, 24 };
		bp[BP_ORIG_VIDEO_IS_VGA] = VIDEO_TYPE_VLFB;
		boot_put16(bp + BP_LFB_WIDTH, fb->width);
		boot_put16(bp + BP_LFB_HEIGHT, fb->height);
		boot_put16(bp + BP_LFB_DEPTH, 32);
		boot_put32(bp + BP_LFB_BASE, fb->base);
		boot_put32(bp + BP_LFB_SIZE, fb->size >> 16);
		boot_put16(bp + BP_LFB_LINELENGTH, fb->line_length);
		memcpy(bp + BP_RED_SIZE, xrgb, sizeof(xrgb));
		boot_put16(bp + BP_LFB_PAGES, (uint16_t)(fb->size / ((uint32_t)fb->line_length * fb->height)));
	} else if (cfg->vga_text) {
		/* What the kernel's real-mode setup stores after asking a VGA
		 * BIOS: mode 3, 80x25, 16-line characters, colour, 256 KiB
		 * (INT 10h AH=12h BL=10h answers BX=0003h), cursor at the top
		 * left of an empty screen. vgacon takes the console from it. */
		bp[BP_ORIG_X] = 0;
		bp[BP_ORIG_Y] = 0;
		bp[BP_ORIG_VIDEO_MODE] = 3;
		bp[BP_ORIG_VIDEO_COLS] = 80;
		boot_put16(bp + BP_ORIG_VIDEO_EGA_BX, 0x0003);
		bp[BP_ORIG_VIDEO_LINES] = 25;
		bp[BP_ORIG_VIDEO_IS_VGA] = 1;
		boot_put16(bp + BP_ORIG_VIDEO_POINTS, 16);
	}

	unsigned n = 0;
	put_e820(bp, &n, 0, EBDA_START, E820_RAM);
	put_e820(bp, &n, EBDA_START, LEGACY_START, E820_RESERVED);
	put_e820(bp, &n, RESERVED_ROM_START, HIGH_MEM_START, E820_RESERVED);
	put_e820(bp, &n, HIGH_MEM_START, ram->low_size, E820_RAM);
	/* RAM from 4 GiB up, which a kernel without PAE leaves alone. */
	if (guest_ram_high_size(ram))
		put_e820(bp, &n, GUEST_RAM_HIGH_BASE, GUEST_RAM_HIGH_BASE + guest_ram_high_size(ram),
			 E820_RAM);
	bp[BP_E820_ENTRIES] = (uint8_t)n;

	const char *cmdline = cfg->cmdline ? cfg->cmdline : "";
	size_t len = strlen(cmdline);
	memcpy(ram->host + LINUX_CMDLINE_ADDR, cmdline, len + 1);

	/* The seed as one setup_data entry: the kernel mixes it into its
	 * entropy pool before anything asks for random bytes, and credits it
	 * when it trusts the boot loader (Debian's does), so it need not
	 * wait for timer jitter to seed its generator (systemd-random-seed
	 * waited about a second for that in a Debian boot). */
	if (!li->setup_data)
		return;
	boot_put64(bp + HDR_SETUP_DATA, 0);
	size_t seed_len = cfg->rng_seed_len;
	if (!cfg->rng_seed || !seed_len)
		return;
	assert(seed_len <= BOOT_RNG_SEED_MAX);
	uint8_t *sd = ram->host + LINUX_SETUP_DATA_ADDR;
	boot_put64(sd, 0);
	boot_put32(sd + 8, SETUP_RNG_SEED);
	boot_put32(sd + 12, (uint32_t)seed_len);
	memcpy(sd + SETUP_DATA_HEADER, cfg->rng_seed, seed_len);
	boot_put64(bp + HDR_SETUP_DATA, LINUX_SETUP_DATA_ADDR);
}

static void write_gdt(struct guest_ram *ram)
{
	static const uint64_t gdt[GDT_ENTRIES] = {
		0, 0,
		0x00cf9b000000ffffull,   /* __BOOT_CS: base 0, limit 4 GiB, code */
		0x00cf93000000ffffull,   /* __BOOT_DS: base 0, limit 4 GiB, data */
	};
	for (unsigned i = 0; i < GDT_ENTRIES; i++)
		boot_put64(ram->host + LINUX_GDT_ADDR + 8 * i, gdt[i]);
}

static struct segment flat_segment(uint16_t selector, uint16_t flags)
{
	return (struct segment){ .selector = selector, .base = 0, .limit = 0xFFFFFFFFu,
				 .flags = flags };
}

static void set_entry_state(const struct linux_image *li, struct vcpu_state *cpu)
{
	memset(cpu, 0, sizeof(*cpu));
	cpu->regs[REG_ESI] = LINUX_BOOT_PARAMS_ADDR;
	cpu->regs[REG_ESP] = ENTRY_ESP;
	cpu->eip = li->code32_start;
	cpu->eflags = EFLAGS_FIXED1;
	cpu->cr0 = CR0_PE | CR0_ET;
	cpu->gdtr.base = LINUX_GDT_ADDR;
	cpu->gdtr.limit = GDT_ENTRIES * 8 - 1;
	cpu->seg[SEG_CS] = flat_segment(BOOT_CS, FLAT_CODE_FLAGS);
	for (unsigned s = 0; s < SEG_COUNT; s++)
		if (s != SEG_CS)
			cpu->seg[s] = flat_segment(BOOT_DS, FLAT_DATA_FLAGS);
	cpu->cpl = 0;
}

int linux_load(struct guest_ram *ram, const struct boot_config *cfg, const uint8_t *image,
	       size_t size, struct vcpu_state *cpu, char *err, size_t err_len)
{
	const char *path = cfg && cfg->kernel_path ? cfg->kernel_path : "(no kernel)";
	if (err && err_len)
		err[0] = 0;
	if (!cfg || !ram || !ram->host || !cpu || !image)
		return boot_fail(err, err_len, path, -EINVAL, "no kernel or no guest RAM to load it into");
	/* The loader's own structures sit below 1 MiB and the kernel at 1 MiB. */
	if (ram->size < (uint64_t)GUEST_RAM_MIN_MIB << 20)
		return boot_fail(err, err_len, path, -EINVAL, "guest RAM smaller than %u MiB",
				 GUEST_RAM_MIN_MIB);
	struct linux_image li = { 0 };
	int rc = parse_header(image, size, &li, path, err, err_len);
	if (rc)
		return rc;
	rc = check_fit(&li, ram, path, err, err_len);
	if (rc)
		return rc;
	const char *cmdline = cfg->cmdline ? cfg->cmdline : "";
	size_t cmdline_max = li.cmdline_max < LINUX_CMDLINE_MAX ? li.cmdline_max : LINUX_CMDLINE_MAX - 1;
	if (strlen(cmdline) > cmdline_max)
		return boot_fail(err, err_len, path, -E2BIG,
				 "command line too long (%zu bytes, this kernel takes %zu)",
				 strlen(cmdline), cmdline_max);

	const uint8_t *initrd = NULL;
	uint8_t *owned = NULL;
	size_t initrd_size = 0;
	uint32_t initrd_start = 0;
	const char *initrd_name = cfg->initrd_path ? cfg->initrd_path : "(initrd)";
	if (cfg->initrd_data) {
		if (cfg->initrd_size == 0)
			return boot_fail(err, err_len, initrd_name, -ENOEXEC, "initrd is an empty file");
		initrd = cfg->initrd_data;
		initrd_size = cfg->initrd_size;
	} else if (cfg->initrd_path) {
		rc = boot_read_file(cfg->initrd_path, "initrd", ram->size, &owned, &initrd_size, err,
				    err_len);
		if (rc)
			return rc;
		initrd = owned;
	}
	if (initrd) {
		rc = place_initrd(&li, ram, initrd_size, initrd_name, &initrd_start, err, err_len);
		if (rc) {
			free(owned);
			return rc;
		}
	}
	/* Nothing is written to RAM before every check has passed. */
	memcpy(ram->host + li.code32_start, li.kernel, li.kernel_size);
	if (initrd) {
		memcpy(ram->host + initrd_start, initrd, initrd_size);
		free(owned);
	}
	write_gdt(ram);
	write_boot_params(&li, ram, cfg, initrd_start, initrd_size);
	set_entry_state(&li, cpu);
	return 0;
}
