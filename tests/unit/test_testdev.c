/* The btvm test device through the bus: scratch array at every width,
 * little-endian, the write counter and last width/offset registers, the
 * identification constant, read-only registers ignoring writes, and
 * accesses the bus or the monitor cut into pieces. */
#include "check.h"
#include "devices/testdev.h"

#define B TESTDEV_BASE

static uint64_t rd(struct bus *bus, uint64_t offset, unsigned width)
{
	return bus_read(bus, BUS_SPACE_MMIO, B + offset, width);
}

static void wr(struct bus *bus, uint64_t offset, unsigned width, uint64_t value)
{
	bus_write(bus, BUS_SPACE_MMIO, B + offset, width, value);
}

static void test_scratch_widths(struct bus *bus, struct testdev *dev)
{
	wr(bus, 0x10, 1, 0x11);
	wr(bus, 0x12, 2, 0x3322);
	wr(bus, 0x14, 4, 0x77665544);
	wr(bus, 0x18, 8, 0xffeeddccbbaa9988ULL);
	CHECK_EQ(dev->writes, 4);   /* one per access, not per byte */
	CHECK_EQ(rd(bus, TESTDEV_WRITES, 4), 4);
	CHECK_EQ(rd(bus, TESTDEV_LAST_WIDTH, 4), 8);
	CHECK_EQ(rd(bus, TESTDEV_LAST_OFFSET, 4), 0x18);
	/* Little-endian: the dword at 0x10 is 0x3322, 0x00 and 0x11. */
	CHECK_EQ(rd(bus, 0x10, 4), 0x33220011);
	CHECK_EQ(rd(bus, 0x14, 1), 0x44);
	CHECK_EQ(rd(bus, 0x17, 1), 0x77);
	CHECK_EQ(rd(bus, 0x15, 2), 0x6655);
	CHECK_EQ(rd(bus, 0x18, 8), 0xffeeddccbbaa9988ULL);
	CHECK_EQ(rd(bus, 0x10, 8), 0x7766554433220011ULL);
	/* Unaligned accesses are fine for a scratch array. */
	wr(bus, 0x21, 4, 0xa1b2c3d4);
	CHECK_EQ(rd(bus, 0x20, 8), 0x000000a1b2c3d400ULL);
	CHECK_EQ(rd(bus, 0x23, 2), 0xa1b2);
	/* Reads record width and offset but are not writes. */
	CHECK_EQ(rd(bus, TESTDEV_LAST_WIDTH, 4), 2);
	CHECK_EQ(rd(bus, TESTDEV_LAST_OFFSET, 4), 0x23);
	CHECK_EQ(rd(bus, TESTDEV_WRITES, 4), 5);
	/* The last byte of the array, at every width that fits. */
	wr(bus, 0xff, 1, 0x5a);
	CHECK_EQ(rd(bus, 0xf8, 8) >> 56, 0x5a);
	CHECK_EQ(rd(bus, TESTDEV_LAST_OFFSET, 4), 0xf8);
}

static void test_registers(struct bus *bus, struct testdev *dev)
{
	CHECK_EQ(rd(bus, TESTDEV_ID, 4), TESTDEV_MAGIC);
	CHECK_EQ(rd(bus, TESTDEV_ID, 2), TESTDEV_MAGIC & 0xffff);
	CHECK_EQ(rd(bus, TESTDEV_ID + 2, 2), TESTDEV_MAGIC >> 16);
	CHECK_EQ(rd(bus, TESTDEV_ID + 3, 1), TESTDEV_MAGIC >> 24);
	wr(bus, 0x40, 2, 0xbeef);
	uint32_t writes = dev->writes;
	/* One 8-byte read of two registers: offset low, the constant high. */
	CHECK_EQ(rd(bus, TESTDEV_LAST_OFFSET, 8), ((uint64_t)TESTDEV_MAGIC << 32) | 0x40);
	/* Reading the registers changes nothing they report. */
	CHECK_EQ(rd(bus, TESTDEV_LAST_WIDTH, 4), 2);
	CHECK_EQ(rd(bus, TESTDEV_LAST_OFFSET, 4), 0x40);
	/* Writes to read-only registers are ignored, and not counted. */
	wr(bus, TESTDEV_WRITES, 4, 0);
	wr(bus, TESTDEV_LAST_WIDTH, 8, 0);
	wr(bus, TESTDEV_ID, 4, 0);
	wr(bus, TESTDEV_ID + 1, 1, 0);
	CHECK_EQ(rd(bus, TESTDEV_WRITES, 4), writes);
	CHECK_EQ(rd(bus, TESTDEV_LAST_WIDTH, 4), 2);
	CHECK_EQ(rd(bus, TESTDEV_ID, 4), TESTDEV_MAGIC);
	/* The rest of the page reads as zero and drops writes. */
	wr(bus, 0x800, 4, 0x12345678);
	CHECK_EQ(rd(bus, 0x800, 4), 0);
	CHECK_EQ(rd(bus, TESTDEV_REGS_END, 8), 0);
	CHECK_EQ(rd(bus, TESTDEV_WRITES, 4), writes);
	CHECK_EQ(bus->unclaimed_reads[BUS_SPACE_MMIO] + bus->unclaimed_writes[BUS_SPACE_MMIO], 0);
}

/* An access from the array's end into the registers: each byte from where
 * it lies, and a write keeps only the array's part. */
static void test_array_end(struct bus *bus, struct testdev *dev)
{
	wr(bus, 0xfc, 4, 0x04030201);
	uint32_t writes = dev->writes;
	CHECK_EQ(rd(bus, 0xfc, 8), ((uint64_t)writes << 32) | 0x04030201);
	wr(bus, 0xfe, 4, 0xddccbbaa);
	CHECK_EQ(rd(bus, 0xfc, 4), 0xbbaa0201);
	CHECK_EQ(rd(bus, TESTDEV_WRITES, 4), writes + 1);
	CHECK_EQ(rd(bus, TESTDEV_LAST_WIDTH, 4), 4);
	CHECK_EQ(rd(bus, TESTDEV_LAST_OFFSET, 4), 0xfc);
}

/* The bus takes at most 8 bytes per access, so a 16-byte guest access
 * (MOVDQU) reaches the device as two 8-byte accesses, low half first, as
 * the monitor passes it on. */
static void test_sixteen_bytes(struct bus *bus, struct testdev *dev)
{
	uint32_t writes = dev->writes;
	const uint64_t lo = 0x0706050403020100ULL, hi = 0x0f0e0d0c0b0a0908ULL;
	wr(bus, 0x60, 8, lo);
	wr(bus, 0x68, 8, hi);
	CHECK_EQ(dev->writes, writes + 2);
	CHECK_EQ(dev->last_width, 8);
	CHECK_EQ(dev->last_offset, 0x68);
	for (unsigned i = 0; i < 16; i++)
		CHECK_EQ(dev->scratch[0x60 + i], i);
	CHECK_EQ(rd(bus, 0x60, 8), lo);
	CHECK_EQ(rd(bus, 0x68, 8), hi);
	CHECK_EQ(rd(bus, 0x64, 8), 0x0b0a090807060504ULL);
}

/* The bus cuts an access at the end of the device's page: the part inside
 * reaches the device at its own width, the rest is unclaimed. */
static void test_page_end(struct bus *bus, struct testdev *dev)
{
	uint64_t unclaimed = bus->unclaimed_reads[BUS_SPACE_MMIO];
	CHECK_EQ(rd(bus, TESTDEV_SIZE - 4, 8), 0xffffffff00000000ULL);
	CHECK_EQ(bus->unclaimed_reads[BUS_SPACE_MMIO], unclaimed + 1);
	/* The scratch array at the start of the page is reached from below
	 * too: a dword straddling the device's start. */
	wr(bus, 0, 2, 0x1234);
	uint32_t writes = dev->writes;
	bus_write(bus, BUS_SPACE_MMIO, B - 2, 4, 0xcdefaaaa);
	CHECK_EQ(dev->writes, writes + 1);
	CHECK_EQ(dev->last_width, 2);
	CHECK_EQ(dev->last_offset, 0);
	CHECK_EQ(rd(bus, 0, 2), 0xcdef);
}

static void test_init(struct testdev *dev)
{
	testdev_init(dev);
	CHECK_EQ(dev->writes, 0);
	CHECK_EQ(dev->last_width, 0);
	CHECK_EQ(dev->last_offset, 0);
	CHECK_EQ(dev->scratch[0x60], 0);
}

int main(void)
{
	struct bus bus;
	struct testdev dev;
	bus_init(&bus);
	testdev_init(&dev);
	CHECK_EQ(testdev_attach(&dev, &bus, TESTDEV_BASE), 0);
	test_scratch_widths(&bus, &dev);
	test_registers(&bus, &dev);
	test_array_end(&bus, &dev);
	test_sixteen_bytes(&bus, &dev);
	test_page_end(&bus, &dev);
	test_init(&dev);
	return check_report("test_testdev");
}
