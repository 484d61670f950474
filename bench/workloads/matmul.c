/* Integer matrix multiply: C = A * B for 192x192 32-bit matrices, the
 * i-k-j loop order (row-wise streams through B and C), with A perturbed
 * between iterations. Checksum: a hash over a diagonal band of C. */
#include "bench.h"

#define N 192

static uint32_t a[N][N], b[N][N], c[N][N];

static void multiply(void)
{
	for (int i = 0; i < N; i++) {
		for (int j = 0; j < N; j++)
			c[i][j] = 0;
		for (int k = 0; k < N; k++) {
			uint32_t aik = a[i][k];
			for (int j = 0; j < N; j++)
				c[i][j] += aik * b[k][j];
		}
	}
}

static uint32_t matmul_run(uint32_t iters)
{
	uint32_t seed = 0x9e3779b9u;
	for (int i = 0; i < N; i++)
		for (int j = 0; j < N; j++) {
			a[i][j] = bench_rand(&seed) & 0xffff;
			b[i][j] = bench_rand(&seed) & 0xffff;
		}
	uint32_t h = 2166136261u;
	for (uint32_t k = 0; k < iters; k++) {
		multiply();
		for (int i = 0; i < N; i++) {
			h = bench_mix(h, c[i][i]);
			h = bench_mix(h, c[i][(i + k) % N]);
		}
		a[k % N][(k * 7) % N] ^= c[(k * 3) % N][k % N] & 0xffff;
	}
	return h;
}

const struct bench_workload bench_workload = { "matmul", 200, matmul_run };
