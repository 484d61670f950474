/* The generic PCI function (devices/pci.c) on its own: identification and
 * header defaults, BAR sizing for each kind, address writes and their
 * alignment, the bar_mapped callback on address and command changes, the
 * capability list, INTx with the disable and status bits, reset, the
 * config hooks, and pci_region keeping a bus region on a BAR. */
#include <errno.h>

#include "check.h"
#include "devices/bus.h"
#include "devices/pci.h"

/* A std-VGA-like identity: what the display will present. */
static const struct pci_id vga_id = {
	.vendor = 0x1234, .device = 0x1111, .revision = 0x02, .class_code = 0x030000,
	.subsystem_vendor = 0x1af4, .subsystem = 0x1100,
};

#define MAX_EVENTS 32

/* Everything the function tells its device and its interrupt line. */
struct recorder {
	unsigned n;
	unsigned bar[MAX_EVENTS];
	uint64_t addr[MAX_EVENTS];
	unsigned irq_calls;
	int irq_level;
	unsigned reads, writes;
	unsigned last_reg, last_width;
};

static void rec_bar_mapped(void *opaque, unsigned bar, uint64_t addr)
{
	struct recorder *r = opaque;
	if (r->n < MAX_EVENTS) {
		r->bar[r->n] = bar;
		r->addr[r->n] = addr;
	}
	r->n++;
}

static void rec_irq(void *opaque, unsigned line, int level)
{
	struct recorder *r = opaque;
	CHECK_EQ(line, 7);
	r->irq_calls++;
	r->irq_level = level;
}

static void rec_config_read(void *opaque, unsigned reg, unsigned width)
{
	struct recorder *r = opaque;
	r->reads++;
	r->last_reg = reg;
	r->last_width = width;
}

static void rec_config_written(void *opaque, unsigned reg, unsigned width)
{
	struct recorder *r = opaque;
	r->writes++;
	r->last_reg = reg;
	r->last_width = width;
}

static void setup(struct pci_function *fn, struct recorder *rec)
{
	*rec = (struct recorder){ 0 };
	pci_function_init(fn, 0x10, &vga_id);
	fn->bar_mapped = rec_bar_mapped;
	fn->opaque = rec;
	fn->intx = (struct irq_line){ .set_level = rec_irq, .opaque = rec, .line = 7 };
}

static uint32_t rd(struct pci_function *fn, unsigned reg, unsigned width)
{
	return pci_function_read(fn, reg, width);
}

static void wr(struct pci_function *fn, unsigned reg, unsigned width, uint32_t value)
{
	pci_function_write(fn, reg, width, value);
}

/* Linux's sizing of one BAR: save, write ones, read, restore. */
static uint32_t size_bar(struct pci_function *fn, unsigned bar)
{
	unsigned reg = PCI_REG_BAR0 + 4 * bar;
	uint32_t saved = rd(fn, reg, 4);
	wr(fn, reg, 4, 0xffffffff);
	uint32_t mask = rd(fn, reg, 4);
	wr(fn, reg, 4, saved);
	return mask;
}

static void test_header(void)
{
	struct pci_function fn;
	struct recorder rec;
	setup(&fn, &rec);

	CHECK_EQ(fn.devfn, 0x10);
	CHECK_EQ(rd(&fn, 0x00, 4), 0x11111234);
	CHECK_EQ(rd(&fn, 0x08, 4), 0x03000002);
	CHECK_EQ(rd(&fn, 0x0e, 1), 0x00);
	CHECK_EQ(rd(&fn, 0x2c, 4), 0x11001af4);
	CHECK_EQ(rd(&fn, 0x04, 4), 0);
	CHECK_EQ(rd(&fn, 0x34, 1), 0);
	CHECK_EQ(rd(&fn, 0x3c, 2), 0);

	/* Identification is read-only at every width. */
	wr(&fn, 0x00, 4, 0);
	wr(&fn, 0x09, 1, 0xff);
	wr(&fn, 0x2c, 4, 0);
	wr(&fn, 0x0e, 1, 0x80);
	CHECK_EQ(rd(&fn, 0x00, 4), 0x11111234);
	CHECK_EQ(rd(&fn, 0x08, 4), 0x03000002);
	CHECK_EQ(rd(&fn, 0x2c, 4), 0x11001af4);
	CHECK_EQ(rd(&fn, 0x0e, 1), 0);

	/* Command: I/O, memory, master, parity, SERR#, INTx disable. */
	wr(&fn, 0x04, 2, 0xffff);
	CHECK_EQ(rd(&fn, 0x04, 2), 0x0547);
	wr(&fn, 0x04, 2, 0);
	/* Status: error bits write-1-to-clear, nothing else writable. */
	fn.config[0x07] = 0xf9;
	wr(&fn, 0x06, 2, 0x2000 | PCI_STATUS_CAP_LIST | PCI_STATUS_INTERRUPT);
	CHECK_EQ(rd(&fn, 0x06, 2), 0xd900);
	wr(&fn, 0x04, 4, 0xffff0000);
	CHECK_EQ(rd(&fn, 0x04, 4), 0);

	/* Cache line size and interrupt line writable; latency, pin not. */
	wr(&fn, 0x0c, 4, 0xffffffff);
	CHECK_EQ(rd(&fn, 0x0c, 4), 0x000000ff);
	wr(&fn, 0x3c, 2, 0xffff);
	CHECK_EQ(rd(&fn, 0x3c, 2), 0x00ff);
	pci_function_set_pin(&fn, PCI_PIN_INTA);
	CHECK_EQ(rd(&fn, 0x3c, 4), 0x000001ff);

	/* Malformed accesses: all ones, and no write. */
	CHECK_EQ(rd(&fn, 0xfe, 4), 0xffffffff);
	CHECK_EQ(rd(&fn, 0x100, 1), 0xff);
	CHECK_EQ(rd(&fn, 0x00, 3), 0xffffff);
	wr(&fn, 0xfd, 4, 0);
	CHECK_EQ(rd(&fn, 0x3c, 1), 0xff);
	CHECK_EQ(rec.n, 0);
	CHECK_EQ(rec.irq_calls, 0);
}

static void test_bar_sizing(void)
{
	struct pci_function fn;
	struct recorder rec;
	setup(&fn, &rec);

	CHECK_EQ(pci_function_add_bar(&fn, 0, PCI_BAR_MEM32_PREFETCH, 16u << 20), 0);
	CHECK_EQ(pci_function_add_bar(&fn, 1, PCI_BAR_IO, 32), 0);
	CHECK_EQ(pci_function_add_bar(&fn, 2, PCI_BAR_MEM32, 4096), 0);
	CHECK_EQ(pci_function_add_bar(&fn, 4, PCI_BAR_IO, 4), 0);
	CHECK_EQ(pci_function_add_bar(&fn, 5, PCI_BAR_MEM32, 16), 0);

	/* Type bits from the start: prefetchable memory, I/O, memory. */
	CHECK_EQ(rd(&fn, 0x10, 4), 0x00000008);
	CHECK_EQ(rd(&fn, 0x14, 4), 0x00000001);
	CHECK_EQ(rd(&fn, 0x18, 4), 0x00000000);

	CHECK_EQ(size_bar(&fn, 0), 0xff000008);
	CHECK_EQ(size_bar(&fn, 1), 0xffffffe1);
	CHECK_EQ(size_bar(&fn, 2), 0xfffff000);
	CHECK_EQ(size_bar(&fn, 3), 0);		/* not declared */
	CHECK_EQ(size_bar(&fn, 4), 0xfffffffd);
	CHECK_EQ(size_bar(&fn, 5), 0xfffffff0);
	/* Restored to what they were. */
	CHECK_EQ(rd(&fn, 0x10, 4), 0x00000008);
	CHECK_EQ(rd(&fn, 0x14, 4), 0x00000001);

	/* The expansion ROM BAR: nothing there, whatever the mask. */
	wr(&fn, 0x30, 4, 0xfffff800);
	CHECK_EQ(rd(&fn, 0x30, 4), 0);
	wr(&fn, 0x30, 4, 0xffffffff);
	CHECK_EQ(rd(&fn, 0x30, 4), 0);

	/* Declarations that make no sense. */
	CHECK_EQ(pci_function_add_bar(&fn, 0, PCI_BAR_MEM32, 4096), -EINVAL);	/* taken */
	CHECK_EQ(pci_function_add_bar(&fn, 6, PCI_BAR_MEM32, 4096), -EINVAL);
	CHECK_EQ(pci_function_add_bar(&fn, 3, PCI_BAR_MEM32, 3 * 4096), -EINVAL);
	CHECK_EQ(pci_function_add_bar(&fn, 3, PCI_BAR_MEM32, 8), -EINVAL);
	CHECK_EQ(pci_function_add_bar(&fn, 3, PCI_BAR_MEM32, 0), -EINVAL);
	CHECK_EQ(pci_function_add_bar(&fn, 3, PCI_BAR_IO, 2), -EINVAL);
	CHECK_EQ(pci_function_add_bar(&fn, 3, PCI_BAR_IO, 0x20000), -EINVAL);
	CHECK_EQ(pci_function_add_bar(&fn, 3, PCI_BAR_NONE, 16), -EINVAL);
	CHECK_EQ(size_bar(&fn, 3), 0);
	CHECK_EQ(pci_function_add_bar(&fn, 3, PCI_BAR_MEM32, 0x80000000u), 0);
	CHECK_EQ(size_bar(&fn, 3), 0x80000000u);
	CHECK_EQ(pci_function_add_bar(&fn, 0, PCI_BAR_IO, 0x10000), -EINVAL);
	/* Decoding was never on: no callback through all of this. */
	CHECK_EQ(rec.n, 0);
}

static void test_bar_addresses(void)
{
	struct pci_function fn;
	struct recorder rec;
	setup(&fn, &rec);
	CHECK_EQ(pci_function_add_bar(&fn, 0, PCI_BAR_MEM32_PREFETCH, 16u << 20), 0);
	CHECK_EQ(pci_function_add_bar(&fn, 1, PCI_BAR_IO, 32), 0);

	/* Address bits below the size are not there; type bits stay. */
	wr(&fn, 0x10, 4, 0xe0123456);
	CHECK_EQ(rd(&fn, 0x10, 4), 0xe0000008);
	wr(&fn, 0x14, 4, 0x0000c0ff);
	CHECK_EQ(rd(&fn, 0x14, 4), 0x0000c0e1);
	/* Byte and word writes reach their bytes only. */
	wr(&fn, 0x13, 1, 0xf1);
	CHECK_EQ(rd(&fn, 0x10, 4), 0xf1000008);
	wr(&fn, 0x10, 2, 0xffff);
	CHECK_EQ(rd(&fn, 0x10, 4), 0xf1000008);
	wr(&fn, 0x16, 2, 0x0001);
	CHECK_EQ(rd(&fn, 0x14, 4), 0x0001c0e1);
	wr(&fn, 0x16, 2, 0x0000);

	CHECK_EQ(pci_function_bar_address(&fn, 0), PCI_BAR_UNMAPPED);
	CHECK_EQ(pci_function_bar_address(&fn, 2), PCI_BAR_UNMAPPED);
	CHECK_EQ(pci_function_bar_address(&fn, 6), PCI_BAR_UNMAPPED);
	CHECK_EQ(rec.n, 0);
}

static void test_bar_mapped(void)
{
	struct pci_function fn;
	struct recorder rec;
	setup(&fn, &rec);
	CHECK_EQ(pci_function_add_bar(&fn, 0, PCI_BAR_MEM32_PREFETCH, 16u << 20), 0);
	CHECK_EQ(pci_function_add_bar(&fn, 1, PCI_BAR_IO, 32), 0);
	CHECK_EQ(pci_function_add_bar(&fn, 2, PCI_BAR_MEM32, 4096), 0);
	wr(&fn, 0x10, 4, 0xe0000000);
	wr(&fn, 0x14, 4, 0xc000);
	wr(&fn, 0x18, 4, 0xe1000000);
	CHECK_EQ(rec.n, 0);

	/* Memory decoding on: both memory BARs, in BAR order, not the I/O. */
	wr(&fn, 0x04, 2, PCI_COMMAND_MEMORY);
	CHECK_EQ(rec.n, 2);
	CHECK_EQ(rec.bar[0], 0);
	CHECK_EQ(rec.addr[0], 0xe0000000);
	CHECK_EQ(rec.bar[1], 2);
	CHECK_EQ(rec.addr[1], 0xe1000000);
	CHECK_EQ(fn.bar[0].mapped, 0xe0000000);
	/* Writing the same command again changes nothing. */
	wr(&fn, 0x04, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	CHECK_EQ(rec.n, 2);
	/* I/O decoding on: the I/O BAR alone. */
	wr(&fn, 0x04, 1, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
	CHECK_EQ(rec.n, 3);
	CHECK_EQ(rec.bar[2], 1);
	CHECK_EQ(rec.addr[2], 0xc000);

	/* A move while decoding: one call with the new address; rewriting
	 * the same address (or bits below the size) is no change. */
	wr(&fn, 0x18, 4, 0xe1001000);
	CHECK_EQ(rec.n, 4);
	CHECK_EQ(rec.bar[3], 2);
	CHECK_EQ(rec.addr[3], 0xe1001000);
	wr(&fn, 0x18, 4, 0xe1001fff);
	wr(&fn, 0x10, 4, 0xe0000000);
	CHECK_EQ(rec.n, 4);

	/* Sizing with decoding left on: the all-ones pattern touches the top
	 * of the space and does not decode, then the old address returns. */
	CHECK_EQ(size_bar(&fn, 0), 0xff000008);
	CHECK_EQ(rec.n, 6);
	CHECK_EQ(rec.addr[4], PCI_BAR_UNMAPPED);
	CHECK_EQ(rec.addr[5], 0xe0000000);
	CHECK_EQ(size_bar(&fn, 1), 0xffffffe1);	/* beyond 64 KiB of ports */
	CHECK_EQ(rec.n, 8);
	CHECK_EQ(rec.bar[6], 1);
	CHECK_EQ(rec.addr[6], PCI_BAR_UNMAPPED);
	CHECK_EQ(rec.addr[7], 0xc000);
	/* Address 0 does not decode either; a BAR ending just below the top
	 * of memory does. */
	wr(&fn, 0x18, 4, 0);
	CHECK_EQ(rec.n, 9);
	CHECK_EQ(rec.addr[8], PCI_BAR_UNMAPPED);
	wr(&fn, 0x18, 4, 0xffffe000);
	CHECK_EQ(rec.n, 10);
	CHECK_EQ(rec.addr[9], 0xffffe000);
	/* The last I/O window that fits under 64 KiB decodes. */
	wr(&fn, 0x14, 4, 0xffe0);
	CHECK_EQ(rec.n, 11);
	CHECK_EQ(rec.addr[10], 0xffe0);

	/* Linux's way around sizing: decoding off, then back on. */
	rec.n = 0;
	wr(&fn, 0x04, 2, 0);
	CHECK_EQ(rec.n, 3);
	for (unsigned i = 0; i < 3; i++)
		CHECK_EQ(rec.addr[i], PCI_BAR_UNMAPPED);
	CHECK_EQ(size_bar(&fn, 0), 0xff000008);
	CHECK_EQ(size_bar(&fn, 2), 0xfffff000);
	CHECK_EQ(rec.n, 3);
	wr(&fn, 0x04, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
	CHECK_EQ(rec.n, 6);
	CHECK_EQ(rec.addr[3], 0xe0000000);
	CHECK_EQ(rec.addr[4], 0xffe0);
	CHECK_EQ(rec.addr[5], 0xffffe000);

	/* A dword write at 0x04 that only touches status changes nothing;
	 * one that clears the enables unmaps. */
	wr(&fn, 0x04, 4, 0xf9000003);
	CHECK_EQ(rec.n, 6);
	wr(&fn, 0x04, 4, 0x00000000);
	CHECK_EQ(rec.n, 9);
	/* Without a callback the state is still tracked. */
	fn.bar_mapped = NULL;
	wr(&fn, 0x04, 2, PCI_COMMAND_MEMORY);
	CHECK_EQ(fn.bar[0].mapped, 0xe0000000);
	CHECK_EQ(fn.bar[1].mapped, PCI_BAR_UNMAPPED);
	CHECK_EQ(rec.n, 9);
}

static void test_capabilities(void)
{
	struct pci_function fn;
	struct recorder rec;
	setup(&fn, &rec);
	fn.config_written = rec_config_written;

	CHECK_EQ(pci_function_add_capability(&fn, PCI_CAP_ID_VENDOR, 1), -EINVAL);
	CHECK_EQ(rd(&fn, 0x06, 2) & PCI_STATUS_CAP_LIST, 0);

	int a = pci_function_add_capability(&fn, PCI_CAP_ID_VENDOR, 16);
	int b = pci_function_add_capability(&fn, PCI_CAP_ID_VENDOR, 5);
	int c = pci_function_add_capability(&fn, PCI_CAP_ID_MSIX, 12);
	CHECK_EQ(a, 0x40);
	CHECK_EQ(b, 0x50);
	CHECK_EQ(c, 0x58);	/* the 5-byte one rounded up to a dword */
	CHECK_EQ(rd(&fn, 0x06, 2), PCI_STATUS_CAP_LIST);
	CHECK_EQ(rd(&fn, 0x34, 1), 0x40);

	/* Vendor bytes as a virtio capability has them: cap_len, cfg_type,
	 * bar, then offset and length. */
	pci_function_set(&fn, (unsigned)a + 2, 1, 16);
	pci_function_set(&fn, (unsigned)a + 3, 1, 1);
	pci_function_set(&fn, (unsigned)a + 4, 1, 2);
	pci_function_set(&fn, (unsigned)a + 8, 4, 0x1000);
	pci_function_set(&fn, (unsigned)a + 12, 4, 0x100);
	CHECK_EQ(pci_function_get(&fn, (unsigned)a + 8, 4), 0x1000);

	/* Walk as Linux's pci_find_capability does: status bit, pointer,
	 * then (ID, next) words, masking the low two bits. */
	unsigned ids[4], at[4], n = 0;
	unsigned pos = rd(&fn, 0x34, 1);
	while (pos && n < 4) {
		pos &= ~3u;
		uint32_t ent = rd(&fn, pos, 2);
		at[n] = pos;
		ids[n++] = ent & 0xff;
		pos = ent >> 8;
	}
	CHECK_EQ(n, 3);
	CHECK_EQ(at[0], 0x40);
	CHECK_EQ(ids[0], PCI_CAP_ID_VENDOR);
	CHECK_EQ(at[1], 0x50);
	CHECK_EQ(ids[1], PCI_CAP_ID_VENDOR);
	CHECK_EQ(at[2], 0x58);
	CHECK_EQ(ids[2], PCI_CAP_ID_MSIX);
	CHECK_EQ(rd(&fn, 0x40, 4), 0x01105009);
	CHECK_EQ(rd(&fn, 0x44, 4), 0x00000002);

	/* ID, next pointer and the body are read-only until the device opens
	 * bytes; the write hook sees every access, writable or not. */
	wr(&fn, 0x40, 4, 0xffffffff);
	wr(&fn, 0x48, 4, 0xffffffff);
	CHECK_EQ(rd(&fn, 0x40, 4), 0x01105009);
	CHECK_EQ(rd(&fn, 0x48, 4), 0x1000);
	CHECK_EQ(rec.writes, 2);
	fn.wmask[c + 3] = 0xc0;	/* MSI-X enable and function mask */
	wr(&fn, (unsigned)c + 2, 2, 0xffff);
	CHECK_EQ(rd(&fn, (unsigned)c, 4), 0xc0000011);
	CHECK_EQ(rec.writes, 3);
	CHECK_EQ(rec.last_reg, (unsigned)c + 2);
	CHECK_EQ(rec.last_width, 2);

	/* The read hook runs before the bytes are taken. */
	fn.config_read = rec_config_read;
	rd(&fn, 0x4c, 4);
	CHECK_EQ(rec.reads, 1);
	CHECK_EQ(rec.last_reg, 0x4c);
	CHECK_EQ(rec.last_width, 4);

	/* Until the space runs out: 0x64 to 0xff is 156 bytes. */
	CHECK_EQ(pci_function_add_capability(&fn, PCI_CAP_ID_VENDOR, 157), -ENOSPC);
	CHECK_EQ(pci_function_add_capability(&fn, PCI_CAP_ID_VENDOR, 156), 0x64);
	CHECK_EQ(pci_function_add_capability(&fn, PCI_CAP_ID_VENDOR, 2), -ENOSPC);
	CHECK_EQ(rd(&fn, 0x59, 1), 0x64);
	CHECK_EQ(rd(&fn, 0x65, 1), 0);
}

static void test_intx(void)
{
	struct pci_function fn;
	struct recorder rec;
	setup(&fn, &rec);
	pci_function_set_pin(&fn, PCI_PIN_INTA);
	CHECK_EQ(rd(&fn, 0x3d, 1), 1);

	pci_function_set_irq(&fn, true);
	CHECK_EQ(rec.irq_calls, 1);
	CHECK_EQ(rec.irq_level, 1);
	CHECK_EQ(rd(&fn, 0x06, 2) & PCI_STATUS_INTERRUPT, PCI_STATUS_INTERRUPT);
	/* Asserting again is no edge. */
	pci_function_set_irq(&fn, true);
	CHECK_EQ(rec.irq_calls, 1);

	/* INTx disable: the line drops, the status bit still shows the
	 * request; a command write that leaves the bit alone does nothing. */
	wr(&fn, 0x04, 2, PCI_COMMAND_INTX_DISABLE);
	CHECK_EQ(rec.irq_calls, 2);
	CHECK_EQ(rec.irq_level, 0);
	CHECK_EQ(rd(&fn, 0x06, 2) & PCI_STATUS_INTERRUPT, PCI_STATUS_INTERRUPT);
	wr(&fn, 0x04, 2, PCI_COMMAND_INTX_DISABLE | PCI_COMMAND_MASTER);
	CHECK_EQ(rec.irq_calls, 2);
	/* The status bit is read-only. */
	wr(&fn, 0x06, 2, 0xffff);
	CHECK_EQ(rd(&fn, 0x06, 2) & PCI_STATUS_INTERRUPT, PCI_STATUS_INTERRUPT);
	/* Withdrawn while disabled: status clears, the line was already low. */
	pci_function_set_irq(&fn, false);
	CHECK_EQ(rec.irq_calls, 2);
	CHECK_EQ(rd(&fn, 0x06, 2) & PCI_STATUS_INTERRUPT, 0);
	/* Raised while disabled, then enabled: the line rises on the enable. */
	pci_function_set_irq(&fn, true);
	CHECK_EQ(rec.irq_calls, 2);
	wr(&fn, 0x05, 1, 0x00);
	CHECK_EQ(rec.irq_calls, 3);
	CHECK_EQ(rec.irq_level, 1);
	pci_function_set_irq(&fn, false);
	CHECK_EQ(rec.irq_calls, 4);
	CHECK_EQ(rec.irq_level, 0);
	CHECK_EQ(rd(&fn, 0x06, 2), 0);

	/* An unwired line is no trouble. */
	fn.intx = (struct irq_line){ 0 };
	pci_function_set_irq(&fn, true);
	CHECK(fn.intx_level);
	CHECK_EQ(rec.irq_calls, 4);
}

static void test_reset(void)
{
	struct pci_function fn;
	struct recorder rec;
	setup(&fn, &rec);
	CHECK_EQ(pci_function_add_bar(&fn, 0, PCI_BAR_MEM32_PREFETCH, 16u << 20), 0);
	CHECK_EQ(pci_function_add_bar(&fn, 2, PCI_BAR_IO, 16), 0);
	CHECK_EQ(pci_function_add_capability(&fn, PCI_CAP_ID_VENDOR, 8), 0x40);
	pci_function_set_pin(&fn, PCI_PIN_INTB);
	wr(&fn, 0x10, 4, 0xe0000000);
	wr(&fn, 0x18, 4, 0xc010);
	wr(&fn, 0x3c, 1, 11);
	wr(&fn, 0x0c, 1, 0x10);
	wr(&fn, 0x04, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	pci_function_set_irq(&fn, true);
	fn.config[0x07] |= 0x20;	/* received master abort */
	CHECK_EQ(rec.n, 2);
	CHECK_EQ(rec.irq_level, 1);

	pci_function_reset(&fn);
	CHECK_EQ(rec.n, 4);
	CHECK_EQ(rec.addr[2], PCI_BAR_UNMAPPED);
	CHECK_EQ(rec.addr[3], PCI_BAR_UNMAPPED);
	CHECK_EQ(rec.irq_level, 0);
	CHECK_EQ(rd(&fn, 0x04, 4), PCI_STATUS_CAP_LIST << 16);
	CHECK_EQ(rd(&fn, 0x10, 4), 0x00000008);
	CHECK_EQ(rd(&fn, 0x18, 4), 0x00000001);
	CHECK_EQ(rd(&fn, 0x0c, 1), 0);
	CHECK_EQ(rd(&fn, 0x3c, 2), 0x0200);
	CHECK_EQ(rd(&fn, 0x34, 1), 0x40);
	CHECK_EQ(size_bar(&fn, 0), 0xff000008);
	CHECK_EQ(rd(&fn, 0x00, 4), 0x11111234);
	/* Again: nothing was mapped, nothing to report. */
	pci_function_reset(&fn);
	CHECK_EQ(rec.n, 4);
}

/* A register file that a BAR puts on the bus. */
struct regs {
	uint32_t reg[4];
	struct pci_region region;
	int last_err;
};

static uint64_t regs_read(void *opaque, uint64_t offset, unsigned width)
{
	struct regs *r = opaque;
	(void)width;
	return r->reg[offset / 4];
}

static void regs_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	struct regs *r = opaque;
	(void)width;
	r->reg[offset / 4] = (uint32_t)value;
}

static const struct bus_ops regs_ops = { .read = regs_read, .write = regs_write, .max_width = 4 };

static void regs_bar_mapped(void *opaque, unsigned bar, uint64_t addr)
{
	struct regs *r = opaque;
	CHECK_EQ(bar, 1);
	r->last_err = pci_region_place(&r->region, addr);
}

static uint64_t no_read(void *opaque, uint64_t offset, unsigned width)
{
	(void)opaque;
	(void)offset;
	(void)width;
	return 0x5a5a5a5a;
}

static void no_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	(void)opaque;
	(void)offset;
	(void)width;
	(void)value;
}

static void test_region(void)
{
	static const struct bus_ops other_ops = {
		.read = no_read, .write = no_write, .max_width = 4,
	};
	struct bus bus;
	struct pci_function fn;
	struct regs regs = { .reg = { 0x11, 0x22, 0x33, 0x44 } };
	bus_init(&bus);
	CHECK_EQ(bus_register(&bus, BUS_SPACE_MMIO, "apic", 0xfee00000, 0x1000, &other_ops, NULL),
		 0);

	pci_function_init(&fn, 0x18, &vga_id);
	CHECK_EQ(pci_function_add_bar(&fn, 1, PCI_BAR_MEM32, 16), 0);
	pci_region_init(&regs.region, &bus, BUS_SPACE_MMIO, "regs", 16, &regs_ops, &regs);
	fn.bar_mapped = regs_bar_mapped;
	fn.opaque = &regs;
	CHECK_EQ(regs.region.base, PCI_BAR_UNMAPPED);

	wr(&fn, 0x14, 4, 0xe0000010);
	wr(&fn, 0x04, 2, PCI_COMMAND_MEMORY);
	CHECK_EQ(regs.last_err, 0);
	CHECK_EQ(regs.region.base, 0xe0000010);
	CHECK_EQ(bus_read(&bus, BUS_SPACE_MMIO, 0xe0000018, 4), 0x33);
	bus_write(&bus, BUS_SPACE_MMIO, 0xe000001c, 4, 0x99);
	CHECK_EQ(regs.reg[3], 0x99);

	/* Moved by the guest: the old address is nobody's. */
	wr(&fn, 0x14, 4, 0xe0100000);
	CHECK_EQ(regs.region.base, 0xe0100000);
	CHECK_EQ(bus_read(&bus, BUS_SPACE_MMIO, 0xe0000018, 4), 0xffffffff);
	CHECK_EQ(bus_read(&bus, BUS_SPACE_MMIO, 0xe0100004, 4), 0x22);
	CHECK_EQ(bus.count[BUS_SPACE_MMIO], 2);

	/* Onto the local APIC: the other device keeps it and the BAR's
	 * region leaves the bus instead of staying where it was. */
	wr(&fn, 0x14, 4, 0xfee00000);
	CHECK_EQ(regs.last_err, -EEXIST);
	CHECK_EQ(regs.region.base, PCI_BAR_UNMAPPED);
	CHECK_EQ(bus_read(&bus, BUS_SPACE_MMIO, 0xfee00000, 4), 0x5a5a5a5a);
	CHECK_EQ(bus_read(&bus, BUS_SPACE_MMIO, 0xe0100004, 4), 0xffffffff);
	CHECK_EQ(bus.count[BUS_SPACE_MMIO], 1);
	/* And back into free space. */
	wr(&fn, 0x14, 4, 0xe0200000);
	CHECK_EQ(regs.last_err, 0);
	CHECK_EQ(bus_read(&bus, BUS_SPACE_MMIO, 0xe0200000, 4), 0x11);

	/* Decoding off removes it; placing at the same place twice is
	 * nothing. */
	wr(&fn, 0x04, 2, 0);
	CHECK_EQ(regs.region.base, PCI_BAR_UNMAPPED);
	CHECK_EQ(bus.count[BUS_SPACE_MMIO], 1);
	CHECK_EQ(pci_region_place(&regs.region, PCI_BAR_UNMAPPED), 0);
	CHECK_EQ(pci_region_place(&regs.region, 0xe0300000), 0);
	CHECK_EQ(pci_region_place(&regs.region, 0xe0300000), 0);
	CHECK_EQ(bus.count[BUS_SPACE_MMIO], 2);
	/* An I/O region the same way. */
	struct pci_region io;
	pci_region_init(&io, &bus, BUS_SPACE_PIO, "io", 16, &regs_ops, &regs);
	CHECK_EQ(pci_region_place(&io, 0xc000), 0);
	CHECK_EQ(bus_read(&bus, BUS_SPACE_PIO, 0xc004, 4), 0x22);
	CHECK_EQ(pci_region_place(&io, 0xc100), 0);
	CHECK_EQ(bus_read(&bus, BUS_SPACE_PIO, 0xc104, 4), 0x22);
	CHECK_EQ(pci_region_place(&io, PCI_BAR_UNMAPPED), 0);
	CHECK_EQ(bus.count[BUS_SPACE_PIO], 0);
}

int main(void)
{
	test_header();
	test_bar_sizing();
	test_bar_addresses();
	test_bar_mapped();
	test_capabilities();
	test_intx();
	test_reset();
	test_region();
	return check_report("test_pci_device");
}
