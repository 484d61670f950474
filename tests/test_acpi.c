/* The ACPI tables read back the way an OS reads them: the RSDP found by
 * scanning the BIOS area on 16-byte boundaries, every checksum, the RSDT
 * and XSDT to the FADT and MADT, the FADT to the FACS, the DSDT and the
 * PM ports, the MADT's entries, and \_S5 decoded from the DSDT's AML by a
 * small walker; then the reset register, several CPUs and bad
 * configurations. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "boot/acpi.h"
#include "check.h"
#include "devices/acpi_pm.h"

#define AREA_BASE 0xe0000u
#define AREA_LEN 0x20000u	/* 0xE0000-0xFFFFF */
#define FILLER 0xa5u

static uint8_t area[AREA_LEN];

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static bool sums_to_zero(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;
	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	return sum == 0;
}

/* The table at a physical address, or NULL if it is outside the area. */
static const uint8_t *at_phys(uint64_t addr, size_t len)
{
	if (addr < AREA_BASE || addr - AREA_BASE + len > AREA_LEN)
		return NULL;
	return area + (addr - AREA_BASE);
}

/* A system description table, checked as an OS checks it before use. */
static const uint8_t *sdt(uint64_t addr, const char *signature)
{
	const uint8_t *t = at_phys(addr, 36);
	CHECK(t != NULL);
	if (!t)
		return NULL;
	CHECK(memcmp(t, signature, 4) == 0);
	uint32_t len = get32(t + 4);
	CHECK(len >= 36 && at_phys(addr, len) != NULL);
	if (len < 36 || !at_phys(addr, len))
		return NULL;
	CHECK(sums_to_zero(t, len));
	CHECK(memcmp(t + 10, "BTVM", 4) == 0);
	return t;
}

static const uint8_t *find_rsdp(void)
{
	for (uint32_t off = 0; off + 20 <= AREA_LEN; off += 16) {
		const uint8_t *p = area + off;
		if (memcmp(p, "RSD PTR ", 8) == 0 && sums_to_zero(p, 20))
			return p;
	}
	return NULL;
}

static int build_into_area(const struct acpi_config *cfg, uint32_t *rsdp_phys)
{
	memset(area, FILLER, sizeof(area));
	return acpi_build(area, sizeof(area), AREA_BASE, cfg, rsdp_phys);
}

/* AML integer constants: ZeroOp, OneOp, OnesOp and the prefixed forms. */
static bool aml_integer(const uint8_t **p, const uint8_t *end, uint64_t *value)
{
	const uint8_t *q = *p;
	unsigned size;

	if (q >= end)
		return false;
	switch (*q++) {
	case 0x00: *value = 0; *p = q; return true;
	case 0x01: *value = 1; *p = q; return true;
	case 0xff: *value = ~0ULL; *p = q; return true;
	case 0x0a: size = 1; break;
	case 0x0b: size = 2; break;
	case 0x0c: size = 4; break;
	case 0x0e: size = 8; break;
	default: return false;
	}
	if (end - q < (ptrdiff_t)size)
		return false;
	*value = 0;
	for (unsigned i = 0; i < size; i++)
		*value |= (uint64_t)q[i] << (8 * i);
	*p = q + size;
	return true;
}

/* PkgLength: the top two bits of the lead byte count the bytes that
 * follow; the lead byte gives 6 bits alone or its low 4 bits otherwise. */
static bool aml_pkg_length(const uint8_t **p, const uint8_t *end, uint32_t *len)
{
	const uint8_t *q = *p;
	if (q >= end)
		return false;
	unsigned follow = *q >> 6;
	if (end - q < (ptrdiff_t)(1 + follow))
		return false;
	if (follow == 0) {
		*len = *q & 0x3f;
	} else {
		*len = *q & 0x0f;
		for (unsigned i = 0; i < follow; i++)
			*len |= (uint32_t)q[1 + i] << (4 + 8 * i);
	}
	*p = q + 1 + follow;
	return true;
}

/* Finds Name(_S5_, Package(){ a, b, ... }) at the root of an AML block
 * made only of Name objects holding integers or packages of integers
 * (which is all this DSDT holds) and returns the package's first two
 * integers. Every package must hold exactly the elements its length and
 * count say, and the block must end after its last object. */
static bool find_s5(const uint8_t *aml, size_t len, uint64_t *slp_typa, uint64_t *slp_typb)
{
	const uint8_t *p = aml, *end = aml + len;
	bool found = false;

	while (p < end) {
		if (*p++ != 0x08)	/* NameOp */
			return false;
		if (p < end && *p == '\\')
			p++;
		if (end - p < 4)
			return false;
		bool is_s5 = memcmp(p, "_S5_", 4) == 0;
		p += 4;
		if (p >= end || *p != 0x12) {	/* PackageOp; other values are skipped */
			uint64_t ignored;
			if (!aml_integer(&p, end, &ignored))
				return false;
			continue;
		}
		const uint8_t *pkg_start = ++p;
		uint32_t pkg_len;
		if (!aml_pkg_length(&p, end, &pkg_len) || pkg_len > (size_t)(end - pkg_start))
			return false;
		const uint8_t *pkg_end = pkg_start + pkg_len;
		if (p >= pkg_end)
			return false;
		unsigned count = *p++;	/* NumElements */
		for (unsigned i = 0; i < count; i++) {
			uint64_t v;
			if (!aml_integer(&p, pkg_end, &v))
				return false;
			if (is_s5 && i == 0)
				*slp_typa = v;
			if (is_s5 && i == 1)
				*slp_typb = v;
		}
		if (p != pkg_end || (is_s5 && count < 2))
			return false;
		found |= is_s5;
	}
	return found;
}

/* A GAS in system I/O space at port, bit_width wide. */
static void check_gas_io(const uint8_t *g, uint8_t bit_width, uint64_t port)
{
	CHECK_EQ(g[0], 1);
	CHECK_EQ(g[1], bit_width);
	CHECK_EQ(g[2], 0);
	CHECK_EQ(get64(g + 4), port);
}

struct found {
	const uint8_t *fadt, *madt;
};

static struct found walk_root(const uint8_t *rsdp)
{
	struct found f = { NULL, NULL };

	const uint8_t *rsdt = sdt(get32(rsdp + 16), "RSDT");
	const uint8_t *xsdt = sdt(get64(rsdp + 24), "XSDT");
	if (!rsdt || !xsdt)
		return f;
	uint32_t n = (get32(rsdt + 4) - 36) / 4;
	CHECK_EQ(n, 2);
	CHECK_EQ((get32(xsdt + 4) - 36) / 8, n);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t addr = get32(rsdt + 36 + 4 * i);
		/* The XSDT lists the same tables in the same order. */
		CHECK_EQ(get64(xsdt + 36 + 8 * i), addr);
		const uint8_t *t = at_phys(addr, 36);
		CHECK(t != NULL);
		if (!t)
			continue;
		if (memcmp(t, "FACP", 4) == 0)
			f.fadt = sdt(addr, "FACP");
		else if (memcmp(t, "APIC", 4) == 0)
			f.madt = sdt(addr, "APIC");
		else
			CHECK(!"unexpected table in the RSDT");
	}
	return f;
}

static void check_fadt(const uint8_t *fadt, const struct acpi_config *cfg)
{
	CHECK_EQ(get32(fadt + 4), 244);
	CHECK_EQ(fadt[8], 4);
	CHECK_EQ(get16(fadt + 46), 9);		/* SCI_INT */
	CHECK_EQ(get32(fadt + 48), 0);		/* SMI_CMD: always in ACPI mode */
	CHECK_EQ(get32(fadt + 56), ACPI_PM1A_EVT_PORT);
	CHECK_EQ(get32(fadt + 60), 0);		/* no PM1b */
	CHECK_EQ(get32(fadt + 64), ACPI_PM1A_CNT_PORT);
	CHECK_EQ(get32(fadt + 68), 0);
	CHECK_EQ(get32(fadt + 76), ACPI_PM_TMR_PORT);
	CHECK_EQ(get32(fadt + 80), 0);		/* no GPE blocks */
	CHECK_EQ(fadt[88], 4);
	CHECK_EQ(fadt[89], 2);
	CHECK_EQ(fadt[91], 4);
	CHECK(get16(fadt + 96) > 100);		/* no C2 */
	CHECK(get16(fadt + 98) > 1000);		/* no C3 */
	CHECK_EQ(fadt[108], 0x32);
	CHECK_EQ(get16(fadt + 109), 0x0003);
	uint32_t flags = get32(fadt + 112);
	CHECK(flags & (1u << 0));		/* WBINVD */
	CHECK(flags & (1u << 2));		/* PROC_C1 */
	CHECK(!(flags & (1u << 4)));		/* fixed power button */
	CHECK(flags & (1u << 5));		/* no fixed sleep button */
	CHECK(!(flags & (1u << 8)));		/* 24-bit timer */
	CHECK_EQ(!!(flags & (1u << 10)), cfg->reset_port != 0);
	/* X_ fields agree with the 32-bit ones. */
	CHECK_EQ(get64(fadt + 132), 0);
	CHECK_EQ(get64(fadt + 140), get32(fadt + 40));
	check_gas_io(fadt + 148, 32, ACPI_PM1A_EVT_PORT);
	check_gas_io(fadt + 172, 16, ACPI_PM1A_CNT_PORT);
	check_gas_io(fadt + 208, 32, ACPI_PM_TMR_PORT);
	CHECK_EQ(get64(fadt + 160 + 4), 0);	/* X_PM1b_EVT_BLK */
	CHECK_EQ(get64(fadt + 220 + 4), 0);	/* X_GPE0_BLK */

	uint32_t facs_addr = get32(fadt + 36);
	CHECK_EQ(facs_addr % 64, 0);
	const uint8_t *facs = at_phys(facs_addr, 64);
	CHECK(facs != NULL);
	if (facs) {
		CHECK(memcmp(facs, "FACS", 4) == 0);
		CHECK_EQ(get32(facs + 4), 64);
	}

	const uint8_t *dsdt = sdt(get32(fadt + 40), "DSDT");
	CHECK(dsdt != NULL);
	if (dsdt) {
		uint64_t a = 0, b = 0;
		CHECK(find_s5(dsdt + 36, get32(dsdt + 4) - 36, &a, &b));
		CHECK_EQ(a, ACPI_PM_SLP_TYP_S5);
		CHECK_EQ(a, 5);
		CHECK_EQ(b, 5);
	}
}

struct madt_counts {
	unsigned lapics, ioapics, isos, nmis, others;
};

static struct madt_counts check_madt(const uint8_t *madt, unsigned cpus)
{
	struct madt_counts c = { 0, 0, 0, 0, 0 };
	uint32_t len = get32(madt + 4);

	CHECK_EQ(get32(madt + 36), 0xfee00000u);
	CHECK_EQ(get32(madt + 40), 1);		/* PCAT_COMPAT */
	uint32_t off = 44;
	while (off + 2 <= len) {
		const uint8_t *e = madt + off;
		CHECK(e[1] >= 2 && off + e[1] <= len);
		if (e[1] < 2 || off + e[1] > len)
			break;
		switch (e[0]) {
		case 0:
			CHECK_EQ(e[1], 8);
			CHECK_EQ(e[2], c.lapics);	/* ACPI UID */
			CHECK_EQ(e[3], c.lapics);	/* APIC id */
			CHECK_EQ(get32(e + 4), 1);	/* enabled */
			c.lapics++;
			break;
		case 1:
			CHECK_EQ(e[1], 12);
			CHECK_EQ(e[2], 0);
			CHECK_EQ(get32(e + 4), 0xfec00000u);
			CHECK_EQ(get32(e + 8), 0);
			c.ioapics++;
			break;
		case 2:
			CHECK_EQ(e[1], 10);
			CHECK_EQ(e[2], 0);		/* ISA */
			if (e[3] == 0) {
				CHECK_EQ(get32(e + 4), 2);
				CHECK_EQ(get16(e + 8), 0);
			} else {
				CHECK_EQ(e[3], 9);
				CHECK_EQ(get32(e + 4), 9);
				CHECK_EQ(get16(e + 8), 0x000d);
			}
			c.isos++;
			break;
		case 4:
			CHECK_EQ(e[1], 6);
			CHECK_EQ(e[2], 0xff);
			CHECK_EQ(e[5], 1);		/* LINT1 */
			c.nmis++;
			break;
		default:
			c.others++;
			break;
		}
		off += e[1];
	}
	CHECK_EQ(off, len);
	CHECK_EQ(c.lapics, cpus);
	CHECK_EQ(c.ioapics, 1);
	CHECK_EQ(c.isos, 2);
	CHECK_EQ(c.nmis, 1);
	CHECK_EQ(c.others, 0);
	return c;
}

static void test_default_tables(void)
{
	struct acpi_config cfg;
	uint32_t rsdp_phys = 0;

	acpi_config_default(&cfg);
	int used = build_into_area(&cfg, &rsdp_phys);
	CHECK(used > 0 && used <= (int)ACPI_TABLES_MAX_LEN);
	CHECK(used < 1024);
	CHECK_EQ(used % 16, 0);
	/* Nothing past what it says it used is written. */
	for (size_t i = used > 0 ? (size_t)used : 0; i < AREA_LEN; i++) {
		if (area[i] != FILLER) {
			CHECK(!"byte written past the block");
			break;
		}
	}

	const uint8_t *rsdp = find_rsdp();
	CHECK(rsdp != NULL);
	if (!rsdp)
		return;
	CHECK_EQ(AREA_BASE + (uint32_t)(rsdp - area), rsdp_phys);
	CHECK_EQ(rsdp[15], 2);
	CHECK_EQ(get32(rsdp + 20), 36);
	CHECK(sums_to_zero(rsdp, 36));

	struct found f = walk_root(rsdp);
	CHECK(f.fadt != NULL);
	CHECK(f.madt != NULL);
	if (f.fadt)
		check_fadt(f.fadt, &cfg);
	if (f.madt)
		check_madt(f.madt, 1);
}

static void test_reset_register(void)
{
	struct acpi_config cfg;
	uint32_t rsdp_phys;

	acpi_config_default(&cfg);
	cfg.reset_port = 0xcf9;
	cfg.reset_value = 0x06;
	CHECK(build_into_area(&cfg, &rsdp_phys) > 0);
	const uint8_t *rsdp = find_rsdp();
	CHECK(rsdp != NULL);
	if (!rsdp)
		return;
	struct found f = walk_root(rsdp);
	CHECK(f.fadt != NULL);
	if (!f.fadt)
		return;
	check_fadt(f.fadt, &cfg);
	check_gas_io(f.fadt + 116, 8, 0xcf9);
	CHECK_EQ(f.fadt[128], 0x06);
}

static void test_several_cpus(void)
{
	struct acpi_config cfg;
	uint32_t rsdp_phys;

	acpi_config_default(&cfg);
	cfg.cpus = 4;
	CHECK(build_into_area(&cfg, &rsdp_phys) > 0);
	const uint8_t *rsdp = find_rsdp();
	CHECK(rsdp != NULL);
	if (!rsdp)
		return;
	struct found f = walk_root(rsdp);
	CHECK(f.madt != NULL);
	if (f.madt)
		check_madt(f.madt, 4);

	cfg.cpus = ACPI_MAX_CPUS;
	int used = build_into_area(&cfg, &rsdp_phys);
	CHECK(used > 0 && used <= (int)ACPI_TABLES_MAX_LEN);
}

static void test_bad_arguments(void)
{
	struct acpi_config cfg;
	uint32_t rsdp_phys = 0x1234;
	uint8_t small[256];

	acpi_config_default(&cfg);
	CHECK_EQ(acpi_build(area, sizeof(area), AREA_BASE + 16, &cfg, &rsdp_phys), -EINVAL);
	CHECK_EQ(acpi_build(small, sizeof(small), AREA_BASE, &cfg, &rsdp_phys), -ENOSPC);
	CHECK_EQ(acpi_build(area, sizeof(area), 0xffffffc0u, &cfg, &rsdp_phys), -EINVAL);
	CHECK_EQ(rsdp_phys, 0x1234);
	cfg.cpus = 0;
	CHECK_EQ(acpi_build(area, sizeof(area), AREA_BASE, &cfg, &rsdp_phys), -EINVAL);
	cfg.cpus = ACPI_MAX_CPUS + 1;
	CHECK_EQ(acpi_build(area, sizeof(area), AREA_BASE, &cfg, &rsdp_phys), -EINVAL);
	acpi_config_default(&cfg);
	cfg.sci_irq = 0;
	CHECK_EQ(acpi_build(area, sizeof(area), AREA_BASE, &cfg, &rsdp_phys), -EINVAL);
	cfg.sci_irq = 16;
	CHECK_EQ(acpi_build(area, sizeof(area), AREA_BASE, &cfg, &rsdp_phys), -EINVAL);
	acpi_config_default(&cfg);
	cfg.pm_tmr_port = 0;
	CHECK_EQ(acpi_build(area, sizeof(area), AREA_BASE, &cfg, &rsdp_phys), -EINVAL);
}

int main(void)
{
	test_default_tables();
	test_reset_register();
	test_several_cpus();
	test_bad_arguments();
	return check_report("test_acpi");
}
