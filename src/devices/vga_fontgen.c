/* Build-time tool, not part of btvm: turns a Linux console font (PSF1 or
 * PSF2, gzipped or not) into the VGA model's default font, a C source
 * defining vga_default_font (devices/vga_font.h) with 256 characters in
 * code page 437 order, as a VGA ROM font has them.
 *
 *   vga_fontgen FONT.psf[.gz] OUTPUT.c
 *
 * Each CP437 character takes the glyph the font's Unicode table gives for
 * its code point (vga_cp437.c); a font without a table is taken to be in
 * CP437 order already. A code point the table lacks gets the font's
 * U+FFFD glyph, or a blank one, and is reported on stderr; character 0
 * is blank, as on a VGA. The font must be 8 dots wide and at most 32 lines
 * high. Every length in the file is checked before it is used: a short or
 * inconsistent file is an error, never a read past the end. The output
 * depends on nothing but the font's contents, so builds are reproducible. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "devices/vga_font.h"

/* Far beyond any console font (the largest are some 100 KiB): a bound on
 * what a bad path can make the tool read. */
#define MAX_FILE (4u << 20)
#define NO_GLYPH UINT32_MAX

struct font {
	const uint8_t *glyphs;
	uint32_t count, height, bytes_per_glyph;
	/* glyph_of[u] for each code point of the BMP the table maps, else
	 * NO_GLYPH; NULL when the font has no table */
	uint32_t *glyph_of;
};

static int fail(const char *path, const char *why)
{
	fprintf(stderr, "vga_fontgen: %s: %s\n", path, why);
	return 1;
}

static uint8_t *read_file(const char *path, size_t *size)
{
	gzFile f = gzopen(path, "rb");
	if (!f)
		return NULL;
	uint8_t *buf = malloc(MAX_FILE);
	size_t len = 0;
	int n = 0;
	while (buf && len < MAX_FILE && (n = gzread(f, buf + len, (unsigned)(MAX_FILE - len))) > 0)
		len += (size_t)n;
	/* n < 0 is a decompression error; a file filling the whole buffer
	 * is too large to be a console font. */
	if (gzclose(f) != Z_OK || n < 0 || len == MAX_FILE) {
		free(buf);
		return NULL;
	}
	*size = len;
	return buf;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The first glyph mapping a code point wins, as the kernel's table does. */
static void map_code(struct font *font, uint32_t code, uint32_t glyph)
{
	if (code <= 0xffff && font->glyph_of[code] == NO_GLYPH)
		font->glyph_of[code] = glyph;
}

/* PSF1's table: per glyph, 16-bit code points, then 0xfffe and sequences
 * (combinations, ignored), then 0xffff. */
static bool parse_psf1_table(struct font *font, const uint8_t *p, const uint8_t *end)
{
	for (uint32_t g = 0; g < font->count; g++) {
		bool in_sequence = false;
		for (;;) {
			if (end - p < 2)
				return false;
			uint32_t code = (uint32_t)p[0] | (uint32_t)p[1] << 8;
			p += 2;
			if (code == 0xffff)
				break;
			if (code == 0xfffe)
				in_sequence = true;
			else if (!in_sequence)
				map_code(font, code, g);
		}
	}
	return true;
}

/* One UTF-8 character at *p (before end); false if malformed. */
static bool utf8_next(const uint8_t **p, const uint8_t *end, uint32_t *code)
{
	uint8_t b = **p;
	unsigned extra = b < 0x80 ? 0 : (b & 0xe0) == 0xc0 ? 1 : (b & 0xf0) == 0xe0 ? 2 :
			 (b & 0xf8) == 0xf0 ? 3 : 4;
	if (extra == 4 || end - *p <= (ptrdiff_t)extra)
		return false;
	uint32_t c = extra ? b & (0x3fu >> extra) : b;
	for (unsigned i = 1; i <= extra; i++) {
		if (((*p)[i] & 0xc0) != 0x80)
			return false;
		c = c << 6 | ((*p)[i] & 0x3f);
	}
	*p += extra + 1;
	*code = c;
	return true;
}

/* PSF2's table: per glyph, UTF-8 characters, then 0xfe and sequences,
 * then 0xff. */
static bool parse_psf2_table(struct font *font, const uint8_t *p, const uint8_t *end)
{
	for (uint32_t g = 0; g < font->count; g++) {
		bool in_sequence = false;
		for (;;) {
			if (p >= end)
				return false;
			if (*p == 0xff) {
				p++;
				break;
			}
			if (*p == 0xfe) {
				in_sequence = true;
				p++;
				continue;
			}
			uint32_t code;
			if (!utf8_next(&p, end, &code))
				return false;
			if (!in_sequence)
				map_code(font, code, g);
		}
	}
	return true;
}

static const char *parse(struct font *font, const uint8_t *data, size_t size)
{
	const uint8_t *end = data + size;
	const uint8_t *table = NULL;
	bool psf2 = false;

	memset(font, 0, sizeof(*font));
	if (size >= 4 && data[0] == 0x36 && data[1] == 0x04) {
		uint8_t mode = data[2];
		font->count = mode & 0x01 ? 512 : 256;
		font->height = data[3];
		font->bytes_per_glyph = data[3];
		font->glyphs = data + 4;
		/* PSF1_MODEHASTAB or PSF1_MODEHASSEQ */
		if (mode & 0x06)
			table = font->glyphs;
	} else if (size >= 32 && get32(data) == 0x864ab572) {
		uint32_t header = get32(data + 8), flags = get32(data + 12);
		uint32_t width = get32(data + 28);
		font->count = get32(data + 16);
		font->bytes_per_glyph = get32(data + 20);
		font->height = get32(data + 24);
		if (width != 8)
			return "not 8 dots wide";
		if (header < 32 || header > size)
			return "bad PSF2 header size";
		font->glyphs = data + header;
		psf2 = true;
		if (flags & 0x01)
			table = font->glyphs;
	} else {
		return "not a PSF1 or PSF2 font";
	}
	if (font->height == 0 || font->height > VGA_FONT_STRIDE)
		return "height not within 1-32 lines";
	if (font->bytes_per_glyph != font->height)
		return "glyph size does not match 8 dots by its height";
	if (font->count == 0 || font->count > 0x10000)
		return "bad glyph count";
	uint64_t glyph_bytes = (uint64_t)font->count * font->bytes_per_glyph;
	if (glyph_bytes > (uint64_t)(end - font->glyphs))
		return "file shorter than its glyphs";
	if (!table)
		return font->count >= 256 ? NULL : "fewer than 256 glyphs and no Unicode table";

	table += glyph_bytes;
	font->glyph_of = malloc(0x10000 * sizeof(*font->glyph_of));
	if (!font->glyph_of)
		return strerror(ENOMEM);
	for (uint32_t u = 0; u <= 0xffff; u++)
		font->glyph_of[u] = NO_GLYPH;
	if (!(psf2 ? parse_psf2_table(font, table, end) : parse_psf1_table(font, table, end)))
		return "truncated or malformed Unicode table";
	return NULL;
}

/* The glyph number for CP437 character c, or NO_GLYPH for a blank. */
static uint32_t pick(const struct font *font, unsigned c, unsigned *missing)
{
	if (c == 0)
		return NO_GLYPH;
	if (!font->glyph_of)
		return c;
	uint32_t g = font->glyph_of[vga_cp437_unicode[c]];
	if (g != NO_GLYPH)
		return g;
	fprintf(stderr, "vga_fontgen: no glyph for CP437 0x%02x (U+%04X)\n", c,
		vga_cp437_unicode[c]);
	(*missing)++;
	return font->glyph_of[0xfffd];
}

static int write_output(const struct font *font, const char *font_path, const char *out_path)
{
	const char *base = strrchr(font_path, '/');
	base = base ? base + 1 : font_path;
	FILE *out = fopen(out_path, "w");
	if (!out)
		return fail(out_path, strerror(errno));

	unsigned missing = 0;
	fprintf(out, "/* Generated by vga_fontgen from %s: the VGA's default font in code\n"
		" * page 437 order (see devices/vga_font.h). Do not edit. */\n"
		"#include \"devices/vga_font.h\"\n\n"
		"const unsigned vga_default_font_height = %u;\n\n"
		"const uint8_t vga_default_font[256][VGA_FONT_STRIDE] = {\n",
		base, font->height);
	for (unsigned c = 0; c < 256; c++) {
		uint32_t g = pick(font, c, &missing);
		const uint8_t *rows = g == NO_GLYPH ? NULL : font->glyphs + (size_t)g * font->height;
		fprintf(out, "\t[0x%02x] = {", c);
		for (unsigned r = 0; r < font->height; r++)
			fprintf(out, "%s0x%02x", r ? ", " : " ", rows ? rows[r] : 0);
		fprintf(out, " },\n");
	}
	fprintf(out, "};\n");
	if (fclose(out) != 0)
		return fail(out_path, strerror(errno));
	if (missing)
		fprintf(stderr, "vga_fontgen: %s: %u of 255 CP437 characters have no glyph\n",
			font_path, missing);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: vga_fontgen FONT.psf[.gz] OUTPUT.c\n");
		return 2;
	}
	size_t size;
	uint8_t *data = read_file(argv[1], &size);
	if (!data)
		return fail(argv[1], "cannot read it (missing, unreadable, corrupt or over 4 MiB)");
	struct font font;
	const char *err = parse(&font, data, size);
	int status = err ? fail(argv[1], err) : write_output(&font, argv[1], argv[2]);
	if (status)
		remove(argv[2]);
	free(font.glyph_of);
	free(data);
	return status;
}
