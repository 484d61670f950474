/* virtio-blk driven the way a driver drives it: PCI configuration cycles
 * through the host bridge (identification, the capability walk, BAR 4),
 * the common configuration in the BAR (reset, negotiation, the queue),
 * requests in a fake guest RAM against a temporary image file, completion
 * through the I/O thread, the notify callback and virtio_blk_poll, and
 * INTx through the PIIX3's PIRQ routing; discard, write-zeroes, EVENT_IDX
 * and --snapshot. test_virtio_blk_faults.c has the ways a request or a
 * queue can be wrong, read-only images and the image lock. */
#include "virtio_blk_harness.h"

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
	CHECK_EQ(dev_rd(h, VIRTIO_BLK_CFG_CAPACITY, 4), IMAGE_SECTORS);
	CHECK_EQ(dev_rd(h, VIRTIO_BLK_CFG_CAPACITY + 4, 4), 0);
	CHECK_EQ(dev_rd(h, VIRTIO_BLK_CFG_SIZE_MAX, 4), VIRTIO_BLK_SIZE_MAX);
	CHECK_EQ(dev_rd(h, VIRTIO_BLK_CFG_SEG_MAX, 4), VIRTIO_BLK_SEG_MAX);
	CHECK_EQ(dev_rd(h, VIRTIO_BLK_CFG_BLK_SIZE, 4), 512);
	CHECK_EQ(dev_rd(h, VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS, 4), VIRTIO_BLK_MAX_DISCARD_SECTORS);
	CHECK_EQ(dev_rd(h, VIRTIO_BLK_CFG_MAX_DISCARD_SEG, 4), VIRTIO_BLK_MAX_DISCARD_SEG);
	CHECK_EQ(dev_rd(h, VIRTIO_BLK_CFG_DISCARD_ALIGNMENT, 4), 1);
	CHECK_EQ(dev_rd(h, VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SECTORS, 4),
		 VIRTIO_BLK_MAX_DISCARD_SECTORS);
	CHECK_EQ(dev_rd(h, VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SEG, 4), VIRTIO_BLK_MAX_DISCARD_SEG);
	CHECK_EQ(dev_rd(h, VIRTIO_BLK_CFG_WRITE_ZEROES_MAY_UNMAP, 1), 1);
	CHECK_EQ(dev_rd(h, VIRTIO_BLK_CONFIG_SIZE, 4), 0);	/* past the end */
	CHECK_EQ(common_rd(h, VIRTIO_PCI_CONFIG_GENERATION, 1), 0);
	/* Read-only: writes do nothing. */
	bus_write(&h->bus, BUS_SPACE_MMIO, BAR_ADDR + h->device, 4, 0);
	CHECK_EQ(dev_rd(h, VIRTIO_BLK_CFG_CAPACITY, 4), IMAGE_SECTORS);
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

static uint64_t wakeups(struct harness *h)
{
	return virtio_blk_get_stats(&h->blk).wakeups;
}

/* Whether n of the I/O threads wait on work (none of them woken since)
 * now; waits up to 60 s for it, as wait_polling_is. */
static bool wait_parked(struct harness *h, unsigned n)
{
	for (int i = 0; i < 60000; i++) {
		pthread_mutex_lock(&h->blk.lock);
		unsigned parked = h->blk.parked;
		pthread_mutex_unlock(&h->blk.lock);
		if (parked == n)
			return true;
		usleep(1000);
	}
	return false;
}

/* Reads sector once a thread spins and every other one waits on work:
 * the spinner is then the only thread that can take the request, which
 * wakes none. Without the wait for the others, the thread that served
 * the last request may come back for work just as this one is queued
 * and take it first, however long the test waits on a loaded host. */
static void run_spun(struct harness *h, uint64_t sector)
{
	uint64_t polled = virtio_blk_get_stats(&h->blk).polled;
	CHECK(wait_polling(h));
	CHECK(wait_parked(h, VIRTIO_BLK_IO_THREADS - 1));
	uint64_t woken = wakeups(h);
	CHECK_EQ(run(h, VIRTIO_BLK_T_IN, sector, DATA, 4096, true), VIRTIO_BLK_S_OK);
	CHECK(h->ram.host[DATA + 7] == image_byte(sector * 512 + 7));
	CHECK_EQ(virtio_blk_get_stats(&h->blk).polled, polled + 1);
	CHECK_EQ(wakeups(h), woken);
}

/* After serving a request an I/O thread spins for the next one, which it
 * then takes with no wake-up; with no spinning, each request wakes a
 * thread. The checks hold however late the host runs each thread. */
static void test_poll(struct harness *h)
{
	CHECK_EQ(setup(h, false, false), 0);
	CHECK(driver_start(h, all_features, 256));
	cpu_set_t cpus;
	CHECK_EQ(sched_getaffinity(0, sizeof(cpus), &cpus), 0);
	CHECK_EQ(h->blk.poll_ns, CPU_COUNT(&cpus) > 1 ? VIRTIO_BLK_POLL_NS : 0u);
	virtio_blk_set_poll_ns(&h->blk, 60ull * 1000000000u);   /* longer than the test */
	/* Every thread waits: the one woken is the one that takes it. */
	CHECK(wait_parked(h, VIRTIO_BLK_IO_THREADS));
	CHECK_EQ(run(h, VIRTIO_BLK_T_IN, 5, DATA, 4096, true), VIRTIO_BLK_S_OK);
	CHECK_EQ(virtio_blk_get_stats(&h->blk).polled, 0);
	CHECK_EQ(wakeups(h), 1);   /* none had served a request: none spun */
	run_spun(h, 6);
	CHECK_EQ(virtio_blk_get_stats(&h->blk).polled, 1);
	/* With spinning turned off, one that spins already (60 s) is still
	 * there for the next request, which it takes, waking none; then none
	 * spins, and each request wakes a thread. */
	CHECK(wait_polling(h));
	virtio_blk_set_poll_ns(&h->blk, 0);
	run_spun(h, 7);
	CHECK(wait_polling_is(h, false));
	uint64_t woken = wakeups(h), polled = virtio_blk_get_stats(&h->blk).polled;
	for (uint64_t sector = 8; sector < 12; sector++) {   /* each wakes a thread */
		CHECK_EQ(run(h, VIRTIO_BLK_T_IN, sector, DATA, 4096, true), VIRTIO_BLK_S_OK);
		CHECK(h->ram.host[DATA + 9] == image_byte(sector * 512 + 9));
		CHECK_EQ(wakeups(h), woken + sector - 7);
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
	test_event_idx(&h);
	unlink(h.path);
	make_image(&h, IMAGE_SECTORS * 512ull);
	test_snapshot(&h);
	unlink(h.path);
	close(h.efd);
	guest_ram_destroy(&h.ram);
	return check_report("test_virtio_blk");
}
