/* The btvm test device: a page of MMIO that test guests use to check that
 * their memory accesses reach the bus whole, with the width and offset the
 * instruction asked for. Not a device of any real PC. */
#ifndef BTVM_DEVICES_TESTDEV_H
#define BTVM_DEVICES_TESTDEV_H

#include <stdint.h>

#include "devices/bus.h"

#define TESTDEV_BASE 0xfebf0000u
#define TESTDEV_SIZE 0x1000u

/* Register map, offsets in the page. Only accesses that start in the
 * scratch array are counted and recorded; the registers from 0x100 up can
 * be read back without changing what they report. */
#define TESTDEV_SCRATCH 0x000u       /* 256 bytes, read/write, any width */
#define TESTDEV_SCRATCH_SIZE 0x100u
#define TESTDEV_WRITES 0x100u        /* RO: write accesses to the scratch array */
#define TESTDEV_LAST_WIDTH 0x104u    /* RO: width of the last access (read or write) */
#define TESTDEV_LAST_OFFSET 0x108u   /* RO: its offset in the page */
#define TESTDEV_ID 0x10cu            /* RO: TESTDEV_MAGIC */
#define TESTDEV_REGS_END 0x110u      /* beyond: reads 0, writes ignored */
#define TESTDEV_MAGIC 0x7e57de71u

struct testdev {
	uint8_t scratch[TESTDEV_SCRATCH_SIZE];
	uint32_t writes;
	uint32_t last_width;
	uint32_t last_offset;
};

/* Power-on state: scratch zeroed, nothing recorded. */
void testdev_init(struct testdev *dev);
int testdev_attach(struct testdev *dev, struct bus *bus, uint64_t base);

struct snap_writer;
struct snap_reader;
/* Snapshots (host/snapfile.h): section "TDEV". */
void testdev_save(const struct testdev *dev, struct snap_writer *w);
int testdev_load(struct testdev *dev, struct snap_reader *r);

#endif
