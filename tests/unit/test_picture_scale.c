/* The window's scaling arithmetic (host/picture_scale.c): when the
 * picture is scaled by whole numbers, when and by how much it is reduced
 * before filtering, and that the reduction lets every row and column of
 * the picture count (a one-pixel line anywhere still shows). */
#include <stdlib.h>

#include "check.h"
#include "host/picture_scale.h"

static void test_integer_scale(void)
{
	/* 720x400 text mode. */
	CHECK(picture_integer_scale(720, 400, 720, 400));	/* 1:1 */
	CHECK(picture_integer_scale(720, 400, 720, 900));	/* 1:1, black below */
	CHECK(picture_integer_scale(720, 400, 1000, 400));	/* 1:1, black beside */
	CHECK(!picture_integer_scale(720, 400, 1152, 640));	/* 1.6: filtered */
	CHECK(!picture_integer_scale(720, 400, 504, 280));	/* 0.7: filtered */
	CHECK(picture_integer_scale(720, 400, 1440, 800));	/* 2 */
	CHECK(picture_integer_scale(720, 400, 1920, 1080));	/* 2.67: 2, black around */
	CHECK(!picture_integer_scale(1024, 768, 1920, 1080));	/* 1.41 */
	CHECK(picture_integer_scale(1920, 1080, 1920, 1080));
	CHECK(!picture_integer_scale(0, 400, 720, 400));
	CHECK(!picture_integer_scale(720, 400, 0, 0));
}

static void test_shrink_factor(void)
{
	CHECK_EQ(picture_shrink_factor(720, 400, 720, 400), 1);
	CHECK_EQ(picture_shrink_factor(720, 400, 504, 280), 1);	/* 0.7 */
	CHECK_EQ(picture_shrink_factor(720, 400, 360, 200), 2);	/* 0.5: 2 leaves 1 */
	CHECK_EQ(picture_shrink_factor(720, 400, 361, 201), 1);	/* just over half */
	CHECK_EQ(picture_shrink_factor(720, 400, 324, 180), 2);	/* 0.45: 2 leaves 0.9 */
	CHECK_EQ(picture_shrink_factor(720, 400, 720, 199), 2);	/* the narrower side decides */
	CHECK_EQ(picture_shrink_factor(1920, 1080, 500, 500), 3);	/* 0.26: 3 leaves 0.78 */
	CHECK_EQ(picture_shrink_factor(2560, 1600, 1, 1), 2560);
	CHECK_EQ(picture_shrink_factor(720, 400, 0, 0), 1);
	/* What is left for the filter is between one half and one. */
	for (unsigned out = 1; out <= 720; out++) {
		unsigned n = picture_shrink_factor(720, 400, out, 400);
		double left = (double)out / 720 * n;
		CHECK(left <= 1.0 && (left >= 0.5 || n == 1));
	}
}

/* A one-pixel white line on black, each row and column in turn: reduced
 * by 2 and 3 it still shows in the block that holds it, at 1/n of white,
 * and nowhere else. */
static void test_box_reduce_lines(void)
{
	enum { W = 13, H = 10 };
	uint32_t in[W * H], out[W * H];
	for (unsigned n = 2; n <= 3; n++) {
		unsigned ow = (W + n - 1) / n, oh = (H + n - 1) / n;
		for (unsigned row = 0; row < H; row++) {
			for (unsigned i = 0; i < W * H; i++)
				in[i] = i / W == row ? 0xffffffu : 0;
			picture_box_reduce(out, in, W, H, n);
			for (unsigned oy = 0; oy < oh; oy++) {
				/* Blocks at the bottom edge hold fewer rows. */
				unsigned rows = oy * n + n <= H ? n : H - oy * n;
				unsigned want = oy == row / n ? (255 + rows / 2) / rows : 0;
				for (unsigned ox = 0; ox < ow; ox++)
					CHECK_EQ(out[oy * ow + ox], want << 16 | want << 8 | want);
			}
		}
		for (unsigned col = 0; col < W; col++) {
			for (unsigned i = 0; i < W * H; i++)
				in[i] = i % W == col ? 0x00ff00u : 0;
			picture_box_reduce(out, in, W, H, n);
			for (unsigned ox = 0; ox < ow; ox++) {
				unsigned cols = ox * n + n <= W ? n : W - ox * n;
				unsigned want = ox == col / n ? (255 + cols / 2) / cols : 0;
				CHECK_EQ(out[ox], want << 8);
			}
		}
	}
}

/* Channels apart, rounded to nearest, X cleared. */
static void test_box_reduce_channels(void)
{
	uint32_t in[4] = { 0xff102030u, 0x00112233u, 0x00000001u, 0x00ffffffu };
	uint32_t out[1];
	picture_box_reduce(out, in, 2, 2, 2);
	/* red (0x10 + 0x11 + 0 + 0xff) / 4 = 288 / 4 = 72 = 0x48, green
	 * (0x20 + 0x22 + 0 + 0xff) / 4 = 321 / 4 = 80.25, to 0x50, blue
	 * (0x30 + 0x33 + 1 + 0xff) / 4 = 355 / 4 = 88.75, to 0x59. */
	CHECK_EQ(out[0], 0x485059u);
}

int main(void)
{
	test_integer_scale();
	test_shrink_factor();
	test_box_reduce_lines();
	test_box_reduce_channels();
	return check_report("test_picture_scale");
}
