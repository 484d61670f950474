/* Multiboot loading: ELF kernels built here byte by byte, loaded into a
 * fresh guest RAM; the entry state, the loaded segments, the information
 * structure and the initrd module, then each way a kernel or initrd can be
 * refused, and truncated or corrupted files that must fail cleanly. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/multiboot.h"
#include "check.h"

#define RAM_MIB 16u
#define INFO_AREA_START 0x9000u
#define INFO_AREA_END 0xB000u
#define CMDLINE_MAX (INFO_AREA_END - 0x9400u)   /* the loader's: its command line to the end */

static char tmpdir[256];

struct seg_spec {
	uint32_t type;  /* 0 means PT_LOAD */
	uint32_t vaddr, paddr, filesz, memsz, flags;
};

struct kernel_spec {
	unsigned nseg;
	struct seg_spec seg[4];
	uint32_t entry;
	bool no_header;
	uint32_t mb_flags;
	uint32_t checksum_delta;  /* nonzero: a wrong checksum */
};

struct image {
	uint8_t *data;
	size_t size;
	size_t seg_offset[4];
};

static void le32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);  /* the host is x86-64, little-endian like the guest */
}

static uint32_t rd32(const struct guest_ram *ram, uint64_t gpa)
{
	uint32_t v;
	memcpy(&v, ram->host + gpa, 4);
	return v;
}

static uint64_t rd64(const struct guest_ram *ram, uint64_t gpa)
{
	uint64_t v;
	memcpy(&v, ram->host + gpa, 8);
	return v;
}

static const char *ram_str(const struct guest_ram *ram, uint64_t gpa)
{
	return gpa < ram->size ? (const char *)ram->host + gpa : "";
}

/* Header and program headers in the first page, each segment's file bytes
 * from its own page on, with the Multiboot header at the start of the first
 * segment as a linker would place a .multiboot section. */
static struct image build_kernel(const struct kernel_spec *k)
{
	struct image img = { 0 };
	size_t off = 0x1000;
	for (unsigned i = 0; i < k->nseg; i++) {
		img.seg_offset[i] = off;
		off += (k->seg[i].filesz + 0xFFFu) & ~(size_t)0xFFF;
	}
	img.size = off;
	img.data = calloc(1, img.size);
	if (!img.data)
		abort();

	for (unsigned i = 0; i < k->nseg; i++)
		for (uint32_t j = 0; j < k->seg[i].filesz; j++)
			img.data[img.seg_offset[i] + j] = (uint8_t)(j * 7 + i * 31 + 1);

	Elf32_Ehdr eh = { 0 };
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS32;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_386;
	eh.e_version = EV_CURRENT;
	eh.e_entry = k->entry;
	eh.e_phoff = sizeof(Elf32_Ehdr);
	eh.e_ehsize = sizeof(Elf32_Ehdr);
	eh.e_phentsize = sizeof(Elf32_Phdr);
	eh.e_phnum = (uint16_t)k->nseg;
	memcpy(img.data, &eh, sizeof(eh));

	for (unsigned i = 0; i < k->nseg; i++) {
		Elf32_Phdr ph = {
			.p_type = k->seg[i].type ? k->seg[i].type : PT_LOAD,
			.p_offset = (uint32_t)img.seg_offset[i],
			.p_vaddr = k->seg[i].vaddr,
			.p_paddr = k->seg[i].paddr,
			.p_filesz = k->seg[i].filesz,
			.p_memsz = k->seg[i].memsz,
			.p_flags = k->seg[i].flags,
			.p_align = 0x1000,
		};
		memcpy(img.data + sizeof(eh) + i * sizeof(ph), &ph, sizeof(ph));
	}

	if (!k->no_header && k->nseg > 0 && k->seg[0].filesz >= 12) {
		uint8_t *h = img.data + img.seg_offset[0];
		le32(h, MULTIBOOT_HEADER_MAGIC);
		le32(h + 4, k->mb_flags);
		le32(h + 8, -(MULTIBOOT_HEADER_MAGIC + k->mb_flags) + k->checksum_delta);
	}
	return img;
}

/* 1 MiB of code and data with the header first, and a page of data whose
 * bss runs on for two more pages. */
static struct kernel_spec default_kernel(void)
{
	return (struct kernel_spec){
		.nseg = 2,
		.seg = {
			{ .vaddr = 0x100000, .paddr = 0x100000, .filesz = 0x1800, .memsz = 0x1800,
			  .flags = PF_R | PF_X },
			{ .vaddr = 0x200000, .paddr = 0x200000, .filesz = 0x100, .memsz = 0x3000,
			  .flags = PF_R | PF_W },
		},
		.entry = 0x100010,
		.mb_flags = 0x3,
	};
}

static char *tmp_path(const char *name)
{
	static char paths[8][512];
	static unsigned next;
	char *p = paths[next++ % 8];
	snprintf(p, sizeof(paths[0]), "%s/%s", tmpdir, name);
	return p;
}

static void write_file(const char *path, const void *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
		perror(path);
		exit(2);
	}
}

static const char *write_image(const char *name, const struct image *img, size_t size)
{
	char *path = tmp_path(name);
	write_file(path, img->data, size);
	return path;
}

static const char *write_spec(const char *name, const struct kernel_spec *k)
{
	struct image img = build_kernel(k);
	const char *path = write_image(name, &img, img.size);
	free(img.data);
	return path;
}

static int load(struct guest_ram *ram, const char *kernel, const char *initrd, const char *cmdline,
		struct vcpu_state *cpu, char *err, size_t err_len)
{
	struct boot_config cfg = { .kernel_path = kernel, .initrd_path = initrd, .cmdline = cmdline };
	return multiboot_load(ram, &cfg, cpu, err, err_len);
}

/* A refused kernel: negative errno, and one line naming the file (names is
 * the path the message must start with) and the problem. */
static void expect_failure_in(struct guest_ram *ram, const char *kernel, const char *initrd,
			      const char *names, const char *word, int want_rc)
{
	struct vcpu_state cpu;
	char err[512];
	int rc = load(ram, kernel, initrd, NULL, &cpu, err, sizeof(err));
	CHECK(rc < 0);
	if (want_rc)
		CHECK_EQ(rc, want_rc);
	CHECK(strncmp(err, names, strlen(names)) == 0);
	CHECK_STR_CONTAINS(err, ": ");
	CHECK_STR_CONTAINS(err, word);
	CHECK(strchr(err, '\n') == NULL);
}

static void expect_failure(struct guest_ram *ram, const char *kernel, const char *word, int want_rc)
{
	expect_failure_in(ram, kernel, NULL, kernel, word, want_rc);
}

static void check_flat(const struct segment *s, uint16_t selector, uint16_t flags)
{
	CHECK_EQ(s->selector, selector);
	CHECK_EQ(s->base, 0);
	CHECK_EQ(s->limit, 0xFFFFFFFFu);
	CHECK_EQ(s->flags, flags);
}

/* RAM split as a PC with more than 3 GiB has it (faked on a small memfd:
 * its second half stands for RAM from 4 GiB): mem_upper counts the low
 * range, the memory map gets a fifth entry for the high one. */
static void test_high_ram(void)
{
	struct guest_ram ram;
	CHECK_EQ(guest_ram_init(&ram, RAM_MIB, 0), 0);
	uint64_t low = ram.size / 2;
	ram.low_size = low;
	struct kernel_spec k = default_kernel();
	struct image img = build_kernel(&k);
	const char *kernel = write_image("kern-high.elf", &img, img.size);
	struct vcpu_state cpu;
	char err[256];
	int rc = load(&ram, kernel, NULL, "", &cpu, err, sizeof(err));
	CHECK_EQ(rc, 0);
	if (!rc) {
		uint32_t mbi = cpu.regs[REG_EBX];
		CHECK_EQ(rd32(&ram, mbi + 8), (low >> 10) - 1024);
		uint32_t mmap_len = rd32(&ram, mbi + 44), mmap = rd32(&ram, mbi + 48);
		CHECK_EQ(mmap_len, 5 * 24);
		CHECK(mmap + mmap_len <= INFO_AREA_END);
		uint32_t a = mmap + 3 * 24;
		CHECK_EQ(rd64(&ram, a + 12), low - 0x100000);
		a += 24;
		CHECK_EQ(rd32(&ram, a), 20);
		CHECK_EQ(rd64(&ram, a + 4), 1ull << 32);
		CHECK_EQ(rd64(&ram, a + 12), ram.size - low);
		CHECK_EQ(rd32(&ram, a + 20), 1);
	}
	free(img.data);
	ram.low_size = ram.size;
	guest_ram_destroy(&ram);
}

static void test_happy_path(void)
{
	struct guest_ram ram;
	CHECK_EQ(guest_ram_init(&ram, RAM_MIB, 0), 0);
	struct kernel_spec k = default_kernel();
	struct image img = build_kernel(&k);
	const char *kernel = write_image("kern.elf", &img, img.size);

	uint8_t initrd[5000];
	for (size_t i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i * 13 + 5);
	const char *initrd_path = tmp_path("initrd.img");
	write_file(initrd_path, initrd, sizeof(initrd));

	/* Stale bytes where the bss goes and in the info area must not show. */
	memset(ram.host + 0x200000, 0xAA, 0x3000);
	memset(ram.host + INFO_AREA_START, 0x55, INFO_AREA_END - INFO_AREA_START);

	struct vcpu_state cpu;
	memset(&cpu, 0xFF, sizeof(cpu));
	char err[256] = "untouched";
	const char *cmdline = "console=ttyS0 quiet";
	int rc = load(&ram, kernel, initrd_path, cmdline, &cpu, err, sizeof(err));
	CHECK_EQ(rc, 0);
	CHECK_EQ(err[0], 0);

	CHECK_EQ(cpu.regs[REG_EAX], MULTIBOOT_BOOTLOADER_MAGIC);
	uint32_t mbi = cpu.regs[REG_EBX];
	CHECK(mbi >= INFO_AREA_START && mbi + 116 <= INFO_AREA_END);
	CHECK_EQ(cpu.regs[REG_ECX], 0);
	CHECK_EQ(cpu.regs[REG_ESP], 0);
	CHECK_EQ(cpu.eip, 0x100010);
	CHECK_EQ(cpu.eflags, 0x2);
	CHECK_EQ(cpu.cr0, CR0_PE | CR0_ET);
	CHECK_EQ(cpu.cr3, 0);
	CHECK_EQ(cpu.cr4, 0);
	CHECK_EQ(cpu.dr[7], 0);
	CHECK_EQ(cpu.cpl, 0);
	check_flat(&cpu.seg[SEG_CS], 0x08, 0xC09B);
	check_flat(&cpu.seg[SEG_DS], 0x10, 0xC093);
	check_flat(&cpu.seg[SEG_ES], 0x10, 0xC093);
	check_flat(&cpu.seg[SEG_FS], 0x10, 0xC093);
	check_flat(&cpu.seg[SEG_GS], 0x10, 0xC093);
	check_flat(&cpu.seg[SEG_SS], 0x10, 0xC093);
	CHECK_EQ(cpu.gdtr.base, 0);
	CHECK_EQ(cpu.gdtr.limit, 0);
	CHECK_EQ(cpu.idtr.base, 0);
	CHECK_EQ(cpu.idtr.limit, 0);
	CHECK_EQ(cpu.tr.selector, 0);
	CHECK_EQ(cpu.tr.flags, 0);
	CHECK_EQ(cpu.ldtr.selector, 0);
	CHECK_EQ(cpu.ldtr.flags, 0);

	/* Segments: file bytes copied, the rest of memsz zeroed. */
	CHECK(memcmp(ram.host + 0x100000, img.data + img.seg_offset[0], 0x1800) == 0);
	CHECK_EQ(rd32(&ram, 0x100000), MULTIBOOT_HEADER_MAGIC);
	CHECK(memcmp(ram.host + 0x200000, img.data + img.seg_offset[1], 0x100) == 0);
	bool bss_zero = true;
	for (uint32_t a = 0x200100; a < 0x203000; a++)
		bss_zero &= ram.host[a] == 0;
	CHECK(bss_zero);

	/* The information structure. */
	uint32_t flags = rd32(&ram, mbi + 0);
	CHECK_EQ(flags, (1u << 0) | (1u << 2) | (1u << 3) | (1u << 6) | (1u << 9));
	CHECK_EQ(rd32(&ram, mbi + 4), 639);
	CHECK_EQ(rd32(&ram, mbi + 8), (RAM_MIB - 1) * 1024);
	CHECK_EQ(rd32(&ram, mbi + 12), 0);
	uint32_t cmd = rd32(&ram, mbi + 16);
	CHECK(cmd >= INFO_AREA_START && cmd < INFO_AREA_END);
	/* The kernel's path first, as GRUB and QEMU pass it. */
	char want_cmd[600];
	snprintf(want_cmd, sizeof(want_cmd), "%s %s", kernel, cmdline);
	CHECK(strcmp(ram_str(&ram, cmd), want_cmd) == 0);
	for (uint32_t off = 28; off < 44; off += 4)
		CHECK_EQ(rd32(&ram, mbi + off), 0);  /* syms */
	CHECK_EQ(rd32(&ram, mbi + 52), 0);           /* drives */
	CHECK_EQ(rd32(&ram, mbi + 60), 0);           /* config table */
	CHECK_EQ(rd32(&ram, mbi + 68), 0);           /* APM */
	uint32_t name = rd32(&ram, mbi + 64);
	CHECK(name >= INFO_AREA_START && name < INFO_AREA_END);
	CHECK(strcmp(ram_str(&ram, name), "btvm") == 0);

	/* Memory map: walked as a kernel does, by each entry's size field. */
	static const struct { uint64_t base, len; uint32_t type; } want[] = {
		{ 0, 0x9FC00, 1 },
		{ 0x9FC00, 0x400, 2 },
		{ 0xE0000, 0x20000, 2 },
		{ 0x100000, (uint64_t)(RAM_MIB - 1) << 20, 1 },
	};
	uint32_t mmap_len = rd32(&ram, mbi + 44), mmap = rd32(&ram, mbi + 48);
	CHECK_EQ(mmap_len, 4 * 24);
	CHECK(mmap >= INFO_AREA_START && mmap + mmap_len <= INFO_AREA_END);
	unsigned n = 0;
	for (uint32_t a = mmap; a < mmap + mmap_len && n < 4; a += rd32(&ram, a) + 4, n++) {
		CHECK_EQ(rd32(&ram, a), 20);
		CHECK_EQ(rd64(&ram, a + 4), want[n].base);
		CHECK_EQ(rd64(&ram, a + 12), want[n].len);
		CHECK_EQ(rd32(&ram, a + 20), want[n].type);
	}
	CHECK_EQ(n, 4);

	/* The initrd: module 0, page-aligned above the kernel. */
	CHECK_EQ(rd32(&ram, mbi + 20), 1);
	uint32_t mods = rd32(&ram, mbi + 24);
	CHECK(mods >= INFO_AREA_START && mods + 16 <= INFO_AREA_END);
	uint32_t mod_start = rd32(&ram, mods), mod_end = rd32(&ram, mods + 4);
	CHECK_EQ(mod_start % 4096, 0);
	CHECK(mod_start >= 0x203000);
	CHECK_EQ(mod_end - mod_start, sizeof(initrd));
	CHECK(mod_end <= ram.size);
	CHECK(mod_end <= ram.size && memcmp(ram.host + mod_start, initrd, sizeof(initrd)) == 0);
	CHECK(strcmp(ram_str(&ram, rd32(&ram, mods + 8)), "initrd.img") == 0);
	CHECK_EQ(rd32(&ram, mods + 12), 0);

	free(img.data);
	guest_ram_destroy(&ram);
}

/* An initrd already in memory (a disk image's): module 0 as from a file,
 * named by the last part of initrd_path. */
static void test_initrd_in_memory(void)
{
	struct guest_ram ram;
	CHECK_EQ(guest_ram_init(&ram, RAM_MIB, 0), 0);
	struct kernel_spec k = default_kernel();
	struct image img = build_kernel(&k);
	uint8_t initrd[3000];
	for (size_t i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i * 11 + 2);
	struct boot_config cfg = { .kernel_path = "disk.img:/boot/kern.elf",
				   .initrd_path = "disk.img:/boot/initrd.img-1",
				   .initrd_data = initrd, .initrd_size = sizeof(initrd) };
	struct vcpu_state cpu;
	char err[256] = "";
	CHECK_EQ(multiboot_load_image(&ram, &cfg, img.data, img.size, &cpu, err, sizeof(err)), 0);
	uint32_t mbi = cpu.regs[REG_EBX];
	CHECK_EQ(rd32(&ram, mbi + 20), 1);
	uint32_t mods = rd32(&ram, mbi + 24);
	uint32_t mod_start = rd32(&ram, mods), mod_end = rd32(&ram, mods + 4);
	CHECK_EQ(mod_end - mod_start, sizeof(initrd));
	CHECK(mod_end <= ram.size && memcmp(ram.host + mod_start, initrd, sizeof(initrd)) == 0);
	CHECK(strcmp(ram_str(&ram, rd32(&ram, mods + 8)), "initrd.img-1") == 0);
	/* Too large for RAM: refused by name, RAM untouched. */
	cfg.initrd_size = (size_t)RAM_MIB << 20;
	CHECK(multiboot_load_image(&ram, &cfg, img.data, img.size, &cpu, err, sizeof(err)) < 0);
	CHECK_STR_CONTAINS(err, "disk.img:/boot/initrd.img-1: initrd does not fit");
	free(img.data);
	guest_ram_destroy(&ram);
}

/* No initrd, no command line: no module flag, an empty command line. */
static void test_minimal(void)
{
	struct guest_ram ram;
	CHECK_EQ(guest_ram_init(&ram, 4, 0), 0);
	struct kernel_spec k = default_kernel();
	const char *kernel = write_spec("minimal.elf", &k);
	struct vcpu_state cpu;
	char err[256];
	CHECK_EQ(load(&ram, kernel, NULL, NULL, &cpu, err, sizeof(err)), 0);
	uint32_t mbi = cpu.regs[REG_EBX];
	CHECK_EQ(rd32(&ram, mbi), (1u << 0) | (1u << 2) | (1u << 6) | (1u << 9));
	CHECK_EQ(rd32(&ram, mbi + 8), 3 * 1024);
	CHECK_EQ(rd32(&ram, mbi + 20), 0);
	CHECK(strcmp(ram_str(&ram, rd32(&ram, mbi + 16)), kernel) == 0);   /* no --append */
	uint32_t last = rd32(&ram, mbi + 48) + 3 * 24;
	CHECK_EQ(rd64(&ram, last + 12), 3u << 20);
	guest_ram_destroy(&ram);
}

/* Linked at 3 GiB, loaded at 1 MiB: the entry point is translated. */
static void test_higher_half(void)
{
	struct guest_ram ram;
	CHECK_EQ(guest_ram_init(&ram, RAM_MIB, 0), 0);
	struct kernel_spec k = default_kernel();
	k.seg[0].vaddr = 0xC0100000;
	k.seg[1].vaddr = 0xC0200000;
	k.entry = 0xC0100020;
	struct image img = build_kernel(&k);
	const char *kernel = write_image("higher-half.elf", &img, img.size);
	struct vcpu_state cpu;
	char err[256];
	CHECK_EQ(load(&ram, kernel, NULL, NULL, &cpu, err, sizeof(err)), 0);
	CHECK_EQ(cpu.eip, 0x100020);
	CHECK(memcmp(ram.host + 0x100000, img.data + img.seg_offset[0], 0x1800) == 0);
	/* The entry may be in a later segment too. */
	k.entry = 0xC0201000;
	kernel = write_spec("higher-half-2.elf", &k);
	CHECK_EQ(load(&ram, kernel, NULL, NULL, &cpu, err, sizeof(err)), 0);
	CHECK_EQ(cpu.eip, 0x201000);
	/* An entry point in no virtual range but in a loaded physical one is
	 * physical already (ENTRY naming the start's load address, as GRUB
	 * Legacy and QEMU take it). */
	k.entry = 0x100010;
	kernel = write_spec("higher-half-phys.elf", &k);
	CHECK_EQ(load(&ram, kernel, NULL, NULL, &cpu, err, sizeof(err)), 0);
	CHECK_EQ(cpu.eip, 0x100010);
	k.entry = 0x202fff;   /* the last byte of the second segment's bss */
	kernel = write_spec("higher-half-phys-2.elf", &k);
	CHECK_EQ(load(&ram, kernel, NULL, NULL, &cpu, err, sizeof(err)), 0);
	CHECK_EQ(cpu.eip, 0x202fff);
	/* Where a virtual range holds it, the virtual reading wins (GRUB 2's):
	 * an entry that is in seg[1]'s virtual range and seg[0]'s physical. */
	k.seg[1].vaddr = 0x100000;    /* seg[0]'s load address */
	k.seg[1].paddr = 0x300000;
	k.entry = 0x100800;
	kernel = write_spec("higher-half-both.elf", &k);
	CHECK_EQ(load(&ram, kernel, NULL, NULL, &cpu, err, sizeof(err)), 0);
	CHECK_EQ(cpu.eip, 0x300800);
	free(img.data);
	guest_ram_destroy(&ram);
}

/* Flag bits we accept: video mode (ignored, no video info passed) and the
 * address fields (ignored for ELF). */
static void test_accepted_flags(void)
{
	struct guest_ram ram;
	CHECK_EQ(guest_ram_init(&ram, RAM_MIB, 0), 0);
	struct kernel_spec k = default_kernel();
	k.mb_flags = (1u << 0) | (1u << 1) | (1u << 2) | (1u << 16) | (1u << 20);
	const char *kernel = write_spec("flags.elf", &k);
	struct vcpu_state cpu;
	char err[256];
	CHECK_EQ(load(&ram, kernel, NULL, NULL, &cpu, err, sizeof(err)), 0);
	CHECK_EQ(rd32(&ram, cpu.regs[REG_EBX]) & ((1u << 11) | (1u << 12)), 0);
	CHECK_EQ(cpu.eip, 0x100010);

	/* A magic value with a bad checksum before the real header is skipped. */
	k = default_kernel();
	struct image img = build_kernel(&k);
	memmove(img.data + 0x1010, img.data + 0x1000, 12);
	le32(img.data + 0x1000, MULTIBOOT_HEADER_MAGIC);
	le32(img.data + 0x1004, 0);
	le32(img.data + 0x1008, 0);
	kernel = write_image("decoy.elf", &img, img.size);
	CHECK_EQ(load(&ram, kernel, NULL, NULL, &cpu, err, sizeof(err)), 0);
	free(img.data);
	guest_ram_destroy(&ram);
}

static void test_file_errors(struct guest_ram *ram)
{
	expect_failure(ram, tmp_path("does-not-exist.elf"), "No such file", -ENOENT);
	expect_failure(ram, tmpdir, "regular file", 0);

	const char *empty = tmp_path("empty.elf");
	write_file(empty, "", 0);
	expect_failure(ram, empty, "empty", 0);

	write_file(tmp_path("hello.txt"), "hello, world\n", 13);
	expect_failure(ram, tmp_path("hello.txt"), "not an ELF", -ENOEXEC);
	write_file(tmp_path("elf.3"), "\177EL", 3);
	expect_failure(ram, tmp_path("elf.3"), "not an ELF", -ENOEXEC);

	struct kernel_spec k = default_kernel();
	struct image img = build_kernel(&k);
	expect_failure(ram, write_image("short-ident.elf", &img, 10), "truncated", -ENOEXEC);
	expect_failure(ram, write_image("short-header.elf", &img, 40), "truncated", -ENOEXEC);
	/* Header and program headers intact, segment 1's bytes cut off. */
	expect_failure(ram, write_image("short-segment.elf", &img, 0x3080), "truncated: segment 1",
		       -ENOEXEC);
	free(img.data);

	/* An a.out-kludge kernel: a Multiboot header but no ELF. */
	uint8_t raw[64] = { 0 };
	le32(raw + 8, MULTIBOOT_HEADER_MAGIC);
	le32(raw + 12, 1u << 16);
	le32(raw + 16, -(MULTIBOOT_HEADER_MAGIC + (1u << 16)));
	write_file(tmp_path("aout.bin"), raw, sizeof(raw));
	expect_failure(ram, tmp_path("aout.bin"), "a.out", -ENOEXEC);

	/* Bigger than RAM. */
	const char *huge = tmp_path("huge.elf");
	int fd = open(huge, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && ftruncate(fd, (off_t)ram->size + 1) == 0);
	close(fd);
	expect_failure(ram, huge, "larger than guest RAM", -E2BIG);
	unlink(huge);
}

/* Corrupts one field of the default kernel's ELF header. */
static const char *write_patched(const char *name, size_t offset, const void *bytes, size_t len)
{
	struct kernel_spec k = default_kernel();
	struct image img = build_kernel(&k);
	memcpy(img.data + offset, bytes, len);
	const char *path = write_image(name, &img, img.size);
	free(img.data);
	return path;
}

static void test_elf_errors(struct guest_ram *ram)
{
	uint8_t b = ELFCLASS64;
	expect_failure(ram, write_patched("class64.elf", EI_CLASS, &b, 1), "32-bit", -ENOEXEC);
	b = ELFDATA2MSB;
	expect_failure(ram, write_patched("big-endian.elf", EI_DATA, &b, 1), "little-endian",
		       -ENOEXEC);
	uint16_t h = EM_X86_64;
	expect_failure(ram, write_patched("x86-64.elf", offsetof(Elf32_Ehdr, e_machine), &h, 2),
		       "machine", -ENOEXEC);
	h = ET_DYN;
	expect_failure(ram, write_patched("dyn.elf", offsetof(Elf32_Ehdr, e_type), &h, 2), "ET_EXEC",
		       -ENOEXEC);
	h = 0;
	expect_failure(ram, write_patched("no-phdrs.elf", offsetof(Elf32_Ehdr, e_phnum), &h, 2),
		       "PT_LOAD", -ENOEXEC);
	uint32_t w = 0x100000;
	expect_failure(ram, write_patched("phdrs-past-end.elf", offsetof(Elf32_Ehdr, e_phoff), &w, 4),
		       "truncated", -ENOEXEC);

	struct kernel_spec k = default_kernel();
	k.seg[0].type = PT_NOTE;
	k.seg[1].type = PT_NOTE;
	expect_failure(ram, write_spec("notes-only.elf", &k), "no PT_LOAD", -ENOEXEC);

	k = default_kernel();
	k.seg[1].memsz = 0x80;
	expect_failure(ram, write_spec("filesz.elf", &k), "larger than its memory size", -ENOEXEC);

	k = default_kernel();
	k.seg[1].paddr = 0xF00000;
	k.seg[1].memsz = 0x200000;
	expect_failure(ram, write_spec("outside.elf", &k), "outside guest RAM (16 MiB)", -ENOMEM);
	k.seg[1].paddr = 0xFFFFF000;
	k.seg[1].memsz = 0x2000;
	expect_failure(ram, write_spec("wraps.elf", &k), "outside guest RAM", -ENOMEM);

	k = default_kernel();
	k.seg[1].paddr = 0x800;
	expect_failure(ram, write_spec("low.elf", &k), "below 0x1000", -ENOEXEC);

	k = default_kernel();
	k.seg[1].paddr = 0x8000;
	k.seg[1].memsz = 0x1001;
	expect_failure(ram, write_spec("info-area.elf", &k), "boot information area", -ENOEXEC);
	k.seg[1].paddr = 0xAFFF;
	k.seg[1].memsz = 0x100;
	expect_failure(ram, write_spec("info-area-2.elf", &k), "boot information area", -ENOEXEC);

	k = default_kernel();
	k.seg[1].paddr = 0xA0000;
	expect_failure(ram, write_spec("vga.elf", &k), "reserved", -ENOEXEC);

	k = default_kernel();
	k.seg[1].paddr = 0x101000;
	expect_failure(ram, write_spec("overlap.elf", &k), "overlap", -ENOEXEC);

	k = default_kernel();
	k.entry = 0x500000;
	expect_failure(ram, write_spec("entry.elf", &k), "entry point", -ENOEXEC);
	/* Higher-half: an entry inside neither a virtual nor a physical
	 * range (here the virtual range's bss end, the physical one's gap). */
	k = default_kernel();
	k.seg[0].vaddr = 0xC0100000;
	k.seg[1].vaddr = 0xC0200000;
	k.entry = 0x180000;
	expect_failure(ram, write_spec("entry-nowhere.elf", &k), "entry point 0x180000 is inside no",
		       -ENOEXEC);
}

static void test_multiboot_header_errors(struct guest_ram *ram)
{
	struct kernel_spec k = default_kernel();
	k.no_header = true;
	expect_failure(ram, write_spec("no-header.elf", &k), "no Multiboot header in the first 8192",
		       -ENOEXEC);

	k = default_kernel();
	k.checksum_delta = 1;
	expect_failure(ram, write_spec("checksum.elf", &k), "checksum", -ENOEXEC);

	k = default_kernel();
	k.mb_flags = 0x3 | (1u << 3);
	expect_failure(ram, write_spec("flag3.elf", &k), "unsupported", -ENOEXEC);
	k.mb_flags = 1u << 15;
	expect_failure(ram, write_spec("flag15.elf", &k), "0x8000", -ENOEXEC);

	/* A header past the first 8192 bytes does not count. */
	k = default_kernel();
	k.no_header = true;
	struct image img = build_kernel(&k);
	le32(img.data + 0x2000, MULTIBOOT_HEADER_MAGIC);
	le32(img.data + 0x2004, 0);
	le32(img.data + 0x2008, -MULTIBOOT_HEADER_MAGIC);
	expect_failure(ram, write_image("late-header.elf", &img, img.size), "no Multiboot header",
		       -ENOEXEC);
	/* Straddling the 8192 boundary does not count either. */
	memset(img.data + 0x2000, 0, 12);
	le32(img.data + 0x1FFC, MULTIBOOT_HEADER_MAGIC);
	le32(img.data + 0x2000, 0);
	le32(img.data + 0x2004, -MULTIBOOT_HEADER_MAGIC);
	expect_failure(ram, write_image("straddle.elf", &img, img.size), "no Multiboot header",
		       -ENOEXEC);
	free(img.data);
}

static void test_initrd_errors(struct guest_ram *ram)
{
	struct kernel_spec k = default_kernel();
	const char *kernel = write_spec("kern-for-initrd.elf", &k);
	const char *missing = tmp_path("missing.img");
	expect_failure_in(ram, kernel, missing, missing, "No such file", -ENOENT);

	/* Sparse: bigger than what is left of RAM above the kernel. */
	const char *big = tmp_path("big.img");
	int fd = open(big, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && ftruncate(fd, (off_t)ram->size - 0x203000 + 1) == 0);
	close(fd);
	expect_failure_in(ram, kernel, big, big, "does not fit", -ENOMEM);

	/* Exactly what is left fits. */
	fd = open(big, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0 && ftruncate(fd, (off_t)ram->size - 0x203000) == 0);
	close(fd);
	struct vcpu_state cpu;
	char err[256];
	CHECK_EQ(load(ram, kernel, big, NULL, &cpu, err, sizeof(err)), 0);
	unlink(big);

	expect_failure_in(ram, kernel, tmpdir, tmpdir, "regular file", -EINVAL);
}

static void test_odd_arguments(struct guest_ram *ram)
{
	struct kernel_spec k = default_kernel();
	const char *kernel = write_spec("kern-args.elf", &k);
	struct vcpu_state cpu;

	/* A tiny or missing error buffer is never overrun. */
	char small[8];
	memset(small, 'x', sizeof(small));
	CHECK(load(ram, tmp_path("nope.elf"), NULL, NULL, &cpu, small, 5) < 0);
	CHECK_EQ(small[4], 0);
	CHECK_EQ(small[5], 'x');
	CHECK(load(ram, tmp_path("nope.elf"), NULL, NULL, &cpu, NULL, 0) < 0);

	/* A command line that does not fit the info area. */
	size_t len = 64 * 1024;
	char *longcmd = malloc(len + 1);
	memset(longcmd, 'a', len);
	longcmd[len] = 0;
	char err[256];
	CHECK_EQ(load(ram, kernel, NULL, longcmd, &cpu, err, sizeof(err)), -E2BIG);
	CHECK_STR_CONTAINS(err, "command line too long");
	/* With the path and its space it must still fit: the longest that
	 * does, and one byte more. */
	size_t room = CMDLINE_MAX - 1 - strlen(kernel) - 1;
	longcmd[room] = 0;
	CHECK_EQ(load(ram, kernel, NULL, longcmd, &cpu, err, sizeof(err)), 0);
	uint32_t mbi = cpu.regs[REG_EBX];
	CHECK_EQ(strlen(ram_str(ram, rd32(ram, mbi + 16))), CMDLINE_MAX - 1);
	longcmd[room] = 'a';
	longcmd[room + 1] = 0;
	CHECK_EQ(load(ram, kernel, NULL, longcmd, &cpu, err, sizeof(err)), -E2BIG);
	CHECK_STR_CONTAINS(err, "with the kernel's path");
	free(longcmd);
	/* No --append: the path alone, no trailing space. */
	CHECK_EQ(load(ram, kernel, NULL, "", &cpu, err, sizeof(err)), 0);
	CHECK(strcmp(ram_str(ram, rd32(ram, cpu.regs[REG_EBX] + 16)), kernel) == 0);
	CHECK_EQ(load(ram, kernel, NULL, NULL, &cpu, err, sizeof(err)), 0);
	CHECK(strcmp(ram_str(ram, rd32(ram, cpu.regs[REG_EBX] + 16)), kernel) == 0);

	/* A newline in the path does not make two lines. */
	const char *odd = tmp_path("odd\nname.elf");
	CHECK_EQ(load(ram, odd, NULL, NULL, &cpu, err, sizeof(err)), -ENOENT);
	CHECK(strchr(err, '\n') == NULL);
	CHECK_STR_CONTAINS(err, "odd?name.elf: cannot open: No such file");
}

static uint32_t rng_state = 0x12345678;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* Every prefix of a kernel and random corruptions of its headers: the
 * loader may accept or refuse, but must not crash (the sanitizers watch)
 * and must say why when it refuses. */
static void test_robustness(struct guest_ram *ram)
{
	struct kernel_spec k = default_kernel();
	struct image img = build_kernel(&k);
	struct vcpu_state cpu;
	char err[512];
	unsigned refused_ok = 0, refusals = 0;

	for (size_t len = 0; len < img.size; len += len < 0x1100 ? 1 : 61) {
		const char *path = write_image("prefix.elf", &img, len);
		int rc = load(ram, path, NULL, NULL, &cpu, err, sizeof(err));
		if (rc < 0) {
			refusals++;
			refused_ok += strncmp(err, path, strlen(path)) == 0;
		}
	}
	CHECK(refusals > 0);
	CHECK_EQ(refused_ok, refusals);

	uint8_t *copy = malloc(img.size);
	refusals = refused_ok = 0;
	for (unsigned iter = 0; iter < 3000; iter++) {
		memcpy(copy, img.data, img.size);
		unsigned flips = 1 + rng() % 4;
		for (unsigned f = 0; f < flips; f++) {
			/* Mostly the headers, where the interesting bytes are. */
			size_t at = rng() % 4 ? rng() % 0x100 : 0x1000 + rng() % 12;
			copy[at] = (uint8_t)rng();
		}
		struct image mutated = { .data = copy, .size = img.size };
		const char *path = write_image("fuzz.elf", &mutated, img.size);
		int rc = load(ram, path, NULL, NULL, &cpu, err, sizeof(err));
		if (rc < 0) {
			refusals++;
			refused_ok += strncmp(err, path, strlen(path)) == 0 && !strchr(err, '\n');
		}
	}
	CHECK(refusals > 0);
	CHECK_EQ(refused_ok, refusals);
	free(copy);
	free(img.data);
}

static unsigned open_fds(void)
{
	unsigned n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void remove_tmpdir(void)
{
	DIR *d = opendir(tmpdir);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			unlink(tmp_path(e->d_name));
		}
		closedir(d);
	}
	rmdir(tmpdir);
}

int main(void)
{
	const char *base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/btvm-multiboot-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 2;
	}

	test_happy_path();
	test_high_ram();
	test_initrd_in_memory();
	test_minimal();
	test_higher_half();
	test_accepted_flags();

	struct guest_ram ram;
	CHECK_EQ(guest_ram_init(&ram, RAM_MIB, 0), 0);
	unsigned fds = open_fds();
	test_file_errors(&ram);
	test_elf_errors(&ram);
	test_multiboot_header_errors(&ram);
	test_initrd_errors(&ram);
	test_odd_arguments(&ram);
	test_robustness(&ram);
	CHECK_EQ(open_fds(), fds);  /* every path closed what it opened */
	guest_ram_destroy(&ram);

	remove_tmpdir();
	return check_report("test_multiboot");
}
