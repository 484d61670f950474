/* host/host_memory.c: MemTotal + SwapTotal from /proc/meminfo's text, in
 * MiB; a text without MemTotal gives 0 (no limit known), a missing
 * SwapTotal counts as none, and similar names (SwapFree, MemTotalX) are
 * not taken for them. */
#include "check.h"
#include "host/host_memory.h"

int main(void)
{
	CHECK_EQ(host_memory_mib_parse("MemTotal:        8388608 kB\n"
				       "MemFree:         1000000 kB\n"
				       "SwapTotal:       2097152 kB\n"
				       "SwapFree:        2097152 kB\n"),
		 10240);
	CHECK_EQ(host_memory_mib_parse("MemFree:  1 kB\nMemTotal: 4194304 kB\n"), 4096);
	CHECK_EQ(host_memory_mib_parse("MemTotalX: 99999999 kB\nMemTotal: 2048 kB\nSwapFree: 999999 kB\n"),
		 2);
	CHECK_EQ(host_memory_mib_parse("SwapTotal: 1048576 kB\n"), 0);
	CHECK_EQ(host_memory_mib_parse(""), 0);
	CHECK(host_memory_mib() > 0);   /* this host's, from /proc/meminfo */
	return check_report("test_host_memory");
}
