/* The Bochs/QEMU std VGA display (devices/bochs_display.c): PCI identity
 * and BAR sizing, BAR0 placement reported to the board and the BAR
 * regions on the bus, DISPI through the ports and through BAR2, GETCAPS,
 * mode validation and refusal, VRAM clearing, QEMU's extension registers,
 * the VGA window in BAR2, rendering of every depth with stride and
 * panning, the dirty-row path against a full render, the boot-time mode
 * and its screen_info, reset, and random register garbage. */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "devices/bochs_display.h"
#include "devices/bus.h"
#include "devices/pci.h"
#include "devices/vga.h"

#define VRAM_GPA 0xe0000000u
#define MMIO_GPA 0xe1000000u
#define MAX_MOVES 16

struct fixture {
	struct bus bus;
	struct vga vga;
	struct bochs_display dev;
	uint8_t *vram;
	uint32_t *pixels, *pixels2;
	unsigned moves;
	uint64_t moved[MAX_MOVES];
};

static void record_move(void *opaque, uint64_t gpa)
{
	struct fixture *f = opaque;
	if (f->moves < MAX_MOVES)
		f->moved[f->moves] = gpa;
	f->moves++;
}

static struct fixture *fixture_new(void)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->vram = calloc(1, BOCHS_VRAM_SIZE);
	f->pixels = calloc(BOCHS_MAX_PIXELS, sizeof(uint32_t));
	f->pixels2 = calloc(BOCHS_MAX_PIXELS, sizeof(uint32_t));
	if (!f->vram || !f->pixels || !f->pixels2) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	bus_init(&f->bus);
	vga_init(&f->vga);
	CHECK_EQ(vga_attach(&f->vga, &f->bus), 0);
	bochs_display_init(&f->dev, 0x10, f->vram, &f->vga);
	CHECK_EQ(bochs_display_attach(&f->dev, &f->bus), 0);
	f->dev.vram_moved = record_move;
	f->dev.opaque = f;
	return f;
}

static void fixture_free(struct fixture *f)
{
	free(f->vram);
	free(f->pixels);
	free(f->pixels2);
	free(f);
}

static uint32_t cfg_rd(struct fixture *f, unsigned reg, unsigned width)
{
	return pci_function_read(&f->dev.pci, reg, width);
}

static void cfg_wr(struct fixture *f, unsigned reg, unsigned width, uint32_t value)
{
	pci_function_write(&f->dev.pci, reg, width, value);
}

/* BARs where the firmware would put them, memory decoding on. */
static void place_bars(struct fixture *f)
{
	cfg_wr(f, PCI_REG_BAR0, 4, VRAM_GPA);
	cfg_wr(f, PCI_REG_BAR0 + 8, 4, MMIO_GPA);
	cfg_wr(f, PCI_REG_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
}

static void port_dispi_write(struct fixture *f, unsigned index, uint16_t value)
{
	bus_write(&f->bus, BUS_SPACE_PIO, BOCHS_DISPI_PORT_INDEX, 2, index);
	bus_write(&f->bus, BUS_SPACE_PIO, BOCHS_DISPI_PORT_DATA, 2, value);
}

static uint16_t port_dispi_read(struct fixture *f, unsigned index)
{
	bus_write(&f->bus, BUS_SPACE_PIO, BOCHS_DISPI_PORT_INDEX, 2, index);
	return (uint16_t)bus_read(&f->bus, BUS_SPACE_PIO, BOCHS_DISPI_PORT_DATA, 2);
}

static void mmio_dispi_write(struct fixture *f, unsigned index, uint16_t value)
{
	bus_write(&f->bus, BUS_SPACE_MMIO, MMIO_GPA + BOCHS_MMIO_DISPI + 2 * index, 2, value);
}

static uint16_t mmio_dispi_read(struct fixture *f, unsigned index)
{
	return (uint16_t)bus_read(&f->bus, BUS_SPACE_MMIO, MMIO_GPA + BOCHS_MMIO_DISPI + 2 * index,
				  2);
}

/* bochs-drm's bochs_hw_setmode, at any depth. */
static void drm_setmode(struct fixture *f, unsigned w, unsigned h, unsigned bpp)
{
	mmio_dispi_write(f, BOCHS_DISPI_ENABLE, 0);
	mmio_dispi_write(f, BOCHS_DISPI_BPP, (uint16_t)bpp);
	mmio_dispi_write(f, BOCHS_DISPI_XRES, (uint16_t)w);
	mmio_dispi_write(f, BOCHS_DISPI_YRES, (uint16_t)h);
	mmio_dispi_write(f, BOCHS_DISPI_BANK, 0);
	mmio_dispi_write(f, BOCHS_DISPI_VIRT_WIDTH, (uint16_t)w);
	unsigned line = w * ((bpp + 7) / 8);
	mmio_dispi_write(f, BOCHS_DISPI_VIRT_HEIGHT, (uint16_t)(line ? BOCHS_VRAM_SIZE / line : 0));
	mmio_dispi_write(f, BOCHS_DISPI_X_OFFSET, 0);
	mmio_dispi_write(f, BOCHS_DISPI_Y_OFFSET, 0);
	mmio_dispi_write(f, BOCHS_DISPI_ENABLE, BOCHS_DISPI_ENABLED | BOCHS_DISPI_LFB_ENABLED);
}

static uint32_t size_bar(struct fixture *f, unsigned bar)
{
	unsigned reg = PCI_REG_BAR0 + 4 * bar;
	uint32_t saved = cfg_rd(f, reg, 4);
	cfg_wr(f, reg, 4, 0xffffffff);
	uint32_t mask = cfg_rd(f, reg, 4);
	cfg_wr(f, reg, 4, saved);
	return mask;
}

static void test_pci_identity(void)
{
	struct fixture *f = fixture_new();

	CHECK_EQ(f->dev.pci.devfn, 0x10);
	CHECK_EQ(cfg_rd(f, PCI_REG_VENDOR, 4), 0x11111234);
	CHECK_EQ(cfg_rd(f, PCI_REG_REVISION, 4), 0x03000002);
	CHECK_EQ(cfg_rd(f, PCI_REG_HEADER_TYPE, 1), 0);
	CHECK_EQ(cfg_rd(f, PCI_REG_SUBSYSTEM_VENDOR, 4), 0x11001af4);
	CHECK_EQ(cfg_rd(f, PCI_REG_INTERRUPT_PIN, 1), 0);
	CHECK_EQ(cfg_rd(f, PCI_REG_ROM, 4), 0);
	CHECK_EQ(cfg_rd(f, PCI_REG_CAPABILITIES, 1), 0);

	CHECK_EQ(size_bar(f, 0), 0xff000008);	/* 16 MiB, prefetchable */
	CHECK_EQ(size_bar(f, 1), 0);
	CHECK_EQ(size_bar(f, 2), 0xfffff000);	/* 4 KiB, not prefetchable */
	CHECK_EQ(size_bar(f, 3), 0);
	CHECK_EQ(size_bar(f, 4), 0);
	CHECK_EQ(size_bar(f, 5), 0);
	/* Sizing with decoding off reports nothing to the board. */
	CHECK_EQ(f->moves, 0);
	fixture_free(f);
}

static void test_bar_placement(void)
{
	struct fixture *f = fixture_new();
	const struct bus_region *r;

	cfg_wr(f, PCI_REG_BAR0, 4, VRAM_GPA);
	cfg_wr(f, PCI_REG_BAR0 + 8, 4, MMIO_GPA);
	CHECK_EQ(f->moves, 0);
	CHECK(!bus_find(&f->bus, BUS_SPACE_MMIO, VRAM_GPA));
	cfg_wr(f, PCI_REG_COMMAND, 2, PCI_COMMAND_MEMORY);
	CHECK_EQ(f->moves, 1);
	CHECK_EQ(f->moved[0], VRAM_GPA);
	r = bus_find(&f->bus, BUS_SPACE_MMIO, VRAM_GPA + BOCHS_VRAM_SIZE - 1);
	CHECK(r && r->base == VRAM_GPA && r->length == BOCHS_VRAM_SIZE);
	r = bus_find(&f->bus, BUS_SPACE_MMIO, MMIO_GPA);
	CHECK(r && r->base == MMIO_GPA && r->length == BOCHS_MMIO_SIZE);

	/* The VRAM region reads and writes the board's memory. */
	f->vram[0x1234] = 0x5a;
	CHECK_EQ(bus_read(&f->bus, BUS_SPACE_MMIO, VRAM_GPA + 0x1234, 1), 0x5a);
	bus_write(&f->bus, BUS_SPACE_MMIO, VRAM_GPA + 0x2000, 8, 0x0807060504030201ull);
	CHECK_EQ(f->vram[0x2000], 1);
	CHECK_EQ(f->vram[0x2007], 8);
	CHECK_EQ(bus_read(&f->bus, BUS_SPACE_MMIO, VRAM_GPA + 0x2002, 4), 0x06050403);

	/* Moving BAR0 moves both; BAR2 alone does not call vram_moved. */
	cfg_wr(f, PCI_REG_BAR0, 4, 0xd0000000);
	CHECK_EQ(f->moves, 2);
	CHECK_EQ(f->moved[1], 0xd0000000);
	CHECK(!bus_find(&f->bus, BUS_SPACE_MMIO, VRAM_GPA));
	CHECK(bus_find(&f->bus, BUS_SPACE_MMIO, 0xd0000000));
	cfg_wr(f, PCI_REG_BAR0 + 8, 4, 0xd1000000);
	CHECK_EQ(f->moves, 2);
	CHECK(bus_find(&f->bus, BUS_SPACE_MMIO, 0xd1000000));

	/* Memory decoding off: unmapped, and off the bus. */
	cfg_wr(f, PCI_REG_COMMAND, 2, 0);
	CHECK_EQ(f->moves, 3);
	CHECK_EQ(f->moved[2], PCI_BAR_UNMAPPED);
	CHECK_EQ(f->bus.count[BUS_SPACE_MMIO], 0);

	/* A BAR0 that clashes with another region on the bus does not
	 * decode: the board is told so. */
	CHECK_EQ(bus_register(&f->bus, BUS_SPACE_MMIO, "other", 0xd0800000, 0x1000,
			      f->bus.regions[BUS_SPACE_PIO][0].ops, NULL), 0);
	cfg_wr(f, PCI_REG_COMMAND, 2, PCI_COMMAND_MEMORY);
	CHECK_EQ(f->moves, 3);	/* unmapped before, unmapped now: no change */
	CHECK_EQ(f->dev.vram_region.base, PCI_BAR_UNMAPPED);
	cfg_wr(f, PCI_REG_BAR0, 4, VRAM_GPA);
	CHECK_EQ(f->moves, 4);
	CHECK_EQ(f->moved[3], VRAM_GPA);

	/* Reset: back to unmapped. */
	bochs_display_reset(&f->dev);
	CHECK_EQ(f->moves, 5);
	CHECK_EQ(f->moved[4], PCI_BAR_UNMAPPED);
	CHECK(!bus_find(&f->bus, BUS_SPACE_MMIO, VRAM_GPA));
	fixture_free(f);
}

static void test_dispi_ports_and_mmio(void)
{
	struct fixture *f = fixture_new();
	place_bars(f);

	CHECK_EQ(port_dispi_read(f, BOCHS_DISPI_ID), BOCHS_DISPI_ID5);
	CHECK_EQ(mmio_dispi_read(f, BOCHS_DISPI_ID), BOCHS_DISPI_ID5);
	CHECK_EQ(port_dispi_read(f, BOCHS_DISPI_VIDEO_MEMORY_64K), 256);
	CHECK_EQ(mmio_dispi_read(f, BOCHS_DISPI_VIDEO_MEMORY_64K), 256);
	for (unsigned i = BOCHS_DISPI_XRES; i < BOCHS_DISPI_REGS; i++) {
		CHECK_EQ(port_dispi_read(f, i), 0);
		CHECK_EQ(mmio_dispi_read(f, i), 0);
	}
	CHECK(!bochs_display_active(&f->dev, NULL, NULL));

	/* Written one way, read the other. */
	port_dispi_write(f, BOCHS_DISPI_XRES, 800);
	CHECK_EQ(mmio_dispi_read(f, BOCHS_DISPI_XRES), 800);
	mmio_dispi_write(f, BOCHS_DISPI_YRES, 600);
	CHECK_EQ(port_dispi_read(f, BOCHS_DISPI_YRES), 600);
	/* A BAR2 access leaves the port's index alone. */
	bus_write(&f->bus, BUS_SPACE_PIO, BOCHS_DISPI_PORT_INDEX, 2, BOCHS_DISPI_XRES);
	CHECK_EQ(mmio_dispi_read(f, BOCHS_DISPI_YRES), 600);
	CHECK_EQ(bus_read(&f->bus, BUS_SPACE_PIO, BOCHS_DISPI_PORT_INDEX, 2), BOCHS_DISPI_XRES);
	CHECK_EQ(bus_read(&f->bus, BUS_SPACE_PIO, BOCHS_DISPI_PORT_DATA, 2), 800);
	/* Byte halves and dword pairs through BAR2. */
	bus_write(&f->bus, BUS_SPACE_MMIO, MMIO_GPA + BOCHS_MMIO_DISPI + 2 * BOCHS_DISPI_XRES + 1,
		  1, 0x04);
	CHECK_EQ(port_dispi_read(f, BOCHS_DISPI_XRES), 0x0420);
	CHECK_EQ(bus_read(&f->bus, BUS_SPACE_MMIO,
			  MMIO_GPA + BOCHS_MMIO_DISPI + 2 * BOCHS_DISPI_XRES, 1), 0x20);
	bus_write(&f->bus, BUS_SPACE_MMIO, MMIO_GPA + BOCHS_MMIO_DISPI + 2 * BOCHS_DISPI_XRES, 4,
		  600u << 16 | 800u);
	CHECK_EQ(port_dispi_read(f, BOCHS_DISPI_XRES), 800);
	CHECK_EQ(bus_read(&f->bus, BUS_SPACE_MMIO,
			  MMIO_GPA + BOCHS_MMIO_DISPI + 2 * BOCHS_DISPI_XRES, 4), 600u << 16 | 800u);

	/* ID: only 0xb0c0-0xb0c5 stick. */
	port_dispi_write(f, BOCHS_DISPI_ID, BOCHS_DISPI_ID0);
	CHECK_EQ(mmio_dispi_read(f, BOCHS_DISPI_ID), BOCHS_DISPI_ID0);
	port_dispi_write(f, BOCHS_DISPI_ID, 0xb0c6);
	port_dispi_write(f, BOCHS_DISPI_ID, 0x1234);
	CHECK_EQ(mmio_dispi_read(f, BOCHS_DISPI_ID), BOCHS_DISPI_ID0);
	mmio_dispi_write(f, BOCHS_DISPI_ID, BOCHS_DISPI_ID5);
	CHECK_EQ(port_dispi_read(f, BOCHS_DISPI_ID), BOCHS_DISPI_ID5);

	/* Read-only and unknown registers. */
	port_dispi_write(f, BOCHS_DISPI_VIDEO_MEMORY_64K, 1);
	port_dispi_write(f, BOCHS_DISPI_VIRT_HEIGHT, 1234);
	CHECK_EQ(port_dispi_read(f, BOCHS_DISPI_VIDEO_MEMORY_64K), 256);
	CHECK_EQ(port_dispi_read(f, BOCHS_DISPI_VIRT_HEIGHT), 0);
	CHECK_EQ(f->dev.unknown_writes, 0);
	port_dispi_write(f, 0x0b, 1);
	port_dispi_write(f, 0xffff, 1);
	CHECK_EQ(port_dispi_read(f, 0x0b), 0);
	CHECK_EQ(f->dev.unknown_writes, 2);
	/* BANK keeps the 256 banks of 16 MiB. */
	port_dispi_write(f, BOCHS_DISPI_BANK, 0x1ff);
	CHECK_EQ(mmio_dispi_read(f, BOCHS_DISPI_BANK), 0xff);

	/* The byte after the data port is claimed (so 16-bit accesses to
	 * 0x1cf reach it whole) but is nothing. */
	CHECK_EQ(bus_read(&f->bus, BUS_SPACE_PIO, BOCHS_DISPI_PORT_DATA + 1, 1), 0xff);

	/* Holes in BAR2 read 0. */
	CHECK_EQ(bus_read(&f->bus, BUS_SPACE_MMIO, MMIO_GPA, 4), 0);
	CHECK_EQ(bus_read(&f->bus, BUS_SPACE_MMIO, MMIO_GPA + 0x700, 4), 0);
	fixture_free(f);
}

static void test_getcaps(void)
{
	struct fixture *f = fixture_new();
	place_bars(f);

	port_dispi_write(f, BOCHS_DISPI_XRES, 640);
	port_dispi_write(f, BOCHS_DISPI_YRES, 480);
	port_dispi_write(f, BOCHS_DISPI_BPP, 8);
	port_dispi_write(f, BOCHS_DISPI_ENABLE, BOCHS_DISPI_GETCAPS);
	CHECK_EQ(port_dispi_read(f, BOCHS_DISPI_XRES), BOCHS_MAX_WIDTH);
	CHECK_EQ(mmio_dispi_read(f, BOCHS_DISPI_YRES), BOCHS_MAX_HEIGHT);
	CHECK_EQ(port_dispi_read(f, BOCHS_DISPI_BPP), 32);
	CHECK_EQ(port_dispi_read(f, BOCHS_DISPI_ENABLE), BOCHS_DISPI_GETCAPS);
	CHECK(!bochs_display_active(&f->dev, NULL, NULL));
	port_dispi_write(f, BOCHS_DISPI_ENABLE, 0);
	CHECK_EQ(port_dispi_read(f, BOCHS_DISPI_XRES), 640);
	CHECK_EQ(port_dispi_read(f, BOCHS_DISPI_YRES), 480);
	CHECK_EQ(port_dispi_read(f, BOCHS_DISPI_BPP), 8);
	fixture_free(f);
}

static void test_mode_validation(void)
{
	struct fixture *f = fixture_new();
	unsigned w = 0, h = 0;
	place_bars(f);

	drm_setmode(f, 1024, 768, 32);
	CHECK(bochs_display_active(&f->dev, &w, &h));
	CHECK_EQ(w, 1024);
	CHECK_EQ(h, 768);
	CHECK(f->dev.mode.valid);
	CHECK_EQ(f->dev.mode.line, 4096);
	CHECK_EQ(mmio_dispi_read(f, BOCHS_DISPI_VIRT_WIDTH), 1024);
	CHECK_EQ(mmio_dispi_read(f, BOCHS_DISPI_VIRT_HEIGHT), BOCHS_VRAM_SIZE / 4096);
	CHECK_EQ(f->dev.modes_set, 1);
	CHECK_EQ(f->dev.modes_refused, 0);

	/* Panning alone is not a mode; the generation moves. */
	uint64_t gen = f->dev.generation;
	mmio_dispi_write(f, BOCHS_DISPI_Y_OFFSET, 768);
	CHECK_EQ(f->dev.mode.start, 768u * 4096);
	CHECK(f->dev.generation != gen);
	CHECK_EQ(f->dev.modes_set, 1);
	/* An offset past the end of VRAM falls back to 0, as in QEMU. */
	mmio_dispi_write(f, BOCHS_DISPI_Y_OFFSET, 4000);
	CHECK_EQ(mmio_dispi_read(f, BOCHS_DISPI_Y_OFFSET), 0);
	CHECK_EQ(f->dev.mode.start, 0);
	mmio_dispi_write(f, BOCHS_DISPI_Y_OFFSET, 4096 - 768);
	CHECK_EQ(f->dev.mode.start, (4096u - 768) * 4096);
	mmio_dispi_write(f, BOCHS_DISPI_X_OFFSET, 1);	/* one pixel too far */
	CHECK_EQ(mmio_dispi_read(f, BOCHS_DISPI_Y_OFFSET), 0);
	CHECK_EQ(mmio_dispi_read(f, BOCHS_DISPI_X_OFFSET), 1);
	CHECK_EQ(f->dev.mode.start, 4);
	mmio_dispi_write(f, BOCHS_DISPI_X_OFFSET, 0);

	/* A stride too wide for the lines in VRAM: refused, black, counted
	 * once; the registers keep what the guest wrote. */
	mmio_dispi_write(f, BOCHS_DISPI_VIRT_WIDTH, 8192);
	CHECK(!f->dev.mode.valid);
	CHECK(bochs_display_active(&f->dev, &w, &h));
	CHECK_EQ(w, BOCHS_REFUSED_WIDTH);
	CHECK_EQ(h, BOCHS_REFUSED_HEIGHT);
	CHECK_EQ(mmio_dispi_read(f, BOCHS_DISPI_VIRT_WIDTH), 8192);
	CHECK_EQ(f->dev.modes_refused, 1);
	mmio_dispi_write(f, BOCHS_DISPI_X_OFFSET, 0);
	CHECK_EQ(f->dev.modes_refused, 1);
	mmio_dispi_write(f, BOCHS_DISPI_VIRT_WIDTH, 1024);
	CHECK(f->dev.mode.valid);
	CHECK_EQ(f->dev.modes_set, 2);
	/* A stride below XRES is raised to it. */
	mmio_dispi_write(f, BOCHS_DISPI_VIRT_WIDTH, 10);
	CHECK_EQ(mmio_dispi_read(f, BOCHS_DISPI_VIRT_WIDTH), 1024);

	/* The largest mode fits exactly; one pixel more is refused. */
	drm_setmode(f, BOCHS_MAX_WIDTH, BOCHS_MAX_HEIGHT, 32);
	CHECK(f->dev.mode.valid);
	drm_setmode(f, BOCHS_MAX_WIDTH + 1, 600, 32);
	CHECK(!f->dev.mode.valid);
	CHECK_EQ(f->dev.modes_refused, 2);
	drm_setmode(f, 800, BOCHS_MAX_HEIGHT + 1, 8);
	CHECK(!f->dev.mode.valid);
	/* Depths: 4 (planar) and nonsense refused, the five others taken. */
	drm_setmode(f, 640, 480, 4);
	CHECK(!f->dev.mode.valid);
	drm_setmode(f, 640, 480, 0);
	CHECK(!f->dev.mode.valid);
	drm_setmode(f, 0, 480, 8);
	CHECK(!f->dev.mode.valid);
	CHECK_EQ(f->dev.modes_refused, 6);
	static const unsigned depths[] = { 8, 15, 16, 24, 32 };
	static const unsigned lines[] = { 640, 1280, 1280, 1920, 2560 };
	for (unsigned i = 0; i < 5; i++) {
		drm_setmode(f, 640, 480, depths[i]);
		CHECK(f->dev.mode.valid);
		CHECK_EQ(f->dev.mode.line, lines[i]);
	}
	/* Odd widths are kept, not masked to multiples of 8. */
	drm_setmode(f, 1366, 768, 32);
	CHECK(f->dev.mode.valid);
	CHECK_EQ(f->dev.mode.width, 1366);
	CHECK_EQ(f->dev.mode.line, 1366u * 4);

	/* Changing the mode while enabled validates at once. */
	mmio_dispi_write(f, BOCHS_DISPI_YRES, 1601);
	CHECK(!f->dev.mode.valid);
	mmio_dispi_write(f, BOCHS_DISPI_YRES, 700);
	CHECK(f->dev.mode.valid);
	CHECK_EQ(f->dev.mode.height, 700);

	/* Disabled: the VGA shows again. */
	mmio_dispi_write(f, BOCHS_DISPI_ENABLE, 0);
	CHECK(!bochs_display_active(&f->dev, NULL, NULL));
	fixture_free(f);
}

static void test_clear_on_enable(void)
{
	struct fixture *f = fixture_new();
	place_bars(f);

	memset(f->vram, 0xaa, BOCHS_VRAM_SIZE);
	port_dispi_write(f, BOCHS_DISPI_XRES, 640);
	port_dispi_write(f, BOCHS_DISPI_YRES, 480);
	port_dispi_write(f, BOCHS_DISPI_BPP, 16);
	port_dispi_write(f, BOCHS_DISPI_ENABLE, BOCHS_DISPI_ENABLED | BOCHS_DISPI_NOCLEARMEM);
	CHECK(f->dev.mode.valid);
	CHECK_EQ(f->vram[0], 0xaa);
	CHECK_EQ(f->vram[640 * 2 * 480 - 1], 0xaa);
	/* Already enabled: no clearing again. */
	port_dispi_write(f, BOCHS_DISPI_ENABLE, BOCHS_DISPI_ENABLED | BOCHS_DISPI_LFB_ENABLED);
	CHECK_EQ(f->vram[0], 0xaa);

	port_dispi_write(f, BOCHS_DISPI_ENABLE, 0);
	CHECK_EQ(f->vram[0], 0xaa);
	port_dispi_write(f, BOCHS_DISPI_ENABLE, BOCHS_DISPI_ENABLED | BOCHS_DISPI_LFB_ENABLED);
	CHECK_EQ(f->vram[0], 0);
	CHECK_EQ(f->vram[640 * 2 * 480 - 1], 0);
	CHECK_EQ(f->vram[640 * 2 * 480], 0xaa);
	CHECK_EQ(f->vram[BOCHS_VRAM_SIZE - 1], 0xaa);

	/* A refused mode clears nothing. */
	port_dispi_write(f, BOCHS_DISPI_ENABLE, 0);
	port_dispi_write(f, BOCHS_DISPI_BPP, 7);
	memset(f->vram, 0xaa, 4096);
	port_dispi_write(f, BOCHS_DISPI_ENABLE, BOCHS_DISPI_ENABLED);
	CHECK(!f->dev.mode.valid);
	CHECK_EQ(f->vram[0], 0xaa);
	fixture_free(f);
}

static void test_qemu_extension(void)
{
	struct fixture *f = fixture_new();
	place_bars(f);
	uint64_t order = MMIO_GPA + BOCHS_MMIO_QEXT + BOCHS_QEXT_REG_BYTEORDER;

	CHECK_EQ(bus_read(&f->bus, BUS_SPACE_MMIO, MMIO_GPA + BOCHS_MMIO_QEXT, 4), 8);
	CHECK_EQ(bus_read(&f->bus, BUS_SPACE_MMIO, order, 4), BOCHS_QEXT_LITTLE_ENDIAN);
	CHECK_EQ(bus_read(&f->bus, BUS_SPACE_MMIO, order + 1, 1), 0x1e);

	drm_setmode(f, 640, 480, 32);
	uint64_t gen = f->dev.generation;
	bus_write(&f->bus, BUS_SPACE_MMIO, order, 4, BOCHS_QEXT_BIG_ENDIAN);
	CHECK_EQ(bus_read(&f->bus, BUS_SPACE_MMIO, order, 4), BOCHS_QEXT_BIG_ENDIAN);
	CHECK(f->dev.mode.big_endian);
	CHECK(f->dev.generation != gen);
	/* Other values and narrower writes change nothing; the size is read
	 * only. */
	bus_write(&f->bus, BUS_SPACE_MMIO, order, 4, 0x12345678);
	bus_write(&f->bus, BUS_SPACE_MMIO, order, 1, 0x1e);
	bus_write(&f->bus, BUS_SPACE_MMIO, MMIO_GPA + BOCHS_MMIO_QEXT, 4, 0);
	CHECK_EQ(bus_read(&f->bus, BUS_SPACE_MMIO, order, 4), BOCHS_QEXT_BIG_ENDIAN);
	CHECK_EQ(bus_read(&f->bus, BUS_SPACE_MMIO, MMIO_GPA + BOCHS_MMIO_QEXT, 4), 8);
	/* What bochs-drm writes on a little-endian host. */
	bus_write(&f->bus, BUS_SPACE_MMIO, order, 4, BOCHS_QEXT_LITTLE_ENDIAN);
	CHECK(!f->dev.mode.big_endian);
	/* Reset is little endian. */
	bus_write(&f->bus, BUS_SPACE_MMIO, order, 4, BOCHS_QEXT_BIG_ENDIAN);
	bochs_display_reset(&f->dev);
	CHECK(!f->dev.big_endian);
	fixture_free(f);
}

/* BAR2's window on the VGA's ports, as bochs-drm blanks and unblanks. */
static void test_vga_window(void)
{
	struct fixture *f = fixture_new();
	place_bars(f);
	uint64_t win = MMIO_GPA + BOCHS_MMIO_VGA;

	bus_write(&f->bus, BUS_SPACE_MMIO, win + (0x3c2 - 0x3c0), 1, 0x01);	/* MIS_W: colour */
	CHECK_EQ(f->vga.misc, 0x01);
	(void)bus_read(&f->bus, BUS_SPACE_MMIO, win + (0x3da - 0x3c0), 1);	/* IS1_RC */
	bus_write(&f->bus, BUS_SPACE_MMIO, win, 1, 0x20);			/* ATT_W */
	CHECK_EQ(f->vga.attr_index, 0x20);
	CHECK_EQ(bus_read(&f->bus, BUS_SPACE_MMIO, win + (0x3cc - 0x3c0), 1), 0x01);

	/* A word writes index then data: DAC entry 7 through 0x3c8/0x3c9. */
	bus_write(&f->bus, BUS_SPACE_MMIO, win + (0x3c8 - 0x3c0), 2, 0x3f07);
	bus_write(&f->bus, BUS_SPACE_MMIO, win + (0x3c9 - 0x3c0), 1, 0x00);
	bus_write(&f->bus, BUS_SPACE_MMIO, win + (0x3c9 - 0x3c0), 1, 0x15);
	CHECK_EQ(f->vga.dac[7][0], 0x3f);
	CHECK_EQ(f->vga.dac[7][1], 0x00);
	CHECK_EQ(f->vga.dac[7][2], 0x15);
	fixture_free(f);
}

/* Puts pixel (x, y) of the current mode in VRAM as the guest would. */
static void put_pixel(struct fixture *f, unsigned x, unsigned y, const uint8_t *bytes)
{
	const struct bochs_mode *m = &f->dev.mode;
	unsigned pixel = (m->bpp + 7) / 8;
	memcpy(f->vram + m->start + (size_t)y * m->line + (size_t)x * pixel, bytes, pixel);
}

static uint32_t rendered(struct fixture *f, unsigned x, unsigned y)
{
	unsigned w, h;
	bochs_display_render(&f->dev, NULL, true, f->pixels, &w, &h);
	CHECK_EQ(w, f->dev.mode.width);
	CHECK_EQ(h, f->dev.mode.height);
	return f->pixels[(size_t)y * w + x];
}

/* A mode with a stride wider than the picture and the picture panned
 * down, so that both count in where a pixel is found. */
static void panned_mode(struct fixture *f, unsigned bpp)
{
	drm_setmode(f, 320, 200, bpp);
	mmio_dispi_write(f, BOCHS_DISPI_VIRT_WIDTH, 352);
	mmio_dispi_write(f, BOCHS_DISPI_Y_OFFSET, 200);
	CHECK(f->dev.mode.valid);
	CHECK_EQ(f->dev.mode.line, 352u * ((bpp + 7) / 8));
	CHECK_EQ(f->dev.mode.start, 200u * f->dev.mode.line);
}

static void test_render_depths(void)
{
	struct fixture *f = fixture_new();
	place_bars(f);

	panned_mode(f, 32);
	put_pixel(f, 17, 9, (const uint8_t[]){ 0x33, 0x22, 0x11, 0xff });
	CHECK_EQ(rendered(f, 17, 9), 0x112233);
	CHECK_EQ(rendered(f, 18, 9), 0);
	/* Big endian: X, R, G, B. */
	bus_write(&f->bus, BUS_SPACE_MMIO, MMIO_GPA + BOCHS_MMIO_QEXT + 4, 4, BOCHS_QEXT_BIG_ENDIAN);
	CHECK_EQ(rendered(f, 17, 9), 0x2211ff);
	bus_write(&f->bus, BUS_SPACE_MMIO, MMIO_GPA + BOCHS_MMIO_QEXT + 4, 4,
		  BOCHS_QEXT_LITTLE_ENDIAN);

	panned_mode(f, 24);
	put_pixel(f, 319, 199, (const uint8_t[]){ 0x56, 0x34, 0x12 });
	CHECK_EQ(rendered(f, 319, 199), 0x123456);

	panned_mode(f, 16);
	put_pixel(f, 5, 6, (const uint8_t[]){ 0x1f, 0xf8 });	/* red 31, blue 31 */
	CHECK_EQ(rendered(f, 5, 6), 0xff00ff);
	put_pixel(f, 6, 6, (const uint8_t[]){ 0xe0, 0x07 });	/* green 63 */
	CHECK_EQ(rendered(f, 6, 6), 0x00ff00);
	put_pixel(f, 7, 6, (const uint8_t[]){ 0x10, 0x84 });	/* 16, 32, 16 */
	CHECK_EQ(rendered(f, 7, 6), 0x848284);

	panned_mode(f, 15);
	put_pixel(f, 5, 6, (const uint8_t[]){ 0x00, 0x7c });	/* red 31 */
	CHECK_EQ(rendered(f, 5, 6), 0xff0000);
	put_pixel(f, 6, 6, (const uint8_t[]){ 0xff, 0x7f });
	CHECK_EQ(rendered(f, 6, 6), 0xffffff);
	put_pixel(f, 7, 6, (const uint8_t[]){ 0xe0, 0x03 });	/* green 31 */
	CHECK_EQ(rendered(f, 7, 6), 0x00ff00);

	/* 8 bpp through the legacy VGA's DAC, which starts with mode 3's EGA
	 * colours (entry bits 2-0 worth 0x2a each, 5-3 0x15). */
	panned_mode(f, 8);
	put_pixel(f, 3, 4, (const uint8_t[]){ 0x07 });
	CHECK_EQ(rendered(f, 3, 4), 0xaaaaaa);	/* EGA 7: 0x2a each */
	put_pixel(f, 3, 4, (const uint8_t[]){ 0x3f });
	CHECK_EQ(rendered(f, 3, 4), 0xffffff);
	f->vga.dac[0x80][0] = 0x3f;
	f->vga.dac[0x80][1] = 0x10;
	f->vga.dac[0x80][2] = 0x01;
	put_pixel(f, 3, 4, (const uint8_t[]){ 0x80 });
	CHECK_EQ(rendered(f, 3, 4), 0xff4104);
	/* Without a VGA: a grey ramp. */
	f->dev.vga = NULL;
	CHECK_EQ(rendered(f, 3, 4), 0x808080);
	f->dev.vga = &f->vga;

	/* A refused mode is black, at its fixed size. */
	mmio_dispi_write(f, BOCHS_DISPI_BPP, 9);
	unsigned w, h;
	f->pixels[0] = 0x123456;
	CHECK(bochs_display_render(&f->dev, NULL, false, f->pixels, &w, &h));
	CHECK_EQ(w, BOCHS_REFUSED_WIDTH);
	CHECK_EQ(h, BOCHS_REFUSED_HEIGHT);
	CHECK_EQ(f->pixels[0], 0);
	/* Disabled: nothing. */
	mmio_dispi_write(f, BOCHS_DISPI_ENABLE, 0);
	CHECK(!bochs_display_render(&f->dev, NULL, true, f->pixels, &w, &h));
	CHECK_EQ(w, 0);
	CHECK_EQ(h, 0);
	fixture_free(f);
}

/* Writes through the bus mark their pages; the dirty-row path then draws
 * exactly what a full render draws, and nothing when nothing changed. */
static void test_dirty_rows(void)
{
	struct fixture *f = fixture_new();
	uint8_t dirty[BOCHS_DIRTY_BYTES];
	unsigned w, h, w2, h2;
	place_bars(f);

	drm_setmode(f, 800, 600, 32);
	mmio_dispi_write(f, BOCHS_DISPI_VIRT_WIDTH, 832);
	mmio_dispi_write(f, BOCHS_DISPI_Y_OFFSET, 10);
	mmio_dispi_write(f, BOCHS_DISPI_X_OFFSET, 3);
	for (size_t i = 0; i < (size_t)832 * 4 * 620; i++)
		f->vram[i] = (uint8_t)(i * 7 + (i >> 11));

	CHECK(bochs_display_render(&f->dev, NULL, true, f->pixels, &w, &h));
	memset(dirty, 0, sizeof(dirty));
	bochs_display_take_dirty(&f->dev, dirty);
	/* Nothing changed: nothing drawn. */
	CHECK(!bochs_display_render(&f->dev, dirty, false, f->pixels, &w, &h));

	/* Writes through BAR0 on the bus, including one across a page end. */
	uint64_t base = VRAM_GPA + f->dev.mode.start;
	bus_write(&f->bus, BUS_SPACE_MMIO, base + 5 * 3328 + 40, 4, 0x00abcdef);
	bus_write(&f->bus, BUS_SPACE_MMIO, VRAM_GPA + 0x80ffe, 8, 0x1122334455667788ull);
	bus_write(&f->bus, BUS_SPACE_MMIO, base + 599 * 3328 + 799 * 4, 4, 0x00fedcba);
	memset(dirty, 0, sizeof(dirty));
	bochs_display_take_dirty(&f->dev, dirty);
	unsigned page = (unsigned)((f->dev.mode.start + 5 * 3328 + 40) >> 12);
	CHECK(dirty[page >> 3] & (1u << (page & 7)));
	CHECK(dirty[0x80 >> 3] & 1);
	CHECK(dirty[0x81 >> 3] & 2);
	CHECK(!(dirty[0x82 >> 3] & 4));
	unsigned dirty_pages = 0;
	for (unsigned i = 0; i < BOCHS_DIRTY_BYTES * 8; i++)
		dirty_pages += dirty[i >> 3] >> (i & 7) & 1;
	CHECK_EQ(dirty_pages, 4);
	/* Taken: the device's own bitmap is empty again. */
	uint8_t again[BOCHS_DIRTY_BYTES] = { 0 };
	bochs_display_take_dirty(&f->dev, again);
	CHECK_EQ(again[page >> 3], 0);

	CHECK(bochs_display_render(&f->dev, dirty, false, f->pixels, &w, &h));
	CHECK_EQ(f->dev.shown.generation, f->dev.generation);
	CHECK(bochs_display_render(&f->dev, NULL, true, f->pixels2, &w2, &h2));
	CHECK_EQ(w, w2);
	CHECK_EQ(h, h2);
	CHECK(memcmp(f->pixels, f->pixels2, (size_t)w * h * 4) == 0);
	CHECK_EQ(f->pixels[5 * 800 + 10], 0xabcdef);
	CHECK_EQ(f->pixels[599 * 800 + 799], 0xfedcba);

	/* Only rows on dirty pages are drawn: poison the buffer elsewhere. */
	f->pixels[300 * 800] = 0xdeadbeef;
	memset(dirty, 0, sizeof(dirty));
	bochs_display_mark_dirty(&f->dev, f->dev.mode.start, 1);
	bochs_display_take_dirty(&f->dev, dirty);
	CHECK(bochs_display_render(&f->dev, dirty, false, f->pixels, &w, &h));
	CHECK_EQ(f->pixels[300 * 800], 0xdeadbeef);
	/* A register change redraws everything, dirty or not. */
	mmio_dispi_write(f, BOCHS_DISPI_Y_OFFSET, 11);
	memset(dirty, 0, sizeof(dirty));
	CHECK(bochs_display_render(&f->dev, dirty, false, f->pixels, &w, &h));
	CHECK(bochs_display_render(&f->dev, NULL, true, f->pixels2, &w2, &h2));
	CHECK(memcmp(f->pixels, f->pixels2, (size_t)w * h * 4) == 0);
	/* mark_dirty clips at the end of VRAM. */
	bochs_display_mark_dirty(&f->dev, BOCHS_VRAM_SIZE - 1, 100);
	bochs_display_mark_dirty(&f->dev, BOCHS_VRAM_SIZE, 100);
	CHECK_EQ(f->dev.dirty[BOCHS_DIRTY_BYTES - 1], 0x80);

	/* 8 bpp: a palette change redraws everything. */
	drm_setmode(f, 64, 64, 8);
	memset(f->vram, 5, 64 * 64);
	CHECK(bochs_display_render(&f->dev, NULL, true, f->pixels, &w, &h));
	memset(dirty, 0, sizeof(dirty));
	CHECK(!bochs_display_render(&f->dev, dirty, false, f->pixels, &w, &h));
	f->vga.dac[5][0] = 0x3f;
	CHECK(bochs_display_render(&f->dev, dirty, false, f->pixels, &w, &h));
	CHECK_EQ(f->pixels[63 * 64 + 63] >> 16, 0xff);
	CHECK_EQ(f->pixels[63 * 64 + 63], f->pixels[0]);
	fixture_free(f);
}

/* bochs-drm's page flip: the stride, then the offsets. */
static void test_page_flip(void)
{
	struct fixture *f = fixture_new();
	place_bars(f);

	drm_setmode(f, 1024, 768, 32);
	f->vram[768u * 4096 + 4 * 10] = 0x77;	/* pixel (10, 0) of the second page */
	mmio_dispi_write(f, BOCHS_DISPI_VIRT_WIDTH, 1024);
	mmio_dispi_write(f, BOCHS_DISPI_X_OFFSET, 0);
	mmio_dispi_write(f, BOCHS_DISPI_Y_OFFSET, 768);
	CHECK_EQ(rendered(f, 10, 0), 0x77);
	mmio_dispi_write(f, BOCHS_DISPI_Y_OFFSET, 0);
	CHECK_EQ(rendered(f, 10, 0), 0);
	CHECK_EQ(f->dev.modes_set, 1);
	fixture_free(f);
}

static void test_boot_mode(void)
{
	struct fixture *f = fixture_new();
	struct bochs_screen_info si;

	memset(f->vram, 0xaa, BOCHS_VRAM_SIZE);
	CHECK_EQ(bochs_display_set_mode(&f->dev, 1024, 768, 32), 0);
	CHECK_EQ(f->vram[0], 0);
	CHECK_EQ(f->vram[1024 * 768 * 4 - 1], 0);
	CHECK_EQ(f->vram[1024 * 768 * 4], 0xaa);
	CHECK_EQ(f->dev.regs[BOCHS_DISPI_ENABLE], BOCHS_DISPI_ENABLED | BOCHS_DISPI_LFB_ENABLED);
	CHECK(bochs_display_active(&f->dev, NULL, NULL));
	/* BAR0 not placed yet. */
	CHECK_EQ(bochs_display_screen_info(&f->dev, &si), -ENODEV);
	place_bars(f);
	CHECK_EQ(bochs_display_screen_info(&f->dev, &si), 0);
	CHECK_EQ(si.video_type, 0x23);
	CHECK_EQ(si.lfb_width, 1024);
	CHECK_EQ(si.lfb_height, 768);
	CHECK_EQ(si.lfb_depth, 32);
	CHECK_EQ(si.lfb_linelength, 4096);
	CHECK_EQ(si.lfb_base, VRAM_GPA);
	CHECK_EQ(si.lfb_size, 256);
	CHECK_EQ(si.pages, 5);
	CHECK_EQ(si.red_size, 8);
	CHECK_EQ(si.red_pos, 16);
	CHECK_EQ(si.green_size, 8);
	CHECK_EQ(si.green_pos, 8);
	CHECK_EQ(si.blue_size, 8);
	CHECK_EQ(si.blue_pos, 0);
	CHECK_EQ(si.rsvd_size, 8);
	CHECK_EQ(si.rsvd_pos, 24);

	CHECK_EQ(bochs_display_set_mode(&f->dev, 800, 600, 16), 0);
	CHECK_EQ(bochs_display_screen_info(&f->dev, &si), 0);
	CHECK_EQ(si.lfb_linelength, 1600);
	CHECK_EQ(si.red_pos, 11);
	CHECK_EQ(si.green_size, 6);

	/* Refused: DISPI left disabled. */
	CHECK_EQ(bochs_display_set_mode(&f->dev, 4096, 2160, 32), -EINVAL);
	CHECK(!bochs_display_active(&f->dev, NULL, NULL));
	CHECK_EQ(bochs_display_screen_info(&f->dev, &si), -ENODEV);
	CHECK_EQ(bochs_display_set_mode(&f->dev, 640, 480, 12), -EINVAL);
	/* Decoding off: no base to give. */
	CHECK_EQ(bochs_display_set_mode(&f->dev, 640, 480, 8), 0);
	cfg_wr(f, PCI_REG_COMMAND, 2, 0);
	CHECK_EQ(bochs_display_screen_info(&f->dev, &si), -ENODEV);
	fixture_free(f);
}

static void test_reset(void)
{
	struct fixture *f = fixture_new();
	place_bars(f);

	drm_setmode(f, 640, 480, 32);
	port_dispi_write(f, BOCHS_DISPI_ID, 0xb0c2);
	bus_write(&f->bus, BUS_SPACE_PIO, BOCHS_DISPI_PORT_INDEX, 2, 3);
	f->vram[0] = 0x42;
	uint64_t gen = f->dev.generation;
	bochs_display_reset(&f->dev);
	CHECK(f->dev.generation != gen);
	CHECK(!bochs_display_active(&f->dev, NULL, NULL));
	CHECK_EQ(f->dev.index, 0);
	CHECK_EQ(f->dev.regs[BOCHS_DISPI_ID], BOCHS_DISPI_ID5);
	for (unsigned i = BOCHS_DISPI_XRES; i < BOCHS_DISPI_REGS; i++)
		CHECK_EQ(f->dev.regs[i], 0);
	CHECK_EQ(f->vram[0], 0x42);	/* VRAM is kept */
	CHECK_EQ(cfg_rd(f, PCI_REG_COMMAND, 2), 0);
	CHECK_EQ(cfg_rd(f, PCI_REG_BAR0, 4), 0x08);
	fixture_free(f);
}

/* xorshift64*: a fixed sequence, the same in every run. */
static uint64_t next_random(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * 0x2545f4914f6cdd1dull;
}

/* Whatever the guest writes, the picture stays inside VRAM and the
 * maxima, and rendering never leaves its buffers (the ASan build checks
 * the latter). */
static void test_random_garbage(void)
{
	static const unsigned depths[] = { 8, 15, 16, 24, 32, 4, 31 };
	static const unsigned panning[] = {
		BOCHS_DISPI_VIRT_WIDTH, BOCHS_DISPI_X_OFFSET, BOCHS_DISPI_Y_OFFSET,
	};
	struct fixture *f = fixture_new();
	uint64_t state = 0x9e3779b97f4a7c15ull;
	uint8_t dirty[BOCHS_DIRTY_BYTES];
	unsigned w, h;
	unsigned bad = 0;
	place_bars(f);

	for (unsigned i = 0; i < 20000; i++) {
		uint64_t r = next_random(&state);
		uint16_t value = (uint16_t)(r >> 16);
		unsigned index = (unsigned)(r >> 32) % 14;
		/* Mostly plausible values, to reach valid modes often. */
		if ((r >> 40) % 4 == 0)
			value = (uint16_t)((r >> 48) % 2600);
		else if ((r >> 40) % 4 == 1)
			value = (uint16_t)(1u << ((r >> 48) % 16));
		switch ((r >> 8) % 10) {
		case 0:
		case 1:
			port_dispi_write(f, index, value);
			break;
		case 2:
		case 3:
			mmio_dispi_write(f, index, value);
			break;
		case 4:
			bus_write(&f->bus, BUS_SPACE_MMIO, MMIO_GPA + (r >> 20) % BOCHS_MMIO_SIZE,
				  1u << ((r >> 56) % 4), r);
			break;
		case 5:
			bus_write(&f->bus, BUS_SPACE_PIO,
				  BOCHS_DISPI_PORT_INDEX + (unsigned)(r >> 20) % 3,
				  1u << ((r >> 56) % 3), r);
			break;
		case 6:
			bus_write(&f->bus, BUS_SPACE_MMIO, VRAM_GPA + (r >> 20) % BOCHS_VRAM_SIZE,
				  1u << ((r >> 56) % 4), r);
			break;
		case 7:
			(void)bus_read(&f->bus, BUS_SPACE_MMIO, MMIO_GPA + (r >> 20) % BOCHS_MMIO_SIZE,
				       1u << ((r >> 56) % 4));
			break;
		case 8:
			/* A whole mode set, often a valid one. */
			drm_setmode(f, 1 + (unsigned)(r >> 16) % 2600, 1 + (unsigned)(r >> 28) % 1700,
				    depths[(r >> 40) % 7]);
			break;
		case 9:
			/* Panning and stride within reach of VRAM's end. */
			mmio_dispi_write(f, panning[(r >> 16) % 3], (uint16_t)((r >> 32) % 5000));
			break;
		}
		const struct bochs_mode *m = &f->dev.mode;
		if (m->enabled && m->valid) {
			unsigned pixel = (m->bpp + 7) / 8;
			bad += m->width == 0 || m->width > BOCHS_MAX_WIDTH;
			bad += m->height == 0 || m->height > BOCHS_MAX_HEIGHT;
			bad += (uint64_t)m->width * pixel > m->line;
			bad += (uint64_t)m->start + (uint64_t)m->line * m->height > BOCHS_VRAM_SIZE;
		}
		if (i % 37 == 0) {
			memset(dirty, 0, sizeof(dirty));
			bochs_display_take_dirty(&f->dev, dirty);
			bochs_display_render(&f->dev, dirty, (r & 1) != 0, f->pixels, &w, &h);
			bad += w > BOCHS_MAX_WIDTH || h > BOCHS_MAX_HEIGHT;
		}
	}
	CHECK_EQ(bad, 0);
	CHECK(f->dev.modes_set > 0);
	CHECK(f->dev.modes_refused > 0);
	CHECK(f->dev.unknown_writes > 0);
	fixture_free(f);
}

int main(void)
{
	test_pci_identity();
	test_bar_placement();
	test_dispi_ports_and_mmio();
	test_getcaps();
	test_mode_validation();
	test_clear_on_enable();
	test_qemu_extension();
	test_vga_window();
	test_render_depths();
	test_dirty_rows();
	test_page_flip();
	test_boot_mode();
	test_reset();
	test_random_garbage();
	return check_report("test_bochs_display");
}
