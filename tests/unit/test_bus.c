/* Bus dispatch: region lookup, offsets relative to the region, splitting of
 * accesses wider than a device takes, unclaimed accesses, overlap checks,
 * removing and moving regions (also from inside a handler). */
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

static void test_unregister(void)
{
	struct bus bus;
	struct fake_dev a = { 0 }, b = { 0 }, c = { 0 };
	bus_init(&bus);
	CHECK_EQ(bus_register(&bus, BUS_SPACE_MMIO, "a", 0x1000, 16, &quad_ops, &a), 0);
	CHECK_EQ(bus_register(&bus, BUS_SPACE_MMIO, "b", 0x2000, 16, &quad_ops, &b), 0);
	CHECK_EQ(bus_register(&bus, BUS_SPACE_MMIO, "c", 0x3000, 16, &quad_ops, &c), 0);
	c.mem[0] = 0x5c;

	/* Only the exact start names a region, and only in its own space. */
	CHECK_EQ(bus_unregister(&bus, BUS_SPACE_MMIO, 0x2004), -ENOENT);
	CHECK_EQ(bus_unregister(&bus, BUS_SPACE_PIO, 0x2000), -ENOENT);
	CHECK_EQ(bus_unregister(&bus, BUS_SPACE_MMIO, 0x2000), 0);
	CHECK_EQ(bus_unregister(&bus, BUS_SPACE_MMIO, 0x2000), -ENOENT);
	CHECK_EQ(bus.count[BUS_SPACE_MMIO], 2);

	/* b's range is nobody's now; the others answer as before and keep
	 * their registration order. */
	CHECK_EQ(bus_read(&bus, BUS_SPACE_MMIO, 0x2000, 4), 0xffffffff);
	CHECK_EQ(bus.unclaimed_reads[BUS_SPACE_MMIO], 1);
	CHECK_EQ(b.reads, 0);
	CHECK_EQ(bus_read(&bus, BUS_SPACE_MMIO, 0x3000, 1), 0x5c);
	CHECK(bus.regions[BUS_SPACE_MMIO][0].opaque == &a);
	CHECK(bus.regions[BUS_SPACE_MMIO][1].opaque == &c);

	/* The range can be taken again, by anyone. */
	CHECK_EQ(bus_register(&bus, BUS_SPACE_MMIO, "b2", 0x1ff8, 16, &byte_ops, &b), 0);
	bus_write(&bus, BUS_SPACE_MMIO, 0x2000, 1, 0x77);
	CHECK_EQ(b.mem[8], 0x77);

	/* Emptying the table and filling it up again. */
	CHECK_EQ(bus_unregister(&bus, BUS_SPACE_MMIO, 0x1000), 0);
	CHECK_EQ(bus_unregister(&bus, BUS_SPACE_MMIO, 0x3000), 0);
	CHECK_EQ(bus_unregister(&bus, BUS_SPACE_MMIO, 0x1ff8), 0);
	CHECK_EQ(bus.count[BUS_SPACE_MMIO], 0);
	for (unsigned i = 0; i < BUS_MAX_REGIONS; i++) {
		int err = bus_register(&bus, BUS_SPACE_MMIO, "fill", 0x100 * i, 1, &byte_ops, &a);
		CHECK_EQ(err, 0);
	}
	CHECK_EQ(bus_unregister(&bus, BUS_SPACE_MMIO, 0x100 * 7), 0);
	CHECK_EQ(bus_register(&bus, BUS_SPACE_MMIO, "last", 0x9000, 1, &byte_ops, &a), 0);
	CHECK_EQ(bus_register(&bus, BUS_SPACE_MMIO, "full", 0x9100, 1, &byte_ops, &a), -ENOSPC);
}

static void test_move(void)
{
	struct bus bus;
	struct fake_dev a = { 0 }, b = { 0 };
	bus_init(&bus);
	CHECK_EQ(bus_register(&bus, BUS_SPACE_MMIO, "a", 0xe0000000, 16, &quad_ops, &a), 0);
	CHECK_EQ(bus_register(&bus, BUS_SPACE_MMIO, "b", 0xe0001000, 16, &quad_ops, &b), 0);
	bus_write(&bus, BUS_SPACE_MMIO, 0xe0000004, 4, 0xa1a2a3a4);

	/* Moved: the old range goes unclaimed, the new one reaches the same
	 * device at the same offsets, and the table keeps its order. */
	CHECK_EQ(bus_move(&bus, BUS_SPACE_MMIO, 0xe0000000, 0xf0000000), 0);
	CHECK_EQ(bus_read(&bus, BUS_SPACE_MMIO, 0xe0000004, 4), 0xffffffff);
	CHECK_EQ(bus_read(&bus, BUS_SPACE_MMIO, 0xf0000004, 4), 0xa1a2a3a4);
	CHECK_EQ(a.last_offset, 4);
	const struct bus_region *r = bus_find(&bus, BUS_SPACE_MMIO, 0xf000000f);
	CHECK(r == &bus.regions[BUS_SPACE_MMIO][0]);
	CHECK(r && r->length == 16 && r->ops == &quad_ops && r->opaque == &a);
	CHECK(r && !strcmp(r->name, "a"));

	/* Onto another region: refused, nothing moves. */
	CHECK_EQ(bus_move(&bus, BUS_SPACE_MMIO, 0xf0000000, 0xe0000ff8), -EEXIST);
	CHECK_EQ(bus_move(&bus, BUS_SPACE_MMIO, 0xe0001000, 0xf000000f), -EEXIST);
	CHECK_EQ(bus_read(&bus, BUS_SPACE_MMIO, 0xf0000004, 4), 0xa1a2a3a4);
	CHECK_EQ(bus_read(&bus, BUS_SPACE_MMIO, 0xe0001000, 1), 0);
	/* Over its own old range: allowed. */
	CHECK_EQ(bus_move(&bus, BUS_SPACE_MMIO, 0xf0000000, 0xf0000008), 0);
	CHECK_EQ(bus_read(&bus, BUS_SPACE_MMIO, 0xf000000c, 4), 0xa1a2a3a4);
	CHECK_EQ(bus_read(&bus, BUS_SPACE_MMIO, 0xf0000004, 4), 0xffffffff);
	/* Nowhere to wrap to, nothing at the old base, the wrong space. */
	CHECK_EQ(bus_move(&bus, BUS_SPACE_MMIO, 0xf0000008, ~0ULL - 7), -EINVAL);
	CHECK_EQ(bus_move(&bus, BUS_SPACE_MMIO, 0xf0000000, 0x1000), -ENOENT);
	CHECK_EQ(bus_move(&bus, BUS_SPACE_PIO, 0xf0000008, 0x1000), -ENOENT);
	CHECK_EQ(bus_find(&bus, BUS_SPACE_MMIO, 0xf0000008)->base, 0xf0000008);
	/* Near the end of the space is fine (where bus_register would
	 * take it too: the range's end must not wrap to 0). */
	CHECK_EQ(bus_move(&bus, BUS_SPACE_MMIO, 0xf0000008, ~0ULL - 16), 0);
	CHECK_EQ(bus_read(&bus, BUS_SPACE_MMIO, ~0ULL - 12, 4), 0xa1a2a3a4);
}

/* A device whose register at offset 0 relocates it (as a PCI BAR write
 * moves a device's registers), and whose register at 1 removes it. */
struct self_mover {
	struct bus *bus;
	uint64_t base;
	unsigned writes;
};

static uint64_t mover_read(void *opaque, uint64_t offset, unsigned width)
{
	(void)opaque;
	(void)width;
	return 0xa0 + offset;
}

static void mover_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	struct self_mover *m = opaque;
	(void)width;
	m->writes++;
	if (offset == 0) {
		uint64_t to = value << 8;
		if (bus_move(m->bus, BUS_SPACE_PIO, m->base, to) == 0)
			m->base = to;
	} else if (offset == 1) {
		bus_unregister(m->bus, BUS_SPACE_PIO, m->base);
	}
}

static void test_change_from_handler(void)
{
	static const struct bus_ops mover_ops = {
		.read = mover_read, .write = mover_write, .max_width = 1,
	};
	struct bus bus;
	struct fake_dev other = { 0 };
	bus_init(&bus);
	struct self_mover m = { .bus = &bus, .base = 0x100 };
	CHECK_EQ(bus_register(&bus, BUS_SPACE_PIO, "mover", 0x100, 4, &mover_ops, &m), 0);
	CHECK_EQ(bus_register(&bus, BUS_SPACE_PIO, "other", 0x300, 4, &byte_ops, &other), 0);

	bus_write(&bus, BUS_SPACE_PIO, 0x100, 1, 0x02);
	CHECK_EQ(m.base, 0x200);
	CHECK_EQ(bus_read(&bus, BUS_SPACE_PIO, 0x100, 1), 0xff);
	CHECK_EQ(bus_read(&bus, BUS_SPACE_PIO, 0x202, 1), 0xa2);

	/* A dword write split into bytes: the first byte moves the device,
	 * so the other three land where it was and nobody takes them. */
	bus_write(&bus, BUS_SPACE_PIO, 0x200, 4, 0x04040404);
	CHECK_EQ(m.base, 0x400);
	CHECK_EQ(m.writes, 2);
	CHECK_EQ(bus.unclaimed_writes[BUS_SPACE_PIO], 1);

	/* Removing itself mid-access: the rest reads as ones. The device
	 * that was registered after it still answers. */
	bus_write(&bus, BUS_SPACE_PIO, 0x401, 1, 0);
	CHECK_EQ(bus.count[BUS_SPACE_PIO], 1);
	CHECK_EQ(bus_read(&bus, BUS_SPACE_PIO, 0x400, 1), 0xff);
	bus_write(&bus, BUS_SPACE_PIO, 0x300, 1, 0x33);
	CHECK_EQ(other.mem[0], 0x33);
}

int main(void)
{
	test_dispatch_and_offsets();
	test_splitting();
	test_straddling_region_end();
	test_unclaimed();
	test_registration_errors();
	test_unregister();
	test_move();
	test_change_from_handler();
	return check_report("test_bus");
}
