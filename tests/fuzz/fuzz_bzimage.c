/* Fuzzing harness for the Linux bzImage loader (src/boot/linux.c): the
 * input is the kernel image, recognised and loaded as boot_load does, once
 * alone and once with a 64 KiB initrd (whose place depends on the header's
 * initrd_addr_max and on where the kernel decompresses). Guest RAM is an
 * exact-size heap block, so a sanitizer sees any write that leaves it. A
 * refusal must be one clean line; a load must leave the protocol's entry
 * state, the kernel's bytes at 1 MiB and the initrd intact, page-aligned
 * and inside RAM where the zero page says. The same image is then
 * prepared for the firmware's boot (firmware_prepare). */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"

#include "boot/bootfile.h"
#include "boot/linux.h"
#include "boot/linux_fwcfg.h"
#include "isa/vcpu.h"
#include "mmu/guest_ram.h"

#define RAM_BYTES (8u << 20)
#define KERNEL_PATH "fuzz-bzimage"
#define CMDLINE "console=ttyS0 root=/dev/ram0"
#define KERNEL_ADDR 0x100000u
#define INITRD_BYTES (64u << 10)
#define BP_RAMDISK_IMAGE (LINUX_BOOT_PARAMS_ADDR + 0x218u)
#define BP_RAMDISK_SIZE (LINUX_BOOT_PARAMS_ADDR + 0x21cu)

static uint8_t initrd_byte(size_t i)
{
	return (uint8_t)(i * 13 + 7);
}

/* A memfd holding the initrd, opened by its /proc path like any file. */
static const char *initrd_path(void)
{
	static char path[64];
	if (!path[0]) {
		int fd = memfd_create("fuzz-initrd", 0);
		fuzz_require(fd >= 0, "no memfd for the initrd");
		static uint8_t bytes[INITRD_BYTES];
		for (size_t i = 0; i < sizeof(bytes); i++)
			bytes[i] = initrd_byte(i);
		fuzz_require(write(fd, bytes, sizeof(bytes)) == (ssize_t)sizeof(bytes),
			     "cannot write the initrd");
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	return path;
}

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

static uint32_t ram_get32(const struct guest_ram *ram, uint64_t gpa)
{
	const uint8_t *p = ram->host + gpa;
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void load(const uint8_t *data, size_t size, const char *initrd)
{
	struct guest_ram *ram = fuzz_ram();
	struct boot_config cfg = { .kernel_path = KERNEL_PATH, .initrd_path = initrd,
				   .cmdline = CMDLINE, .acpi_rsdp = 0xe0000 };
	struct vcpu_state cpu;
	char err[256];
	/* boot_load asks this first; linux_load must stand on its own too. */
	bool recognised = linux_is_bzimage(data, size);
	int rc = linux_load(ram, &cfg, data, size, &cpu, err, sizeof(err));
	if (rc != 0) {
		/* A refused initrd's message names the initrd. */
		bool initrd_refused = initrd && strncmp(err, initrd, strlen(initrd)) == 0;
		fuzz_require_clean_error(rc, err, initrd_refused ? initrd : KERNEL_PATH);
		return;
	}
	fuzz_require(recognised, "a load of an image linux_is_bzimage refused");
	fuzz_require(cpu.eip == KERNEL_ADDR, "entry point is not code32_start at 1 MiB");
	fuzz_require(cpu.regs[REG_ESI] == LINUX_BOOT_PARAMS_ADDR, "ESI is not the zero page");
	fuzz_require(strcmp((const char *)ram->host + LINUX_CMDLINE_ADDR, CMDLINE) == 0,
		     "the command line is not in place");
	unsigned setup_sects = data[0x1f1] ? data[0x1f1] : 4;
	size_t offset = ((size_t)setup_sects + 1) * 512;
	fuzz_require(offset < size && size - offset <= RAM_BYTES - KERNEL_ADDR,
		     "a kernel loaded beyond the image or RAM");
	fuzz_require(memcmp(ram->host + KERNEL_ADDR, data + offset, size - offset) == 0,
		     "the protected-mode kernel is not at 1 MiB");
	uint32_t start = ram_get32(ram, BP_RAMDISK_IMAGE);
	uint32_t length = ram_get32(ram, BP_RAMDISK_SIZE);
	if (!initrd) {
		fuzz_require(start == 0 && length == 0, "an initrd in the zero page without one");
		return;
	}
	fuzz_require(length == INITRD_BYTES, "the zero page has the wrong initrd size");
	fuzz_require(start % 4096 == 0 && start >= KERNEL_ADDR + (size - offset) &&
		     (uint64_t)start + length <= RAM_BYTES, "the initrd is misplaced");
	for (size_t i = 0; i < length; i += 509)
		fuzz_require(ram->host[start + i] == initrd_byte(i), "the initrd is not intact");
}

/* The same image for the firmware to boot (boot/linux_fwcfg.c): a
 * refusal is one clean line; otherwise the parts are the image's, every
 * place is inside RAM and clear of the others, and the patched header
 * says where they are. */
static void firmware_prepare(const uint8_t *data, size_t size, size_t initrd_size)
{
	struct linux_fwcfg lf;
	char err[256];
	int rc = linux_fwcfg_prepare(data, size, KERNEL_PATH, initrd_size, CMDLINE, RAM_BYTES, &lf,
				     err, sizeof(err));
	if (rc != 0) {
		fuzz_require_clean_error(rc, err, KERNEL_PATH);
		return;
	}
	fuzz_require(lf.setup_size + lf.kernel_size == size && lf.kernel == data + lf.setup_size &&
		     lf.kernel_size > 0 && memcmp(lf.setup + 0x230, data + 0x230,
						  lf.setup_size - 0x230) == 0,
		     "the setup and kernel are not the image's");
	fuzz_require(lf.setup_addr + lf.setup_size <= lf.cmdline_addr &&
		     lf.cmdline_addr + lf.cmdline_size <= 0xa0000u, "the setup or command line misplaced");
	uint64_t kernel_end = (uint64_t)lf.kernel_addr + lf.kernel_size;
	fuzz_require(kernel_end <= RAM_BYTES && (lf.kernel_addr >= 0x100000u || kernel_end <= lf.setup_addr),
		     "the kernel is misplaced");
	fuzz_require(strcmp(lf.cmdline, CMDLINE) == 0 && lf.cmdline_size == strlen(CMDLINE) + 1,
		     "the command line is not the one given");
	fuzz_require(lf.setup[0x210] == LINUX_FWCFG_LOADER_TYPE, "type_of_loader is not QEMU's");
	if (lf.protocol >= 0x0202)
		fuzz_require(boot_get32(lf.setup + 0x228) == lf.cmdline_addr, "cmd_line_ptr is wrong");
	fuzz_require(boot_get32(lf.setup + 0x218) == lf.initrd_addr &&
		     boot_get32(lf.setup + 0x21c) == initrd_size, "the header's initrd is wrong");
	if (initrd_size)
		fuzz_require(lf.initrd_addr % 4096 == 0 && lf.initrd_addr >= kernel_end &&
			     (uint64_t)lf.initrd_addr + initrd_size <= RAM_BYTES,
			     "the initrd is misplaced");
	linux_fwcfg_free(&lf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	load(data, size, NULL);
	load(data, size, initrd_path());
	firmware_prepare(data, size, 0);
	firmware_prepare(data, size, INITRD_BYTES);
	return 0;
}
