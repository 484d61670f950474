/* Reads the host's RAM and swap sizes (/proc/meminfo) for the -m check. */
#include "host/host_memory.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* The kB value of the line "name: N kB" in meminfo, or 0. */
static uint64_t field_kib(const char *meminfo, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = meminfo; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		uint64_t kib;
		if (!strncmp(p, name, n) && p[n] == ':' && sscanf(p + n + 1, "%" SCNu64, &kib) == 1)
			return kib;
	}
	return 0;
}

uint64_t host_memory_mib_parse(const char *meminfo)
{
	uint64_t mem = field_kib(meminfo, "MemTotal");
	if (!mem)
		return 0;
	return (mem + field_kib(meminfo, "SwapTotal")) / 1024;
}

uint64_t host_memory_mib(void)
{
	char text[8192];
	FILE *f = fopen("/proc/meminfo", "r");
	if (!f)
		return 0;
	size_t len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[len] = '\0';
	return host_memory_mib_parse(text);
}
