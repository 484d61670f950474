/* The one bus of the PC: port I/O space and physical MMIO space share a
 * handler type; a handler sees the offset inside its own region and the
 * width of the access, never the absolute address. Regions can be removed
 * and moved as well as added (PCI BARs move when the guest reprograms
 * them), also by a handler while it runs: each piece of an access looks
 * its region up when it starts, so the change applies from the next piece
 * on (an access the bus did not split is not affected at all). */
#ifndef BTVM_DEVICES_BUS_H
#define BTVM_DEVICES_BUS_H

#include <stdbool.h>
#include <stdint.h>

enum bus_space {
	BUS_SPACE_PIO,
	BUS_SPACE_MMIO,
	BUS_SPACE_COUNT,
};

struct bus_ops {
	/* width is 1, 2, 4 or 8 bytes and never more than max_width. */
	uint64_t (*read)(void *opaque, uint64_t offset, unsigned width);
	void (*write)(void *opaque, uint64_t offset, unsigned width, uint64_t value);
	/* Widest access the device takes; wider ones are split by the bus into
	 * little-endian pieces at increasing offsets. */
	unsigned max_width;
};

struct bus_region {
	const char *name;
	uint64_t base;
	uint64_t length;
	const struct bus_ops *ops;
	void *opaque;
};

#define BUS_MAX_REGIONS 64

struct bus {
	struct bus_region regions[BUS_SPACE_COUNT][BUS_MAX_REGIONS];
	unsigned count[BUS_SPACE_COUNT];
	/* Accesses that hit no region: reads return all ones, writes are
	 * dropped, and both are counted for --stats. */
	uint64_t unclaimed_reads[BUS_SPACE_COUNT];
	uint64_t unclaimed_writes[BUS_SPACE_COUNT];
};

void bus_init(struct bus *bus);
/* Returns 0, -EEXIST if the range overlaps a region already there, -EINVAL
 * for an empty range or bad width, -ENOSPC when the table is full. */
int bus_register(struct bus *bus, enum bus_space space, const char *name, uint64_t base,
		 uint64_t length, const struct bus_ops *ops, void *opaque);
/* Removes the region of space that starts at base; the others keep their
 * order. Returns 0, or -ENOENT when no region starts there. */
int bus_unregister(struct bus *bus, enum bus_space space, uint64_t base);
/* Moves the region that starts at base to new_base, keeping its name,
 * length, handlers and place in the table. Returns 0, -ENOENT when no
 * region starts at base, -EINVAL if the new range would wrap, -EEXIST if it
 * would overlap another region (it may overlap its own old range); on an
 * error nothing changes. */
int bus_move(struct bus *bus, enum bus_space space, uint64_t base, uint64_t new_base);
uint64_t bus_read(struct bus *bus, enum bus_space space, uint64_t addr, unsigned width);
void bus_write(struct bus *bus, enum bus_space space, uint64_t addr, unsigned width,
	       uint64_t value);
const struct bus_region *bus_find(const struct bus *bus, enum bus_space space, uint64_t addr);

#endif
