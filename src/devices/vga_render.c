/* The VGA's picture: text-mode geometry from the CRTC and sequencer, the
 * renderer into host pixels, the change check and the text dump. Only
 * reads registers; they are written in vga.c. See vga.h for what is drawn
 * and what is not. */
#include "devices/vga.h"

#include <string.h>

#include "devices/vga_font.h"

#define SEQ_CLOCKING		1
#define SEQ_CLK_8DOT		0x01
#define SEQ_CLK_HALF		0x08	/* dot clock / 2: every dot twice */
#define SEQ_CLK_SCREEN_OFF	0x20
#define SEQ_CHAR_MAP		3
#define GC_MISC			6
#define GC_MISC_GRAPHICS	0x01
#define ATTR_MODE		0x10
#define ATTR_MODE_GRAPHICS	0x01
#define ATTR_MODE_LINE_GRAPHICS	0x04	/* 9th dot repeats the 8th for 0xc0-0xdf */
#define ATTR_MODE_BLINK		0x08
#define ATTR_MODE_P54		0x80	/* DAC bits 5-4 from colour select */
#define ATTR_PLANE_ENABLE	0x12
#define ATTR_COLOUR_SELECT	0x14
#define ATTR_PAS		0x20
#define CRTC_CURSOR_OFF		0x20	/* in the cursor start register */

/* A picture when the CRTC's does not fit: mode 3's size. */
#define FALLBACK_WIDTH 720
#define FALLBACK_HEIGHT 400
/* A 70 Hz VGA's frame, in ns; the cursor blinks every 8 frames, blinking
 * characters every 16. */
#define FRAME_NS 14285714u

struct geometry {
	bool text;		/* a text mode this draws */
	unsigned width, height;	/* of the picture, text or not */
	unsigned cols, rows, char_width, char_height;
	unsigned dot_repeat, line_repeat;
	/* Text cells: cell address a is at map_base + (2a & map_mask) in the
	 * legacy window, the character, then the attribute. */
	uint32_t map_base, map_mask;
	unsigned start, stride;	/* cell addresses */
};

static void get_geometry(const struct vga *vga, struct geometry *g)
{
	static const uint32_t map_base[4] = { 0x00000, 0x00000, 0x10000, 0x18000 };
	static const uint32_t map_size[4] = { 0x20000, 0x10000, 0x08000, 0x08000 };
	const uint8_t *cr = vga->crtc;

	memset(g, 0, sizeof(*g));
	g->cols = cr[0x01] + 1u;
	unsigned lines = (cr[0x12] | (cr[0x07] & 0x02u) << 7 | (cr[0x07] & 0x40u) << 3) + 1u;
	g->char_height = (cr[0x09] & 0x1fu) + 1u;
	g->line_repeat = cr[0x09] & 0x80 ? 2 : 1;
	g->char_width = vga->seq[SEQ_CLOCKING] & SEQ_CLK_8DOT ? 8 : 9;
	g->dot_repeat = vga->seq[SEQ_CLOCKING] & SEQ_CLK_HALF ? 2 : 1;
	unsigned cell_lines = g->char_height * g->line_repeat;
	g->rows = (lines + cell_lines - 1) / cell_lines;
	g->width = g->cols * g->char_width * g->dot_repeat;
	g->height = lines;

	bool fits = g->width <= VGA_MAX_WIDTH && g->height <= VGA_MAX_HEIGHT;
	bool graphics = (vga->gc[GC_MISC] & GC_MISC_GRAPHICS) ||
			(vga->attr[ATTR_MODE] & ATTR_MODE_GRAPHICS);
	g->text = fits && !graphics && g->cols <= VGA_MAX_COLS && g->rows <= VGA_MAX_ROWS;
	if (!fits) {
		g->width = FALLBACK_WIDTH;
		g->height = FALLBACK_HEIGHT;
	}
	g->map_base = map_base[vga->text_map & 3];
	g->map_mask = map_size[vga->text_map & 3] - 1;
	g->start = (unsigned)cr[0x0c] << 8 | cr[0x0d];
	g->stride = cr[0x13] * 2u;
}

static unsigned cell_address(const struct geometry *g, unsigned row, unsigned col)
{
	return (g->start + row * g->stride + col) & 0xffff;
}

static const uint8_t *cell(const struct geometry *g, const uint8_t *legacy, unsigned address)
{
	return legacy + g->map_base + ((2 * address) & g->map_mask);
}

static bool display_on(const struct vga *vga)
{
	return !(vga->seq[SEQ_CLOCKING] & SEQ_CLK_SCREEN_OFF) && (vga->attr_index & ATTR_PAS);
}

static bool cursor_phase_on(uint64_t now_ns)
{
	return !(now_ns / FRAME_NS >> 3 & 1);
}

static bool chars_phase_on(uint64_t now_ns)
{
	return !(now_ns / FRAME_NS >> 4 & 1);
}

static uint8_t dac_to_8bit(uint8_t component)
{
	return (uint8_t)(component << 2 | component >> 4);
}

/* The XRGB colour of a 4-bit attribute colour. */
static uint32_t colour(const struct vga *vga, unsigned index)
{
	const uint8_t *attr = vga->attr;
	uint8_t palette = attr[index & attr[ATTR_PLANE_ENABLE] & 0x0f];
	unsigned dac = palette & 0x3f;

	if (attr[ATTR_MODE] & ATTR_MODE_P54)
		dac = (dac & 0x0f) | (attr[ATTR_COLOUR_SELECT] & 0x03u) << 4;
	dac |= (attr[ATTR_COLOUR_SELECT] & 0x0cu) << 4;
	const uint8_t *rgb = vga->dac[dac & vga->dac_mask];
	return (uint32_t)dac_to_8bit(rgb[0]) << 16 | (uint32_t)dac_to_8bit(rgb[1]) << 8 |
	       dac_to_8bit(rgb[2]);
}

/* The character's glyph, VGA_FONT_STRIDE bytes: the default font until a
 * font load, then plane 2 in RAM, from character map A or B by attribute
 * bit 3 (a 512-character font when they differ). */
static const uint8_t *glyph(const struct vga *vga, const uint8_t *legacy, uint8_t ch,
			    uint8_t attr)
{
	if (!vga->font_in_ram)
		return vga_default_font[ch];
	uint8_t sel = vga->seq[SEQ_CHAR_MAP];
	unsigned map = attr & 0x08 ? ((sel >> 2) & 3u) | ((sel >> 3) & 4u)
				   : (sel & 3u) | ((sel >> 2) & 4u);
	return legacy + (map & 3) * 0x4000u + (map >> 2) * 0x2000u + ch * VGA_FONT_STRIDE;
}

/* Copies the visible cells into text (rows * cols * 2 bytes). */
static void gather_cells(const struct geometry *g, const uint8_t *legacy, uint8_t *text)
{
	for (unsigned r = 0; r < g->rows; r++)
		for (unsigned c = 0; c < g->cols; c++) {
			const uint8_t *p = cell(g, legacy, cell_address(g, r, c));
			*text++ = p[0];
			*text++ = p[1];
		}
}

struct cursor {
	bool shown;		/* enabled, with lines to draw */
	unsigned address, start, end;
};

static void get_cursor(const struct vga *vga, const struct geometry *g, struct cursor *cur)
{
	cur->start = vga->crtc[0x0a] & 0x1fu;
	cur->end = vga->crtc[0x0b] & 0x1fu;
	cur->address = (unsigned)vga->crtc[0x0e] << 8 | vga->crtc[0x0f];
	cur->shown = !(vga->crtc[0x0a] & CRTC_CURSOR_OFF) && cur->start <= cur->end &&
		     cur->start < g->char_height;
}

/* The dots of one line of one cell, leftmost in the highest of
 * char_width bits. */
static unsigned cell_dots(const struct vga *vga, const struct geometry *g,
			  const uint8_t *legacy, uint8_t ch, uint8_t attr, unsigned line,
			  bool hidden)
{
	if (hidden)
		return 0;
	/* Underline: foreground 1 on background 0, whatever the blink bit;
	 * all across the cell, 9th dot included, as on an MDA. */
	if ((attr & 0x77) == 0x01 && line == (vga->crtc[0x14] & 0x1fu))
		return 0x1ff;
	unsigned dots = glyph(vga, legacy, ch, attr)[line];
	if (g->char_width == 9) {
		bool repeat = (vga->attr[ATTR_MODE] & ATTR_MODE_LINE_GRAPHICS) && ch >= 0xc0 &&
			      ch <= 0xdf;
		dots = dots << 1 | (repeat ? dots & 1 : 0);
	}
	return dots;
}

static void draw_text(struct vga *vga, const struct geometry *g, const uint8_t *legacy,
		      const uint8_t *text, uint32_t *pixels)
{
	struct vga_shown *shown = &vga->shown;
	bool blink_enabled = vga->attr[ATTR_MODE] & ATTR_MODE_BLINK;
	uint32_t colours[16];
	struct cursor cur;

	for (unsigned i = 0; i < 16; i++)
		colours[i] = colour(vga, i);
	get_cursor(vga, g, &cur);
	unsigned cell_lines = g->char_height * g->line_repeat;
	unsigned cell_dots_wide = g->char_width * g->dot_repeat;

	for (unsigned r = 0; r < g->rows; r++) {
		const uint8_t *row = text + (size_t)r * g->cols * 2;
		for (unsigned sub = 0; sub < cell_lines; sub++) {
			unsigned y = r * cell_lines + sub;
			if (y >= g->height)
				break;
			unsigned line = sub / g->line_repeat;
			uint32_t *out = pixels + (size_t)y * g->width;
			for (unsigned c = 0; c < g->cols; c++) {
				uint8_t ch = row[2 * c], attr = row[2 * c + 1];
				bool blinks = blink_enabled && (attr & 0x80);
				uint32_t fg = colours[attr & 0x0f];
				uint32_t bg = colours[(attr >> 4) & (blink_enabled ? 0x07 : 0x0f)];
				unsigned dots = cell_dots(vga, g, legacy, ch, attr, line,
							  blinks && !shown->chars_on);
				if (blinks)
					shown->chars_blink = true;
				if (cur.shown && cell_address(g, r, c) == cur.address) {
					shown->cursor_blinks = true;
					if (shown->cursor_on && line >= cur.start && line <= cur.end)
						dots = ~0u;
				}
				uint32_t *p = out + (size_t)c * cell_dots_wide;
				for (unsigned d = 0; d < g->char_width; d++) {
					uint32_t px = dots >> (g->char_width - 1 - d) & 1 ? fg : bg;
					for (unsigned k = 0; k < g->dot_repeat; k++)
						*p++ = px;
				}
			}
		}
	}
}

void vga_render(struct vga *vga, const uint8_t *legacy_window, uint64_t now_ns,
		uint32_t *pixels, unsigned *width, unsigned *height)
{
	struct vga_shown *shown = &vga->shown;
	struct geometry g;

	get_geometry(vga, &g);
	*width = g.width;
	*height = g.height;
	vga->renders++;
	shown->valid = true;
	shown->generation = vga->generation;
	shown->cursor_blinks = false;
	shown->chars_blink = false;
	shown->cells = 0;
	if (!g.text)
		vga->unsupported_renders++;
	if (!g.text || !display_on(vga)) {
		for (size_t i = 0; i < (size_t)g.width * g.height; i++)
			pixels[i] = 0;
		return;
	}
	/* Drawn from the snapshot, so the picture is what the change check
	 * compares against even while the guest writes. */
	shown->cells = g.rows * g.cols;
	gather_cells(&g, legacy_window, shown->text);
	shown->cursor_on = cursor_phase_on(now_ns);
	shown->chars_on = chars_phase_on(now_ns);
	draw_text(vga, &g, legacy_window, shown->text, pixels);
}

bool vga_needs_render(const struct vga *vga, const uint8_t *legacy_window, uint64_t now_ns)
{
	const struct vga_shown *shown = &vga->shown;

	if (!shown->valid || shown->generation != vga->generation)
		return true;
	if (shown->cursor_blinks && cursor_phase_on(now_ns) != shown->cursor_on)
		return true;
	if (shown->chars_blink && chars_phase_on(now_ns) != shown->chars_on)
		return true;
	if (!shown->cells)
		return false;
	/* Same generation, same registers: the same cells are on screen. */
	struct geometry g;
	get_geometry(vga, &g);
	const uint8_t *text = shown->text;
	for (unsigned r = 0; r < g.rows; r++)
		for (unsigned c = 0; c < g.cols; c++, text += 2)
			if (memcmp(cell(&g, legacy_window, cell_address(&g, r, c)), text, 2))
				return true;
	return false;
}

/* Appends one byte to the dump, counting what does not fit. */
struct dump {
	char *buf;
	size_t size, len;
};

static void put(struct dump *d, char byte)
{
	if (d->len + 1 < d->size)
		d->buf[d->len] = byte;
	d->len++;
}

static void put_utf8(struct dump *d, unsigned code)
{
	if (code < 0x80) {
		put(d, (char)code);
	} else if (code < 0x800) {
		put(d, (char)(0xc0 | code >> 6));
		put(d, (char)(0x80 | (code & 0x3f)));
	} else {
		put(d, (char)(0xe0 | code >> 12));
		put(d, (char)(0x80 | ((code >> 6) & 0x3f)));
		put(d, (char)(0x80 | (code & 0x3f)));
	}
}

size_t vga_text_dump(const struct vga *vga, const uint8_t *legacy_window, char *buf, size_t size)
{
	struct dump d = { .buf = buf, .size = size };
	struct geometry g;

	get_geometry(vga, &g);
	if (g.text) {
		for (unsigned r = 0; r < g.rows; r++) {
			unsigned used = 0;	/* columns up to the last non-blank */
			for (unsigned c = 0; c < g.cols; c++) {
				uint8_t ch = cell(&g, legacy_window, cell_address(&g, r, c))[0];
				if (ch != 0x00 && ch != ' ')
					used = c + 1;
			}
			for (unsigned c = 0; c < used; c++) {
				uint8_t ch = cell(&g, legacy_window, cell_address(&g, r, c))[0];
				put_utf8(&d, ch ? vga_cp437_unicode[ch] : ' ');
			}
			put(&d, '\n');
		}
	}
	if (size)
		buf[d.len < size ? d.len : size - 1] = '\0';
	return d.len;
}
