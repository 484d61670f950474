/* The driver's side of a split virtqueue in a unit test's guest RAM, as
 * test_virtio_queue.c, test_virtio_net.c, test_virtio_input.c and
 * virtio_blk_harness.h use it: little-endian loads and stores, and a
 * descriptor written into a table. The includer defines struct harness
 * with a struct guest_ram ram (its host mapping is what these touch;
 * addresses are the test's own, inside it). */
#ifndef BTVM_TESTS_VIRTQ_RAM_H
#define BTVM_TESTS_VIRTQ_RAM_H

#include <stdint.h>
#include <string.h>

static inline void put16(struct harness *h, uint64_t gpa, uint16_t v)
{
	memcpy(h->ram.host + gpa, &v, 2);
}

static inline uint16_t get16(struct harness *h, uint64_t gpa)
{
	uint16_t v;
	memcpy(&v, h->ram.host + gpa, 2);
	return v;
}

static inline uint32_t get32(struct harness *h, uint64_t gpa)
{
	uint32_t v;
	memcpy(&v, h->ram.host + gpa, 4);
	return v;
}

/* Descriptor i of the table at guest address table (a queue's or an
 * indirect one), in the split ring's layout. */
static inline void desc_at(struct harness *h, uint64_t table, unsigned i, uint64_t addr, uint32_t len,
			   uint16_t flags, uint16_t next)
{
	uint8_t *d = h->ram.host + table + 16 * i;
	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

#endif
