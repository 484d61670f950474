/* Writing the guest's screen to a file: PNG through libpng, or the text
 * of a text-mode screen. */
#ifndef BTVM_HOST_SCREENSHOT_H
#define BTVM_HOST_SCREENSHOT_H

#include <stddef.h>
#include <stdint.h>

/* Writes an XRGB8888 picture (width*4 bytes a row) as an 8-bit RGB PNG,
 * as host/outfile.h writes a file: a reader never sees half a picture.
 * Returns 0, or a negative errno with a one-line reason in err. */
int screenshot_write_png(const char *path, const uint32_t *pixels, unsigned width,
			 unsigned height, char *err, size_t err_len);

#endif
