/* Mandelbrot set, double precision on the x87: escape-time iteration over
 * a 400x300 grid (up to 1000 steps a point) that zooms a little each
 * pass. Checksum: the iteration counts, hashed row by row. */
#include "bench.h"

#define W 400
#define H 300
#define MAX_STEPS 1000

static uint32_t escape(double cr, double ci)
{
	double zr = 0, zi = 0;
	uint32_t n = 0;
	while (n < MAX_STEPS) {
		double zr2 = zr * zr, zi2 = zi * zi;
		if (zr2 + zi2 > 4.0)
			break;
		zi = 2 * zr * zi + ci;
		zr = zr2 - zi2 + cr;
		n++;
	}
	return n;
}

static uint32_t mandel_run(uint32_t iters)
{
	uint32_t h = 2166136261u;
	double scale = 3.0 / W;
	for (uint32_t k = 0; k < iters; k++) {
		double cx = -0.743643887037151, cy = 0.131825904205330;
		double x0 = cx - scale * W / 2, y0 = cy - scale * H / 2;
		for (int y = 0; y < H; y++) {
			uint32_t row = 0;
			for (int x = 0; x < W; x++)
				row = row * 31 + escape(x0 + x * scale, y0 + y * scale);
			h = bench_mix(h, row);
		}
		scale *= 0.9;
	}
	return h;
}

const struct bench_workload bench_workload = { "mandel", 6, mandel_run };
