/* How much guest RAM the host can back: its RAM plus its swap, as
 * /proc/meminfo gives them (MemTotal + SwapTotal). Guest RAM is a lazily
 * filled memfd, so more could be asked for, but a guest that touched it
 * all would be killed by the host's OOM killer; btvm refuses such a size
 * up front instead. */
#ifndef BTVM_HOST_HOST_MEMORY_H
#define BTVM_HOST_HOST_MEMORY_H

#include <stdint.h>

/* MemTotal + SwapTotal in MiB from the text of /proc/meminfo, or 0 when
 * the text has no MemTotal line. */
uint64_t host_memory_mib_parse(const char *meminfo);

/* The same for this host; 0 when /proc/meminfo cannot be read (no limit
 * known: nothing is refused). */
uint64_t host_memory_mib(void);

#endif
