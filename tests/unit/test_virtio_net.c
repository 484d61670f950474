/* virtio-net driven the way a driver drives it: PCI configuration cycles
 * (identification, capabilities, BAR 4), the common configuration in the
 * BAR (negotiation, two queues), the device configuration (MAC, status,
 * MTU), transmit to a fake backend, receive from it through the backlog,
 * the notify callback and virtio_net_poll into posted buffers (one chain a
 * frame, and merged), and every way a frame or a chain can be wrong. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "check.h"
#include "devices/bus.h"
#include "devices/pci_host.h"
#include "devices/virtio_net.h"

#define SLOT	5u
#define DEVFN	(SLOT << 3)
#define IRQ	10u
#define BAR_ADDR 0xfe000000u

/* Guest RAM layout: each queue's rings at QBASE(q). */
#define RXBUF	0x100000u	/* receive buffers, 0x1000 a slot */
#define TXBUF	0x200000u	/* transmit buffers, 0x1000 a slot */

#define RXQ VIRTIO_NET_RXQ
#define TXQ VIRTIO_NET_TXQ
#define FEATURE(n) (1ull << (n))
#define MAX_SENT 8

struct harness {
	struct guest_ram ram;
	struct bus bus;
	struct pci_host pci;
	struct virtio_net net;
	unsigned notifies;
	int irq_level;
	unsigned written_calls;
	/* What the fake backend got. */
	unsigned nsent;
	size_t sent_len[MAX_SENT];
	uint8_t sent[MAX_SENT][2048];
	/* Found by walking the capabilities (virtio_pci_harness.h); window
	 * is the PCI configuration access capability. */
	uint32_t common, isr, device, notify, mult, device_len;
	unsigned window;
	uint16_t qsize;
	uint16_t avail_idx[2], next_desc[2];
};

#include "virtio_pci_harness.h"

static const uint8_t test_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

/* ---- Plumbing ----------------------------------------------------------- */

static void on_notify(void *opaque)
{
	struct harness *h = opaque;
	h->notifies++;
}

static void on_written(void *opaque, uint64_t gpa, uint64_t len)
{
	struct harness *h = opaque;
	(void)gpa;
	(void)len;
	h->written_calls++;
}

static void on_transmit(void *opaque, const uint8_t *frame, size_t len)
{
	struct harness *h = opaque;
	if (h->nsent < MAX_SENT && len <= sizeof(h->sent[0])) {
		memcpy(h->sent[h->nsent], frame, len);
		h->sent_len[h->nsent] = len;
	}
	h->nsent++;
}

static void setup(struct harness *h)
{
	h->notifies = 0;
	h->irq_level = 0;
	h->written_calls = 0;
	h->nsent = 0;
	memset(h->ram.host, 0, h->ram.size);
	pci_begin(h);
	struct virtio_net_host host = { .notify = on_notify, .guest_written = on_written, .opaque = h };
	struct virtio_net_backend backend = { .transmit = on_transmit, .opaque = h };
	CHECK_EQ(virtio_net_attach(&h->net, DEVFN, test_mac, &h->ram, &h->bus, &host, &backend), 0);
	pci_plug(h, &h->net.vp.pci);
	CHECK(cfg_rd(h, PCI_REG_STATUS, 2) & PCI_STATUS_CAP_LIST);
	CHECK(h->device_len >= VIRTIO_NET_CONFIG_SIZE);
	CHECK_EQ(cfg_rd(h, h->window + 2, 1), 20);	/* the access capability's length */
}

static uint64_t device_features(struct harness *h)
{
	common_wr(h, VIRTIO_PCI_DEVICE_FEATURE_SELECT, 4, 0);
	uint64_t f = common_rd(h, VIRTIO_PCI_DEVICE_FEATURE, 4);
	common_wr(h, VIRTIO_PCI_DEVICE_FEATURE_SELECT, 4, 1);
	return f | common_rd(h, VIRTIO_PCI_DEVICE_FEATURE, 4) << 32;
}

static void write_features(struct harness *h, uint64_t f)
{
	common_wr(h, VIRTIO_PCI_DRIVER_FEATURE_SELECT, 4, 0);
	common_wr(h, VIRTIO_PCI_DRIVER_FEATURE, 4, (uint32_t)f);
	common_wr(h, VIRTIO_PCI_DRIVER_FEATURE_SELECT, 4, 1);
	common_wr(h, VIRTIO_PCI_DRIVER_FEATURE, 4, f >> 32);
}

static bool driver_start(struct harness *h, uint64_t want, uint16_t qsize)
{
	const uint8_t base = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	set_status(h, 0);
	set_status(h, VIRTIO_STATUS_ACKNOWLEDGE);
	set_status(h, base);
	write_features(h, want & device_features(h));
	set_status(h, base | VIRTIO_STATUS_FEATURES_OK);
	if (!(status(h) & VIRTIO_STATUS_FEATURES_OK))
		return false;
	memset(h->ram.host + QBASE(0), 0, 0x8000);
	queue_setup(h, RXQ, qsize);
	queue_setup(h, TXQ, qsize);
	set_status(h, base | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	return true;
}

static const uint64_t base_features = FEATURE(VIRTIO_F_VERSION_1) | FEATURE(VIRTIO_NET_F_MAC) |
				      FEATURE(VIRTIO_NET_F_STATUS) | FEATURE(VIRTIO_NET_F_MTU);
static const uint64_t mrg_features = base_features | FEATURE(VIRTIO_NET_F_MRG_RXBUF);

static uint16_t alloc_desc(struct harness *h, unsigned q)
{
	uint16_t d = h->next_desc[q];
	h->next_desc[q] = (uint16_t)((d + 1) % h->qsize);
	return d;
}

static uint32_t used_id(struct harness *h, unsigned q, unsigned i)
{
	return get32(h, USED(q) + 4 + 8 * (i % h->qsize));
}

static uint32_t used_len(struct harness *h, unsigned q, unsigned i)
{
	return get32(h, USED(q) + 8 + 8 * (i % h->qsize));
}

/* A receive buffer of len bytes at slot's address, offered (not kicked). */
static uint16_t post_rx(struct harness *h, unsigned slot, uint32_t len)
{
	uint16_t d = alloc_desc(h, RXQ);
	memset(h->ram.host + RXBUF + 0x1000u * slot, 0xee, len);
	desc(h, RXQ, d, RXBUF + 0x1000u * slot, len, VIRTQ_DESC_F_WRITE, 0);
	offer(h, RXQ, d);
	return d;
}

static void make_frame(uint8_t *f, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		f[i] = (uint8_t)(seed + i * 3);
}

/* A transmit chain: the header, then the frame split in two descriptors. */
static uint16_t send_tx(struct harness *h, unsigned slot, const uint8_t *frame, size_t len)
{
	uint64_t at = TXBUF + 0x1000u * slot;
	memset(h->ram.host + at, 0, VIRTIO_NET_HDR_SIZE);
	memcpy(h->ram.host + at + VIRTIO_NET_HDR_SIZE, frame, len);
	uint16_t d0 = alloc_desc(h, TXQ), d1 = alloc_desc(h, TXQ), d2 = alloc_desc(h, TXQ);
	size_t half = len / 2;
	desc(h, TXQ, d0, at, VIRTIO_NET_HDR_SIZE, VIRTQ_DESC_F_NEXT, d1);
	desc(h, TXQ, d1, at + VIRTIO_NET_HDR_SIZE, (uint32_t)half, VIRTQ_DESC_F_NEXT, d2);
	desc(h, TXQ, d2, at + VIRTIO_NET_HDR_SIZE + half, (uint32_t)(len - half), 0, 0);
	offer(h, TXQ, d0);
	kick(h, TXQ);
	return d0;
}

/* ---- Tests -------------------------------------------------------------- */

static void test_identity_and_config(struct harness *h)
{
	setup(h);
	CHECK_EQ(cfg_rd(h, 0x00, 4), 0x10411af4);
	CHECK_EQ(cfg_rd(h, 0x08, 4), 0x02000001);	/* class 020000, revision 1 */
	CHECK_EQ(cfg_rd(h, 0x2c, 4), 0x00011af4);	/* subsystem: the device type */
	uint64_t f = device_features(h);
	CHECK_EQ(f, FEATURE(VIRTIO_F_VERSION_1) | FEATURE(VIRTIO_F_RING_INDIRECT_DESC) |
			    FEATURE(VIRTIO_F_RING_EVENT_IDX) | mrg_features);
	for (unsigned i = 0; i < 6; i++)
		CHECK_EQ(dev_rd(h, VIRTIO_NET_CFG_MAC + i, 1), test_mac[i]);
	CHECK_EQ(dev_rd(h, VIRTIO_NET_CFG_STATUS, 2), VIRTIO_NET_S_LINK_UP);
	CHECK_EQ(dev_rd(h, VIRTIO_NET_CFG_MAX_VQ_PAIRS, 2), 1);
	CHECK_EQ(dev_rd(h, VIRTIO_NET_CFG_MTU, 2), 1500);
	/* Two queues of 256; no third. */
	CHECK_EQ(common_rd(h, VIRTIO_PCI_NUM_QUEUES, 2), 2);
	common_wr(h, VIRTIO_PCI_QUEUE_SELECT, 2, 1);
	CHECK_EQ(common_rd(h, VIRTIO_PCI_QUEUE_SIZE, 2), 256);
	common_wr(h, VIRTIO_PCI_QUEUE_SELECT, 2, 2);
	CHECK_EQ(common_rd(h, VIRTIO_PCI_QUEUE_SIZE, 2), 0);
	/* Without VERSION_1 FEATURES_OK does not stick; with it, it does. */
	CHECK(!driver_start(h, base_features & ~FEATURE(VIRTIO_F_VERSION_1), 64));
	CHECK(driver_start(h, mrg_features, 64));
	CHECK(virtio_pci_negotiated(&h->net.vp, VIRTIO_NET_F_MRG_RXBUF));
	CHECK(virtio_net_busy(&h->net));
	virtio_net_close(&h->net);
}

/* The PCI configuration access capability (what iPXE's driver insists
 * on): aimed at BAR 4 by bar, offset and length, its data dword reads
 * and writes the BAR; a window that is not a valid one moves nothing. */
static void test_config_window(struct harness *h)
{
	setup(h);
	unsigned w = h->window, data = w + 16;
	CHECK(w != 0);
	cfg_wr(h, w + 4, 1, 4);
	cfg_wr(h, w + 8, 4, h->device + VIRTIO_NET_CFG_MAC);
	cfg_wr(h, w + 12, 4, 4);
	CHECK_EQ(cfg_rd(h, data, 4), (uint32_t)test_mac[0] | (uint32_t)test_mac[1] << 8 |
					     (uint32_t)test_mac[2] << 16 | (uint32_t)test_mac[3] << 24);
	cfg_wr(h, w + 8, 4, h->device + VIRTIO_NET_CFG_MTU);
	cfg_wr(h, w + 12, 4, 2);
	CHECK_EQ(cfg_rd(h, data, 2), 1500);
	/* A write: queue_select through the window, read back directly. */
	cfg_wr(h, w + 8, 4, h->common + VIRTIO_PCI_QUEUE_SELECT);
	cfg_wr(h, data, 4, 0xffff0001);   /* only length (2) bytes go */
	CHECK_EQ(common_rd(h, VIRTIO_PCI_QUEUE_SELECT, 2), 1);
	/* Invalid windows: misaligned, a length of 3, another BAR, past the
	 * BAR's end. The data keeps what it held, the BAR is not touched. */
	cfg_wr(h, w + 8, 4, h->device + 1);
	cfg_wr(h, data, 4, 0x5a5a5a5a);
	CHECK_EQ(common_rd(h, VIRTIO_PCI_QUEUE_SELECT, 2), 1);
	CHECK_EQ(cfg_rd(h, data, 4), 0x5a5a5a5a);
	cfg_wr(h, w + 8, 4, h->device);
	cfg_wr(h, w + 12, 4, 3);
	CHECK_EQ(cfg_rd(h, data, 4), 0x5a5a5a5a);
	cfg_wr(h, w + 12, 4, 4);
	cfg_wr(h, w + 4, 1, 0);
	CHECK_EQ(cfg_rd(h, data, 4), 0x5a5a5a5a);
	cfg_wr(h, w + 4, 1, 4);
	cfg_wr(h, w + 8, 4, VIRTIO_PCI_BAR_SIZE);
	CHECK_EQ(cfg_rd(h, data, 4), 0x5a5a5a5a);
	cfg_wr(h, w + 8, 4, h->common + VIRTIO_PCI_QUEUE_SELECT + 1);
	cfg_wr(h, w + 12, 4, 2);
	cfg_wr(h, data, 4, 0);
	CHECK_EQ(common_rd(h, VIRTIO_PCI_QUEUE_SELECT, 2), 1);
	virtio_net_close(&h->net);
}

static void test_transmit(struct harness *h)
{
	uint8_t frame[1514];

	setup(h);
	CHECK(driver_start(h, base_features, 64));
	make_frame(frame, 60, 1);
	uint16_t head = send_tx(h, 0, frame, 60);
	CHECK_EQ(used_idx(h, TXQ), 1);
	CHECK_EQ(used_id(h, TXQ, 0), head);
	CHECK_EQ(used_len(h, TXQ, 0), 0);
	CHECK_EQ(h->nsent, 1);
	CHECK_EQ(h->sent_len[0], 60);
	CHECK(!memcmp(h->sent[0], frame, 60));
	CHECK_EQ(h->irq_level, 1);
	CHECK_EQ(read_isr(h) & VIRTIO_ISR_QUEUE, VIRTIO_ISR_QUEUE);
	CHECK_EQ(h->irq_level, 0);
	/* The biggest frame goes. */
	make_frame(frame, sizeof(frame), 7);
	send_tx(h, 1, frame, sizeof(frame));
	CHECK_EQ(h->nsent, 2);
	CHECK_EQ(h->sent_len[1], sizeof(frame));
	CHECK(!memcmp(h->sent[1], frame, sizeof(frame)));
	struct virtio_net_stats s = virtio_net_get_stats(&h->net);
	CHECK_EQ(s.tx_packets, 2);
	CHECK_EQ(s.tx_bytes, 60 + sizeof(frame));
	CHECK_EQ(s.tx_dropped, 0);
	virtio_net_close(&h->net);
}

static void test_bad_transmit(struct harness *h)
{
	uint8_t frame[VIRTIO_NET_MAX_FRAME + 1];

	setup(h);
	CHECK(driver_start(h, base_features, 64));
	make_frame(frame, sizeof(frame), 3);
	/* Too long, too short for an Ethernet header. */
	send_tx(h, 0, frame, sizeof(frame));
	send_tx(h, 1, frame, VIRTIO_NET_ETH_HLEN - 1);
	/* Only a header. */
	uint16_t d = alloc_desc(h, TXQ);
	desc(h, TXQ, d, TXBUF, VIRTIO_NET_HDR_SIZE, 0, 0);
	offer(h, TXQ, d);
	kick(h, TXQ);
	/* A writable part. */
	uint16_t d0 = alloc_desc(h, TXQ), d1 = alloc_desc(h, TXQ);
	desc(h, TXQ, d0, TXBUF, 100, VIRTQ_DESC_F_NEXT, d1);
	desc(h, TXQ, d1, TXBUF + 0x1000, 100, VIRTQ_DESC_F_WRITE, 0);
	offer(h, TXQ, d0);
	kick(h, TXQ);
	CHECK_EQ(h->nsent, 0);
	CHECK_EQ(used_idx(h, TXQ), 4);
	struct virtio_net_stats s = virtio_net_get_stats(&h->net);
	CHECK_EQ(s.tx_dropped, 4);
	CHECK_EQ(s.tx_packets, 0);
	CHECK_EQ(s.device_errors, 0);
	/* Still working. */
	send_tx(h, 2, frame, 64);
	CHECK_EQ(h->nsent, 1);
	/* A descriptor past the table breaks the queue: NEEDS_RESET. */
	d0 = alloc_desc(h, TXQ);
	desc(h, TXQ, d0, TXBUF, 100, VIRTQ_DESC_F_NEXT, 1000);
	offer(h, TXQ, d0);
	kick(h, TXQ);
	CHECK(status(h) & VIRTIO_STATUS_NEEDS_RESET);
	s = virtio_net_get_stats(&h->net);
	CHECK_EQ(s.device_errors, 1);
	/* Receive no longer delivers; a reset makes it all work again. */
	CHECK(driver_start(h, base_features, 64));
	CHECK(!(status(h) & VIRTIO_STATUS_NEEDS_RESET));
	send_tx(h, 0, frame, 64);
	CHECK_EQ(h->nsent, 2);
	virtio_net_close(&h->net);
}

static void check_rx_header(struct harness *h, unsigned slot, unsigned num_buffers)
{
	const uint8_t *hdr = h->ram.host + RXBUF + 0x1000u * slot;
	for (unsigned i = 0; i < VIRTIO_NET_HDR_SIZE; i++)
		if (i != VIRTIO_NET_HDR_NUM_BUFFERS && i != VIRTIO_NET_HDR_NUM_BUFFERS + 1)
			CHECK_EQ(hdr[i], 0);
	CHECK_EQ(get16(h, RXBUF + 0x1000u * slot + VIRTIO_NET_HDR_NUM_BUFFERS), num_buffers);
}

static void test_receive(struct harness *h)
{
	uint8_t frame[1514];

	setup(h);
	CHECK(driver_start(h, base_features, 64));
	uint16_t b0 = post_rx(h, 0, VIRTIO_NET_HDR_SIZE + VIRTIO_NET_MAX_FRAME);
	kick(h, RXQ);
	CHECK_EQ(used_idx(h, RXQ), 0);
	make_frame(frame, 100, 9);
	CHECK_EQ(virtio_net_receive(&h->net, frame, 100), 0);
	CHECK_EQ(h->notifies, 1);
	/* Nothing before poll: the vCPU thread delivers. */
	CHECK_EQ(used_idx(h, RXQ), 0);
	virtio_net_poll(&h->net);
	CHECK_EQ(used_idx(h, RXQ), 1);
	CHECK_EQ(used_id(h, RXQ, 0), b0);
	CHECK_EQ(used_len(h, RXQ, 0), VIRTIO_NET_HDR_SIZE + 100);
	check_rx_header(h, 0, 1);
	CHECK(!memcmp(h->ram.host + RXBUF + VIRTIO_NET_HDR_SIZE, frame, 100));
	CHECK_EQ(h->irq_level, 1);
	CHECK(h->written_calls > 0);
	read_isr(h);

	/* No buffers: frames wait, in order, until some are posted. */
	make_frame(frame, 200, 1);
	CHECK_EQ(virtio_net_receive(&h->net, frame, 200), 0);
	make_frame(frame, 300, 2);
	CHECK_EQ(virtio_net_receive(&h->net, frame, 300), 0);
	virtio_net_poll(&h->net);
	CHECK_EQ(used_idx(h, RXQ), 1);
	post_rx(h, 1, 1526);
	post_rx(h, 2, 1526);
	kick(h, RXQ);
	CHECK_EQ(used_idx(h, RXQ), 3);
	CHECK_EQ(used_len(h, RXQ, 1), VIRTIO_NET_HDR_SIZE + 200);
	CHECK_EQ(used_len(h, RXQ, 2), VIRTIO_NET_HDR_SIZE + 300);
	make_frame(frame, 200, 1);
	CHECK(!memcmp(h->ram.host + RXBUF + 0x1000 + VIRTIO_NET_HDR_SIZE, frame, 200));
	make_frame(frame, 300, 2);
	CHECK(!memcmp(h->ram.host + RXBUF + 0x2000 + VIRTIO_NET_HDR_SIZE, frame, 300));

	/* A buffer too small for a frame without MRG_RXBUF: the frame goes,
	 * the buffer stays for the next one that fits. */
	uint16_t small = post_rx(h, 3, 112);
	kick(h, RXQ);
	CHECK_EQ(virtio_net_receive(&h->net, frame, 200), 0);
	virtio_net_poll(&h->net);
	CHECK_EQ(used_idx(h, RXQ), 3);
	CHECK_EQ(virtio_net_receive(&h->net, frame, 100), 0);
	virtio_net_poll(&h->net);
	CHECK_EQ(used_idx(h, RXQ), 4);
	CHECK_EQ(used_id(h, RXQ, 3), small);
	CHECK_EQ(used_len(h, RXQ, 3), 112);

	/* Frames out of range never queue. */
	CHECK_EQ(virtio_net_receive(&h->net, frame, VIRTIO_NET_ETH_HLEN - 1), -EMSGSIZE);
	CHECK_EQ(virtio_net_receive(&h->net, frame, VIRTIO_NET_MAX_FRAME + 1), -EMSGSIZE);
	struct virtio_net_stats s = virtio_net_get_stats(&h->net);
	CHECK_EQ(s.rx_packets, 4);
	CHECK_EQ(s.rx_bytes, 100 + 200 + 300 + 100);
	CHECK_EQ(s.rx_oversized, 3);
	virtio_net_close(&h->net);
}

static void test_mergeable(struct harness *h)
{
	uint8_t frame[1514];

	setup(h);
	CHECK(driver_start(h, mrg_features, 64));
	uint16_t b[3];
	for (unsigned i = 0; i < 3; i++)
		b[i] = post_rx(h, i, 512);
	kick(h, RXQ);
	make_frame(frame, 1200, 5);
	CHECK_EQ(virtio_net_receive(&h->net, frame, 1200), 0);
	virtio_net_poll(&h->net);
	CHECK_EQ(used_idx(h, RXQ), 3);
	for (unsigned i = 0; i < 3; i++)
		CHECK_EQ(used_id(h, RXQ, i), b[i]);
	CHECK_EQ(used_len(h, RXQ, 0), 512);
	CHECK_EQ(used_len(h, RXQ, 1), 512);
	CHECK_EQ(used_len(h, RXQ, 2), 1200 + VIRTIO_NET_HDR_SIZE - 1024);
	check_rx_header(h, 0, 3);
	CHECK(!memcmp(h->ram.host + RXBUF + VIRTIO_NET_HDR_SIZE, frame, 500));
	CHECK(!memcmp(h->ram.host + RXBUF + 0x1000, frame + 500, 512));
	CHECK(!memcmp(h->ram.host + RXBUF + 0x2000, frame + 1012, 188));

	/* Half the buffers a frame needs: it waits for the rest, the first
	 * one still free. */
	read_isr(h);
	uint16_t c0 = post_rx(h, 4, 512);
	kick(h, RXQ);
	CHECK_EQ(virtio_net_receive(&h->net, frame, 1000), 0);
	virtio_net_poll(&h->net);
	CHECK_EQ(used_idx(h, RXQ), 3);
	CHECK_EQ(h->irq_level, 0);
	uint16_t c1 = post_rx(h, 5, 512);
	kick(h, RXQ);
	CHECK_EQ(used_idx(h, RXQ), 5);
	CHECK_EQ(used_id(h, RXQ, 3), c0);
	CHECK_EQ(used_id(h, RXQ, 4), c1);
	CHECK_EQ(used_len(h, RXQ, 4), 1000 + VIRTIO_NET_HDR_SIZE - 512);
	check_rx_header(h, 4, 2);

	/* A receive chain with a readable part or shorter than the header
	 * comes back empty; the frame takes the next good one. */
	uint16_t d0 = alloc_desc(h, RXQ), d1 = alloc_desc(h, RXQ);
	desc(h, RXQ, d0, RXBUF + 0x6000, 16, VIRTQ_DESC_F_NEXT, d1);
	desc(h, RXQ, d1, RXBUF + 0x6100, 512, VIRTQ_DESC_F_WRITE, 0);
	offer(h, RXQ, d0);
	uint16_t tiny = post_rx(h, 7, 8);
	uint16_t good = post_rx(h, 8, 1526);
	kick(h, RXQ);
	CHECK_EQ(virtio_net_receive(&h->net, frame, 64), 0);
	virtio_net_poll(&h->net);
	CHECK_EQ(used_idx(h, RXQ), 8);
	CHECK_EQ(used_id(h, RXQ, 5), d0);
	CHECK_EQ(used_len(h, RXQ, 5), 0);
	CHECK_EQ(used_id(h, RXQ, 6), tiny);
	CHECK_EQ(used_len(h, RXQ, 6), 0);
	CHECK_EQ(used_id(h, RXQ, 7), good);
	CHECK_EQ(used_len(h, RXQ, 7), 64 + VIRTIO_NET_HDR_SIZE);
	struct virtio_net_stats s = virtio_net_get_stats(&h->net);
	CHECK_EQ(s.rx_packets, 3);
	CHECK_EQ(s.rx_bad_buffers, 2);
	CHECK_EQ(s.device_errors, 0);
	virtio_net_close(&h->net);
}

static void test_backlog_and_reset(struct harness *h)
{
	uint8_t frame[64];

	setup(h);
	make_frame(frame, sizeof(frame), 0);
	/* Before DRIVER_OK frames are dropped at poll. */
	CHECK_EQ(virtio_net_receive(&h->net, frame, sizeof(frame)), 0);
	virtio_net_poll(&h->net);
	struct virtio_net_stats s = virtio_net_get_stats(&h->net);
	CHECK_EQ(s.rx_not_running, 1);
	CHECK(driver_start(h, mrg_features, 64));
	/* The backlog is bounded. */
	unsigned full = 0;
	for (unsigned i = 0; i < VIRTIO_NET_RX_BACKLOG + 5; i++)
		if (virtio_net_receive(&h->net, frame, sizeof(frame)) == -ENOBUFS)
			full++;
	CHECK_EQ(full, 5);
	s = virtio_net_get_stats(&h->net);
	CHECK_EQ(s.rx_backlog_full, 5);
	/* Some delivered, the rest dropped by a reset. */
	for (unsigned i = 0; i < 10; i++)
		post_rx(h, i, 128);
	kick(h, RXQ);
	CHECK_EQ(used_idx(h, RXQ), 10);
	virtio_net_reset(&h->net);
	CHECK_EQ(status(h), 0);
	CHECK(!virtio_net_busy(&h->net));
	s = virtio_net_get_stats(&h->net);
	CHECK_EQ(s.rx_packets, 10);
	CHECK_EQ(s.rx_not_running, 1 + VIRTIO_NET_RX_BACKLOG - 10);
	/* The driver starts over and the device works. */
	CHECK(driver_start(h, mrg_features, 64));
	post_rx(h, 0, 1526);
	kick(h, RXQ);
	CHECK_EQ(virtio_net_receive(&h->net, frame, sizeof(frame)), 0);
	virtio_net_poll(&h->net);
	CHECK_EQ(used_idx(h, RXQ), 1);
	CHECK_EQ(used_len(h, RXQ, 0), sizeof(frame) + VIRTIO_NET_HDR_SIZE);
	virtio_net_close(&h->net);
	virtio_net_close(&h->net);	/* twice is harmless */
}

/* The backend's thread receives while the vCPU thread polls and posts
 * buffers: every frame arrives once, in order. */
#define THREAD_FRAMES 500u

static void *backend_thread(void *arg)
{
	struct harness *h = arg;
	uint8_t frame[64];
	for (unsigned i = 0; i < THREAD_FRAMES; i++) {
		make_frame(frame, sizeof(frame), (uint8_t)i);
		memcpy(frame, &i, sizeof(i));
		while (virtio_net_receive(&h->net, frame, sizeof(frame)) == -ENOBUFS)
			sched_yield();
	}
	return NULL;
}

static void test_threads(struct harness *h)
{
	pthread_t t;
	unsigned got = 0, posted = 0;

	setup(h);
	CHECK(driver_start(h, mrg_features, 64));
	for (; posted < 64; posted++)
		post_rx(h, posted % 64, 128);
	kick(h, RXQ);
	CHECK_EQ(pthread_create(&t, NULL, backend_thread, h), 0);
	for (unsigned spins = 0; got < THREAD_FRAMES && spins < 10000000; spins++) {
		virtio_net_poll(&h->net);
		while (got != used_idx(h, RXQ)) {
			unsigned slot = used_id(h, RXQ, got);
			unsigned seq;
			memcpy(&seq, h->ram.host + RXBUF + 0x1000u * slot + VIRTIO_NET_HDR_SIZE, sizeof(seq));
			CHECK_EQ(seq, got);
			got++;
			/* The buffer goes back at once, as a driver would. */
			desc(h, RXQ, slot, RXBUF + 0x1000u * slot, 128, VIRTQ_DESC_F_WRITE, 0);
			offer(h, RXQ, (uint16_t)slot);
			kick(h, RXQ);
		}
		if (!(spins & 1023))
			sched_yield();
	}
	pthread_join(t, NULL);
	CHECK_EQ(got, THREAD_FRAMES);
	struct virtio_net_stats s = virtio_net_get_stats(&h->net);
	CHECK_EQ(s.rx_packets, THREAD_FRAMES);
	virtio_net_close(&h->net);
}

int main(void)
{
	static struct harness h;

	if (guest_ram_init(&h.ram, 4, 0)) {
		fprintf(stderr, "cannot make guest RAM\n");
		return 1;
	}
	test_identity_and_config(&h);
	test_config_window(&h);
	test_transmit(&h);
	test_bad_transmit(&h);
	test_receive(&h);
	test_mergeable(&h);
	test_backlog_and_reset(&h);
	test_threads(&h);
	guest_ram_destroy(&h.ram);
	return check_report("test_virtio_net");
}
