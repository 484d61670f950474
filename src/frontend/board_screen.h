/* The board's screen and input: the VGA's picture shown in the window
 * (host/display.c) from a snapshot the vCPU thread takes at most 60 times
 * a second when something changed, the window's keys and mouse into the
 * i8042, the window's close button into the ACPI power button, and
 * screenshots. It runs as a front end of the machine (machine/control.h);
 * the monitor's screendump writes its shots. */
#ifndef BTVM_BOARD_SCREEN_H
#define BTVM_BOARD_SCREEN_H

#include <stddef.h>
#include <stdint.h>

struct board;
struct board_screen;

/* Sets up the snapshot, opens the window the configuration asks for and
 * registers with the board (machine/control.h): polled for input and
 * pictures, paused with the guest, its --screenshot files written when
 * the run ends. Returns 0, or a negative errno with a one-line message. */
int board_screen_open(struct board_screen **out, struct board *board, char *err,
		      size_t err_len);
/* Unregisters, closes the window and frees the screen (NULL is fine). */
void board_screen_close(struct board_screen *scr);
/* vCPU thread, guest stopped: the screen into path now, PNG or text as
 * --screenshot writes it. Returns 0, or a negative errno with a one-line
 * reason in err. */
int board_screen_write(struct board_screen *scr, const char *path, char *err, size_t err_len);
/* For --stats: screenshots written, and the spells of finding the
 * framebuffer's written pages by comparing (board_screen.c). */
struct board_screen_counters {
	uint64_t screenshots, fb_compares;
};
void board_screen_counters(const struct board_screen *scr, struct board_screen_counters *c);

#endif
