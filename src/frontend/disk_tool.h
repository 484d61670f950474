/* btvm img: a disk image's overlays and named snapshots from the command
 * line (disk_tool.c): info (the chain checked, the snapshots listed) and
 * commit (the overlays written back into the raw image). */
#ifndef BTVM_FRONTEND_DISK_TOOL_H
#define BTVM_FRONTEND_DISK_TOOL_H

/* argv[0] is "img". Returns the exit status: 0, 1 for a refused or
 * failed operation (one line on stderr), 2 for bad usage. */
int disk_tool_main(int argc, char **argv);

#endif
