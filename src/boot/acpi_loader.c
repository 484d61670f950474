/* The ACPI tables as fw_cfg's table loader files (boot/acpi_loader.h).
 * The command layout is QEMU's (hw/acpi/bios-linker-loader.c) as SeaBIOS
 * reads it (src/fw/romfile_loader.c): a little-endian command number,
 * then its fields, padded to 128 bytes. */
#include "boot/acpi_loader.h"

#include <errno.h>
#include <string.h>

#include "boot/bootfile.h"

#define LOADER_ALLOCATE 1u
#define LOADER_ADD_POINTER 2u
#define LOADER_ADD_CHECKSUM 3u
#define LOADER_ZONE_HIGH 1u
#define LOADER_ZONE_FSEG 2u
#define LOADER_FILE_LEN 56u

#define TABLES_FILE "etc/acpi/tables"
#define RSDP_FILE "etc/acpi/rsdp"

/* Where acpi_build lays its block out (acpi.h): the RSDP first, the FACS
 * at 0x40 (no checksum), the checksummed tables from 0x80. */
#define FIRST_SDT 0x80u
#define SDT_CHECKSUM 9u
#define RSDP_CHECKSUM 8u
#define RSDP_V1_LEN 20u
#define RSDP_EXT_CHECKSUM 32u
/* The second build's address: a difference only the pointers' top byte
 * sees, as the block is far smaller than 16 MiB. */
#define SECOND_BASE 0x40000000u

struct writer {
	struct acpi_loader_files *out;
	int err;
};

static uint8_t *command(struct writer *w, uint32_t cmd)
{
	if (w->out->loader_len + ACPI_LOADER_ENTRY_LEN > sizeof(w->out->loader)) {
		w->err = -ENOSPC;
		return NULL;
	}
	uint8_t *e = w->out->loader + w->out->loader_len;
	w->out->loader_len += ACPI_LOADER_ENTRY_LEN;
	memset(e, 0, ACPI_LOADER_ENTRY_LEN);
	boot_put32(e, cmd);
	return e + 4;
}

static void allocate(struct writer *w, const char *file, uint32_t align, uint8_t zone)
{
	uint8_t *p = command(w, LOADER_ALLOCATE);
	if (!p)
		return;
	strncpy((char *)p, file, LOADER_FILE_LEN - 1);
	boot_put32(p + LOADER_FILE_LEN, align);
	p[LOADER_FILE_LEN + 4] = zone;
}

static void add_pointer(struct writer *w, const char *dest, uint32_t offset)
{
	uint8_t *p = command(w, LOADER_ADD_POINTER);
	if (!p)
		return;
	strncpy((char *)p, dest, LOADER_FILE_LEN - 1);
	strncpy((char *)p + LOADER_FILE_LEN, TABLES_FILE, LOADER_FILE_LEN - 1);
	boot_put32(p + 2 * LOADER_FILE_LEN, offset);
	p[2 * LOADER_FILE_LEN + 4] = 4;
}

static void add_checksum(struct writer *w, const char *file, uint32_t offset, uint32_t start,
			 uint32_t length)
{
	uint8_t *p = command(w, LOADER_ADD_CHECKSUM);
	if (!p)
		return;
	strncpy((char *)p, file, LOADER_FILE_LEN - 1);
	boot_put32(p + LOADER_FILE_LEN, offset);
	boot_put32(p + LOADER_FILE_LEN + 4, start);
	boot_put32(p + LOADER_FILE_LEN + 8, length);
}

/* The pointers in [from, to) of the two builds: ADD_POINTER into dest at
 * offset - rebase. */
static void find_pointers(struct writer *w, const uint8_t *a, const uint8_t *b, uint32_t from,
			  uint32_t to, const char *dest, uint32_t rebase)
{
	for (uint32_t i = from; i + 4 <= to; i++)
		if (boot_get32(a + i) + SECOND_BASE == boot_get32(b + i))
			add_pointer(w, dest, i - rebase);
}

int acpi_loader_build(const struct acpi_config *cfg, struct acpi_loader_files *out)
{
	uint8_t a[ACPI_TABLES_MAX_LEN], b[ACPI_TABLES_MAX_LEN];
	uint32_t rsdp_a, rsdp_b;
	int len = acpi_build(a, sizeof(a), 0, cfg, &rsdp_a);
	if (len < 0)
		return len;
	int len_b = acpi_build(b, sizeof(b), SECOND_BASE, cfg, &rsdp_b);
	if (len_b != len || rsdp_a != 0 || (uint32_t)len < FIRST_SDT)
		return len_b < 0 ? len_b : -EINVAL;

	memset(out, 0, sizeof(*out));
	memcpy(out->tables, a, (size_t)len);
	memset(out->tables, 0, FIRST_SDT / 2);   /* the RSDP goes in a file of its own */
	out->tables_len = (size_t)len;
	memcpy(out->rsdp, a, ACPI_LOADER_RSDP_LEN);

	/* The tables' extents, their checksums out of the comparison. */
	uint32_t starts[ACPI_LOADER_MAX_COMMANDS], lens[ACPI_LOADER_MAX_COMMANDS];
	unsigned ntables = 0;
	for (uint32_t off = FIRST_SDT; off + 8 <= (uint32_t)len;) {
		uint32_t tlen = boot_get32(a + off + 4);
		if (tlen < SDT_CHECKSUM + 1 || tlen > (uint32_t)len - off ||
		    ntables == ACPI_LOADER_MAX_COMMANDS)
			return -EINVAL;
		starts[ntables] = off;
		lens[ntables++] = tlen;
		a[off + SDT_CHECKSUM] = b[off + SDT_CHECKSUM] = 0;
		off = (off + tlen + 15) & ~15u;
	}
	a[RSDP_CHECKSUM] = b[RSDP_CHECKSUM] = 0;
	a[RSDP_EXT_CHECKSUM] = b[RSDP_EXT_CHECKSUM] = 0;

	struct writer w = { .out = out };
	allocate(&w, TABLES_FILE, 64, LOADER_ZONE_HIGH);
	allocate(&w, RSDP_FILE, 16, LOADER_ZONE_FSEG);
	find_pointers(&w, a, b, 0, ACPI_LOADER_RSDP_LEN, RSDP_FILE, 0);
	find_pointers(&w, a, b, FIRST_SDT / 2, (uint32_t)len, TABLES_FILE, 0);
	for (unsigned i = 0; i < ntables; i++)
		add_checksum(&w, TABLES_FILE, starts[i] + SDT_CHECKSUM, starts[i], lens[i]);
	add_checksum(&w, RSDP_FILE, RSDP_CHECKSUM, 0, RSDP_V1_LEN);
	add_checksum(&w, RSDP_FILE, RSDP_EXT_CHECKSUM, 0, ACPI_LOADER_RSDP_LEN);
	return w.err;
}
