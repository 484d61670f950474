/* The native runtime: a 32-bit Linux program that runs the same workload
 * object as the guest and prints the same result line.
 *
 *	bench-<name> [ITERS] [pad=N]
 *
 * pad=N (0-4095 bytes) moves the stack down before the run
 * (bench_run_padded), as "pad=N" on the guest's command line does.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

void rt_putchar(char c)
{
	putchar(c);
}

int main(int argc, char **argv)
{
	uint32_t iters = bench_workload.default_iters, pad = 0;
	bool ok = true, have_iters = false, have_pad = false;
	for (int i = 1; ok && i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "pad=", 4) == 0 && !have_pad) {
			pad = rt_parse_u32(a + 4);
			ok = (pad != 0 || strcmp(a + 4, "0") == 0) && pad < 4096;
			have_pad = true;
		} else if (!have_iters) {
			ok = (iters = rt_parse_u32(a)) != 0;
			have_iters = true;
		} else {
			ok = false;
		}
	}
	if (!ok) {
		fprintf(stderr, "usage: %s [ITERS] [pad=N]   (ITERS a positive number, N 0-4095)\n", argv[0]);
		return 2;
	}
	uint32_t sum = bench_run_padded(&bench_workload, iters, pad);
	bench_report(&bench_workload, iters, sum);
	return fflush(stdout) ? 1 : 0;
}
