/* Snapshots of the whole machine (board_snapshot.c): save on the vCPU
 * thread at an instruction boundary, restore into a board built from the
 * snapshot's own configuration. The file format is host/snapfile.h's. */
#ifndef BTVM_BOARD_SNAPSHOT_H
#define BTVM_BOARD_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>

#include "machine/board.h"

/* The machine configuration a snapshot was taken with, and the strings
 * its board_config points into. */
struct board_snapshot_config {
	struct board_config cfg;  /* machine fields only; the rest zero */
	char kernel[4096], initrd[4096], cmdline[4096];
	char disks[BOARD_MAX_DISKS][4096];
	char bios[4096];   /* the firmware's ROM image, if it booted through one */
	char ide[BOARD_IDE_SLOTS][4096], kernel_disk[4096];
	bool has_initrd, has_cmdline;
};

/* Writes the machine to path (host/outfile.h: a private file renamed
 * over path, which must be absent or a regular file). Called on
 * the vCPU thread outside translated code; disk requests in flight are
 * finished first. Returns 0, or a negative errno with a one-line message. */
int board_snapshot_save(struct board *board, const char *path, char *err, size_t err_len);
/* The same to fd (an empty file of the caller's, left open), with or
 * without guest memory (RAM and VRAM): a live migration sends memory its
 * own way (migration.c). */
int board_snapshot_save_state_fd(struct board *board, int fd, bool memory, char *err,
				 size_t err_len);
/* Reads the configuration only, for building the board to restore into:
 * 0, or a negative errno with a one-line message (not a snapshot, wrong
 * version, corrupt, another CPU model). */
int board_snapshot_read_config(const char *path, struct board_snapshot_config *sc, char *err,
			       size_t err_len);
/* The same from fd's start (the caller keeps fd). */
int board_snapshot_read_config_fd(int fd, struct board_snapshot_config *sc, char *err,
				  size_t err_len);
/* Loads every section into a board that board_create built from the
 * snapshot's configuration (cfg.restore_path set), before board_run.
 * Returns 0, or a negative errno with a one-line message; after a failure
 * the board is fit only for board_destroy. */
int board_snapshot_restore(struct board *board, const char *path, char *err, size_t err_len);
/* The same from fd's start, for a snapshot saved with or without memory
 * (without: the memory is already in place). */
int board_snapshot_restore_state_fd(struct board *board, int fd, bool memory, char *err,
				    size_t err_len);

#endif
