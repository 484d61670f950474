/* What every guest loader shares: the boot configuration, reading a whole
 * image file with checks, one-line error messages naming the file, and
 * little-endian stores into guest RAM. */
#ifndef BTVM_BOOT_BOOTFILE_H
#define BTVM_BOOT_BOOTFILE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "mmu/guest_ram.h"

/* A linear framebuffer set up before the kernel starts, as a VBE BIOS's
 * mode set leaves one: XRGB8888, width*4 bytes or more a line. */
struct boot_framebuffer {
	uint32_t base;            /* guest physical */
	uint32_t size;            /* bytes of video memory there */
	uint16_t width, height, line_length;
};

struct boot_config {
	const char *kernel_path;  /* with kernel_data: only names it in messages */
	const char *initrd_path;  /* NULL: none; with initrd_data: only its name */
	/* Images already in memory (a disk's, boot/disk_boot.h): used instead
	 * of reading the paths when not NULL; read, never written or freed. */
	const uint8_t *kernel_data;
	size_t kernel_size;
	const uint8_t *initrd_data;  /* NULL: the initrd_path file, if any */
	size_t initrd_size;
	const char *cmdline;      /* NULL: empty */
	uint32_t acpi_rsdp;       /* physical address of the RSDP, 0 if none */
	bool vga_text;            /* a VGA in 80x25 colour text mode is there */
	const struct boot_framebuffer *fb;  /* the screen is this instead, or NULL */
	/* Random bytes for the kernel's entropy pool (a Linux kernel takes
	 * them as a bootloader's seed), or NULL. */
	const uint8_t *rng_seed;
	size_t rng_seed_len;      /* at most BOOT_RNG_SEED_MAX */
	/* A firmware ROM image (boot/firmware.h) to boot through instead of
	 * a kernel, or NULL; cpu_signature is CPUID leaf 1's EAX, which the
	 * processor leaves in EDX at RESET. */
	const uint8_t *firmware_data;
	size_t firmware_size;
	uint32_t cpu_signature;
};
#define BOOT_RNG_SEED_MAX 64u

/* Formats "path: message" into err (when err_len > 0), with control
 * characters replaced so it prints as one line, and returns code. */
__attribute__((format(printf, 5, 6)))
int boot_fail(char *err, size_t err_len, const char *path, int code, const char *fmt, ...);
__attribute__((format(printf, 5, 0)))
int boot_vfail(char *err, size_t err_len, const char *path, int code, const char *fmt,
	       va_list ap);

/* Reads a whole regular, non-empty file of at most max_size bytes into a
 * malloc'd buffer. what names the file in messages ("kernel", "initrd").
 * Returns 0 or a negative errno with the message in err. */
int boot_read_file(const char *path, const char *what, uint64_t max_size, uint8_t **data,
		   size_t *size, char *err, size_t err_len);

/* Reads up to len bytes, stopping early only at end of file. */
int boot_read_fully(int fd, uint8_t *buf, size_t len, size_t *got);

static inline uint16_t boot_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t boot_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void boot_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void boot_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void boot_put64(uint8_t *p, uint64_t v)
{
	boot_put32(p, (uint32_t)v);
	boot_put32(p + 4, (uint32_t)(v >> 32));
}

#endif
