/* Sieve of Eratosthenes: the primes below 2^22, found again each
 * iteration with a limit that moves a little so no two passes are alike.
 * Checksum: the count and a hash of every 64th prime of each pass. */
#include "bench.h"

#define SIEVE_MAX (1u << 22)

static uint8_t composite[SIEVE_MAX];

static uint32_t sieve_pass(uint32_t limit, uint32_t h)
{
	memset(composite, 0, limit);
	uint32_t count = 0;
	for (uint32_t i = 2; i < limit; i++) {
		if (composite[i])
			continue;
		if ((count++ & 63) == 0)
			h = bench_mix(h, i);
		if (i <= (limit - 1) / i)
			for (uint32_t j = i * i; j < limit; j += i)
				composite[j] = 1;
	}
	return bench_mix(h, count);
}

static uint32_t sieve_run(uint32_t iters)
{
	uint32_t h = 2166136261u;
	for (uint32_t k = 0; k < iters; k++)
		h = sieve_pass(SIEVE_MAX - (k & 1023), h);
	return h;
}

const struct bench_workload bench_workload = { "sieve", 60, sieve_run };
