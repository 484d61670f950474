/* Named snapshots of the machine with its disks (board_named.c): savevm
 * NAME freezes every read-write disk (host/disk_image.h's freeze: a new
 * overlay beside the image takes later writes) and writes the machine's
 * state beside the first; loadvm NAME puts each disk on a new overlay
 * over the file frozen at NAME and loads the state; delvm NAME forgets
 * it, deleting the files no other snapshot needs. Where they live and
 * the formats: docs/OVERLAY.md. All on the vCPU thread, the guest
 * stopped between two instructions (a monitor command), or before the
 * run. */
#ifndef BTVM_MACHINE_BOARD_NAMED_H
#define BTVM_MACHINE_BOARD_NAMED_H

#include <stddef.h>
#include <stdint.h>

#include "machine/board.h"

struct board_named_info {
	char name[65];
	int64_t date;		/* seconds since the epoch */
	uint64_t vmsize;	/* the machine state's file, bytes */
	unsigned disks;		/* disks frozen with it */
};

/* Each returns 0, or a negative errno with one line in err. */
int board_named_save(struct board *board, const char *name, char *err, size_t errlen);
/* The snapshots (at most max) of the machine's first read-write disk. */
int board_named_list(struct board *board, struct board_named_info *out, unsigned max,
		     unsigned *n, char *err, size_t errlen);
int board_named_delete(struct board *board, const char *name, char *err, size_t errlen);
/* A running machine goes back to NAME, memory and disks. A failure
 * after the disks were switched ends the machine (status 1): its state
 * is then neither the old one nor the snapshot's. */
int board_named_load(struct board *board, const char *name, char *err, size_t errlen);

/* Before the board exists (btvm run --loadvm NAME): the machine state
 * file of NAME beside the first read-write disk cfg gives. */
int board_named_find(const struct board_config *cfg, const char *name, char *path,
		     size_t pathlen, char *err, size_t errlen);
/* The board built from that state: each disk switched to NAME's file,
 * before board_snapshot_restore. */
int board_named_switch_disks(struct board *board, const char *name, char *err, size_t errlen);

#endif
