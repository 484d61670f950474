/* The EDID base block (edid.h). Field offsets and encodings are those of
 * VESA E-EDID standard release A revision 2 (EDID 1.4), section 3. */
#include "devices/edid.h"

#include <string.h>

/* CVT reduced blanking (VESA CVT 1.1): a fixed 160-pixel horizontal
 * blank, 48 front porch and 32 sync; vertical front porch 3, sync 5 (the
 * value for an aspect ratio CVT does not name), and a blank of at least
 * 460 us, which at 60 Hz is about 2.8% of the frame's lines. */
#define H_BLANK 160u
#define H_FRONT 48u
#define H_SYNC 32u
#define V_FRONT 3u
#define V_SYNC 5u
#define V_BLANK_MIN 23u /* 3 + 5 + the back porch's minimum of 6, rounded up as CVT-RB's 1080p has */
#define REFRESH_HZ 60u
#define DPI 96u

static unsigned clamp(unsigned v, unsigned lo, unsigned hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* A chromaticity coordinate as EDID's 10-bit binary fraction, from
 * thousandths. */
static unsigned chroma(unsigned thousandths)
{
	return (thousandths * 1024u + 500u) / 1000u;
}

static void detailed_timing(uint8_t *d, unsigned width, unsigned height)
{
	unsigned v_blank = (height * 28u + 999u) / 1000u;
	if (v_blank < V_BLANK_MIN)
		v_blank = V_BLANK_MIN;
	unsigned h_total = width + H_BLANK, v_total = height + v_blank;
	/* In units of 10 kHz: at most (2560 + 160) * (1600 + 45) * 60 /
	 * 10^4, about 26,800, well within the field's 16 bits. */
	unsigned clock = h_total * v_total * REFRESH_HZ / 10000u;
	unsigned h_mm = width * 254u / (DPI * 10u), v_mm = height * 254u / (DPI * 10u);

	d[0] = (uint8_t)clock;
	d[1] = (uint8_t)(clock >> 8);
	d[2] = (uint8_t)width;
	d[3] = (uint8_t)H_BLANK;
	d[4] = (uint8_t)(((width >> 8) & 0xfu) << 4 | ((H_BLANK >> 8) & 0xfu));
	d[5] = (uint8_t)height;
	d[6] = (uint8_t)v_blank;
	d[7] = (uint8_t)(((height >> 8) & 0xfu) << 4 | ((v_blank >> 8) & 0xfu));
	d[8] = (uint8_t)H_FRONT;
	d[9] = (uint8_t)H_SYNC;
	d[10] = (uint8_t)((V_FRONT & 0xfu) << 4 | (V_SYNC & 0xfu));
	d[11] = (uint8_t)(((H_FRONT >> 8) & 3u) << 6 | ((H_SYNC >> 8) & 3u) << 4 |
			  ((V_FRONT >> 4) & 3u) << 2 | ((V_SYNC >> 4) & 3u));
	d[12] = (uint8_t)h_mm;
	d[13] = (uint8_t)v_mm;
	d[14] = (uint8_t)(((h_mm >> 8) & 0xfu) << 4 | ((v_mm >> 8) & 0xfu));
	d[15] = 0; /* no borders */
	d[16] = 0;
	/* Digital separate sync, +hsync -vsync (CVT-RB's polarities). */
	d[17] = 0x18u | 0x02u;
}

/* A display descriptor (not a timing): its tag and 13 bytes of text,
 * ended by a line feed and padded with spaces as the standard asks. */
static void text_descriptor(uint8_t *d, uint8_t tag, const char *text)
{
	size_t n = strlen(text);
	memset(d, 0, 5);
	d[3] = tag;
	memset(d + 5, ' ', 13);
	memcpy(d + 5, text, n);
	if (n < 13)
		d[5 + n] = '\n';
}

void edid_build(uint8_t out[EDID_BLOCK_SIZE], unsigned width, unsigned height)
{
	static const uint8_t header[8] = { 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00 };
	width = clamp(width, EDID_MIN_WIDTH, EDID_MAX_WIDTH) & ~7u;
	height = clamp(height, EDID_MIN_HEIGHT, EDID_MAX_HEIGHT);

	memset(out, 0, EDID_BLOCK_SIZE);
	memcpy(out, header, sizeof(header));
	/* "BTV": three letters of five bits each (A = 1), big endian. */
	unsigned id = ('B' - '@') << 10 | ('T' - '@') << 5 | ('V' - '@');
	out[8] = (uint8_t)(id >> 8);
	out[9] = (uint8_t)id;
	out[10] = 0x01;	/* product code 1, little endian */
	out[16] = 0xff;	/* no week: byte 17 is then the model year */
	out[17] = 2024 - 1990;
	out[18] = 1;	/* EDID 1.4 */
	out[19] = 4;
	out[20] = 0x80u | 0x20u; /* digital input, 8 bits per primary, interface not named */
	out[21] = (uint8_t)((width * 254u / (DPI * 10u) + 5u) / 10u);	/* cm */
	out[22] = (uint8_t)((height * 254u / (DPI * 10u) + 5u) / 10u);
	out[23] = 120;	/* gamma 2.2: (2.2 - 1) * 100 */
	/* sRGB is the default colour space, the preferred timing is the
	 * native mode (detailed timing 1), RGB 4:4:4 only. */
	out[24] = 0x04u | 0x02u;
	/* sRGB's primaries and D65 white (IEC 61966-2-1). */
	unsigned rx = chroma(640), ry = chroma(330), gx = chroma(300), gy = chroma(600);
	unsigned bx = chroma(150), by = chroma(60), wx = chroma(313), wy = chroma(329);
	out[25] = (uint8_t)((rx & 3u) << 6 | (ry & 3u) << 4 | (gx & 3u) << 2 | (gy & 3u));
	out[26] = (uint8_t)((bx & 3u) << 6 | (by & 3u) << 4 | (wx & 3u) << 2 | (wy & 3u));
	out[27] = (uint8_t)(rx >> 2);
	out[28] = (uint8_t)(ry >> 2);
	out[29] = (uint8_t)(gx >> 2);
	out[30] = (uint8_t)(gy >> 2);
	out[31] = (uint8_t)(bx >> 2);
	out[32] = (uint8_t)(by >> 2);
	out[33] = (uint8_t)(wx >> 2);
	out[34] = (uint8_t)(wy >> 2);
	/* Established timings: 640x480 and 800x600 (byte 35 bits 5 and 0)
	 * and 1024x768 (byte 36 bit 3), all at 60 Hz. */
	out[35] = 0x21;
	out[36] = 0x08;
	out[37] = 0x00;
	/* No standard timings: each unused slot is 01 01. */
	for (unsigned i = 38; i < 54; i++)
		out[i] = 0x01;
	detailed_timing(out + 54, width, height);
	text_descriptor(out + 72, 0xfc, "btvm");
	/* Range limits: 50-125 Hz vertical, 30-255 kHz horizontal, a pixel
	 * clock up to 300 MHz (10 MHz units), no timing formula. */
	uint8_t *r = out + 90;
	r[3] = 0xfd;
	r[5] = 50;
	r[6] = 125;
	r[7] = 30;
	r[8] = 255;
	r[9] = 30;
	r[10] = 0x01;
	r[11] = '\n';
	memset(r + 12, ' ', 6);
	out[108 + 3] = 0x10; /* a dummy descriptor */
	out[126] = 0;        /* no extension blocks */
	uint8_t sum = 0;
	for (unsigned i = 0; i < EDID_BLOCK_SIZE - 1; i++)
		sum = (uint8_t)(sum + out[i]);
	out[127] = (uint8_t)(0x100u - sum);
}
