/* The board's screen and input (board_screen.h): snapshots of the VGA for
 * the window, input from the window to the i8042 and its mouse, the close
 * button, and --screenshot. */
#define _GNU_SOURCE
#include "frontend/board_screen.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/keymap.h"
#include "host/outfile.h"
#include "host/screenshot.h"
#include "host/thread.h"
#include "machine/board.h"

/* 60 Hz: no window redraws faster. */
#define SNAPSHOT_INTERVAL_NS 16666667ull
/* The largest picture either adapter draws. */
#define SHOT_MAX_PIXELS (VGA_MAX_PIXELS > BOCHS_MAX_PIXELS ? VGA_MAX_PIXELS : BOCHS_MAX_PIXELS)
/* How soon to offer the i8042 an input event it had no room for. */
#define INPUT_RETRY_NS 2000000ull

/* The board SIGUSR2 asks for a screenshot of. Signal handlers take no
 * argument, and a process runs one board. */
static struct board *volatile shot_board;
static volatile sig_atomic_t shot_requested;

static void on_screenshot_signal(int sig, siginfo_t *si, void *uctx)
{
	(void)sig, (void)si;
	struct board *board = shot_board;
	shot_requested = 1;
	if (board)
		board_wake_from_signal(board, uctx);
}

/* Display thread: draws the newest snapshot when it is new, or when the
 * cursor's or the text's blink phase changed since the last drawing. The
 * framebuffer is drawn row by row where pages were written; pixels keeps
 * the last picture between calls. */
static bool screen_render(void *opaque, uint32_t *pixels, unsigned *width, unsigned *height,
			  uint64_t now_ms)
{
	struct board *board = opaque;
	struct board_screen *scr = &board->screen;
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
	struct board *board = opaque;
	if (again)
		atomic_store(&board->screen.quit, true);
	else
		atomic_store(&board->screen.power_button, true);
	board_wake(board);
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash && slash[1] ? slash + 1 : path;
}

int board_screen_open(struct board *board, void (*notify)(void *opaque), char *err,
		      size_t err_len)
{
	struct board_screen *scr = &board->screen;
	int ret;

	pthread_mutex_init(&scr->lock, NULL);
	scr->drawn_gen = UINT64_MAX;
	scr->snap_window = calloc(1, VGA_LEGACY_SIZE);
	if (!scr->snap_window) {
		snprintf(err, err_len, "out of memory for the screen");
		return -ENOMEM;
	}
	if (board->cfg.screenshot_count) {
		struct sigaction sa = { .sa_sigaction = on_screenshot_signal,
					.sa_flags = SA_RESTART | SA_SIGINFO };
		host_handler_mask(&sa.sa_mask);
		shot_board = board;
		sigaction(SIGUSR2, &sa, NULL);
	}
	scr->win = board->cfg.window;
	if (board->cfg.display == DISPLAY_SDL && !scr->win) {
		snprintf(err, err_len, "this program has no window (no display backend)");
		return -ENOTSUP;
	}
	bool want = board->cfg.display == DISPLAY_SDL ||
		    (board->cfg.display == DISPLAY_DEFAULT && scr->win && scr->win->server_named());
	if (!want)
		return 0;
	struct display_ops ops = {
		.render = screen_render,
		.notify = notify,
		.close = screen_close,
		.opaque = board,
	};
	ret = scr->win->open(&scr->display, base_name(board->cfg.kernel_path), &ops, err, err_len);
	if (!ret)
		shadow_devmem_log(&board->sh, true);   /* the window redraws written pages only */
	if (ret && board->cfg.display == DISPLAY_DEFAULT) {
		/* The window was only the default: say why there is none and
		 * go on with the serial console. */
		fprintf(stderr, "btvm: no window (%s); going on without a display\n", err);
		scr->display = NULL;
		return 0;
	}
	return ret;
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
static uint32_t compare_shown(struct board *board, uint32_t first, uint32_t count)
{
	struct board_screen *scr = &board->screen;
	const uint8_t *vram = board->bochs.vram;
	const size_t page = 1u << BOCHS_VRAM_PAGE_SHIFT;
	bool all = scr->lfb_copy_gen != board->bochs.generation;
	uint32_t changed = 0;
	scr->lfb_copy_gen = board->bochs.generation;
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
static void choose_tracking(struct board *board, uint32_t changed, uint32_t shown)
{
	struct board_screen *scr = &board->screen;
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
		scr->lfb_copy_gen = board->bochs.generation - 1;   /* copy everything first */
		scr->lfb_compare_entries++;
		scr->lfb_switched = true;
		shadow_devmem_log(&board->sh, false);
	} else if (scr->lfb_compare && scr->lfb_share < LFB_COMPARE_LEAVE) {
		scr->lfb_compare = false;
		scr->lfb_switched = true;
		/* Every page starts dirty and is protected again at the
		 * first harvest: nothing written meanwhile is missed. */
		shadow_devmem_log(&board->sh, true);
	}
}

/* A snapshot of the framebuffer's registers and the pages written since
 * the last one: the shadow's dirty log (translated code) or the compare
 * with the copy, and the device's own log (the monitor's accesses through
 * the bus). Marks taken stay pending until a snapshot has them, so none
 * is lost to a busy lock. */
static void take_lfb_snapshot(struct board *board, uint64_t now_ns)
{
	struct board_screen *scr = &board->screen;
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
	if (shown_pages(&board->bochs, &first, &npages)) {
		uint32_t changed = scr->lfb_compare ? compare_shown(board, first, npages)
						    : shadow_harvest_dirty(&board->sh, scr->pending_dirty);
		choose_tracking(board, changed, npages);
	} else {
		shadow_harvest_dirty(&board->sh, scr->pending_dirty);
	}
	bochs_display_take_dirty(&board->bochs, scr->pending_dirty);
	if (scr->snap_lfb && board->bochs.generation == scr->snap_bochs.generation &&
	    !any_bit(scr->pending_dirty, sizeof(scr->pending_dirty))) {
		if (locked)
			pthread_mutex_unlock(&scr->lock);
		return;
	}
	if (!locked && pthread_mutex_trylock(&scr->lock))
		return;
	struct bochs_shown shown = scr->snap_bochs.shown;   /* the window's, not the device's */
	scr->snap_bochs = board->bochs;
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
static void take_snapshot(struct board *board, uint64_t now_ns)
{
	struct board_screen *scr = &board->screen;
	const uint8_t *live = board->ram.host + VGA_LEGACY_BASE;
	scr->last_snapshot_ns = now_ns;
	if (bochs_display_active(&board->bochs, NULL, NULL)) {
		take_lfb_snapshot(board, now_ns);
		return;
	}
	if (!scr->snap_lfb && board->vga.generation == scr->snap_vga.generation &&
	    !memcmp(live, scr->snap_window, VGA_LEGACY_SIZE))
		return;
	/* The display thread may be drawing the last one: try again at the
	 * next poll rather than wait for it. */
	if (pthread_mutex_trylock(&scr->lock))
		return;
	scr->snap_vga = board->vga;
	memcpy(scr->snap_window, live, VGA_LEGACY_SIZE);
	scr->snap_lfb = false;
	scr->snap_gen++;
	pthread_mutex_unlock(&scr->lock);
	scr->win->frame_ready(scr->display);
}

static bool deliver_event(struct board *board, const struct display_event *ev)
{
	if (ev->kind == DISPLAY_EVENT_KEY) {
		uint8_t seq[KEYMAP_MAX_SEQUENCE];
		unsigned n = keymap_set2_sequence(ev->scancode, ev->pressed, seq);
		return !n || i8042_key_sequence(&board->kbc, seq, n);
	}
	/* The mouse keeps what it cannot send yet, and a mouse the guest has
	 * not enabled drops motion as a real one does: never offered again. */
	(void)i8042_mouse_event(&board->kbc, ev->dx, ev->dy, ev->dz, ev->buttons);
	return true;
}

int board_screen_write(struct board *board, const char *path, char *err, size_t err_len)
{
	struct board_screen *scr = &board->screen;
	const uint8_t *live = board->ram.host + VGA_LEGACY_BASE;
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
			/* A framebuffer has no text to dump. */
			size_t n = bochs_display_active(&board->bochs, NULL, NULL)
					   ? 0
					   : vga_text_dump(&board->vga, live, text, VGA_TEXT_DUMP_MAX);
			fwrite(text, 1, n, out.f);
			ret = outfile_commit(&out, false, err, err_len);
		}
		free(text);
	} else {
		unsigned width = 0, height = 0;
		if (!scr->shot_pixels)
			scr->shot_pixels = malloc(SHOT_MAX_PIXELS * 4);
		ret = -ENOMEM;
		snprintf(err, err_len, "out of memory");
		if (scr->shot_pixels) {
			if (!bochs_display_active(&board->bochs, NULL, NULL))
				vga_render(&board->vga, live, 0, scr->shot_pixels, &width, &height);
			else if (!bochs_display_render(&board->bochs, NULL, true, scr->shot_pixels, &width,
						       &height) && width && height)
				memset(scr->shot_pixels, 0, (size_t)width * height * 4);
			ret = screenshot_write_png(path, scr->shot_pixels, width, height, err,
						   err_len);
		}
	}
	if (!ret)
		scr->screenshots++;
	return ret;
}

static void write_screenshots(struct board *board)
{
	for (unsigned i = 0; i < board->cfg.screenshot_count; i++) {
		const char *path = board->cfg.screenshot_paths[i];
		char why[512];
		if (board_screen_write(board, path, why, sizeof(why)))
			fprintf(stderr, "btvm: cannot write the screenshot: %s\n", why);
	}
}

void board_screen_poll(struct board *board, uint64_t now_ns)
{
	struct board_screen *scr = &board->screen;
	if (shot_requested) {
		shot_requested = 0;
		write_screenshots(board);
	}
	if (!scr->display)
		return;
	if (atomic_exchange(&scr->power_button, false))
		acpi_pm_power_button(&board->pm);
	if (atomic_load(&scr->quit)) {
		fprintf(stderr, "btvm: the window was closed twice; stopping the guest\n");
		board->exit_requested = true;
		board->exit_status = 0;
		board->cpu.stop = true;
		return;
	}
	struct display_event ev;
	scr->input_backlog = false;
	while (scr->win->next_event(scr->display, &ev)) {
		if (!deliver_event(board, &ev)) {
			scr->win->unread_event(scr->display, &ev);
			scr->input_backlog = true;
			scr->input_retry_ns = now_ns + INPUT_RETRY_NS;
			break;
		}
	}
	if (now_ns - scr->last_snapshot_ns >= SNAPSHOT_INTERVAL_NS)
		take_snapshot(board, now_ns);
}

void board_screen_flush(struct board *board, uint64_t now_ns)
{
	if (board->screen.display)
		take_snapshot(board, now_ns);
}

uint64_t board_screen_deadline(const struct board *board)
{
	const struct board_screen *scr = &board->screen;
	if (!scr->display)
		return UINT64_MAX;
	uint64_t due = scr->last_snapshot_ns + SNAPSHOT_INTERVAL_NS;
	if (scr->input_backlog && scr->input_retry_ns < due)
		due = scr->input_retry_ns;
	return due;
}

bool board_screen_input_possible(const struct board *board)
{
	return board->screen.display != NULL;
}

void board_screen_close(struct board *board)
{
	struct board_screen *scr = &board->screen;
	write_screenshots(board);
	if (scr->display)
		scr->win->close(scr->display);
	scr->display = NULL;
}

void board_screen_set_state(struct board *board, const char *state)
{
	struct board_screen *scr = &board->screen;
	if (scr->display)
		scr->win->set_state(scr->display, state);
}

void board_screen_destroy(struct board *board)
{
	struct board_screen *scr = &board->screen;
	if (shot_board == board) {
		signal(SIGUSR2, SIG_DFL);
		shot_board = NULL;
	}
	if (scr->display)
		scr->win->close(scr->display);
	scr->display = NULL;
	free(scr->snap_window);
	free(scr->shot_pixels);
	free(scr->lfb_copy);
	scr->lfb_copy = NULL;
	scr->snap_window = NULL;
	scr->shot_pixels = NULL;
	pthread_mutex_destroy(&scr->lock);
}
