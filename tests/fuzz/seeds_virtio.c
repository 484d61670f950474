/* The virtio harness's seeds (fuzz_virtio.c, its record format in
 * fuzz_virtio.h), written into OUTDIR/virtio/ by fuzz_seeds: a driver
 * bringing each device up as virtio 1.x section 3.1.1 has it (features,
 * queues, DRIVER_OK) and doing real work (a virtio-blk read, write and
 * GET_ID; a virtio-net transmit and receive, one chain a frame and merged;
 * virtio-input events and a status buffer; virtio-9p's Tversion and
 * Tattach answered by the harness's server, a request orphaned by a reset
 * and answered after it, the server gone), and the chains a hostile driver
 * makes: an indirect table, a chain looping back on itself, buffers
 * running past RAM's end, a ring over the end of RAM. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "devices/virtio_9p.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_input.h"
#include "devices/virtio_net.h"
#include "devices/virtio_pci.h"
#include "devices/virtio_queue.h"
#include "fuzz_virtio.h"
#include "seeds.h"

#define MAX_VIRTIO_SEED 8192u
#define QSIZE 8u
/* Each device's rings: a queue's at ring_base(dev, q), 16 KiB apart. */
#define RINGS_BASE 0x10000u
#define BUFFERS_BASE 0x100000u	/* buffers, 64 KiB a device */

struct vseed {
	uint8_t data[MAX_VIRTIO_SEED];
	size_t size;
	uint16_t avail_idx[VDEV_COUNT][2];
};

static void record(struct vseed *s, unsigned op, unsigned flags, uint16_t offset, uint64_t value)
{
	if (s->size + VFUZZ_RECORD_BYTES > sizeof(s->data)) {
		fprintf(stderr, "fuzz_seeds: a virtio seed is too long\n");
		exit(1);
	}
	uint8_t *r = s->data + s->size;
	r[0] = (uint8_t)op;
	r[1] = (uint8_t)flags;
	r[2] = (uint8_t)offset;
	r[3] = (uint8_t)(offset >> 8);
	for (unsigned i = 0; i < 8; i++)
		r[4 + i] = (uint8_t)(value >> (8 * i));
	s->size += VFUZZ_RECORD_BYTES;
}

static unsigned log2_width(unsigned width)
{
	return width == 8 ? 3 : width == 4 ? 2 : width == 2 ? 1 : 0;
}

static void bar_wr(struct vseed *s, enum vfuzz_dev dev, uint32_t off, unsigned width, uint64_t v)
{
	record(s, VOP_BAR, VFUZZ_FLAG_SET | log2_width(width) << VFUZZ_WIDTH_SHIFT |
			   (unsigned)dev << VFUZZ_DEV_SHIFT, (uint16_t)off, v);
}

static void bar_rd(struct vseed *s, enum vfuzz_dev dev, uint32_t off, unsigned width)
{
	record(s, VOP_BAR, log2_width(width) << VFUZZ_WIDTH_SHIFT | (unsigned)dev << VFUZZ_DEV_SHIFT,
	       (uint16_t)off, 0);
}

static void common_wr(struct vseed *s, enum vfuzz_dev dev, unsigned reg, unsigned width, uint64_t v)
{
	bar_wr(s, dev, VIRTIO_PCI_COMMON_OFFSET + reg, width, v);
}

/* len (1 to 8) bytes of value at gpa. */
static void ram_put(struct vseed *s, uint64_t gpa, unsigned len, uint64_t value)
{
	record(s, VOP_RAM, (unsigned)(gpa & 31) << 3 | (len - 1), (uint16_t)(gpa >> 5), value);
}

static void ram_bytes(struct vseed *s, uint64_t gpa, const uint8_t *bytes, size_t len)
{
	for (size_t at = 0; at < len; at += 8) {
		uint64_t v = 0;
		unsigned n = len - at < 8 ? (unsigned)(len - at) : 8;
		for (unsigned i = 0; i < n; i++)
			v |= (uint64_t)bytes[at + i] << (8 * i);
		ram_put(s, gpa + at, n, v);
	}
}

static uint64_t ring_base(enum vfuzz_dev dev, unsigned q)
{
	return RINGS_BASE + 0x10000u * dev + 0x4000u * q;
}

static uint64_t desc_table(enum vfuzz_dev dev, unsigned q)
{
	return ring_base(dev, q);
}

static uint64_t avail_ring(enum vfuzz_dev dev, unsigned q)
{
	return ring_base(dev, q) + 0x1000u;
}

static uint64_t used_ring(enum vfuzz_dev dev, unsigned q)
{
	return ring_base(dev, q) + 0x2000u;
}

static uint64_t buffer(enum vfuzz_dev dev, unsigned n)
{
	return BUFFERS_BASE + 0x10000u * dev + 0x1000u * n;
}

static void desc(struct vseed *s, uint64_t table, unsigned i, uint64_t addr, uint32_t len,
		 uint16_t flags, uint16_t next)
{
	ram_put(s, table + 16 * i, 8, addr);
	ram_put(s, table + 16 * i + 8, 8, len | (uint64_t)flags << 32 | (uint64_t)next << 48);
}

/* Makes the chain at head available on queue q and notifies. */
static void offer(struct vseed *s, enum vfuzz_dev dev, unsigned q, uint16_t head)
{
	uint16_t *idx = &s->avail_idx[dev][q];
	ram_put(s, avail_ring(dev, q) + 4 + 2 * (*idx % QSIZE), 2, head);
	(*idx)++;
	ram_put(s, avail_ring(dev, q) + 2, 2, *idx);
	bar_wr(s, dev, VIRTIO_PCI_NOTIFY_OFFSET + VIRTIO_PCI_NOTIFY_MULTIPLIER * q, 2, q);
}

/* The initialization sequence, the queues QSIZE entries at their rings. */
static void bring_up(struct vseed *s, enum vfuzz_dev dev, uint64_t features, unsigned queues)
{
	common_wr(s, dev, VIRTIO_PCI_DEVICE_STATUS, 1, 0);
	common_wr(s, dev, VIRTIO_PCI_DEVICE_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE);
	common_wr(s, dev, VIRTIO_PCI_DEVICE_STATUS, 1,
		  VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	common_wr(s, dev, VIRTIO_PCI_DEVICE_FEATURE_SELECT, 4, 0);
	bar_rd(s, dev, VIRTIO_PCI_COMMON_OFFSET + VIRTIO_PCI_DEVICE_FEATURE, 4);
	common_wr(s, dev, VIRTIO_PCI_DRIVER_FEATURE_SELECT, 4, 0);
	common_wr(s, dev, VIRTIO_PCI_DRIVER_FEATURE, 4, (uint32_t)features);
	common_wr(s, dev, VIRTIO_PCI_DRIVER_FEATURE_SELECT, 4, 1);
	common_wr(s, dev, VIRTIO_PCI_DRIVER_FEATURE, 4, features >> 32);
	common_wr(s, dev, VIRTIO_PCI_DEVICE_STATUS, 1,
		  VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	bar_rd(s, dev, VIRTIO_PCI_COMMON_OFFSET + VIRTIO_PCI_DEVICE_STATUS, 1);
	for (unsigned q = 0; q < queues; q++) {
		common_wr(s, dev, VIRTIO_PCI_QUEUE_SELECT, 2, q);
		common_wr(s, dev, VIRTIO_PCI_QUEUE_SIZE, 2, QSIZE);
		common_wr(s, dev, VIRTIO_PCI_QUEUE_DESC, 4, desc_table(dev, q));
		common_wr(s, dev, VIRTIO_PCI_QUEUE_DRIVER, 4, avail_ring(dev, q));
		common_wr(s, dev, VIRTIO_PCI_QUEUE_DEVICE, 4, used_ring(dev, q));
		common_wr(s, dev, VIRTIO_PCI_QUEUE_ENABLE, 2, 1);
		s->avail_idx[dev][q] = 0;
	}
	common_wr(s, dev, VIRTIO_PCI_DEVICE_STATUS, 1,
		  VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
			  VIRTIO_STATUS_DRIVER_OK);
}

static void poll_dev(struct vseed *s, enum vfuzz_dev dev)
{
	record(s, VOP_POLL, (unsigned)dev << VFUZZ_DEV_SHIFT, 0, 0);
}

static const uint64_t blk_features =
	1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_F_RING_INDIRECT_DESC |
	1ull << VIRTIO_F_RING_EVENT_IDX | 1ull << VIRTIO_BLK_F_FLUSH |
	1ull << VIRTIO_BLK_F_DISCARD | 1ull << VIRTIO_BLK_F_WRITE_ZEROES;

/* A request's header at buffer n: type and sector. */
static void blk_header(struct vseed *s, unsigned n, uint32_t type, uint64_t sector)
{
	ram_put(s, buffer(VDEV_BLK, n), 8, type);
	ram_put(s, buffer(VDEV_BLK, n) + 8, 8, sector);
}

/* Header, data, status as descriptors first, first + 1, first + 2 of the
 * table at table (the queue's or an indirect one). */
static void blk_chain(struct vseed *s, uint64_t table, unsigned first, unsigned hdr_buf,
		      uint64_t data, uint32_t len, bool data_writable, unsigned status_buf)
{
	desc(s, table, first, buffer(VDEV_BLK, hdr_buf), 16, VIRTQ_DESC_F_NEXT,
	     (uint16_t)(first + 1));
	desc(s, table, first + 1, data, len,
	     VIRTQ_DESC_F_NEXT | (data_writable ? VIRTQ_DESC_F_WRITE : 0), (uint16_t)(first + 2));
	desc(s, table, first + 2, buffer(VDEV_BLK, status_buf), 1, VIRTQ_DESC_F_WRITE, 0);
}

static void blk_read_write(struct vseed *s)
{
	uint64_t table = desc_table(VDEV_BLK, 0);
	bring_up(s, VDEV_BLK, blk_features, 1);
	bar_rd(s, VDEV_BLK, VIRTIO_PCI_DEVICE_OFFSET + VIRTIO_BLK_CFG_CAPACITY, 8);
	blk_header(s, 0, VIRTIO_BLK_T_IN, 1);
	blk_chain(s, table, 0, 0, buffer(VDEV_BLK, 2), 1024, true, 1);
	offer(s, VDEV_BLK, 0, 0);
	poll_dev(s, VDEV_BLK);
	bar_rd(s, VDEV_BLK, VIRTIO_PCI_ISR_OFFSET, 1);
	blk_header(s, 4, VIRTIO_BLK_T_OUT, 5);
	ram_put(s, buffer(VDEV_BLK, 6), 8, 0x0123456789abcdefull);
	blk_chain(s, table, 3, 4, buffer(VDEV_BLK, 6), 512, false, 5);
	offer(s, VDEV_BLK, 0, 3);
	poll_dev(s, VDEV_BLK);
	/* GET_ID into 20 bytes, then a flush */
	blk_header(s, 7, VIRTIO_BLK_T_GET_ID, 0);
	desc(s, table, 6, buffer(VDEV_BLK, 7), 16, VIRTQ_DESC_F_NEXT, 7);
	desc(s, table, 7, buffer(VDEV_BLK, 8), 21, VIRTQ_DESC_F_WRITE, 0);
	offer(s, VDEV_BLK, 0, 6);
	poll_dev(s, VDEV_BLK);
}

/* A read through an indirect table, and a write-zeroes range. */
static void blk_indirect(struct vseed *s)
{
	uint64_t indirect = buffer(VDEV_BLK, 9);
	bring_up(s, VDEV_BLK, blk_features, 1);
	blk_header(s, 0, VIRTIO_BLK_T_IN, 3);
	blk_chain(s, indirect, 0, 0, buffer(VDEV_BLK, 2), 512, true, 1);
	desc(s, desc_table(VDEV_BLK, 0), 0, indirect, 48, VIRTQ_DESC_F_INDIRECT, 0);
	offer(s, VDEV_BLK, 0, 0);
	poll_dev(s, VDEV_BLK);
	blk_header(s, 3, VIRTIO_BLK_T_WRITE_ZEROES, 0);
	ram_put(s, buffer(VDEV_BLK, 4), 8, 8);		/* sector */
	ram_put(s, buffer(VDEV_BLK, 4) + 8, 8, 4);	/* 4 sectors, no flags */
	blk_chain(s, desc_table(VDEV_BLK, 0), 1, 3, buffer(VDEV_BLK, 4), 16, false, 5);
	offer(s, VDEV_BLK, 0, 1);
	poll_dev(s, VDEV_BLK);
}

/* A write whose data descriptor leads back to its header: the queue must
 * break, the device ask for a reset, and work again after one. */
static void blk_loop(struct vseed *s)
{
	uint64_t table = desc_table(VDEV_BLK, 0);
	bring_up(s, VDEV_BLK, blk_features, 1);
	blk_header(s, 0, VIRTIO_BLK_T_IN, 0);
	desc(s, table, 0, buffer(VDEV_BLK, 0), 16, VIRTQ_DESC_F_NEXT, 1);
	desc(s, table, 1, buffer(VDEV_BLK, 2), 512, VIRTQ_DESC_F_NEXT, 0);
	offer(s, VDEV_BLK, 0, 0);
	poll_dev(s, VDEV_BLK);
	bar_rd(s, VDEV_BLK, VIRTIO_PCI_COMMON_OFFSET + VIRTIO_PCI_DEVICE_STATUS, 1);
	bar_rd(s, VDEV_BLK, VIRTIO_PCI_ISR_OFFSET, 1);
	record(s, VOP_RESET, (unsigned)VDEV_BLK << VFUZZ_DEV_SHIFT, 0, 0);
	/* The rings start again empty, as a driver's would. */
	ram_put(s, avail_ring(VDEV_BLK, 0) + 2, 2, 0);
	bring_up(s, VDEV_BLK, blk_features, 1);
	blk_chain(s, table, 0, 0, buffer(VDEV_BLK, 2), 512, true, 1);
	offer(s, VDEV_BLK, 0, 0);
	poll_dev(s, VDEV_BLK);
}

/* Buffers at RAM's end: one ending on its last byte (fine), one running
 * a byte past it (a broken queue); then a used ring over the end. */
static void blk_past_ram_end(struct vseed *s)
{
	uint64_t table = desc_table(VDEV_BLK, 0);
	bring_up(s, VDEV_BLK, blk_features, 1);
	blk_header(s, 0, VIRTIO_BLK_T_IN, 0);
	desc(s, table, 0, buffer(VDEV_BLK, 0), 16, VIRTQ_DESC_F_NEXT, 1);
	desc(s, table, 1, VFUZZ_RAM_BYTES - 513, 513, VIRTQ_DESC_F_WRITE, 0);
	offer(s, VDEV_BLK, 0, 0);
	poll_dev(s, VDEV_BLK);
	desc(s, table, 2, buffer(VDEV_BLK, 0), 16, VIRTQ_DESC_F_NEXT, 3);
	desc(s, table, 3, VFUZZ_RAM_BYTES - 512, 513, VIRTQ_DESC_F_WRITE, 0);
	offer(s, VDEV_BLK, 0, 2);
	poll_dev(s, VDEV_BLK);
	record(s, VOP_RESET, (unsigned)VDEV_BLK << VFUZZ_DEV_SHIFT, 0, 0);
	common_wr(s, VDEV_BLK, VIRTIO_PCI_DEVICE_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE);
	common_wr(s, VDEV_BLK, VIRTIO_PCI_QUEUE_SIZE, 2, QSIZE);
	common_wr(s, VDEV_BLK, VIRTIO_PCI_QUEUE_DEVICE, 4, VFUZZ_RAM_BYTES - 64);
	common_wr(s, VDEV_BLK, VIRTIO_PCI_QUEUE_ENABLE, 2, 1);
	bar_rd(s, VDEV_BLK, VIRTIO_PCI_COMMON_OFFSET + VIRTIO_PCI_DEVICE_STATUS, 1);
}

static const uint64_t net_features = 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_NET_F_MAC |
				     1ull << VIRTIO_NET_F_STATUS | 1ull << VIRTIO_NET_F_MTU;

/* A frame out (header and frame in two pieces) and one in. */
static void net_tx_rx(struct vseed *s, bool merged)
{
	enum vfuzz_dev dev = VDEV_NET;
	uint64_t rx = desc_table(dev, VIRTIO_NET_RXQ), tx = desc_table(dev, VIRTIO_NET_TXQ);
	bring_up(s, dev, net_features | (merged ? 1ull << VIRTIO_NET_F_MRG_RXBUF : 0), 2);
	bar_rd(s, dev, VIRTIO_PCI_DEVICE_OFFSET + VIRTIO_NET_CFG_MAC, 4);
	unsigned chains = merged ? 4 : 1;
	uint32_t len = merged ? 512 : 1526;
	for (unsigned i = 0; i < chains; i++) {
		desc(s, rx, i, buffer(dev, i), len, VIRTQ_DESC_F_WRITE, 0);
		offer(s, dev, VIRTIO_NET_RXQ, (uint16_t)i);
	}
	record(s, VOP_NET_RX, VFUZZ_FLAG_SET, merged ? 1400 : 60, 0xffffffffffff0800ull);
	static const uint8_t frame[] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x06,
		0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
	};
	desc(s, tx, 0, buffer(dev, 8), VIRTIO_NET_HDR_SIZE, VIRTQ_DESC_F_NEXT, 1);
	ram_bytes(s, buffer(dev, 9), frame, sizeof(frame));
	desc(s, tx, 1, buffer(dev, 9), 60, 0, 0);
	offer(s, dev, VIRTIO_NET_TXQ, 0);
	bar_rd(s, dev, VIRTIO_PCI_ISR_OFFSET, 1);
	record(s, VOP_NET_RX, 0, 1514, 0x0123456789abcdefull);
	poll_dev(s, dev);
}

/* Event buffers, pointer reports into them, a status buffer; the
 * configuration's name and axes read. */
static void input_events(struct vseed *s)
{
	enum vfuzz_dev dev = VDEV_INPUT;
	bring_up(s, dev, 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_F_RING_EVENT_IDX, 2);
	bar_wr(s, dev, VIRTIO_PCI_DEVICE_OFFSET + VIRTIO_INPUT_CFG_SELECT, 1,
	       VIRTIO_INPUT_CFG_ID_NAME);
	bar_rd(s, dev, VIRTIO_PCI_DEVICE_OFFSET + VIRTIO_INPUT_CFG_SIZE, 1);
	bar_rd(s, dev, VIRTIO_PCI_DEVICE_OFFSET + VIRTIO_INPUT_CFG_UNION, 8);
	bar_wr(s, dev, VIRTIO_PCI_DEVICE_OFFSET + VIRTIO_INPUT_CFG_SELECT, 1,
	       VIRTIO_INPUT_CFG_ABS_INFO);
	bar_wr(s, dev, VIRTIO_PCI_DEVICE_OFFSET + VIRTIO_INPUT_CFG_SUBSEL, 1, VIRTIO_INPUT_ABS_X);
	bar_rd(s, dev, VIRTIO_PCI_DEVICE_OFFSET + VIRTIO_INPUT_CFG_UNION + 4, 4);
	uint64_t events = desc_table(dev, VIRTIO_INPUT_EVENTQ);
	for (unsigned i = 0; i < 6; i++) {
		desc(s, events, i, buffer(dev, 0) + 8 * i, VIRTIO_INPUT_EVENT_SIZE, VIRTQ_DESC_F_WRITE, 0);
		offer(s, dev, VIRTIO_INPUT_EVENTQ, (uint16_t)i);
	}
	record(s, VOP_POINTER, 0, 0, 1ull << 40 | 2ull << 32 | 200ull << 16 | 100);
	record(s, VOP_POINTER, 0, 0, 300ull << 16 | 400);
	bar_rd(s, dev, VIRTIO_PCI_ISR_OFFSET, 1);
	desc(s, desc_table(dev, VIRTIO_INPUT_STATUSQ), 0, buffer(dev, 1), VIRTIO_INPUT_EVENT_SIZE,
	     0, 0);
	ram_put(s, buffer(dev, 1), 8, 0x0000000100000011ull);	/* EV_LED */
	offer(s, dev, VIRTIO_INPUT_STATUSQ, 0);
	record(s, VOP_RESET, VFUZZ_FLAG_SET, 0, 0);
	record(s, VOP_POINTER, 0, 0, 5);
}

/* A 9P request at buffer n of virtio-9p's (readable) with room for its
 * reply at buffer n + 1, as descriptors 2i and 2i + 1, offered. */
static void p9_request(struct vseed *s, unsigned i, const uint8_t *msg, size_t len)
{
	enum vfuzz_dev dev = VDEV_9P;
	uint64_t table = desc_table(dev, 0);
	ram_bytes(s, buffer(dev, 2 * i), msg, len);
	desc(s, table, 2 * i, buffer(dev, 2 * i), (uint32_t)len, VIRTQ_DESC_F_NEXT,
	     (uint16_t)(2 * i + 1));
	desc(s, table, 2 * i + 1, buffer(dev, 2 * i + 1), 4096, VIRTQ_DESC_F_WRITE, 0);
	offer(s, dev, 0, (uint16_t)(2 * i));
}

/* The server's reply to the oldest request it has not answered, its type
 * the request's plus one, payload bytes long. */
static void p9_answer(struct vseed *s, uint16_t payload)
{
	record(s, VOP_9P_REPLY, VFUZZ_FLAG_SET, payload, 0);
}

static const uint8_t tversion[] = {
	21, 0, 0, 0, P9_TVERSION, 0xff, 0xff, 0x00, 0x20, 0, 0, 8, 0, '9', 'P', '2', '0', '0', '0',
	'.', 'L',
};
static const uint8_t tattach[] = {
	27, 0, 0, 0, P9_TATTACH, 1, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 4, 0, 'r', 'o', 'o', 't',
	0, 0, 0, 0, 0, 0,
};
static const uint8_t tflush[] = { 9, 0, 0, 0, P9_TFLUSH, 3, 0, 1, 0 };

/* A driver mounting the share: the mount tag read, Tversion and Tattach
 * answered (Rattach's qid), a Tflush of the attach's tag. */
static void p9_mount(struct vseed *s)
{
	enum vfuzz_dev dev = VDEV_9P;
	bring_up(s, dev, 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_9P_F_MOUNT_TAG, 1);
	bar_rd(s, dev, VIRTIO_PCI_DEVICE_OFFSET, 2);
	bar_rd(s, dev, VIRTIO_PCI_DEVICE_OFFSET + 2, 4);
	p9_request(s, 0, tversion, sizeof(tversion));
	p9_answer(s, 14);
	p9_request(s, 1, tattach, sizeof(tattach));
	p9_answer(s, 13);
	p9_request(s, 2, tattach, sizeof(tattach));
	p9_request(s, 3, tflush, sizeof(tflush));
	p9_answer(s, 13);
	p9_answer(s, 0);
	poll_dev(s, dev);
}

/* A request outstanding across a device reset, its reply coming after it
 * (dropped); then the server closes its end: a new request is answered
 * Rlerror(EIO) by the transport. */
static void p9_orphan_dead_server(struct vseed *s)
{
	enum vfuzz_dev dev = VDEV_9P;
	uint64_t features = 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_9P_F_MOUNT_TAG;
	bring_up(s, dev, features, 1);
	p9_request(s, 0, tversion, sizeof(tversion));
	record(s, VOP_RESET, (unsigned)dev << VFUZZ_DEV_SHIFT, 0, 0);
	ram_put(s, avail_ring(dev, 0) + 2, 2, 0);
	bring_up(s, dev, features, 1);
	p9_answer(s, 14);
	p9_request(s, 0, tversion, sizeof(tversion));
	p9_answer(s, 14);
	record(s, VOP_9P_REPLY, 0, VFUZZ_9P_CLOSE, 0);
	p9_request(s, 1, tattach, sizeof(tattach));
	poll_dev(s, dev);
}

static void write_virtio_seed(const char *outdir, const char *name, const struct vseed *s)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/virtio", outdir);
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "fuzz_seeds: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/virtio/%s", outdir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(s->data, 1, s->size, f) != s->size || fclose(f) != 0) {
		fprintf(stderr, "fuzz_seeds: cannot write %s\n", path);
		exit(1);
	}
}

void virtio_seeds(const char *outdir)
{
	static struct vseed s;
	static const struct {
		const char *name;
		void (*program)(struct vseed *);
	} programs[] = {
		{ "blk-read-write", blk_read_write },
		{ "blk-indirect", blk_indirect },
		{ "blk-loop", blk_loop },
		{ "blk-past-ram-end", blk_past_ram_end },
		{ "input-events", input_events },
		{ "9p-mount", p9_mount },
		{ "9p-orphan-dead-server", p9_orphan_dead_server },
	};
	for (size_t i = 0; i < sizeof(programs) / sizeof(programs[0]); i++) {
		memset(&s, 0, sizeof(s));
		programs[i].program(&s);
		write_virtio_seed(outdir, programs[i].name, &s);
	}
	memset(&s, 0, sizeof(s));
	net_tx_rx(&s, false);
	write_virtio_seed(outdir, "net-tx-rx", &s);
	memset(&s, 0, sizeof(s));
	net_tx_rx(&s, true);
	write_virtio_seed(outdir, "net-tx-rx-merged", &s);
}
