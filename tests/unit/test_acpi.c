/* The ACPI tables read back the way an OS reads them: the RSDP found by
 * scanning the BIOS area on 16-byte boundaries, every checksum, the RSDT
 * and XSDT to the FADT and MADT, the FADT to the FACS, the DSDT and the
 * PM ports, the MADT's entries, and the DSDT's AML loaded into a small
 * namespace by a walker that knows the few opcodes a static DSDT needs:
 * \_S5, and the PCI root bridge \_SB.PCI0 with its _CRS resource
 * descriptors decoded; then the reset register, several CPUs, other PCI
 * memory windows and bad configurations. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "boot/acpi.h"
#include "check.h"
#include "devices/acpi_pm.h"
#include "le_bytes.h"

#define AREA_BASE 0xe0000u
#define AREA_LEN 0x20000u	/* 0xE0000-0xFFFFF */
#define FILLER 0xa5u

static uint8_t area[AREA_LEN];

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

/* What the walker records of each named object, under its absolute path
 * ("\_SB_.PCI0._HID"). Packages hold integers only, as \_S5 does. */
enum aml_kind { AML_INTEGER, AML_PACKAGE, AML_BUFFER, AML_DEVICE };

#define AML_PATH_MAX 48
#define AML_PKG_MAX 8
#define AML_OBJS_MAX 32

struct aml_obj {
	char path[AML_PATH_MAX];
	enum aml_kind kind;
	uint64_t integer;
	uint64_t elems[AML_PKG_MAX];
	unsigned count;
	const uint8_t *data;	/* buffer bytes */
	uint32_t len;
};

struct aml_ns {
	struct aml_obj objs[AML_OBJS_MAX];
	unsigned n;
};

static bool aml_lead_char(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || c == '_';
}

static bool aml_nameseg(const uint8_t *q)
{
	if (!aml_lead_char(q[0]))
		return false;
	for (unsigned i = 1; i < 4; i++)
		if (!aml_lead_char(q[i]) && !(q[i] >= '0' && q[i] <= '9'))
			return false;
	return true;
}

/* A NameString: rooted ('\') or relative to scope, of one segment, two
 * (DualNamePrefix) or several (MultiNamePrefix); the parent prefix '^' is
 * refused, as nothing here uses it. */
static bool aml_name_string(const uint8_t **p, const uint8_t *end, const char *scope,
			    char path[AML_PATH_MAX])
{
	const uint8_t *q = *p;
	unsigned segs = 1;

	if (q < end && *q == '\\') {
		strcpy(path, "\\");
		q++;
	} else {
		snprintf(path, AML_PATH_MAX, "%s", scope);
	}
	if (q < end && *q == 0x2e) {
		segs = 2;
		q++;
	} else if (q < end && *q == 0x2f) {
		q++;
		if (q >= end)
			return false;
		segs = *q++;
	}
	for (unsigned i = 0; i < segs; i++) {
		size_t used = strlen(path);
		if (end - q < 4 || !aml_nameseg(q) || used + 6 > AML_PATH_MAX)
			return false;
		if (path[used - 1] != '\\')
			path[used++] = '.';
		memcpy(path + used, q, 4);
		path[used + 4] = '\0';
		q += 4;
	}
	*p = q;
	return true;
}

static struct aml_obj *aml_add(struct aml_ns *ns, const char *path, enum aml_kind kind)
{
	for (unsigned i = 0; i < ns->n; i++)
		if (strcmp(ns->objs[i].path, path) == 0)
			return NULL;	/* declared twice: the OS would refuse the table */
	if (ns->n == AML_OBJS_MAX)
		return NULL;
	struct aml_obj *o = &ns->objs[ns->n++];
	memset(o, 0, sizeof(*o));
	snprintf(o->path, sizeof(o->path), "%s", path);
	o->kind = kind;
	return o;
}

/* The object a PkgLength opens: where it ends, checked against end. */
static bool aml_pkg(const uint8_t **p, const uint8_t *end, const uint8_t **pkg_end)
{
	const uint8_t *start = *p;
	uint32_t len;
	if (!aml_pkg_length(p, end, &len) || len > (size_t)(end - start) || start + len < *p)
		return false;
	*pkg_end = start + len;
	return true;
}

/* The DataRefObject of a Name: an integer, a package of integers, or a
 * buffer whose declared size is exactly its initializer's. */
static bool aml_data(const uint8_t **p, const uint8_t *end, struct aml_ns *ns, const char *path)
{
	const uint8_t *q = *p, *obj_end;
	struct aml_obj *o;

	if (q < end && (*q == 0x12 || *q == 0x11)) {
		bool package = *q++ == 0x12;
		if (!aml_pkg(&q, end, &obj_end))
			return false;
		o = aml_add(ns, path, package ? AML_PACKAGE : AML_BUFFER);
		if (!o)
			return false;
		if (package) {
			if (q >= obj_end)
				return false;
			o->count = *q++;	/* NumElements */
			for (unsigned i = 0; i < o->count; i++)
				if (i >= AML_PKG_MAX || !aml_integer(&q, obj_end, &o->elems[i]))
					return false;
		} else {
			uint64_t size;
			if (!aml_integer(&q, obj_end, &size) || size != (uint64_t)(obj_end - q))
				return false;
			o->data = q;
			o->len = (uint32_t)size;
			q = obj_end;
		}
		if (q != obj_end)
			return false;
	} else {
		o = aml_add(ns, path, AML_INTEGER);
		if (!o || !aml_integer(&q, end, &o->integer))
			return false;
	}
	*p = q;
	return true;
}

/* A TermList of Name, Scope and Device objects, which must fill the bytes
 * up to end exactly. */
static bool aml_term_list(const uint8_t *p, const uint8_t *end, const char *scope,
			  struct aml_ns *ns)
{
	char path[AML_PATH_MAX];
	const uint8_t *obj_end;

	while (p < end) {
		uint8_t op = *p++;
		if (op == 0x08) {		/* NameOp */
			if (!aml_name_string(&p, end, scope, path) || !aml_data(&p, end, ns, path))
				return false;
		} else if (op == 0x10) {	/* ScopeOp */
			if (!aml_pkg(&p, end, &obj_end) ||
			    !aml_name_string(&p, obj_end, scope, path) ||
			    !aml_term_list(p, obj_end, path, ns))
				return false;
			p = obj_end;
		} else if (op == 0x5b && p < end && *p == 0x82) {	/* DeviceOp */
			p++;
			if (!aml_pkg(&p, end, &obj_end) ||
			    !aml_name_string(&p, obj_end, scope, path) ||
			    !aml_add(ns, path, AML_DEVICE) || !aml_term_list(p, obj_end, path, ns))
				return false;
			p = obj_end;
		} else {
			return false;
		}
	}
	return p == end;
}

static const struct aml_obj *aml_find(const struct aml_ns *ns, const char *path, enum aml_kind kind)
{
	for (unsigned i = 0; i < ns->n; i++)
		if (strcmp(ns->objs[i].path, path) == 0)
			return ns->objs[i].kind == kind ? &ns->objs[i] : NULL;
	return NULL;
}

/* EisaId: letters of 5 bits from 'A' = 1 and four hex digits, most
 * significant byte first in the little-endian integer. */
static void eisa_id_string(uint64_t v, char out[8])
{
	static const char hex[] = "0123456789ABCDEF";
	uint32_t be = (uint32_t)((v & 0xff) << 24 | (v & 0xff00) << 8 | (v >> 8 & 0xff00) |
				 (v >> 24 & 0xff));
	out[0] = (char)('@' + (be >> 26 & 0x1f));
	out[1] = (char)('@' + (be >> 21 & 0x1f));
	out[2] = (char)('@' + (be >> 16 & 0x1f));
	for (unsigned i = 0; i < 4; i++)
		out[3 + i] = hex[be >> (12 - 4 * i) & 0xf];
	out[7] = '\0';
}

struct window {
	uint32_t min, max;
};

/* A _CRS decoded: the bridge's bus range, the ports it uses itself and
 * the I/O and memory windows it forwards, in their order. */
struct crs {
	unsigned buses, ios, io_windows, mem_windows, ends;
	struct window bus, io, io_window[4], mem_window[4];
	uint16_t irq_mask;	/* of the IRQ descriptors */
};

/* The fields every address space descriptor here shares: a producer's
 * window with both ends fixed, positive decode, no granularity and no
 * translation, its length agreeing with its bounds. Returns the resource
 * type. */
static unsigned check_address_space(const uint8_t *d, unsigned width, struct window *w)
{
	uint64_t f[5];	/* granularity, min, max, translation, length */
	for (unsigned i = 0; i < 5; i++)
		f[i] = width == 2 ? get16(d + 6 + 2 * i) : get32(d + 6 + 4 * i);
	CHECK_EQ(d[4], 0x0c);
	CHECK_EQ(f[0], 0);
	CHECK_EQ(f[3], 0);
	CHECK(f[1] <= f[2]);
	CHECK_EQ(f[4], f[2] - f[1] + 1);
	w->min = (uint32_t)f[1];
	w->max = (uint32_t)f[2];
	return d[3];
}

static void add_window(struct window *list, unsigned *n, struct window w)
{
	CHECK(*n < 4);
	if (*n < 4)
		list[(*n)++] = w;
}

static struct crs decode_crs(const uint8_t *data, uint32_t len)
{
	struct crs c;
	uint32_t off = 0;

	memset(&c, 0, sizeof(c));
	while (off < len) {
		const uint8_t *d = data + off;
		uint32_t item;
		if (d[0] & 0x80) {
			CHECK(len - off >= 3);
			if (len - off < 3)
				break;
			item = 3u + get16(d + 1);
		} else {
			item = 1u + (d[0] & 7u);
		}
		CHECK(item <= len - off);
		if (item > len - off)
			break;
		struct window w;
		switch (d[0]) {
		case 0x47:	/* I/O port */
			CHECK_EQ(d[1], 1);		/* 16-bit decode */
			CHECK_EQ(get16(d + 2), get16(d + 4));	/* fixed base */
			CHECK_EQ(d[6], 1);
			c.io.min = get16(d + 2);
			c.io.max = c.io.min + d[7] - 1u;
			c.ios++;
			break;
		case 0x22:	/* IRQ, edge-triggered active-high */
			CHECK_EQ(item, 3);
			c.irq_mask |= (uint16_t)get16(d + 1);
			break;
		case 0x79:	/* end tag: last, template sums to zero */
			CHECK_EQ(off + item, len);
			CHECK(sums_to_zero(data, len));
			c.ends++;
			break;
		case 0x88:	/* Word address space */
		case 0x87:	/* DWord address space */
			CHECK_EQ(item, d[0] == 0x88 ? 16 : 26);
			if (item != (d[0] == 0x88 ? 16u : 26u))
				break;
			switch (check_address_space(d, d[0] == 0x88 ? 2 : 4, &w)) {
			case 2:
				CHECK_EQ(d[5], 0);
				c.bus = w;
				c.buses++;
				break;
			case 1:
				CHECK_EQ(d[5] & 3, 3);	/* ISA and non-ISA ranges */
				add_window(c.io_window, &c.io_windows, w);
				break;
			case 0:
				CHECK_EQ(d[5] & 1, 1);	/* read/write */
				CHECK((d[5] & 6) != 6);	/* not prefetchable */
				add_window(c.mem_window, &c.mem_windows, w);
				break;
			default:
				CHECK(!"unexpected address space type");
			}
			break;
		default:
			CHECK(!"unexpected resource descriptor");
		}
		off += item;
	}
	return c;
}

/* \_S5 and \_SB.PCI0 as Linux reads them: a PNP0A03 root bridge of bus 0
 * decoding bus numbers 0-255, all ports around its own 0xCF8-0xCFF, the
 * VGA window and the configured PCI memory window. */
static void check_dsdt(const uint8_t *dsdt, const struct acpi_config *cfg)
{
	struct aml_ns ns = { .n = 0 };
	char id[8];

	CHECK(aml_term_list(dsdt + 36, dsdt + get32(dsdt + 4), "\\", &ns));

	const struct aml_obj *s5 = aml_find(&ns, "\\_S5_", AML_PACKAGE);
	CHECK(s5 != NULL);
	if (s5) {
		CHECK(s5->count >= 2);
		CHECK_EQ(s5->elems[0], ACPI_PM_SLP_TYP_S5);
		CHECK_EQ(s5->elems[0], 5);
		CHECK_EQ(s5->elems[1], 5);
	}

	/* No sleeping state but S5: Linux offers no "deep" suspend
	 * (docs/DESIGN.md, "ACPI sleep states"). */
	CHECK(aml_find(&ns, "\\_S3_", AML_PACKAGE) == NULL);
	CHECK(aml_find(&ns, "\\_S4_", AML_PACKAGE) == NULL);
	CHECK(aml_find(&ns, "\\_S1_", AML_PACKAGE) == NULL);

	CHECK(aml_find(&ns, "\\_SB_.PCI0", AML_DEVICE) != NULL);
	const struct aml_obj *hid = aml_find(&ns, "\\_SB_.PCI0._HID", AML_INTEGER);
	CHECK(hid != NULL);
	if (hid) {
		eisa_id_string(hid->integer, id);
		CHECK_STR_CONTAINS(id, "PNP0A03");
		CHECK_EQ(hid->integer, 0x030ad041u);
	}
	const struct aml_obj *bbn = aml_find(&ns, "\\_SB_.PCI0._BBN", AML_INTEGER);
	if (bbn)
		CHECK_EQ(bbn->integer, 0);
	/* _HID names it; an _ADR beside it is what the spec forbids. */
	CHECK(aml_find(&ns, "\\_SB_.PCI0._ADR", AML_INTEGER) == NULL);

	const struct aml_obj *res = aml_find(&ns, "\\_SB_.PCI0._CRS", AML_BUFFER);
	CHECK(res != NULL);
	if (!res)
		return;
	struct crs c = decode_crs(res->data, res->len);
	CHECK_EQ(c.ends, 1);
	CHECK_EQ(c.buses, 1);
	CHECK_EQ(c.bus.min, 0);
	CHECK_EQ(c.bus.max, 0xff);
	CHECK_EQ(c.ios, 1);
	CHECK_EQ(c.io.min, 0xcf8);
	CHECK_EQ(c.io.max, 0xcff);
	CHECK_EQ(c.io_windows, 2);
	CHECK_EQ(c.io_window[0].min, 0);
	CHECK_EQ(c.io_window[0].max, 0xcf7);
	CHECK_EQ(c.io_window[1].min, 0xd00);
	CHECK_EQ(c.io_window[1].max, 0xffff);
	CHECK_EQ(c.mem_windows, 2);
	CHECK_EQ(c.mem_window[0].min, 0xa0000);
	CHECK_EQ(c.mem_window[0].max, 0xbffff);
	CHECK_EQ(c.mem_window[1].min, cfg->pci_mem_start);
	CHECK_EQ(c.mem_window[1].max, cfg->pci_mem_end);

	/* The RTC, where Linux's rtc_cmos looks for it (PNP0B00): its two
	 * ports and IRQ 8. */
	hid = aml_find(&ns, "\\_SB_.RTC_._HID", AML_INTEGER);
	CHECK(hid != NULL);
	if (hid) {
		eisa_id_string(hid->integer, id);
		CHECK_STR_CONTAINS(id, "PNP0B00");
	}
	res = aml_find(&ns, "\\_SB_.RTC_._CRS", AML_BUFFER);
	CHECK(res != NULL);
	if (!res)
		return;
	c = decode_crs(res->data, res->len);
	CHECK_EQ(c.ios, 1);
	CHECK_EQ(c.io.min, 0x70);
	CHECK_EQ(c.io.max, 0x71);
	CHECK_EQ(c.irq_mask, 1u << 8);
	CHECK_EQ(c.ends, 1);
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
	const uint8_t *fadt, *madt, *hpet;
	uint32_t tables;
};

static struct found walk_root(const uint8_t *rsdp)
{
	struct found f = { NULL, NULL, NULL, 0 };

	const uint8_t *rsdt = sdt(get32(rsdp + 16), "RSDT");
	const uint8_t *xsdt = sdt(get64(rsdp + 24), "XSDT");
	if (!rsdt || !xsdt)
		return f;
	uint32_t n = (get32(rsdt + 4) - 36) / 4;
	CHECK(n == 2 || n == 3);
	f.tables = n;
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
		else if (memcmp(t, "HPET", 4) == 0)
			f.hpet = sdt(addr, "HPET");
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
		CHECK_EQ(dsdt[8], 2);		/* 64-bit AML integers */
		check_dsdt(dsdt, cfg);
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
	/* Up to btvm's test device at 0xFEBF0000, short of the APICs. */
	CHECK_EQ(cfg.pci_mem_start, 0xc0000000u);
	CHECK_EQ(cfg.pci_mem_end, 0xfebeffffu);
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
	/* No HPET unless the board has one. */
	CHECK_EQ(f.tables, 2);
	CHECK(f.hpet == NULL);
}

/* The board's HPET: a third table in the RSDT and XSDT, as the HPET
 * specification's 3.2.4 lays it out. */
static void test_hpet_table(void)
{
	struct acpi_config cfg;
	uint32_t rsdp_phys;

	acpi_config_default(&cfg);
	cfg.hpet_addr = ACPI_HPET_DEFAULT_ADDR;
	cfg.hpet_block_id = 0x8086a201u;
	cfg.hpet_min_tick = 10000;
	int used = build_into_area(&cfg, &rsdp_phys);
	CHECK(used > 0 && used < 1024);
	const uint8_t *rsdp = find_rsdp();
	CHECK(rsdp != NULL);
	if (!rsdp)
		return;
	struct found f = walk_root(rsdp);
	CHECK_EQ(f.tables, 3);
	CHECK(f.fadt != NULL && f.madt != NULL && f.hpet != NULL);
	if (!f.hpet)
		return;
	CHECK_EQ(get32(f.hpet + 4), 56);
	CHECK_EQ(f.hpet[8], 1);
	CHECK_EQ(get32(f.hpet + 36), 0x8086a201u);
	CHECK_EQ(f.hpet[40], 0);		/* system memory */
	CHECK_EQ(f.hpet[41], 64);
	CHECK_EQ(get64(f.hpet + 44), 0xfed00000u);
	CHECK_EQ(f.hpet[52], 0);		/* HPET number */
	CHECK_EQ(get16(f.hpet + 53), 10000);
	if (f.fadt)
		check_fadt(f.fadt, &cfg);
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

/* The board moves the PCI memory window's start to the top of RAM. */
static void test_pci_windows(void)
{
	static const struct window windows[] = {
		{ 0x10000000u, 0xfebeffffu },	/* 256 MiB of RAM */
		{ 0x02000000u, 0xfebeffffu },	/* 32 MiB */
		{ 0x00100000u, 0x00100000u },	/* one byte, at the lowest start allowed */
		{ 0xfee01000u, 0xffffffffu },	/* above the local APIC */
	};

	for (size_t i = 0; i < sizeof(windows) / sizeof(windows[0]); i++) {
		struct acpi_config cfg;
		uint32_t rsdp_phys;

		acpi_config_default(&cfg);
		cfg.pci_mem_start = windows[i].min;
		cfg.pci_mem_end = windows[i].max;
		CHECK(build_into_area(&cfg, &rsdp_phys) > 0);
		const uint8_t *rsdp = find_rsdp();
		CHECK(rsdp != NULL);
		if (!rsdp)
			return;
		struct found f = walk_root(rsdp);
		CHECK(f.fadt != NULL);
		if (f.fadt)
			check_fadt(f.fadt, &cfg);
	}
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

	/* PCI memory windows reaching into the legacy area, empty, or over
	 * the I/O APIC or the local APIC. */
	static const struct window bad[] = {
		{ 0x000fffffu, 0xfebeffffu },
		{ 0x00000000u, 0x0009ffffu },
		{ 0xc0000000u, 0xbfffffffu },
		{ 0xc0000000u, 0xfec00000u },
		{ 0xfec00fffu, 0xfec01000u },
		{ 0xfed00000u, 0xfee00000u },
		{ 0xfee00fffu, 0xffffffffu },
		{ 0x00100000u, 0xffffffffu },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		acpi_config_default(&cfg);
		cfg.pci_mem_start = bad[i].min;
		cfg.pci_mem_end = bad[i].max;
		CHECK_EQ(acpi_build(area, sizeof(area), AREA_BASE, &cfg, &rsdp_phys), -EINVAL);
	}
	CHECK_EQ(rsdp_phys, 0x1234);
}

int main(void)
{
	test_default_tables();
	test_hpet_table();
	test_reset_register();
	test_several_cpus();
	test_pci_windows();
	test_bad_arguments();
	return check_report("test_acpi");
}
