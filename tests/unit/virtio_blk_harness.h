/* What test_virtio_blk.c and test_virtio_blk_faults.c share: a virtio-blk
 * device behind a PCI host on a bus with a real guest_ram, a temporary
 * image, and the driver's side (configuration cycles, the capability walk,
 * the common configuration, a split queue, requests and their completion). */
#ifndef BTVM_TESTS_VIRTIO_BLK_HARNESS_H
#define BTVM_TESTS_VIRTIO_BLK_HARNESS_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "devices/bus.h"
#include "devices/pci_host.h"
#include "devices/virtio_blk.h"

#define SLOT	4u
#define DEVFN	(SLOT << 3)
#define IRQ	11u
#define BAR_ADDR 0xfe000000u

/* Guest RAM layout. */
#define DESC	0x10000u
#define AVAIL	0x11000u
#define USED	0x12000u
#define TABLES	0x14000u	/* indirect tables, 0x1000 each */
#define HDRS	0x20000u	/* request headers, 16 bytes a slot */
#define STATUS	0x21000u	/* status bytes, one a slot */
#define IDBUF	0x22000u
#define DATA	0x100000u	/* data buffers, 3 MiB */

#define IMAGE_SECTORS 2048u	/* 1 MiB */
#define FEATURE(n) (1ull << (n))

struct harness {
	struct guest_ram ram;
	struct bus bus;
	struct pci_host pci;
	struct virtio_blk blk;
	char path[256];
	int efd;
	int irq_level;
	unsigned irq_changes;
	unsigned written_calls;
	uint64_t written_lo, written_hi;	/* span of guest RAM reported written */
	/* Found by walking the capabilities. */
	uint32_t common, isr, device, notify, mult;
	uint16_t qsize, avail_idx, next_desc;
};

#include "virtio_pci_access.h"
#include "virtq_ram.h"

/* ---- Plumbing: the board's side and the driver's side ------------------- */

static inline void on_notify(void *opaque)
{
	struct harness *h = opaque;
	uint64_t one = 1;
	if (write(h->efd, &one, sizeof(one)) < 0)
		perror("eventfd");
}

static inline void on_written(void *opaque, uint64_t gpa, uint64_t len)
{
	struct harness *h = opaque;
	h->written_calls++;
	if (gpa < h->written_lo)
		h->written_lo = gpa;
	if (gpa + len > h->written_hi)
		h->written_hi = gpa + len;
}

static inline void on_isa_irq(void *opaque, unsigned irq, int level)
{
	struct harness *h = opaque;
	CHECK_EQ(irq, IRQ);
	h->irq_level = level;
	h->irq_changes++;
}

static inline void put(struct harness *h, uint64_t gpa, const void *src, size_t len)
{
	memcpy(h->ram.host + gpa, src, len);
}

static inline void make_image(struct harness *h, uint64_t bytes)
{
	const char *dir = getenv("TMPDIR");
	snprintf(h->path, sizeof(h->path), "%s/btvm-vblk-XXXXXX", dir && *dir ? dir : "/tmp");
	int fd = mkstemp(h->path);
	CHECK(fd >= 0);
	uint8_t sector[512];
	for (uint64_t off = 0; off < bytes; off += sizeof(sector)) {
		/* Each sector says which it is. */
		for (unsigned i = 0; i < sizeof(sector); i++)
			sector[i] = (uint8_t)(off / 512 * 7 + i);
		uint64_t n = bytes - off < sizeof(sector) ? bytes - off : sizeof(sector);
		CHECK_EQ(pwrite(fd, sector, n, (off_t)off), (ssize_t)n);
	}
	close(fd);
}

static inline uint8_t image_byte(uint64_t off)
{
	return (uint8_t)(off / 512 * 7 + off % 512);
}

static inline void *read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	CHECK(fd >= 0 && fstat(fd, &st) == 0);
	uint8_t *buf = malloc((size_t)st.st_size + 1);
	CHECK_EQ(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

/* Finds the vendor capabilities the way Linux's virtio_pci_modern does. */
static inline void find_caps(struct harness *h)
{
	unsigned seen = 0;
	CHECK(cfg_rd(h, PCI_REG_STATUS, 2) & PCI_STATUS_CAP_LIST);
	for (unsigned at = cfg_rd(h, PCI_REG_CAPABILITIES, 1) & ~3u, n = 0; at && n < 48;
	     at = cfg_rd(h, at + 1, 1) & ~3u, n++) {
		if (cfg_rd(h, at, 1) != PCI_CAP_ID_VENDOR)
			continue;
		unsigned type = cfg_rd(h, at + 3, 1);
		/* BAR 4; the access window (test_virtio_net) aims nowhere yet. */
		CHECK_EQ(cfg_rd(h, at + 4, 1), type == VIRTIO_PCI_CAP_PCI_CFG ? 0 : 4);
		uint32_t off = cfg_rd(h, at + 8, 4), len = cfg_rd(h, at + 12, 4);
		seen |= 1u << type;
		switch (type) {
		case VIRTIO_PCI_CAP_COMMON_CFG:
			CHECK_EQ(cfg_rd(h, at + 2, 1), 16);
			CHECK(len >= 0x38);
			h->common = off;
			break;
		case VIRTIO_PCI_CAP_NOTIFY_CFG:
			CHECK_EQ(cfg_rd(h, at + 2, 1), 20);
			h->notify = off;
			h->mult = cfg_rd(h, at + 16, 4);
			CHECK(len >= 2);
			break;
		case VIRTIO_PCI_CAP_ISR_CFG:
			CHECK(len >= 1);
			h->isr = off;
			break;
		case VIRTIO_PCI_CAP_DEVICE_CFG:
			CHECK(len >= VIRTIO_BLK_CONFIG_SIZE);
			h->device = off;
			break;
		}
		CHECK(off + len <= VIRTIO_PCI_BAR_SIZE);
	}
	CHECK_EQ(seen, 0x3e);
}

static inline int setup(struct harness *h, bool readonly, bool snapshot)
{
	char err[256];
	uint64_t one;

	h->irq_level = 0;
	h->irq_changes = 0;
	h->written_calls = 0;
	h->written_lo = UINT64_MAX;
	h->written_hi = 0;
	memset(h->ram.host, 0, h->ram.size);
	while (read(h->efd, &one, sizeof(one)) > 0)
		continue;
	bus_init(&h->bus);
	pci_host_init(&h->pci);
	h->pci.set_isa_irq = on_isa_irq;
	h->pci.irq_opaque = h;
	int ret = virtio_blk_open(&h->blk, h->path, readonly, snapshot, false, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "open: %s\n", err);
		return ret;
	}
	struct virtio_blk_host host = {
		.notify = on_notify, .guest_written = on_written, .opaque = h,
	};
	CHECK_EQ(virtio_blk_attach(&h->blk, DEVFN, &h->ram, &h->bus, &host), 0);
	CHECK_EQ(pci_host_add(&h->pci, &h->blk.vp.pci), 0);
	/* What firmware does: PIRQ route, BAR, decoding and mastering. */
	unsigned pirq = pci_host_pirq(SLOT, PCI_PIN_INTA);
	pci_host_config_write(&h->pci, 0, PCI_ISA_BRIDGE_DEVFN, PCI_PIIX_PIRQ_ROUTE + pirq, 1, IRQ);
	cfg_wr(h, PCI_REG_BAR0 + 4 * VIRTIO_PCI_BAR, 4, BAR_ADDR);
	cfg_wr(h, PCI_REG_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	find_caps(h);
	return 0;
}

static inline void teardown(struct harness *h)
{
	virtio_blk_close(&h->blk);
}

static inline uint64_t device_features(struct harness *h)
{
	common_wr(h, VIRTIO_PCI_DEVICE_FEATURE_SELECT, 4, 0);
	uint64_t f = common_rd(h, VIRTIO_PCI_DEVICE_FEATURE, 4);
	common_wr(h, VIRTIO_PCI_DEVICE_FEATURE_SELECT, 4, 1);
	return f | common_rd(h, VIRTIO_PCI_DEVICE_FEATURE, 4) << 32;
}

static inline void write_features(struct harness *h, uint64_t f)
{
	common_wr(h, VIRTIO_PCI_DRIVER_FEATURE_SELECT, 4, 0);
	common_wr(h, VIRTIO_PCI_DRIVER_FEATURE, 4, (uint32_t)f);
	common_wr(h, VIRTIO_PCI_DRIVER_FEATURE_SELECT, 4, 1);
	common_wr(h, VIRTIO_PCI_DRIVER_FEATURE, 4, f >> 32);
}

static inline void queue_addresses(struct harness *h)
{
	/* 64-bit registers as two dwords, as the spec has drivers do. */
	common_wr(h, VIRTIO_PCI_QUEUE_DESC, 4, DESC);
	common_wr(h, VIRTIO_PCI_QUEUE_DESC + 4, 4, 0);
	common_wr(h, VIRTIO_PCI_QUEUE_DRIVER, 4, AVAIL);
	common_wr(h, VIRTIO_PCI_QUEUE_DRIVER + 4, 4, 0);
	common_wr(h, VIRTIO_PCI_QUEUE_DEVICE, 4, USED);
	common_wr(h, VIRTIO_PCI_QUEUE_DEVICE + 4, 4, 0);
}

/* The virtio 1.x initialization sequence (3.1.1), taking want & offered.
 * False if FEATURES_OK did not stick. */
static inline bool driver_start(struct harness *h, uint64_t want, uint16_t qsize)
{
	set_status(h, 0);
	CHECK_EQ(status(h), 0);
	set_status(h, VIRTIO_STATUS_ACKNOWLEDGE);
	set_status(h, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	write_features(h, want & device_features(h));
	set_status(h, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	if (!(status(h) & VIRTIO_STATUS_FEATURES_OK))
		return false;
	memset(h->ram.host + DESC, 0, USED + 0x2000 - DESC);
	common_wr(h, VIRTIO_PCI_QUEUE_SELECT, 2, 0);
	common_wr(h, VIRTIO_PCI_QUEUE_SIZE, 2, qsize);
	queue_addresses(h);
	common_wr(h, VIRTIO_PCI_QUEUE_ENABLE, 2, 1);
	set_status(h, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
			      VIRTIO_STATUS_DRIVER_OK);
	h->qsize = qsize;
	h->avail_idx = 0;
	h->next_desc = 0;
	return true;
}

static const uint64_t all_features =
	FEATURE(VIRTIO_F_VERSION_1) | FEATURE(VIRTIO_F_RING_INDIRECT_DESC) |
	FEATURE(VIRTIO_BLK_F_SIZE_MAX) | FEATURE(VIRTIO_BLK_F_SEG_MAX) |
	FEATURE(VIRTIO_BLK_F_BLK_SIZE) | FEATURE(VIRTIO_BLK_F_FLUSH) | FEATURE(VIRTIO_BLK_F_RO) |
	FEATURE(VIRTIO_BLK_F_DISCARD) | FEATURE(VIRTIO_BLK_F_WRITE_ZEROES);

static inline uint16_t next_of(struct harness *h, uint16_t d)
{
	return get16(h, DESC + 16 * d + 14);
}

static inline uint16_t alloc_desc(struct harness *h)
{
	uint16_t d = h->next_desc;
	h->next_desc = (uint16_t)((d + 1) % h->qsize);
	return d;
}

/* Header, data, status: three descriptors linked in the table. */
static inline uint16_t make_req(struct harness *h, unsigned slot, uint32_t type, uint64_t sector,
			 uint64_t data, uint32_t len, bool data_writable)
{
	uint8_t hdr[16] = { 0 };
	memcpy(hdr, &type, 4);
	memcpy(hdr + 8, &sector, 8);
	put(h, HDRS + 16 * slot, hdr, sizeof(hdr));
	h->ram.host[STATUS + slot] = 0xee;
	uint16_t d0 = alloc_desc(h), d1 = len ? alloc_desc(h) : 0, d2 = alloc_desc(h);
	desc_at(h, DESC, d0, HDRS + 16 * slot, 16, VIRTQ_DESC_F_NEXT, len ? d1 : d2);
	if (len)
		desc_at(h, DESC, d1, data, len,
			VIRTQ_DESC_F_NEXT | (data_writable ? VIRTQ_DESC_F_WRITE : 0), d2);
	desc_at(h, DESC, d2, STATUS + slot, 1, VIRTQ_DESC_F_WRITE, 0);
	return d0;
}

static inline void offer(struct harness *h, uint16_t head)
{
	put16(h, AVAIL + 4 + 2 * (h->avail_idx % h->qsize), head);
	h->avail_idx++;
	__atomic_store_n((uint16_t *)(void *)(h->ram.host + AVAIL + 2), h->avail_idx,
			 __ATOMIC_RELEASE);
}

static inline void kick(struct harness *h)
{
	bus_write(&h->bus, BUS_SPACE_MMIO, BAR_ADDR + h->notify + 0 * h->mult, 2, 0);
}

static inline uint16_t used_idx(struct harness *h)
{
	return __atomic_load_n((uint16_t *)(void *)(h->ram.host + USED + 2), __ATOMIC_ACQUIRE);
}

/* What the board does: sleep on the eventfd, poll the device when woken.
 * Gives up after 500 wake-ups in a row with no request returned: a device
 * serving one request per wake-up (direct I/O, slower than the page
 * cache) makes progress on each. */
static inline bool wait_used(struct harness *h, uint16_t want)
{
	uint16_t seen = used_idx(h);
	for (int tries = 0; tries < 500; tries++) {
		virtio_blk_poll(&h->blk);
		if ((uint16_t)(used_idx(h) - want) < 0x8000)
			return true;
		if (used_idx(h) != seen) {
			seen = used_idx(h);
			tries = 0;
		}
		struct pollfd pfd = { .fd = h->efd, .events = POLLIN };
		if (poll(&pfd, 1, 20) > 0) {
			uint64_t count;
			if (read(h->efd, &count, sizeof(count)) < 0)
				perror("eventfd");
		}
	}
	fprintf(stderr, "used idx %u, want %u, status %#x\n", used_idx(h), want, status(h));
	CHECK(!"request completed");
	return false;
}

/* Offers a chain and waits for it to come back. */
static inline void submit_wait(struct harness *h, uint16_t head)
{
	uint16_t want = (uint16_t)(used_idx(h) + 1);
	offer(h, head);
	kick(h);
	wait_used(h, want);
}

/* One request, waited for; returns its status byte. */
static inline uint8_t run(struct harness *h, uint32_t type, uint64_t sector, uint64_t data, uint32_t len,
		   bool data_writable)
{
	uint16_t head = make_req(h, 0, type, sector, data, len, data_writable);
	uint16_t want = (uint16_t)(used_idx(h) + 1);
	offer(h, head);
	kick(h);
	wait_used(h, want);
	CHECK_EQ(get32(h, USED + 4 + 8 * ((want - 1) % h->qsize)), head);
	return h->ram.host[STATUS];
}

static inline uint32_t last_used_len(struct harness *h)
{
	return get32(h, USED + 8 + 8 * ((used_idx(h) - 1) % h->qsize));
}


static inline void build_ranges(struct harness *h, unsigned slot, uint32_t type, const uint64_t *sector,
			 const uint32_t *num, const uint32_t *flags, unsigned n, uint16_t *head)
{
	uint8_t hdr[16] = { 0 };
	memcpy(hdr, &type, 4);
	put(h, HDRS + 16 * slot, hdr, 16);
	for (unsigned i = 0; i < n; i++) {
		put(h, DATA + 16 * i, &sector[i], 8);
		put(h, DATA + 16 * i + 8, &num[i], 4);
		put(h, DATA + 16 * i + 12, &flags[i], 4);
	}
	h->ram.host[STATUS + slot] = 0xee;
	uint16_t d0 = alloc_desc(h), d1 = alloc_desc(h), d2 = alloc_desc(h);
	desc_at(h, DESC, d0, HDRS + 16 * slot, 16, VIRTQ_DESC_F_NEXT, d1);
	desc_at(h, DESC, d1, DATA, 16 * n, VIRTQ_DESC_F_NEXT, d2);
	desc_at(h, DESC, d2, STATUS + slot, 1, VIRTQ_DESC_F_WRITE, 0);
	*head = d0;
}

static inline uint8_t run_ranges(struct harness *h, uint32_t type, const uint64_t *sector,
			  const uint32_t *num, const uint32_t *flags, unsigned n)
{
	uint16_t head;
	uint16_t want = (uint16_t)(used_idx(h) + 1);
	build_ranges(h, 0, type, sector, num, flags, n, &head);
	offer(h, head);
	kick(h);
	wait_used(h, want);
	return h->ram.host[STATUS];
}

#endif
