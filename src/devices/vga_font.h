/* What the VGA model's renderer, text dump and font generator share: the
 * default font, generated at build time from a Debian console font by
 * vga_fontgen.c (see the VGA section of CMakeLists.txt), and code page 437,
 * the character set of a VGA's ROM font. */
#ifndef BTVM_DEVICES_VGA_FONT_H
#define BTVM_DEVICES_VGA_FONT_H

#include <stdint.h>

/* Bytes per character in plane 2, whatever the character height: the
 * layout a VGA's character generator reads and a guest loads fonts in. */
#define VGA_FONT_STRIDE 32

/* 256 characters in CP437 order, 8 dots wide, one byte per scan line
 * (bit 7 the leftmost dot); lines from vga_default_font_height on are 0. */
extern const uint8_t vga_default_font[256][VGA_FONT_STRIDE];
extern const unsigned vga_default_font_height;

/* The Unicode code point each CP437 byte shows as on a VGA: the graphic
 * symbols for 0x01-0x1f and 0x7f (a VGA has no control characters), 0 for
 * 0x00, which a VGA shows blank. */
extern const uint16_t vga_cp437_unicode[256];

#endif
