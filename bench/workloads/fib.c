/* Recursive Fibonacci: call-heavy code with a deep, well-predicted stack.
 * Each iteration computes fib(27..30) the naive exponential way. */
#include "bench.h"

static uint32_t fib(uint32_t n)
{
	return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static uint32_t fib_run(uint32_t iters)
{
	uint32_t h = 2166136261u;
	for (uint32_t k = 0; k < iters; k++)
		h = bench_mix(h, fib(27 + (k & 3)));
	return h;
}

const struct bench_workload bench_workload = { "fib", 1000, fib_run };
