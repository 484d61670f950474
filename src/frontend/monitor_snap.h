/* The monitor's named snapshots (monitor_snap.c): savevm NAME, loadvm
 * NAME, delvm NAME and info snapshots, in both of the monitor's
 * languages, through machine/board_named.h. savevm with a path (a '/'
 * in it) stays the machine alone to that file (monitor.c). */
#ifndef BTVM_FRONTEND_MONITOR_SNAP_H
#define BTVM_FRONTEND_MONITOR_SNAP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

struct board;

/* A human command, argv[0] its name: false when it is none of these;
 * else its answer (or an "error: ..." line) went to out and *status is 0
 * or -1. */
bool monitor_snap_human(struct board *board, int argc, char **argv, FILE *out, int *status);
/* A JSON command: NULL when it is none of these (savevm with "name",
 * loadvm, delvm, query-snapshots); else the answer. args may be NULL. */
json_t *monitor_snap_json(struct board *board, const char *cmd, json_t *args);
void monitor_snap_help(FILE *out);

#endif
