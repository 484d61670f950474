/* A legacy VGA in 80x25 colour text mode (mode 3): the register file at
 * ports 0x3b0-0x3df, a text-mode renderer into a host pixel buffer, and a
 * text dump of the screen. It is what Linux's vgacon (and any code writing
 * to 0xb8000 and the CRTC) needs to show a console in a window.
 *
 * Registers, all 8 bits wide (a 16-bit OUT to an index port is the index
 * then the data, as the bus splits it):
 * - miscellaneous output: written at 0x3c2, read at 0x3cc. Bit 0 moves the
 *   CRTC and input status 1 between 0x3d4/0x3d5/0x3da (set: colour) and
 *   0x3b4/0x3b5/0x3ba (clear: mono); the other set answers 0xff and drops
 *   writes. Input status 0 reads 0 at 0x3c2.
 * - feature control: written at 0x3da (0x3ba mono), read at 0x3ca; video
 *   subsystem enable at 0x3c3. Kept, nothing else.
 * - input status 1 (0x3da, 0x3ba mono): bits 0 (display disabled) and 3
 *   (vertical retrace) toggle on every read, so loops waiting for either
 *   edge of the retrace finish at once; a read also resets the attribute
 *   controller's flip-flop to "index".
 * - sequencer (index 0x3c4, data 0x3c5, registers 0-4), CRTC (index and
 *   data at 0x3d4/0x3d5 or 0x3b4/0x3b5, registers 0x00-0x18) and graphics
 *   controller (0x3ce/0x3cf, registers 0-8): reads give back what was
 *   written, less the bits a VGA does not have (sequencer and GC). CRTC
 *   register 0x11 bit 7 protects registers 0-7 from writes, except the line
 *   compare bit 4 of register 7. An index past the last register reads 0xff
 *   and its writes are dropped and counted (unknown_writes), as are writes
 *   to ports nothing answers at.
 * - attribute controller at 0x3c0: a write is the index (bits 0-4, with
 *   bit 5 the palette address source, PAS) or the data, alternately; 0x3c0
 *   reads the index, 0x3c1 the data (writes there are dropped). Registers
 *   0x00-0x0f palette, 0x10 mode control, 0x11 overscan, 0x12 colour plane
 *   enable, 0x13 pel panning, 0x14 colour select.
 * - DAC: 0x3c6 pel mask; a write of 0x3c7 sets the read index, of 0x3c8
 *   the write index; 0x3c9 then reads or writes red, green and blue of one
 *   entry in turn (6 bits each; a write takes effect with its blue) and the
 *   index moves on to the next entry, wrapping at 256. 0x3c7 reads 3 after a
 *   read index was set, 0 after a write index; 0x3c8 reads the write index.
 * Power-on values are those a VGA BIOS leaves after setting mode 3 (IBM's
 * mode 3 register tables, as SeaBIOS's vgabios has them): 720x400, 9-dot
 * characters 16 lines high, colour, CRTC 0x11 protecting 0-7, attribute
 * mode control 0x0c (blink, line graphics), PAS set, palette 0-5, 0x14, 7,
 * 0x38-0x3f, and the DAC's first 64 entries the EGA colours (entry bits
 * 5-0 = rgbRGB, the lower case worth 0x15 and the upper 0x2a) with the
 * other 192 black, as that BIOS loads them for mode 3.
 *
 * Memory: video memory is not modelled. Guest RAM is one block from
 * physical 0, so 0xa0000-0xbffff is plain RAM that translated code reads
 * and writes at full speed; the board hands the device a pointer to that
 * 128 KiB "legacy window" whenever it renders or dumps. In text mode a VGA's
 * CPU view of planes 0 and 1 interleaved (odd/even) is exactly the layout
 * in RAM at 0xb8000: character, attribute, character, ... So the text is
 * read from RAM where the guest put it: at the memory map (GC register 6
 * bits 2-3: 0xb8000, 0xb0000 or 0xa0000) that was selected the last time
 * the GC was in odd/even mode (GC 6 bit 1), since a font load moves the
 * CPU's map to 0xa0000 while the screen still shows planes 0 and 1. The
 * CRTC start address, cursor location and offset (0x0c-0x0f, 0x13) count
 * character cells, two bytes each in that window, and wrap inside it.
 *
 * Fonts: a VGA draws characters from plane 2, 32 bytes a character; the
 * BIOS puts its ROM font there. Until the guest loads a font the device
 * draws with its default font: code page 437 (0xb3 is a box line), 8x16,
 * generated at build time from a Debian console font (devices/vga_font.h).
 * Linux's vgacon loads a font by making plane 2 the only one written
 * (sequencer map mask 4), turning off odd/even (sequencer memory mode bit
 * 2), mapping memory at 0xa0000 (GC 6 map 0 or 1), writing 32 bytes a
 * character at 0xa0000, and restoring the text-mode values. Here those
 * bytes simply stay in RAM at 0xa0000; the device notices the register
 * state (entering it counts font_loads) and from then on takes glyphs from
 * RAM at 0xa0000 laid out as plane 2: character map n at 0xa0000 + (n & 3)
 * * 16 KiB + (n >> 2) * 8 KiB, map A (sequencer register 3 bits 5, 3-2)
 * for attribute bit 3 set and map B (bits 4, 1-0) for it clear, 512
 * characters when they differ. vga_init_memory() puts the default font
 * there as a BIOS would, so a guest reading the font back before setting
 * one (vgacon's get-font does the same register dance) reads a real font;
 * a board that skips it leaves that guest with whatever RAM held.
 *
 * Rendering (vga_render): text mode only. Columns are CRTC 0x01 + 1, lines
 * the vertical display end + 1 (CRTC 0x12 with bits 8-9 from 0x07), the
 * character height CRTC 0x09 bits 0-4 + 1 (bit 7 doubles every line), the
 * character width 9 dots, or 8 with sequencer 1 bit 0; bit 3 there (dot
 * clock / 2) doubles every dot. A picture is at most VGA_MAX_WIDTH x
 * VGA_MAX_HEIGHT. In 9-dot mode the ninth column is background, or repeats
 * the eighth for characters 0xc0-0xdf when attribute mode control bit 2 is
 * set. A character's attribute gives foreground (bits 0-3) and background
 * (bits 4-7; with attribute mode control bit 3 set, bit 7 is blink instead
 * and the background has bits 4-6: a blinking character shows only its
 * background half the time). A colour goes through the colour plane enable
 * mask, the palette register, colour select (bits 7-6 of the DAC index,
 * and 5-4 with mode control bit 7), the pel mask and the DAC (6 bits a
 * component, scaled to 8). Characters with attribute bits 0-2 = 1 and 4-6 =
 * 0 are underlined, all 9 dots, on the line CRTC 0x14 bits 0-4 gives. The
 * cursor (CRTC 0x0a/0x0b start and end line, 0x0a bit 5 off; none if start
 * > end) is drawn in the foreground colour at the cell CRTC 0x0e/0x0f
 * gives. Blink timing follows a 70 Hz VGA: the cursor toggles every 8
 * frames (~114 ms), blinking characters every 16 (~229 ms), counted from
 * the time the caller passes. The picture is black, at its size, while
 * the screen is off (sequencer 1 bit 5) or PAS is clear (the palette is
 * being changed).
 *
 * Not supported: graphics modes (GC 6 bit 0 or attribute mode control bit
 * 0 set), planar or not, and text modes larger than VGA_MAX_COLS x
 * VGA_MAX_ROWS or VGA_MAX_WIDTH dots: they render black (at the CRTC's size
 * when it fits, else 720x400) and count unsupported_renders; the text dump
 * is then empty. Not modelled either: the write modes, rotation and logic
 * operations of the GC and read mode 1 (the CPU reads and writes RAM, not
 * latches), the split screen (line compare), preset row scan, pel panning,
 * cursor skew, the overscan colour and the sequencer's reset. Bytes written
 * to the font area at 0xa0000 outside a font load change glyphs here (a VGA
 * in text mode would not decode them), and vga_needs_render() does not look
 * at them: they show when something else makes the picture redraw. The
 * default font has 16 lines; a taller character height shows blank lines
 * below them until the guest loads a font of its own.
 *
 * Change tracking: generation goes up on every register write that changes
 * a value; vga_needs_render() compares it, the text cells the last render
 * read (a snapshot kept in the device) and the blink phases it drew, so a
 * window redraws only when the picture can differ.
 *
 * There is no locking: the caller serializes register accesses, renders
 * and dumps. The guest may write the legacy window while a render reads it
 * (the picture then mixes old and new cells until the next one). */
#ifndef BTVM_DEVICES_VGA_H
#define BTVM_DEVICES_VGA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"

#define VGA_PORT_BASE 0x3b0
#define VGA_PORT_COUNT 0x30
/* The legacy window the board passes: guest RAM from this address on. */
#define VGA_LEGACY_BASE 0xa0000u
#define VGA_LEGACY_SIZE 0x20000u

#define VGA_SEQ_COUNT 5
#define VGA_CRTC_COUNT 0x19
#define VGA_GC_COUNT 9
#define VGA_ATTR_COUNT 0x15

/* Largest text mode rendered: SVGA's 132 columns, and 128 rows (1024 lines
 * of 8-line characters). */
#define VGA_MAX_COLS 132
#define VGA_MAX_ROWS 128
#define VGA_MAX_WIDTH (VGA_MAX_COLS * 9)
#define VGA_MAX_HEIGHT 1024	/* the vertical display end has 10 bits */
#define VGA_MAX_PIXELS ((size_t)VGA_MAX_WIDTH * VGA_MAX_HEIGHT)
/* The longest text dump, with its NUL: 3 UTF-8 bytes a character (CP437
 * is all in the BMP) and a newline a row. */
#define VGA_TEXT_DUMP_MAX ((size_t)VGA_MAX_ROWS * (VGA_MAX_COLS * 3 + 1) + 1)

/* What the last render drew, for vga_needs_render(). */
struct vga_shown {
	bool valid;		/* a render happened */
	uint64_t generation;
	/* Whether the picture depends on the cursor's or the characters'
	 * blink phase, and the phases it was drawn in. */
	bool cursor_blinks, chars_blink, cursor_on, chars_on;
	/* The text cells read, row by row (character, attribute), or none
	 * when the picture was black. */
	unsigned cells;
	uint8_t text[VGA_MAX_COLS * VGA_MAX_ROWS * 2];
};

struct vga {
	uint8_t misc;		/* miscellaneous output */
	uint8_t feature;	/* feature control */
	uint8_t subsystem;	/* video subsystem enable (0x3c3) */
	uint8_t status1;	/* input status 1 as last read */
	uint8_t seq_index, seq[VGA_SEQ_COUNT];
	uint8_t crtc_index, crtc[VGA_CRTC_COUNT];
	uint8_t gc_index, gc[VGA_GC_COUNT];
	uint8_t attr_index;	/* bits 0-4 the register, bit 5 PAS */
	bool attr_data_next;	/* the flip-flop: the next 0x3c0 write is data */
	uint8_t attr[VGA_ATTR_COUNT];
	uint8_t dac_mask;	/* pel mask */
	uint8_t dac_read_index, dac_write_index;
	uint8_t dac_component;	/* 0, 1, 2: red, green or blue comes next */
	uint8_t dac_state;	/* what 0x3c7 reads */
	uint8_t dac_latch[2];	/* a write's red and green until its blue */
	uint8_t dac[256][3];	/* red, green, blue; 6 bits each */
	uint8_t text_map;	/* GC memory map the text is at (see above) */
	bool font_write_state;	/* registers as for a font load right now */
	bool font_in_ram;	/* a font load happened: glyphs come from RAM */
	uint64_t generation;
	struct vga_shown shown;
	/* For --stats: renders drawn, of them in a mode not supported (black),
	 * writes to an unknown index or port, font loads noticed. */
	uint64_t renders, unsupported_renders, unknown_writes, font_loads;
};

/* Power-on state: mode 3 as a VGA BIOS leaves it (see above). */
void vga_init(struct vga *vga);
/* Claims ports 0x3b0-0x3df. */
int vga_attach(struct vga *vga, struct bus *bus);
/* What a VGA BIOS's mode 3 set leaves in video memory, written into the
 * legacy window (guest RAM at 0xa0000, VGA_LEGACY_SIZE bytes): the default
 * font in plane 2's layout at 0xa0000 (character map 0) and the screen at
 * 0xb8000 cleared to grey-on-black spaces. For power-on and reset. */
void vga_init_memory(uint8_t *legacy_window);

/* Draws the screen into pixels (room for VGA_MAX_PIXELS, 0x00RRGGBB, rows
 * packed *width pixels apart) from the registers and the legacy window, as
 * at now_ns (any clock in nanoseconds: it only times the blinking), and
 * sets *width and *height to the picture's size, never more than
 * VGA_MAX_WIDTH x VGA_MAX_HEIGHT. */
void vga_render(struct vga *vga, const uint8_t *legacy_window, uint64_t now_ns,
		uint32_t *pixels, unsigned *width, unsigned *height);
/* Whether vga_render() would now draw something other than it last did
 * (always true before the first render): cheap enough to ask at every
 * display refresh. */
bool vga_needs_render(const struct vga *vga, const uint8_t *legacy_window, uint64_t now_ns);
/* The characters on the screen as UTF-8 (CP437 as the VGA shows it), one
 * line a row ending in '\n', trailing spaces trimmed; empty outside text
 * mode. Writes at most size bytes with a terminating NUL when size > 0
 * (VGA_TEXT_DUMP_MAX always suffices) and returns the dump's length
 * without it, as snprintf does. */
size_t vga_text_dump(const struct vga *vga, const uint8_t *legacy_window, char *buf,
		     size_t size);

struct snap_writer;
struct snap_reader;
/* Snapshots (host/snapfile.h): section "VGA ", every register and the
 * DAC (video memory is guest RAM, saved with it). */
void vga_save(const struct vga *vga, struct snap_writer *w);
int vga_load(struct vga *vga, struct snap_reader *r);

#endif
