/* An EDID 1.4 base block (VESA E-EDID, release A revision 2) describing
 * a digital display whose native and preferred mode is width x height at
 * 60 Hz: what QEMU's std VGA offers at the start of its MMIO BAR and
 * Linux's bochs-drm reads at probe to choose its mode. */
#ifndef BTVM_DEVICES_EDID_H
#define BTVM_DEVICES_EDID_H

#include <stdint.h>

#define EDID_BLOCK_SIZE 128u

/* The sizes edid_build describes: a mode outside is clamped into them
 * (the smallest a desktop is set to; the largest the std VGA shows,
 * BOCHS_MAX_WIDTH x BOCHS_MAX_HEIGHT). The width is rounded down to a
 * multiple of 8, the character cell consoles and X drivers assume. */
#define EDID_MIN_WIDTH 640u
#define EDID_MIN_HEIGHT 480u
#define EDID_MAX_WIDTH 2560u
#define EDID_MAX_HEIGHT 1600u

/* Fills out with the block: header, manufacturer "BTV", EDID 1.4, a
 * digital 8-bit RGB input, a physical size at 96 dots per inch, sRGB
 * chromaticity, the established 640x480, 800x600 and 1024x768 at 60 Hz,
 * the preferred mode as detailed timing 1 (CVT reduced blanking's
 * porches), the name "btvm" and range limits as descriptors 2 and 3, a
 * dummy descriptor 4, no extension, and the checksum. */
void edid_build(uint8_t out[EDID_BLOCK_SIZE], unsigned width, unsigned height);

#endif
