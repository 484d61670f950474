/* The VGA's register file: port decoding, the sequencer, CRTC, graphics
 * and attribute controllers, the DAC, the power-on mode 3 values and the
 * font-load detection. Drawing is in vga_render.c; see vga.h. */
#include "devices/vga.h"
#include "host/snapfile.h"

#include <string.h>

#include "devices/vga_font.h"

/* Ports as offsets from VGA_PORT_BASE (0x3b0). */
enum {
	PORT_CRTC_INDEX_MONO = 0x04,	/* 0x3b4 */
	PORT_CRTC_DATA_MONO = 0x05,
	PORT_STATUS1_MONO = 0x0a,	/* 0x3ba: feature control when written */
	PORT_ATTR = 0x10,		/* 0x3c0 */
	PORT_ATTR_READ = 0x11,
	PORT_MISC_WRITE = 0x12,		/* 0x3c2: input status 0 when read */
	PORT_SUBSYSTEM = 0x13,
	PORT_SEQ_INDEX = 0x14,		/* 0x3c4 */
	PORT_SEQ_DATA = 0x15,
	PORT_DAC_MASK = 0x16,		/* 0x3c6 */
	PORT_DAC_READ_INDEX = 0x17,	/* DAC state when read */
	PORT_DAC_WRITE_INDEX = 0x18,
	PORT_DAC_DATA = 0x19,
	PORT_FEATURE_READ = 0x1a,	/* 0x3ca */
	PORT_MISC_READ = 0x1c,		/* 0x3cc */
	PORT_GC_INDEX = 0x1e,		/* 0x3ce */
	PORT_GC_DATA = 0x1f,
	PORT_CRTC_INDEX_COLOUR = 0x24,	/* 0x3d4 */
	PORT_CRTC_DATA_COLOUR = 0x25,
	PORT_STATUS1_COLOUR = 0x2a,	/* 0x3da */
};

#define MISC_COLOUR	0x01	/* CRTC and status 1 at 0x3dx, not 0x3bx */
#define SEQ_MAP_MASK	2
#define SEQ_MEMORY_MODE	4
#define SEQ_MM_SEQUENTIAL 0x04	/* odd/even off: CPU addresses are plane offsets */
#define GC_MISC		6
#define GC_MISC_ODD_EVEN 0x02	/* the CPU sees planes 0 and 1 interleaved */
#define CRTC_OVERFLOW	0x07
#define CRTC_V_SYNC_END	0x11
#define CRTC_PROTECT	0x80	/* in V_SYNC_END: registers 0-7 read-only */
#define CRTC_LINE_COMPARE_8 0x10	/* in OVERFLOW: writable despite that */
#define ATTR_PAS	0x20
#define STATUS1_TOGGLING 0x09	/* display disabled, vertical retrace */

/* Bits a VGA has in each sequencer, GC and attribute register; the rest
 * read 0. */
static const uint8_t seq_bits[VGA_SEQ_COUNT] = { 0x03, 0x3d, 0x0f, 0x3f, 0x0e };
static const uint8_t gc_bits[VGA_GC_COUNT] = { 0x0f, 0x0f, 0x0f, 0x1f, 0x03, 0x7b, 0x0f, 0x0f,
					       0xff };
static const uint8_t attr_bits[VGA_ATTR_COUNT] = {
	0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f,
	0x3f, 0xef, 0xff, 0x3f, 0x0f, 0x0f,
};

/* Mode 3 as a VGA BIOS sets it (IBM's tables; SeaBIOS's vgabios has the
 * same): 80x25 characters of 9x16 dots, 720x400, colour. */
static const uint8_t mode3_misc = 0x67;
static const uint8_t mode3_seq[VGA_SEQ_COUNT] = { 0x03, 0x00, 0x03, 0x00, 0x02 };
static const uint8_t mode3_crtc[VGA_CRTC_COUNT] = {
	0x5f, 0x4f, 0x50, 0x82, 0x55, 0x81, 0xbf, 0x1f, 0x00, 0x4f, 0x0d, 0x0e, 0x00,
	0x00, 0x00, 0x00, 0x9c, 0x8e, 0x8f, 0x28, 0x1f, 0x96, 0xb9, 0xa3, 0xff,
};
static const uint8_t mode3_gc[VGA_GC_COUNT] = { 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0e, 0x0f,
						0xff };
static const uint8_t mode3_attr[VGA_ATTR_COUNT] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e,
	0x3f, 0x0c, 0x00, 0x0f, 0x08, 0x00,
};

/* Stores a register value; a change is a change of the picture, as far
 * as vga_needs_render() is concerned. */
static void set_reg(struct vga *vga, uint8_t *reg, uint8_t value)
{
	if (*reg != value) {
		*reg = value;
		vga->generation++;
	}
}

static bool colour_ports(const struct vga *vga)
{
	return vga->misc & MISC_COLOUR;
}

/* Whether the port is the CRTC index, CRTC data or status 1 port of the
 * set misc output bit 0 selects (other is the one of the other set). */
static bool active_port(const struct vga *vga, unsigned port, unsigned mono, unsigned colour)
{
	return port == (colour_ports(vga) ? colour : mono);
}

/* The font-load state: only plane 2 written, sequential addressing,
 * memory at 0xa0000. Entering it is taken as a font load: from then on the
 * glyphs come from RAM at 0xa0000 (see vga.h). */
static void update_font_state(struct vga *vga)
{
	bool state = (vga->seq[SEQ_MAP_MASK] & 0x0f) == 0x04 &&
		     (vga->seq[SEQ_MEMORY_MODE] & SEQ_MM_SEQUENTIAL) &&
		     ((vga->gc[GC_MISC] >> 2) & 3) <= 1;

	if (state && !vga->font_write_state) {
		vga->font_loads++;
		if (!vga->font_in_ram) {
			vga->font_in_ram = true;
			vga->generation++;
		}
	}
	vga->font_write_state = state;
}

static void write_seq(struct vga *vga, uint8_t value)
{
	if (vga->seq_index >= VGA_SEQ_COUNT) {
		vga->unknown_writes++;
		return;
	}
	set_reg(vga, &vga->seq[vga->seq_index], value & seq_bits[vga->seq_index]);
	update_font_state(vga);
}

static void write_gc(struct vga *vga, uint8_t value)
{
	if (vga->gc_index >= VGA_GC_COUNT) {
		vga->unknown_writes++;
		return;
	}
	value &= gc_bits[vga->gc_index];
	set_reg(vga, &vga->gc[vga->gc_index], value);
	/* With odd/even on, the CPU sees planes 0 and 1 as text at this map:
	 * that is where the screen's characters are from now on. */
	if (vga->gc_index == GC_MISC && (value & GC_MISC_ODD_EVEN))
		set_reg(vga, &vga->text_map, (value >> 2) & 3);
	update_font_state(vga);
}

static void write_crtc(struct vga *vga, uint8_t value)
{
	uint8_t index = vga->crtc_index;

	if (index >= VGA_CRTC_COUNT) {
		vga->unknown_writes++;
		return;
	}
	if ((vga->crtc[CRTC_V_SYNC_END] & CRTC_PROTECT) && index <= CRTC_OVERFLOW) {
		if (index == CRTC_OVERFLOW)
			set_reg(vga, &vga->crtc[index],
				(uint8_t)((vga->crtc[index] & ~CRTC_LINE_COMPARE_8) |
					  (value & CRTC_LINE_COMPARE_8)));
		return;
	}
	set_reg(vga, &vga->crtc[index], value);
}

static void write_attr(struct vga *vga, uint8_t value)
{
	if (!vga->attr_data_next) {
		/* PAS going off blanks the screen; the index alone shows nothing. */
		if ((vga->attr_index ^ value) & ATTR_PAS)
			vga->generation++;
		vga->attr_index = value & 0x3f;
	} else {
		unsigned index = vga->attr_index & 0x1f;
		if (index < VGA_ATTR_COUNT)
			set_reg(vga, &vga->attr[index], value & attr_bits[index]);
		else
			vga->unknown_writes++;
	}
	vga->attr_data_next = !vga->attr_data_next;
}

static void write_dac_data(struct vga *vga, uint8_t value)
{
	value &= 0x3f;
	if (vga->dac_component < 2) {
		vga->dac_latch[vga->dac_component++] = value;
		return;
	}
	uint8_t *entry = vga->dac[vga->dac_write_index];
	set_reg(vga, &entry[0], vga->dac_latch[0]);
	set_reg(vga, &entry[1], vga->dac_latch[1]);
	set_reg(vga, &entry[2], value);
	vga->dac_write_index++;
	vga->dac_component = 0;
}

static uint8_t read_dac_data(struct vga *vga)
{
	uint8_t value = vga->dac[vga->dac_read_index][vga->dac_component];

	if (++vga->dac_component == 3) {
		vga->dac_component = 0;
		vga->dac_read_index++;
	}
	return value;
}

static uint8_t read_status1(struct vga *vga)
{
	vga->status1 ^= STATUS1_TOGGLING;
	vga->attr_data_next = false;
	return vga->status1;
}

static uint64_t vga_read(void *opaque, uint64_t offset, unsigned width)
{
	struct vga *vga = opaque;
	unsigned port = (unsigned)offset;
	(void)width;

	switch (port) {
	case PORT_CRTC_INDEX_MONO:
	case PORT_CRTC_INDEX_COLOUR:
		if (!active_port(vga, port, PORT_CRTC_INDEX_MONO, PORT_CRTC_INDEX_COLOUR))
			return 0xff;
		return vga->crtc_index;
	case PORT_CRTC_DATA_MONO:
	case PORT_CRTC_DATA_COLOUR:
		if (!active_port(vga, port, PORT_CRTC_DATA_MONO, PORT_CRTC_DATA_COLOUR) ||
		    vga->crtc_index >= VGA_CRTC_COUNT)
			return 0xff;
		return vga->crtc[vga->crtc_index];
	case PORT_STATUS1_MONO:
	case PORT_STATUS1_COLOUR:
		if (!active_port(vga, port, PORT_STATUS1_MONO, PORT_STATUS1_COLOUR))
			return 0xff;
		return read_status1(vga);
	case PORT_ATTR:
		return vga->attr_index;
	case PORT_ATTR_READ: {
		unsigned index = vga->attr_index & 0x1f;
		return index < VGA_ATTR_COUNT ? vga->attr[index] : 0xff;
	}
	case PORT_MISC_WRITE:
		return 0;	/* input status 0: no switch sense, no CRT interrupt */
	case PORT_SUBSYSTEM:
		return vga->subsystem;
	case PORT_SEQ_INDEX:
		return vga->seq_index;
	case PORT_SEQ_DATA:
		return vga->seq_index < VGA_SEQ_COUNT ? vga->seq[vga->seq_index] : 0xff;
	case PORT_DAC_MASK:
		return vga->dac_mask;
	case PORT_DAC_READ_INDEX:
		return vga->dac_state;
	case PORT_DAC_WRITE_INDEX:
		return vga->dac_write_index;
	case PORT_DAC_DATA:
		return read_dac_data(vga);
	case PORT_FEATURE_READ:
		return vga->feature;
	case PORT_MISC_READ:
		return vga->misc;
	case PORT_GC_INDEX:
		return vga->gc_index;
	case PORT_GC_DATA:
		return vga->gc_index < VGA_GC_COUNT ? vga->gc[vga->gc_index] : 0xff;
	}
	return 0xff;
}

static void vga_write(void *opaque, uint64_t offset, unsigned width, uint64_t value64)
{
	struct vga *vga = opaque;
	unsigned port = (unsigned)offset;
	uint8_t value = (uint8_t)value64;
	(void)width;

	switch (port) {
	case PORT_CRTC_INDEX_MONO:
	case PORT_CRTC_INDEX_COLOUR:
		if (!active_port(vga, port, PORT_CRTC_INDEX_MONO, PORT_CRTC_INDEX_COLOUR))
			break;
		vga->crtc_index = value;
		return;
	case PORT_CRTC_DATA_MONO:
	case PORT_CRTC_DATA_COLOUR:
		if (!active_port(vga, port, PORT_CRTC_DATA_MONO, PORT_CRTC_DATA_COLOUR))
			break;
		write_crtc(vga, value);
		return;
	case PORT_STATUS1_MONO:
	case PORT_STATUS1_COLOUR:
		if (!active_port(vga, port, PORT_STATUS1_MONO, PORT_STATUS1_COLOUR))
			break;
		vga->feature = value;
		return;
	case PORT_ATTR:
		write_attr(vga, value);
		return;
	case PORT_MISC_WRITE:
		/* Bit 4 does not exist. */
		set_reg(vga, &vga->misc, value & 0xef);
		return;
	case PORT_SUBSYSTEM:
		vga->subsystem = value & 0x01;
		return;
	case PORT_SEQ_INDEX:
		vga->seq_index = value;
		return;
	case PORT_SEQ_DATA:
		write_seq(vga, value);
		return;
	case PORT_DAC_MASK:
		set_reg(vga, &vga->dac_mask, value);
		return;
	case PORT_DAC_READ_INDEX:
		vga->dac_read_index = value;
		vga->dac_component = 0;
		vga->dac_state = 3;
		return;
	case PORT_DAC_WRITE_INDEX:
		vga->dac_write_index = value;
		vga->dac_component = 0;
		vga->dac_state = 0;
		return;
	case PORT_DAC_DATA:
		write_dac_data(vga, value);
		return;
	case PORT_GC_INDEX:
		vga->gc_index = value;
		return;
	case PORT_GC_DATA:
		write_gc(vga, value);
		return;
	}
	/* 0x3c1 (read only here), input status ports of the other set, and
	 * ports no VGA register is at. */
	vga->unknown_writes++;
}

static const struct bus_ops vga_ops = {
	.read = vga_read,
	.write = vga_write,
	.max_width = 1,
};

/* The 64 EGA colours of DAC entries 0-63: index bits 5-0 are rgbRGB, the
 * upper case the two-thirds intensity (0x2a), the lower one third (0x15). */
static uint8_t ega_component(unsigned index, unsigned bit)
{
	return (uint8_t)((index >> bit & 1) * 0x2a + (index >> (bit + 3) & 1) * 0x15);
}

void vga_init(struct vga *vga)
{
	memset(vga, 0, sizeof(*vga));
	vga->misc = mode3_misc;
	vga->subsystem = 0x01;
	memcpy(vga->seq, mode3_seq, sizeof(vga->seq));
	memcpy(vga->crtc, mode3_crtc, sizeof(vga->crtc));
	memcpy(vga->gc, mode3_gc, sizeof(vga->gc));
	memcpy(vga->attr, mode3_attr, sizeof(vga->attr));
	vga->attr_index = ATTR_PAS;
	vga->text_map = (mode3_gc[GC_MISC] >> 2) & 3;
	vga->dac_mask = 0xff;
	for (unsigned i = 0; i < 64; i++) {
		vga->dac[i][0] = ega_component(i, 2);
		vga->dac[i][1] = ega_component(i, 1);
		vga->dac[i][2] = ega_component(i, 0);
	}
}

int vga_attach(struct vga *vga, struct bus *bus)
{
	return bus_register(bus, BUS_SPACE_PIO, "vga", VGA_PORT_BASE, VGA_PORT_COUNT, &vga_ops,
			    vga);
}

void vga_init_memory(uint8_t *legacy_window)
{
	/* Plane 2: the font as character map 0, the other maps empty. */
	memset(legacy_window, 0, 0x10000);
	memcpy(legacy_window, vga_default_font, sizeof(vga_default_font));
	/* The colour text window at 0xb8000: spaces, light grey on black. */
	uint8_t *text = legacy_window + 0x18000;
	for (unsigned i = 0; i < 0x8000; i += 2) {
		text[i] = ' ';
		text[i + 1] = 0x07;
	}
}

/* ---- Snapshots ---------------------------------------------------------- */

#define VGA_SNAP_VERSION 1u

void vga_save(const struct vga *vga, struct snap_writer *w)
{
	snapw_begin(w, "VGA ", VGA_SNAP_VERSION, false);
	snapw_u8(w, vga->misc);
	snapw_u8(w, vga->feature);
	snapw_u8(w, vga->subsystem);
	snapw_u8(w, vga->status1);
	snapw_u8(w, vga->seq_index);
	snapw_bytes(w, vga->seq, sizeof(vga->seq));
	snapw_u8(w, vga->crtc_index);
	snapw_bytes(w, vga->crtc, sizeof(vga->crtc));
	snapw_u8(w, vga->gc_index);
	snapw_bytes(w, vga->gc, sizeof(vga->gc));
	snapw_u8(w, vga->attr_index);
	snapw_bool(w, vga->attr_data_next);
	snapw_bytes(w, vga->attr, sizeof(vga->attr));
	snapw_u8(w, vga->dac_mask);
	snapw_u8(w, vga->dac_read_index);
	snapw_u8(w, vga->dac_write_index);
	snapw_u8(w, vga->dac_component);
	snapw_u8(w, vga->dac_state);
	snapw_bytes(w, vga->dac_latch, sizeof(vga->dac_latch));
	snapw_bytes(w, vga->dac, sizeof(vga->dac));
	snapw_u8(w, vga->text_map);
	snapw_bool(w, vga->font_write_state);
	snapw_bool(w, vga->font_in_ram);
	snapw_end(w);
}

int vga_load(struct vga *vga, struct snap_reader *r)
{
	if (r->version != VGA_SNAP_VERSION)
		return snapr_fail(r, "version %u, this btvm reads %u", r->version, VGA_SNAP_VERSION);
	vga->misc = snapr_u8(r);
	vga->feature = snapr_u8(r);
	vga->subsystem = snapr_u8(r);
	vga->status1 = snapr_u8(r);
	vga->seq_index = snapr_u8(r);
	snapr_bytes(r, vga->seq, sizeof(vga->seq));
	vga->crtc_index = snapr_u8(r);
	snapr_bytes(r, vga->crtc, sizeof(vga->crtc));
	vga->gc_index = snapr_u8(r);
	snapr_bytes(r, vga->gc, sizeof(vga->gc));
	vga->attr_index = snapr_u8(r);
	vga->attr_data_next = snapr_bool(r);
	snapr_bytes(r, vga->attr, sizeof(vga->attr));
	vga->dac_mask = snapr_u8(r);
	vga->dac_read_index = snapr_u8(r);
	vga->dac_write_index = snapr_u8(r);
	vga->dac_component = snapr_u8(r);
	vga->dac_state = snapr_u8(r);
	snapr_bytes(r, vga->dac_latch, sizeof(vga->dac_latch));
	snapr_bytes(r, vga->dac, sizeof(vga->dac));
	vga->text_map = snapr_u8(r);
	vga->font_write_state = snapr_bool(r);
	vga->font_in_ram = snapr_bool(r);
	if (!r->err && (vga->dac_component > 2 || vga->text_map > 3))
		return snapr_fail(r, "DAC component %u or text map %u out of range",
				  vga->dac_component, vga->text_map);
	/* Whatever the window showed is not this picture. */
	vga->generation++;
	vga->shown.valid = false;
	return snapr_end(r);
}
