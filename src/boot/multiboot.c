/* Multiboot v1 loader for ELF32 kernels: the Multiboot header checks, the
 * PT_LOAD segments placed at their physical addresses (read with libelf),
 * the initrd as module 0, the boot information structure in a fixed low
 * area, and the vCPU state the specification (0.6.96, section 3.2) gives
 * the kernel at entry: 32-bit flat protected mode, paging and interrupts
 * off.
 *
 * Deviations a reader of the specification should know about:
 * - Flag bit 2 (video mode) is accepted but no mode is set and no video
 *   information is passed; the kernel sees info flags 11 and 12 clear,
 *   which the specification says it must check before use.
 * - Flag bit 16 (address fields, the "a.out kludge") is ignored for ELF
 *   files, which are loaded from their program headers; non-ELF kernels,
 *   the only ones that need those fields, are refused.
 * - The module string is the initrd's file name without its directory.
 * - The command line is the kernel's path, a space and --append's text
 *   (the path alone without one), as GRUB and QEMU pass it: kernels that
 *   parse it take the first word for their own name.
 * - The entry point is a virtual address translated through the segment
 *   whose virtual range holds it (GRUB 2's reading); one that no virtual
 *   range holds but a loaded segment's physical range does is taken as
 *   physical (GRUB Legacy's and QEMU's: a kernel linked high and loaded
 *   low, ENTRY naming the physical address of its start).
 *
 * The image is parsed in memory (libelf's elf_memory), so a file is read
 * once; every field the loader reads is checked against the image's size
 * first, and the ELF and program headers are copied out of the image so
 * that a misaligned table is never read through a misaligned pointer. */
#define _POSIX_C_SOURCE 200809L
#include "boot/multiboot.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MB_SEARCH_LEN 8192u
#define MB_HEADER_LEN 12u

/* Header flags. Bits 0-15 are requirements a loader must refuse when it
 * does not understand them; bits 16-31 are optional. */
#define MB_FLAG_PAGE_ALIGN (1u << 0)
#define MB_FLAG_MEMORY_INFO (1u << 1)
#define MB_FLAG_VIDEO_MODE (1u << 2)
#define MB_FLAG_ADDRESS (1u << 16)
#define MB_REQUIRED_MASK 0xFFFFu
#define MB_SUPPORTED (MB_FLAG_PAGE_ALIGN | MB_FLAG_MEMORY_INFO | MB_FLAG_VIDEO_MODE)

/* Information structure flags. */
#define MBI_FLAG_MEM (1u << 0)
#define MBI_FLAG_CMDLINE (1u << 2)
#define MBI_FLAG_MODS (1u << 3)
#define MBI_FLAG_MMAP (1u << 6)
#define MBI_FLAG_LOADER_NAME (1u << 9)

/* Field offsets in the information structure (specification 3.3). */
enum {
	MBI_FLAGS = 0,
	MBI_MEM_LOWER = 4,
	MBI_MEM_UPPER = 8,
	MBI_BOOT_DEVICE = 12,
	MBI_CMDLINE = 16,
	MBI_MODS_COUNT = 20,
	MBI_MODS_ADDR = 24,
	MBI_SYMS = 28,
	MBI_MMAP_LENGTH = 44,
	MBI_MMAP_ADDR = 48,
	MBI_DRIVES_LENGTH = 52,
	MBI_DRIVES_ADDR = 56,
	MBI_CONFIG_TABLE = 60,
	MBI_BOOT_LOADER_NAME = 64,
	MBI_APM_TABLE = 68,
	MBI_SIZE = 116,  /* through the framebuffer fields */
};

#define MMAP_ENTRY_SIZE 24u  /* the size field (4) and the 20 bytes it counts */
#define MMAP_ENTRIES 5u   /* at most: the fifth is RAM from 4 GiB, when there is some */
#define MODULE_SIZE 16u      /* mod_start, mod_end, string, reserved */

#define MMAP_AVAILABLE 1u
#define MMAP_RESERVED 2u

/* The PC's low memory: the first page holds the real-mode IVT and the BIOS
 * data area, the EBDA sits just under 640 KiB, and 640 KiB-1 MiB is VGA
 * memory and BIOS ROM. Kernels may not load into any of these. */
#define LOW_RESERVED_END 0x1000u
#define EBDA_START 0x9FC00u
#define BIOS_ROM_START 0xE0000u  /* ACPI tables and the BIOS area */
#define HIGH_MEM_START 0x100000u

/* The loader's own structures live in a fixed 8 KiB area of usable low
 * memory, so their addresses never depend on where the kernel is:
 *   0x9000 information structure (116 bytes)
 *   0x9100 memory map (4 entries of 24 bytes)
 *   0x9200 module list (one entry)
 *   0x9280 boot loader name
 *   0x9300 module string (a file name: at most NAME_MAX bytes)
 *   0x9400 command line, up to the end of the area at 0xB000 */
#define INFO_AREA_START 0x9000u
#define INFO_ADDR 0x9000u
#define MMAP_ADDR 0x9100u
#define MODS_ADDR 0x9200u
#define LOADER_NAME_ADDR 0x9280u
#define MODSTR_ADDR 0x9300u
#define CMDLINE_ADDR 0x9400u
#define INFO_AREA_END 0xB000u
#define MODSTR_MAX (CMDLINE_ADDR - MODSTR_ADDR)
#define CMDLINE_MAX (INFO_AREA_END - CMDLINE_ADDR)

#define LOADER_NAME "btvm"

_Static_assert(INFO_ADDR + MBI_SIZE <= MMAP_ADDR, "info structure overlaps the memory map");
_Static_assert(MMAP_ADDR + MMAP_ENTRIES * MMAP_ENTRY_SIZE <= MODS_ADDR, "memory map too big");
_Static_assert(MODS_ADDR + MODULE_SIZE <= LOADER_NAME_ADDR, "module list too big");
_Static_assert(LOADER_NAME_ADDR + sizeof(LOADER_NAME) <= MODSTR_ADDR, "loader name too big");
_Static_assert(INFO_AREA_END <= (uint64_t)GUEST_RAM_MIN_MIB << 20,
	       "info area beyond the smallest RAM");
_Static_assert(INFO_AREA_END <= EBDA_START, "info area overlaps the EBDA");

/* Far more than any kernel has; keeps the pairwise overlap check cheap. */
#define MAX_PHDRS 1024u

#define PAGE_SIZE 4096u

/* The flat segments the specification asks for: base 0, limit 4 GiB,
 * 32-bit, as descriptor bits 40..55 (access byte, then G and D/B). */
#define FLAT_CODE_SELECTOR 0x08u
#define FLAT_DATA_SELECTOR 0x10u
#define FLAT_CODE_FLAGS 0xC09Bu  /* present, DPL 0, code, execute/read, accessed */
#define FLAT_DATA_FLAGS 0xC093u  /* present, DPL 0, data, read/write, accessed */

struct loader {
	struct guest_ram *ram;
	const struct boot_config *cfg;
	char *err;
	size_t err_len;
	const char *path;
	const uint8_t *image; /* the whole kernel file */
	size_t size;
	uint8_t *owned;      /* image, when read here (freed at the end) */
	Elf32_Ehdr ehdr;     /* copied out of the image */
	Elf32_Phdr *phdr;    /* copied out of the image; phnum entries */
	size_t phnum;
	uint32_t entry;      /* physical */
	uint64_t kernel_end; /* end of the highest segment */
	uint64_t initrd_start;
	uint64_t initrd_size;
};

__attribute__((format(printf, 4, 5)))
static int fail(const struct loader *ld, const char *path, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	boot_vfail(ld->err, ld->err_len, path, code, fmt, ap);
	va_end(ap);
	return code;
}

static void put32(struct guest_ram *ram, uint64_t gpa, uint32_t v)
{
	boot_put32(ram->host + gpa, v);
}

static void put64(struct guest_ram *ram, uint64_t gpa, uint64_t v)
{
	boot_put64(ram->host + gpa, v);
}

static void put_string(struct guest_ram *ram, uint64_t gpa, const char *s, size_t max)
{
	size_t len = strnlen(s, max - 1);
	memcpy(ram->host + gpa, s, len);
	ram->host[gpa + len] = 0;
}

static bool overlaps(uint64_t a_start, uint64_t a_end, uint64_t b_start, uint64_t b_end)
{
	return a_start < b_end && b_start < a_end;
}

static int read_kernel(struct loader *ld, int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		return fail(ld, ld->path, -e, "cannot stat: %s", strerror(e));
	}
	if (!S_ISREG(st.st_mode))
		return fail(ld, ld->path, -EINVAL, "not a regular file");
	if (st.st_size == 0)
		return fail(ld, ld->path, -ENOEXEC, "empty file");
	/* Nothing bigger than RAM can load, and this bounds the allocation. */
	if ((uint64_t)st.st_size > ld->ram->size)
		return fail(ld, ld->path, -E2BIG, "file is larger than guest RAM (%" PRIu64 " MiB)",
			    ld->ram->size >> 20);
	ld->owned = malloc((size_t)st.st_size);
	if (!ld->owned)
		return fail(ld, ld->path, -ENOMEM, "out of memory reading the file");
	ld->image = ld->owned;
	int rc = boot_read_fully(fd, ld->owned, (size_t)st.st_size, &ld->size);
	if (rc < 0)
		return fail(ld, ld->path, rc, "read error: %s", strerror(-rc));
	if (ld->size == 0)
		return fail(ld, ld->path, -ENOEXEC, "empty file");
	return 0;
}

enum header_search { HEADER_FOUND, HEADER_NONE, HEADER_BAD_CHECKSUM };

/* A kernel may hold the magic value elsewhere (code that compares against
 * it), so a match with a bad checksum does not end the search. */
static enum header_search find_header(const uint8_t *image, size_t size, uint32_t *flags)
{
	size_t limit = size < MB_SEARCH_LEN ? size : MB_SEARCH_LEN;
	bool bad_checksum = false;
	for (size_t off = 0; off + MB_HEADER_LEN <= limit; off += 4) {
		if (boot_get32(image + off) != MULTIBOOT_HEADER_MAGIC)
			continue;
		uint32_t f = boot_get32(image + off + 4);
		uint32_t sum = boot_get32(image + off + 8);
		if ((uint32_t)(MULTIBOOT_HEADER_MAGIC + f + sum) != 0) {
			bad_checksum = true;
			continue;
		}
		*flags = f;
		return HEADER_FOUND;
	}
	return bad_checksum ? HEADER_BAD_CHECKSUM : HEADER_NONE;
}

/* The identification checks are done on the raw bytes so that each failure
 * gets its own message; libelf would report most of them alike. */
static int check_ident(struct loader *ld)
{
	const uint8_t *id = ld->image;
	if (ld->size < SELFMAG || memcmp(id, ELFMAG, SELFMAG) != 0) {
		uint32_t flags;
		if (find_header(ld->image, ld->size, &flags) == HEADER_FOUND &&
		    (flags & MB_FLAG_ADDRESS))
			return fail(ld, ld->path, -ENOEXEC,
				    "not an ELF file (a.out-kludge kernels, Multiboot flag bit 16, "
				    "are not supported)");
		return fail(ld, ld->path, -ENOEXEC, "not an ELF file");
	}
	if (ld->size < EI_NIDENT)
		return fail(ld, ld->path, -ENOEXEC, "truncated: file too short for an ELF header");
	if (id[EI_CLASS] != ELFCLASS32)
		return fail(ld, ld->path, -ENOEXEC, "not a 32-bit ELF file (ELF class %u)",
			    id[EI_CLASS]);
	if (id[EI_DATA] != ELFDATA2LSB)
		return fail(ld, ld->path, -ENOEXEC, "not a little-endian ELF file (ELF data %u)",
			    id[EI_DATA]);
	if (ld->size < sizeof(Elf32_Ehdr))
		return fail(ld, ld->path, -ENOEXEC, "truncated: file too short for an ELF header");
	return 0;
}

static int check_multiboot_header(struct loader *ld)
{
	uint32_t flags = 0;
	switch (find_header(ld->image, ld->size, &flags)) {
	case HEADER_FOUND:
		break;
	case HEADER_NONE:
		return fail(ld, ld->path, -ENOEXEC, "no Multiboot header in the first %u bytes",
			    MB_SEARCH_LEN);
	case HEADER_BAD_CHECKSUM:
		return fail(ld, ld->path, -ENOEXEC, "bad Multiboot header checksum");
	}
	uint32_t unsupported = flags & MB_REQUIRED_MASK & ~MB_SUPPORTED;
	if (unsupported)
		return fail(ld, ld->path, -ENOEXEC,
			    "Multiboot header requires unsupported features (flags 0x%" PRIx32 ")",
			    unsupported);
	return 0;
}

static int phdrs_truncated(const struct loader *ld)
{
	return fail(ld, ld->path, -ENOEXEC,
		    "truncated: program header table runs past the end of the file");
}

static int read_elf_headers(struct loader *ld, Elf *elf)
{
	if (elf_kind(elf) != ELF_K_ELF)
		return fail(ld, ld->path, -ENOEXEC, "not an ELF file (libelf does not recognise it)");
	const Elf32_Ehdr *eh = elf32_getehdr(elf);
	if (!eh)
		return fail(ld, ld->path, -ENOEXEC, "bad ELF header: %s", elf_errmsg(-1));
	memcpy(&ld->ehdr, eh, sizeof(ld->ehdr));
	const Elf32_Ehdr *h = &ld->ehdr;
	if (h->e_machine != EM_386)
		return fail(ld, ld->path, -ENOEXEC, "wrong machine %u in the ELF header (expected EM_386)",
			    h->e_machine);
	if (h->e_type != ET_EXEC)
		return fail(ld, ld->path, -ENOEXEC, "not an executable (ELF type %u, expected ET_EXEC)",
			    h->e_type);
	if (h->e_phnum == 0)
		return fail(ld, ld->path, -ENOEXEC, "no PT_LOAD segments (no program headers)");
	if (h->e_phentsize != sizeof(Elf32_Phdr))
		return fail(ld, ld->path, -ENOEXEC, "bad program header entry size %u",
			    h->e_phentsize);
	/* Checked before libelf looks, which would only say "invalid data". */
	if (h->e_phnum != PN_XNUM &&
	    (uint64_t)h->e_phoff + (uint64_t)h->e_phnum * sizeof(Elf32_Phdr) > ld->size)
		return phdrs_truncated(ld);
	size_t n;
	if (elf_getphdrnum(elf, &n) != 0)
		return fail(ld, ld->path, -ENOEXEC, "bad program header table: %s", elf_errmsg(-1));
	if (n == 0)
		return fail(ld, ld->path, -ENOEXEC, "no PT_LOAD segments (no program headers)");
	if (n > MAX_PHDRS)
		return fail(ld, ld->path, -ENOEXEC, "too many program headers (%zu)", n);
	if ((uint64_t)h->e_phoff + (uint64_t)n * sizeof(Elf32_Phdr) > ld->size)
		return phdrs_truncated(ld);
	ld->phdr = calloc(n, sizeof(*ld->phdr));
	if (!ld->phdr)
		return fail(ld, ld->path, -ENOMEM, "out of memory reading the program headers");
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr g;
		if (!gelf_getphdr(elf, (int)i, &g))
			return fail(ld, ld->path, -ENOEXEC, "bad program header %zu: %s", i,
				    elf_errmsg(-1));
		/* An ELFCLASS32 file: every field fits its 32-bit original. */
		ld->phdr[i] = (Elf32_Phdr){
			.p_type = (Elf32_Word)g.p_type, .p_offset = (Elf32_Off)g.p_offset,
			.p_vaddr = (Elf32_Addr)g.p_vaddr, .p_paddr = (Elf32_Addr)g.p_paddr,
			.p_filesz = (Elf32_Word)g.p_filesz, .p_memsz = (Elf32_Word)g.p_memsz,
			.p_flags = (Elf32_Word)g.p_flags, .p_align = (Elf32_Word)g.p_align,
		};
	}
	ld->phnum = n;
	return 0;
}

static bool loadable(const Elf32_Phdr *p)
{
	return p->p_type == PT_LOAD && p->p_memsz != 0;
}

static int check_segment(struct loader *ld, size_t i)
{
	const Elf32_Phdr *p = &ld->phdr[i];
	if ((uint64_t)p->p_offset + p->p_filesz > ld->size)
		return fail(ld, ld->path, -ENOEXEC, "truncated: segment %zu runs past the end of the file",
			    i);
	if (p->p_filesz > p->p_memsz)
		return fail(ld, ld->path, -ENOEXEC,
			    "segment %zu: file size 0x%" PRIx32 " is larger than its memory size 0x%" PRIx32,
			    i, p->p_filesz, p->p_memsz);
	if (p->p_memsz == 0)
		return 0;

	/* Multiboot loads at the physical address; 64 bits cannot overflow. */
	uint64_t start = p->p_paddr, end = start + p->p_memsz;
	if (end > ld->ram->low_size)   /* loaded through the monitor's 1:1 view of low RAM */
		return fail(ld, ld->path, -ENOMEM,
			    "segment at 0x%" PRIx64 "-0x%" PRIx64 " lies outside guest RAM (%" PRIu64 " MiB)",
			    start, end, ld->ram->low_size >> 20);
	if (start < LOW_RESERVED_END)
		return fail(ld, ld->path, -ENOEXEC,
			    "segment at 0x%" PRIx64 "-0x%" PRIx64 " lies below 0x%x "
			    "(real-mode interrupt table and BIOS data area)",
			    start, end, LOW_RESERVED_END);
	if (overlaps(start, end, INFO_AREA_START, INFO_AREA_END))
		return fail(ld, ld->path, -ENOEXEC,
			    "segment at 0x%" PRIx64 "-0x%" PRIx64
			    " overlaps the boot information area at 0x%x-0x%x",
			    start, end, INFO_AREA_START, INFO_AREA_END);
	if (overlaps(start, end, EBDA_START, HIGH_MEM_START))
		return fail(ld, ld->path, -ENOEXEC,
			    "segment at 0x%" PRIx64 "-0x%" PRIx64
			    " overlaps the reserved area at 0x%x-0x%x (EBDA, VGA memory, BIOS)",
			    start, end, EBDA_START, HIGH_MEM_START);
	for (size_t j = 0; j < i; j++) {
		const Elf32_Phdr *q = &ld->phdr[j];
		if (!loadable(q))
			continue;
		uint64_t q_start = q->p_paddr, q_end = q_start + q->p_memsz;
		if (overlaps(start, end, q_start, q_end))
			return fail(ld, ld->path, -ENOEXEC,
				    "segments %zu and %zu overlap (0x%" PRIx64 "-0x%" PRIx64
				    " and 0x%" PRIx64 "-0x%" PRIx64 ")",
				    j, i, q_start, q_end, start, end);
	}
	if (end > ld->kernel_end)
		ld->kernel_end = end;
	return 0;
}

static int check_segments(struct loader *ld)
{
	size_t loads = 0;
	for (size_t i = 0; i < ld->phnum; i++) {
		if (ld->phdr[i].p_type != PT_LOAD)
			continue;
		int rc = check_segment(ld, i);
		if (rc < 0)
			return rc;
		if (loadable(&ld->phdr[i]))
			loads++;
	}
	if (loads == 0)
		return fail(ld, ld->path, -ENOEXEC, "no PT_LOAD segments with contents");

	/* Higher-half kernels link at one address and load (AT()) at
	 * another: the entry point translates through the segment whose
	 * virtual range holds it, else it is already physical. */
	uint32_t e = ld->ehdr.e_entry;
	for (size_t i = 0; i < ld->phnum; i++) {
		const Elf32_Phdr *p = &ld->phdr[i];
		if (loadable(p) && e >= p->p_vaddr && e - p->p_vaddr < p->p_memsz) {
			ld->entry = e - p->p_vaddr + p->p_paddr;
			return 0;
		}
	}
	for (size_t i = 0; i < ld->phnum; i++) {
		const Elf32_Phdr *p = &ld->phdr[i];
		if (loadable(p) && e >= p->p_paddr && e - p->p_paddr < p->p_memsz) {
			ld->entry = e;
			return 0;
		}
	}
	return fail(ld, ld->path, -ENOEXEC,
		    "entry point 0x%" PRIx32 " is inside no loaded segment (by virtual or physical address)",
		    e);
}

static const char *file_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

static bool has_initrd(const struct boot_config *cfg)
{
	return cfg->initrd_data || cfg->initrd_path;
}

static const char *initrd_name(const struct boot_config *cfg)
{
	return cfg->initrd_path ? cfg->initrd_path : "(initrd)";
}

/* Sizes and places the initrd before anything is written to RAM, so a
 * failure leaves guest memory as it was. An initrd in memory
 * (cfg->initrd_data) needs no file. */
static int open_initrd(struct loader *ld, int *fd_out)
{
	const char *path = initrd_name(ld->cfg);
	uint64_t size = ld->cfg->initrd_size;
	if (!ld->cfg->initrd_data) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			int e = errno;
			return fail(ld, path, -e, "cannot open initrd: %s", strerror(e));
		}
		*fd_out = fd;
		struct stat st;
		if (fstat(fd, &st) < 0) {
			int e = errno;
			return fail(ld, path, -e, "cannot stat initrd: %s", strerror(e));
		}
		if (!S_ISREG(st.st_mode))
			return fail(ld, path, -EINVAL, "initrd is not a regular file");
		size = (uint64_t)st.st_size;
	}

	/* Above 1 MiB even when the kernel sits in low memory: below it there
	 * is only the gap between the info area and the EBDA. */
	uint64_t start = ld->kernel_end > HIGH_MEM_START ? ld->kernel_end : HIGH_MEM_START;
	start = (start + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1);
	if (start > ld->ram->low_size || size > ld->ram->low_size - start)
		return fail(ld, path, -ENOMEM,
			    "initrd does not fit in guest RAM (%" PRIu64 " bytes at 0x%" PRIx64
			    ", %" PRIu64 " MiB of RAM)",
			    size, start, ld->ram->low_size >> 20);
	ld->initrd_start = start;
	ld->initrd_size = size;
	return 0;
}

static int load_initrd(struct loader *ld, int fd)
{
	const char *path = initrd_name(ld->cfg);
	if (ld->cfg->initrd_data) {
		memcpy(ld->ram->host + ld->initrd_start, ld->cfg->initrd_data, (size_t)ld->initrd_size);
		return 0;
	}
	size_t got = 0;   /* -O3 cannot see read_fully sets it on success */
	int rc = boot_read_fully(fd, ld->ram->host + ld->initrd_start, (size_t)ld->initrd_size, &got);
	if (rc < 0)
		return fail(ld, path, rc, "read error: %s", strerror(-rc));
	if (got != ld->initrd_size)
		return fail(ld, path, -EIO, "initrd shrank while it was being read");
	return 0;
}

static void load_segments(struct loader *ld)
{
	for (size_t i = 0; i < ld->phnum; i++) {
		const Elf32_Phdr *p = &ld->phdr[i];
		if (!loadable(p))
			continue;
		uint8_t *dst = ld->ram->host + p->p_paddr;
		memcpy(dst, ld->image + p->p_offset, p->p_filesz);
		memset(dst + p->p_filesz, 0, p->p_memsz - p->p_filesz);
	}
}

static void put_mmap_entry(struct guest_ram *ram, unsigned index, uint64_t base, uint64_t len,
			   uint32_t type)
{
	uint64_t a = MMAP_ADDR + (uint64_t)index * MMAP_ENTRY_SIZE;
	put32(ram, a, MMAP_ENTRY_SIZE - 4);
	put64(ram, a + 4, base);
	put64(ram, a + 12, len);
	put32(ram, a + 20, type);
}

/* The command line the kernel gets: its path, then --append's text. */
static size_t cmdline_length(const struct boot_config *cfg)
{
	size_t n = strlen(cfg->kernel_path);
	if (cfg->cmdline && cfg->cmdline[0])
		n += 1 + strlen(cfg->cmdline);
	return n;
}

/* check_request made sure it fits. */
static void put_cmdline(struct guest_ram *ram, const struct boot_config *cfg)
{
	char *dst = (char *)ram->host + CMDLINE_ADDR;
	size_t n = strlen(cfg->kernel_path);
	memcpy(dst, cfg->kernel_path, n);
	if (cfg->cmdline && cfg->cmdline[0]) {
		dst[n++] = ' ';
		memcpy(dst + n, cfg->cmdline, strlen(cfg->cmdline));
		n += strlen(cfg->cmdline);
	}
	dst[n] = 0;
}

static void write_info(struct loader *ld)
{
	struct guest_ram *ram = ld->ram;
	uint32_t flags = MBI_FLAG_MEM | MBI_FLAG_CMDLINE | MBI_FLAG_MMAP | MBI_FLAG_LOADER_NAME;

	/* Every field we do not fill (syms, drives, config table, APM, VBE,
	 * framebuffer) reads as zero, its flag clear. */
	memset(ram->host + INFO_AREA_START, 0, INFO_AREA_END - INFO_AREA_START);

	put32(ram, INFO_ADDR + MBI_MEM_LOWER, EBDA_START / 1024);
	put32(ram, INFO_ADDR + MBI_MEM_UPPER, (uint32_t)((ram->low_size - HIGH_MEM_START) / 1024));

	put_cmdline(ram, ld->cfg);
	put32(ram, INFO_ADDR + MBI_CMDLINE, CMDLINE_ADDR);

	if (has_initrd(ld->cfg)) {
		flags |= MBI_FLAG_MODS;
		put32(ram, MODS_ADDR + 0, (uint32_t)ld->initrd_start);
		put32(ram, MODS_ADDR + 4, (uint32_t)(ld->initrd_start + ld->initrd_size));
		put32(ram, MODS_ADDR + 8, MODSTR_ADDR);
		put_string(ram, MODSTR_ADDR, file_name(initrd_name(ld->cfg)), MODSTR_MAX);
		put32(ram, INFO_ADDR + MBI_MODS_COUNT, 1);
		put32(ram, INFO_ADDR + MBI_MODS_ADDR, MODS_ADDR);
	}

	put_mmap_entry(ram, 0, 0, EBDA_START, MMAP_AVAILABLE);
	put_mmap_entry(ram, 1, EBDA_START, 0xA0000u - EBDA_START, MMAP_RESERVED);
	put_mmap_entry(ram, 2, BIOS_ROM_START, HIGH_MEM_START - BIOS_ROM_START, MMAP_RESERVED);
	put_mmap_entry(ram, 3, HIGH_MEM_START, ram->low_size - HIGH_MEM_START, MMAP_AVAILABLE);
	unsigned entries = 4;
	if (guest_ram_high_size(ram))
		put_mmap_entry(ram, entries++, GUEST_RAM_HIGH_BASE, guest_ram_high_size(ram), MMAP_AVAILABLE);
	put32(ram, INFO_ADDR + MBI_MMAP_LENGTH, entries * MMAP_ENTRY_SIZE);
	put32(ram, INFO_ADDR + MBI_MMAP_ADDR, MMAP_ADDR);

	put_string(ram, LOADER_NAME_ADDR, LOADER_NAME, sizeof(LOADER_NAME));
	put32(ram, INFO_ADDR + MBI_BOOT_LOADER_NAME, LOADER_NAME_ADDR);

	put32(ram, INFO_ADDR + MBI_FLAGS, flags);
}

static struct segment flat_segment(uint16_t selector, uint16_t flags)
{
	return (struct segment){ .selector = selector, .base = 0, .limit = 0xFFFFFFFFu,
				 .flags = flags };
}

/* Specification 3.2; everything it leaves undefined (ESP, GDTR, IDTR) is
 * zero, and the kernel has to set it up itself. */
static void set_entry_state(const struct loader *ld, struct vcpu_state *cpu)
{
	memset(cpu, 0, sizeof(*cpu));
	cpu->regs[REG_EAX] = MULTIBOOT_BOOTLOADER_MAGIC;
	cpu->regs[REG_EBX] = INFO_ADDR;
	cpu->eip = ld->entry;
	cpu->eflags = EFLAGS_FIXED1;
	cpu->cr0 = CR0_PE | CR0_ET;
	cpu->seg[SEG_CS] = flat_segment(FLAT_CODE_SELECTOR, FLAT_CODE_FLAGS);
	cpu->seg[SEG_DS] = flat_segment(FLAT_DATA_SELECTOR, FLAT_DATA_FLAGS);
	cpu->seg[SEG_ES] = flat_segment(FLAT_DATA_SELECTOR, FLAT_DATA_FLAGS);
	cpu->seg[SEG_FS] = flat_segment(FLAT_DATA_SELECTOR, FLAT_DATA_FLAGS);
	cpu->seg[SEG_GS] = flat_segment(FLAT_DATA_SELECTOR, FLAT_DATA_FLAGS);
	cpu->seg[SEG_SS] = flat_segment(FLAT_DATA_SELECTOR, FLAT_DATA_FLAGS);
	cpu->cpl = 0;
}

/* What every entry point refuses before it looks at the image. */
static int check_request(struct loader *ld, const struct vcpu_state *cpu)
{
	const struct boot_config *cfg = ld->cfg;
	if (ld->err && ld->err_len)
		ld->err[0] = 0;
	ld->path = cfg && cfg->kernel_path ? cfg->kernel_path : "(no kernel)";
	if (!cfg || !cfg->kernel_path || !ld->ram || !ld->ram->host || !cpu)
		return fail(ld, ld->path, -EINVAL, "no kernel or no guest RAM to load it into");
	if (ld->ram->size < (uint64_t)GUEST_RAM_MIN_MIB << 20)
		return fail(ld, ld->path, -EINVAL, "guest RAM smaller than %u MiB", GUEST_RAM_MIN_MIB);
	if (cmdline_length(cfg) >= CMDLINE_MAX)
		return fail(ld, ld->path, -E2BIG,
			    "command line too long (%zu bytes with the kernel's path, at most %u)",
			    cmdline_length(cfg), CMDLINE_MAX - 1);
	return 0;
}

/* Everything after the image is in memory: checks, then the writes. */
static int load_image(struct loader *ld, struct vcpu_state *cpu)
{
	int rc = check_ident(ld);
	if (rc < 0)
		return rc;
	rc = check_multiboot_header(ld);
	if (rc < 0)
		return rc;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return fail(ld, ld->path, -EINVAL, "libelf: %s", elf_errmsg(-1));
	/* libelf reads a native-order image in place and writes only into one
	 * it has to convert from the other byte order, which check_ident
	 * refused: the cast drops a const nothing relies on. */
	Elf *elf = elf_memory((char *)ld->image, ld->size);
	if (!elf)
		return fail(ld, ld->path, -ENOEXEC, "libelf cannot read the file: %s", elf_errmsg(-1));
	int initrd_fd = -1;
	rc = read_elf_headers(ld, elf);
	if (rc == 0)
		rc = check_segments(ld);
	if (rc == 0 && has_initrd(ld->cfg))
		rc = open_initrd(ld, &initrd_fd);
	if (rc == 0) {
		/* Nothing is written to RAM before every check has passed. */
		load_segments(ld);
		if (has_initrd(ld->cfg))
			rc = load_initrd(ld, initrd_fd);
	}
	if (rc == 0) {
		write_info(ld);
		set_entry_state(ld, cpu);
	}
	if (initrd_fd >= 0)
		close(initrd_fd);
	free(ld->phdr);
	ld->phdr = NULL;
	elf_end(elf);
	return rc;
}

int multiboot_load(struct guest_ram *ram, const struct boot_config *cfg, struct vcpu_state *cpu,
		   char *err, size_t err_len)
{
	struct loader ld = { .ram = ram, .cfg = cfg, .err = err, .err_len = err_len };
	int rc = check_request(&ld, cpu);
	if (rc < 0)
		return rc;
	int fd = open(ld.path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		return fail(&ld, ld.path, -e, "cannot open: %s", strerror(e));
	}
	rc = read_kernel(&ld, fd);
	close(fd);
	if (rc == 0)
		rc = load_image(&ld, cpu);
	free(ld.owned);
	return rc;
}

int multiboot_load_image(struct guest_ram *ram, const struct boot_config *cfg,
			 const uint8_t *image, size_t size, struct vcpu_state *cpu, char *err,
			 size_t err_len)
{
	struct loader ld = { .ram = ram, .cfg = cfg, .err = err, .err_len = err_len,
			     .image = image, .size = size };
	int rc = check_request(&ld, cpu);
	if (rc < 0)
		return rc;
	if (!image || size == 0)
		return fail(&ld, ld.path, -ENOEXEC, "empty file");
	if ((uint64_t)size > ram->size)
		return fail(&ld, ld.path, -E2BIG, "file is larger than guest RAM (%" PRIu64 " MiB)",
			    ram->size >> 20);
	return load_image(&ld, cpu);
}
