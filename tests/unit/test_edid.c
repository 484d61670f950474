/* The EDID base block (devices/edid.c) parsed back as a reader (Linux's
 * drm_edid.c) does: header, version, checksum, the preferred detailed
 * timing's size and its physical size, the descriptors, and the clamping
 * of sizes outside what the std VGA shows; then the block as the std VGA
 * (devices/bochs_display.c) offers it at BAR2 0x000: zeros without a size,
 * the block for the size its source gives, made anew only at byte 0. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "devices/bochs_display.h"
#include "devices/bus.h"
#include "devices/edid.h"
#include "devices/pci.h"

#define MMIO_GPA 0xe1000000u

/* The detailed timing at offset 54: active size and pixel clock. */
static unsigned dtd_width(const uint8_t *e)
{
	return e[56] | (unsigned)(e[58] >> 4) << 8;
}

static unsigned dtd_height(const uint8_t *e)
{
	return e[59] | (unsigned)(e[61] >> 4) << 8;
}

static void check_block(const uint8_t *e, unsigned width, unsigned height)
{
	static const uint8_t header[8] = { 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0 };
	CHECK(!memcmp(e, header, 8));
	uint8_t sum = 0;
	for (unsigned i = 0; i < EDID_BLOCK_SIZE; i++)
		sum = (uint8_t)(sum + e[i]);
	CHECK_EQ(sum, 0);
	CHECK_EQ(e[18], 1);
	CHECK_EQ(e[19], 4);
	CHECK(e[20] & 0x80);	/* digital */
	CHECK(e[24] & 0x02);	/* detailed timing 1 is the preferred mode */
	/* "BTV" */
	unsigned id = (unsigned)e[8] << 8 | e[9];
	CHECK_EQ('@' + ((id >> 10) & 31), 'B');
	CHECK_EQ('@' + ((id >> 5) & 31), 'T');
	CHECK_EQ('@' + (id & 31), 'V');
	CHECK_EQ(dtd_width(e), width);
	CHECK_EQ(dtd_height(e), height);
	/* A timing, not a descriptor: the clock is not 0. Its refresh, clock
	 * over the totals, is 60 Hz within the clock's 10 kHz rounding. */
	unsigned clock = e[54] | (unsigned)e[55] << 8;
	CHECK(clock != 0);
	unsigned h_total = width + (e[57] | (unsigned)(e[58] & 0xf) << 8);
	unsigned v_total = height + (e[60] | (unsigned)(e[61] & 0xf) << 8);
	unsigned long long millihz = (unsigned long long)clock * 10000u * 1000u / (h_total * v_total);
	CHECK(millihz > 59900 && millihz <= 60000);
	/* Front porch plus sync within the blanking, both ways. */
	unsigned h_blank = h_total - width, v_blank = v_total - height;
	unsigned h_front = e[62] | (unsigned)(e[65] >> 6) << 8;
	unsigned h_sync = e[63] | (unsigned)((e[65] >> 4) & 3) << 8;
	unsigned v_front = (e[64] >> 4) | (unsigned)((e[65] >> 2) & 3) << 4;
	unsigned v_sync = (e[64] & 0xf) | (unsigned)(e[65] & 3) << 4;
	CHECK(h_front + h_sync < h_blank);
	CHECK(v_front + v_sync < v_blank);
	/* Physical size at 96 dpi, in mm in the timing, cm in the header. */
	unsigned h_mm = e[66] | (unsigned)(e[68] >> 4) << 8;
	CHECK_EQ(h_mm, width * 254 / 960);
	CHECK(e[21] * 10 >= h_mm - 5 && e[21] * 10 <= h_mm + 5);
	/* The name, the range limits, a dummy; no extension. */
	CHECK_EQ(e[75], 0xfc);
	CHECK(!memcmp(e + 77, "btvm\n", 5));
	CHECK_EQ(e[93], 0xfd);
	CHECK_EQ(e[111], 0x10);
	CHECK_EQ(e[126], 0);
}

static void test_sizes(void)
{
	uint8_t e[EDID_BLOCK_SIZE];
	static const unsigned sizes[][4] = {
		/* asked, described */
		{ 1000, 700, 1000, 700 },
		{ 1920, 1080, 1920, 1080 },
		{ 1366, 768, 1360, 768 },	/* the width to a multiple of 8 */
		{ 504, 280, 640, 480 },		/* the smallest */
		{ 5000, 3000, 2560, 1600 },	/* the largest */
		{ 2560, 1600, 2560, 1600 },
		{ 0, 0, 640, 480 },
	};
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		memset(e, 0xaa, sizeof(e));
		edid_build(e, sizes[i][0], sizes[i][1]);
		check_block(e, sizes[i][2], sizes[i][3]);
	}
}

struct source {
	bool has;
	unsigned width, height, calls;
};

static bool source_size(void *opaque, unsigned *width, unsigned *height)
{
	struct source *s = opaque;
	s->calls++;
	*width = s->width;
	*height = s->height;
	return s->has;
}

static void read_block(struct bus *bus, uint8_t *e)
{
	for (unsigned i = 0; i < EDID_BLOCK_SIZE; i++)
		e[i] = (uint8_t)bus_read(bus, BUS_SPACE_MMIO, MMIO_GPA + i, 1);
}

static void test_device(void)
{
	struct bus bus;
	struct bochs_display *dev = calloc(1, sizeof(*dev));
	uint8_t *vram = calloc(1, BOCHS_VRAM_SIZE);
	uint8_t e[EDID_BLOCK_SIZE], want[EDID_BLOCK_SIZE], zero[EDID_BLOCK_SIZE] = { 0 };
	CHECK(dev && vram);
	if (!dev || !vram)
		exit(1);
	bus_init(&bus);
	bochs_display_init(dev, 0x10, vram, NULL);
	CHECK_EQ(bochs_display_attach(dev, &bus), 0);
	pci_function_write(&dev->pci, PCI_REG_BAR0 + 8, 4, MMIO_GPA);
	pci_function_write(&dev->pci, PCI_REG_COMMAND, 2, PCI_COMMAND_MEMORY);

	/* No source: zeros, and the rest of the QEMU block's 1 KiB too. */
	read_block(&bus, e);
	CHECK(!memcmp(e, zero, sizeof(e)));
	CHECK_EQ(bus_read(&bus, BUS_SPACE_MMIO, MMIO_GPA + 0x3fc, 4), 0);

	/* A source without a size: zeros still. */
	struct source src = { .has = false };
	dev->edid_size = source_size;
	dev->edid_opaque = &src;
	read_block(&bus, e);
	CHECK(!memcmp(e, zero, sizeof(e)));
	CHECK_EQ(src.calls, 1);

	/* A size: the block, asked once per read from byte 0. */
	src = (struct source){ .has = true, .width = 1000, .height = 700 };
	read_block(&bus, e);
	edid_build(want, 1000, 700);
	CHECK(!memcmp(e, want, sizeof(e)));
	CHECK_EQ(src.calls, 1);
	/* The window changes while the guest reads: bytes after 0 are the
	 * block already made, whole with its checksum... */
	src.width = 1280;
	CHECK_EQ(bus_read(&bus, BUS_SPACE_MMIO, MMIO_GPA + 56, 1), want[56]);
	CHECK_EQ(bus_read(&bus, BUS_SPACE_MMIO, MMIO_GPA + 127, 1), want[127]);
	/* ...until byte 0 is read again. A dword read at 0 starts there. */
	CHECK_EQ(bus_read(&bus, BUS_SPACE_MMIO, MMIO_GPA, 4), 0xffffff00u);
	read_block(&bus, e);
	check_block(e, 1280, 700);
	/* Writes are ignored; a reset keeps the source. */
	bus_write(&bus, BUS_SPACE_MMIO, MMIO_GPA + 56, 1, 0x12);
	CHECK_EQ(bus_read(&bus, BUS_SPACE_MMIO, MMIO_GPA + 56, 1), e[56]);
	bochs_display_reset(dev);
	CHECK(dev->edid_size == source_size);
	free(vram);
	free(dev);
}

int main(void)
{
	test_sizes();
	test_device();
	return check_report("test_edid");
}
