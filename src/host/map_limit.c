/* Reads the host's mapping limit (vm.max_map_count). */
#include "host/map_limit.h"

#include <stdio.h>

long host_max_map_count(void)
{
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
	long n = 0;
	if (!f)
		return HOST_MAP_COUNT_DEFAULT;
	if (fscanf(f, "%ld", &n) != 1 || n <= 0)
		n = HOST_MAP_COUNT_DEFAULT;
	fclose(f);
	return n;
}
