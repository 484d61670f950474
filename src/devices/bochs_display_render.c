/* The Bochs display's picture: VRAM in the DISPI mode's format into host
 * XRGB8888 pixels, all rows or only those on dirty pages. Only reads the
 * registers (bochs_display.c writes them); see bochs_display.h for the
 * formats and the redraw rules. */
#include "devices/bochs_display.h"

#include <string.h>

bool bochs_display_active(const struct bochs_display *dev, unsigned *width, unsigned *height)
{
	const struct bochs_mode *m = &dev->mode;
	unsigned w = m->valid ? m->width : BOCHS_REFUSED_WIDTH;
	unsigned h = m->valid ? m->height : BOCHS_REFUSED_HEIGHT;

	if (!m->enabled)
		return false;
	if (width)
		*width = w;
	if (height)
		*height = h;
	return true;
}

static uint32_t rgb(unsigned r, unsigned g, unsigned b)
{
	return (uint32_t)r << 16 | (uint32_t)g << 8 | b;
}

/* A 5- or 6-bit component widened to 8 bits, its top bits repeated below
 * so that full intensity is 0xff. */
static unsigned widen5(unsigned c)
{
	return c << 3 | c >> 2;
}

static unsigned widen6(unsigned c)
{
	return c << 2 | c >> 4;
}

static void build_palette(const struct bochs_display *dev, uint32_t *palette)
{
	for (unsigned i = 0; i < 256; i++) {
		if (dev->vga) {
			const uint8_t *c = dev->vga->dac[i];
			palette[i] = rgb(widen6(c[0] & 0x3fu), widen6(c[1] & 0x3fu),
					 widen6(c[2] & 0x3fu));
		} else {
			palette[i] = rgb(i, i, i);
		}
	}
}

static unsigned load16(const uint8_t *p, bool big_endian)
{
	return big_endian ? (unsigned)p[0] << 8 | p[1] : (unsigned)p[1] << 8 | p[0];
}

/* One row of width pixels from VRAM bytes src. */
static void draw_row(const struct bochs_mode *m, const uint32_t *palette, const uint8_t *src,
		     uint32_t *dst)
{
	unsigned w = m->width;
	bool be = m->big_endian;

	switch (m->bpp) {
	case 32:
		for (unsigned x = 0; x < w; x++, src += 4)
			dst[x] = be ? rgb(src[1], src[2], src[3]) : rgb(src[2], src[1], src[0]);
		return;
	case 24:
		for (unsigned x = 0; x < w; x++, src += 3)
			dst[x] = be ? rgb(src[0], src[1], src[2]) : rgb(src[2], src[1], src[0]);
		return;
	case 16:
		for (unsigned x = 0; x < w; x++, src += 2) {
			unsigned v = load16(src, be);
			dst[x] = rgb(widen5(v >> 11 & 0x1f), widen6(v >> 5 & 0x3f), widen5(v & 0x1f));
		}
		return;
	case 15:
		for (unsigned x = 0; x < w; x++, src += 2) {
			unsigned v = load16(src, be);
			dst[x] = rgb(widen5(v >> 10 & 0x1f), widen5(v >> 5 & 0x1f), widen5(v & 0x1f));
		}
		return;
	case 8:
		for (unsigned x = 0; x < w; x++)
			dst[x] = palette[src[x]];
		return;
	}
}

/* Whether any page of VRAM bytes [offset, offset + length) is set in
 * dirty; length > 0, the range inside VRAM. */
static bool range_dirty(const uint8_t *dirty, uint32_t offset, uint32_t length)
{
	uint32_t last = (offset + length - 1) >> BOCHS_VRAM_PAGE_SHIFT;

	for (uint32_t p = offset >> BOCHS_VRAM_PAGE_SHIFT; p <= last; p++) {
		if (dirty[p >> 3] & (1u << (p & 7)))
			return true;
	}
	return false;
}

bool bochs_display_render(struct bochs_display *dev, const uint8_t *dirty, bool full,
			  uint32_t *pixels, unsigned *width, unsigned *height)
{
	const struct bochs_mode *m = &dev->mode;
	struct bochs_shown *shown = &dev->shown;
	uint32_t palette[256];

	if (!bochs_display_active(dev, width, height)) {
		*width = *height = 0;
		shown->valid = false;
		return false;
	}
	memset(palette, 0, sizeof(palette));
	if (m->valid && m->bpp == 8)
		build_palette(dev, palette);
	bool all = full || !dirty || !shown->valid || shown->generation != dev->generation ||
		   memcmp(palette, shown->palette, sizeof(palette)) != 0;
	bool drew = false;

	if (!m->valid || !dev->vram) {
		if (all)
			memset(pixels, 0, (size_t)*width * *height * sizeof(*pixels));
		drew = all;
	} else {
		uint32_t row_bytes = m->width * (m->bpp + 7) / 8;
		for (unsigned y = 0; y < m->height; y++) {
			uint32_t offset = m->start + y * m->line;
			if (!all && !range_dirty(dirty, offset, row_bytes))
				continue;
			draw_row(m, palette, dev->vram + offset, pixels + (size_t)y * m->width);
			drew = true;
		}
	}
	shown->valid = true;
	shown->generation = dev->generation;
	memcpy(shown->palette, palette, sizeof(palette));
	if (drew)
		dev->renders++;
	return drew;
}
