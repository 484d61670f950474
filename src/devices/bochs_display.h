/* A PCI display compatible with QEMU's "std VGA" (-vga std, the Bochs
 * VBE "DISPI" interface), so that Linux's bochs DRM driver
 * (drivers/gpu/drm/tiny/bochs.c) drives it and a linear framebuffer set
 * up before boot shows through vesafb or simplefb. The legacy VGA
 * (devices/vga.h) stays a device of its own; this one adds the linear
 * framebuffer modes beside it, as QEMU's std VGA does.
 *
 * PCI identity (QEMU's): 1234:1111 revision 02, class 030000 (VGA
 * compatible), subsystem 1af4:1100, no interrupt pin, no expansion ROM.
 *   BAR0  16 MiB prefetchable memory: the VRAM, i.e. the linear
 *         framebuffer.
 *   BAR2  4 KiB memory: registers, laid out as QEMU's:
 *         0x400-0x41f  the VGA's ports 0x3c0-0x3df, forwarded byte by byte
 *                      (lowest address first) to port I/O space on the
 *                      bus, where the legacy VGA answers; a board without
 *                      one reads 0xff there.
 *         0x500-0x515  DISPI register i at 0x500 + 2i, 16-bit little
 *                      endian (a byte access reads or read-modify-writes
 *                      its half, a dword two registers).
 *         0x600        QEMU extension: its size, 8 (read only).
 *         0x604        framebuffer byte order: 0x1e1e1e1e little endian
 *                      (the reset value), 0xbebebebe big endian; other
 *                      values are ignored. Dword accesses only.
 *         0x000-0x07f  the EDID (QEMU's place for it), read only: the
 *                      block edid_build makes for the size edid_size
 *                      (below) gives, or zeros when it gives none, so
 *                      that bochs-drm finds no EDID header and offers
 *                      its built-in mode list, 1024x768 preferred.
 *         elsewhere    reads 0, writes ignored.
 * Linux's bochs_hw_init maps BAR2, reads DISPI ID and wants (id & 0xfff0)
 * == 0xb0c0, compares VIDEO_MEMORY_64K * 64 KiB with BAR0's size, and with
 * revision >= 2 reads 0x600 (between 4 and the BAR's size: the extension
 * is there) and writes 0x604 its native order (little endian).
 *
 * VRAM: the device does not own it. The board hands it a pointer to
 * BOCHS_VRAM_SIZE bytes that are guest memory: the board maps them at
 * BAR0's address so that translated code writes the framebuffer directly,
 * and learns where that is through vram_moved: called once per change,
 * with the new address, or PCI_BAR_UNMAPPED when BAR0 stops decoding
 * (memory decode off, the BAR moved to an address that cannot decode,
 * reset, or a clash with another region on the bus); vram_gpa holds the
 * last value. BAR0 is also a region on the bus so that the monitor's own
 * accesses (string instructions, callouts) reach VRAM; their writes set
 * bits in the device's dirty bitmap, one per 4 KiB page, which the window
 * collects (bochs_display_take_dirty) together with the pages translated
 * code dirtied (the board's to track).
 *
 * DISPI registers, through ports 0x1ce (index) and 0x1cf (data), 16 bits
 * each (0x1cf is also the index's high byte, so the device claims
 * 0x1ce-0x1d0: a 16-bit access to 0x1cf must reach it whole; 0x1d0 alone
 * reads 0xff), and through BAR2 (which, unlike QEMU's, leaves the port
 * index alone). Semantics are QEMU's:
 *   0 ID         reads 0xb0c5 after reset; writes of 0xb0c0-0xb0c5 stick,
 *                others are ignored.
 *   1 XRES, 2 YRES, 3 BPP   the mode. While ENABLE has GETCAPS set they
 *                read the maxima instead: 2560, 1600 and 32.
 *   4 ENABLE     bit 0 ENABLED (the picture is the framebuffer, not VGA
 *                text), 1 GETCAPS, 5 8BIT_DAC, 6 LFB_ENABLED, 7
 *                NOCLEARMEM; reads back what was written. Turning
 *                ENABLED on zeroes VIRT_WIDTH and both offsets first and,
 *                without NOCLEARMEM, clears the YRES lines of VRAM from
 *                offset 0.
 *   5 BANK       kept (masked to the 256 banks); see "not modelled".
 *   6 VIRT_WIDTH pixels from one line to the next (the stride); raised to
 *                XRES when smaller.
 *   7 VIRT_HEIGHT read only: the lines of VIRT_WIDTH that fit in VRAM
 *                (at most 0xffff), computed when a mode is validated.
 *   8 X_OFFSET, 9 Y_OFFSET  the top left pixel shown (panning; bochs-drm
 *                page-flips with Y_OFFSET).
 *   10 VIDEO_MEMORY_64K  read only: 256 (16 MiB).
 *   Indexes past 10 read 0 and their writes are dropped and counted
 *   (unknown_writes).
 * Nothing is validated while ENABLED is clear: the registers just hold
 * what was written. While it is set, every write of a mode register (and
 * the enabling write itself) validates the mode as QEMU's vbe_fixup_regs
 * does, except where QEMU would clamp. What QEMU adjusts silently and
 * drivers rely on is done the same way here: VIRT_WIDTH raised to XRES, and a panning
 * offset that would show bytes past the end of VRAM reset to 0 (Y_OFFSET
 * first, then X_OFFSET). What QEMU would clamp into a picture other than
 * the one the guest asked for is refused instead: a BPP other than 8, 15,
 * 16, 24 or 32 (QEMU makes it 8; 4, planar, is not supported), XRES or
 * YRES of 0 or above the maxima, or YRES lines of VIRT_WIDTH * bytes per
 * pixel bytes not fitting in VRAM (QEMU cuts YRES down). The registers
 * then keep the guest's values, the picture is black (BOCHS_REFUSED_WIDTH
 * x BOCHS_REFUSED_HEIGHT) and modes_refused counts it, once per change
 * from a shown mode (or from disabled) to a refused one. Neither does this
 * mask XRES and VIRT_WIDTH to multiples of 8 as QEMU does (1366 pixels
 * wide is 1366 here). modes_set counts each change to a valid picture
 * geometry (size, depth, stride); panning alone is not a mode.
 *
 * Rendering (bochs_display_render, bochs_display_render.c): the visible
 * XRES x YRES window of VRAM from byte X_OFFSET * bytes per pixel +
 * Y_OFFSET * line, rows line = VIRT_WIDTH * bytes per pixel apart, into
 * 0x00RRGGBB pixels packed *width apart. Formats, little endian unless
 * the byte order register says big: 32 bpp XRGB8888 (bytes B, G, R, X; big
 * endian X, R, G, B), 24 bpp (B, G, R; big endian R, G, B), 16 bpp RGB565
 * and 15 bpp XRGB1555 (their 5- and 6-bit components widened by repeating
 * their top bits, so full intensity is 0xff), 8 bpp through the legacy VGA's
 * DAC (6-bit components scaled to 8 as vga_render does; the pel mask does
 * not apply, as in QEMU), or a grey ramp without a VGA. Redrawing is
 * incremental: the device remembers what the last render drew (its
 * generation, the 8 bpp palette), and with full false and a dirty bitmap
 * only the rows touching a dirty VRAM page are drawn again, so the caller
 * keeps its pixel buffer between frames (and passes full after drawing
 * anything else into it). generation goes up on every change that moves
 * or repaints the picture: the mode's registers, panning, the byte order,
 * enabling (and its clearing), a reset.
 *
 * Boot-time framebuffer: bochs_display_set_mode does what a VBE BIOS's
 * mode set leaves (DISPI enabled with the linear framebuffer, the mode,
 * the visible VRAM cleared), and bochs_display_screen_info says what the
 * board puts in Linux's screen_info for it (VIDEO_TYPE_VLFB, base BAR0,
 * the size in 64 KiB units as vesafb and sysfb read it for that type).
 *
 * Not modelled: QEMU's 8BIT_DAC (the legacy VGA keeps 6-bit DAC entries,
 * so 8 bpp always scales 6 bits up), 4 bpp planar modes, banked access
 * (BANK is kept, but 0xa0000-0xbffff is guest RAM, not a window on VRAM:
 * a guest must use the linear framebuffer), EDID, QEMU's rule that a BAR2
 * DISPI access also sets the port's index, the VGA's own CRTC and GC
 * state following a DISPI mode set (QEMU programs them; nothing here
 * reads them while DISPI is enabled).
 *
 * There is no locking: the caller serializes register accesses, renders
 * and the board's calls; the callbacks run under that serialization. The
 * guest may write VRAM while a render reads it (the picture then mixes
 * old and new until the next one). */
#ifndef BTVM_DEVICES_BOCHS_DISPLAY_H
#define BTVM_DEVICES_BOCHS_DISPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/edid.h"
#include "devices/pci.h"
#include "devices/vga.h"

#define BOCHS_VRAM_SIZE (16u << 20)
#define BOCHS_VRAM_PAGE_SHIFT 12
#define BOCHS_VRAM_PAGES (BOCHS_VRAM_SIZE >> BOCHS_VRAM_PAGE_SHIFT)
/* A dirty bitmap: bit (p & 7) of byte p / 8 for VRAM page p. */
#define BOCHS_DIRTY_BYTES (BOCHS_VRAM_PAGES / 8)
#define BOCHS_MMIO_SIZE 0x1000u
#define BOCHS_VRAM_BAR 0
#define BOCHS_MMIO_BAR 2

/* What QEMU's std VGA is. */
#define BOCHS_PCI_VENDOR 0x1234
#define BOCHS_PCI_DEVICE 0x1111
#define BOCHS_PCI_REVISION 0x02
#define BOCHS_PCI_CLASS 0x030000u
#define BOCHS_PCI_SUBSYSTEM_VENDOR 0x1af4
#define BOCHS_PCI_SUBSYSTEM 0x1100

#define BOCHS_DISPI_PORT_INDEX 0x1ce
#define BOCHS_DISPI_PORT_DATA 0x1cf
#define BOCHS_DISPI_PORT_COUNT 3	/* 0x1ce-0x1d0, see above */

/* BAR2's layout. */
#define BOCHS_MMIO_VGA 0x400u		/* ports 0x3c0-0x3df */
#define BOCHS_MMIO_VGA_SIZE 0x20u
#define BOCHS_MMIO_DISPI 0x500u
#define BOCHS_MMIO_QEXT 0x600u
#define BOCHS_QEXT_SIZE 8u
#define BOCHS_QEXT_REG_SIZE 0x0u
#define BOCHS_QEXT_REG_BYTEORDER 0x4u
#define BOCHS_QEXT_LITTLE_ENDIAN 0x1e1e1e1eu
#define BOCHS_QEXT_BIG_ENDIAN 0xbebebebeu

/* The largest picture (what GETCAPS reports; a window buffer of
 * BOCHS_MAX_PIXELS always suffices) and the black one of a refused
 * mode. */
#define BOCHS_MAX_WIDTH 2560u
#define BOCHS_MAX_HEIGHT 1600u
#define BOCHS_MAX_BPP 32u
#define BOCHS_MAX_PIXELS ((size_t)BOCHS_MAX_WIDTH * BOCHS_MAX_HEIGHT)
#define BOCHS_REFUSED_WIDTH 640u
#define BOCHS_REFUSED_HEIGHT 480u

enum bochs_dispi_index {
	BOCHS_DISPI_ID,
	BOCHS_DISPI_XRES,
	BOCHS_DISPI_YRES,
	BOCHS_DISPI_BPP,
	BOCHS_DISPI_ENABLE,
	BOCHS_DISPI_BANK,
	BOCHS_DISPI_VIRT_WIDTH,
	BOCHS_DISPI_VIRT_HEIGHT,
	BOCHS_DISPI_X_OFFSET,
	BOCHS_DISPI_Y_OFFSET,
	BOCHS_DISPI_REGS,		/* the ones kept in regs[] */
	BOCHS_DISPI_VIDEO_MEMORY_64K = BOCHS_DISPI_REGS,
	BOCHS_DISPI_INDEXES,		/* from here on: unknown */
};

#define BOCHS_DISPI_ID0 0xb0c0u
#define BOCHS_DISPI_ID5 0xb0c5u

/* ENABLE's bits. */
#define BOCHS_DISPI_ENABLED 0x01u
#define BOCHS_DISPI_GETCAPS 0x02u
#define BOCHS_DISPI_8BIT_DAC 0x20u
#define BOCHS_DISPI_LFB_ENABLED 0x40u
#define BOCHS_DISPI_NOCLEARMEM 0x80u

/* The picture the registers describe now. */
struct bochs_mode {
	bool enabled;		/* DISPI enabled: the framebuffer, not VGA text */
	bool valid;		/* and the mode passed validation (else black) */
	unsigned width, height, bpp;
	uint32_t line;		/* bytes from one row to the next */
	uint32_t start;		/* VRAM offset of the top left pixel */
	bool big_endian;
};

/* What the last render drew. */
struct bochs_shown {
	bool valid;		/* a render drew the current buffer */
	uint64_t generation;
	uint32_t palette[256];	/* at 8 bpp */
};

/* What a boot-time framebuffer puts in Linux's screen_info (struct
 * screen_info in boot_params, arch/x86/include/uapi/asm/bootparam.h). */
struct bochs_screen_info {
	uint8_t video_type;	/* orig_video_isVGA: BOCHS_VIDEO_TYPE_VLFB */
	uint16_t lfb_width, lfb_height, lfb_depth, lfb_linelength;
	uint32_t lfb_base;	/* BAR0 plus the panning offset */
	uint32_t lfb_size;	/* VRAM in 64 KiB units (VLFB's convention) */
	uint16_t pages;		/* whole pictures that fit in VRAM */
	uint8_t red_size, red_pos, green_size, green_pos, blue_size, blue_pos;
	uint8_t rsvd_size, rsvd_pos;
};

#define BOCHS_VIDEO_TYPE_VLFB 0x23	/* Linux's VIDEO_TYPE_VLFB: VESA VGA in graphic mode */

struct bochs_display {
	struct pci_function pci;
	struct pci_region vram_region, mmio_region;
	struct bus *bus;	/* set by bochs_display_attach */
	uint8_t *vram;		/* BOCHS_VRAM_SIZE bytes of the board's */
	const struct vga *vga;	/* for 8 bpp's palette; may be NULL */
	/* Set by the board, may stay NULL: where BAR0 decodes now (see above). */
	void (*vram_moved)(void *opaque, uint64_t gpa);
	void *opaque;
	uint64_t vram_gpa;	/* what vram_moved was last told */
	uint16_t index;		/* port 0x1ce */
	uint16_t regs[BOCHS_DISPI_REGS];
	bool big_endian;	/* the byte order register */
	struct bochs_mode mode;
	uint64_t generation;
	uint8_t dirty[BOCHS_DIRTY_BYTES];	/* pages written through the bus */
	struct bochs_shown shown;
	/* For --stats: valid modes taken, modes refused, DISPI writes to
	 * unknown indexes, renders that drew something. */
	uint64_t modes_set, modes_refused, unknown_writes, renders;
	/* Set by the board after bochs_display_init, may stay NULL: the mode
	 * the host's window asks for, offered as the EDID at BAR2 0x000
	 * (false: none, and the block reads 0). Called on the thread of the
	 * vCPU that reads byte 0. */
	bool (*edid_size)(void *opaque, unsigned *width, unsigned *height);
	void *edid_opaque;
	uint8_t edid[EDID_BLOCK_SIZE];	/* what the last read of byte 0 made */
};

/* Power-on state (DISPI disabled, ID 0xb0c5, the other registers 0 as
 * QEMU resets them, little endian, nothing dirty) and the PCI function at
 * devfn of bus 0, its BARs declared. vram must hold BOCHS_VRAM_SIZE bytes
 * and stay valid; it is not cleared. vga (may be NULL) gives the 8 bpp
 * palette. Plug dev->pci into the PCI host after bochs_display_attach. */
void bochs_display_init(struct bochs_display *dev, uint8_t devfn, uint8_t *vram,
			const struct vga *vga);
/* Claims ports 0x1ce-0x1d0 on bus; the BAR regions go onto it when the
 * BARs decode, and BAR2's VGA window forwards to its port space. */
int bochs_display_attach(struct bochs_display *dev, struct bus *bus);
/* A machine reset: the DISPI registers, the byte order and the index as
 * at power-on, and pci_function_reset (BARs unmapped, so vram_moved hears
 * PCI_BAR_UNMAPPED; harmless after pci_host_reset did it). VRAM keeps its
 * contents, as QEMU's does. */
void bochs_display_reset(struct bochs_display *dev);

/* What a VBE BIOS leaves after setting a linear framebuffer mode: DISPI
 * enabled with LFB_ENABLED, width x height at bpp (8, 15, 16, 24, 32),
 * stride width pixels, no panning, the visible VRAM cleared. Returns 0,
 * or -EINVAL when the mode would be refused (DISPI is then left
 * disabled). */
int bochs_display_set_mode(struct bochs_display *dev, unsigned width, unsigned height,
			   unsigned bpp);
/* For Linux's screen_info while a mode is shown and BAR0 decodes: 0,
 * -ENODEV (no valid mode enabled, or BAR0 not mapped) or -ERANGE (a
 * stride screen_info cannot hold: more than 0xffff bytes). */
int bochs_display_screen_info(const struct bochs_display *dev, struct bochs_screen_info *si);

/* Whether DISPI is enabled, so that the picture is the framebuffer (or
 * black, for a refused mode) rather than the legacy VGA's; with true, the
 * picture's size in *width and *height (either may be NULL). */
bool bochs_display_active(const struct bochs_display *dev, unsigned *width, unsigned *height);
/* Draws the picture into pixels (room for BOCHS_MAX_PIXELS, 0x00RRGGBB,
 * rows packed *width apart) and sets *width and *height. With full, or
 * with dirty NULL, or when the picture changed since the last render
 * (generation, size, 8 bpp palette), every row is drawn; otherwise only
 * the rows touching a page set in dirty (a BOCHS_DIRTY_BYTES bitmap: the
 * caller's collection of this device's and the board's dirty pages), and
 * pixels must hold what the last render left. Returns whether any row
 * was drawn. While DISPI is disabled: nothing drawn, 0 x 0, false. */
bool bochs_display_render(struct bochs_display *dev, const uint8_t *dirty, bool full,
			  uint32_t *pixels, unsigned *width, unsigned *height);
/* ORs the pages written through the bus since the last call into dirty
 * (BOCHS_DIRTY_BYTES) and forgets them. */
void bochs_display_take_dirty(struct bochs_display *dev, uint8_t *dirty);
/* Marks the pages of VRAM bytes [offset, offset + length) dirty (clipped
 * to VRAM): for the board, or anything else writing VRAM behind the
 * bus. */
void bochs_display_mark_dirty(struct bochs_display *dev, uint64_t offset, uint64_t length);

struct snap_writer;
struct snap_reader;
/* Snapshots (host/snapfile.h): section "BOCH", the PCI function and the
 * DISPI registers; the mode is validated again from them, and every VRAM
 * page counts as written for the window (VRAM is saved with RAM). */
void bochs_display_save(const struct bochs_display *dev, struct snap_writer *w);
int bochs_display_load(struct bochs_display *dev, struct snap_reader *r);

#endif
