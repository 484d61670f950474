/* The native runtime: a 32-bit Linux program that runs the same workload
 * object as the guest and prints the same result line.
 *
 *	bench-<name> [ITERS]
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

void rt_putchar(char c)
{
	putchar(c);
}

int main(int argc, char **argv)
{
	uint32_t iters = bench_workload.default_iters;
	if (argc > 2 || (argc == 2 && !(iters = rt_parse_u32(argv[1])))) {
		fprintf(stderr, "usage: %s [ITERS]   (ITERS a positive number)\n", argv[0]);
		return 2;
	}
	uint32_t sum = bench_workload.run(iters);
	bench_report(&bench_workload, iters, sum);
	return fflush(stdout) ? 1 : 0;
}
