/* virtio-blk driven the way a driver drives it: PCI configuration cycles
 * through the host bridge (identification, the capability walk, BAR 4),
 * the common configuration in the BAR (reset, negotiation, the queue),
 * requests in a fake guest RAM against a temporary image file, completion
 * through the I/O thread, the notify callback and virtio_blk_poll, and
 * INTx through the PIIX3's PIRQ routing. Then every way a request or a
 * queue can be wrong, the image lock, --snapshot and read-only images. */
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

/* ---- Plumbing: the board's side and the driver's side ------------------- */

static void on_notify(void *opaque)
{
	struct harness *h = opaque;
	uint64_t one = 1;
	if (write(h->efd, &one, sizeof(one)) < 0)
		perror("eventfd");
}

static void on_written(void *opaque, uint64_t gpa, uint64_t len)
{
	struct harness *h = opaque;
	h->written_calls++;
	if (gpa < h->written_lo)
		h->written_lo = gpa;
	if (gpa + len > h->written_hi)
		h->written_hi = gpa + len;
}

static void on_isa_irq(void *opaque, unsigned irq, int level)
{
	struct harness *h = opaque;
	CHECK_EQ(irq, IRQ);
	h->irq_level = level;
	h->irq_changes++;
}

static uint32_t cfg_rd(struct harness *h, unsigned reg, unsigned width)
{
	return pci_host_config_read(&h->pci, 0, DEVFN, reg, width);
}

static void cfg_wr(struct harness *h, unsigned reg, unsigned width, uint32_t value)
{
	pci_host_config_write(&h->pci, 0, DEVFN, reg, width, value);
}

static uint64_t common_rd(struct harness *h, unsigned reg, unsigned width)
{
	return bus_read(&h->bus, BUS_SPACE_MMIO, BAR_ADDR + h->common + reg, width);
}

static void common_wr(struct harness *h, unsigned reg, unsigned width, uint64_t value)
{
	bus_write(&h->bus, BUS_SPACE_MMIO, BAR_ADDR + h->common + reg, width, value);
}

static uint8_t status(struct harness *h)
{
	return (uint8_t)common_rd(h, VIRTIO_PCI_DEVICE_STATUS, 1);
}

static uint8_t read_isr(struct harness *h)
{
	return (uint8_t)bus_read(&h->bus, BUS_SPACE_MMIO, BAR_ADDR + h->isr, 1);
}

static uint64_t dev_cfg(struct harness *h, unsigned off, unsigned width)
{
	return bus_read(&h->bus, BUS_SPACE_MMIO, BAR_ADDR + h->device + off, width);
}

static void put(struct harness *h, uint64_t gpa, const void *src, size_t len)
{
	memcpy(h->ram.host + gpa, src, len);
}

static uint16_t get16(struct harness *h, uint64_t gpa)
{
	uint16_t v;
	memcpy(&v, h->ram.host + gpa, 2);
	return v;
}

static uint32_t get32(struct harness *h, uint64_t gpa)
{
	uint32_t v;
	memcpy(&v, h->ram.host + gpa, 4);
	return v;
}

static void put16(struct harness *h, uint64_t gpa, uint16_t v)
{
	put(h, gpa, &v, 2);
}

static void make_image(struct harness *h, uint64_t bytes)
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

static uint8_t image_byte(uint64_t off)
{
	return (uint8_t)(off / 512 * 7 + off % 512);
}

static void *read_file(const char *path, size_t *len)
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
static void find_caps(struct harness *h)
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

static int setup(struct harness *h, bool readonly, bool snapshot)
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
	int ret = virtio_blk_open(&h->blk, h->path, readonly, snapshot, err, sizeof(err));
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

static void teardown(struct harness *h)
{
	virtio_blk_close(&h->blk);
}

static void set_status(struct harness *h, uint8_t bits)
{
	common_wr(h, VIRTIO_PCI_DEVICE_STATUS, 1, bits);
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

static void queue_addresses(struct harness *h)
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
static bool driver_start(struct harness *h, uint64_t want, uint16_t qsize)
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

static void desc_at(struct harness *h, uint64_t table, unsigned i, uint64_t addr, uint32_t len,
		    uint16_t flags, uint16_t next)
{
	uint8_t *d = h->ram.host + table + 16 * i;
	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static uint16_t next_of(struct harness *h, uint16_t d)
{
	return get16(h, DESC + 16 * d + 14);
}

static uint16_t alloc_desc(struct harness *h)
{
	uint16_t d = h->next_desc;
	h->next_desc = (uint16_t)((d + 1) % h->qsize);
	return d;
}

/* Header, data, status: three descriptors linked in the table. */
static uint16_t make_req(struct harness *h, unsigned slot, uint32_t type, uint64_t sector,
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

static void offer(struct harness *h, uint16_t head)
{
	put16(h, AVAIL + 4 + 2 * (h->avail_idx % h->qsize), head);
	h->avail_idx++;
	__atomic_store_n((uint16_t *)(void *)(h->ram.host + AVAIL + 2), h->avail_idx,
			 __ATOMIC_RELEASE);
}

static void kick(struct harness *h)
{
	bus_write(&h->bus, BUS_SPACE_MMIO, BAR_ADDR + h->notify + 0 * h->mult, 2, 0);
}

static uint16_t used_idx(struct harness *h)
{
	return __atomic_load_n((uint16_t *)(void *)(h->ram.host + USED + 2), __ATOMIC_ACQUIRE);
}

/* What the board does: sleep on the eventfd, poll the device when woken.
 * Gives up after 500 wake-ups in a row with no request returned: a device
 * serving one request per wake-up (direct I/O, slower than the page
 * cache) makes progress on each. */
static bool wait_used(struct harness *h, uint16_t want)
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
static void submit_wait(struct harness *h, uint16_t head)
{
	uint16_t want = (uint16_t)(used_idx(h) + 1);
	offer(h, head);
	kick(h);
	wait_used(h, want);
}

/* One request, waited for; returns its status byte. */
static uint8_t run(struct harness *h, uint32_t type, uint64_t sector, uint64_t data, uint32_t len,
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

static uint32_t last_used_len(struct harness *h)
{
	return get32(h, USED + 8 + 8 * ((used_idx(h) - 1) % h->qsize));
}

/* ---- The tests ----------------------------------------------------------- */

static void test_identity(struct harness *h)
{
	CHECK_EQ(setup(h, false, false), 0);
	CHECK_EQ(cfg_rd(h, 0x00, 4), 0x10421af4);
	CHECK_EQ(cfg_rd(h, 0x08, 4), 0x01000001);	/* class 010000, revision 1 */
	CHECK_EQ(cfg_rd(h, 0x2c, 4), 0x00021af4);
	CHECK_EQ(cfg_rd(h, PCI_REG_INTERRUPT_PIN, 1), PCI_PIN_INTA);
	/* BAR 4 sizes as 16 KiB of 32-bit memory; the others are absent. */
	cfg_wr(h, 0x20, 4, 0xffffffff);
	CHECK_EQ(cfg_rd(h, 0x20, 4), 0xffffc000);
	cfg_wr(h, 0x20, 4, BAR_ADDR);
	for (unsigned bar = 0; bar < 6; bar++)
		if (bar != 4)
			CHECK_EQ(cfg_rd(h, 0x10 + 4 * bar, 4), 0);
	CHECK_EQ(h->common, VIRTIO_PCI_COMMON_OFFSET);
	CHECK_EQ(h->isr, VIRTIO_PCI_ISR_OFFSET);
	CHECK_EQ(h->device, VIRTIO_PCI_DEVICE_OFFSET);
	CHECK_EQ(h->notify, VIRTIO_PCI_NOTIFY_OFFSET);
	CHECK_EQ(h->mult, 4);
	CHECK_EQ(common_rd(h, VIRTIO_PCI_NUM_QUEUES, 2), 1);
	CHECK_EQ(common_rd(h, VIRTIO_PCI_QUEUE_SIZE, 2), VIRTIO_BLK_QUEUE_SIZE);
	CHECK_EQ(common_rd(h, VIRTIO_PCI_QUEUE_NOTIFY_OFF, 2), 0);
	common_wr(h, VIRTIO_PCI_QUEUE_SELECT, 2, 1);
	CHECK_EQ(common_rd(h, VIRTIO_PCI_QUEUE_SIZE, 2), 0);	/* no queue 1 */
	common_wr(h, VIRTIO_PCI_QUEUE_SELECT, 2, 0);
	/* No MSI-X: the vectors read NO_VECTOR whatever is written. */
	common_wr(h, VIRTIO_PCI_CONFIG_MSIX_VECTOR, 2, 0);
	common_wr(h, VIRTIO_PCI_QUEUE_MSIX_VECTOR, 2, 1);
	CHECK_EQ(common_rd(h, VIRTIO_PCI_CONFIG_MSIX_VECTOR, 2), VIRTIO_MSI_NO_VECTOR);
	CHECK_EQ(common_rd(h, VIRTIO_PCI_QUEUE_MSIX_VECTOR, 2), VIRTIO_MSI_NO_VECTOR);

	/* The configuration. */
	CHECK_EQ(dev_cfg(h, VIRTIO_BLK_CFG_CAPACITY, 4), IMAGE_SECTORS);
	CHECK_EQ(dev_cfg(h, VIRTIO_BLK_CFG_CAPACITY + 4, 4), 0);
	CHECK_EQ(dev_cfg(h, VIRTIO_BLK_CFG_SIZE_MAX, 4), VIRTIO_BLK_SIZE_MAX);
	CHECK_EQ(dev_cfg(h, VIRTIO_BLK_CFG_SEG_MAX, 4), VIRTIO_BLK_SEG_MAX);
	CHECK_EQ(dev_cfg(h, VIRTIO_BLK_CFG_BLK_SIZE, 4), 512);
	CHECK_EQ(dev_cfg(h, VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS, 4), VIRTIO_BLK_MAX_DISCARD_SECTORS);
	CHECK_EQ(dev_cfg(h, VIRTIO_BLK_CFG_MAX_DISCARD_SEG, 4), VIRTIO_BLK_MAX_DISCARD_SEG);
	CHECK_EQ(dev_cfg(h, VIRTIO_BLK_CFG_DISCARD_ALIGNMENT, 4), 1);
	CHECK_EQ(dev_cfg(h, VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SECTORS, 4),
		 VIRTIO_BLK_MAX_DISCARD_SECTORS);
	CHECK_EQ(dev_cfg(h, VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SEG, 4), VIRTIO_BLK_MAX_DISCARD_SEG);
	CHECK_EQ(dev_cfg(h, VIRTIO_BLK_CFG_WRITE_ZEROES_MAY_UNMAP, 1), 1);
	CHECK_EQ(dev_cfg(h, VIRTIO_BLK_CONFIG_SIZE, 4), 0);	/* past the end */
	CHECK_EQ(common_rd(h, VIRTIO_PCI_CONFIG_GENERATION, 1), 0);
	/* Read-only: writes do nothing. */
	bus_write(&h->bus, BUS_SPACE_MMIO, BAR_ADDR + h->device, 4, 0);
	CHECK_EQ(dev_cfg(h, VIRTIO_BLK_CFG_CAPACITY, 4), IMAGE_SECTORS);
	teardown(h);
}

static void test_negotiation(struct harness *h)
{
	CHECK_EQ(setup(h, false, false), 0);
	uint64_t f = device_features(h);
	CHECK_EQ(f, FEATURE(VIRTIO_F_VERSION_1) | FEATURE(VIRTIO_F_RING_INDIRECT_DESC) |
			    FEATURE(VIRTIO_F_RING_EVENT_IDX) | FEATURE(VIRTIO_BLK_F_SIZE_MAX) |
			    FEATURE(VIRTIO_BLK_F_SEG_MAX) | FEATURE(VIRTIO_BLK_F_BLK_SIZE) |
			    FEATURE(VIRTIO_BLK_F_FLUSH) | FEATURE(VIRTIO_BLK_F_DISCARD) |
			    FEATURE(VIRTIO_BLK_F_WRITE_ZEROES));
	common_wr(h, VIRTIO_PCI_DEVICE_FEATURE_SELECT, 4, 2);
	CHECK_EQ(common_rd(h, VIRTIO_PCI_DEVICE_FEATURE, 4), 0);

	/* A legacy driver (no VERSION_1) is refused. */
	set_status(h, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	write_features(h, FEATURE(VIRTIO_BLK_F_FLUSH));
	set_status(h, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	CHECK_EQ(status(h), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	/* So is a feature not offered (RO on a writable disk). */
	write_features(h, FEATURE(VIRTIO_F_VERSION_1) | FEATURE(VIRTIO_BLK_F_RO));
	set_status(h, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	CHECK(!(status(h) & VIRTIO_STATUS_FEATURES_OK));
	CHECK_EQ(h->blk.vp.stats.feature_refusals, 2);
	/* A good set sticks and is then fixed. */
	write_features(h, FEATURE(VIRTIO_F_VERSION_1) | FEATURE(VIRTIO_BLK_F_FLUSH));
	set_status(h, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	CHECK(status(h) & VIRTIO_STATUS_FEATURES_OK);
	write_features(h, FEATURE(VIRTIO_F_VERSION_1));
	common_wr(h, VIRTIO_PCI_DRIVER_FEATURE_SELECT, 4, 0);
	CHECK_EQ(common_rd(h, VIRTIO_PCI_DRIVER_FEATURE, 4), FEATURE(VIRTIO_BLK_F_FLUSH));
	CHECK(virtio_pci_negotiated(&h->blk.vp, VIRTIO_BLK_F_FLUSH));
	/* The driver cannot set NEEDS_RESET. */
	set_status(h, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
			      VIRTIO_STATUS_NEEDS_RESET);
	CHECK(!(status(h) & VIRTIO_STATUS_NEEDS_RESET));

	/* Queue registers: narrow and wide accesses land in the right
	 * fields, and a live queue's layout is fixed. */
	common_wr(h, VIRTIO_PCI_QUEUE_SIZE, 2, 64);
	common_wr(h, VIRTIO_PCI_QUEUE_DESC, 4, 0x12345670);
	common_wr(h, VIRTIO_PCI_QUEUE_DESC + 4, 1, 0x01);
	CHECK_EQ(h->blk.vq.desc_addr, 0x112345670ull);
	common_wr(h, VIRTIO_PCI_QUEUE_DESC + 1, 1, 0xab);
	CHECK_EQ(common_rd(h, VIRTIO_PCI_QUEUE_DESC, 4), 0x1234ab70);
	CHECK_EQ(common_rd(h, VIRTIO_PCI_QUEUE_SIZE, 2), 64);
	queue_addresses(h);
	common_wr(h, VIRTIO_PCI_QUEUE_ENABLE, 2, 1);
	CHECK_EQ(common_rd(h, VIRTIO_PCI_QUEUE_ENABLE, 2), 1);
	common_wr(h, VIRTIO_PCI_QUEUE_SIZE, 2, 32);
	common_wr(h, VIRTIO_PCI_QUEUE_DESC, 4, 0);
	common_wr(h, VIRTIO_PCI_QUEUE_ENABLE, 2, 0);
	CHECK_EQ(common_rd(h, VIRTIO_PCI_QUEUE_SIZE, 2), 64);
	CHECK_EQ(common_rd(h, VIRTIO_PCI_QUEUE_DESC, 4), DESC);
	CHECK_EQ(common_rd(h, VIRTIO_PCI_QUEUE_ENABLE, 2), 1);

	/* Reset: status, features and the queue start over. */
	set_status(h, 0);
	CHECK_EQ(status(h), 0);
	CHECK_EQ(common_rd(h, VIRTIO_PCI_QUEUE_ENABLE, 2), 0);
	CHECK_EQ(common_rd(h, VIRTIO_PCI_QUEUE_SIZE, 2), VIRTIO_BLK_QUEUE_SIZE);
	CHECK_EQ(common_rd(h, VIRTIO_PCI_QUEUE_DESC, 4), 0);
	common_wr(h, VIRTIO_PCI_DRIVER_FEATURE_SELECT, 4, 0);
	CHECK_EQ(common_rd(h, VIRTIO_PCI_DRIVER_FEATURE, 4), 0);
	CHECK(driver_start(h, all_features, 256));
	teardown(h);
}

static void test_read_write(struct harness *h)
{
	CHECK_EQ(setup(h, false, false), 0);
	CHECK(driver_start(h, all_features, 256));
	CHECK_EQ(h->irq_level, 0);

	/* Read 8 sectors from sector 5. */
	CHECK_EQ(run(h, VIRTIO_BLK_T_IN, 5, DATA, 4096, true), VIRTIO_BLK_S_OK);
	CHECK_EQ(last_used_len(h), 4097);
	bool same = true;
	for (unsigned i = 0; i < 4096; i++)
		same &= h->ram.host[DATA + i] == image_byte(5 * 512 + i);
	CHECK(same);
	/* INTx through PIRQD to IRQ 11; reading the ISR acknowledges. */
	CHECK_EQ(h->irq_level, 1);
	CHECK(cfg_rd(h, PCI_REG_STATUS, 2) & PCI_STATUS_INTERRUPT);
	CHECK_EQ(read_isr(h), VIRTIO_ISR_QUEUE);
	CHECK_EQ(h->irq_level, 0);
	CHECK_EQ(read_isr(h), 0);
	/* The board heard of every byte the device wrote. */
	CHECK(h->written_lo <= DATA && h->written_hi >= DATA + 4096);
	CHECK(h->written_lo <= USED);
	CHECK(h->written_calls >= 3);

	/* Write 3 sectors at 100, then read them back elsewhere. */
	for (unsigned i = 0; i < 1536; i++)
		h->ram.host[DATA + 0x10000 + i] = (uint8_t)(i * 13 + 1);
	CHECK_EQ(run(h, VIRTIO_BLK_T_OUT, 100, DATA + 0x10000, 1536, false), VIRTIO_BLK_S_OK);
	CHECK_EQ(last_used_len(h), 1);
	int fd = open(h->path, O_RDONLY);
	uint8_t buf[1536];
	CHECK_EQ(pread(fd, buf, sizeof(buf), 100 * 512), 1536);
	close(fd);
	CHECK(memcmp(buf, h->ram.host + DATA + 0x10000, sizeof(buf)) == 0);
	CHECK_EQ(run(h, VIRTIO_BLK_T_IN, 100, DATA + 0x20000, 1536, true), VIRTIO_BLK_S_OK);
	CHECK(memcmp(h->ram.host + DATA + 0x20000, buf, sizeof(buf)) == 0);
	/* The last sector. */
	CHECK_EQ(run(h, VIRTIO_BLK_T_IN, IMAGE_SECTORS - 1, DATA, 512, true), VIRTIO_BLK_S_OK);
	CHECK_EQ(h->ram.host[DATA + 511], image_byte((IMAGE_SECTORS - 1) * 512 + 511));

	/* FLUSH and GET_ID. */
	CHECK_EQ(run(h, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false), VIRTIO_BLK_S_OK);
	virtio_blk_set_serial(&h->blk, "btvm-test-disk");
	memset(h->ram.host + IDBUF, 0xaa, 32);
	CHECK_EQ(run(h, VIRTIO_BLK_T_GET_ID, 0, IDBUF, 20, true), VIRTIO_BLK_S_OK);
	CHECK(memcmp(h->ram.host + IDBUF, "btvm-test-disk\0\0\0\0\0\0", 20) == 0);
	CHECK_EQ(h->ram.host[IDBUF + 20], 0xaa);
	CHECK_EQ(last_used_len(h), 21);
	virtio_blk_set_serial(&h->blk, "0123456789abcdefghijKLMN");
	CHECK_EQ(run(h, VIRTIO_BLK_T_GET_ID, 0, IDBUF, 20, true), VIRTIO_BLK_S_OK);
	CHECK(memcmp(h->ram.host + IDBUF, "0123456789abcdefghij", 20) == 0);

	/* An unknown type. */
	CHECK_EQ(run(h, 99, 0, DATA, 512, true), VIRTIO_BLK_S_UNSUPP);
	CHECK_EQ(run(h, 2, 0, 0, 0, false), VIRTIO_BLK_S_UNSUPP);

	struct virtio_blk_stats s = virtio_blk_get_stats(&h->blk);
	CHECK_EQ(s.reads, 3);
	CHECK_EQ(s.writes, 1);
	CHECK_EQ(s.flushes, 1);
	CHECK_EQ(s.get_ids, 2);
	CHECK_EQ(s.unsupported, 2);
	CHECK_EQ(s.bytes_read, 4096 + 1536 + 512);
	CHECK_EQ(s.bytes_written, 1536);
	CHECK_EQ(s.io_errors, 0);
	CHECK(!virtio_blk_busy(&h->blk));
	teardown(h);
}

/* Whether an I/O thread spins for the next request (or, with want false,
 * none does) now; waits up to 60 s for it (a hang detector: on a loaded
 * host the thread may wait long for a CPU). */
static bool wait_polling_is(struct harness *h, bool want)
{
	for (int i = 0; i < 60000; i++) {
		pthread_mutex_lock(&h->blk.lock);
		bool polling = h->blk.polling;
		pthread_mutex_unlock(&h->blk.lock);
		if (polling == want)
			return true;
		usleep(1000);
	}
	return false;
}

static bool wait_polling(struct harness *h)
{
	return wait_polling_is(h, true);
}

/* Reads sector while a thread spins, until the spinner takes a request:
 * a thread woken for the first request that found it taken (by one still
 * starting up) goes back to wait, but on a loaded machine it may get its
 * CPU late, however long we wait, and take the next request instead of
 * the spinner (which may then find nothing and stop spinning; the thread
 * that served the request spins next). No request wakes a thread while
 * one spins, so only such a leftover can: one of a few requests, each
 * made while a thread spins, must be the spinner's. */
static void run_spun(struct harness *h, uint64_t sector)
{
	uint64_t polled = virtio_blk_get_stats(&h->blk).polled;
	unsigned tries = 0;
	do {
		CHECK(wait_polling(h));
		CHECK_EQ(run(h, VIRTIO_BLK_T_IN, sector, DATA, 4096, true), VIRTIO_BLK_S_OK);
		CHECK(h->ram.host[DATA + 7] == image_byte(sector * 512 + 7));
	} while (virtio_blk_get_stats(&h->blk).polled == polled && ++tries < 8);
}

/* After serving a request an I/O thread spins for the next one, which it
 * then takes with no wake-up; with no spinning, the next request still
 * wakes a thread. */
static void test_poll(struct harness *h)
{
	CHECK_EQ(setup(h, false, false), 0);
	CHECK(driver_start(h, all_features, 256));
	cpu_set_t cpus;
	CHECK_EQ(sched_getaffinity(0, sizeof(cpus), &cpus), 0);
	CHECK_EQ(h->blk.poll_ns, CPU_COUNT(&cpus) > 1 ? VIRTIO_BLK_POLL_NS : 0u);
	virtio_blk_set_poll_ns(&h->blk, 10ull * 1000000000u);   /* longer than the test */
	CHECK_EQ(run(h, VIRTIO_BLK_T_IN, 5, DATA, 4096, true), VIRTIO_BLK_S_OK);
	CHECK_EQ(virtio_blk_get_stats(&h->blk).polled, 0);
	run_spun(h, 6);
	CHECK_EQ(virtio_blk_get_stats(&h->blk).polled, 1);
	/* With spinning turned off, one that spins already (10 s) still
	 * takes the next request, then none spins. A leftover thread as in
	 * run_spun's may take it instead, and the spinner stop: then a
	 * request with spinning on again has its server spin, and again. */
	CHECK(wait_polling(h));
	virtio_blk_set_poll_ns(&h->blk, 0);
	bool spun = false;
	for (unsigned tries = 0; !spun && tries < 8; tries++) {
		if (tries) {
			virtio_blk_set_poll_ns(&h->blk, 10ull * 1000000000u);
			pthread_mutex_lock(&h->blk.lock);
			bool polling = h->blk.polling;
			pthread_mutex_unlock(&h->blk.lock);
			if (!polling)
				CHECK_EQ(run(h, VIRTIO_BLK_T_IN, 7, DATA, 4096, true), VIRTIO_BLK_S_OK);
			CHECK(wait_polling(h));
			virtio_blk_set_poll_ns(&h->blk, 0);
		}
		uint64_t polled = virtio_blk_get_stats(&h->blk).polled;
		CHECK_EQ(run(h, VIRTIO_BLK_T_IN, 7, DATA, 4096, true), VIRTIO_BLK_S_OK);
		spun = virtio_blk_get_stats(&h->blk).polled == polled + 1;
	}
	CHECK(spun);
	CHECK(h->ram.host[DATA + 7] == image_byte(7 * 512 + 7));
	uint64_t polled = virtio_blk_get_stats(&h->blk).polled;
	for (uint64_t sector = 8; sector < 12; sector++) {   /* woken */
		CHECK_EQ(run(h, VIRTIO_BLK_T_IN, sector, DATA, 4096, true), VIRTIO_BLK_S_OK);
		CHECK(h->ram.host[DATA + 9] == image_byte(sector * 512 + 9));
	}
	CHECK_EQ(virtio_blk_get_stats(&h->blk).polled, polled);
	pthread_mutex_lock(&h->blk.lock);
	CHECK(!h->blk.polling);
	pthread_mutex_unlock(&h->blk.lock);
	teardown(h);   /* ends no spin: none left */
}

/* Waits up to 60 s (a hang detector) for the n-th spin to be over. */
static bool wait_spins_ended(struct harness *h, uint64_t n)
{
	for (int i = 0; i < 60000; i++) {
		pthread_mutex_lock(&h->blk.lock);
		uint64_t ended = h->blk.spins_ended;
		pthread_mutex_unlock(&h->blk.lock);
		if (ended >= n)
			return true;
		usleep(1000);
	}
	return false;
}

static uint64_t poll_window(struct harness *h)
{
	pthread_mutex_lock(&h->blk.lock);
	uint64_t w = h->blk.poll_window;
	pthread_mutex_unlock(&h->blk.lock);
	return w;
}

/* The spin's window halves with each request that comes later than the
 * longest spin after the last completion, to none; one that comes soon
 * after a completion brings the whole window back. */
static void test_poll_adapts(struct harness *h)
{
	const uint64_t max = 10000000;	/* 10 ms */
	uint64_t want = max;

	CHECK_EQ(setup(h, false, false), 0);
	CHECK(driver_start(h, all_features, 256));
	virtio_blk_set_poll_ns(&h->blk, max);
	CHECK_EQ(run(h, VIRTIO_BLK_T_IN, 5, DATA, 4096, true), VIRTIO_BLK_S_OK);
	CHECK_EQ(poll_window(h), max);   /* the first request: nothing to go by */
	unsigned halvings = 0;
	while (want) {
		/* The spin after the last request over (however late a
		 * loaded host lets its thread start it: a request queued
		 * before would find it spinning and adapt nothing), and the
		 * gap longer than max. */
		CHECK(wait_spins_ended(h, halvings + 1));   /* none before setup */
		usleep(20000);
		CHECK(wait_polling_is(h, false));
		CHECK_EQ(run(h, VIRTIO_BLK_T_IN, 6 + halvings, DATA, 4096, true), VIRTIO_BLK_S_OK);
		want = want / 2 >= VIRTIO_BLK_POLL_MIN_NS ? want / 2 : 0;
		CHECK_EQ(poll_window(h), want);
		halvings++;
		CHECK(halvings < 20);
	}
	CHECK_EQ(halvings, 10);	/* 10 ms / 2^10 = 9.8 us, below the minimum: none */
	pthread_mutex_lock(&h->blk.lock);
	CHECK(!h->blk.polling);
	pthread_mutex_unlock(&h->blk.lock);
	/* A request soon after the last completion brings the whole window
	 * back, and the thread that serves it spins again afterwards. "Soon"
	 * here is within 10 s, however loaded the machine. */
	virtio_blk_set_poll_ns(&h->blk, 10ull * 1000000000u);
	pthread_mutex_lock(&h->blk.lock);
	h->blk.poll_window = 0;
	pthread_mutex_unlock(&h->blk.lock);
	CHECK_EQ(run(h, VIRTIO_BLK_T_IN, 40, DATA, 4096, true), VIRTIO_BLK_S_OK);
	CHECK_EQ(poll_window(h), 10ull * 1000000000u);
	CHECK(wait_polling(h));
	CHECK(h->ram.host[DATA + 3] == image_byte(40 * 512 + 3));
	teardown(h);   /* ends the spin */
}

/* A transfer longer than the bounce buffer, from pieces of guest RAM at
 * any sector alignment: written and read back whole, through the bounce
 * buffer (a buffer at a time) where the image takes O_DIRECT. */
static void test_bounce(struct harness *h)
{
	const uint32_t len[3] = { 0x100000, 0x100000, 0x80000 };
	const uint64_t at[3] = { DATA, DATA + 0x100000 + 0x200, DATA + 0x200000 + 0x400 };
	const uint32_t total = len[0] + len[1] + len[2];
	const uint64_t sector = 64;
	char small[sizeof(h->path)];

	CHECK(total > VIRTIO_BLK_BOUNCE_BYTES);
	memcpy(small, h->path, sizeof(small));
	make_image(h, sector * 512 + total + 4096);
	CHECK_EQ(setup(h, false, false), 0);
	CHECK(driver_start(h, all_features, 256));
	for (unsigned type = 0; type < 2; type++) {
		bool in = type == 1;
		uint8_t hdr[16] = { 0 };
		uint32_t t = in ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT;
		memcpy(hdr, &t, 4);
		memcpy(hdr + 8, &sector, 8);
		put(h, HDRS, hdr, 16);
		uint16_t d[5];
		for (unsigned i = 0; i < 5; i++)
			d[i] = alloc_desc(h);
		desc_at(h, DESC, d[0], HDRS, 16, VIRTQ_DESC_F_NEXT, d[1]);
		for (unsigned i = 0; i < 3; i++) {
			for (uint32_t j = 0; j < len[i]; j++)   /* the written pattern, or junk */
				h->ram.host[at[i] + j] = in ? 0xee : (uint8_t)(i * 131 + j * 7 + j / 4096);
			desc_at(h, DESC, d[1 + i], at[i], len[i],
				VIRTQ_DESC_F_NEXT | (in ? VIRTQ_DESC_F_WRITE : 0), d[2 + i]);
		}
		desc_at(h, DESC, d[4], STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
		h->ram.host[STATUS] = 0xee;
		submit_wait(h, d[0]);
		CHECK_EQ(h->ram.host[STATUS], VIRTIO_BLK_S_OK);
		bool same = true;
		for (unsigned i = 0; i < 3; i++)
			for (uint32_t j = 0; j < len[i]; j++)
				same &= h->ram.host[at[i] + j] == (uint8_t)(i * 131 + j * 7 + j / 4096);
		CHECK(same);
	}
	/* The file holds the pieces in order, and its neighbours are untouched. */
	size_t flen;
	uint8_t *file = read_file(h->path, &flen);
	CHECK_EQ(flen, sector * 512 + total + 4096);
	CHECK(memcmp(file + sector * 512, h->ram.host + at[0], len[0]) == 0);
	CHECK(memcmp(file + sector * 512 + len[0], h->ram.host + at[1], len[1]) == 0);
	CHECK(memcmp(file + sector * 512 + len[0] + len[1], h->ram.host + at[2], len[2]) == 0);
	CHECK_EQ(file[sector * 512 - 1], image_byte(sector * 512 - 1));
	CHECK_EQ(file[sector * 512 + total], image_byte(sector * 512 + total));
	free(file);
	/* Where the filesystem refuses O_DIRECT, the page cache serves both. */
	struct virtio_blk_stats s = virtio_blk_get_stats(&h->blk);
	CHECK_EQ(s.bounced, h->blk.disk.direct_fd >= 0 ? 2u : 0u);
	CHECK_EQ(s.bytes_written, total);
	CHECK_EQ(s.bytes_read, total);
	if (h->blk.disk.direct_fd < 0)
		printf("test_bounce: %s takes no O_DIRECT; checked the page-cache path\n", h->path);
	teardown(h);
	unlink(h->path);
	memcpy(h->path, small, sizeof(small));
}

/* Many requests in one notify, served in order by the I/O thread and all
 * returned; and one through an indirect table. */
static void test_batch_and_indirect(struct harness *h)
{
	CHECK_EQ(setup(h, false, false), 0);
	CHECK(driver_start(h, all_features, 128));
	const unsigned n = 40;	/* 120 descriptors of 128 */
	for (unsigned i = 0; i < n; i++)
		offer(h, make_req(h, i, VIRTIO_BLK_T_IN, 200 + 10 * i, DATA + 0x1000 * i, 1024,
				  true));
	kick(h);
	wait_used(h, (uint16_t)n);
	bool ok = true;
	for (unsigned i = 0; i < n; i++) {
		ok &= h->ram.host[STATUS + i] == VIRTIO_BLK_S_OK;
		for (unsigned j = 0; j < 1024; j++)
			ok &= h->ram.host[DATA + 0x1000 * i + j] ==
			      image_byte((200 + 10 * i) * 512 + j);
	}
	CHECK(ok);
	CHECK_EQ(used_idx(h), n);

	/* Indirect: header, the data in two pieces, status. */
	uint8_t hdr[16] = { 0 };
	uint64_t sector = 33;
	memcpy(hdr + 8, &sector, 8);
	put(h, HDRS, hdr, 16);
	desc_at(h, TABLES, 0, HDRS, 16, VIRTQ_DESC_F_NEXT, 1);
	desc_at(h, TABLES, 1, DATA + 0x80000, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	desc_at(h, TABLES, 2, DATA + 0x90000, 1024, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 3);
	desc_at(h, TABLES, 3, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	uint16_t head = alloc_desc(h);
	desc_at(h, DESC, head, TABLES, 4 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	h->ram.host[STATUS] = 0xee;
	offer(h, head);
	kick(h);
	wait_used(h, (uint16_t)(n + 1));
	CHECK_EQ(h->ram.host[STATUS], VIRTIO_BLK_S_OK);
	CHECK_EQ(h->ram.host[DATA + 0x80000], image_byte(33 * 512));
	CHECK_EQ(h->ram.host[DATA + 0x90000 + 1023], image_byte(35 * 512 + 511));
	CHECK_EQ(last_used_len(h), 1537);
	teardown(h);
}

/* A driver re-posting one chain before getting it back, more often than
 * the device has requests (256 taken, 256 more offered at once): the
 * device waits for requests to return instead of failing, and serves
 * every entry. */
static void test_reposted_chain(struct harness *h)
{
	CHECK_EQ(setup(h, false, false), 0);
	CHECK(driver_start(h, all_features, 256));
	uint16_t head = make_req(h, 0, VIRTIO_BLK_T_IN, 0, DATA, 512, true);
	for (unsigned round = 0; round < 2; round++) {
		for (unsigned i = 0; i < 256; i++)
			offer(h, head);
		kick(h);
	}
	CHECK(h->blk.starved);
	wait_used(h, 2 * 256);
	CHECK_EQ(used_idx(h), 2 * 256);
	CHECK_EQ(h->ram.host[STATUS], VIRTIO_BLK_S_OK);
	CHECK_EQ(status(h) & VIRTIO_STATUS_NEEDS_RESET, 0);
	CHECK_EQ(virtio_blk_get_stats(&h->blk).reads, 2 * 256);
	teardown(h);
}

static void build_ranges(struct harness *h, unsigned slot, uint32_t type, const uint64_t *sector,
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

static uint8_t run_ranges(struct harness *h, uint32_t type, const uint64_t *sector,
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

static bool file_zero(const char *path, uint64_t off, uint64_t len)
{
	int fd = open(path, O_RDONLY);
	uint8_t buf[512];
	bool zero = true;
	for (uint64_t at = off; at < off + len; at += sizeof(buf)) {
		CHECK_EQ(pread(fd, buf, sizeof(buf), (off_t)at), 512);
		for (unsigned i = 0; i < sizeof(buf); i++)
			zero &= buf[i] == 0;
	}
	close(fd);
	return zero;
}

static void test_discard_write_zeroes(struct harness *h)
{
	struct stat before, after;

	CHECK_EQ(setup(h, false, false), 0);
	CHECK(driver_start(h, all_features, 256));
	uint64_t sec[33];
	uint32_t num[33], flags[33] = { 0 };

	/* WRITE_ZEROES with unmap over 256 KiB: zeros, a hole, same size. */
	fsync(h->blk.disk.fd);
	CHECK_EQ(stat(h->path, &before), 0);
	sec[0] = 512;
	num[0] = 512;
	flags[0] = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
	CHECK_EQ(run_ranges(h, VIRTIO_BLK_T_WRITE_ZEROES, sec, num, flags, 1), VIRTIO_BLK_S_OK);
	CHECK(file_zero(h->path, 512 * 512, 512 * 512));
	CHECK_EQ(stat(h->path, &after), 0);
	CHECK_EQ(after.st_size, before.st_size);
	CHECK(after.st_blocks < before.st_blocks);
	/* Without unmap, two ranges. */
	sec[0] = 10;
	num[0] = 2;
	sec[1] = 40;
	num[1] = 1;
	flags[0] = flags[1] = 0;
	CHECK_EQ(run_ranges(h, VIRTIO_BLK_T_WRITE_ZEROES, sec, num, flags, 2), VIRTIO_BLK_S_OK);
	CHECK(file_zero(h->path, 10 * 512, 1024));
	CHECK(file_zero(h->path, 40 * 512, 512));
	CHECK(!file_zero(h->path, 12 * 512, 512));
	/* DISCARD: done, the size kept. */
	sec[0] = 1024;
	num[0] = 256;
	CHECK_EQ(run_ranges(h, VIRTIO_BLK_T_DISCARD, sec, num, flags, 1), VIRTIO_BLK_S_OK);
	CHECK_EQ(stat(h->path, &after), 0);
	CHECK_EQ(after.st_size, before.st_size);

	/* Bad ranges. */
	flags[0] = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;	/* unmap on a discard */
	CHECK_EQ(run_ranges(h, VIRTIO_BLK_T_DISCARD, sec, num, flags, 1), VIRTIO_BLK_S_UNSUPP);
	flags[0] = 4;	/* a reserved flag */
	CHECK_EQ(run_ranges(h, VIRTIO_BLK_T_WRITE_ZEROES, sec, num, flags, 1), VIRTIO_BLK_S_UNSUPP);
	flags[0] = 0;
	uint64_t io_errors = virtio_blk_get_stats(&h->blk).bad_requests;
	sec[0] = IMAGE_SECTORS - 1;	/* past the end */
	num[0] = 2;
	CHECK_EQ(run_ranges(h, VIRTIO_BLK_T_WRITE_ZEROES, sec, num, flags, 1), VIRTIO_BLK_S_IOERR);
	sec[0] = UINT64_MAX;	/* no wrap-around */
	num[0] = 2;
	CHECK_EQ(run_ranges(h, VIRTIO_BLK_T_DISCARD, sec, num, flags, 1), VIRTIO_BLK_S_IOERR);
	sec[0] = 0;
	num[0] = VIRTIO_BLK_MAX_DISCARD_SECTORS + 1;
	CHECK_EQ(run_ranges(h, VIRTIO_BLK_T_DISCARD, sec, num, flags, 1), VIRTIO_BLK_S_IOERR);
	for (unsigned i = 0; i < 33; i++) {
		sec[i] = 1500 + i;
		num[i] = 1;
		flags[i] = 0;
	}
	CHECK_EQ(run_ranges(h, VIRTIO_BLK_T_DISCARD, sec, num, flags, 33), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(run_ranges(h, VIRTIO_BLK_T_DISCARD, sec, num, flags, 32), VIRTIO_BLK_S_OK);
	/* A payload that is not whole ranges. */
	uint16_t head;
	build_ranges(h, 0, VIRTIO_BLK_T_DISCARD, sec, num, flags, 1, &head);
	uint16_t d1 = next_of(h, head);
	desc_at(h, DESC, d1, DATA, 17, VIRTQ_DESC_F_NEXT, next_of(h, d1));
	submit_wait(h, head);
	CHECK_EQ(h->ram.host[STATUS], VIRTIO_BLK_S_IOERR);
	CHECK_EQ(virtio_blk_get_stats(&h->blk).bad_requests, io_errors + 5);

	/* Not negotiated: unsupported. */
	CHECK(driver_start(h, all_features & ~(FEATURE(VIRTIO_BLK_F_DISCARD) |
					       FEATURE(VIRTIO_BLK_F_WRITE_ZEROES)), 256));
	CHECK_EQ(run_ranges(h, VIRTIO_BLK_T_DISCARD, sec, num, flags, 1), VIRTIO_BLK_S_UNSUPP);
	CHECK_EQ(run_ranges(h, VIRTIO_BLK_T_WRITE_ZEROES, sec, num, flags, 1), VIRTIO_BLK_S_UNSUPP);
	teardown(h);
}

/* Requests that are wrong but leave the queue usable: IOERR, counted. */
static void test_bad_requests(struct harness *h)
{
	CHECK_EQ(setup(h, false, false), 0);
	CHECK(driver_start(h, all_features, 256));
	size_t len0;
	uint8_t *image0 = read_file(h->path, &len0);

	CHECK_EQ(run(h, VIRTIO_BLK_T_IN, IMAGE_SECTORS - 1, DATA, 1024, true), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(run(h, VIRTIO_BLK_T_OUT, IMAGE_SECTORS, DATA, 512, false), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(run(h, VIRTIO_BLK_T_IN, UINT64_MAX, DATA, 512, true), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(run(h, VIRTIO_BLK_T_IN, UINT64_MAX / 512, DATA, 512, true), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(run(h, VIRTIO_BLK_T_IN, 0, DATA, 100, true), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(run(h, VIRTIO_BLK_T_OUT, 0, DATA, 513, false), VIRTIO_BLK_S_IOERR);
	/* One segment longer than SIZE_MAX. */
	CHECK_EQ(run(h, VIRTIO_BLK_T_IN, 0, DATA, VIRTIO_BLK_SIZE_MAX + 512, true),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(virtio_blk_get_stats(&h->blk).bad_requests, 7);

	/* More data segments than SEG_MAX, through an indirect table. */
	const unsigned segs = VIRTIO_BLK_SEG_MAX + 1;
	uint8_t hdr[16] = { 0 };
	put(h, HDRS, hdr, 16);
	desc_at(h, TABLES, 0, HDRS, 16, VIRTQ_DESC_F_NEXT, 1);
	for (unsigned i = 1; i <= segs; i++)
		desc_at(h, TABLES, i, DATA + 512 * i, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE,
			(uint16_t)(i + 1));
	desc_at(h, TABLES, segs + 1, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	uint16_t head = alloc_desc(h);
	desc_at(h, DESC, head, TABLES, 16 * (segs + 2), VIRTQ_DESC_F_INDIRECT, 0);
	submit_wait(h, head);
	CHECK_EQ(h->ram.host[STATUS], VIRTIO_BLK_S_IOERR);
	/* Exactly SEG_MAX is fine. */
	desc_at(h, TABLES, segs, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	desc_at(h, DESC, head, TABLES, 16 * (segs + 1), VIRTQ_DESC_F_INDIRECT, 0);
	submit_wait(h, head);
	CHECK_EQ(h->ram.host[STATUS], VIRTIO_BLK_S_OK);
	/* Past the chain array altogether (truncated): still answered. */
	desc_at(h, TABLES, 0, HDRS, 16, VIRTQ_DESC_F_NEXT, 1);
	for (unsigned i = 1; i < 300; i++)
		desc_at(h, TABLES, i, DATA + 512 * i, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE,
			(uint16_t)(i + 1));
	desc_at(h, TABLES, 300, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	desc_at(h, DESC, head, TABLES, 16 * 301, VIRTQ_DESC_F_INDIRECT, 0);
	h->ram.host[STATUS] = 0xee;
	submit_wait(h, head);
	CHECK_EQ(h->ram.host[STATUS], VIRTIO_BLK_S_IOERR);

	/* A header of 8 bytes. */
	head = make_req(h, 0, VIRTIO_BLK_T_IN, 0, DATA, 512, true);
	desc_at(h, DESC, head, HDRS, 8, VIRTQ_DESC_F_NEXT, next_of(h, head));
	submit_wait(h, head);
	CHECK_EQ(h->ram.host[STATUS], VIRTIO_BLK_S_IOERR);
	/* The header split over two descriptors is fine (any layout). */
	uint64_t sector = 7;
	memcpy(hdr + 8, &sector, 8);
	put(h, HDRS, hdr, 16);
	uint16_t d0 = alloc_desc(h), d1 = alloc_desc(h), d2 = alloc_desc(h), d3 = alloc_desc(h);
	desc_at(h, DESC, d0, HDRS, 5, VIRTQ_DESC_F_NEXT, d1);
	desc_at(h, DESC, d1, HDRS + 5, 11, VIRTQ_DESC_F_NEXT, d2);
	desc_at(h, DESC, d2, DATA, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, d3);
	desc_at(h, DESC, d3, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	submit_wait(h, d0);
	CHECK_EQ(h->ram.host[STATUS], VIRTIO_BLK_S_OK);
	CHECK_EQ(h->ram.host[DATA + 3], image_byte(7 * 512 + 3));
	/* Data and status in one writable descriptor. */
	d0 = alloc_desc(h);
	d1 = alloc_desc(h);
	desc_at(h, DESC, d0, HDRS, 16, VIRTQ_DESC_F_NEXT, d1);
	desc_at(h, DESC, d1, DATA, 513, VIRTQ_DESC_F_WRITE, 0);
	h->ram.host[DATA + 512] = 0xee;
	submit_wait(h, d0);
	CHECK_EQ(h->ram.host[DATA + 512], VIRTIO_BLK_S_OK);
	CHECK_EQ(last_used_len(h), 513);

	/* No writable byte for the status: returned with length 0. */
	d0 = alloc_desc(h);
	desc_at(h, DESC, d0, HDRS, 16, 0, 0);
	submit_wait(h, d0);
	CHECK_EQ(last_used_len(h), 0);
	struct virtio_blk_stats s = virtio_blk_get_stats(&h->blk);
	CHECK_EQ(s.no_status, 1);
	CHECK_EQ(s.bad_requests, 10);
	CHECK_EQ(s.io_errors, 10);
	CHECK_EQ(s.device_errors, 0);
	/* Nothing reached the image, and the device still works. */
	size_t len1;
	uint8_t *image1 = read_file(h->path, &len1);
	CHECK(len0 == len1 && memcmp(image0, image1, len0) == 0);
	free(image0);
	free(image1);
	CHECK_EQ(status(h) & VIRTIO_STATUS_NEEDS_RESET, 0);
	CHECK_EQ(run(h, VIRTIO_BLK_T_IN, 1, DATA, 512, true), VIRTIO_BLK_S_OK);
	teardown(h);
}

/* Breaks the queue one way (break_it), checks DEVICE_NEEDS_RESET, the
 * configuration interrupt and the counter, that nothing more is served,
 * and that a reset brings the device back. */
static void expect_needs_reset(struct harness *h, void (*break_it)(struct harness *h),
			       bool running)
{
	CHECK(driver_start(h, all_features | FEATURE(VIRTIO_F_RING_EVENT_IDX), 16));
	uint64_t errors = h->blk.vp.stats.device_errors;
	read_isr(h);
	break_it(h);
	CHECK(status(h) & VIRTIO_STATUS_NEEDS_RESET);
	CHECK_EQ(h->blk.vp.stats.device_errors, errors + 1);
	if (running) {
		CHECK_EQ(h->irq_level, 1);
		CHECK_EQ(read_isr(h), VIRTIO_ISR_CONFIG);
		CHECK_EQ(h->irq_level, 0);
		/* A good request now is not taken. */
		uint16_t before = used_idx(h);
		offer(h, make_req(h, 1, VIRTIO_BLK_T_IN, 0, DATA, 512, true));
		kick(h);
		usleep(20000);
		virtio_blk_poll(&h->blk);
		CHECK_EQ(used_idx(h), before);
	}
	set_status(h, 0);
	CHECK_EQ(status(h), 0);
	CHECK(driver_start(h, all_features, 16));
	CHECK_EQ(run(h, VIRTIO_BLK_T_IN, 2, DATA, 512, true), VIRTIO_BLK_S_OK);
	CHECK_EQ(h->ram.host[DATA], image_byte(1024));
}

static void submit_head(struct harness *h, uint16_t head)
{
	offer(h, head);
	kick(h);
}

static void break_outside_ram(struct harness *h)
{
	uint16_t head = make_req(h, 0, VIRTIO_BLK_T_IN, 0, DATA, 512, true);
	uint16_t data = next_of(h, head);
	desc_at(h, DESC, data, h->ram.size - 256, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE,
		next_of(h, data));
	submit_head(h, head);
}

static void break_loop(struct harness *h)
{
	uint16_t head = make_req(h, 0, VIRTIO_BLK_T_IN, 0, DATA, 512, true);
	desc_at(h, DESC, next_of(h, next_of(h, head)), STATUS, 1,
		VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, head);
	submit_head(h, head);
}

static void break_next(struct harness *h)
{
	uint16_t head = make_req(h, 0, VIRTIO_BLK_T_IN, 0, DATA, 512, true);
	desc_at(h, DESC, head, HDRS, 16, VIRTQ_DESC_F_NEXT, 16);
	submit_head(h, head);
}

static void break_avail_jump(struct harness *h)
{
	uint16_t head = make_req(h, 0, VIRTIO_BLK_T_IN, 0, DATA, 512, true);
	h->avail_idx = (uint16_t)(h->avail_idx + 16);
	submit_head(h, head);
}

static void break_indirect_len(struct harness *h)
{
	uint16_t head = alloc_desc(h);
	desc_at(h, DESC, head, TABLES, 15, VIRTQ_DESC_F_INDIRECT, 0);
	submit_head(h, head);
}

static void break_indirect_nested(struct harness *h)
{
	uint16_t head = alloc_desc(h);
	desc_at(h, TABLES, 0, TABLES + 0x1000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	desc_at(h, DESC, head, TABLES, 16, VIRTQ_DESC_F_INDIRECT, 0);
	submit_head(h, head);
}

static void break_indirect_outside(struct harness *h)
{
	uint16_t head = alloc_desc(h);
	desc_at(h, DESC, head, h->ram.size - 32, 64, VIRTQ_DESC_F_INDIRECT, 0);
	submit_head(h, head);
}

/* Before DRIVER_OK: a bad size, bad rings; no interrupt then. */
static void break_queue_size_big(struct harness *h)
{
	set_status(h, 0);
	set_status(h, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	common_wr(h, VIRTIO_PCI_QUEUE_SIZE, 2, 512);
	CHECK_EQ(common_rd(h, VIRTIO_PCI_QUEUE_SIZE, 2), VIRTIO_BLK_QUEUE_SIZE);
}

static void break_queue_size_odd(struct harness *h)
{
	set_status(h, 0);
	set_status(h, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	common_wr(h, VIRTIO_PCI_QUEUE_SIZE, 2, 24);
}

static void break_rings(struct harness *h)
{
	set_status(h, 0);
	set_status(h, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	common_wr(h, VIRTIO_PCI_QUEUE_DESC, 4, (uint32_t)h->ram.size - 16);
	common_wr(h, VIRTIO_PCI_QUEUE_ENABLE, 2, 1);
}

static void test_needs_reset(struct harness *h)
{
	CHECK_EQ(setup(h, false, false), 0);
	expect_needs_reset(h, break_outside_ram, true);
	expect_needs_reset(h, break_loop, true);
	expect_needs_reset(h, break_next, true);
	expect_needs_reset(h, break_avail_jump, true);
	expect_needs_reset(h, break_indirect_len, true);
	expect_needs_reset(h, break_indirect_nested, true);
	expect_needs_reset(h, break_indirect_outside, true);
	expect_needs_reset(h, break_queue_size_big, false);
	expect_needs_reset(h, break_queue_size_odd, false);
	expect_needs_reset(h, break_rings, false);
	CHECK_EQ(h->blk.vp.stats.bad_queue_sizes, 2);
	CHECK_EQ(virtio_blk_get_stats(&h->blk).device_errors, 10);
	teardown(h);
}

static void test_event_idx(struct harness *h)
{
	CHECK_EQ(setup(h, false, false), 0);
	CHECK(driver_start(h, all_features | FEATURE(VIRTIO_F_RING_EVENT_IDX), 16));
	CHECK(virtio_pci_negotiated(&h->blk.vp, VIRTIO_F_RING_EVENT_IDX));
	const uint64_t used_event = AVAIL + 4 + 2 * 16, avail_event = USED + 4 + 8 * 16;
	/* The first completion interrupts (nothing signalled yet). */
	put16(h, used_event, 0);
	CHECK_EQ(run(h, VIRTIO_BLK_T_IN, 0, DATA, 512, true), VIRTIO_BLK_S_OK);
	CHECK_EQ(h->irq_level, 1);
	read_isr(h);
	CHECK_EQ(get16(h, avail_event), 1);
	/* used_event 2: the completion taking used idx to 2 is quiet, the one
	 * to 3 interrupts. */
	put16(h, used_event, 2);
	CHECK_EQ(run(h, VIRTIO_BLK_T_IN, 0, DATA, 512, true), VIRTIO_BLK_S_OK);
	CHECK_EQ(h->irq_level, 0);
	CHECK_EQ(run(h, VIRTIO_BLK_T_IN, 0, DATA, 512, true), VIRTIO_BLK_S_OK);
	CHECK_EQ(h->irq_level, 1);
	CHECK_EQ(read_isr(h), VIRTIO_ISR_QUEUE);
	CHECK_EQ(get16(h, avail_event), 3);
	teardown(h);

	/* Without it, the NO_INTERRUPT flag. */
	CHECK_EQ(setup(h, false, false), 0);
	CHECK(driver_start(h, all_features, 16));
	put16(h, AVAIL, VIRTQ_AVAIL_F_NO_INTERRUPT);
	CHECK_EQ(run(h, VIRTIO_BLK_T_IN, 0, DATA, 512, true), VIRTIO_BLK_S_OK);
	CHECK_EQ(h->irq_level, 0);
	put16(h, AVAIL, 0);
	CHECK_EQ(run(h, VIRTIO_BLK_T_IN, 0, DATA, 512, true), VIRTIO_BLK_S_OK);
	CHECK_EQ(h->irq_level, 1);
	/* INTx disable in the command register holds the line down. */
	cfg_wr(h, PCI_REG_COMMAND, 2,
	       PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	CHECK_EQ(h->irq_level, 0);
	CHECK_EQ(read_isr(h), VIRTIO_ISR_QUEUE);
	teardown(h);
}

/* A device reset and a machine reset with requests in flight. */
static void test_reset_in_flight(struct harness *h)
{
	CHECK_EQ(setup(h, false, false), 0);
	for (unsigned round = 0; round < 2; round++) {
		CHECK(driver_start(h, all_features, 256));
		for (unsigned i = 0; i < 60; i++)
			offer(h, make_req(h, i, i % 2 ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT, i,
					  DATA + 0x4000 * i, 0x4000, i % 2));
		kick(h);
		if (round)
			virtio_blk_reset(&h->blk);
		else
			set_status(h, 0);
		CHECK_EQ(status(h), 0);
		CHECK(!virtio_blk_busy(&h->blk));
		uint16_t idx = used_idx(h);
		virtio_blk_poll(&h->blk);
		CHECK_EQ(used_idx(h), idx);	/* nothing returned after the reset */
		CHECK_EQ(h->irq_level, 0);
	}
	CHECK(driver_start(h, all_features, 256));
	CHECK_EQ(run(h, VIRTIO_BLK_T_IN, 3, DATA, 512, true), VIRTIO_BLK_S_OK);
	teardown(h);
}

static void test_readonly(struct harness *h)
{
	size_t len0, len1;
	uint8_t *image0 = read_file(h->path, &len0);

	CHECK_EQ(setup(h, true, false), 0);
	uint64_t f = device_features(h);
	CHECK(f & FEATURE(VIRTIO_BLK_F_RO));
	CHECK(!(f & FEATURE(VIRTIO_BLK_F_DISCARD)));
	CHECK(!(f & FEATURE(VIRTIO_BLK_F_WRITE_ZEROES)));
	CHECK(driver_start(h, all_features, 256));
	memset(h->ram.host + DATA, 0x5a, 4096);
	CHECK_EQ(run(h, VIRTIO_BLK_T_OUT, 0, DATA, 4096, false), VIRTIO_BLK_S_IOERR);
	uint64_t sec = 0;
	uint32_t num = 8, flags = 0;
	CHECK_EQ(run_ranges(h, VIRTIO_BLK_T_WRITE_ZEROES, &sec, &num, &flags, 1),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(run_ranges(h, VIRTIO_BLK_T_DISCARD, &sec, &num, &flags, 1), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(run(h, VIRTIO_BLK_T_IN, 0, DATA, 512, true), VIRTIO_BLK_S_OK);
	CHECK_EQ(h->ram.host[DATA + 1], image_byte(1));
	CHECK_EQ(run(h, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false), VIRTIO_BLK_S_OK);
	CHECK_EQ(virtio_blk_get_stats(&h->blk).io_errors, 3);
	teardown(h);
	uint8_t *image1 = read_file(h->path, &len1);
	CHECK(len0 == len1 && memcmp(image0, image1, len0) == 0);
	free(image0);
	free(image1);
}

static void test_snapshot(struct harness *h)
{
	size_t len0, len1;
	uint8_t *image0 = read_file(h->path, &len0);

	CHECK_EQ(setup(h, false, true), 0);
	CHECK(!(device_features(h) & FEATURE(VIRTIO_BLK_F_RO)));
	CHECK(driver_start(h, all_features, 256));
	/* Write sectors 10-13 (and 17), read 8-17: a mix of both files. */
	memset(h->ram.host + DATA, 0x77, 2048);
	CHECK_EQ(run(h, VIRTIO_BLK_T_OUT, 10, DATA, 2048, false), VIRTIO_BLK_S_OK);
	memset(h->ram.host + DATA, 0x66, 512);
	CHECK_EQ(run(h, VIRTIO_BLK_T_OUT, 17, DATA, 512, false), VIRTIO_BLK_S_OK);
	CHECK_EQ(run(h, VIRTIO_BLK_T_IN, 8, DATA + 0x10000, 10 * 512, true), VIRTIO_BLK_S_OK);
	bool ok = true;
	for (unsigned i = 0; i < 10 * 512; i++) {
		unsigned sector = 8 + i / 512;
		uint8_t want = sector >= 10 && sector <= 13 ? 0x77
			       : sector == 17		    ? 0x66
							    : image_byte(8 * 512 + i);
		ok &= h->ram.host[DATA + 0x10000 + i] == want;
	}
	CHECK(ok);
	/* WRITE_ZEROES and DISCARD stay in the snapshot too. */
	uint64_t sec = 12;
	uint32_t num = 4, flags = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
	CHECK_EQ(run_ranges(h, VIRTIO_BLK_T_WRITE_ZEROES, &sec, &num, &flags, 1), VIRTIO_BLK_S_OK);
	sec = 0;
	num = 64;
	flags = 0;
	CHECK_EQ(run_ranges(h, VIRTIO_BLK_T_DISCARD, &sec, &num, &flags, 1), VIRTIO_BLK_S_OK);
	CHECK_EQ(run(h, VIRTIO_BLK_T_IN, 10, DATA + 0x10000, 8 * 512, true), VIRTIO_BLK_S_OK);
	ok = true;
	for (unsigned i = 0; i < 8 * 512; i++) {
		unsigned sector = 10 + i / 512;
		uint8_t want = image_byte(10 * 512 + i);
		if (sector < 12)
			want = 0x77;
		else if (sector < 16)
			want = 0;
		else if (sector == 17)
			want = 0x66;
		ok &= h->ram.host[DATA + 0x10000 + i] == want;
	}
	CHECK(ok);
	CHECK_EQ(run(h, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false), VIRTIO_BLK_S_OK);
	/* The image is untouched, during and after. */
	uint8_t *image1 = read_file(h->path, &len1);
	CHECK(len0 == len1 && memcmp(image0, image1, len0) == 0);
	free(image1);
	teardown(h);
	image1 = read_file(h->path, &len1);
	CHECK(len0 == len1 && memcmp(image0, image1, len0) == 0);
	free(image0);
	free(image1);
}

static void test_open_and_lock(struct harness *h)
{
	struct virtio_blk a, b;
	char err[256];

	/* A second writer is refused, in this process too (OFD locks). */
	CHECK_EQ(virtio_blk_open(&a, h->path, false, false, err, sizeof(err)), 0);
	err[0] = 0;
	CHECK_EQ(virtio_blk_open(&b, h->path, false, false, err, sizeof(err)), -EBUSY);
	CHECK_STR_CONTAINS(err, "in use by another process");
	CHECK_STR_CONTAINS(err, h->path);
	virtio_blk_close(&b);
	CHECK_EQ(virtio_blk_open(&b, h->path, true, false, err, sizeof(err)), -EBUSY);
	virtio_blk_close(&b);
	CHECK_EQ(virtio_blk_open(&b, h->path, false, true, err, sizeof(err)), -EBUSY);
	virtio_blk_close(&b);
	virtio_blk_close(&a);
	virtio_blk_close(&a);	/* twice is harmless */
	/* Readers share, and keep a writer out. */
	CHECK_EQ(virtio_blk_open(&a, h->path, true, false, err, sizeof(err)), 0);
	CHECK_EQ(virtio_blk_open(&b, h->path, false, true, err, sizeof(err)), 0);
	virtio_blk_close(&b);
	CHECK_EQ(virtio_blk_open(&b, h->path, false, false, err, sizeof(err)), -EBUSY);
	virtio_blk_close(&b);
	virtio_blk_close(&a);
	CHECK_EQ(virtio_blk_open(&a, h->path, false, false, err, sizeof(err)), 0);
	CHECK_EQ(a.disk.sectors, IMAGE_SECTORS);
	virtio_blk_close(&a);

	/* Missing, a directory. */
	char missing[300];
	snprintf(missing, sizeof(missing), "%s.missing", h->path);
	CHECK_EQ(virtio_blk_open(&a, missing, false, false, err, sizeof(err)), -ENOENT);
	CHECK_STR_CONTAINS(err, missing);
	CHECK_STR_CONTAINS(err, "No such file");
	virtio_blk_close(&a);
	CHECK_EQ(virtio_blk_open(&a, "/", true, false, err, sizeof(err)), -EINVAL);
	CHECK_STR_CONTAINS(err, "not a regular file");
	virtio_blk_close(&a);
	if (geteuid() != 0) {
		chmod(h->path, 0);
		CHECK_EQ(virtio_blk_open(&a, h->path, true, false, err, sizeof(err)), -EACCES);
		virtio_blk_close(&a);
		chmod(h->path, 0600);
	}

	/* A size that is not whole sectors: the tail is not seen. */
	char odd[300];
	snprintf(odd, sizeof(odd), "%s.odd", h->path);
	int fd = open(odd, O_CREAT | O_RDWR | O_TRUNC, 0600);
	CHECK(fd >= 0 && ftruncate(fd, 1000) == 0);
	close(fd);
	CHECK_EQ(virtio_blk_open(&a, odd, false, false, err, sizeof(err)), 0);
	CHECK_EQ(a.disk.sectors, 1);
	virtio_blk_close(&a);
	unlink(odd);
}

int main(void)
{
	static struct harness h;

	if (guest_ram_init(&h.ram, 4, 0)) {
		fprintf(stderr, "cannot make guest RAM\n");
		return 1;
	}
	h.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CHECK(h.efd >= 0);
	make_image(&h, IMAGE_SECTORS * 512ull);
	test_identity(&h);
	test_negotiation(&h);
	test_read_write(&h);
	test_poll(&h);
	test_poll_adapts(&h);
	test_bounce(&h);
	test_batch_and_indirect(&h);
	test_reposted_chain(&h);
	test_discard_write_zeroes(&h);
	test_bad_requests(&h);
	test_needs_reset(&h);
	test_event_idx(&h);
	test_reset_in_flight(&h);
	unlink(h.path);
	make_image(&h, IMAGE_SECTORS * 512ull);
	test_readonly(&h);
	test_snapshot(&h);
	test_open_and_lock(&h);
	unlink(h.path);
	close(h.efd);
	guest_ram_destroy(&h.ram);
	return check_report("test_virtio_blk");
}
