/* The board's screen and input (board_screen.h), a front end of the
 * machine: snapshots of the VGA for the window, input from the window to
 * the i8042 and its mouse, the close button, and --screenshot. It owns
 * the window, the pictures it draws from, and SIGUSR2. */
#define _GNU_SOURCE
#include "frontend/board_screen.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/bochs_display.h"
#include "devices/vga.h"
#include "host/display.h"
#include "host/keymap.h"
#include "host/outfile.h"
#include "host/screenshot.h"
#include "host/thread.h"
#include "machine/control.h"

/* 60 Hz: no window redraws faster. */
#define SNAPSHOT_INTERVAL_NS 16666667ull
/* How soon to offer the i8042 an input event it had no room for. */
#define INPUT_RETRY_NS 2000000ull

struct board_screen {
	struct board *board;
	const struct board_config *cfg;
	struct board_display live;    /* the display devices (board_display) */
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
	uint32_t lfb_share;           /* changed share, moving average (choose_tracking) */
	bool lfb_switched;            /* the mode just changed: the next share is not the guest's */
	uint64_t lfb_compared_ns;
	uint8_t *lfb_copy;            /* BOCHS_VRAM_SIZE bytes, made on demand */
	uint64_t lfb_copy_gen;
	uint64_t lfb_compare_entries; /* for --stats */
	uint64_t last_snapshot_ns;
	bool input_backlog;           /* an event the i8042 had no room for */
	bool tablet;                  /* vCPU thread: the window was told the tablet is active */
	uint64_t input_retry_ns;      /* when to offer it again */
	/* Set on the display thread, acted on by the vCPU thread. */
	atomic_bool power_button, quit;
	uint32_t *shot_pixels;        /* --screenshot's picture, made on demand */
	uint64_t screenshots;         /* for --stats */
	bool registered;
};

/* The screen SIGUSR2 asks for a screenshot of. Signal handlers take no
 * argument, and a process runs one board. */
static struct board_screen *volatile shot_screen;
static volatile sig_atomic_t shot_requested;

static void on_screenshot_signal(int sig, siginfo_t *si, void *uctx)
{
	(void)sig, (void)si;
	struct board_screen *scr = shot_screen;
	shot_requested = 1;
	if (scr)
		board_wake_from_signal(scr->board, uctx);
}

/* Display thread: draws the newest snapshot when it is new, or when the
 * cursor's or the text's blink phase changed since the last drawing. The
 * framebuffer is drawn row by row where pages were written; pixels keeps
 * the last picture between calls. */
static bool screen_render(void *opaque, uint32_t *pixels, unsigned *width, unsigned *height,
			  uint64_t now_ms)
{
	struct board_screen *scr = opaque;
	uint64_t now_ns = now_ms * 1000000ull;
	bool drawn = false;
	pthread_mutex_lock(&scr->lock);
	if (scr->snap_lfb) {
		if (scr->snap_gen != scr->drawn_gen) {
			drawn = bochs_display_render(&scr->snap_bochs, scr->snap_dirty, !scr->drawn_lfb,
						     pixels, width, height);
			memset(scr->snap_dirty, 0, sizeof(scr->snap_dirty));
			scr->drawn_gen = scr->snap_gen;
			scr->drawn_lfb = true;
		}
	} else if (scr->snap_gen != scr->drawn_gen ||
		   vga_needs_render(&scr->snap_vga, scr->snap_window, now_ns)) {
		vga_render(&scr->snap_vga, scr->snap_window, now_ns, pixels, width, height);
		scr->drawn_gen = scr->snap_gen;
		scr->drawn_lfb = false;
		drawn = true;
	}
	pthread_mutex_unlock(&scr->lock);
	return drawn;
}

/* Display thread: the first close presses the power button, so that a
 * guest with ACPI shuts down cleanly; a second one ends btvm. */
static void screen_close(void *opaque, bool again)
{
	struct board_screen *scr = opaque;
	if (again)
		atomic_store(&scr->quit, true);
	else
		atomic_store(&scr->power_button, true);
	board_wake(scr->board);
}

/* vCPU thread (the std VGA's EDID): the size the user gave the window. */
static bool screen_wanted_size(void *opaque, unsigned *width, unsigned *height)
{
	struct board_screen *scr = opaque;
	return scr->win->wanted_size(scr->display, width, height);
}

/* Display thread: the vCPU thread has something to do. */
static void screen_notify(void *opaque)
{
	struct board_screen *scr = opaque;
	board_wake(scr->board);
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash && slash[1] ? slash + 1 : path;
}

/* What the window's title names: the kernel btvm loaded, else the drive
 * the firmware boots first (the CD unless --boot order= puts the disks
 * first), else the firmware's image. */
static const char *guest_name(const struct board_config *cfg)
{
	if (cfg->kernel_path)
		return base_name(cfg->kernel_path);
	const char *cdrom = NULL, *ide_disk = NULL;
	for (unsigned slot = BOARD_IDE_SLOTS; slot-- > 0;) {
		if (cfg->ide[slot].kind == BOARD_IDE_CDROM)
			cdrom = cfg->ide[slot].path;
		if (cfg->ide[slot].kind == BOARD_IDE_DISK)
			ide_disk = cfg->ide[slot].path;
	}
	const char *disk = cfg->ndisks && !cfg->first_disk_ide ? cfg->disks[0].path : ide_disk;
	const char *first = cfg->boot_order[0] == 'c' ? (disk ? disk : cdrom)
						      : (cdrom ? cdrom : disk);
	if (first)
		return base_name(first);
	return cfg->bios_path ? base_name(cfg->bios_path) : "btvm";
}

/* Sets up the window the configuration asks for; 0, or a negative errno
 * with a one-line message (the open is undone by board_screen_close). */
static int open_window(struct board_screen *scr, char *err, size_t err_len)
{
	const struct board_config *cfg = scr->cfg;
	scr->win = cfg->window;
	if (cfg->display == DISPLAY_SDL && !scr->win) {
		snprintf(err, err_len, "this program has no window (no display backend)");
		return -ENOTSUP;
	}
	bool want = cfg->display == DISPLAY_SDL ||
		    (cfg->display == DISPLAY_DEFAULT && scr->win && scr->win->server_named());
	if (!want)
		return 0;
	struct display_ops ops = {
		.render = screen_render,
		.notify = screen_notify,
		.close = screen_close,
		.opaque = scr,
	};
	int ret = scr->win->open(&scr->display, guest_name(cfg), &ops, err, err_len);
	if (!ret) {
		board_vram_log(scr->board, true);   /* the window redraws written pages only */
		board_display_edid_source(scr->board, screen_wanted_size, scr);
	}
	if (ret && cfg->display == DISPLAY_DEFAULT) {
		/* The window was only the default: say why there is none and
		 * go on with the serial console. */
		fprintf(stderr, "btvm: no window (%s); going on without a display\n", err);
		scr->display = NULL;
		return 0;
	}
	return ret;
}

static const struct board_frontend_ops screen_ops;

int board_screen_open(struct board_screen **out, struct board *board, char *err,
		      size_t err_len)
{
	struct board_screen *scr = calloc(1, sizeof(*scr));
	int ret;

	*out = NULL;
	if (!scr) {
		snprintf(err, err_len, "out of memory for the screen");
		return -ENOMEM;
	}
	scr->board = board;
	scr->cfg = board_config(board);
	board_display(board, &scr->live);
	pthread_mutex_init(&scr->lock, NULL);
	scr->drawn_gen = UINT64_MAX;
	scr->snap_window = calloc(1, VGA_LEGACY_SIZE);
	if (!scr->snap_window) {
		snprintf(err, err_len, "out of memory for the screen");
		board_screen_close(scr);
		return -ENOMEM;
	}
	if (scr->cfg->screenshot_count) {
		struct sigaction sa = { .sa_sigaction = on_screenshot_signal,
					.sa_flags = SA_RESTART | SA_SIGINFO };
		host_handler_mask(&sa.sa_mask);
		shot_screen = scr;
		sigaction(SIGUSR2, &sa, NULL);
	}
	ret = open_window(scr, err, err_len);
	if (!ret) {
		ret = board_add_frontend(board, &screen_ops, scr);
		if (ret)
			snprintf(err, err_len, "too many front ends for the machine");
	}
	if (ret) {
		board_screen_close(scr);
		return ret;
	}
	scr->registered = true;
	*out = scr;
	return 0;
}

static bool any_bit(const uint8_t *bitmap, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (bitmap[i])
			return true;
	return false;
}

/* The VRAM pages the picture shows now; false if none (no valid mode). */
static bool shown_pages(const struct bochs_display *dev, uint32_t *first, uint32_t *count)
{
	const struct bochs_mode *m = &dev->mode;
	uint64_t end = (uint64_t)m->start + (uint64_t)m->line * m->height;
	if (!m->enabled || !m->valid || !m->height || end > BOCHS_VRAM_SIZE)
		return false;
	*first = m->start >> BOCHS_VRAM_PAGE_SHIFT;
	*count = (uint32_t)(((end + (1u << BOCHS_VRAM_PAGE_SHIFT) - 1) >> BOCHS_VRAM_PAGE_SHIFT) -
			    *first);
	return *count != 0;
}

/* Compare mode: the shown pages that differ from the copy are marked
 * and copied; returns how many. A new mode (generation) copies them all. */
static uint32_t compare_shown(struct board_screen *scr, uint32_t first, uint32_t count)
{
	const struct bochs_display *bochs = scr->live.bochs;
	const uint8_t *vram = bochs->vram;
	const size_t page = 1u << BOCHS_VRAM_PAGE_SHIFT;
	bool all = scr->lfb_copy_gen != bochs->generation;
	uint32_t changed = 0;
	scr->lfb_copy_gen = bochs->generation;
	for (uint32_t p = first; p < first + count; p++) {
		size_t off = (size_t)p * page;
		if (!all && !memcmp(scr->lfb_copy + off, vram + off, page))
			continue;
		memcpy(scr->lfb_copy + off, vram + off, page);
		scr->pending_dirty[p / 8] |= (uint8_t)(1u << (p % 8));
		changed++;
	}
	return changed;
}

/* Chooses how written pages are found for the next snapshot, from a
 * moving average of the share of the shown pages that changed per
 * snapshot (in 1/1024ths, each snapshot weighing 1/8). A fault costs some
 * ten times what comparing a page does, so comparing wins once a tenth or
 * so of the picture keeps changing; the bars are apart so that a load near
 * them does not flip the mode at every frame. */
#define LFB_SHARE_ONE 1024u
#define LFB_COMPARE_ENTER (LFB_SHARE_ONE / 5)
#define LFB_COMPARE_LEAVE (LFB_SHARE_ONE / 50)
static void choose_tracking(struct board_screen *scr, uint32_t changed, uint32_t shown)
{
	uint32_t share = (uint32_t)((uint64_t)changed * LFB_SHARE_ONE / shown);
	/* Right after a switch every page counts as changed (the copy is
	 * new, or every page is marked for protection): not the guest's
	 * doing, so it does not count. */
	if (scr->lfb_switched) {
		scr->lfb_switched = false;
		return;
	}
	scr->lfb_share = scr->lfb_share - scr->lfb_share / 8 + share / 8;
	if (!scr->lfb_compare && scr->lfb_share >= LFB_COMPARE_ENTER) {
		if (!scr->lfb_copy && !(scr->lfb_copy = malloc(BOCHS_VRAM_SIZE)))
			return;   /* no room for the copy: faults it is */
		scr->lfb_compare = true;
		scr->lfb_copy_gen = scr->live.bochs->generation - 1;   /* copy everything first */
		scr->lfb_compare_entries++;
		scr->lfb_switched = true;
		board_vram_log(scr->board, false);
	} else if (scr->lfb_compare && scr->lfb_share < LFB_COMPARE_LEAVE) {
		scr->lfb_compare = false;
		scr->lfb_switched = true;
		/* Every page starts dirty and is protected again at the
		 * first harvest: nothing written meanwhile is missed. */
		board_vram_log(scr->board, true);
	}
}

/* A snapshot of the framebuffer's registers and the pages written since
 * the last one: the shadow's dirty log (translated code) or the compare
 * with the copy, and the device's own log (the monitor's accesses through
 * the bus). Marks taken stay pending until a snapshot has them, so none
 * is lost to a busy lock. */
static void take_lfb_snapshot(struct board_screen *scr, uint64_t now_ns)
{
	const struct bochs_display *bochs = scr->live.bochs;
	uint32_t first, npages;
	/* A flush before each HLT asks too: comparing, at most at the
	 * snapshot rate (a harvest is cheap at any rate). */
	if (scr->lfb_compare && now_ns - scr->lfb_compared_ns < SNAPSHOT_INTERVAL_NS)
		return;
	/* The window draws from the copy while comparing: it changes under
	 * the lock, or at the next poll if the window is drawing. */
	bool locked = scr->lfb_compare;
	if (locked && pthread_mutex_trylock(&scr->lock))
		return;
	scr->lfb_compared_ns = now_ns;
	if (shown_pages(bochs, &first, &npages)) {
		uint32_t changed = scr->lfb_compare ? compare_shown(scr, first, npages)
						    : board_vram_harvest(scr->board, scr->pending_dirty);
		choose_tracking(scr, changed, npages);
	} else {
		board_vram_harvest(scr->board, scr->pending_dirty);
	}
	board_vram_take_device_dirty(scr->board, scr->pending_dirty);
	if (scr->snap_lfb && bochs->generation == scr->snap_bochs.generation &&
	    !any_bit(scr->pending_dirty, sizeof(scr->pending_dirty))) {
		if (locked)
			pthread_mutex_unlock(&scr->lock);
		return;
	}
	if (!locked && pthread_mutex_trylock(&scr->lock))
		return;
	struct bochs_shown shown = scr->snap_bochs.shown;   /* the window's, not the device's */
	scr->snap_bochs = *bochs;
	scr->snap_bochs.shown = shown;
	/* Compared just now (choose_tracking may have stopped comparing
	 * since): the window draws what was compared, and a page that
	 * differs from it later is marked at the next compare. */
	if (locked)
		scr->snap_bochs.vram = scr->lfb_copy;
	for (size_t i = 0; i < sizeof(scr->snap_dirty); i++)
		scr->snap_dirty[i] |= scr->pending_dirty[i];
	memset(scr->pending_dirty, 0, sizeof(scr->pending_dirty));
	scr->snap_lfb = true;
	scr->snap_gen++;
	pthread_mutex_unlock(&scr->lock);
	scr->win->frame_ready(scr->display);
}

/* A snapshot for the window when the picture changed. Text mode: the
 * VGA's state and its 128 KiB window, compared with the last copy (at
 * 60 Hz that is a few MB/s of memcmp, and it sees every kind of change:
 * text, fonts, registers). The framebuffer: take_lfb_snapshot. */
static void take_snapshot(struct board_screen *scr, uint64_t now_ns)
{
	const uint8_t *live = scr->live.vga_window;
	scr->last_snapshot_ns = now_ns;
	if (bochs_display_active(scr->live.bochs, NULL, NULL)) {
		take_lfb_snapshot(scr, now_ns);
		return;
	}
	if (!scr->snap_lfb && scr->live.vga->generation == scr->snap_vga.generation &&
	    !memcmp(live, scr->snap_window, VGA_LEGACY_SIZE))
		return;
	/* The display thread may be drawing the last one: try again at the
	 * next poll rather than wait for it. */
	if (pthread_mutex_trylock(&scr->lock))
		return;
	scr->snap_vga = *scr->live.vga;
	memcpy(scr->snap_window, live, VGA_LEGACY_SIZE);
	scr->snap_lfb = false;
	scr->snap_gen++;
	pthread_mutex_unlock(&scr->lock);
	scr->win->frame_ready(scr->display);
}

static bool deliver_event(struct board *board, const struct display_event *ev, bool paused)
{
	if (ev->kind == DISPLAY_EVENT_KEY) {
		uint8_t seq[KEYMAP_MAX_SEQUENCE];
		unsigned n = keymap_set2_sequence(ev->scancode, ev->pressed, seq);
		return !n || board_key_input(board, seq, n);
	}
	if (ev->kind == DISPLAY_EVENT_TABLET) {
		/* A paused machine's devices do not write its RAM: the pointer
		 * moved meanwhile is dropped, and the next report after cont
		 * carries where it is and the buttons held. */
		if (!paused)
			board_tablet_input(board, ev->x, ev->y, ev->dz, ev->buttons);
		return true;
	}
	board_mouse_input(board, ev->dx, ev->dy, ev->dz, ev->buttons);
	return true;
}

int board_screen_write(struct board_screen *scr, const char *path, char *err, size_t err_len)
{
	size_t len = strlen(path);
	int ret;

	if (len > 4 && !strcmp(path + len - 4, ".txt")) {
		/* Through a temporary file, as the PNG is: a reader polling the
		 * file never sees half a screen. */
		char *text = malloc(VGA_TEXT_DUMP_MAX);
		struct outfile out;
		ret = -ENOMEM;
		snprintf(err, err_len, "out of memory");
		if (text && !(ret = outfile_open(&out, path, err, err_len))) {
			size_t n = board_screen_text(scr->board, text, VGA_TEXT_DUMP_MAX);
			fwrite(text, 1, n, out.f);
			ret = outfile_commit(&out, false, err, err_len);
		}
		free(text);
	} else {
		unsigned width = 0, height = 0;
		if (!scr->shot_pixels)
			scr->shot_pixels = malloc(BOARD_SCREEN_MAX_PIXELS * 4);
		ret = -ENOMEM;
		snprintf(err, err_len, "out of memory");
		if (scr->shot_pixels) {
			board_draw_screen(scr->board, scr->shot_pixels, &width, &height);
			ret = screenshot_write_png(path, scr->shot_pixels, width, height, err,
						   err_len);
		}
	}
	if (!ret)
		scr->screenshots++;
	return ret;
}

static void write_screenshots(struct board_screen *scr)
{
	for (unsigned i = 0; i < scr->cfg->screenshot_count; i++) {
		const char *path = scr->cfg->screenshot_paths[i];
		char why[512];
		if (board_screen_write(scr, path, why, sizeof(why)))
			fprintf(stderr, "btvm: cannot write the screenshot: %s\n", why);
	}
}

/* vCPU thread, at every poll (and while paused): input to the devices, a
 * new snapshot when due, the power button, a screenshot asked for by
 * SIGUSR2. */
static bool poll_screen(struct board_screen *scr, uint64_t now_ns, bool paused)
{
	if (shot_requested) {
		shot_requested = 0;
		write_screenshots(scr);
	}
	if (!scr->display)
		return false;
	if (atomic_exchange(&scr->power_button, false))
		board_power_button(scr->board);
	if (atomic_load(&scr->quit)) {
		fprintf(stderr, "btvm: the window was closed twice; stopping the guest\n");
		board_request_exit(scr->board, 0);
		return false;
	}
	/* The tablet's driver came or went (a boot, a reset, a module
	 * loaded): the window switches between positions and the grab. */
	bool tablet = board_tablet_active(scr->board);
	if (tablet != scr->tablet) {
		scr->tablet = tablet;
		scr->win->set_absolute(scr->display, tablet);
	}
	struct display_event ev;
	scr->input_backlog = false;
	while (scr->win->next_event(scr->display, &ev)) {
		if (!deliver_event(scr->board, &ev, paused)) {
			scr->win->unread_event(scr->display, &ev);
			scr->input_backlog = true;
			scr->input_retry_ns = now_ns + INPUT_RETRY_NS;
			break;
		}
	}
	if (now_ns - scr->last_snapshot_ns >= SNAPSHOT_INTERVAL_NS)
		take_snapshot(scr, now_ns);
	return false;
}

static bool screen_poll(void *opaque, uint64_t now_ns)
{
	return poll_screen(opaque, now_ns, false);
}

static void screen_paused(void *opaque, uint64_t guest_ns)
{
	poll_screen(opaque, guest_ns, true);
}

/* When the next snapshot is due (guest ns), UINT64_MAX without a window. */
static uint64_t screen_deadline(void *opaque)
{
	const struct board_screen *scr = opaque;
	if (!scr->display)
		return UINT64_MAX;
	uint64_t due = scr->last_snapshot_ns + SNAPSHOT_INTERVAL_NS;
	if (scr->input_backlog && scr->input_retry_ns < due)
		due = scr->input_retry_ns;
	return due;
}

/* Before HLT sleeps: the screen as the guest left it, and what the window
 * can still send that wakes the guest (keys, the mouse, its close button)
 * and when it offers held-back input again. */
static void screen_halt(void *opaque, uint64_t now_ns, struct board_halt *h)
{
	struct board_screen *scr = opaque;
	if (scr->input_backlog && scr->input_retry_ns < h->input_ns)
		h->input_ns = scr->input_retry_ns;
	if (!scr->display)
		return;
	h->wakes |= BOARD_WAKE_KEYBOARD | BOARD_WAKE_MOUSE | BOARD_WAKE_POWER_BUTTON;
	take_snapshot(scr, now_ns);
}

/* The guest's state in the window's title; at the end of the run the
 * --screenshot files, then the window closes. */
static void screen_event(void *opaque, enum board_event event)
{
	struct board_screen *scr = opaque;
	uint64_t guest_ns, tsc;
	switch (event) {
	case BOARD_EVENT_STOP:
	case BOARD_EVENT_RESUME:
		if (scr->display)
			scr->win->set_state(scr->display,
					    event == BOARD_EVENT_STOP ? "paused" : "running");
		break;
	case BOARD_EVENT_CLOCK_SET:
		/* Guest time moved under the deadlines kept in it. */
		board_guest_time(scr->board, &guest_ns, &tsc);
		scr->last_snapshot_ns = 0;
		scr->input_retry_ns = guest_ns;
		break;
	case BOARD_EVENT_SHUTDOWN:
		write_screenshots(scr);
		if (scr->display)
			scr->win->close(scr->display);
		scr->display = NULL;
		break;
	case BOARD_EVENT_START:
	case BOARD_EVENT_RESET:
		break;
	}
}

static const struct board_frontend_ops screen_ops = {
	.poll = screen_poll,
	.deadline = screen_deadline,
	.halt = screen_halt,
	.paused = screen_paused,
	.event = screen_event,
};

void board_screen_counters(const struct board_screen *scr, struct board_screen_counters *c)
{
	c->screenshots = scr->screenshots;
	c->fb_compares = scr->lfb_compare_entries;
}

void board_screen_close(struct board_screen *scr)
{
	if (!scr)
		return;
	if (scr->registered)
		board_remove_frontend(scr->board, scr);
	if (shot_screen == scr) {
		signal(SIGUSR2, SIG_DFL);
		shot_screen = NULL;
	}
	if (scr->display) {
		board_display_edid_source(scr->board, NULL, NULL);
		scr->win->close(scr->display);
	}
	scr->display = NULL;
	free(scr->snap_window);
	free(scr->shot_pixels);
	free(scr->lfb_copy);
	pthread_mutex_destroy(&scr->lock);
	free(scr);
}
