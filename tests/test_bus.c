/* Bus dispatch: region lookup, offsets relative to the region, splitting of
 * accesses wider than a device takes, unclaimed accesses, overlap checks. */
#include <errno.h>

#include "check.h"
#include "devices/bus.h"

struct fake_dev {
	uint8_t mem[16];
	unsigned reads, writes;
	unsigned last_width;
	uint64_t last_offset;
};

static uint64_t fake_read(void *opaque, uint64_t offset, unsigned width)
{
	struct fake_dev *d = opaque;
	uint64_t v = 0;
	d->reads++;
	d->last_width = width;
	d->last_offset = offset;
	for (unsigned i = 0; i < width; i++)
		v |= (uint64_t)d->mem[offset + i] << (8 * i);
	return v;
}

static void fake_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	struct fake_dev *d = opaque;
	d->writes++;
	d->last_width = width;
	d->last_offset = offset;
	for (unsigned i = 0; i < width; i++)
		d->mem[offset + i] = (uint8_t)(value >> (8 * i));
}

static const struct bus_ops byte_ops = { .read = fake_read, .write = fake_write, .max_width = 1 };
static const struct bus_ops word_ops = { .read = fake_read, .write = fake_write, .max_width = 2 };
static const struct bus_ops quad_ops = { .read = fake_read, .write = fake_write, .max_width = 8 };

static void test_dispatch_and_offsets(void)
{
	struct bus bus;
	struct fake_dev a = { 0 }, b = { 0 };
	bus_init(&bus);
	CHECK_EQ(bus_register(&bus, BUS_SPACE_PIO, "a", 0x3f8, 8, &byte_ops, &a), 0);
	CHECK_EQ(bus_register(&bus, BUS_SPACE_PIO, "b", 0x60, 4, &quad_ops, &b), 0);

	bus_write(&bus, BUS_SPACE_PIO, 0x3fb, 1, 0x83);
	CHECK_EQ(a.mem[3], 0x83);
	CHECK_EQ(a.last_offset, 3);
	CHECK_EQ(bus_read(&bus, BUS_SPACE_PIO, 0x3fb, 1), 0x83);
	CHECK_EQ(b.reads + b.writes, 0);

	/* The same address in the other space belongs to nobody. */
	CHECK_EQ(bus_read(&bus, BUS_SPACE_MMIO, 0x3fb, 1), 0xff);
	CHECK_EQ(bus.unclaimed_reads[BUS_SPACE_MMIO], 1);
	CHECK_EQ(bus.unclaimed_reads[BUS_SPACE_PIO], 0);
}

static void test_splitting(void)
{
	struct bus bus;
	struct fake_dev a = { 0 }, w = { 0 };
	bus_init(&bus);
	CHECK_EQ(bus_register(&bus, BUS_SPACE_PIO, "bytes", 0x100, 8, &byte_ops, &a), 0);
	CHECK_EQ(bus_register(&bus, BUS_SPACE_MMIO, "words", 0xfee00000, 16, &word_ops, &w), 0);

	/* A dword to a byte-wide device becomes four byte writes, low first. */
	bus_write(&bus, BUS_SPACE_PIO, 0x100, 4, 0x44332211);
	CHECK_EQ(a.writes, 4);
	CHECK_EQ(a.last_width, 1);
	CHECK_EQ(a.mem[0], 0x11);
	CHECK_EQ(a.mem[3], 0x44);
	CHECK_EQ(bus_read(&bus, BUS_SPACE_PIO, 0x100, 4), 0x44332211);
	CHECK_EQ(a.reads, 4);

	/* A quadword to a word-wide device: four pieces of two bytes. */
	bus_write(&bus, BUS_SPACE_MMIO, 0xfee00004, 8, 0x8877665544332211ULL);
	CHECK_EQ(w.writes, 4);
	CHECK_EQ(w.last_width, 2);
	CHECK_EQ(w.last_offset, 10);
	CHECK_EQ(bus_read(&bus, BUS_SPACE_MMIO, 0xfee00004, 8), 0x8877665544332211ULL);
	CHECK_EQ(bus.unclaimed_reads[BUS_SPACE_MMIO] + bus.unclaimed_writes[BUS_SPACE_MMIO], 0);
}

static void test_straddling_region_end(void)
{
	struct bus bus;
	struct fake_dev q = { 0 };
	bus_init(&bus);
	CHECK_EQ(bus_register(&bus, BUS_SPACE_PIO, "quad", 0x10, 4, &quad_ops, &q), 0);
	q.mem[2] = 0xaa;
	q.mem[3] = 0xbb;
	/* Two bytes inside the device, two beyond it: the outside half reads
	 * as ones and the access counts once as unclaimed. */
	CHECK_EQ(bus_read(&bus, BUS_SPACE_PIO, 0x12, 4), 0xffffbbaa);
	CHECK_EQ(bus.unclaimed_reads[BUS_SPACE_PIO], 1);
	CHECK_EQ(q.last_width, 2);
	CHECK_EQ(q.last_offset, 2);
}

static void test_unclaimed(void)
{
	struct bus bus;
	bus_init(&bus);
	CHECK_EQ(bus_read(&bus, BUS_SPACE_PIO, 0x1234, 1), 0xff);
	CHECK_EQ(bus_read(&bus, BUS_SPACE_PIO, 0x1234, 2), 0xffff);
	CHECK_EQ(bus_read(&bus, BUS_SPACE_PIO, 0x1234, 4), 0xffffffff);
	bus_write(&bus, BUS_SPACE_PIO, 0x1234, 4, 0);
	CHECK_EQ(bus.unclaimed_reads[BUS_SPACE_PIO], 3);
	CHECK_EQ(bus.unclaimed_writes[BUS_SPACE_PIO], 1);
}

static void test_registration_errors(void)
{
	struct bus bus;
	struct fake_dev a = { 0 };
	static const struct bus_ops bad_width = { .read = fake_read, .write = fake_write, .max_width = 3 };
	bus_init(&bus);
	CHECK_EQ(bus_register(&bus, BUS_SPACE_PIO, "a", 0x40, 4, &byte_ops, &a), 0);
	CHECK_EQ(bus_register(&bus, BUS_SPACE_PIO, "overlap", 0x43, 2, &byte_ops, &a), -EEXIST);
	CHECK_EQ(bus_register(&bus, BUS_SPACE_PIO, "below", 0x3f, 1, &byte_ops, &a), 0);
	CHECK_EQ(bus_register(&bus, BUS_SPACE_PIO, "empty", 0x80, 0, &byte_ops, &a), -EINVAL);
	CHECK_EQ(bus_register(&bus, BUS_SPACE_PIO, "width", 0x80, 1, &bad_width, &a), -EINVAL);
	CHECK_EQ(bus_register(&bus, BUS_SPACE_MMIO, "wrap", ~0ULL - 1, 4, &byte_ops, &a), -EINVAL);
	/* Overlap is per space. */
	CHECK_EQ(bus_register(&bus, BUS_SPACE_MMIO, "a-mmio", 0x40, 4, &byte_ops, &a), 0);
	for (unsigned i = bus.count[BUS_SPACE_PIO]; i < BUS_MAX_REGIONS; i++)
		CHECK_EQ(bus_register(&bus, BUS_SPACE_PIO, "fill", 0x1000 + i, 1, &byte_ops, &a), 0);
	CHECK_EQ(bus_register(&bus, BUS_SPACE_PIO, "full", 0x9000, 1, &byte_ops, &a), -ENOSPC);
	CHECK(bus_find(&bus, BUS_SPACE_PIO, 0x41) != NULL);
	CHECK(bus_find(&bus, BUS_SPACE_PIO, 0x44) == NULL);
}

int main(void)
{
	test_dispatch_and_offsets();
	test_splitting();
	test_straddling_region_end();
	test_unclaimed();
	test_registration_errors();
	return check_report("test_bus");
}
