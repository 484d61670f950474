/* Region table and dispatch for port I/O and MMIO, including the splitting
 * of accesses wider than a device supports and the accounting of accesses
 * that no device claims. */
#include "devices/bus.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

void bus_init(struct bus *bus)
{
	memset(bus, 0, sizeof(*bus));
}

static bool valid_width(unsigned width)
{
	return width == 1 || width == 2 || width == 4 || width == 8;
}

/* Whether [base, base + length) overlaps a region of space other than the
 * one at index skip (pass bus->count[space] to check against all). */
static bool overlaps(const struct bus *bus, enum bus_space space, uint64_t base, uint64_t length,
		     unsigned skip)
{
	for (unsigned i = 0; i < bus->count[space]; i++) {
		const struct bus_region *r = &bus->regions[space][i];
		if (i != skip && base < r->base + r->length && r->base < base + length)
			return true;
	}
	return false;
}

/* Index of the region that starts exactly at base, or -1. */
static int find_start(const struct bus *bus, enum bus_space space, uint64_t base)
{
	for (unsigned i = 0; i < bus->count[space]; i++) {
		if (bus->regions[space][i].base == base)
			return (int)i;
	}
	return -1;
}

int bus_register(struct bus *bus, enum bus_space space, const char *name, uint64_t base,
		 uint64_t length, const struct bus_ops *ops, void *opaque)
{
	assert(space < BUS_SPACE_COUNT);
	if (length == 0 || base + length < base || !ops || !valid_width(ops->max_width))
		return -EINVAL;
	if (overlaps(bus, space, base, length, bus->count[space]))
		return -EEXIST;
	if (bus->count[space] == BUS_MAX_REGIONS)
		return -ENOSPC;
	bus->regions[space][bus->count[space]++] = (struct bus_region){
		.name = name, .base = base, .length = length, .ops = ops, .opaque = opaque,
	};
	return 0;
}

int bus_unregister(struct bus *bus, enum bus_space space, uint64_t base)
{
	assert(space < BUS_SPACE_COUNT);
	int i = find_start(bus, space, base);
	if (i < 0)
		return -ENOENT;
	/* The others keep their registration order (the device fuzzer's
	 * harness finds its devices' regions by it). */
	struct bus_region *r = bus->regions[space];
	memmove(&r[i], &r[i + 1], (bus->count[space] - (unsigned)i - 1) * sizeof(*r));
	bus->count[space]--;
	return 0;
}

int bus_move(struct bus *bus, enum bus_space space, uint64_t base, uint64_t new_base)
{
	assert(space < BUS_SPACE_COUNT);
	int i = find_start(bus, space, base);
	if (i < 0)
		return -ENOENT;
	struct bus_region *r = &bus->regions[space][i];
	if (new_base + r->length < new_base)
		return -EINVAL;
	if (overlaps(bus, space, new_base, r->length, (unsigned)i))
		return -EEXIST;
	r->base = new_base;
	return 0;
}

const struct bus_region *bus_find(const struct bus *bus, enum bus_space space, uint64_t addr)
{
	for (unsigned i = 0; i < bus->count[space]; i++) {
		const struct bus_region *r = &bus->regions[space][i];
		if (addr >= r->base && addr - r->base < r->length)
			return r;
	}
	return NULL;
}

static uint64_t width_mask(unsigned width)
{
	return width == 8 ? ~0ULL : (1ULL << (width * 8)) - 1;
}

/* One access that the caller has already cut to at most the device's width;
 * returns false if no device took it. */
static bool read_piece(struct bus *bus, enum bus_space space, uint64_t addr, unsigned width,
		       uint64_t *value)
{
	const struct bus_region *r = bus_find(bus, space, addr);
	if (!r || addr - r->base + width > r->length) {
		*value = width_mask(width);
		return false;
	}
	*value = r->ops->read(r->opaque, addr - r->base, width) & width_mask(width);
	return true;
}

static bool write_piece(struct bus *bus, enum bus_space space, uint64_t addr, unsigned width,
			uint64_t value)
{
	const struct bus_region *r = bus_find(bus, space, addr);
	if (!r || addr - r->base + width > r->length)
		return false;
	r->ops->write(r->opaque, addr - r->base, width, value & width_mask(width));
	return true;
}

static unsigned piece_width(const struct bus *bus, enum bus_space space, uint64_t addr,
			    unsigned remaining)
{
	unsigned w = 8;
	while (w > remaining)
		w /= 2;
	const struct bus_region *r = bus_find(bus, space, addr);
	if (!r)
		return 1;
	while (w > r->ops->max_width)
		w /= 2;
	/* Never let one piece straddle the region's end. */
	while (w > 1 && addr - r->base + w > r->length)
		w /= 2;
	return w;
}

uint64_t bus_read(struct bus *bus, enum bus_space space, uint64_t addr, unsigned width)
{
	assert(space < BUS_SPACE_COUNT && valid_width(width));
	uint64_t value = 0;
	unsigned done = 0;
	bool claimed = true;
	while (done < width) {
		unsigned w = piece_width(bus, space, addr + done, width - done);
		uint64_t piece;
		claimed &= read_piece(bus, space, addr + done, w, &piece);
		value |= piece << (done * 8);
		done += w;
	}
	if (!claimed)
		bus->unclaimed_reads[space]++;
	return value;
}

void bus_write(struct bus *bus, enum bus_space space, uint64_t addr, unsigned width,
	       uint64_t value)
{
	assert(space < BUS_SPACE_COUNT && valid_width(width));
	unsigned done = 0;
	bool claimed = true;
	while (done < width) {
		unsigned w = piece_width(bus, space, addr + done, width - done);
		claimed &= write_piece(bus, space, addr + done, w, (value >> (done * 8)) & width_mask(w));
		done += w;
	}
	if (!claimed)
		bus->unclaimed_writes[space]++;
}
