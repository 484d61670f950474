/* The host's limit on a process's memory mappings (VMAs), which bounds how
 * much of the guest the shadow windows can keep mapped page by page. */
#ifndef BTVM_HOST_MAP_LIMIT_H
#define BTVM_HOST_MAP_LIMIT_H

/* Linux's default vm.max_map_count, used when the sysctl cannot be read. */
#define HOST_MAP_COUNT_DEFAULT 65530L

/* vm.max_map_count as /proc/sys/vm/max_map_count says, else the default. */
long host_max_map_count(void);

#endif
