/* Quicksort of 2^19 pseudo-random 32-bit keys: median-of-three
 * partitioning, recursion on the smaller side, insertion sort below 16
 * elements. The result is checked for order; the checksum hashes a sample
 * of it (and is spoiled if the order check fails). */
#include "bench.h"

#define COUNT (1u << 19)

static uint32_t keys[COUNT];

static void insertion_sort(uint32_t *v, int n)
{
	for (int i = 1; i < n; i++) {
		uint32_t x = v[i];
		int j = i - 1;
		while (j >= 0 && v[j] > x) {
			v[j + 1] = v[j];
			j--;
		}
		v[j + 1] = x;
	}
}

static inline void swap(uint32_t *x, uint32_t *y)
{
	uint32_t t = *x;
	*x = *y;
	*y = t;
}

static void quicksort(uint32_t *v, int n)
{
	while (n > 16) {
		int mid = n / 2;
		if (v[mid] < v[0])
			swap(&v[mid], &v[0]);
		if (v[n - 1] < v[0])
			swap(&v[n - 1], &v[0]);
		if (v[n - 1] < v[mid])
			swap(&v[n - 1], &v[mid]);
		uint32_t pivot = v[mid];
		int i = 0, j = n - 1;
		for (;;) {
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i >= j)
				break;
			swap(&v[i], &v[j]);
			i++;
			j--;
		}
		int left = j + 1;    /* v[0..j] <= pivot <= v[j+1..n-1] */
		if (left < n - left) {
			quicksort(v, left);
			v += left;
			n -= left;
		} else {
			quicksort(v + left, n - left);
			n = left;
		}
	}
	insertion_sort(v, n);
}

static uint32_t qsort_run(uint32_t iters)
{
	uint32_t h = 2166136261u;
	uint32_t seed = 0x2545f491u;
	for (uint32_t k = 0; k < iters; k++) {
		/* Every fourth pass has many duplicate keys. */
		uint32_t mask = (k & 3) == 3 ? 0x3ff : 0xffffffffu;
		for (uint32_t i = 0; i < COUNT; i++)
			keys[i] = bench_rand(&seed) & mask;
		quicksort(keys, (int)COUNT);
		uint32_t disorder = 0;
		for (uint32_t i = 1; i < COUNT; i++)
			disorder += keys[i - 1] > keys[i];
		h = bench_mix(h, disorder * 0x8badf00du);
		for (uint32_t i = 0; i < COUNT; i += 997)
			h = bench_mix(h, keys[i]);
	}
	return h;
}

const struct bench_workload bench_workload = { "qsort", 24, qsort_run };
