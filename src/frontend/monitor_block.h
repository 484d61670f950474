/* The monitor's block-device commands (monitor_block.c): the IDE drives
 * listed, and the CD-ROM's medium changed or ejected, in both of the
 * monitor's languages. They run where every monitor command runs: on the
 * vCPU thread with the guest stopped, through machine/control.h. */
#ifndef BTVM_FRONTEND_MONITOR_BLOCK_H
#define BTVM_FRONTEND_MONITOR_BLOCK_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

struct board;

/* A human command, argv[0] its name: false when it is none of these
 * ("info block", "change", "eject"); else its answer (or an "error: ..."
 * line) went to out and *status is 0 or -1. */
bool monitor_block_human(struct board *board, int argc, char **argv, FILE *out, int *status);
/* A JSON command: NULL when it is none of these (query-block,
 * blockdev-change-medium, eject); else the answer, {"return": ...} or
 * {"error": ...}. args may be NULL. */
json_t *monitor_block_json(struct board *board, const char *cmd, json_t *args);
/* The help lines of the human commands. */
void monitor_block_help(FILE *out);

#endif
