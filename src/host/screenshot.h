/* Writing the guest's screen to a file: PNG through libpng, or the text
 * of a text-mode screen. */
#ifndef BTVM_HOST_SCREENSHOT_H
#define BTVM_HOST_SCREENSHOT_H

#include <stdint.h>

/* Writes an XRGB8888 picture (width*4 bytes a row) as an 8-bit RGB PNG,
 * through a temporary file renamed into place, so a reader never sees half
 * a picture. Returns 0 or a negative errno. */
int screenshot_write_png(const char *path, const uint32_t *pixels, unsigned width,
			 unsigned height);

#endif
