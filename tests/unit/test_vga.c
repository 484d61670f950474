/* The VGA model driven through a real bus as Linux's vgacon and a BIOS
 * drive it: mode 3 power-on values read back, every register group
 * written and read, the attribute flip-flop, the DAC's three-step access,
 * the CRTC protect bit; then pictures: a character in the default font and
 * in a font loaded the vgacon way into RAM at 0xa0000, the 9th dot, the
 * cursor, blinking, a blank screen, the change check and the text dump. */
#include <iconv.h>
#include <stdlib.h>

#include "check.h"
#include "devices/bus.h"
#include "devices/vga.h"
#include "devices/vga_font.h"

#define TEXT 0x18000u	/* 0xb8000 in the legacy window */
#define FRAME_NS 14285714u
/* Times in the blink phases: cursor and characters on, cursor off
 * (frames 8-15), both off (frames 16-23: cursor on again at 16). */
#define T_ON 0u
#define T_CURSOR_OFF (9u * FRAME_NS)
#define T_CHARS_OFF (17u * FRAME_NS)

/* Mode 3's colours as the BIOS DAC gives them. */
#define BLACK 0x000000u
#define BLUE 0x0000aau
#define GREY 0xaaaaaau
#define YELLOW 0xffff55u
#define WHITE 0xffffffu

struct harness {
	struct bus bus;
	struct vga vga;
	uint8_t *legacy;
	uint32_t *pixels;
	unsigned width, height;
};

static void setup(struct harness *h)
{
	memset(h, 0, sizeof(*h));
	bus_init(&h->bus);
	vga_init(&h->vga);
	CHECK_EQ(vga_attach(&h->vga, &h->bus), 0);
	h->legacy = calloc(1, VGA_LEGACY_SIZE);
	h->pixels = calloc(VGA_MAX_PIXELS, sizeof(*h->pixels));
	if (!h->legacy || !h->pixels)
		abort();
}

static void teardown(struct harness *h)
{
	free(h->legacy);
	free(h->pixels);
}

static uint8_t in(struct harness *h, unsigned port)
{
	return (uint8_t)bus_read(&h->bus, BUS_SPACE_PIO, port, 1);
}

static void out(struct harness *h, unsigned port, uint8_t value)
{
	bus_write(&h->bus, BUS_SPACE_PIO, port, 1, value);
}

static uint8_t rd_idx(struct harness *h, unsigned port, uint8_t index)
{
	out(h, port, index);
	return in(h, port + 1);
}

static void wr_idx(struct harness *h, unsigned port, uint8_t index, uint8_t value)
{
	out(h, port, index);
	out(h, port + 1, value);
}

static uint8_t rd_attr(struct harness *h, uint8_t index)
{
	in(h, 0x3da);
	out(h, 0x3c0, index | 0x20);
	return in(h, 0x3c1);
}

static void wr_attr(struct harness *h, uint8_t index, uint8_t value)
{
	in(h, 0x3da);
	out(h, 0x3c0, index | 0x20);
	out(h, 0x3c0, value);
}

static void put_cell(struct harness *h, unsigned row, unsigned col, uint8_t ch, uint8_t attr)
{
	uint8_t *p = h->legacy + TEXT + 2 * (row * 80 + col);
	p[0] = ch;
	p[1] = attr;
}

static void put_string(struct harness *h, unsigned row, unsigned col, const char *s,
		       uint8_t attr)
{
	for (; *s; s++)
		put_cell(h, row, col++, (uint8_t)*s, attr);
}

static void render(struct harness *h, uint64_t now_ns)
{
	vga_render(&h->vga, h->legacy, now_ns, h->pixels, &h->width, &h->height);
}

static uint32_t pixel(struct harness *h, unsigned x, unsigned y)
{
	if (x >= h->width || y >= h->height)
		return 0xdeadbeef;
	return h->pixels[(size_t)y * h->width + x];
}

/* Whether cell (row, col) of a 9x16 mode shows the glyph lines with fg
 * dots where the bits are set and bg elsewhere, with a background ninth
 * dot; returns the number of dots that differed. */
static unsigned cell_mismatches(struct harness *h, unsigned row, unsigned col,
				const uint8_t *glyph, uint32_t fg, uint32_t bg)
{
	unsigned bad = 0;
	for (unsigned line = 0; line < 16; line++)
		for (unsigned d = 0; d < 9; d++) {
			bool on = d < 8 && (glyph[line] >> (7 - d) & 1);
			if (pixel(h, col * 9 + d, row * 16 + line) != (on ? fg : bg))
				bad++;
		}
	return bad;
}

static unsigned glyph_dots(const uint8_t *glyph)
{
	unsigned n = 0;
	for (unsigned line = 0; line < VGA_FONT_STRIDE; line++)
		n += (unsigned)__builtin_popcount(glyph[line]);
	return n;
}

static void test_power_on(void)
{
	struct harness h;
	setup(&h);

	static const uint8_t seq[5] = { 0x03, 0x00, 0x03, 0x00, 0x02 };
	static const uint8_t crtc[0x19] = {
		0x5f, 0x4f, 0x50, 0x82, 0x55, 0x81, 0xbf, 0x1f, 0x00, 0x4f, 0x0d, 0x0e, 0x00,
		0x00, 0x00, 0x00, 0x9c, 0x8e, 0x8f, 0x28, 0x1f, 0x96, 0xb9, 0xa3, 0xff,
	};
	static const uint8_t gc[9] = { 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0e, 0x0f, 0xff };
	static const uint8_t attr[0x15] = {
		0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d,
		0x3e, 0x3f, 0x0c, 0x00, 0x0f, 0x08, 0x00,
	};

	CHECK_EQ(in(&h, 0x3cc), 0x67);
	for (unsigned i = 0; i < 5; i++)
		CHECK_EQ(rd_idx(&h, 0x3c4, (uint8_t)i), seq[i]);
	for (unsigned i = 0; i < 0x19; i++)
		CHECK_EQ(rd_idx(&h, 0x3d4, (uint8_t)i), crtc[i]);
	for (unsigned i = 0; i < 9; i++)
		CHECK_EQ(rd_idx(&h, 0x3ce, (uint8_t)i), gc[i]);
	for (unsigned i = 0; i < 0x15; i++)
		CHECK_EQ(rd_attr(&h, (uint8_t)i), attr[i]);
	/* Colour: the mono CRTC and status ports are not there. */
	CHECK_EQ(rd_idx(&h, 0x3b4, 0x0a), 0xff);
	CHECK_EQ(in(&h, 0x3ba), 0xff);

	/* DAC: the EGA colours in 0-63 (brown at 0x14, dark grey at 0x38,
	 * bright yellow at 0x3e), black after; pel mask all ones. */
	CHECK_EQ(in(&h, 0x3c6), 0xff);
	out(&h, 0x3c7, 0x14);
	CHECK_EQ(in(&h, 0x3c9), 0x2a);
	CHECK_EQ(in(&h, 0x3c9), 0x15);
	CHECK_EQ(in(&h, 0x3c9), 0x00);
	out(&h, 0x3c7, 0x38);
	CHECK_EQ(in(&h, 0x3c9), 0x15);
	CHECK_EQ(in(&h, 0x3c9), 0x15);
	CHECK_EQ(in(&h, 0x3c9), 0x15);
	out(&h, 0x3c7, 0x3e);
	CHECK_EQ(in(&h, 0x3c9), 0x3f);
	CHECK_EQ(in(&h, 0x3c9), 0x3f);
	CHECK_EQ(in(&h, 0x3c9), 0x15);
	CHECK_EQ(in(&h, 0x3c9), 0x3f);	/* entry 0x3f: white */
	CHECK_EQ(in(&h, 0x3c9), 0x3f);
	CHECK_EQ(in(&h, 0x3c9), 0x3f);
	CHECK_EQ(in(&h, 0x3c9), 0x00);	/* entry 0x40: black */
	/* Only the index write to the absent 0x3b4 was not taken. */
	CHECK_EQ(h.vga.unknown_writes, 1);
	teardown(&h);
}

static void test_register_writes(void)
{
	struct harness h;
	setup(&h);

	/* Sequencer and GC keep only the bits a VGA has. */
	wr_idx(&h, 0x3c4, 1, 0xff);
	CHECK_EQ(rd_idx(&h, 0x3c4, 1), 0x3d);
	wr_idx(&h, 0x3c4, 3, 0x2a);
	CHECK_EQ(rd_idx(&h, 0x3c4, 3), 0x2a);
	CHECK_EQ(in(&h, 0x3c4), 3);
	wr_idx(&h, 0x3ce, 5, 0xff);
	CHECK_EQ(rd_idx(&h, 0x3ce, 5), 0x7b);
	wr_idx(&h, 0x3ce, 8, 0x5a);
	CHECK_EQ(rd_idx(&h, 0x3ce, 8), 0x5a);
	CHECK_EQ(in(&h, 0x3ce), 8);
	/* CRTC registers past the protected ones take any value. */
	wr_idx(&h, 0x3d4, 0x0e, 0x12);
	wr_idx(&h, 0x3d4, 0x0f, 0x34);
	CHECK_EQ(rd_idx(&h, 0x3d4, 0x0e), 0x12);
	CHECK_EQ(rd_idx(&h, 0x3d4, 0x0f), 0x34);
	CHECK_EQ(in(&h, 0x3d4), 0x0f);
	/* Attribute registers. */
	wr_attr(&h, 0x12, 0xff);
	CHECK_EQ(rd_attr(&h, 0x12), 0x3f);
	wr_attr(&h, 0x0a, 0x15);
	CHECK_EQ(rd_attr(&h, 0x0a), 0x15);
	CHECK_EQ(h.vga.unknown_writes, 0);

	/* A 16-bit OUT to an index port is the index, then the data. */
	bus_write(&h.bus, BUS_SPACE_PIO, 0x3c4, 2, 0x0f02);
	CHECK_EQ(rd_idx(&h, 0x3c4, 2), 0x0f);
	bus_write(&h.bus, BUS_SPACE_PIO, 0x3c4, 2, 0x0302);
	CHECK_EQ(rd_idx(&h, 0x3c4, 2), 0x03);

	/* Unknown indexes: read 0xff, writes dropped and counted. */
	wr_idx(&h, 0x3c4, 5, 0x12);
	CHECK_EQ(rd_idx(&h, 0x3c4, 5), 0xff);
	wr_idx(&h, 0x3ce, 9, 0x12);
	CHECK_EQ(rd_idx(&h, 0x3ce, 9), 0xff);
	wr_idx(&h, 0x3d4, 0x19, 0x12);
	CHECK_EQ(rd_idx(&h, 0x3d4, 0x19), 0xff);
	wr_attr(&h, 0x15, 0x12);
	CHECK_EQ(rd_attr(&h, 0x15), 0xff);
	CHECK_EQ(h.vga.unknown_writes, 4);

	/* Misc output: bit 0 clear moves the CRTC and status 1 to 0x3bx. */
	out(&h, 0x3c2, 0x66);
	CHECK_EQ(in(&h, 0x3cc), 0x66);
	CHECK_EQ(rd_idx(&h, 0x3d4, 0x0e), 0xff);	/* the index write is dropped */
	CHECK_EQ(h.vga.unknown_writes, 5);
	CHECK_EQ(in(&h, 0x3da), 0xff);
	CHECK_EQ(rd_idx(&h, 0x3b4, 0x0e), 0x12);
	wr_idx(&h, 0x3b4, 0x0e, 0x07);
	CHECK_EQ(rd_idx(&h, 0x3b4, 0x0e), 0x07);
	CHECK_EQ(h.vga.unknown_writes, 5);
	wr_idx(&h, 0x3d4, 0x0e, 0x99);	/* nobody there: two writes dropped */
	CHECK_EQ(h.vga.unknown_writes, 7);
	CHECK_EQ(rd_idx(&h, 0x3b4, 0x0e), 0x07);
	out(&h, 0x3c2, 0x67);
	CHECK_EQ(rd_idx(&h, 0x3d4, 0x0e), 0x07);

	/* Feature control, written at status 1, read at 0x3ca. */
	out(&h, 0x3da, 0x01);
	CHECK_EQ(in(&h, 0x3ca), 0x01);
	teardown(&h);
}

static void test_crtc_protect(void)
{
	struct harness h;
	setup(&h);

	/* The BIOS leaves registers 0-7 protected (0x11 bit 7). */
	wr_idx(&h, 0x3d4, 0x01, 0x27);
	CHECK_EQ(rd_idx(&h, 0x3d4, 0x01), 0x4f);
	/* Only the line compare bit of the overflow register gets through. */
	wr_idx(&h, 0x3d4, 0x07, 0x00);
	CHECK_EQ(rd_idx(&h, 0x3d4, 0x07), 0x0f);
	/* Registers past 7 are not protected. */
	wr_idx(&h, 0x3d4, 0x12, 0x5f);
	CHECK_EQ(rd_idx(&h, 0x3d4, 0x12), 0x5f);

	/* vgacon's resize: clear the protect bit, write, put it back. */
	uint8_t vsync_end = rd_idx(&h, 0x3d4, 0x11);
	wr_idx(&h, 0x3d4, 0x11, vsync_end & 0x7f);
	wr_idx(&h, 0x3d4, 0x01, 0x27);
	wr_idx(&h, 0x3d4, 0x07, 0x00);
	CHECK_EQ(rd_idx(&h, 0x3d4, 0x01), 0x27);
	CHECK_EQ(rd_idx(&h, 0x3d4, 0x07), 0x00);
	wr_idx(&h, 0x3d4, 0x11, vsync_end);
	wr_idx(&h, 0x3d4, 0x01, 0x4f);
	CHECK_EQ(rd_idx(&h, 0x3d4, 0x01), 0x27);
	teardown(&h);
}

static void test_attribute_flip_flop(void)
{
	struct harness h;
	setup(&h);

	/* Status 1 toggles its retrace bits on every read, so both of a
	 * retrace wait's loops end. */
	uint8_t a = in(&h, 0x3da), b = in(&h, 0x3da);
	CHECK_EQ(a ^ b, 0x09);
	unsigned reads = 0;
	while (!(in(&h, 0x3da) & 0x08) && reads < 10)
		reads++;
	while ((in(&h, 0x3da) & 0x08) && reads < 10)
		reads++;
	CHECK(reads < 3);

	/* Index, data, index, data... */
	in(&h, 0x3da);
	out(&h, 0x3c0, 0x05);
	out(&h, 0x3c0, 0x2a);
	CHECK_EQ(in(&h, 0x3c0), 0x05);	/* the index, PAS clear */
	out(&h, 0x3c0, 0x06);
	out(&h, 0x3c0, 0x11);
	CHECK_EQ(in(&h, 0x3c1), 0x11);
	/* Reading 0x3c1 or 0x3c0 does not move the flip-flop. */
	out(&h, 0x3c0, 0x07);
	CHECK_EQ(in(&h, 0x3c1), 0x07);
	CHECK_EQ(in(&h, 0x3c0), 0x07);
	out(&h, 0x3c0, 0x3b);	/* data for 7 */
	/* Half-way (index written), a status read resets it to index. */
	out(&h, 0x3c0, 0x01);
	in(&h, 0x3da);
	out(&h, 0x3c0, 0x02);
	out(&h, 0x3c0, 0x33);
	CHECK_EQ(rd_attr(&h, 0x01), 0x01);
	CHECK_EQ(rd_attr(&h, 0x02), 0x33);
	CHECK_EQ(rd_attr(&h, 0x05), 0x2a);
	CHECK_EQ(rd_attr(&h, 0x06), 0x11);
	CHECK_EQ(rd_attr(&h, 0x07), 0x3b);
	/* 0x3c1 is read only here. */
	in(&h, 0x3da);
	out(&h, 0x3c0, 0x23);
	out(&h, 0x3c1, 0x0c);
	CHECK_EQ(in(&h, 0x3c1), 0x03);
	CHECK_EQ(h.vga.unknown_writes, 1);
	/* That write did not move the flip-flop either: this is data. */
	out(&h, 0x3c0, 0x0c);
	CHECK_EQ(rd_attr(&h, 0x03), 0x0c);
	teardown(&h);
}

static void test_dac(void)
{
	struct harness h;
	setup(&h);

	/* Two entries in a row: the write index moves on after each blue;
	 * components keep 6 bits. */
	out(&h, 0x3c8, 5);
	CHECK_EQ(in(&h, 0x3c7), 0);
	out(&h, 0x3c9, 0x3f);
	out(&h, 0x3c9, 0x41);
	out(&h, 0x3c9, 0x20);
	CHECK_EQ(in(&h, 0x3c8), 6);
	out(&h, 0x3c9, 0x01);
	out(&h, 0x3c9, 0x02);
	out(&h, 0x3c9, 0x03);
	CHECK_EQ(in(&h, 0x3c8), 7);
	out(&h, 0x3c7, 5);
	CHECK_EQ(in(&h, 0x3c7), 3);
	static const uint8_t want[6] = { 0x3f, 0x01, 0x20, 0x01, 0x02, 0x03 };
	for (unsigned i = 0; i < 6; i++)
		CHECK_EQ(in(&h, 0x3c9), want[i]);
	/* The read index moved on to entry 7 (EGA grey). */
	CHECK_EQ(in(&h, 0x3c9), 0x2a);

	/* A write takes effect with its blue: two components then a new
	 * index leave the entry alone. */
	out(&h, 0x3c8, 9);
	out(&h, 0x3c9, 0x11);
	out(&h, 0x3c9, 0x22);
	out(&h, 0x3c8, 10);
	out(&h, 0x3c7, 9);
	CHECK_EQ(in(&h, 0x3c9), 0x00);
	CHECK_EQ(in(&h, 0x3c9), 0x00);
	CHECK_EQ(in(&h, 0x3c9), 0x3f);

	/* Both indexes wrap at 256. */
	out(&h, 0x3c8, 255);
	out(&h, 0x3c9, 1);
	out(&h, 0x3c9, 2);
	out(&h, 0x3c9, 3);
	CHECK_EQ(in(&h, 0x3c8), 0);
	out(&h, 0x3c7, 255);
	CHECK_EQ(in(&h, 0x3c9), 1);
	CHECK_EQ(in(&h, 0x3c9), 2);
	CHECK_EQ(in(&h, 0x3c9), 3);
	CHECK_EQ(in(&h, 0x3c9), 0);	/* entry 0: black */

	out(&h, 0x3c6, 0x0f);
	CHECK_EQ(in(&h, 0x3c6), 0x0f);
	teardown(&h);
}

/* The VGA ROM's character set: box lines and blocks where CP437 has them. */
static void test_default_font(void)
{
	CHECK_EQ(vga_default_font_height, 16);
	CHECK_EQ(glyph_dots(vga_default_font[0x00]), 0);
	CHECK_EQ(glyph_dots(vga_default_font[' ']), 0);
	CHECK(glyph_dots(vga_default_font['A']) > 10);
	CHECK(memcmp(vga_default_font['A'], vga_default_font['B'], VGA_FONT_STRIDE) != 0);
	/* 0xdb: a full block; 0xb3: one vertical line all the way down; 0xc4:
	 * one horizontal line across; 0xb0-0xb2: shades, ever darker. */
	for (unsigned line = 0; line < 16; line++) {
		CHECK_EQ(vga_default_font[0xdb][line], 0xff);
		CHECK_EQ(vga_default_font[0xb3][line], vga_default_font[0xb3][0]);
	}
	CHECK(vga_default_font[0xb3][0] == 0x18 || vga_default_font[0xb3][0] == 0x10 ||
	      vga_default_font[0xb3][0] == 0x08);
	unsigned full = 0;
	for (unsigned line = 0; line < 16; line++)
		full += vga_default_font[0xc4][line] == 0xff;
	CHECK_EQ(full, 1);
	CHECK_EQ(glyph_dots(vga_default_font[0xc4]), 8);
	CHECK(glyph_dots(vga_default_font[0xb0]) < glyph_dots(vga_default_font[0xb1]));
	CHECK(glyph_dots(vga_default_font[0xb1]) < glyph_dots(vga_default_font[0xb2]));
	/* Nothing below the character height. */
	for (unsigned c = 0; c < 256; c++)
		for (unsigned line = 16; line < VGA_FONT_STRIDE; line++)
			CHECK_EQ(vga_default_font[c][line], 0);
}

/* The table against iconv's IBM437 where that maps printable characters
 * (0x00-0x1f and 0x7f are controls there, glyphs on a VGA). */
static void test_cp437_table(void)
{
	iconv_t cd = iconv_open("UTF-32LE", "IBM437");
	CHECK(cd != (iconv_t)-1);
	if (cd == (iconv_t)-1)
		return;
	unsigned compared = 0;
	for (unsigned c = 0x20; c < 0x100; c++) {
		if (c == 0x7f)
			continue;
		char in_byte = (char)c, *inp = &in_byte;
		uint8_t out_buf[4];
		char *outp = (char *)out_buf;
		size_t in_left = 1, out_left = sizeof(out_buf);
		if (iconv(cd, &inp, &in_left, &outp, &out_left) == (size_t)-1) {
			CHECK(!"iconv failed");
			continue;
		}
		uint32_t code = out_buf[0] | out_buf[1] << 8 | (uint32_t)out_buf[2] << 16;
		if (code != vga_cp437_unicode[c])
			fprintf(stderr, "CP437 0x%02x: table U+%04X, iconv U+%04X\n", c,
				vga_cp437_unicode[c], code);
		CHECK_EQ(vga_cp437_unicode[c], code);
		compared++;
	}
	CHECK_EQ(compared, 0xdf);
	iconv_close(cd);
	CHECK_EQ(vga_cp437_unicode[0x01], 0x263a);
	CHECK_EQ(vga_cp437_unicode[0x7f], 0x2302);
}

static void test_render_default_font(void)
{
	struct harness h;
	setup(&h);

	/* Yellow 'A' on blue at row 2, column 3; the rest is black on black. */
	put_cell(&h, 2, 3, 'A', 0x1e);
	wr_idx(&h, 0x3d4, 0x0a, 0x20);	/* no cursor in the way */
	render(&h, T_ON);
	CHECK_EQ(h.width, 720);
	CHECK_EQ(h.height, 400);
	CHECK_EQ(cell_mismatches(&h, 2, 3, vga_default_font['A'], YELLOW, BLUE), 0);
	/* Something that is not an 'A' does not pass for one. */
	CHECK(cell_mismatches(&h, 2, 3, vga_default_font['B'], YELLOW, BLUE) > 0);
	CHECK_EQ(pixel(&h, 3 * 9 - 1, 2 * 16), BLACK);
	CHECK_EQ(pixel(&h, 4 * 9, 2 * 16), BLACK);
	CHECK_EQ(h.vga.renders, 1);
	CHECK_EQ(h.vga.unsupported_renders, 0);

	/* The palette and the DAC are in the path: palette 1 -> DAC 0x3e. */
	wr_attr(&h, 0x01, 0x3e);
	render(&h, T_ON);
	CHECK_EQ(cell_mismatches(&h, 2, 3, vga_default_font['A'], YELLOW, YELLOW), 0);
	/* The colour plane enable mask drops bit 3 of the foreground: 0xe ->
	 * 6, palette 0x14, brown. */
	wr_attr(&h, 0x01, 0x01);
	wr_attr(&h, 0x12, 0x07);
	render(&h, T_ON);
	CHECK_EQ(cell_mismatches(&h, 2, 3, vga_default_font['A'], 0xaa5500, BLUE), 0);
	wr_attr(&h, 0x12, 0x0f);

	/* The 9th dot: background for ordinary characters, the 8th dot
	 * again for 0xc0-0xdf while line graphics are on (mode control bit 2). */
	put_cell(&h, 5, 0, 0xc4, 0x07);
	put_cell(&h, 5, 1, 0xc4, 0x07);
	put_cell(&h, 6, 0, 0xdb, 0x07);
	put_cell(&h, 6, 1, 0xb2, 0x07);
	unsigned line = 0;
	while (line < 16 && vga_default_font[0xc4][line] != 0xff)
		line++;
	CHECK(line < 16);
	render(&h, T_ON);
	CHECK_EQ(pixel(&h, 8, 5 * 16 + line), GREY);
	CHECK_EQ(pixel(&h, 9 + 8, 5 * 16 + line), GREY);
	CHECK_EQ(pixel(&h, 8, 6 * 16 + 3), GREY);
	CHECK_EQ(pixel(&h, 9 + 8, 6 * 16 + 3), BLACK);	/* 0xb2: outside 0xc0-0xdf */
	wr_attr(&h, 0x10, 0x08);
	render(&h, T_ON);
	CHECK_EQ(pixel(&h, 8, 5 * 16 + line), BLACK);
	CHECK_EQ(pixel(&h, 7, 5 * 16 + line), GREY);
	CHECK_EQ(pixel(&h, 8, 6 * 16 + 3), BLACK);

	/* Underline: foreground 1 on background 0, on the line CRTC 0x14
	 * gives (mode 3's 31 is below the character: none). */
	put_cell(&h, 7, 0, 'a', 0x01);
	put_cell(&h, 7, 1, 'a', 0x11);
	render(&h, T_ON);
	CHECK_EQ(pixel(&h, 0, 7 * 16 + 15), BLACK);
	wr_idx(&h, 0x3d4, 0x14, 0x0f);
	render(&h, T_ON);
	for (unsigned d = 0; d < 9; d++)
		CHECK_EQ(pixel(&h, d, 7 * 16 + 15), BLUE);
	CHECK_EQ(pixel(&h, 9, 7 * 16 + 15), BLUE);	/* the background of 0x11 */
	CHECK_EQ(pixel(&h, 9, 7 * 16 + 14), BLUE);
	CHECK_EQ(cell_mismatches(&h, 7, 1, vga_default_font['a'], BLUE, BLUE), 0);
	CHECK(vga_default_font['a'][15] == 0);

	/* 8-dot characters (sequencer 1 bit 0): 640 wide, the 'A' at 3 * 8. */
	wr_idx(&h, 0x3c4, 1, 0x01);
	render(&h, T_ON);
	CHECK_EQ(h.width, 640);
	unsigned bad = 0;
	for (unsigned l = 0; l < 16; l++)
		for (unsigned d = 0; d < 8; d++) {
			bool on = vga_default_font['A'][l] >> (7 - d) & 1;
			bad += pixel(&h, 3 * 8 + d, 2 * 16 + l) != (on ? YELLOW : BLUE);
		}
	CHECK_EQ(bad, 0);
	teardown(&h);
}

/* vgacon_do_font_op's register writes, around writing the font. */
static void vgacon_font_begin(struct harness *h, uint8_t gc_misc)
{
	wr_idx(h, 0x3c4, 0x00, 0x01);
	wr_idx(h, 0x3c4, 0x02, 0x04);
	wr_idx(h, 0x3c4, 0x04, 0x07);
	wr_idx(h, 0x3c4, 0x00, 0x03);
	wr_idx(h, 0x3ce, 0x04, 0x02);
	wr_idx(h, 0x3ce, 0x05, 0x00);
	wr_idx(h, 0x3ce, 0x06, gc_misc);
}

static void vgacon_font_end(struct harness *h, uint8_t font_select)
{
	wr_idx(h, 0x3c4, 0x00, 0x01);
	wr_idx(h, 0x3c4, 0x02, 0x03);
	wr_idx(h, 0x3c4, 0x04, 0x03);
	wr_idx(h, 0x3c4, 0x03, font_select);
	wr_idx(h, 0x3c4, 0x00, 0x03);
	wr_idx(h, 0x3ce, 0x04, 0x00);
	wr_idx(h, 0x3ce, 0x05, 0x10);
	wr_idx(h, 0x3ce, 0x06, 0x0e);
}

static void test_render_loaded_font(void)
{
	struct harness h;
	setup(&h);
	uint8_t checker[VGA_FONT_STRIDE] = { 0 }, bars[VGA_FONT_STRIDE] = { 0 };
	for (unsigned l = 0; l < 16; l++) {
		checker[l] = l & 1 ? 0x55 : 0xaa;
		bars[l] = 0xf0;
	}

	put_cell(&h, 0, 0, 'A', 0x07);
	put_cell(&h, 0, 1, 'A', 0x0f);
	wr_idx(&h, 0x3d4, 0x0a, 0x20);
	CHECK_EQ(h.vga.font_loads, 0);

	/* Reading or writing plane 2 needs these registers: the text stays
	 * where it was, at 0xb8000, while the CPU's map is at 0xa0000. */
	vgacon_font_begin(&h, 0x00);
	CHECK_EQ(h.vga.font_loads, 1);
	for (unsigned c = 0; c < 256; c++)
		memcpy(h.legacy + c * VGA_FONT_STRIDE, c == 'A' ? checker : bars, VGA_FONT_STRIDE);
	render(&h, T_ON);
	CHECK_EQ(cell_mismatches(&h, 0, 0, checker, GREY, BLACK), 0);
	vgacon_font_end(&h, 0x00);
	CHECK_EQ(h.vga.font_loads, 1);

	render(&h, T_ON);
	CHECK_EQ(cell_mismatches(&h, 0, 0, checker, GREY, BLACK), 0);
	CHECK_EQ(cell_mismatches(&h, 0, 1, checker, WHITE, BLACK), 0);
	CHECK(cell_mismatches(&h, 0, 0, vga_default_font['A'], GREY, BLACK) > 0);
	CHECK_EQ(cell_mismatches(&h, 1, 0, bars, BLACK, BLACK), 0);

	/* A 512-character font the vgacon way: the second half at plane 2
	 * offset 16 KiB (map 1), map A = 1 for attribute bit 3 (0x04). */
	vgacon_font_begin(&h, 0x04);	/* the 64 KiB map at 0xa0000 works too */
	CHECK_EQ(h.vga.font_loads, 2);
	memcpy(h.legacy + 0x4000 + 'A' * VGA_FONT_STRIDE, bars, VGA_FONT_STRIDE);
	vgacon_font_end(&h, 0x04);
	render(&h, T_ON);
	CHECK_EQ(cell_mismatches(&h, 0, 0, checker, GREY, BLACK), 0);
	CHECK_EQ(cell_mismatches(&h, 0, 1, bars, WHITE, BLACK), 0);

	/* Plane 2 alone but mapped at 0xb8000 is no font load. */
	wr_idx(&h, 0x3c4, 0x02, 0x04);
	wr_idx(&h, 0x3c4, 0x04, 0x07);
	CHECK_EQ(h.vga.font_loads, 2);
	teardown(&h);
}

static void test_font_before_load(void)
{
	struct harness h;
	setup(&h);

	/* No font load yet: RAM at 0xa0000 is not where glyphs come from. */
	memset(h.legacy, 0xff, 0x10000);
	put_cell(&h, 0, 0, 'A', 0x07);
	render(&h, T_CURSOR_OFF);
	CHECK_EQ(cell_mismatches(&h, 0, 0, vga_default_font['A'], GREY, BLACK), 0);

	/* After vga_init_memory a font read back the vgacon way (the same
	 * register state) is the default font, so setting it again changes
	 * nothing on screen. */
	vga_init_memory(h.legacy);
	CHECK_EQ(memcmp(h.legacy + 'A' * VGA_FONT_STRIDE, vga_default_font['A'], VGA_FONT_STRIDE), 0);
	vgacon_font_begin(&h, 0x00);
	vgacon_font_end(&h, 0x00);
	CHECK(h.vga.font_in_ram);
	put_cell(&h, 0, 0, 'A', 0x07);
	render(&h, T_CURSOR_OFF);
	CHECK_EQ(cell_mismatches(&h, 0, 0, vga_default_font['A'], GREY, BLACK), 0);
	teardown(&h);
}

static void test_init_memory(void)
{
	struct harness h;
	setup(&h);

	memset(h.legacy, 0x41, VGA_LEGACY_SIZE);
	vga_init_memory(h.legacy);
	CHECK_EQ(h.legacy[TEXT], ' ');
	CHECK_EQ(h.legacy[TEXT + 1], 0x07);
	CHECK_EQ(h.legacy[TEXT + 0x7ffe], ' ');
	CHECK_EQ(h.legacy[TEXT + 0x7fff], 0x07);
	CHECK_EQ(h.legacy[0x4000], 0);	/* map 1 empty */
	CHECK_EQ(h.legacy[0x10000], 0x41);	/* the mono window is left alone */
	/* A blank screen: black but for the cursor at the top left. */
	render(&h, T_ON);
	unsigned lit = 0;
	for (unsigned y = 0; y < 400; y++)
		for (unsigned x = 0; x < 720; x++)
			if (pixel(&h, x, y) != BLACK) {
				lit++;
				CHECK(x < 9 && (y == 13 || y == 14));
			}
	CHECK_EQ(lit, 18);
	teardown(&h);
}

static void test_cursor(void)
{
	struct harness h;
	setup(&h);

	/* Row 1, column 5, on a space whose foreground is white. */
	put_cell(&h, 1, 5, ' ', 0x1f);
	wr_idx(&h, 0x3d4, 0x0e, 0x00);
	wr_idx(&h, 0x3d4, 0x0f, 85);
	render(&h, T_ON);
	unsigned x = 5 * 9, y = 16;
	for (unsigned d = 0; d < 9; d++) {
		CHECK_EQ(pixel(&h, x + d, y + 12), BLUE);
		CHECK_EQ(pixel(&h, x + d, y + 13), WHITE);
		CHECK_EQ(pixel(&h, x + d, y + 14), WHITE);
		CHECK_EQ(pixel(&h, x + d, y + 15), BLUE);
	}
	CHECK_EQ(pixel(&h, 0, 13), BLACK);	/* not at location 0 any more */
	/* Blinking: off 8 frames later. */
	CHECK(!vga_needs_render(&h.vga, h.legacy, T_ON));
	CHECK(vga_needs_render(&h.vga, h.legacy, T_CURSOR_OFF));
	render(&h, T_CURSOR_OFF);
	CHECK_EQ(pixel(&h, x, y + 13), BLUE);
	CHECK(!vga_needs_render(&h.vga, h.legacy, T_CURSOR_OFF));

	/* Start and end lines as vgacon sets them for a block cursor. */
	wr_idx(&h, 0x3d4, 0x0a, 0x00);
	wr_idx(&h, 0x3d4, 0x0b, 0x0f);
	render(&h, T_ON);
	CHECK_EQ(pixel(&h, x, y), WHITE);
	CHECK_EQ(pixel(&h, x + 8, y + 15), WHITE);
	/* Start after end: no cursor (vgacon's CM_ERASE sets 31, 30). */
	wr_idx(&h, 0x3d4, 0x0a, 31);
	wr_idx(&h, 0x3d4, 0x0b, 30);
	render(&h, T_ON);
	CHECK_EQ(pixel(&h, x, y + 13), BLUE);
	/* Bit 5 of the start register turns it off too, and then its
	 * blinking no longer asks for redraws. */
	wr_idx(&h, 0x3d4, 0x0a, 0x2d);
	wr_idx(&h, 0x3d4, 0x0b, 0x0e);
	render(&h, T_ON);
	CHECK_EQ(pixel(&h, x, y + 13), BLUE);
	CHECK(!vga_needs_render(&h.vga, h.legacy, T_CURSOR_OFF));
	/* The location counts from the start of video memory, not of the
	 * screen: with the start address one row on, it shows a row higher. */
	wr_idx(&h, 0x3d4, 0x0a, 0x0d);
	wr_idx(&h, 0x3d4, 0x0c, 0x00);
	wr_idx(&h, 0x3d4, 0x0d, 80);
	render(&h, T_ON);
	CHECK_EQ(pixel(&h, x, 13), WHITE);
	CHECK_EQ(pixel(&h, x, 16 + 13), BLACK);
	teardown(&h);
}

static void test_blink(void)
{
	struct harness h;
	setup(&h);
	wr_idx(&h, 0x3d4, 0x0a, 0x20);

	/* Blink enabled (the BIOS's mode control 0x0c): bit 7 blinks, the
	 * background has 3 bits. */
	put_cell(&h, 0, 0, 'A', 0x8f);
	put_cell(&h, 0, 1, 'A', 0xf0);
	render(&h, T_ON);
	CHECK_EQ(cell_mismatches(&h, 0, 0, vga_default_font['A'], WHITE, BLACK), 0);
	CHECK_EQ(cell_mismatches(&h, 0, 1, vga_default_font['A'], BLACK, GREY), 0);
	CHECK(vga_needs_render(&h.vga, h.legacy, T_CHARS_OFF));
	render(&h, T_CHARS_OFF);
	CHECK_EQ(cell_mismatches(&h, 0, 0, vga_default_font[' '], BLACK, BLACK), 0);
	CHECK_EQ(cell_mismatches(&h, 0, 1, vga_default_font[' '], BLACK, GREY), 0);

	/* Blink disabled: bit 7 is background intensity (8: dark grey),
	 * nothing blinks. */
	wr_attr(&h, 0x10, 0x04);
	render(&h, T_CHARS_OFF);
	CHECK_EQ(cell_mismatches(&h, 0, 0, vga_default_font['A'], WHITE, 0x555555), 0);
	CHECK_EQ(cell_mismatches(&h, 0, 1, vga_default_font['A'], BLACK, WHITE), 0);
	CHECK(!vga_needs_render(&h.vga, h.legacy, T_ON));
	teardown(&h);
}

static void test_blank_screen(void)
{
	struct harness h;
	setup(&h);
	wr_idx(&h, 0x3d4, 0x0a, 0x20);
	put_string(&h, 0, 0, "visible", 0x1f);

	render(&h, T_ON);
	CHECK_EQ(pixel(&h, 0, 0), BLUE);
	/* Screen off (sequencer 1 bit 5): black, the same size. */
	wr_idx(&h, 0x3c4, 1, 0x20);
	CHECK(vga_needs_render(&h.vga, h.legacy, T_ON));
	render(&h, T_ON);
	CHECK_EQ(h.width, 720);
	CHECK_EQ(h.height, 400);
	CHECK_EQ(cell_mismatches(&h, 0, 0, vga_default_font[' '], BLACK, BLACK), 0);
	/* Nothing in text memory matters while it is off. */
	put_cell(&h, 0, 0, 'X', 0x4f);
	CHECK(!vga_needs_render(&h.vga, h.legacy, T_ON));
	wr_idx(&h, 0x3c4, 1, 0x00);
	render(&h, T_ON);
	CHECK_EQ(cell_mismatches(&h, 0, 0, vga_default_font['X'], WHITE, 0xaa0000), 0);

	/* PAS clear (palette being loaded): black too. */
	in(&h, 0x3da);
	out(&h, 0x3c0, 0x00);
	CHECK(vga_needs_render(&h.vga, h.legacy, T_ON));
	render(&h, T_ON);
	CHECK_EQ(pixel(&h, 0, 0), BLACK);
	CHECK_EQ(h.vga.unsupported_renders, 0);
	out(&h, 0x3c0, 0x00);
	out(&h, 0x3c0, 0x20);
	render(&h, T_ON);
	CHECK_EQ(pixel(&h, 0, 0), 0xaa0000);

	/* A graphics mode is not drawn: black, counted, no text. */
	wr_idx(&h, 0x3ce, 6, 0x05);
	render(&h, T_ON);
	CHECK_EQ(h.vga.unsupported_renders, 1);
	CHECK_EQ(pixel(&h, 0, 0), BLACK);
	CHECK_EQ(h.width, 720);
	char buf[64];
	CHECK_EQ(vga_text_dump(&h.vga, h.legacy, buf, sizeof(buf)), 0);
	CHECK_EQ(buf[0], '\0');
	wr_idx(&h, 0x3ce, 6, 0x0e);
	wr_attr(&h, 0x10, 0x41);
	render(&h, T_ON);
	CHECK_EQ(h.vga.unsupported_renders, 2);
	teardown(&h);
}

static void test_needs_render(void)
{
	struct harness h;
	setup(&h);
	wr_idx(&h, 0x3d4, 0x0a, 0x20);

	CHECK(vga_needs_render(&h.vga, h.legacy, T_ON));
	render(&h, T_ON);
	CHECK(!vga_needs_render(&h.vga, h.legacy, T_ON));
	/* Nothing blinks: time alone changes nothing. */
	CHECK(!vga_needs_render(&h.vga, h.legacy, T_CHARS_OFF));
	/* A character, an attribute, anywhere on screen. */
	put_cell(&h, 24, 79, 'z', 0x00);
	CHECK(vga_needs_render(&h.vga, h.legacy, T_ON));
	render(&h, T_ON);
	CHECK(!vga_needs_render(&h.vga, h.legacy, T_ON));
	put_cell(&h, 24, 79, 'z', 0x01);
	CHECK(vga_needs_render(&h.vga, h.legacy, T_ON));
	render(&h, T_ON);
	/* Off screen (row 25 of the 32 KiB window) is not looked at. */
	put_cell(&h, 25, 0, 'z', 0x07);
	CHECK(!vga_needs_render(&h.vga, h.legacy, T_ON));
	/* Register writes: a new value is a change, the same one is not,
	 * and neither is reading status 1 or setting an index. */
	wr_idx(&h, 0x3d4, 0x0f, 0x01);
	CHECK(vga_needs_render(&h.vga, h.legacy, T_ON));
	render(&h, T_ON);
	wr_idx(&h, 0x3d4, 0x0f, 0x01);
	in(&h, 0x3da);
	out(&h, 0x3c4, 2);
	CHECK(!vga_needs_render(&h.vga, h.legacy, T_ON));
	/* DAC: a changed entry shows. */
	out(&h, 0x3c8, 0);
	out(&h, 0x3c9, 0);
	out(&h, 0x3c9, 0);
	out(&h, 0x3c9, 0);
	CHECK(!vga_needs_render(&h.vga, h.legacy, T_ON));
	out(&h, 0x3c8, 0);
	out(&h, 0x3c9, 1);
	out(&h, 0x3c9, 0);
	out(&h, 0x3c9, 0);
	CHECK(vga_needs_render(&h.vga, h.legacy, T_ON));
	render(&h, T_ON);
	CHECK_EQ(pixel(&h, 0, 0), 0x040000);
	/* Scrolling by the start address shows other cells. */
	wr_idx(&h, 0x3d4, 0x0d, 80);
	render(&h, T_ON);
	CHECK(!vga_needs_render(&h.vga, h.legacy, T_ON));
	put_cell(&h, 25, 0, 'y', 0x07);
	CHECK(vga_needs_render(&h.vga, h.legacy, T_ON));
	teardown(&h);
}

static void test_text_dump(void)
{
	struct harness h;
	setup(&h);
	vga_init_memory(h.legacy);

	put_string(&h, 0, 0, "Hello, VGA", 0x07);
	put_string(&h, 0, 20, "   ", 0x70);	/* trailing blanks, however coloured */
	put_cell(&h, 1, 2, 0xb3, 0x07);
	put_cell(&h, 1, 3, 0xc5, 0x07);
	put_cell(&h, 1, 4, 0x01, 0x07);
	put_cell(&h, 1, 5, 0x00, 0x07);	/* shown blank */
	put_cell(&h, 1, 6, 0x82, 0x07);
	put_string(&h, 24, 70, "bottom", 0x07);

	char buf[VGA_TEXT_DUMP_MAX], want[256];
	size_t len = vga_text_dump(&h.vga, h.legacy, buf, sizeof(buf));
	int n = snprintf(want, sizeof(want), "Hello, VGA\n  \u2502\u253c\u263a \u00e9\n");
	for (unsigned row = 2; row < 24; row++)
		want[n++] = '\n';
	snprintf(want + n, sizeof(want) - (size_t)n, "%70sbottom\n", "");
	CHECK_EQ(len, strlen(want));
	CHECK(strcmp(buf, want) == 0);
	if (strcmp(buf, want) != 0)
		fprintf(stderr, "dump:\n%s", buf);

	/* snprintf's contract: what fits, a NUL, the whole length. */
	char small[6];
	memset(small, 'x', sizeof(small));
	CHECK_EQ(vga_text_dump(&h.vga, h.legacy, small, sizeof(small)), len);
	CHECK(strcmp(small, "Hello") == 0);
	CHECK_EQ(vga_text_dump(&h.vga, h.legacy, NULL, 0), len);

	/* The dump follows the geometry: 8-line characters make 50 rows,
	 * and the start address scrolls. */
	wr_idx(&h, 0x3d4, 0x09, 0x47);
	wr_idx(&h, 0x3d4, 0x0d, 80);
	len = vga_text_dump(&h.vga, h.legacy, buf, sizeof(buf));
	unsigned lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += buf[i] == '\n';
	CHECK_EQ(lines, 50);
	CHECK(strncmp(buf, "  \u2502", 5) == 0);
	teardown(&h);
}

static void test_geometry(void)
{
	struct harness h;
	setup(&h);
	vga_init_memory(h.legacy);
	wr_idx(&h, 0x3d4, 0x0a, 0x20);
	wr_idx(&h, 0x3d4, 0x11, 0x0e);	/* unprotect 0-7 */

	/* 40 columns with the dot clock halved: every dot twice, 720 wide. */
	wr_idx(&h, 0x3d4, 0x01, 0x27);
	wr_idx(&h, 0x3d4, 0x13, 0x14);
	wr_idx(&h, 0x3c4, 0x01, 0x08);
	/* 40 cells a row now: row 1 starts at cell 40. */
	h.legacy[TEXT + 2 * 40] = 0xdb;
	h.legacy[TEXT + 2 * 40 + 1] = 0x0f;
	render(&h, T_ON);
	CHECK_EQ(h.width, 720);
	CHECK_EQ(h.height, 400);
	CHECK_EQ(pixel(&h, 0, 16), WHITE);
	CHECK_EQ(pixel(&h, 15, 16), WHITE);
	/* The 9th dot, twice (a line graphics character: the 8th again),
	 * then the empty cell 41. */
	CHECK_EQ(pixel(&h, 16, 16), WHITE);
	CHECK_EQ(pixel(&h, 17, 16), WHITE);
	CHECK_EQ(pixel(&h, 18, 16), BLACK);

	/* Scan doubling (CRTC 9 bit 7): 8-line characters drawn 16 lines
	 * high, 25 rows in 400 lines. */
	wr_idx(&h, 0x3d4, 0x09, 0xc7);
	char buf[VGA_TEXT_DUMP_MAX];
	size_t len = vga_text_dump(&h.vga, h.legacy, buf, sizeof(buf));
	unsigned lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += buf[i] == '\n';
	CHECK_EQ(lines, 25);
	render(&h, T_ON);
	CHECK_EQ(pixel(&h, 0, 16), WHITE);
	CHECK_EQ(pixel(&h, 0, 31), WHITE);

	/* Too wide to draw: the fallback size, black, counted. */
	wr_idx(&h, 0x3d4, 0x01, 0xff);
	render(&h, T_ON);
	CHECK_EQ(h.width, 720);
	CHECK_EQ(h.height, 400);
	CHECK_EQ(pixel(&h, 0, 16), BLACK);
	CHECK_EQ(h.vga.unsupported_renders, 1);
	teardown(&h);
}

static void test_ports_claimed(void)
{
	struct harness h;
	setup(&h);

	CHECK(bus_find(&h.bus, BUS_SPACE_PIO, 0x3b0) != NULL);
	CHECK(bus_find(&h.bus, BUS_SPACE_PIO, 0x3df) != NULL);
	CHECK(bus_find(&h.bus, BUS_SPACE_PIO, 0x3af) == NULL);
	CHECK(bus_find(&h.bus, BUS_SPACE_PIO, 0x3e0) == NULL);
	/* Ports with no register: all ones, writes counted. */
	CHECK_EQ(in(&h, 0x3b0), 0xff);
	CHECK_EQ(in(&h, 0x3df), 0xff);
	out(&h, 0x3cd, 1);
	CHECK_EQ(h.vga.unknown_writes, 1);
	teardown(&h);
}

int main(void)
{
	test_power_on();
	test_register_writes();
	test_crtc_protect();
	test_attribute_flip_flop();
	test_dac();
	test_default_font();
	test_cp437_table();
	test_render_default_font();
	test_render_loaded_font();
	test_font_before_load();
	test_init_memory();
	test_cursor();
	test_blink();
	test_blank_screen();
	test_needs_render();
	test_text_dump();
	test_geometry();
	test_ports_claimed();
	return check_report("test_vga");
}
