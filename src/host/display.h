/* The guest's window: an SDL2 window run by a thread of its own, which
 * draws what the board renders and queues the user's keys and mouse for
 * the vCPU thread. It knows nothing of the guest's devices: the board
 * gives it a render callback and takes the input events. */
#ifndef BTVM_HOST_DISPLAY_H
#define BTVM_HOST_DISPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest picture the window takes. */
#define DISPLAY_MAX_WIDTH 2560u
#define DISPLAY_MAX_HEIGHT 1600u

enum display_event_kind {
	DISPLAY_EVENT_KEY,
	DISPLAY_EVENT_MOUSE,
	DISPLAY_EVENT_TABLET,
};

/* The largest tablet coordinate: the picture's right or bottom pixel. */
#define DISPLAY_TABLET_MAX 32767u

/* Mouse buttons as bits of display_event.buttons. */
#define DISPLAY_BUTTON_LEFT 1u
#define DISPLAY_BUTTON_RIGHT 2u
#define DISPLAY_BUTTON_MIDDLE 4u

struct display_event {
	enum display_event_kind kind;
	/* key: an SDL_Scancode (the key's position, not its symbol: the
	 * guest's keymap decides what it means) going down or up */
	int scancode;
	bool pressed;
	/* mouse: relative motion in screen directions (right and down
	 * positive), the wheel (notches away from the user positive), the
	 * buttons held */
	int dx, dy, dz;
	unsigned buttons;
	/* tablet (absolute mode, display_set_absolute): the pointer's pixel
	 * in the picture, 0 at the left (top) to DISPLAY_TABLET_MAX at the
	 * right (bottom), with dz and buttons as the mouse's */
	unsigned x, y;
};

struct display_ops {
	/* Display thread. Draws the guest's screen into pixels (XRGB8888,
	 * width*4 bytes a row, at most DISPLAY_MAX_WIDTH x DISPLAY_MAX_HEIGHT)
	 * and returns true, or returns false when nothing changed since the
	 * last call that drew. now_ms paces blinking. */
	bool (*render)(void *opaque, uint32_t *pixels, unsigned *width, unsigned *height,
		       uint64_t now_ms);
	/* Display thread: an event waits in display_next_event. Must only
	 * wake the vCPU thread. */
	void (*notify)(void *opaque);
	/* Display thread: the user closed the window (again: while the guest
	 * still ran after the first close). */
	void (*close)(void *opaque, bool again);
	void *opaque;
};

struct display;

/* Whether a display server may be reachable (DISPLAY or WAYLAND_DISPLAY
 * set), which makes the window the default. */
bool display_server_named(void);

/* Opens the window (title "btvm - NAME - running") and starts its thread.
 * Returns 0, or a negative errno with a one-line reason in err (no display
 * server, SDL cannot start). */
int display_open(struct display **out, const char *name, const struct display_ops *ops,
		 char *err, size_t err_len);
/* Closes the window and joins its thread. NULL is fine. */
void display_close(struct display *d);

/* vCPU thread: the next queued input event; false when there is none. */
bool display_next_event(struct display *d, struct display_event *ev);
/* vCPU thread: puts back an event the guest had no room for, to be the
 * next one display_next_event returns. */
void display_unread_event(struct display *d, const struct display_event *ev);
/* Any thread: a new picture may be there; the window asks render soon
 * (at most 60 times a second). */
void display_frame_ready(struct display *d);
/* Any thread: the guest's state in the title ("running", "paused",
 * "powered off"). state must stay valid. */
void display_set_state(struct display *d, const char *state);

/* Any thread: whether the guest takes the pointer as a position (its
 * tablet's driver runs). On, the window sends DISPLAY_EVENT_TABLET while
 * the pointer is over the picture, a click does not grab, a grab held is
 * released, and the title says "tablet"; off, DISPLAY_EVENT_MOUSE after a
 * click grabs the mouse, as before. */
void display_set_absolute(struct display *d, bool on);

/* Any thread: the size the user gave the window (dragging its border, or
 * full screen), in pixels, for the guest's display to offer as its
 * preferred mode; false while the window has the size btvm chose for the
 * guest's picture. */
bool display_wanted_size(struct display *d, unsigned *width, unsigned *height);
/* The functions above as the board calls them. This file (display.c) is
 * the only code that links SDL2, in a library of its own (btvmwindow):
 * main.c hands display_sdl to the board (board_config.window), and a
 * board without it, as in the unit tests, has no window. */
struct display_backend {
	bool (*server_named)(void);
	int (*open)(struct display **out, const char *name, const struct display_ops *ops,
		    char *err, size_t err_len);
	void (*close)(struct display *d);
	bool (*next_event)(struct display *d, struct display_event *ev);
	void (*unread_event)(struct display *d, const struct display_event *ev);
	void (*frame_ready)(struct display *d);
	void (*set_state)(struct display *d, const char *state);
	void (*set_absolute)(struct display *d, bool on);
	bool (*wanted_size)(struct display *d, unsigned *width, unsigned *height);
};
extern const struct display_backend display_sdl;

#endif
