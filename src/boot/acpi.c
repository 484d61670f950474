/* ACPI table builder: RSDP, RSDT, XSDT, FADT, FACS, MADT and a DSDT of
 * hand-encoded AML, laid out and checksummed for a given guest physical
 * address (see acpi.h for the layout). Field offsets are those of the
 * ACPI 3.0 specification; every multi-byte field is little-endian. */
#include "boot/acpi.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "devices/acpi_pm.h"

#define SDT_HEADER_LEN 36u
#define SDT_LENGTH 4u
#define SDT_CHECKSUM 9u

#define RSDP_V1_LEN 20u
#define RSDP_LEN 36u
#define RSDP_REVISION 2u	/* ACPI 2.0 and later: has XSDT and a length */
#define FACS_LEN 64u
#define FACS_VERSION 1u
#define FADT_LEN 244u
#define FADT_REVISION 4u	/* ACPI 3.0: the GAS access size is defined */
#define MADT_REVISION 2u
#define DSDT_REVISION 2u	/* AML integers are 64 bits */
#define TABLE_COUNT 2u		/* FADT and MADT in the RSDT and XSDT */

#define OEM_ID "BTVM  "
#define OEM_TABLE_ID "BTVMACPI"
#define CREATOR_ID "BTVM"

/* FADT fixed feature flags. PWR_BUTTON stays clear: the power button is
 * the fixed one of devices/acpi_pm.h. The sleep button and the RTC wake
 * status are not there, so their flags say so. */
#define FADT_WBINVD (1u << 0)
#define FADT_PROC_C1 (1u << 2)
#define FADT_SLP_BUTTON (1u << 5)
#define FADT_FIX_RTC (1u << 6)
#define FADT_RESET_REG_SUP (1u << 10)

/* Latencies above these limits tell the OS that C2 and C3 do not exist. */
#define FADT_NO_C2_LATENCY 101u
#define FADT_NO_C3_LATENCY 1001u

#define GAS_SYSTEM_IO 1u
#define GAS_ACCESS_BYTE 1u
#define GAS_ACCESS_WORD 2u
#define GAS_ACCESS_DWORD 3u

#define MADT_PCAT_COMPAT 1u
#define MADT_LAPIC 0u
#define MADT_LAPIC_LEN 8u
#define MADT_LAPIC_ENABLED 1u
#define MADT_IOAPIC 1u
#define MADT_IOAPIC_LEN 12u
#define MADT_ISO 2u
#define MADT_ISO_LEN 10u
#define MADT_LAPIC_NMI 4u
#define MADT_LAPIC_NMI_LEN 6u
#define MADT_ALL_PROCESSORS 0xffu
#define MADT_ISO_COUNT 2u
/* MPS INTI flags: polarity in bits 0-1, trigger mode in bits 2-3. */
#define INTI_CONFORMING 0x0000u
#define INTI_ACTIVE_HIGH_LEVEL 0x000du
/* The PC timer's IRQ 0 sits on I/O APIC pin 2; the 8259 cascade has pin
 * 0, which nothing uses. */
#define ISA_TIMER_IRQ 0u
#define ISA_TIMER_PIN 2u
#define ISA_CASCADE_IRQ 2u
#define ISA_IRQS 16u
/* LINT1 carries NMI, as on every PC. */
#define LAPIC_NMI_LINT 1u

/* AML opcodes used by the DSDT. */
#define AML_NAME_OP 0x08u
#define AML_PACKAGE_OP 0x12u
#define AML_BYTE_PREFIX 0x0au
#define AML_ZERO_OP 0x00u

/* Name(_S5, Package() { SLP_TYPa, SLP_TYPb, 0, 0 }): the sleep type
 * values for PM1a and PM1b control. There is no PM1b block, so its value
 * is never written; it repeats PM1a's as firmware usually does. The
 * package length byte counts itself, NumElements and the 6 bytes of the
 * elements; it fits the one-byte PkgLength form (under 64). */
static const uint8_t dsdt_aml[] = {
	AML_NAME_OP, '_', 'S', '5', '_',
	AML_PACKAGE_OP, 0x08, 0x04,
	AML_BYTE_PREFIX, ACPI_PM_SLP_TYP_S5,
	AML_BYTE_PREFIX, ACPI_PM_SLP_TYP_S5,
	AML_ZERO_OP,
	AML_ZERO_OP,
};

struct layout {
	uint32_t rsdp, facs, rsdt, xsdt, fadt, madt, dsdt, end;
	uint32_t madt_len;
};

static uint32_t align16(uint32_t x)
{
	return (x + 15u) & ~15u;
}

static void put16(uint8_t *p, uint32_t off, uint16_t v)
{
	p[off] = (uint8_t)v;
	p[off + 1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t off, uint32_t v)
{
	put16(p, off, (uint16_t)v);
	put16(p, off + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint32_t off, uint64_t v)
{
	put32(p, off, (uint32_t)v);
	put32(p, off + 4, (uint32_t)(v >> 32));
}

static void put_bytes(uint8_t *p, uint32_t off, const char *s, size_t len)
{
	memcpy(p + off, s, len);
}

/* The byte that makes the len bytes at p sum to zero, with itself zero
 * while summing. */
static uint8_t checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;
	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	return (uint8_t)(0x100 - sum);
}

static void sdt_header(uint8_t *t, const char *signature, uint32_t len, uint8_t revision)
{
	put_bytes(t, 0, signature, 4);
	put32(t, SDT_LENGTH, len);
	t[8] = revision;
	put_bytes(t, 10, OEM_ID, 6);
	put_bytes(t, 16, OEM_TABLE_ID, 8);
	put32(t, 24, 1);		/* OEM revision */
	put_bytes(t, 28, CREATOR_ID, 4);
	put32(t, 32, 1);		/* creator revision */
}

/* Last, once every other byte of the table is in place. */
static void sdt_finish(uint8_t *t, uint32_t len)
{
	t[SDT_CHECKSUM] = 0;
	t[SDT_CHECKSUM] = checksum(t, len);
}

/* A Generic Address Structure for a register in system I/O space. */
static void put_gas_io(uint8_t *p, uint32_t off, uint8_t bit_width, uint8_t access_size,
		       uint16_t port)
{
	p[off] = GAS_SYSTEM_IO;
	p[off + 1] = bit_width;
	p[off + 2] = 0;	/* bit offset */
	p[off + 3] = access_size;
	put64(p, off + 4, port);
}

static void build_rsdp(uint8_t *t, uint32_t phys_base, const struct layout *l)
{
	put_bytes(t, 0, "RSD PTR ", 8);
	put_bytes(t, 9, OEM_ID, 6);
	t[15] = RSDP_REVISION;
	put32(t, 16, phys_base + l->rsdt);
	put32(t, 20, RSDP_LEN);
	put64(t, 24, (uint64_t)phys_base + l->xsdt);
	t[8] = checksum(t, RSDP_V1_LEN);
	t[32] = checksum(t, RSDP_LEN);
}

static void build_facs(uint8_t *t)
{
	put_bytes(t, 0, "FACS", 4);
	put32(t, 4, FACS_LEN);
	/* Hardware signature, waking vectors, global lock and flags stay 0:
	 * nothing here sleeps and there is no firmware to share a lock with. */
	t[32] = FACS_VERSION;
}

static void build_rsdt(uint8_t *t, uint32_t phys_base, const struct layout *l)
{
	uint32_t len = SDT_HEADER_LEN + 4 * TABLE_COUNT;

	sdt_header(t, "RSDT", len, 1);
	put32(t, SDT_HEADER_LEN, phys_base + l->fadt);
	put32(t, SDT_HEADER_LEN + 4, phys_base + l->madt);
	sdt_finish(t, len);
}

static void build_xsdt(uint8_t *t, uint32_t phys_base, const struct layout *l)
{
	uint32_t len = SDT_HEADER_LEN + 8 * TABLE_COUNT;

	sdt_header(t, "XSDT", len, 1);
	put64(t, SDT_HEADER_LEN, (uint64_t)phys_base + l->fadt);
	put64(t, SDT_HEADER_LEN + 8, (uint64_t)phys_base + l->madt);
	sdt_finish(t, len);
}

static void build_fadt(uint8_t *t, uint32_t phys_base, const struct layout *l,
		       const struct acpi_config *cfg)
{
	uint32_t flags = FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON | FADT_FIX_RTC;

	sdt_header(t, "FACP", FADT_LEN, FADT_REVISION);
	put32(t, 36, phys_base + l->facs);	/* FIRMWARE_CTRL */
	put32(t, 40, phys_base + l->dsdt);	/* DSDT */
	put16(t, 46, cfg->sci_irq);		/* SCI_INT */
	/* SMI_CMD (48), ACPI_ENABLE and ACPI_DISABLE stay 0: the hardware is
	 * always in ACPI mode (SCI_EN reads 1). */
	put32(t, 56, cfg->pm1a_evt_port);	/* PM1a_EVT_BLK */
	put32(t, 64, cfg->pm1a_cnt_port);	/* PM1a_CNT_BLK */
	put32(t, 76, cfg->pm_tmr_port);		/* PM_TMR_BLK */
	t[88] = ACPI_PM1_EVT_LEN;
	t[89] = ACPI_PM1_CNT_LEN;
	t[91] = ACPI_PM_TMR_LEN;
	put16(t, 96, FADT_NO_C2_LATENCY);	/* P_LVL2_LAT */
	put16(t, 98, FADT_NO_C3_LATENCY);	/* P_LVL3_LAT */
	t[108] = cfg->century_index;		/* CENTURY */
	put16(t, 109, cfg->boot_arch);		/* IAPC_BOOT_ARCH */
	if (cfg->reset_port) {
		flags |= FADT_RESET_REG_SUP;
		put_gas_io(t, 116, 8, GAS_ACCESS_BYTE, cfg->reset_port);
		t[128] = cfg->reset_value;
	}
	put32(t, 112, flags);
	/* X_FIRMWARE_CTRL (132) stays 0: FIRMWARE_CTRL is below 4 GiB, and an
	 * OS that sees both may install the FACS twice. */
	put64(t, 140, (uint64_t)phys_base + l->dsdt);	/* X_DSDT */
	put_gas_io(t, 148, 8 * ACPI_PM1_EVT_LEN, GAS_ACCESS_WORD, cfg->pm1a_evt_port);
	put_gas_io(t, 172, 8 * ACPI_PM1_CNT_LEN, GAS_ACCESS_WORD, cfg->pm1a_cnt_port);
	put_gas_io(t, 208, 8 * ACPI_PM_TMR_LEN, GAS_ACCESS_DWORD, cfg->pm_tmr_port);
	sdt_finish(t, FADT_LEN);
}

static uint32_t put_iso(uint8_t *t, uint32_t off, uint8_t irq, uint32_t gsi, uint16_t flags)
{
	t[off] = MADT_ISO;
	t[off + 1] = MADT_ISO_LEN;
	t[off + 2] = 0;		/* bus: ISA */
	t[off + 3] = irq;
	put32(t, off + 4, gsi);
	put16(t, off + 8, flags);
	return off + MADT_ISO_LEN;
}

static void build_madt(uint8_t *t, const struct layout *l, const struct acpi_config *cfg)
{
	uint32_t off = SDT_HEADER_LEN + 8;

	sdt_header(t, "APIC", l->madt_len, MADT_REVISION);
	put32(t, 36, cfg->lapic_addr);
	put32(t, 40, MADT_PCAT_COMPAT);
	for (unsigned i = 0; i < cfg->cpus; i++) {
		t[off] = MADT_LAPIC;
		t[off + 1] = MADT_LAPIC_LEN;
		t[off + 2] = (uint8_t)i;	/* ACPI processor UID */
		t[off + 3] = (uint8_t)i;	/* APIC id */
		put32(t, off + 4, MADT_LAPIC_ENABLED);
		off += MADT_LAPIC_LEN;
	}
	t[off] = MADT_IOAPIC;
	t[off + 1] = MADT_IOAPIC_LEN;
	t[off + 2] = cfg->ioapic_id;
	put32(t, off + 4, cfg->ioapic_addr);
	put32(t, off + 8, cfg->ioapic_gsi_base);
	off += MADT_IOAPIC_LEN;
	off = put_iso(t, off, ISA_TIMER_IRQ, cfg->ioapic_gsi_base + ISA_TIMER_PIN, INTI_CONFORMING);
	/* The SCI is a shareable level interrupt, high while asserted: the
	 * override keeps the OS from assuming ACPI's default, active low. */
	off = put_iso(t, off, cfg->sci_irq, cfg->ioapic_gsi_base + cfg->sci_irq,
		      INTI_ACTIVE_HIGH_LEVEL);
	t[off] = MADT_LAPIC_NMI;
	t[off + 1] = MADT_LAPIC_NMI_LEN;
	t[off + 2] = MADT_ALL_PROCESSORS;
	put16(t, off + 3, INTI_CONFORMING);
	t[off + 5] = LAPIC_NMI_LINT;
	sdt_finish(t, l->madt_len);
}

static void build_dsdt(uint8_t *t, uint32_t len)
{
	sdt_header(t, "DSDT", len, DSDT_REVISION);
	memcpy(t + SDT_HEADER_LEN, dsdt_aml, sizeof(dsdt_aml));
	sdt_finish(t, len);
}

static void plan(struct layout *l, const struct acpi_config *cfg)
{
	l->rsdp = 0;
	l->facs = 64;
	l->rsdt = l->facs + FACS_LEN;
	l->xsdt = align16(l->rsdt + SDT_HEADER_LEN + 4 * TABLE_COUNT);
	l->fadt = align16(l->xsdt + SDT_HEADER_LEN + 8 * TABLE_COUNT);
	l->madt = align16(l->fadt + FADT_LEN);
	l->madt_len = SDT_HEADER_LEN + 8 + cfg->cpus * MADT_LAPIC_LEN + MADT_IOAPIC_LEN +
		      MADT_ISO_COUNT * MADT_ISO_LEN + MADT_LAPIC_NMI_LEN;
	l->dsdt = align16(l->madt + l->madt_len);
	l->end = align16(l->dsdt + SDT_HEADER_LEN + (uint32_t)sizeof(dsdt_aml));
}

static bool config_valid(const struct acpi_config *cfg)
{
	if (cfg->cpus < 1 || cfg->cpus > ACPI_MAX_CPUS)
		return false;
	if (!cfg->pm1a_evt_port || !cfg->pm1a_cnt_port || !cfg->pm_tmr_port)
		return false;
	/* The SCI is an ISA line of its own: not the timer's, not the cascade. */
	if (cfg->sci_irq >= ISA_IRQS || cfg->sci_irq == ISA_TIMER_IRQ ||
	    cfg->sci_irq == ISA_CASCADE_IRQ)
		return false;
	return cfg->ioapic_gsi_base <= UINT32_MAX - ISA_IRQS;
}

void acpi_config_default(struct acpi_config *cfg)
{
	*cfg = (struct acpi_config){
		.cpus = 1,
		.lapic_addr = ACPI_LAPIC_DEFAULT_ADDR,
		.ioapic_id = 0,
		.ioapic_addr = ACPI_IOAPIC_DEFAULT_ADDR,
		.ioapic_gsi_base = 0,
		.pm1a_evt_port = ACPI_PM1A_EVT_PORT,
		.pm1a_cnt_port = ACPI_PM1A_CNT_PORT,
		.pm_tmr_port = ACPI_PM_TMR_PORT,
		.sci_irq = ACPI_PM_SCI_IRQ,
		.reset_port = 0,
		.reset_value = 0,
		.century_index = ACPI_CMOS_CENTURY_INDEX,
		.boot_arch = ACPI_BOOT_ARCH_LEGACY_DEVICES | ACPI_BOOT_ARCH_8042,
	};
}

int acpi_build(uint8_t *buf, size_t buf_len, uint32_t phys_base, const struct acpi_config *cfg,
	       uint32_t *rsdp_phys)
{
	struct layout l;

	if (!config_valid(cfg) || phys_base % 64 != 0)
		return -EINVAL;
	plan(&l, cfg);
	if ((uint64_t)phys_base + l.end > (uint64_t)UINT32_MAX + 1)
		return -EINVAL;
	if (buf_len < l.end)
		return -ENOSPC;
	memset(buf, 0, l.end);
	build_facs(buf + l.facs);
	build_dsdt(buf + l.dsdt, SDT_HEADER_LEN + (uint32_t)sizeof(dsdt_aml));
	build_fadt(buf + l.fadt, phys_base, &l, cfg);
	build_madt(buf + l.madt, &l, cfg);
	build_rsdt(buf + l.rsdt, phys_base, &l);
	build_xsdt(buf + l.xsdt, phys_base, &l);
	build_rsdp(buf + l.rsdp, phys_base, &l);
	*rsdp_phys = phys_base + l.rsdp;
	return (int)l.end;
}
