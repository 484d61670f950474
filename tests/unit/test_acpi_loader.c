/* The ACPI tables as fw_cfg's table loader files: the commands run the
 * way SeaBIOS's romfile_loader runs them (ALLOCATE, ADD_POINTER,
 * ADD_CHECKSUM over 128-byte entries), with the tables and the RSDP put
 * at addresses of the test's choosing, must give byte for byte what
 * acpi_build gives at those addresses; every allocation's alignment and
 * zone, and the pointer count, as the layout has them. */
#include <stdlib.h>

#include "boot/acpi_loader.h"
#include "check.h"
#include "le_bytes.h"

#define TABLES_AT 0x03ff0000u
#define RSDP_AT 0x000f5a40u

struct loaded {
	uint8_t tables[ACPI_TABLES_MAX_LEN];
	uint8_t rsdp[ACPI_LOADER_RSDP_LEN];
	unsigned allocs, pointers, checksums;
};

/* The file a command names, and its address. */
static uint8_t *file_of(struct loaded *m, const uint8_t *name, uint32_t *addr)
{
	if (!strcmp((const char *)name, "etc/acpi/tables")) {
		*addr = TABLES_AT;
		return m->tables;
	}
	CHECK(!strcmp((const char *)name, "etc/acpi/rsdp"));
	*addr = RSDP_AT;
	return m->rsdp;
}

static void run_loader(const struct acpi_loader_files *f, struct loaded *m)
{
	memcpy(m->tables, f->tables, f->tables_len);
	memcpy(m->rsdp, f->rsdp, sizeof(m->rsdp));
	CHECK_EQ(f->loader_len % ACPI_LOADER_ENTRY_LEN, 0);
	for (size_t at = 0; at < f->loader_len; at += ACPI_LOADER_ENTRY_LEN) {
		const uint8_t *e = f->loader + at;
		uint32_t cmd = get32(e), addr, src_addr;
		const uint8_t *p = e + 4;
		uint8_t *data = file_of(m, p, &addr);
		if (cmd == 1) {
			uint32_t align = get32(p + 56);
			uint8_t zone = p[60];
			CHECK_EQ(addr % align, 0);
			CHECK_EQ(zone, data == m->rsdp ? 2 : 1);   /* FSEG for the RSDP, else HIGH */
			m->allocs++;
		} else if (cmd == 2) {
			(void)file_of(m, p + 56, &src_addr);
			uint32_t off = get32(p + 112);
			CHECK_EQ(p[116], 4);
			uint32_t v = get32(data + off) + src_addr;
			for (unsigned i = 0; i < 4; i++)
				data[off + i] = (uint8_t)(v >> (8 * i));
			m->pointers++;
		} else if (cmd == 3) {
			uint32_t off = get32(p + 56), start = get32(p + 60), len = get32(p + 64);
			uint8_t sum = 0;
			for (uint32_t i = 0; i < len; i++)
				sum = (uint8_t)(sum + data[start + i]);
			data[off] = (uint8_t)(data[off] - sum);
			m->checksums++;
		} else {
			CHECK(!"unknown loader command");
		}
	}
}

int main(void)
{
	struct acpi_config cfg;
	acpi_config_default(&cfg);
	struct acpi_loader_files *f = malloc(sizeof(*f));
	struct loaded *m = calloc(1, sizeof(*m));
	uint8_t want[ACPI_TABLES_MAX_LEN];
	uint32_t rsdp;
	CHECK(f && m);
	if (!f || !m)
		return 1;
	CHECK_EQ(acpi_loader_build(&cfg, f), 0);
	int len = acpi_build(want, sizeof(want), TABLES_AT, &cfg, &rsdp);
	CHECK_EQ(len, (int)f->tables_len);
	CHECK_EQ(rsdp, TABLES_AT);
	run_loader(f, m);
	CHECK_EQ(m->allocs, 2);
	/* RSDP: RSDT and XSDT; FADT: FIRMWARE_CTRL, DSDT and X_DSDT
	 * (X_FIRMWARE_CTRL stays 0); RSDT and XSDT: FADT and MADT each. */
	CHECK_EQ(m->pointers, 2 + 3 + 4);
	CHECK_EQ(m->checksums, 5 + 2);   /* RSDT, XSDT, FADT, MADT, DSDT; the RSDP's two */
	CHECK(memcmp(m->rsdp, want, ACPI_LOADER_RSDP_LEN) == 0);
	CHECK(memcmp(m->tables + 0x40, want + 0x40, (size_t)len - 0x40) == 0);
	/* Nothing of the RSDP stays in the tables' file. */
	for (unsigned i = 0; i < 0x40; i++)
		CHECK_EQ(m->tables[i], 0);

	/* With the HPET's table: one more pointer in each root table, one
	 * more checksum; its own base address is no pointer to patch. */
	cfg.hpet_addr = ACPI_HPET_DEFAULT_ADDR;
	cfg.hpet_block_id = 0x8086a201u;
	CHECK_EQ(acpi_loader_build(&cfg, f), 0);
	memset(m, 0, sizeof(*m));
	len = acpi_build(want, sizeof(want), TABLES_AT, &cfg, &rsdp);
	run_loader(f, m);
	CHECK_EQ(m->pointers, 2 + 3 + 6);
	CHECK_EQ(m->checksums, 6 + 2);
	CHECK(memcmp(m->rsdp, want, ACPI_LOADER_RSDP_LEN) == 0);
	CHECK(memcmp(m->tables + 0x40, want + 0x40, (size_t)len - 0x40) == 0);

	/* Several CPUs: a longer MADT, the same commands. */
	cfg.cpus = 8;
	CHECK_EQ(acpi_loader_build(&cfg, f), 0);
	memset(m, 0, sizeof(*m));
	len = acpi_build(want, sizeof(want), TABLES_AT, &cfg, &rsdp);
	run_loader(f, m);
	CHECK(memcmp(m->rsdp, want, ACPI_LOADER_RSDP_LEN) == 0);
	CHECK(memcmp(m->tables + 0x40, want + 0x40, (size_t)len - 0x40) == 0);
	cfg.cpus = 0;
	CHECK(acpi_loader_build(&cfg, f) < 0);
	free(f);
	free(m);
	return check_report("test_acpi_loader");
}
