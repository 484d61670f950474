/* The Bochs/QEMU std VGA display: its PCI function and BARs, the DISPI
 * registers behind ports 0x1ce/0x1cf and BAR2, mode validation, the VRAM
 * region on the bus with its dirty pages, and the boot-time mode. The
 * picture is drawn in bochs_display_render.c. See bochs_display.h. */
#include "devices/bochs_display.h"
#include "host/snapfile.h"

#include <errno.h>
#include <string.h>

#define VRAM_BANKS (BOCHS_VRAM_SIZE >> 16)
#define DISPI_MMIO_END (BOCHS_MMIO_DISPI + 2u * BOCHS_DISPI_INDEXES)
#define VGA_WINDOW_PORT 0x3c0u

static const struct pci_id bochs_id = {
	.vendor = BOCHS_PCI_VENDOR,
	.device = BOCHS_PCI_DEVICE,
	.revision = BOCHS_PCI_REVISION,
	.class_code = BOCHS_PCI_CLASS,
	.subsystem_vendor = BOCHS_PCI_SUBSYSTEM_VENDOR,
	.subsystem = BOCHS_PCI_SUBSYSTEM,
};

/* Bytes a pixel takes in VRAM; 0 for a depth not supported. */
static unsigned bytes_per_pixel(unsigned bpp)
{
	switch (bpp) {
	case 8:
		return 1;
	case 15:
	case 16:
		return 2;
	case 24:
		return 3;
	case 32:
		return 4;
	}
	return 0;
}

void bochs_display_mark_dirty(struct bochs_display *dev, uint64_t offset, uint64_t length)
{
	if (length == 0 || offset >= BOCHS_VRAM_SIZE)
		return;
	if (length > BOCHS_VRAM_SIZE - offset)
		length = BOCHS_VRAM_SIZE - offset;
	uint64_t last = (offset + length - 1) >> BOCHS_VRAM_PAGE_SHIFT;
	for (uint64_t p = offset >> BOCHS_VRAM_PAGE_SHIFT; p <= last; p++)
		dev->dirty[p >> 3] |= (uint8_t)(1u << (p & 7));
}

void bochs_display_take_dirty(struct bochs_display *dev, uint8_t *dirty)
{
	for (unsigned i = 0; i < BOCHS_DIRTY_BYTES; i++)
		dirty[i] |= dev->dirty[i];
	memset(dev->dirty, 0, sizeof(dev->dirty));
}

/* Validates the registers as the header says, adjusting VIRT_WIDTH, the
 * offsets and VIRT_HEIGHT as QEMU's vbe_fixup_regs does, and describes
 * the picture in *m. */
static void validate(struct bochs_display *dev, struct bochs_mode *m)
{
	uint16_t *r = dev->regs;

	memset(m, 0, sizeof(*m));
	m->big_endian = dev->big_endian;
	m->enabled = r[BOCHS_DISPI_ENABLE] & BOCHS_DISPI_ENABLED;
	if (!m->enabled)
		return;
	unsigned bpp = r[BOCHS_DISPI_BPP], pixel = bytes_per_pixel(bpp);
	unsigned xres = r[BOCHS_DISPI_XRES], yres = r[BOCHS_DISPI_YRES];
	if (!pixel || xres == 0 || xres > BOCHS_MAX_WIDTH || yres == 0 || yres > BOCHS_MAX_HEIGHT)
		return;
	if (r[BOCHS_DISPI_VIRT_WIDTH] < xres)
		r[BOCHS_DISPI_VIRT_WIDTH] = (uint16_t)xres;
	uint64_t line = (uint64_t)r[BOCHS_DISPI_VIRT_WIDTH] * pixel;
	uint64_t size = line * yres;
	if (size > BOCHS_VRAM_SIZE)
		return;
	uint64_t lines = BOCHS_VRAM_SIZE / line;
	r[BOCHS_DISPI_VIRT_HEIGHT] = (uint16_t)(lines > 0xffff ? 0xffff : lines);

	/* The last byte shown is below start + size: rows are line apart and
	 * xres * pixel <= line. */
	uint64_t start = (uint64_t)r[BOCHS_DISPI_X_OFFSET] * pixel +
			 (uint64_t)r[BOCHS_DISPI_Y_OFFSET] * line;
	if (start + size > BOCHS_VRAM_SIZE) {
		r[BOCHS_DISPI_Y_OFFSET] = 0;
		start = (uint64_t)r[BOCHS_DISPI_X_OFFSET] * pixel;
		if (start + size > BOCHS_VRAM_SIZE) {
			r[BOCHS_DISPI_X_OFFSET] = 0;
			start = 0;
		}
	}
	m->valid = true;
	m->width = xres;
	m->height = yres;
	m->bpp = bpp;
	m->line = (uint32_t)line;
	m->start = (uint32_t)start;
}

static bool same_geometry(const struct bochs_mode *a, const struct bochs_mode *b)
{
	return a->width == b->width && a->height == b->height && a->bpp == b->bpp &&
	       a->line == b->line;
}

/* Field by field: a copied struct's padding is not comparable. */
static bool same_picture(const struct bochs_mode *a, const struct bochs_mode *b)
{
	return a->enabled == b->enabled && a->valid == b->valid && same_geometry(a, b) &&
	       a->start == b->start && a->big_endian == b->big_endian;
}

/* Re-validates after a register change: the generation moves when the
 * picture does, and the counters see modes taken and refused. */
static void update_mode(struct bochs_display *dev)
{
	struct bochs_mode old = dev->mode, m;

	validate(dev, &m);
	if (m.enabled && m.valid && !(old.enabled && old.valid && same_geometry(&old, &m)))
		dev->modes_set++;
	if (m.enabled && !m.valid && !(old.enabled && !old.valid))
		dev->modes_refused++;
	if (!same_picture(&old, &m)) {
		dev->mode = m;
		dev->generation++;
	}
}

static void write_enable(struct bochs_display *dev, uint16_t value)
{
	uint16_t *r = dev->regs;

	if (!(value & BOCHS_DISPI_ENABLED) || (r[BOCHS_DISPI_ENABLE] & BOCHS_DISPI_ENABLED)) {
		r[BOCHS_DISPI_ENABLE] = value;
		update_mode(dev);
		return;
	}
	/* Being enabled: a new mode starts with its stride from XRES and no
	 * panning, as in QEMU. */
	r[BOCHS_DISPI_VIRT_WIDTH] = 0;
	r[BOCHS_DISPI_X_OFFSET] = 0;
	r[BOCHS_DISPI_Y_OFFSET] = 0;
	r[BOCHS_DISPI_ENABLE] = value;
	update_mode(dev);
	if (dev->mode.valid && !(value & BOCHS_DISPI_NOCLEARMEM) && dev->vram) {
		memset(dev->vram, 0, (size_t)dev->mode.line * dev->mode.height);
		dev->generation++;
	}
}

static uint16_t dispi_read(const struct bochs_display *dev, unsigned index)
{
	const uint16_t *r = dev->regs;

	if (index < BOCHS_DISPI_REGS) {
		if (r[BOCHS_DISPI_ENABLE] & BOCHS_DISPI_GETCAPS) {
			switch (index) {
			case BOCHS_DISPI_XRES:
				return BOCHS_MAX_WIDTH;
			case BOCHS_DISPI_YRES:
				return BOCHS_MAX_HEIGHT;
			case BOCHS_DISPI_BPP:
				return BOCHS_MAX_BPP;
			}
		}
		return r[index];
	}
	if (index == BOCHS_DISPI_VIDEO_MEMORY_64K)
		return BOCHS_VRAM_SIZE >> 16;
	return 0;
}

static void dispi_write(struct bochs_display *dev, unsigned index, uint16_t value)
{
	uint16_t *r = dev->regs;

	switch (index) {
	case BOCHS_DISPI_ID:
		if (value >= BOCHS_DISPI_ID0 && value <= BOCHS_DISPI_ID5)
			r[index] = value;
		return;
	case BOCHS_DISPI_XRES:
	case BOCHS_DISPI_YRES:
	case BOCHS_DISPI_BPP:
	case BOCHS_DISPI_VIRT_WIDTH:
	case BOCHS_DISPI_X_OFFSET:
	case BOCHS_DISPI_Y_OFFSET:
		r[index] = value;
		update_mode(dev);
		return;
	case BOCHS_DISPI_ENABLE:
		write_enable(dev, value);
		return;
	case BOCHS_DISPI_BANK:
		r[index] = value & (VRAM_BANKS - 1);
		return;
	case BOCHS_DISPI_VIRT_HEIGHT:
	case BOCHS_DISPI_VIDEO_MEMORY_64K:
		/* Read only, but known: bochs-drm writes VIRT_HEIGHT. */
		return;
	}
	dev->unknown_writes++;
}

/* Ports 0x1ce-0x1d0: index, data, and the byte after the data port. */
static uint64_t port_read(void *opaque, uint64_t offset, unsigned width)
{
	struct bochs_display *dev = opaque;
	(void)width;

	switch (offset) {
	case 0:
		return dev->index;
	case 1:
		return dispi_read(dev, dev->index);
	}
	return 0xff;
}

static void port_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	struct bochs_display *dev = opaque;
	(void)width;

	switch (offset) {
	case 0:
		dev->index = (uint16_t)value;
		return;
	case 1:
		dispi_write(dev, dev->index, (uint16_t)value);
		return;
	}
}

static const struct bus_ops port_ops = {
	.read = port_read,
	.write = port_write,
	.max_width = 2,
};

/* BAR0 on the bus: VRAM, little endian, any width. */
static uint64_t vram_read(void *opaque, uint64_t offset, unsigned width)
{
	struct bochs_display *dev = opaque;
	uint64_t value = 0;

	if (!dev->vram || offset >= BOCHS_VRAM_SIZE || width > BOCHS_VRAM_SIZE - offset)
		return ~0ull;
	for (unsigned i = 0; i < width; i++)
		value |= (uint64_t)dev->vram[offset + i] << (8 * i);
	return value;
}

static void vram_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	struct bochs_display *dev = opaque;

	if (!dev->vram || offset >= BOCHS_VRAM_SIZE || width > BOCHS_VRAM_SIZE - offset)
		return;
	for (unsigned i = 0; i < width; i++)
		dev->vram[offset + i] = (uint8_t)(value >> (8 * i));
	bochs_display_mark_dirty(dev, offset, width);
}

static const struct bus_ops vram_ops = {
	.read = vram_read,
	.write = vram_write,
	.max_width = 8,
};

/* BAR2, one byte at a time for the accesses that are not whole registers:
 * the VGA window, halves of DISPI registers, bytes of the extension. */
static uint8_t mmio_read_byte(struct bochs_display *dev, uint64_t offset)
{
	if (offset < EDID_BLOCK_SIZE) {
		/* Made anew when its first byte is read, as a reader of the
		 * block starts there: one read of 128 bytes sees one size and
		 * its checksum even if the window changes meanwhile. */
		unsigned width, height;
		if (offset == 0) {
			if (dev->edid_size && dev->edid_size(dev->edid_opaque, &width, &height))
				edid_build(dev->edid, width, height);
			else
				memset(dev->edid, 0, sizeof(dev->edid));
		}
		return dev->edid[offset];
	}
	if (offset >= BOCHS_MMIO_VGA && offset < BOCHS_MMIO_VGA + BOCHS_MMIO_VGA_SIZE) {
		if (!dev->bus)
			return 0xff;
		return (uint8_t)bus_read(dev->bus, BUS_SPACE_PIO,
					 VGA_WINDOW_PORT + (offset - BOCHS_MMIO_VGA), 1);
	}
	if (offset >= BOCHS_MMIO_DISPI && offset < DISPI_MMIO_END) {
		unsigned reg = (unsigned)(offset - BOCHS_MMIO_DISPI);
		return (uint8_t)(dispi_read(dev, reg >> 1) >> (8 * (reg & 1)));
	}
	if (offset >= BOCHS_MMIO_QEXT && offset < BOCHS_MMIO_QEXT + BOCHS_QEXT_SIZE) {
		unsigned reg = (unsigned)(offset - BOCHS_MMIO_QEXT);
		uint32_t value = reg < BOCHS_QEXT_REG_BYTEORDER ? BOCHS_QEXT_SIZE
				 : dev->big_endian ? BOCHS_QEXT_BIG_ENDIAN
						   : BOCHS_QEXT_LITTLE_ENDIAN;
		return (uint8_t)(value >> (8 * (reg & 3)));
	}
	return 0;
}

static void mmio_write_byte(struct bochs_display *dev, uint64_t offset, uint8_t value)
{
	if (offset >= BOCHS_MMIO_VGA && offset < BOCHS_MMIO_VGA + BOCHS_MMIO_VGA_SIZE) {
		if (dev->bus)
			bus_write(dev->bus, BUS_SPACE_PIO,
				  VGA_WINDOW_PORT + (offset - BOCHS_MMIO_VGA), 1, value);
		return;
	}
	if (offset >= BOCHS_MMIO_DISPI && offset < DISPI_MMIO_END) {
		unsigned reg = (unsigned)(offset - BOCHS_MMIO_DISPI), index = reg >> 1;
		unsigned shift = 8 * (reg & 1);
		/* The other half as stored, not as GETCAPS would read it. */
		uint16_t old = index < BOCHS_DISPI_REGS ? dev->regs[index] : 0;
		dispi_write(dev, index, (uint16_t)((old & ~(0xffu << shift)) | (unsigned)value << shift));
	}
	/* The extension takes dword writes only, as QEMU's. */
}

static uint64_t mmio_read(void *opaque, uint64_t offset, unsigned width)
{
	struct bochs_display *dev = opaque;

	if (width == 2 && offset >= BOCHS_MMIO_DISPI && offset + 2 <= DISPI_MMIO_END &&
	    !(offset & 1))
		return dispi_read(dev, (unsigned)(offset - BOCHS_MMIO_DISPI) >> 1);
	uint64_t value = 0;
	for (unsigned i = 0; i < width; i++)
		value |= (uint64_t)mmio_read_byte(dev, offset + i) << (8 * i);
	return value;
}

static void mmio_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	struct bochs_display *dev = opaque;

	if (offset >= BOCHS_MMIO_DISPI && offset + width <= DISPI_MMIO_END && !(offset & 1) &&
	    width >= 2) {
		/* Whole registers, lowest first. */
		unsigned index = (unsigned)(offset - BOCHS_MMIO_DISPI) >> 1;
		for (unsigned i = 0; i < width / 2; i++)
			dispi_write(dev, index + i, (uint16_t)(value >> (16 * i)));
		return;
	}
	if (offset == BOCHS_MMIO_QEXT + BOCHS_QEXT_REG_BYTEORDER && width == 4) {
		if (value == BOCHS_QEXT_BIG_ENDIAN)
			dev->big_endian = true;
		else if (value == BOCHS_QEXT_LITTLE_ENDIAN)
			dev->big_endian = false;
		update_mode(dev);
		return;
	}
	for (unsigned i = 0; i < width; i++)
		mmio_write_byte(dev, offset + i, (uint8_t)(value >> (8 * i)));
}

static const struct bus_ops mmio_ops = {
	.read = mmio_read,
	.write = mmio_write,
	.max_width = 4,
};

static void bar_mapped(void *opaque, unsigned bar, uint64_t addr)
{
	struct bochs_display *dev = opaque;

	if (bar == BOCHS_VRAM_BAR) {
		/* Where the bus cannot have it, neither can guest memory: the
		 * BAR lost the decode to another region. */
		if (dev->bus && pci_region_place(&dev->vram_region, addr) != 0)
			addr = PCI_BAR_UNMAPPED;
		if (addr == dev->vram_gpa)
			return;
		dev->vram_gpa = addr;
		if (dev->vram_moved)
			dev->vram_moved(dev->opaque, addr);
	} else if (bar == BOCHS_MMIO_BAR && dev->bus) {
		pci_region_place(&dev->mmio_region, addr);
	}
}

static void reset_registers(struct bochs_display *dev)
{
	dev->index = 0;
	memset(dev->regs, 0, sizeof(dev->regs));
	dev->regs[BOCHS_DISPI_ID] = BOCHS_DISPI_ID5;
	dev->big_endian = false;
	memset(&dev->mode, 0, sizeof(dev->mode));
	dev->generation++;
}

void bochs_display_init(struct bochs_display *dev, uint8_t devfn, uint8_t *vram,
			const struct vga *vga)
{
	memset(dev, 0, sizeof(*dev));
	pci_function_init(&dev->pci, devfn, &bochs_id);
	/* Both sizes are powers of two in range: these cannot fail. */
	pci_function_add_bar(&dev->pci, BOCHS_VRAM_BAR, PCI_BAR_MEM32_PREFETCH, BOCHS_VRAM_SIZE);
	pci_function_add_bar(&dev->pci, BOCHS_MMIO_BAR, PCI_BAR_MEM32, BOCHS_MMIO_SIZE);
	dev->pci.bar_mapped = bar_mapped;
	dev->pci.opaque = dev;
	dev->vram = vram;
	dev->vga = vga;
	dev->vram_gpa = PCI_BAR_UNMAPPED;
	reset_registers(dev);
}

int bochs_display_attach(struct bochs_display *dev, struct bus *bus)
{
	int err = bus_register(bus, BUS_SPACE_PIO, "bochs-dispi", BOCHS_DISPI_PORT_INDEX,
			       BOCHS_DISPI_PORT_COUNT, &port_ops, dev);
	if (err)
		return err;
	dev->bus = bus;
	pci_region_init(&dev->vram_region, bus, BUS_SPACE_MMIO, "bochs-vram", BOCHS_VRAM_SIZE,
			&vram_ops, dev);
	pci_region_init(&dev->mmio_region, bus, BUS_SPACE_MMIO, "bochs-mmio", BOCHS_MMIO_SIZE,
			&mmio_ops, dev);
	return 0;
}

void bochs_display_reset(struct bochs_display *dev)
{
	reset_registers(dev);
	pci_function_reset(&dev->pci);
}

int bochs_display_set_mode(struct bochs_display *dev, unsigned width, unsigned height,
			   unsigned bpp)
{
	/* The register sequence bochs-drm and SeaBIOS's vgabios use. */
	dispi_write(dev, BOCHS_DISPI_ENABLE, 0);
	dispi_write(dev, BOCHS_DISPI_BPP, (uint16_t)(bpp > 0xffff ? 0 : bpp));
	dispi_write(dev, BOCHS_DISPI_XRES, (uint16_t)(width > 0xffff ? 0 : width));
	dispi_write(dev, BOCHS_DISPI_YRES, (uint16_t)(height > 0xffff ? 0 : height));
	dispi_write(dev, BOCHS_DISPI_BANK, 0);
	dispi_write(dev, BOCHS_DISPI_ENABLE, BOCHS_DISPI_ENABLED | BOCHS_DISPI_LFB_ENABLED);
	if (dev->mode.valid)
		return 0;
	dispi_write(dev, BOCHS_DISPI_ENABLE, 0);
	return -EINVAL;
}

/* Component sizes and positions of each depth, as a VBE BIOS (SeaBIOS's
 * vgabios on QEMU) reports them: direct colour with the reserved bits
 * above, and 8 bpp through a 6-bit DAC. */
static void colour_layout(struct bochs_screen_info *si, unsigned bpp)
{
	switch (bpp) {
	case 8:
		si->red_size = si->green_size = si->blue_size = 6;
		return;
	case 15:
		si->red_size = 5, si->red_pos = 10;
		si->green_size = 5, si->green_pos = 5;
		si->blue_size = 5, si->blue_pos = 0;
		si->rsvd_size = 1, si->rsvd_pos = 15;
		return;
	case 16:
		si->red_size = 5, si->red_pos = 11;
		si->green_size = 6, si->green_pos = 5;
		si->blue_size = 5, si->blue_pos = 0;
		return;
	default:
		si->red_size = 8, si->red_pos = 16;
		si->green_size = 8, si->green_pos = 8;
		si->blue_size = 8, si->blue_pos = 0;
		if (bpp == 32)
			si->rsvd_size = 8, si->rsvd_pos = 24;
		return;
	}
}

int bochs_display_screen_info(const struct bochs_display *dev, struct bochs_screen_info *si)
{
	const struct bochs_mode *m = &dev->mode;
	uint64_t base = dev->pci.bar[BOCHS_VRAM_BAR].mapped;

	memset(si, 0, sizeof(*si));
	if (!m->enabled || !m->valid || base == PCI_BAR_UNMAPPED)
		return -ENODEV;
	if (m->line > 0xffff)
		return -ERANGE;	/* lfb_linelength has 16 bits */
	uint64_t picture = (uint64_t)m->line * m->height;
	uint64_t pages = BOCHS_VRAM_SIZE / picture;

	si->video_type = BOCHS_VIDEO_TYPE_VLFB;
	si->lfb_width = (uint16_t)m->width;
	si->lfb_height = (uint16_t)m->height;
	si->lfb_depth = (uint16_t)m->bpp;
	si->lfb_linelength = (uint16_t)m->line;
	si->lfb_base = (uint32_t)(base + m->start);
	si->lfb_size = BOCHS_VRAM_SIZE >> 16;
	si->pages = (uint16_t)(pages > 0xffff ? 0xffff : pages);
	colour_layout(si, m->bpp);
	return 0;
}

/* ---- Snapshots ---------------------------------------------------------- */

#define BOCHS_SNAP_VERSION 1u

void bochs_display_save(const struct bochs_display *dev, struct snap_writer *w)
{
	snapw_begin(w, "BOCH", BOCHS_SNAP_VERSION, false);
	pci_function_save(&dev->pci, w);
	snapw_u16(w, dev->index);
	snapw_u32(w, BOCHS_DISPI_REGS);
	for (unsigned i = 0; i < BOCHS_DISPI_REGS; i++)
		snapw_u16(w, dev->regs[i]);
	snapw_bool(w, dev->big_endian);
	snapw_end(w);
}

int bochs_display_load(struct bochs_display *dev, struct snap_reader *r)
{
	if (r->version != BOCHS_SNAP_VERSION)
		return snapr_fail(r, "version %u, this btvm reads %u", r->version, BOCHS_SNAP_VERSION);
	pci_function_load(&dev->pci, r);
	dev->index = snapr_u16(r);
	uint32_t nregs = snapr_u32(r);
	if (!r->err && nregs != BOCHS_DISPI_REGS)
		return snapr_fail(r, "%u DISPI registers, this btvm has %u", nregs,
				  BOCHS_DISPI_REGS);
	for (unsigned i = 0; i < BOCHS_DISPI_REGS && !r->err; i++)
		dev->regs[i] = snapr_u16(r);
	dev->big_endian = snapr_bool(r);
	if (r->err)
		return r->err;
	dev->regs[BOCHS_DISPI_BANK] &= VRAM_BANKS - 1;
	update_mode(dev);
	dev->generation++;
	dev->shown.valid = false;
	bochs_display_mark_dirty(dev, 0, BOCHS_VRAM_SIZE);
	return snapr_end(r);
}
