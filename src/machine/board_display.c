/* The display and the input devices as the control interface shows them
 * (machine/control.h), for the window and screenshots: the VGA, its legacy
 * window and the PCI std VGA read-only, the framebuffer's written pages
 * (the shadow's log and the device's own), the screen drawn or dumped as
 * text, keys and mouse motion into the i8042, and the pointer's position
 * into the tablet. */
#include "machine/board_internal.h"

#include <string.h>

void board_display(const struct board *board, struct board_display *d)
{
	d->vga = &board->vga;
	d->vga_window = board->ram.host + VGA_LEGACY_BASE;
	d->bochs = &board->bochs;
}

void board_display_edid_source(struct board *board,
			       bool (*fn)(void *opaque, unsigned *width, unsigned *height),
			       void *opaque)
{
	board->bochs.edid_size = fn;
	board->bochs.edid_opaque = opaque;
}

void board_vram_log(struct board *board, bool on)
{
	shadow_devmem_log(&board->sh, on);
}

unsigned board_vram_harvest(struct board *board, uint8_t *dirty)
{
	return shadow_harvest_dirty(&board->sh, dirty);
}

void board_vram_take_device_dirty(struct board *board, uint8_t *dirty)
{
	bochs_display_take_dirty(&board->bochs, dirty);
}

/* The live devices draw: what the guest shows now, whole. A framebuffer
 * mode that cannot be shown (bad registers) is a black picture of its
 * size. */
void board_draw_screen(struct board *board, uint32_t *pixels, unsigned *width, unsigned *height)
{
	const uint8_t *live = board->ram.host + VGA_LEGACY_BASE;
	*width = *height = 0;
	if (!bochs_display_active(&board->bochs, NULL, NULL))
		vga_render(&board->vga, live, 0, pixels, width, height);
	else if (!bochs_display_render(&board->bochs, NULL, true, pixels, width, height) && *width &&
		 *height)
		memset(pixels, 0, (size_t)*width * *height * 4);
}

size_t board_screen_text(const struct board *board, char *buf, size_t len)
{
	/* A framebuffer has no text to dump. */
	if (bochs_display_active(&board->bochs, NULL, NULL))
		return 0;
	return vga_text_dump(&board->vga, board->ram.host + VGA_LEGACY_BASE, buf, len);
}

bool board_key_input(struct board *board, const uint8_t *set2, unsigned len)
{
	return i8042_key_sequence(&board->kbc, set2, len);
}

void board_mouse_input(struct board *board, int dx, int dy, int dz, unsigned buttons)
{
	/* The mouse keeps what it cannot send yet, and a mouse the guest has
	 * not enabled drops motion as a real one does: never offered again. */
	(void)i8042_mouse_event(&board->kbc, dx, dy, dz, buttons);
}

bool board_tablet_active(const struct board *board)
{
	return virtio_input_active(&board->tablet);
}

void board_tablet_input(struct board *board, unsigned x, unsigned y, int dz, unsigned buttons)
{
	/* The display's button bits are the tablet's. */
	virtio_input_pointer(&board->tablet, x, y, dz, buttons);
}
