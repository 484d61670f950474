/* A test's hands on an X server: asks a window to close as a window
 * manager's close button does (WM_DELETE_WINDOW), or captures a window's
 * pixels as a binary PPM, what a person would see of it. */
#include <X11/Xatom.h>
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int send_close(Display *dpy, Window win)
{
	XEvent ev;
	memset(&ev, 0, sizeof(ev));
	ev.xclient.type = ClientMessage;
	ev.xclient.window = win;
	ev.xclient.message_type = XInternAtom(dpy, "WM_PROTOCOLS", False);
	ev.xclient.format = 32;
	ev.xclient.data.l[0] = (long)XInternAtom(dpy, "WM_DELETE_WINDOW", False);
	ev.xclient.data.l[1] = CurrentTime;
	if (!XSendEvent(dpy, win, False, NoEventMask, &ev))
		return 1;
	XSync(dpy, False);
	return 0;
}

static int capture(Display *dpy, Window win, const char *path)
{
	XWindowAttributes attr;
	if (!XGetWindowAttributes(dpy, win, &attr))
		return 1;
	XImage *img = XGetImage(dpy, win, 0, 0, (unsigned)attr.width, (unsigned)attr.height,
				AllPlanes, ZPixmap);
	if (!img)
		return 1;
	FILE *f = fopen(path, "wb");
	if (!f) {
		XDestroyImage(img);
		return 1;
	}
	fprintf(f, "P6\n%d %d\n255\n", attr.width, attr.height);
	for (int y = 0; y < attr.height; y++) {
		for (int x = 0; x < attr.width; x++) {
			unsigned long p = XGetPixel(img, x, y);
			unsigned char rgb[3] = { (unsigned char)((p & img->red_mask) >> 16),
						 (unsigned char)((p & img->green_mask) >> 8),
						 (unsigned char)(p & img->blue_mask) };
			fwrite(rgb, 1, 3, f);
		}
	}
	XDestroyImage(img);
	return fclose(f) ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 3 || (strcmp(argv[1], "close") && strcmp(argv[1], "capture")) ||
	    (!strcmp(argv[1], "capture") && argc < 4)) {
		fprintf(stderr, "usage: x11_probe close WINDOW | capture WINDOW FILE.ppm\n");
		return 2;
	}
	Display *dpy = XOpenDisplay(NULL);
	if (!dpy) {
		fprintf(stderr, "x11_probe: cannot open the display\n");
		return 1;
	}
	Window win = (Window)strtoul(argv[2], NULL, 0);
	int rc = !strcmp(argv[1], "close") ? send_close(dpy, win) : capture(dpy, win, argv[3]);
	XCloseDisplay(dpy);
	if (rc)
		fprintf(stderr, "x11_probe: %s failed\n", argv[1]);
	return rc;
}
