/* The btvm test device (see testdev.h): a scratch array that takes every
 * access width, and read-only registers reporting how the accesses came. */
#include "devices/testdev.h"
#include "host/snapfile.h"

#include <string.h>

void testdev_init(struct testdev *dev)
{
	memset(dev, 0, sizeof(*dev));
}

/* The read-only registers as the little-endian bytes a read returns. */
static uint8_t reg_byte(const struct testdev *dev, uint64_t offset)
{
	uint32_t regs[4] = { dev->writes, dev->last_width, dev->last_offset, TESTDEV_MAGIC };
	uint64_t at = offset - TESTDEV_WRITES;
	return (uint8_t)(regs[at / 4] >> (8 * (at % 4)));
}

static void record(struct testdev *dev, uint64_t offset, unsigned width)
{
	dev->last_width = width;
	dev->last_offset = (uint32_t)offset;
}

static uint64_t testdev_read(void *opaque, uint64_t offset, unsigned width)
{
	struct testdev *dev = opaque;
	uint64_t value = 0;
	/* Byte by byte: an access may start in the array and end in the
	 * registers, and each byte comes from where it lies. */
	for (unsigned i = 0; i < width; i++) {
		uint64_t at = offset + i;
		uint8_t b = 0;
		if (at < TESTDEV_SCRATCH_SIZE)
			b = dev->scratch[at];
		else if (at < TESTDEV_REGS_END)
			b = reg_byte(dev, at);
		value |= (uint64_t)b << (8 * i);
	}
	if (offset < TESTDEV_SCRATCH_SIZE)
		record(dev, offset, width);
	return value;
}

static void testdev_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	struct testdev *dev = opaque;
	if (offset >= TESTDEV_SCRATCH_SIZE)
		return;   /* read-only registers and the unused rest */
	for (unsigned i = 0; i < width && offset + i < TESTDEV_SCRATCH_SIZE; i++)
		dev->scratch[offset + i] = (uint8_t)(value >> (8 * i));
	dev->writes++;
	record(dev, offset, width);
}

static const struct bus_ops testdev_ops = {
	.read = testdev_read,
	.write = testdev_write,
	.max_width = 8,
};

int testdev_attach(struct testdev *dev, struct bus *bus, uint64_t base)
{
	return bus_register(bus, BUS_SPACE_MMIO, "btvm-testdev", base, TESTDEV_SIZE, &testdev_ops, dev);
}

/* ---- Snapshots ---------------------------------------------------------- */

#define TESTDEV_SNAP_VERSION 1u

void testdev_save(const struct testdev *dev, struct snap_writer *w)
{
	snapw_begin(w, "TDEV", TESTDEV_SNAP_VERSION, false);
	snapw_bytes(w, dev->scratch, sizeof(dev->scratch));
	snapw_u32(w, dev->writes);
	snapw_u32(w, dev->last_width);
	snapw_u32(w, dev->last_offset);
	snapw_end(w);
}

int testdev_load(struct testdev *dev, struct snap_reader *r)
{
	if (r->version != TESTDEV_SNAP_VERSION)
		return snapr_fail(r, "version %u, this btvm reads %u", r->version,
				  TESTDEV_SNAP_VERSION);
	snapr_bytes(r, dev->scratch, sizeof(dev->scratch));
	dev->writes = snapr_u32(r);
	dev->last_width = snapr_u32(r);
	dev->last_offset = snapr_u32(r);
	return snapr_end(r);
}
