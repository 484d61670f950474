/* The window's scaling arithmetic (picture_scale.h). */
#include "host/picture_scale.h"

#include <stddef.h>

bool picture_integer_scale(unsigned width, unsigned height, unsigned out_w, unsigned out_h)
{
	if (!width || !height || !out_w || !out_h)
		return false;
	unsigned k_w = out_w / width, k_h = out_h / height;
	unsigned k = k_w < k_h ? k_w : k_h;
	return k >= 2 || (k == 1 && (out_w == width || out_h == height));
}

unsigned picture_shrink_factor(unsigned width, unsigned height, unsigned out_w, unsigned out_h)
{
	if (!width || !height || !out_w || !out_h)
		return 1;
	/* The fit scale s is the smaller of out/size each way, so 1/s is the
	 * larger of size/out, and n = floor(1/s): then n * s lies in
	 * (1 - s, 1], at least one half when s is at most one half. */
	unsigned n_w = width / out_w, n_h = height / out_h;
	unsigned n = n_w > n_h ? n_w : n_h;
	return n < 2 ? 1 : n;
}

void picture_box_reduce(uint32_t *out, const uint32_t *in, unsigned width, unsigned height,
			unsigned n)
{
	unsigned out_w = (width + n - 1) / n, out_h = (height + n - 1) / n;
	for (unsigned oy = 0; oy < out_h; oy++) {
		unsigned y_end = oy * n + n < height ? oy * n + n : height;
		for (unsigned ox = 0; ox < out_w; ox++) {
			unsigned x_end = ox * n + n < width ? ox * n + n : width;
			uint32_t r = 0, g = 0, b = 0, count = 0;
			for (unsigned y = oy * n; y < y_end; y++) {
				for (unsigned x = ox * n; x < x_end; x++) {
					uint32_t p = in[(size_t)y * width + x];
					r += (p >> 16) & 0xffu;
					g += (p >> 8) & 0xffu;
					b += p & 0xffu;
					count++;
				}
			}
			out[(size_t)oy * out_w + ox] = (r + count / 2) / count << 16 |
						       (g + count / 2) / count << 8 |
						       (b + count / 2) / count;
		}
	}
}
