/* The board's screen and input: the VGA's picture shown in the window
 * (host/display.c) from a snapshot the vCPU thread takes at most 60 times
 * a second when something changed, the window's keys and mouse into the
 * i8042, the window's close button into the ACPI power button, and
 * screenshots. The machine (machine/board.c, run_loop.c) runs it; the
 * monitor's screendump writes its shots. */
#ifndef BTVM_BOARD_SCREEN_H
#define BTVM_BOARD_SCREEN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/bochs_display.h"
#include "devices/vga.h"
#include "host/display.h"

struct board;

struct board_screen {
	struct display *display;      /* NULL: no window */
	const struct display_backend *win;   /* its functions (board_config.window) */
	/* The picture the window draws from, copied from the live VGA and
	 * its legacy window on the vCPU thread; the display thread renders
	 * it under the lock. */
	pthread_mutex_t lock;
	struct vga snap_vga;
	uint8_t *snap_window;         /* VGA_LEGACY_SIZE bytes */
	uint64_t snap_gen;            /* bumped at each new snapshot */
	/* The framebuffer (the std VGA's DISPI modes) instead of text: its
	 * registers, and the VRAM pages written since the window last drew.
	 * Its vram points at live VRAM (as a display's scan-out reads it)
	 * while written pages are found by protection, and at lfb_copy while
	 * they are found by comparing: what the window drew is then what the
	 * compare compares with, so a page changed and changed back between
	 * two snapshots cannot leave the window showing the bytes between. */
	bool snap_lfb;
	struct bochs_display snap_bochs;
	uint8_t snap_dirty[BOCHS_DIRTY_BYTES];
	uint64_t drawn_gen;           /* display thread: the one it drew last */
	bool drawn_lfb;               /* display thread: the last was the framebuffer */
	/* vCPU thread: pages harvested but not yet in a snapshot. */
	uint8_t pending_dirty[BOCHS_DIRTY_BYTES];
	/* How written framebuffer pages are found: by write-protecting them
	 * (free while little changes, a fault per page per frame when much
	 * does), or, while a large share of the picture keeps changing, by
	 * comparing the shown bytes with a copy (lfb_copy, the bytes of
	 * VRAM as of the last snapshot, valid from lfb_copy_gen's mode;
	 * written and read under lock, as the window draws from it). */
	bool lfb_compare;
	uint32_t lfb_share;           /* changed share, moving average (board_screen.c) */
	bool lfb_switched;            /* the mode just changed: the next share is not the guest's */
	uint64_t lfb_compared_ns;
	uint8_t *lfb_copy;            /* BOCHS_VRAM_SIZE bytes, made on demand */
	uint64_t lfb_copy_gen;
	uint64_t lfb_compare_entries; /* for --stats */
	uint64_t last_snapshot_ns;
	bool input_backlog;           /* an event the i8042 had no room for */
	uint64_t input_retry_ns;      /* when to offer it again */
	/* Set on the display thread, acted on by the vCPU thread. */
	atomic_bool power_button, quit;
	uint32_t *shot_pixels;        /* --screenshot's picture, made on demand */
	uint64_t screenshots;         /* for --stats */
};

/* Sets up the snapshot and opens the window the configuration asks for.
 * notify wakes the vCPU thread (called on the display thread). Returns 0,
 * or a negative errno with a one-line message. */
int board_screen_open(struct board *board, void (*notify)(void *opaque), char *err,
		      size_t err_len);
/* vCPU thread, at every poll: input to the devices, a new snapshot when
 * due, the power button, a screenshot asked for by SIGUSR2. */
void board_screen_poll(struct board *board, uint64_t now_ns);
/* vCPU thread, before HLT sleeps: the screen as the guest left it. */
void board_screen_flush(struct board *board, uint64_t now_ns);
/* When the next snapshot is due (guest ns), UINT64_MAX without a window. */
uint64_t board_screen_deadline(const struct board *board);
/* Whether the window can still send the guest input that wakes a HLT. */
bool board_screen_input_possible(const struct board *board);
/* vCPU thread: the screen into path now, PNG or text as --screenshot
 * writes it. Returns 0, or a negative errno with a one-line reason in err. */
int board_screen_write(struct board *board, const char *path, char *err, size_t err_len);
/* At the end of the run: the --screenshot file, then the window closes. */
void board_screen_close(struct board *board);
/* The guest's state in the window's title, if there is a window. */
void board_screen_set_state(struct board *board, const char *state);
void board_screen_destroy(struct board *board);

#endif
