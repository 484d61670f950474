/* ACPI table builder: RSDP, RSDT, XSDT, FADT, FACS, MADT and a DSDT of
 * hand-encoded AML, laid out and checksummed for a given guest physical
 * address (see acpi.h for the layout). Field offsets are those of the
 * ACPI 3.0 specification; every multi-byte field is little-endian. */
#include "boot/acpi.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "boot/table_bytes.h"
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
#define MAX_TABLES 3u		/* FADT, MADT and HPET in the RSDT and XSDT */
#define HPET_TABLE_LEN 56u
#define HPET_TABLE_REVISION 1u
#define GAS_SYSTEM_MEMORY 0u

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

/* AML opcodes and prefixes used by the DSDT. */
#define AML_ZERO_OP 0x00u
#define AML_ONE_OP 0x01u
#define AML_NAME_OP 0x08u
#define AML_BYTE_PREFIX 0x0au
#define AML_WORD_PREFIX 0x0bu
#define AML_DWORD_PREFIX 0x0cu
#define AML_QWORD_PREFIX 0x0eu
#define AML_SCOPE_OP 0x10u
#define AML_BUFFER_OP 0x11u
#define AML_PACKAGE_OP 0x12u
#define AML_EXT_OP_PREFIX 0x5bu
#define AML_DEVICE_OP 0x82u	/* after AML_EXT_OP_PREFIX */

/* Resource descriptors of a _CRS buffer. Small items carry their length
 * in the tag byte; large items (bit 7 set) in the 16-bit field after it,
 * which counts the bytes after that field. */
#define RES_IO_PORT 0x47u		/* small item 0x08, 7 bytes */
#define RES_IO_DECODE16 0x01u		/* all 16 address lines decoded */
#define RES_END_TAG 0x79u		/* small item 0x0f, 1 byte: the checksum */
#define RES_DWORD_SPACE 0x87u
#define RES_DWORD_SPACE_LEN 26u
#define RES_WORD_SPACE 0x88u
#define RES_WORD_SPACE_LEN 16u
#define RES_SPACE_MEMORY 0u
#define RES_SPACE_IO 1u
#define RES_SPACE_BUS 2u
/* General flags of an address space: the window's bounds are fixed (the
 * OS may not move them), it decodes positively, and bit 0 clear makes the
 * bridge the producer of what lies behind it rather than a consumer. */
#define RES_MIN_FIXED 0x04u
#define RES_MAX_FIXED 0x08u
/* Type-specific flags: I/O windows pass both ISA and non-ISA ranges;
 * memory windows are writable and, being device registers, uncached. */
#define RES_IO_ENTIRE_RANGE 0x03u
#define RES_MEM_READ_WRITE 0x01u

/* What the PCI root bridge decodes besides the window in acpi_config:
 * the configuration ports (used by the bridge itself, so the windows go
 * around them) and the VGA frame buffer, which PCI decodes below 1 MiB. */
#define PCI_CONFIG_PORT 0xcf8u
#define PCI_CONFIG_PORTS 8u
#define PCI_BUS_MAX 0xffu
#define VGA_MEM_START 0xa0000u
#define VGA_MEM_END 0xbffffu
#define PCI_MEM_MIN 0x100000u	/* the window lies above the legacy area */
#define APIC_MMIO_LEN 0x1000u

#define DSDT_AML_MAX 512u

/* The byte that makes the len bytes at p sum to zero, with itself zero
 * while summing. */
/* An AML byte stream being written. Running out of room is remembered
 * rather than returned, so the emitters read as the ASL they encode and
 * the caller checks once at the end. */
struct aml {
	uint8_t *buf;
	uint32_t len, cap;
	bool overflow;
};

static void aml_byte(struct aml *a, uint8_t b)
{
	if (a->len >= a->cap) {
		a->overflow = true;
		return;
	}
	a->buf[a->len++] = b;
}

static void aml_word(struct aml *a, uint16_t v)
{
	aml_byte(a, (uint8_t)v);
	aml_byte(a, (uint8_t)(v >> 8));
}

static void aml_dword(struct aml *a, uint32_t v)
{
	aml_word(a, (uint16_t)v);
	aml_word(a, (uint16_t)(v >> 16));
}

static void aml_bytes(struct aml *a, const uint8_t *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		aml_byte(a, p[i]);
}

/* Names here are always full 4-character segments ("_SB_", "PCI0"): AML
 * pads short names with underscores and so must the callers. */
static void aml_nameseg(struct aml *a, const char *seg)
{
	aml_bytes(a, (const uint8_t *)seg, 4);
}

/* The shortest encoding of an integer, as an ASL compiler picks it, so a
 * disassembled and recompiled DSDT comes back byte for byte. */
static void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0) {
		aml_byte(a, AML_ZERO_OP);
	} else if (v == 1) {
		aml_byte(a, AML_ONE_OP);
	} else if (v <= UINT8_MAX) {
		aml_byte(a, AML_BYTE_PREFIX);
		aml_byte(a, (uint8_t)v);
	} else if (v <= UINT16_MAX) {
		aml_byte(a, AML_WORD_PREFIX);
		aml_word(a, (uint16_t)v);
	} else if (v <= UINT32_MAX) {
		aml_byte(a, AML_DWORD_PREFIX);
		aml_dword(a, (uint32_t)v);
	} else {
		aml_byte(a, AML_QWORD_PREFIX);
		aml_dword(a, (uint32_t)v);
		aml_dword(a, (uint32_t)(v >> 32));
	}
}

/* Scope, Device, Package and Buffer are followed by a PkgLength counting
 * itself and everything up to the object's end, which is only known once
 * the contents are written: aml_open marks where they start and
 * aml_close slides them up to insert the shortest PkgLength that fits. */
static uint32_t aml_open(const struct aml *a)
{
	return a->len;
}

static void aml_close(struct aml *a, uint32_t start)
{
	if (a->overflow)
		return;
	uint32_t body = a->len - start;
	/* One byte holds 6 bits; with n more bytes the lead byte keeps 4. */
	uint32_t follow = body + 1 <= 0x3f ? 0 : body + 2 <= 0xfff ? 1 : body + 3 <= 0xfffff ? 2 : 3;
	uint32_t total = body + 1 + follow;
	if (a->cap - a->len < 1 + follow) {
		a->overflow = true;
		return;
	}
	memmove(a->buf + start + 1 + follow, a->buf + start, body);
	if (follow == 0) {
		a->buf[start] = (uint8_t)total;
	} else {
		a->buf[start] = (uint8_t)(follow << 6 | (total & 0x0f));
		for (uint32_t i = 0; i < follow; i++)
			a->buf[start + 1 + i] = (uint8_t)(total >> (4 + 8 * i));
	}
	a->len += 1 + follow;
}

static void aml_name_integer(struct aml *a, const char *name, uint64_t v)
{
	aml_byte(a, AML_NAME_OP);
	aml_nameseg(a, name);
	aml_integer(a, v);
}

/* EisaId("PNP0A03"): three letters of 5 bits each ('A' is 1), then four
 * hex digits, stored most significant byte first; an ASL compiler always
 * gives it the DWord form. */
static void aml_eisa_id(struct aml *a, const char *id)
{
	uint32_t l1 = (uint32_t)(id[0] - '@'), l2 = (uint32_t)(id[1] - '@'), l3 = (uint32_t)(id[2] - '@');
	uint8_t b[4] = { (uint8_t)(l1 << 2 | l2 >> 3), (uint8_t)(l2 << 5 | l3), 0, 0 };
	for (unsigned i = 0; i < 4; i++) {
		char c = id[3 + i];
		unsigned nibble = (unsigned)(c <= '9' ? c - '0' : c - 'A' + 10);
		b[2 + i / 2] |= (uint8_t)(nibble << (i % 2 ? 0 : 4));
	}
	aml_byte(a, AML_DWORD_PREFIX);
	aml_bytes(a, b, 4);
}

static void aml_name_buffer(struct aml *a, const char *name, const uint8_t *data, uint32_t len)
{
	aml_byte(a, AML_NAME_OP);
	aml_nameseg(a, name);
	aml_byte(a, AML_BUFFER_OP);
	uint32_t start = aml_open(a);
	aml_integer(a, len);
	aml_bytes(a, data, len);
	aml_close(a, start);
}

/* IO(Decode16, base, base, 1, len): ports the device itself uses. */
static void res_io(struct aml *r, uint16_t base, uint8_t len)
{
	aml_byte(r, RES_IO_PORT);
	aml_byte(r, RES_IO_DECODE16);
	aml_word(r, base);
	aml_word(r, base);
	aml_byte(r, 1);		/* alignment */
	aml_byte(r, len);
}

/* A window of a bridge, min to max inclusive and fixed, with no
 * translation: WordBusNumber, WordIO. Granularity must be 0 when both
 * ends are fixed. */
static void res_word_window(struct aml *r, uint8_t space, uint8_t type_flags, uint16_t min,
			    uint16_t max)
{
	aml_byte(r, RES_WORD_SPACE);
	aml_word(r, RES_WORD_SPACE_LEN - 3);
	aml_byte(r, space);
	aml_byte(r, RES_MIN_FIXED | RES_MAX_FIXED);
	aml_byte(r, type_flags);
	aml_word(r, 0);			/* granularity */
	aml_word(r, min);
	aml_word(r, max);
	aml_word(r, 0);			/* translation offset */
	aml_word(r, (uint16_t)(max - min + 1));
}

/* DWordMemory, as res_word_window. */
static void res_dword_memory_window(struct aml *r, uint32_t min, uint32_t max)
{
	aml_byte(r, RES_DWORD_SPACE);
	aml_word(r, RES_DWORD_SPACE_LEN - 3);
	aml_byte(r, RES_SPACE_MEMORY);
	aml_byte(r, RES_MIN_FIXED | RES_MAX_FIXED);
	aml_byte(r, RES_MEM_READ_WRITE);
	aml_dword(r, 0);		/* granularity */
	aml_dword(r, min);
	aml_dword(r, max);
	aml_dword(r, 0);		/* translation offset */
	aml_dword(r, max - min + 1);
}

/* The end tag's checksum makes the whole template sum to zero; 0 would
 * also do (it means "not checksummed"), but a real one costs nothing. */
static void res_end(struct aml *r)
{
	aml_byte(r, RES_END_TAG);
	if (!r->overflow)
		aml_byte(r, checksum(r->buf, r->len));
}

/* The _CRS of the PCI root bridge: all bus numbers, the configuration
 * ports, the rest of I/O space, the VGA hole and the PCI memory hole
 * between the top of RAM and the chipset's fixed MMIO. */
static uint32_t build_pci0_crs(uint8_t *buf, uint32_t cap, const struct acpi_config *cfg,
			       bool *overflow)
{
	struct aml r = { .buf = buf, .len = 0, .cap = cap, .overflow = false };

	res_word_window(&r, RES_SPACE_BUS, 0, 0, PCI_BUS_MAX);
	res_io(&r, PCI_CONFIG_PORT, PCI_CONFIG_PORTS);
	res_word_window(&r, RES_SPACE_IO, RES_IO_ENTIRE_RANGE, 0, PCI_CONFIG_PORT - 1);
	res_word_window(&r, RES_SPACE_IO, RES_IO_ENTIRE_RANGE, PCI_CONFIG_PORT + PCI_CONFIG_PORTS,
			UINT16_MAX);
	res_dword_memory_window(&r, VGA_MEM_START, VGA_MEM_END);
	res_dword_memory_window(&r, cfg->pci_mem_start, cfg->pci_mem_end);
	res_end(&r);
	*overflow = r.overflow;
	return r.len;
}

/* The DSDT's AML:
 *
 *   Name(_S5, Package() { SLP_TYPa, SLP_TYPb, 0, 0 })
 *   Scope(_SB) {
 *     Device(PCI0) {
 *       Name(_HID, EisaId("PNP0A03"))
 *       Name(_UID, 0)
 *       Name(_BBN, 0)
 *       Name(_CRS, ResourceTemplate() { ... build_pci0_crs ... })
 *     }
 *     Device(KBD_), Device(MOU_), Device(RTC_): the i8042's keyboard
 *       (PNP0303) and mouse (PNP0F13), the RTC (PNP0B00), each a _HID
 *       and a _CRS
 *   }
 *
 * \_S5 gives the sleep type values for PM1a and PM1b control. There is no
 * PM1b block, so its value is never written; it repeats PM1a's as
 * firmware usually does.
 *
 * With ACPI, Linux scans only the PCI buses a root bridge in the
 * namespace declares, so PCI0 is what makes bus 0 visible; Linux takes
 * the windows it may allocate from in _CRS. PCI0 has no _ADR: a device
 * is named by _HID or by _ADR, not both. There is no _PRT: Linux takes
 * the interrupt line the firmware wrote for a function with a pin (AC'97,
 * and virtio's INTA where MSI-X is off); see DESIGN.md's Known gaps.
 *
 * Names are relative to the root, where this code stands, rather than
 * rooted (\_SB): an ASL compiler shortens them so, and matching it lets
 * a disassembled and recompiled DSDT be compared byte for byte (all but
 * the _CRS end tag's checksum, which compilers leave 0). Returns
 * the length, or 0 if aml_cap is too small. */
/* Device(NAME) { Name(_HID, EisaId(HID)) Name(_CRS, Buffer {CRS}) } */
static void aml_isa_device(struct aml *a, const char *name, const char *hid, const uint8_t *crs,
			   uint32_t crs_len)
{
	aml_byte(a, AML_EXT_OP_PREFIX);
	aml_byte(a, AML_DEVICE_OP);
	uint32_t dev = aml_open(a);
	aml_nameseg(a, name);
	aml_byte(a, AML_NAME_OP);
	aml_nameseg(a, "_HID");
	aml_eisa_id(a, hid);
	aml_name_buffer(a, "_CRS", crs, crs_len);
	aml_close(a, dev);
}

static uint32_t build_dsdt_aml(uint8_t *aml_buf, uint32_t aml_cap, const struct acpi_config *cfg)
{
	struct aml a = { .buf = aml_buf, .len = 0, .cap = aml_cap, .overflow = false };
	uint8_t crs[128];
	bool crs_overflow;
	uint32_t crs_len = build_pci0_crs(crs, sizeof(crs), cfg, &crs_overflow);

	aml_byte(&a, AML_NAME_OP);
	aml_nameseg(&a, "_S5_");
	aml_byte(&a, AML_PACKAGE_OP);
	uint32_t pkg = aml_open(&a);
	aml_byte(&a, 4);		/* NumElements */
	aml_integer(&a, ACPI_PM_SLP_TYP_S5);
	aml_integer(&a, ACPI_PM_SLP_TYP_S5);
	aml_integer(&a, 0);
	aml_integer(&a, 0);
	aml_close(&a, pkg);

	aml_byte(&a, AML_SCOPE_OP);
	uint32_t sb = aml_open(&a);
	aml_nameseg(&a, "_SB_");

	aml_byte(&a, AML_EXT_OP_PREFIX);
	aml_byte(&a, AML_DEVICE_OP);
	uint32_t dev = aml_open(&a);
	aml_nameseg(&a, "PCI0");
	aml_byte(&a, AML_NAME_OP);
	aml_nameseg(&a, "_HID");
	aml_eisa_id(&a, "PNP0A03");
	aml_name_integer(&a, "_UID", 0);
	aml_name_integer(&a, "_BBN", 0);
	aml_name_buffer(&a, "_CRS", crs, crs_len);
	aml_close(&a, dev);

	/* The i8042's keyboard and mouse, as QEMU's DSDT has them: firmware
	 * that reads the DSDT (SeaBIOS) sets up a PS/2 keyboard only when
	 * PNP0303 is declared, and an OS takes their resources from here. */
	static const uint8_t kbd_crs[] = {
		0x47, 0x01, 0x60, 0x00, 0x60, 0x00, 0x01, 0x01,	/* IO 0x60 */
		0x47, 0x01, 0x64, 0x00, 0x64, 0x00, 0x01, 0x01,	/* IO 0x64 */
		0x22, 0x02, 0x00,				/* IRQ 1 */
		0x79, 0x00,					/* end */
	};
	static const uint8_t mouse_crs[] = {
		0x22, 0x00, 0x10,				/* IRQ 12 */
		0x79, 0x00,
	};
	/* The MC146818 RTC: Linux's rtc_cmos binds to PNP0B00 ("rtc_cmos
	 * 00:02: RTC can wake from S4"), and without it says "no PNP device
	 * found" and falls back to a platform device. Its two ports: the
	 * board decodes 0x70-0x71 only (QEMU declares eight). */
	static const uint8_t rtc_crs[] = {
		0x47, 0x01, 0x70, 0x00, 0x70, 0x00, 0x01, 0x02,	/* IO 0x70-0x71 */
		0x22, 0x00, 0x01,				/* IRQ 8 */
		0x79, 0x39,					/* end, checksum */
	};
	aml_isa_device(&a, "KBD_", "PNP0303", kbd_crs, sizeof(kbd_crs));
	aml_isa_device(&a, "MOU_", "PNP0F13", mouse_crs, sizeof(mouse_crs));
	aml_isa_device(&a, "RTC_", "PNP0B00", rtc_crs, sizeof(rtc_crs));

	aml_close(&a, sb);
	return a.overflow || crs_overflow ? 0 : a.len;
}

struct layout {
	uint32_t rsdp, facs, rsdt, xsdt, fadt, madt, dsdt, hpet, end;
	uint32_t madt_len;
	uint32_t tables;	/* in the RSDT and XSDT: FADT, MADT, then HPET if there */
};

static uint32_t align16(uint32_t x)
{
	return (x + 15u) & ~15u;
}

static void put_bytes(uint8_t *p, uint32_t off, const char *s, size_t len)
{
	memcpy(p + off, s, len);
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
	uint32_t len = SDT_HEADER_LEN + 4 * l->tables;

	sdt_header(t, "RSDT", len, 1);
	put32(t, SDT_HEADER_LEN, phys_base + l->fadt);
	put32(t, SDT_HEADER_LEN + 4, phys_base + l->madt);
	if (l->hpet)
		put32(t, SDT_HEADER_LEN + 8, phys_base + l->hpet);
	sdt_finish(t, len);
}

static void build_xsdt(uint8_t *t, uint32_t phys_base, const struct layout *l)
{
	uint32_t len = SDT_HEADER_LEN + 8 * l->tables;

	sdt_header(t, "XSDT", len, 1);
	put64(t, SDT_HEADER_LEN, (uint64_t)phys_base + l->fadt);
	put64(t, SDT_HEADER_LEN + 8, (uint64_t)phys_base + l->madt);
	if (l->hpet)
		put64(t, SDT_HEADER_LEN + 16, (uint64_t)phys_base + l->hpet);
	sdt_finish(t, len);
}

/* The IA-PC HPET table (HPET specification 1.0a, 3.2.4): how Linux and
 * Windows find the event timer block; no AML device is needed for that. */
static void build_hpet(uint8_t *t, const struct acpi_config *cfg)
{
	sdt_header(t, "HPET", HPET_TABLE_LEN, HPET_TABLE_REVISION);
	put32(t, 36, cfg->hpet_block_id);	/* the low half of its GCAP_ID */
	t[40] = GAS_SYSTEM_MEMORY;
	t[41] = 64;				/* register bit width */
	put64(t, 44, cfg->hpet_addr);
	t[52] = 0;				/* HPET number */
	put16(t, 53, cfg->hpet_min_tick);
	t[55] = 0;				/* no page protection claimed */
	sdt_finish(t, HPET_TABLE_LEN);
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

static void build_dsdt(uint8_t *t, const uint8_t *aml, uint32_t aml_len)
{
	uint32_t len = SDT_HEADER_LEN + aml_len;

	sdt_header(t, "DSDT", len, DSDT_REVISION);
	memcpy(t + SDT_HEADER_LEN, aml, aml_len);
	sdt_finish(t, len);
}

static void plan(struct layout *l, const struct acpi_config *cfg, uint32_t aml_len)
{
	l->rsdp = 0;
	l->facs = 64;
	l->rsdt = l->facs + FACS_LEN;
	l->tables = cfg->hpet_addr ? MAX_TABLES : MAX_TABLES - 1;
	l->xsdt = align16(l->rsdt + SDT_HEADER_LEN + 4 * l->tables);
	l->fadt = align16(l->xsdt + SDT_HEADER_LEN + 8 * l->tables);
	l->madt = align16(l->fadt + FADT_LEN);
	l->madt_len = SDT_HEADER_LEN + 8 + cfg->cpus * MADT_LAPIC_LEN + MADT_IOAPIC_LEN +
		      MADT_ISO_COUNT * MADT_ISO_LEN + MADT_LAPIC_NMI_LEN;
	l->dsdt = align16(l->madt + l->madt_len);
	l->end = align16(l->dsdt + SDT_HEADER_LEN + aml_len);
	l->hpet = 0;
	if (cfg->hpet_addr) {
		l->hpet = l->end;
		l->end = align16(l->hpet + HPET_TABLE_LEN);
	}
}

/* Whether [start, end] and the len bytes at addr share a byte. */
static bool overlaps(uint32_t start, uint32_t end, uint32_t addr, uint32_t len)
{
	return addr <= end && (uint64_t)addr + len - 1 >= start;
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
	if (cfg->ioapic_gsi_base > UINT32_MAX - ISA_IRQS)
		return false;
	/* The PCI memory window is where the OS puts BARs: it must not
	 * reach down into the VGA window and legacy area, nor cover the
	 * APICs' registers. */
	if (cfg->pci_mem_start < PCI_MEM_MIN || cfg->pci_mem_start > cfg->pci_mem_end)
		return false;
	return !overlaps(cfg->pci_mem_start, cfg->pci_mem_end, cfg->lapic_addr, APIC_MMIO_LEN) &&
	       !overlaps(cfg->pci_mem_start, cfg->pci_mem_end, cfg->ioapic_addr, APIC_MMIO_LEN);
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
		.pci_mem_start = ACPI_PCI_MEM_DEFAULT_START,
		.pci_mem_end = ACPI_PCI_MEM_DEFAULT_END,
	};
}

int acpi_build(uint8_t *buf, size_t buf_len, uint32_t phys_base, const struct acpi_config *cfg,
	       uint32_t *rsdp_phys)
{
	struct layout l;
	uint8_t aml[DSDT_AML_MAX];

	if (!config_valid(cfg) || phys_base % 64 != 0)
		return -EINVAL;
	uint32_t aml_len = build_dsdt_aml(aml, sizeof(aml), cfg);
	if (!aml_len)
		return -ENOSPC;	/* DSDT_AML_MAX is too small: a bug here, not the caller's */
	plan(&l, cfg, aml_len);
	if ((uint64_t)phys_base + l.end > (uint64_t)UINT32_MAX + 1)
		return -EINVAL;
	if (buf_len < l.end)
		return -ENOSPC;
	memset(buf, 0, l.end);
	build_facs(buf + l.facs);
	build_dsdt(buf + l.dsdt, aml, aml_len);
	build_fadt(buf + l.fadt, phys_base, &l, cfg);
	build_madt(buf + l.madt, &l, cfg);
	if (l.hpet)
		build_hpet(buf + l.hpet, cfg);
	build_rsdt(buf + l.rsdt, phys_base, &l);
	build_xsdt(buf + l.xsdt, phys_base, &l);
	build_rsdp(buf + l.rsdp, phys_base, &l);
	*rsdp_phys = phys_base + l.rsdp;
	return (int)l.end;
}
