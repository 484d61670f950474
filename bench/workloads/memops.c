/* memcpy/memset-heavy: copies and fills of sizes from 8 bytes to 256 KiB
 * at varying alignments between two 1 MiB buffers, through the REP
 * MOVSD/STOSD routines of rt/lib.c (and whatever gcc inlines for the
 * fixed-size copies). Checksum: a hash of sampled words after each round. */
#include "bench.h"

#define BUF_LEN (1u << 20)

static uint8_t src[BUF_LEN], dst[BUF_LEN];

struct record {
	uint32_t id;
	uint32_t payload[11];
};

static struct record records[4096];

static uint32_t sample(const uint8_t *p, uint32_t h)
{
	for (uint32_t i = 0; i < BUF_LEN; i += 4093) {
		uint32_t w;
		memcpy(&w, p + (i & ~3u), 4);
		h = bench_mix(h, w);
	}
	return h;
}

static uint32_t memops_run(uint32_t iters)
{
	static const uint32_t sizes[] = { 8, 13, 64, 100, 256, 1024, 4096, 4099, 65536, 262144 };
	uint32_t seed = 0xdeadbeefu;
	for (uint32_t i = 0; i < BUF_LEN; i += 4) {
		uint32_t r = bench_rand(&seed);
		memcpy(src + i, &r, 4);
	}
	uint32_t h = 2166136261u;
	for (uint32_t k = 0; k < iters; k++) {
		for (uint32_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			uint32_t len = sizes[s];
			uint32_t reps = (4u << 20) / len;    /* about 4 MiB per size */
			uint32_t off_s = (k + s) & 7, off_d = (k * 3 + s) & 7;
			for (uint32_t r = 0; r < reps; r++) {
				uint32_t at = (r * len * 5) % (BUF_LEN - len - 8);
				memcpy(dst + at + off_d, src + (at * 3 + off_s) % (BUF_LEN - len - 8), len);
				if ((r & 3) == 0)
					memset(dst + ((at * 7 + off_s) % (BUF_LEN - len - 8)), (int)(r + k), len / 2 + 1);
			}
		}
		/* Structure copies, which the compiler expands itself. */
		for (uint32_t r = 0; r < 4096; r++) {
			struct record t = records[(r * 17 + k) & 4095];
			t.id += r;
			records[r] = t;
		}
		h = sample(dst, h);
		h = bench_mix(h, records[k & 4095].id ^ records[(k * 5) & 4095].payload[k % 11]);
		/* Feed part of the result back so rounds differ. */
		memcpy(src + (k * 4096) % BUF_LEN, dst + (k * 8192) % BUF_LEN, 4096);
	}
	return h;
}

const struct bench_workload bench_workload = { "memops", 40, memops_run };
