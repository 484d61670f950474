/* The Linux boot protocol loader: synthetic bzImages (a setup header and a
 * protected-mode payload) built here, loaded through boot_load like the
 * board does; the zero page, the e820 map, the command line, the initrd's
 * place, the entry state, then each way an image is refused, and random
 * corruption that must fail cleanly or load within RAM. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/boot.h"
#include "boot/linux.h"
#include "check.h"

#define RAM_MIB 64u
#define SETUP_SECTS 4u
#define PAYLOAD_LEN 0x3000u
#define INIT_SIZE 0x800000u   /* the decompressor's working area */
#define PREF_ADDRESS 0x1000000u
#define BP LINUX_BOOT_PARAMS_ADDR

static char tmpdir[] = "/tmp/btvm-linux-test-XXXXXX";

struct bz_spec {
	uint16_t version;
	uint8_t loadflags;
	uint16_t xloadflags;
	uint32_t code32_start;
	uint32_t cmdline_size;
	uint32_t initrd_max;
	uint32_t init_size;
	size_t truncate_to;     /* non-zero: file cut to this many bytes */
};

static struct bz_spec default_spec(void)
{
	return (struct bz_spec){ .version = 0x020f, .loadflags = 0x01, .code32_start = 0x100000,
				 .cmdline_size = 2047, .initrd_max = 0x7fffffff,
				 .init_size = INIT_SIZE };
}

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);   /* the host is little-endian like the guest */
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
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

static size_t build_image(const struct bz_spec *s, uint8_t **out)
{
	size_t size = (SETUP_SECTS + 1) * 512 + PAYLOAD_LEN;
	uint8_t *img = calloc(1, size);
	img[0x1f1] = SETUP_SECTS;
	put16(img + 0x1fe, 0xaa55);
	img[0x200] = 0xeb;
	img[0x201] = 0x6a;   /* header ends at 0x26c, as in protocol 2.15 */
	memcpy(img + 0x202, "HdrS", 4);
	put16(img + 0x206, s->version);
	img[0x211] = s->loadflags;
	put32(img + 0x214, s->code32_start);
	put32(img + 0x22c, s->initrd_max);
	put16(img + 0x236, s->xloadflags);
	put32(img + 0x238, s->cmdline_size);
	put32(img + 0x258, PREF_ADDRESS);
	put32(img + 0x260, s->init_size);
	for (size_t i = 0; i < PAYLOAD_LEN; i++)
		img[(SETUP_SECTS + 1) * 512 + i] = (uint8_t)(i * 7 + 3);
	*out = img;
	return s->truncate_to ? s->truncate_to : size;
}

static const char *write_file(const char *name, const void *data, size_t size)
{
	static char path[4][300];
	static unsigned next;
	char *p = path[next++ % 4];
	snprintf(p, sizeof(path[0]), "%s/%s", tmpdir, name);
	FILE *f = fopen(p, "wb");
	if (!f) {
		perror(p);
		exit(2);
	}
	if (size)
		fwrite(data, 1, size, f);
	fclose(f);
	return p;
}

static const char *write_spec(const char *name, const struct bz_spec *s)
{
	uint8_t *img;
	size_t size = build_image(s, &img);
	const char *p = write_file(name, img, size);
	free(img);
	return p;
}

static int load(struct guest_ram *ram, const char *kernel, const char *initrd, const char *cmdline,
		struct vcpu_state *cpu, enum boot_kind *kind, char *err, size_t err_len)
{
	struct boot_config cfg = { .kernel_path = kernel, .initrd_path = initrd, .cmdline = cmdline,
				   .acpi_rsdp = 0xe0000 };
	return boot_load(ram, &cfg, cpu, kind, err, err_len);
}

static void expect_failure(struct guest_ram *ram, const char *kernel, const char *initrd,
			   const char *cmdline, const char *word)
{
	struct vcpu_state cpu;
	enum boot_kind kind;
	char err[512];
	int rc = load(ram, kernel, initrd, cmdline, &cpu, &kind, err, sizeof(err));
	CHECK(rc < 0);
	CHECK(strstr(err, word) != NULL);
	CHECK(strchr(err, '\n') == NULL);
	if (rc >= 0 || !strstr(err, word))
		fprintf(stderr, "  wanted '%s' in: %s\n", word, err);
}

static void test_happy_path(struct guest_ram *ram)
{
	struct bz_spec s = default_spec();
	const char *kernel = write_spec("bz", &s);
	uint8_t initrd[10000];
	for (size_t i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i ^ 0x5a);
	const char *initrd_path = write_file("initrd", initrd, sizeof(initrd));
	struct vcpu_state cpu;
	enum boot_kind kind;
	char err[512];
	memset(ram->host, 0xcc, ram->size);
	int rc = load(ram, kernel, initrd_path, "console=ttyS0 root=/dev/ram0", &cpu, &kind, err,
		      sizeof(err));
	CHECK_EQ(rc, 0);
	if (rc) {
		fprintf(stderr, "  %s\n", err);
		return;
	}
	CHECK_EQ(kind, BOOT_LINUX);
	/* The payload at 1 MiB, byte for byte. */
	for (size_t i = 0; i < PAYLOAD_LEN; i += 97)
		CHECK_EQ(ram->host[0x100000 + i], (uint8_t)(i * 7 + 3));
	/* Entry state of the 32-bit boot protocol. */
	CHECK_EQ(cpu.eip, 0x100000);
	CHECK_EQ(cpu.regs[REG_ESI], BP);
	CHECK_EQ(cpu.regs[REG_EBP], 0);
	CHECK_EQ(cpu.regs[REG_EDI], 0);
	CHECK_EQ(cpu.regs[REG_EBX], 0);
	CHECK_EQ(cpu.eflags & EFLAGS_IF, 0);
	CHECK_EQ(cpu.cr0 & (CR0_PE | CR0_PG), CR0_PE);
	CHECK_EQ(cpu.seg[SEG_CS].selector, 0x10);
	CHECK_EQ(cpu.seg[SEG_DS].selector, 0x18);
	CHECK_EQ(cpu.seg[SEG_SS].selector, 0x18);
	CHECK_EQ(cpu.seg[SEG_ES].selector, 0x18);
	CHECK_EQ(cpu.seg[SEG_CS].limit, 0xffffffffu);
	CHECK_EQ(cpu.gdtr.base, LINUX_GDT_ADDR);
	/* The GDT holds the descriptors the selectors name. */
	CHECK_EQ(rd64(ram, LINUX_GDT_ADDR + 0x10), 0x00cf9b000000ffffull);
	CHECK_EQ(rd64(ram, LINUX_GDT_ADDR + 0x18), 0x00cf93000000ffffull);
	/* Zero page: the header copied, the loader's fields filled in. */
	CHECK(memcmp(ram->host + BP + 0x202, "HdrS", 4) == 0);
	CHECK_EQ(ram->host[BP + 0x1f1], SETUP_SECTS);
	CHECK_EQ(ram->host[BP + 0x210], 0xff);
	CHECK_EQ(rd32(ram, BP + 0x228), LINUX_CMDLINE_ADDR);
	CHECK(strcmp((const char *)ram->host + LINUX_CMDLINE_ADDR, "console=ttyS0 root=/dev/ram0") == 0);
	CHECK_EQ(rd64(ram, BP + 0x070), 0xe0000);
	/* Nothing outside the header was left from the 0xcc fill. */
	CHECK_EQ(ram->host[BP + 0x300 + 20 * 4], 0);
	/* The initrd: page-aligned, at the top of RAM, clear of the kernel's
	 * decompression area, intact. */
	uint32_t start = rd32(ram, BP + 0x218), size = rd32(ram, BP + 0x21c);
	CHECK_EQ(size, sizeof(initrd));
	CHECK_EQ(start % 4096, 0);
	CHECK(start + size <= ram->size);
	CHECK(ram->size - (start + size) < 4096);
	CHECK(start >= PREF_ADDRESS + INIT_SIZE);
	CHECK(memcmp(ram->host + start, initrd, sizeof(initrd)) == 0);
	/* e820: low RAM, the EBDA and BIOS area reserved, RAM from 1 MiB. */
	CHECK_EQ(ram->host[BP + 0x1e8], 4);
	static const uint64_t want[4][3] = {
		{ 0, 0x9fc00, 1 },
		{ 0x9fc00, 0x400, 2 },
		{ 0xe0000, 0x20000, 2 },
		{ 0x100000, (uint64_t)RAM_MIB * 1048576 - 0x100000, 1 },
	};
	for (unsigned i = 0; i < 4; i++) {
		uint64_t e = BP + 0x2d0 + 20 * i;
		CHECK_EQ(rd64(ram, e), want[i][0]);
		CHECK_EQ(rd64(ram, e + 8), want[i][1]);
		CHECK_EQ(rd32(ram, e + 16), want[i][2]);
	}
}

static void test_no_initrd(struct guest_ram *ram)
{
	struct bz_spec s = default_spec();
	const char *kernel = write_spec("bz-plain", &s);
	struct vcpu_state cpu;
	enum boot_kind kind;
	char err[256];
	CHECK_EQ(load(ram, kernel, NULL, NULL, &cpu, &kind, err, sizeof(err)), 0);
	CHECK_EQ(rd32(ram, BP + 0x218), 0);
	CHECK_EQ(rd32(ram, BP + 0x21c), 0);
	CHECK_EQ(ram->host[LINUX_CMDLINE_ADDR], 0);
}

/* The RNG seed: one setup_data entry (type 9, the bytes as given) at
 * LINUX_SETUP_DATA_ADDR, named by the header's setup_data pointer, which
 * any value in the image file could not survive; none without a seed, and
 * the field left alone under protocol 2.08 and older, which lack it. */
static void test_rng_seed(struct guest_ram *ram)
{
	struct bz_spec s = default_spec();
	uint8_t *image;
	size_t size = build_image(&s, &image);
	memset(image + 0x250, 0xee, 8);   /* a stray pointer in the file */
	uint8_t seed[32];
	for (size_t i = 0; i < sizeof(seed); i++)
		seed[i] = (uint8_t)(i * 11 + 5);
	struct boot_config cfg = { .kernel_path = "bz-seed", .kernel_data = image,
				   .kernel_size = size, .rng_seed = seed, .rng_seed_len = sizeof(seed) };
	struct vcpu_state cpu;
	enum boot_kind kind;
	char err[256];
	memset(ram->host, 0xcc, ram->size);
	CHECK_EQ(boot_load(ram, &cfg, &cpu, &kind, err, sizeof(err)), 0);
	CHECK_EQ(rd64(ram, BP + 0x250), LINUX_SETUP_DATA_ADDR);
	CHECK_EQ(rd64(ram, LINUX_SETUP_DATA_ADDR), 0);          /* the last entry */
	CHECK_EQ(rd32(ram, LINUX_SETUP_DATA_ADDR + 8), 9);      /* SETUP_RNG_SEED */
	CHECK_EQ(rd32(ram, LINUX_SETUP_DATA_ADDR + 12), sizeof(seed));
	CHECK(memcmp(ram->host + LINUX_SETUP_DATA_ADDR + 16, seed, sizeof(seed)) == 0);

	cfg.rng_seed = NULL;
	cfg.rng_seed_len = 0;
	CHECK_EQ(boot_load(ram, &cfg, &cpu, &kind, err, sizeof(err)), 0);
	CHECK_EQ(rd64(ram, BP + 0x250), 0);

	put16(image + 0x206, 0x0208);
	memset(image + 0x250, 0, 8);
	cfg.rng_seed = seed;
	cfg.rng_seed_len = sizeof(seed);
	memset(ram->host, 0xcc, ram->size);
	CHECK_EQ(boot_load(ram, &cfg, &cpu, &kind, err, sizeof(err)), 0);
	CHECK_EQ(rd64(ram, BP + 0x250), 0);
	CHECK_EQ(ram->host[LINUX_SETUP_DATA_ADDR + 8], 0xcc);   /* nothing written */
	free(image);
}

/* Kernel and initrd already in memory (read from a disk image): loaded as
 * from files, the paths only naming them in messages. */
static void test_in_memory(struct guest_ram *ram)
{
	struct bz_spec s = default_spec();
	uint8_t *image;
	size_t size = build_image(&s, &image);
	static uint8_t initrd[7000];
	for (size_t i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i * 3 + 1);
	struct boot_config cfg = { .kernel_path = "disk.img:/boot/vmlinuz-6.1", .kernel_data = image,
				   .kernel_size = size, .initrd_path = "disk.img:/boot/initrd.img-6.1",
				   .initrd_data = initrd, .initrd_size = sizeof(initrd),
				   .cmdline = "root=UUID=x" };
	struct vcpu_state cpu;
	enum boot_kind kind;
	char err[512] = "";
	memset(ram->host, 0xcc, ram->size);
	CHECK_EQ(boot_load(ram, &cfg, &cpu, &kind, err, sizeof(err)), 0);
	CHECK_EQ(kind, BOOT_LINUX);
	for (size_t i = 0; i < PAYLOAD_LEN; i += 97)
		CHECK_EQ(ram->host[0x100000 + i], (uint8_t)(i * 7 + 3));
	uint32_t start = rd32(ram, BP + 0x218), isize = rd32(ram, BP + 0x21c);
	CHECK_EQ(isize, sizeof(initrd));
	CHECK(start + isize <= ram->size && memcmp(ram->host + start, initrd, sizeof(initrd)) == 0);
	CHECK(strcmp((const char *)ram->host + LINUX_CMDLINE_ADDR, "root=UUID=x") == 0);
	/* The name from kernel_path in the messages; empty buffers refused. */
	cfg.initrd_size = 0;
	CHECK(boot_load(ram, &cfg, &cpu, &kind, err, sizeof(err)) < 0);
	CHECK_STR_CONTAINS(err, "disk.img:/boot/initrd.img-6.1: initrd is an empty file");
	cfg.initrd_data = NULL;
	cfg.initrd_path = NULL;
	cfg.kernel_size = 0x300;   /* the header is there, the payload is not */
	CHECK(boot_load(ram, &cfg, &cpu, &kind, err, sizeof(err)) < 0);
	CHECK_STR_CONTAINS(err, "disk.img:/boot/vmlinuz-6.1: ");
	CHECK_STR_CONTAINS(err, "truncated");
	cfg.kernel_size = 0;
	CHECK(boot_load(ram, &cfg, &cpu, &kind, err, sizeof(err)) < 0);
	CHECK_STR_CONTAINS(err, "empty");
	free(image);
}

static void test_refusals(struct guest_ram *ram)
{
	struct bz_spec s;

	s = default_spec();
	s.version = 0x0204;
	expect_failure(ram, write_spec("old", &s), NULL, NULL, "too old");

	s = default_spec();
	s.loadflags = 0;
	expect_failure(ram, write_spec("zimage", &s), NULL, NULL, "zImage");

	s = default_spec();
	s.xloadflags = 1;
	expect_failure(ram, write_spec("x86_64", &s), NULL, NULL, "64-bit kernel");

	s = default_spec();
	s.code32_start = 0x200000;
	expect_failure(ram, write_spec("hooked", &s), NULL, NULL, "code32_start");

	s = default_spec();
	s.init_size = 0x4000000;   /* more than the 64 MiB of RAM beyond 16 MiB */
	expect_failure(ram, write_spec("huge", &s), NULL, NULL, "to decompress itself");

	s = default_spec();
	s.truncate_to = 0x300;     /* the header is there, the payload is not */
	expect_failure(ram, write_spec("truncated", &s), NULL, NULL, "truncated");

	s = default_spec();
	s.cmdline_size = 8;
	expect_failure(ram, write_spec("shortcmd", &s), NULL, "console=ttyS0", "command line too long");

	s = default_spec();
	const char *kernel = write_spec("bz2", &s);
	expect_failure(ram, kernel, "/nonexistent/initrd", NULL, "cannot open initrd");
	expect_failure(ram, kernel, tmpdir, NULL, "not a regular file");
	expect_failure(ram, kernel, write_file("empty-initrd", "", 0), NULL, "empty");
	size_t big = (size_t)RAM_MIB * 3 << 18;   /* 3/4 of RAM: no room above the kernel */
	uint8_t *blob = calloc(1, big);
	expect_failure(ram, kernel, write_file("big-initrd", blob, big), NULL, "does not fit");
	free(blob);

	expect_failure(ram, "/nonexistent/vmlinuz", NULL, NULL, "cannot open kernel");
	expect_failure(ram, write_file("empty", "", 0), NULL, NULL, "empty");
}

/* Flipped bytes anywhere in the header: either a clean refusal or a load
 * whose every write stayed inside RAM (ASan watches the second). */
static void test_corruption(struct guest_ram *ram)
{
	struct bz_spec s = default_spec();
	uint8_t *img;
	size_t size = build_image(&s, &img);
	uint32_t seed = 0x2468ace1u;
	for (unsigned round = 0; round < 400; round++) {
		uint8_t *copy = malloc(size);
		memcpy(copy, img, size);
		for (unsigned k = 0; k < 3; k++) {
			seed = seed * 1103515245u + 12345u;
			size_t at = 0x1f1 + (seed >> 8) % 0x80;
			seed = seed * 1103515245u + 12345u;
			copy[at] = (uint8_t)(seed >> 16);
		}
		const char *p = write_file("fuzz", copy, size);
		struct vcpu_state cpu;
		enum boot_kind kind;
		char err[512] = "";
		int rc = load(ram, p, NULL, "x", &cpu, &kind, err, sizeof(err));
		CHECK(rc == 0 || (rc < 0 && err[0]));
		free(copy);
	}
	free(img);
}

/* RAM split as a PC with more than 3 GiB has it (faked here on a small
 * memfd: its second half stands for RAM from 4 GiB): e820 lists RAM from
 * 1 MiB to the low range's end and the high range from 4 GiB, the initrd
 * goes below the low range's end, ALT_MEM_K counts the low range only. */
static void test_high_ram(struct guest_ram *ram)
{
	uint64_t low = ram->size / 2;
	ram->low_size = low;
	struct bz_spec s = default_spec();
	const char *kernel = write_spec("bz-high", &s);
	uint8_t initrd[5000] = { 1, 2, 3 };
	const char *initrd_path = write_file("initrd-high", initrd, sizeof(initrd));
	struct vcpu_state cpu;
	enum boot_kind kind;
	char err[512];
	int rc = load(ram, kernel, initrd_path, "", &cpu, &kind, err, sizeof(err));
	CHECK_EQ(rc, 0);
	if (!rc) {
		CHECK_EQ(ram->host[BP + 0x1e8], 5);
		uint64_t e = BP + 0x2d0 + 20 * 3;
		CHECK_EQ(rd64(ram, e), 0x100000);
		CHECK_EQ(rd64(ram, e + 8), low - 0x100000);
		CHECK_EQ(rd64(ram, e + 20), 1ull << 32);
		CHECK_EQ(rd64(ram, e + 28), ram->size - low);
		CHECK_EQ(rd32(ram, e + 36), 1);
		uint32_t start = rd32(ram, BP + 0x218);
		CHECK(start + sizeof(initrd) <= low && low - (start + sizeof(initrd)) < 4096);
		CHECK_EQ(rd32(ram, BP + 0x1e0), (low - 0x100000) >> 10);
	}
	ram->low_size = ram->size;
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 2;
	}
	struct guest_ram ram;
	if (guest_ram_init(&ram, RAM_MIB, 0)) {
		fprintf(stderr, "cannot allocate guest RAM\n");
		return 2;
	}
	test_happy_path(&ram);
	test_no_initrd(&ram);
	test_in_memory(&ram);
	test_rng_seed(&ram);
	test_refusals(&ram);
	test_corruption(&ram);
	test_high_ram(&ram);
	guest_ram_destroy(&ram);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return check_report("test_linux_boot");
}
