/* The SDL2 window and its thread: event handling (keys, mouse grab and
 * release or the tablet's absolute pointer, the full-screen key, close), scaling the picture to the
 * window, redrawing at most 60 times a second and only when the
 * board's render callback says something changed, and the input queue the
 * vCPU thread drains. Every SDL call but SDL_PushEvent happens on the
 * display thread, which is how SDL wants a window used off the main
 * thread. */
#define _GNU_SOURCE
#include "host/display.h"
#include "host/picture_scale.h"
#include "host/thread.h"

#include <SDL2/SDL.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Input events waiting for the vCPU thread. Mouse motion merges into the
 * newest queued event when that is a motion too, not a press or release
 * (a tablet position replaces the newest queued one), so a guest that
 * does not read its mouse for a while costs one slot, not thousands. */
#define EVENT_QUEUE_SIZE 512u
/* 60 Hz */
#define FRAME_INTERVAL_MS 16u

struct display {
	pthread_t thread;
	struct display_ops ops;
	char name[64];

	pthread_mutex_t lock;   /* everything below */
	pthread_cond_t started_cond;
	bool started, start_failed;
	char start_error[256];
	struct display_event queue[EVENT_QUEUE_SIZE];
	unsigned head, count;
	/* The last queued event only moved the pointer or turned the wheel
	 * (changed no button): later ones of its kind may merge into it. */
	bool tail_merges;
	unsigned queued_buttons; /* the buttons of the last pointer event queued */
	const char *state;
	bool absolute;          /* display_set_absolute's, for the display thread */
	bool stopping;

	/* The picture size the user asked for by sizing the window (or
	 * making it full screen), width << 16 | height, 0 for none; written
	 * by the display thread, read by the vCPU's (the std VGA's EDID). */
	_Atomic uint32_t wanted_size;

	/* Display thread only. */
	uint32_t user_event;    /* the first of three registered SDL event types */
	SDL_Window *window;
	SDL_Renderer *renderer;
	SDL_Texture *texture;
	unsigned pic_width, pic_height;  /* the guest's picture, in pixels */
	unsigned tex_width, tex_height;  /* the texture: the picture reduced by shrink */
	unsigned shrink;                 /* 1, or the box filter's factor (picture_shrink_factor) */
	uint32_t *pixels;                /* the picture, as render left it */
	uint32_t *reduced;               /* the picture reduced, when shrink > 1 */
	bool grabbed;
	bool tablet;               /* absolute mode as the display thread last took it */
	bool tablet_held;          /* buttons went down over the picture in absolute mode */
	bool pointer_on_picture;   /* as the last mouse event left it, in absolute mode */
	unsigned tablet_x, tablet_y; /* the pointer's last position on the picture, tablet units */
	bool closed_once;
	bool sized_by_user;
	bool fullscreen;
	bool fullscreen_key_down;  /* the F of Ctrl+Alt+F, kept from the guest until released */
	bool integer_scale;        /* the scaling present() set up last */
	int out_width, out_height; /* the window's size in pixels it was set up for */
	unsigned buttons;
};

enum { USER_FRAME, USER_TITLE, USER_STOP };

bool display_server_named(void)
{
	const char *x = getenv("DISPLAY"), *wl = getenv("WAYLAND_DISPLAY");
	return (x && *x) || (wl && *wl);
}

static void push_user_event(struct display *d, int which)
{
	SDL_Event ev = { .type = d->user_event + (uint32_t)which };
	/* A full SDL queue already holds a wake-up for the thread. */
	SDL_PushEvent(&ev);
}

static void queue_event(struct display *d, const struct display_event *ev)
{
	pthread_mutex_lock(&d->lock);
	/* Motion merges into motion, never into a press or a release: a drag
	 * read at once would put its press where it ended. */
	bool moves_only = ev->kind != DISPLAY_EVENT_KEY && ev->buttons == d->queued_buttons;
	if (moves_only && d->tail_merges && d->count) {
		struct display_event *last = &d->queue[(d->head + d->count - 1) % EVENT_QUEUE_SIZE];
		if (last->kind == ev->kind) {
			last->dx += ev->dx;
			last->dy += ev->dy;
			last->dz += ev->dz;
			last->x = ev->x;
			last->y = ev->y;
			pthread_mutex_unlock(&d->lock);
			return;
		}
	}
	if (d->count < EVENT_QUEUE_SIZE) {
		d->queue[(d->head + d->count) % EVENT_QUEUE_SIZE] = *ev;
		d->count++;
		d->tail_merges = moves_only;
		if (ev->kind != DISPLAY_EVENT_KEY)
			d->queued_buttons = ev->buttons;
	}
	pthread_mutex_unlock(&d->lock);
	d->ops.notify(d->ops.opaque);
}

bool display_next_event(struct display *d, struct display_event *ev)
{
	bool got = false;
	pthread_mutex_lock(&d->lock);
	if (d->count) {
		*ev = d->queue[d->head];
		d->head = (d->head + 1) % EVENT_QUEUE_SIZE;
		d->count--;
		got = true;
	}
	pthread_mutex_unlock(&d->lock);
	return got;
}

void display_unread_event(struct display *d, const struct display_event *ev)
{
	pthread_mutex_lock(&d->lock);
	/* The slot it came from is free unless the display thread filled it
	 * meanwhile; then the newest event gives way, as a full queue drops. */
	if (d->count == EVENT_QUEUE_SIZE)
		d->count--;
	d->head = (d->head + EVENT_QUEUE_SIZE - 1) % EVENT_QUEUE_SIZE;
	d->queue[d->head] = *ev;
	d->count++;
	pthread_mutex_unlock(&d->lock);
}

void display_frame_ready(struct display *d)
{
	push_user_event(d, USER_FRAME);
}

void display_set_state(struct display *d, const char *state)
{
	pthread_mutex_lock(&d->lock);
	d->state = state;
	pthread_mutex_unlock(&d->lock);
	push_user_event(d, USER_TITLE);
}

static void set_grab(struct display *d, bool grab);

/* The title, and absolute mode as display_set_absolute last said: a grab
 * held when the tablet's driver starts is let go, as the tablet needs
 * none. */
static void update_title(struct display *d)
{
	char title[256];
	pthread_mutex_lock(&d->lock);
	const char *state = d->state;
	bool absolute = d->absolute;
	pthread_mutex_unlock(&d->lock);
	if (absolute != d->tablet) {
		d->tablet = absolute;
		d->tablet_held = false;
		if (absolute && d->grabbed) {
			set_grab(d, false);
			return;   /* set_grab came back here */
		}
	}
	snprintf(title, sizeof(title), "btvm - %s - %s%s", d->name, state,
		 d->grabbed  ? " - Ctrl+Alt releases the mouse"
		 : d->tablet ? " - tablet"
			     : "");
	SDL_SetWindowTitle(d->window, title);
}

void display_set_absolute(struct display *d, bool on)
{
	pthread_mutex_lock(&d->lock);
	d->absolute = on;
	pthread_mutex_unlock(&d->lock);
	push_user_event(d, USER_TITLE);
}

static void set_grab(struct display *d, bool grab)
{
	if (d->grabbed == grab)
		return;
	/* Relative mode hides the pointer and reports motion however far it
	 * goes, as a VM's mouse needs; keyboard grab sends the desktop's own
	 * shortcuts (Alt+Tab) to the guest while the mouse is held. */
	if (SDL_SetRelativeMouseMode(grab ? SDL_TRUE : SDL_FALSE) < 0 && grab)
		return;
	SDL_SetWindowKeyboardGrab(d->window, grab ? SDL_TRUE : SDL_FALSE);
	d->grabbed = grab;
	update_title(d);
}

static unsigned sdl_button_bit(uint8_t button)
{
	switch (button) {
	case SDL_BUTTON_LEFT:
		return DISPLAY_BUTTON_LEFT;
	case SDL_BUTTON_RIGHT:
		return DISPLAY_BUTTON_RIGHT;
	case SDL_BUTTON_MIDDLE:
		return DISPLAY_BUTTON_MIDDLE;
	default:
		return 0;
	}
}

static void send_mouse(struct display *d, int dx, int dy, int dz)
{
	struct display_event ev = {
		.kind = DISPLAY_EVENT_MOUSE, .dx = dx, .dy = dy, .dz = dz, .buttons = d->buttons,
	};
	queue_event(d, &ev);
}

/* Absolute mode: the pointer at (lx, ly) as a mouse event gives it. Once
 * the renderer has a logical size (the picture's), SDL gives mouse events'
 * positions in the picture's pixels, through the letterboxing and
 * scaling, outside 0..size-1 on the black borders. The event's position,
 * not SDL_GetMouseState's: that is where the pointer was when SDL last
 * read the X queue, which under load is past the events still to be
 * handled here (a press would land where the drag after it ended).
 * Returns whether the pointer is on the picture; the tablet's position
 * follows it only there. */
static bool pointer_at(struct display *d, int lx, int ly)
{
	d->pointer_on_picture = d->pic_width && d->pic_height && lx >= 0 && ly >= 0 &&
				(unsigned)lx < d->pic_width && (unsigned)ly < d->pic_height;
	if (!d->pointer_on_picture)
		return false;
	/* The picture's first and last pixels are the tablet's ends. */
	d->tablet_x = d->pic_width > 1 ? (unsigned)lx * DISPLAY_TABLET_MAX / (d->pic_width - 1) : 0;
	d->tablet_y =
		d->pic_height > 1 ? (unsigned)ly * DISPLAY_TABLET_MAX / (d->pic_height - 1) : 0;
	return true;
}

/* Absolute mode: a report at the tablet's position (the pointer's, as the
 * last mouse event left it) when the pointer is on the picture; off it,
 * only while a button pressed on it is held (a drag off the picture), at
 * the last position on it. */
static void send_tablet(struct display *d, int dz)
{
	if (!d->pointer_on_picture && !d->tablet_held)
		return;
	struct display_event ev = {
		.kind = DISPLAY_EVENT_TABLET,
		.x = d->tablet_x,
		.y = d->tablet_y,
		.dz = dz,
		.buttons = d->buttons,
	};
	queue_event(d, &ev);
}

/* Absolute mode's buttons: a press on the picture goes to the guest, a
 * release of a button it has goes wherever the pointer is. */
static void tablet_button(struct display *d, const SDL_MouseButtonEvent *button)
{
	unsigned bit = sdl_button_bit(button->button);
	if (!bit)
		return;
	bool on_picture = pointer_at(d, button->x, button->y);
	if (button->state == SDL_PRESSED) {
		if (!on_picture)
			return;
		d->buttons |= bit;
		d->tablet_held = true;
	} else {
		if (!(d->buttons & bit))
			return;
		d->buttons &= ~bit;
	}
	send_tablet(d, 0);
	d->tablet_held = d->buttons != 0;
}

/* The guest's display may offer the window's size as its preferred mode
 * (display_wanted_size): the size the user chose, not the one btvm gave
 * the window to fit the guest's picture. */
static void update_wanted_size(struct display *d)
{
	int w = 0, h = 0;
	uint32_t size = 0;
	if ((d->fullscreen || d->sized_by_user) &&
	    SDL_GetRendererOutputSize(d->renderer, &w, &h) == 0 && w > 0 && h > 0 &&
	    w <= 0xffff && h <= 0xffff)
		size = (uint32_t)w << 16 | (uint32_t)h;
	atomic_store(&d->wanted_size, size);
}

bool display_wanted_size(struct display *d, unsigned *width, unsigned *height)
{
	uint32_t size = atomic_load(&d->wanted_size);
	*width = size >> 16;
	*height = size & 0xffffu;
	return size != 0;
}

static void toggle_fullscreen(struct display *d)
{
	bool on = !d->fullscreen;
	/* The desktop's resolution, not a mode change: the picture is scaled
	 * to it as to any window, and leaving restores the window's size. */
	if (SDL_SetWindowFullscreen(d->window, on ? SDL_WINDOW_FULLSCREEN_DESKTOP : 0) == 0)
		d->fullscreen = on;
}

static void handle_key(struct display *d, const SDL_KeyboardEvent *key)
{
	/* The modifiers as they were at this key, not SDL_GetModState's:
	 * that is the state after every event SDL has read from the X queue,
	 * and under load the Ctrl and Alt releases after an F may have been
	 * read before the F is handled here. */
	SDL_Keymod mod = key->keysym.mod;
	/* Ctrl+Alt+F is the window's, as QEMU's: the F never reaches the
	 * guest, nor its repeats and release while it is held (the Ctrl and
	 * Alt presses before it did, as with any host shortcut). */
	if (key->keysym.scancode == SDL_SCANCODE_F) {
		if (key->state == SDL_PRESSED && !d->fullscreen_key_down && (mod & KMOD_CTRL) &&
		    (mod & KMOD_ALT)) {
			d->fullscreen_key_down = true;
			toggle_fullscreen(d);
			return;
		}
		if (d->fullscreen_key_down) {
			if (key->state == SDL_RELEASED)
				d->fullscreen_key_down = false;
			return;
		}
	}
	struct display_event ev = {
		.kind = DISPLAY_EVENT_KEY,
		.scancode = key->keysym.scancode,
		.pressed = key->state == SDL_PRESSED,
	};
	queue_event(d, &ev);
	if (ev.pressed && d->grabbed && (mod & KMOD_CTRL) && (mod & KMOD_ALT))
		set_grab(d, false);
}

/* The picture in d->pixels into the texture, reduced first where the
 * window is less than half its size; the texture made anew when its size
 * changes. */
static void upload(struct display *d)
{
	int out_w = 0, out_h = 0;
	if (SDL_GetRendererOutputSize(d->renderer, &out_w, &out_h) < 0)
		out_w = out_h = 0;
	unsigned n = out_w > 0 && out_h > 0
			     ? picture_shrink_factor(d->pic_width, d->pic_height, (unsigned)out_w,
						     (unsigned)out_h)
			     : 1;
	unsigned tex_w = (d->pic_width + n - 1) / n, tex_h = (d->pic_height + n - 1) / n;
	if (!d->texture || tex_w != d->tex_width || tex_h != d->tex_height) {
		if (d->texture)
			SDL_DestroyTexture(d->texture);
		d->texture = SDL_CreateTexture(d->renderer, SDL_PIXELFORMAT_RGB888,
					       SDL_TEXTUREACCESS_STREAMING, (int)tex_w, (int)tex_h);
		if (!d->texture)
			return;
		d->tex_width = tex_w;
		d->tex_height = tex_h;
		d->out_width = d->out_height = 0; /* a new texture: its scale mode anew */
	}
	d->shrink = n;
	if (n == 1) {
		SDL_UpdateTexture(d->texture, NULL, d->pixels, (int)(d->pic_width * 4));
		return;
	}
	picture_box_reduce(d->reduced, d->pixels, d->pic_width, d->pic_height, n);
	SDL_UpdateTexture(d->texture, NULL, d->reduced, (int)(tex_w * 4));
}

/* How the picture fills the window (picture_integer_scale): whole-number
 * scaling, sharp, where it fits; elsewhere bilinear filtering, which
 * blends neighbouring rows and columns where nearest neighbour would drop
 * whole ones (a shrunk window read "lost+found" as "lust+found"). The
 * aspect ratio is kept either way. */
static void set_scaling(struct display *d)
{
	int out_w = 0, out_h = 0;
	if (SDL_GetRendererOutputSize(d->renderer, &out_w, &out_h) < 0 || out_w <= 0 || out_h <= 0)
		return;
	bool integer = picture_integer_scale(d->pic_width, d->pic_height, (unsigned)out_w,
					     (unsigned)out_h);
	if (integer == d->integer_scale && out_w == d->out_width && out_h == d->out_height)
		return;
	SDL_RenderSetIntegerScale(d->renderer, integer ? SDL_TRUE : SDL_FALSE);
	SDL_SetTextureScaleMode(d->texture, integer ? SDL_ScaleModeNearest : SDL_ScaleModeLinear);
	d->integer_scale = integer;
	d->out_width = out_w;
	d->out_height = out_h;
}

static void present(struct display *d)
{
	SDL_RenderClear(d->renderer);
	if (d->texture) {
		int out_w = 0, out_h = 0;
		/* A resize across the reduction's steps: the same picture
		 * reduced anew. */
		if (SDL_GetRendererOutputSize(d->renderer, &out_w, &out_h) == 0 && out_w > 0 &&
		    out_h > 0 &&
		    picture_shrink_factor(d->pic_width, d->pic_height, (unsigned)out_w,
					  (unsigned)out_h) != d->shrink)
			upload(d);
	}
	if (d->texture) {
		set_scaling(d);
		SDL_RenderCopy(d->renderer, d->texture, NULL, NULL);
	}
	SDL_RenderPresent(d->renderer);
}

/* Asks the board for a new picture and shows it if there is one. */
static void redraw(struct display *d, uint64_t now_ms, bool force)
{
	unsigned width = 0, height = 0;
	if (!d->ops.render(d->ops.opaque, d->pixels, &width, &height, now_ms)) {
		if (force)
			present(d);
		return;
	}
	if (!width || !height || width > DISPLAY_MAX_WIDTH || height > DISPLAY_MAX_HEIGHT)
		return;
	if (width != d->pic_width || height != d->pic_height) {
		d->pic_width = width;
		d->pic_height = height;
		/* Letterboxed scaling keeps the guest's aspect ratio whatever
		 * the window's shape. */
		SDL_RenderSetLogicalSize(d->renderer, (int)width, (int)height);
		if (!d->sized_by_user && !d->fullscreen) {
			/* The guest's size, centred again so that a window that
			 * grew (text mode to a framebuffer) stays on the screen. */
			SDL_SetWindowSize(d->window, (int)width, (int)height);
			SDL_SetWindowPosition(d->window, SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED);
		}
	}
	upload(d);
	present(d);
}

static void handle_window_event(struct display *d, const SDL_WindowEvent *w)
{
	switch (w->event) {
	case SDL_WINDOWEVENT_CLOSE:
		d->ops.close(d->ops.opaque, d->closed_once);
		d->closed_once = true;
		break;
	case SDL_WINDOWEVENT_FOCUS_LOST:
		set_grab(d, false);
		break;
	case SDL_WINDOWEVENT_RESIZED:
		/* Full screen and back is not the user's choice of a size. */
		if (!d->fullscreen &&
		    ((unsigned)w->data1 != d->pic_width || (unsigned)w->data2 != d->pic_height))
			d->sized_by_user = true;
		update_wanted_size(d);
		present(d);
		break;
	case SDL_WINDOWEVENT_EXPOSED:
	case SDL_WINDOWEVENT_SIZE_CHANGED:
		present(d);
		break;
	default:
		break;
	}
}

/* Returns false when the thread is to stop. */
static bool handle_event(struct display *d, const SDL_Event *ev, bool *frame_wanted)
{
	switch (ev->type) {
	case SDL_KEYDOWN:
	case SDL_KEYUP:
		handle_key(d, &ev->key);
		break;
	case SDL_MOUSEBUTTONDOWN:
		if (d->tablet && !d->grabbed) {
			tablet_button(d, &ev->button);
			break;
		}
		if (!d->grabbed) {
			/* The click that takes the mouse is not the guest's. */
			set_grab(d, true);
			break;
		}
		d->buttons |= sdl_button_bit(ev->button.button);
		send_mouse(d, 0, 0, 0);
		break;
	case SDL_MOUSEBUTTONUP:
		if (d->tablet && !d->grabbed) {
			tablet_button(d, &ev->button);
			break;
		}
		if (!d->grabbed || !(d->buttons & sdl_button_bit(ev->button.button)))
			break;
		d->buttons &= ~sdl_button_bit(ev->button.button);
		send_mouse(d, 0, 0, 0);
		break;
	case SDL_MOUSEMOTION:
		if (d->tablet && !d->grabbed) {
			pointer_at(d, ev->motion.x, ev->motion.y);
			send_tablet(d, 0);
			break;
		}
		if (d->grabbed && (ev->motion.xrel || ev->motion.yrel))
			send_mouse(d, ev->motion.xrel, ev->motion.yrel, 0);
		break;
	case SDL_MOUSEWHEEL:
		if (d->tablet && !d->grabbed && ev->wheel.y) {
			int y = ev->wheel.direction == SDL_MOUSEWHEEL_FLIPPED ? -ev->wheel.y : ev->wheel.y;
			send_tablet(d, y);
			break;
		}
		if (d->grabbed && ev->wheel.y) {
			int y = ev->wheel.direction == SDL_MOUSEWHEEL_FLIPPED ? -ev->wheel.y : ev->wheel.y;
			send_mouse(d, 0, 0, y);
		}
		break;
	case SDL_WINDOWEVENT:
		handle_window_event(d, &ev->window);
		break;
	default:
		if (ev->type == d->user_event + USER_FRAME)
			*frame_wanted = true;
		else if (ev->type == d->user_event + USER_TITLE)
			update_title(d);
		else if (ev->type == d->user_event + USER_STOP)
			return false;
		break;
	}
	return true;
}

static int start_sdl(struct display *d)
{
	/* The monitor owns SIGINT and SIGTERM; closing the window is an
	 * event, not a request to quit the process. */
	SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1");
	SDL_SetHint(SDL_HINT_QUIT_ON_LAST_WINDOW_CLOSE, "0");
	SDL_SetHint(SDL_HINT_VIDEO_X11_NET_WM_BYPASS_COMPOSITOR, "0");
	if (!display_server_named()) {
		snprintf(d->start_error, sizeof(d->start_error),
			 "cannot open the display window: no display server (DISPLAY and "
			 "WAYLAND_DISPLAY are not set)");
		return -ENODEV;
	}
	/* Only the server named: an X display that does not answer must not
	 * send SDL on to Wayland (whose library complains on stderr). */
	const char *x = getenv("DISPLAY"), *wl = getenv("WAYLAND_DISPLAY");
	if (!(wl && *wl))
		SDL_SetHint(SDL_HINT_VIDEODRIVER, "x11");
	else if (!(x && *x))
		SDL_SetHint(SDL_HINT_VIDEODRIVER, "wayland");
	if (SDL_Init(SDL_INIT_VIDEO) < 0) {
		snprintf(d->start_error, sizeof(d->start_error),
			 "cannot open the display window: the display server (%s%s%s) does not "
			 "answer: %s", x && *x ? "DISPLAY=" : "", x && *x ? x : "",
			 wl && *wl ? " WAYLAND_DISPLAY set" : "", SDL_GetError());
		return -ENODEV;
	}
	/* SDL falls back to drivers that show nothing on a desktop (KMS/DRM
	 * on a console, offscreen): a window is X11's or Wayland's. */
	const char *driver = SDL_GetCurrentVideoDriver();
	if (!driver || (strcmp(driver, "x11") && strcmp(driver, "wayland"))) {
		snprintf(d->start_error, sizeof(d->start_error),
			 "cannot open the display window: no X11 or Wayland display server "
			 "answers (SDL found only '%s')", driver ? driver : "none");
		return -ENODEV;
	}
	d->user_event = SDL_RegisterEvents(3);
	if (d->user_event == (uint32_t)-1) {
		snprintf(d->start_error, sizeof(d->start_error), "SDL has no user events left");
		return -ENOSPC;
	}
	d->window = SDL_CreateWindow("btvm", SDL_WINDOWPOS_UNDEFINED, SDL_WINDOWPOS_UNDEFINED, 720,
				     400, SDL_WINDOW_RESIZABLE);
	if (d->window)
		d->renderer = SDL_CreateRenderer(d->window, -1, 0);
	if (!d->window || !d->renderer) {
		snprintf(d->start_error, sizeof(d->start_error), "cannot create the window: %s",
			 SDL_GetError());
		return -ENODEV;
	}
	SDL_SetRenderDrawColor(d->renderer, 0, 0, 0, 255);
	update_title(d);
	present(d);
	return 0;
}

static void stop_sdl(struct display *d)
{
	if (d->texture)
		SDL_DestroyTexture(d->texture);
	if (d->renderer)
		SDL_DestroyRenderer(d->renderer);
	if (d->window)
		SDL_DestroyWindow(d->window);
	/* No SDL_Quit: the window closes when btvm ends, and the display
	 * server frees what a client leaves. SDL_Quit would unload the video
	 * backend's libraries, and what they keep for the process's life
	 * (libdbus's, SDL's own) would then show under LeakSanitizer as leaks
	 * from unknown code, which no suppression can name. */
}

static void *display_main(void *arg)
{
	struct display *d = arg;
	int err = start_sdl(d);
	pthread_mutex_lock(&d->lock);
	d->started = true;
	d->start_failed = err != 0;
	pthread_cond_signal(&d->started_cond);
	pthread_mutex_unlock(&d->lock);
	if (err) {
		stop_sdl(d);
		return NULL;
	}

	uint64_t last_frame = 0;
	bool frame_wanted = true;
	for (;;) {
		uint64_t now = SDL_GetTicks64();
		uint64_t next = last_frame + FRAME_INTERVAL_MS;
		/* Blinking text asks for a frame a few times a second; render
		 * answers false when nothing changed, which costs no drawing. */
		int timeout = (int)(next > now ? next - now : 0);
		if (!frame_wanted)
			timeout = 250;
		SDL_Event ev;
		bool running = true;
		if (SDL_WaitEventTimeout(&ev, timeout)) {
			running = handle_event(d, &ev, &frame_wanted);
			while (running && SDL_PollEvent(&ev))
				running = handle_event(d, &ev, &frame_wanted);
		} else if (!frame_wanted) {
			frame_wanted = true;
		}
		pthread_mutex_lock(&d->lock);
		if (d->stopping)
			running = false;
		pthread_mutex_unlock(&d->lock);
		if (!running)
			break;
		now = SDL_GetTicks64();
		if (frame_wanted && now >= last_frame + FRAME_INTERVAL_MS) {
			redraw(d, now, false);
			last_frame = now;
			frame_wanted = false;
		}
	}
	stop_sdl(d);
	return NULL;
}

int display_open(struct display **out, const char *name, const struct display_ops *ops,
		 char *err, size_t err_len)
{
	struct display *d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(err, err_len, "out of memory for the display");
		return -ENOMEM;
	}
	d->pixels = malloc((size_t)DISPLAY_MAX_WIDTH * DISPLAY_MAX_HEIGHT * 4);
	/* Reduced by at least 2 each way (picture_shrink_factor). */
	d->reduced = malloc((size_t)(DISPLAY_MAX_WIDTH + 1) / 2 * ((DISPLAY_MAX_HEIGHT + 1) / 2) * 4);
	if (!d->pixels || !d->reduced) {
		free(d->pixels);
		free(d->reduced);
		free(d);
		snprintf(err, err_len, "out of memory for the display");
		return -ENOMEM;
	}
	d->ops = *ops;
	d->state = "running";
	snprintf(d->name, sizeof(d->name), "%s", name);
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->started_cond, NULL);

	int rc = -host_thread_create(&d->thread, display_main, d);
	if (rc) {
		snprintf(err, err_len, "cannot start the display thread: %s", strerror(rc));
		goto fail;
	}
	pthread_mutex_lock(&d->lock);
	while (!d->started)
		pthread_cond_wait(&d->started_cond, &d->lock);
	pthread_mutex_unlock(&d->lock);
	if (d->start_failed) {
		pthread_join(d->thread, NULL);
		snprintf(err, err_len, "%s", d->start_error);
		rc = ENODEV;
		goto fail;
	}
	*out = d;
	return 0;
fail:
	pthread_cond_destroy(&d->started_cond);
	pthread_mutex_destroy(&d->lock);
	free(d->pixels);
	free(d->reduced);
	free(d);
	return -rc;
}

void display_close(struct display *d)
{
	if (!d)
		return;
	/* The flag is for an SDL queue too full to take the event: the
	 * thread looks at it at least every 250 ms. */
	pthread_mutex_lock(&d->lock);
	d->stopping = true;
	pthread_mutex_unlock(&d->lock);
	push_user_event(d, USER_STOP);
	pthread_join(d->thread, NULL);
	pthread_cond_destroy(&d->started_cond);
	pthread_mutex_destroy(&d->lock);
	free(d->pixels);
	free(d->reduced);
	free(d);
}

const struct display_backend display_sdl = {
	.server_named = display_server_named,
	.open = display_open,
	.close = display_close,
	.next_event = display_next_event,
	.unread_event = display_unread_event,
	.frame_ready = display_frame_ready,
	.set_state = display_set_state,
	.set_absolute = display_set_absolute,
	.wanted_size = display_wanted_size,
};
