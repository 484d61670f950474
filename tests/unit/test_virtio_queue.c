/* The split virtqueue (devices/virtio_queue.c) on its own, in a fake guest
 * RAM: chains with NEXT, WRITE and zero-length descriptors, indirect
 * tables, truncation to the caller's array, every device error (loops,
 * indexes past a table, buffers and rings outside RAM, bad or nested
 * indirect tables, readable after writable, the avail index jumping) and
 * that a broken queue stays broken, queue sizes, used ring publication
 * and both interrupt suppression schemes; buffers and a descriptor table
 * in RAM above 4 GiB. */
#include <errno.h>

#include "check.h"
#include "devices/virtio_queue.h"

#define DESC	0x1000u
#define AVAIL	0x2000u
#define USED	0x3000u
#define TABLE	0x4000u
#define BUF	0x10000u
#define QSIZE	8u

struct harness {
	struct guest_ram ram;
	struct virtq vq;
	uint16_t avail_idx;
	struct virtq_seg seg[16];
	struct virtq_chain chain;
};

#include "virtq_ram.h"

static void desc(struct harness *h, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next)
{
	desc_at(h, DESC, i, addr, len, flags, next);
}

static void offer(struct harness *h, uint16_t head)
{
	put16(h, AVAIL + 4 + 2 * (h->avail_idx % QSIZE), head);
	h->avail_idx++;
	put16(h, AVAIL + 2, h->avail_idx);
}

static void setup(struct harness *h, bool event_idx, bool indirect)
{
	memset(h->ram.host, 0, 0x20000);
	virtq_init(&h->vq, 256);
	h->vq.size = QSIZE;
	h->vq.desc_addr = DESC;
	h->vq.avail_addr = AVAIL;
	h->vq.used_addr = USED;
	h->avail_idx = 0;
	CHECK_EQ(virtq_start(&h->vq, &h->ram, event_idx, indirect), 0);
}

static int pop(struct harness *h)
{
	return virtq_pop(&h->vq, &h->ram, &h->chain, h->seg, 16);
}

static void test_sizes(struct harness *h)
{
	virtq_init(&h->vq, 256);
	CHECK_EQ(h->vq.size, 256);
	CHECK(!h->vq.enabled);
	CHECK(!virtq_size_valid(&h->vq, 0));
	CHECK(!virtq_size_valid(&h->vq, 3));
	CHECK(!virtq_size_valid(&h->vq, 512));
	CHECK(!virtq_size_valid(&h->vq, 0x10000 + 4));
	CHECK(virtq_size_valid(&h->vq, 1));
	CHECK(virtq_size_valid(&h->vq, 128));
	CHECK(virtq_size_valid(&h->vq, 256));
}

static void test_ring_checks(struct harness *h)
{
	struct {
		uint64_t desc, avail, used;
	} bad[] = {
		{ DESC + 8, AVAIL, USED },		/* descriptor table misaligned */
		{ DESC, AVAIL + 1, USED },		/* avail ring misaligned */
		{ DESC, AVAIL, USED + 2 },		/* used ring misaligned */
		{ 4u << 20, AVAIL, USED },		/* past the end of RAM */
		{ DESC, (4u << 20) - 16, USED },	/* avail ring crossing the end */
		{ DESC, AVAIL, (4u << 20) - 64 },	/* used ring crossing the end */
		{ 0x100000000ull, AVAIL, USED },	/* above 4 GiB */
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		virtq_init(&h->vq, 256);
		h->vq.size = QSIZE;
		h->vq.desc_addr = bad[i].desc;
		h->vq.avail_addr = bad[i].avail;
		h->vq.used_addr = bad[i].used;
		CHECK_EQ(virtq_start(&h->vq, &h->ram, false, false), -EFAULT);
		CHECK_EQ(h->vq.error, VIRTQ_ERR_RING);
		CHECK_EQ(pop(h), -EIO);
		virtq_push(&h->vq, 0, 0);
		CHECK(!virtq_flush(&h->vq));
	}
	/* The last byte of RAM is fine. */
	virtq_init(&h->vq, 256);
	h->vq.size = QSIZE;
	h->vq.desc_addr = DESC;
	h->vq.avail_addr = AVAIL;
	h->vq.used_addr = (4u << 20) - 72;	/* 70 bytes, 4-aligned */
	CHECK_EQ(virtq_start(&h->vq, &h->ram, false, false), 0);
}

static void test_chain(struct harness *h)
{
	setup(h, false, false);
	CHECK_EQ(pop(h), 0);
	desc(h, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 5);
	desc(h, 5, BUF + 0x100, 0, VIRTQ_DESC_F_NEXT, 2);	/* empty: skipped */
	desc(h, 2, BUF + 0x200, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 7);
	desc(h, 7, BUF + 0x400, 1, VIRTQ_DESC_F_WRITE, 0);
	offer(h, 0);
	CHECK_EQ(pop(h), 1);
	CHECK_EQ(h->chain.head, 0);
	CHECK_EQ(h->chain.nseg, 3);
	CHECK(!h->chain.truncated);
	CHECK_EQ(h->chain.readable, 16);
	CHECK_EQ(h->chain.writable, 513);
	CHECK(h->seg[0].ptr == h->ram.host + BUF && h->seg[0].len == 16 && !h->seg[0].writable);
	CHECK(h->seg[1].ptr == h->ram.host + BUF + 0x200 && h->seg[1].writable);
	CHECK(h->seg[2].ptr == h->ram.host + BUF + 0x400 && h->seg[2].len == 1);
	CHECK_EQ(pop(h), 0);

	/* Returned: the used ring gets {head, len}, the idx on flush. */
	virtq_push(&h->vq, 0, 513);
	CHECK_EQ(get16(h, USED + 2), 0);
	CHECK(virtq_flush(&h->vq));
	CHECK_EQ(get16(h, USED + 2), 1);
	CHECK_EQ(get32(h, USED + 4), 0);
	CHECK_EQ(get32(h, USED + 8), 513);
	CHECK(!virtq_flush(&h->vq));	/* nothing new */

	/* A chain using every descriptor of the table is no loop. */
	for (unsigned i = 0; i < QSIZE; i++)
		desc(h, i, BUF + 16 * i, 16, i + 1 < QSIZE ? VIRTQ_DESC_F_NEXT : 0,
		     (uint16_t)(i + 1));
	offer(h, 0);
	CHECK_EQ(pop(h), 1);
	CHECK_EQ(h->chain.nseg, QSIZE);

	/* Too many for the caller's array: the last slot has the last one. */
	offer(h, 0);
	CHECK_EQ(virtq_pop(&h->vq, &h->ram, &h->chain, h->seg, 3), 1);
	CHECK(h->chain.truncated);
	CHECK_EQ(h->chain.nseg, 3);
	CHECK(h->seg[2].ptr == h->ram.host + BUF + 16 * (QSIZE - 1));
	CHECK_EQ(h->chain.readable, 16 * QSIZE);

	/* Avail entries wrap around the ring. */
	desc(h, 3, BUF, 4, 0, 0);
	for (unsigned i = 0; i < 3 * QSIZE; i++) {
		offer(h, 3);
		CHECK_EQ(pop(h), 1);
		CHECK_EQ(h->chain.head, 3);
	}
	CHECK_EQ(h->vq.error, VIRTQ_ERR_NONE);
}

static void test_indirect(struct harness *h)
{
	setup(h, false, true);
	desc_at(h, TABLE, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 2);
	desc_at(h, TABLE, 2, BUF + 0x100, 4096, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	desc_at(h, TABLE, 1, BUF + 0x2000, 1, VIRTQ_DESC_F_WRITE, 0);
	/* The WRITE flag of the descriptor pointing at a table is ignored. */
	desc(h, 4, TABLE, 3 * 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, 0);
	offer(h, 4);
	CHECK_EQ(pop(h), 1);
	CHECK_EQ(h->chain.head, 4);
	CHECK_EQ(h->chain.nseg, 3);
	CHECK_EQ(h->chain.readable, 16);
	CHECK_EQ(h->chain.writable, 4097);
	CHECK(h->seg[1].ptr == h->ram.host + BUF + 0x100);

	/* Direct descriptors, then a table for the rest. */
	desc(h, 0, BUF + 0x3000, 8, VIRTQ_DESC_F_NEXT, 4);
	offer(h, 0);
	CHECK_EQ(pop(h), 1);
	CHECK_EQ(h->chain.nseg, 4);
	CHECK_EQ(h->chain.readable, 24);
}

/* One bad chain on a fresh queue: the error it gives, and the queue
 * refusing everything after. */
static void expect_error(struct harness *h, bool indirect, uint16_t head, enum virtq_error want)
{
	offer(h, head);
	CHECK_EQ(pop(h), -EIO);
	CHECK_EQ(h->vq.error, want);
	/* Broken until reset, even with a good chain next. */
	desc(h, 6, BUF, 16, 0, 0);
	offer(h, 6);
	CHECK_EQ(pop(h), -EIO);
	CHECK_EQ(h->vq.error, want);
	setup(h, false, indirect);
}

static void test_errors(struct harness *h)
{
	setup(h, false, false);
	/* Loops: two descriptors naming each other, one naming itself. */
	desc(h, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(h, 1, BUF, 16, VIRTQ_DESC_F_NEXT, 0);
	expect_error(h, false, 0, VIRTQ_ERR_LOOP);
	desc(h, 2, BUF, 16, VIRTQ_DESC_F_NEXT, 2);
	expect_error(h, false, 2, VIRTQ_ERR_LOOP);
	/* next and head past the table. */
	desc(h, 0, BUF, 16, VIRTQ_DESC_F_NEXT, QSIZE);
	expect_error(h, false, 0, VIRTQ_ERR_NEXT);
	expect_error(h, false, QSIZE, VIRTQ_ERR_HEAD);
	expect_error(h, false, 0xffff, VIRTQ_ERR_HEAD);
	/* Buffers outside RAM: past the end, crossing it, above 4 GiB, and
	 * a length that wraps the address. */
	desc(h, 0, 4u << 20, 1, 0, 0);
	expect_error(h, false, 0, VIRTQ_ERR_BUFFER);
	desc(h, 0, (4u << 20) - 4, 8, 0, 0);
	expect_error(h, false, 0, VIRTQ_ERR_BUFFER);
	desc(h, 0, 0x100001000ull, 16, 0, 0);
	expect_error(h, false, 0, VIRTQ_ERR_BUFFER);
	desc(h, 0, UINT64_MAX - 8, 0xffffffff, 0, 0);
	expect_error(h, false, 0, VIRTQ_ERR_BUFFER);
	/* A readable descriptor after a writable one. */
	desc(h, 0, BUF, 16, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	desc(h, 1, BUF, 16, 0, 0);
	expect_error(h, false, 0, VIRTQ_ERR_ORDER);
	/* The avail index moving more than the queue holds. */
	h->avail_idx = QSIZE;
	desc(h, 0, BUF, 16, 0, 0);
	expect_error(h, false, 0, VIRTQ_ERR_AVAIL_IDX);

	/* Indirect: not negotiated. */
	desc(h, 0, TABLE, 32, VIRTQ_DESC_F_INDIRECT, 0);
	expect_error(h, false, 0, VIRTQ_ERR_INDIRECT);
	setup(h, false, true);
	desc_at(h, TABLE, 0, BUF, 16, 0, 0);
	/* Length not a multiple of 16, zero, too long for any queue. */
	desc(h, 0, TABLE, 15, VIRTQ_DESC_F_INDIRECT, 0);
	expect_error(h, true, 0, VIRTQ_ERR_INDIRECT);
	desc(h, 0, TABLE, 0, VIRTQ_DESC_F_INDIRECT, 0);
	expect_error(h, true, 0, VIRTQ_ERR_INDIRECT);
	desc(h, 0, TABLE, 16 * (VIRTQ_MAX_SIZE + 1), VIRTQ_DESC_F_INDIRECT, 0);
	expect_error(h, true, 0, VIRTQ_ERR_INDIRECT);
	/* The table outside RAM. */
	desc(h, 0, (4u << 20) - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	expect_error(h, true, 0, VIRTQ_ERR_INDIRECT);
	/* INDIRECT with NEXT. */
	desc(h, 0, TABLE, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	expect_error(h, true, 0, VIRTQ_ERR_INDIRECT);
	/* Nested. */
	desc_at(h, TABLE, 0, TABLE + 0x100, 16, VIRTQ_DESC_F_INDIRECT, 0);
	desc(h, 0, TABLE, 16, VIRTQ_DESC_F_INDIRECT, 0);
	expect_error(h, true, 0, VIRTQ_ERR_INDIRECT);
	/* A loop inside the table, and next past its end. */
	desc_at(h, TABLE, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
	desc_at(h, TABLE, 1, BUF, 16, VIRTQ_DESC_F_NEXT, 0);
	desc(h, 0, TABLE, 32, VIRTQ_DESC_F_INDIRECT, 0);
	expect_error(h, true, 0, VIRTQ_ERR_LOOP);
	desc_at(h, TABLE, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
	desc_at(h, TABLE, 1, BUF, 16, VIRTQ_DESC_F_NEXT, 2);
	desc(h, 0, TABLE, 32, VIRTQ_DESC_F_INDIRECT, 0);
	expect_error(h, true, 0, VIRTQ_ERR_NEXT);
	/* A buffer in the table outside RAM. */
	desc_at(h, TABLE, 0, 5u << 20, 16, 0, 0);
	desc(h, 0, TABLE, 32, VIRTQ_DESC_F_INDIRECT, 0);
	expect_error(h, true, 0, VIRTQ_ERR_BUFFER);

	/* Reset clears the error. */
	virtq_reset(&h->vq);
	CHECK_EQ(h->vq.error, VIRTQ_ERR_NONE);
	CHECK(!h->vq.enabled);
	CHECK_EQ(h->vq.size, 256);
	CHECK(virtq_error_name(VIRTQ_ERR_LOOP)[0] != 0);
}

static void test_suppression(struct harness *h)
{
	/* Without EVENT_IDX: the driver's NO_INTERRUPT flag. */
	setup(h, false, false);
	desc(h, 0, BUF, 16, 0, 0);
	offer(h, 0);
	CHECK_EQ(pop(h), 1);
	put16(h, AVAIL, VIRTQ_AVAIL_F_NO_INTERRUPT);
	virtq_push(&h->vq, 0, 0);
	CHECK(!virtq_flush(&h->vq));
	CHECK_EQ(get16(h, USED + 2), 1);
	put16(h, AVAIL, 0);
	offer(h, 0);
	CHECK_EQ(pop(h), 1);
	virtq_push(&h->vq, 0, 0);
	CHECK(virtq_flush(&h->vq));

	/* With it: used_event, and avail_event following what was taken. */
	setup(h, true, false);
	const uint64_t used_event = AVAIL + 4 + 2 * QSIZE, avail_event = USED + 4 + 8 * QSIZE;
	desc(h, 0, BUF, 16, 0, 0);
	CHECK_EQ(pop(h), 0);
	CHECK_EQ(get16(h, avail_event), 0);
	put16(h, used_event, 1);	/* interrupt once used idx passes 1 */
	offer(h, 0);
	offer(h, 0);
	offer(h, 0);
	CHECK_EQ(pop(h), 1);
	CHECK_EQ(get16(h, avail_event), 1);
	virtq_push(&h->vq, 0, 0);
	CHECK(virtq_flush(&h->vq));	/* the first decision always interrupts */
	CHECK_EQ(pop(h), 1);
	virtq_push(&h->vq, 0, 0);
	CHECK(virtq_flush(&h->vq));	/* 1 -> 2 crosses used_event 1 */
	CHECK_EQ(pop(h), 1);
	virtq_push(&h->vq, 0, 0);
	CHECK(!virtq_flush(&h->vq));	/* 2 -> 3 does not */
	CHECK_EQ(get16(h, avail_event), 3);
	CHECK_EQ(pop(h), 0);
	put16(h, used_event, 4);
	offer(h, 0);
	offer(h, 0);
	CHECK_EQ(pop(h), 1);
	CHECK_EQ(pop(h), 1);
	virtq_push(&h->vq, 0, 0);
	virtq_push(&h->vq, 0, 0);
	CHECK(virtq_flush(&h->vq));	/* 3 -> 5 crosses 4 */
	CHECK_EQ(get16(h, USED + 2), 5);
}

/* RAM above 4 GiB (-m 5120: 2 GiB from 4 GiB, its top half past 4 GiB
 * of memfd): a buffer there is the RAM's, and the ring itself may lie
 * there; a buffer past the high range's end or across it is a buffer
 * error. */
static void test_high_ram(void)
{
	struct harness h;
	memset(&h, 0, sizeof(h));
	if (guest_ram_init(&h.ram, 5120, 0)) {
		CHECK(!"cannot make 5120 MiB of guest RAM");
		return;
	}
	const uint64_t high = 1ull << 32, end = high + (2ull << 30);
	setup(&h, false, false);
	desc(&h, 0, high + 0x1000, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(&h, 1, end - 8, 8, VIRTQ_DESC_F_WRITE, 0);
	offer(&h, 0);
	CHECK_EQ(pop(&h), 1);
	CHECK_EQ(h.chain.nseg, 2);
	CHECK(h.seg[0].ptr == guest_ram_ptr(&h.ram, high + 0x1000, 16));
	CHECK(h.seg[0].ptr == h.ram.host + (3ull << 30) + 0x1000);
	CHECK(h.seg[1].ptr == guest_ram_ptr(&h.ram, end - 8, 8) && h.seg[1].writable);
	CHECK(h.seg[1].ptr == h.ram.host + (5ull << 30) - 8);
	desc(&h, 0, end - 8, 16, 0, 0);
	expect_error(&h, false, 0, VIRTQ_ERR_BUFFER);
	setup(&h, false, false);
	desc(&h, 0, end, 1, 0, 0);
	expect_error(&h, false, 0, VIRTQ_ERR_BUFFER);
	/* The descriptor table past 4 GiB of memfd. */
	virtq_init(&h.vq, 256);
	h.vq.size = QSIZE;
	h.vq.desc_addr = high + (1ull << 30);
	h.vq.avail_addr = AVAIL;
	h.vq.used_addr = USED;
	h.avail_idx = 0;
	memset(h.ram.host, 0, 0x20000);
	CHECK_EQ(virtq_start(&h.vq, &h.ram, false, false), 0);
	uint8_t *table = guest_ram_ptr(&h.ram, high + (1ull << 30), 16);
	CHECK(table == h.ram.host + (4ull << 30));
	uint64_t addr = BUF;
	uint32_t len = 4;
	memcpy(table, &addr, 8);
	memcpy(table + 8, &len, 4);
	memset(table + 12, 0, 4);
	offer(&h, 0);
	CHECK_EQ(pop(&h), 1);
	CHECK(h.seg[0].ptr == h.ram.host + BUF && h.seg[0].len == 4);
	guest_ram_destroy(&h.ram);
}

int main(void)
{
	struct harness h;

	memset(&h, 0, sizeof(h));
	if (guest_ram_init(&h.ram, 4, 0)) {
		fprintf(stderr, "cannot make guest RAM\n");
		return 1;
	}
	test_sizes(&h);
	test_ring_checks(&h);
	test_chain(&h);
	test_indirect(&h);
	test_errors(&h);
	test_suppression(&h);
	guest_ram_destroy(&h.ram);
	test_high_ram();
	return check_report("test_virtio_queue");
}
