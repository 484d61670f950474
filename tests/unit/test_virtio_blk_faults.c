/* virtio-blk against a driver that gets things wrong: every way a request
 * or a queue can be malformed (an I/O error for the request, or
 * DEVICE_NEEDS_RESET for the queue, never a crash), a reset with requests
 * in flight, requests taken before the queue broke, a read-only image,
 * and the image lock that keeps two VMs off one image. The harness is
 * virtio_blk_harness.h. */
#include "virtio_blk_harness.h"

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

/* A queue that breaks behind requests already taken: they are not
 * returned, but what they wrote into guest RAM (a read's data, status
 * bytes, one written on the spot) is reported all the same, for the
 * write log and translated code. */
static void test_broken_queue_reports(struct harness *h)
{
	/* Sector 1 as the tests before left it (a write a reset raced may
	 * or may not have landed there); the buffer filled with another
	 * byte, so that the read is seen to land. */
	size_t len;
	uint8_t *image = read_file(h->path, &len);
	CHECK(image && len >= 1024);
	uint8_t want = image ? image[512] : 0;
	free(image);
	CHECK_EQ(setup(h, false, false), 0);
	memset(h->ram.host + DATA, (uint8_t)~want, 512);
	CHECK(driver_start(h, all_features, 256));
	offer(h, make_req(h, 0, VIRTIO_BLK_T_IN, 1, DATA, 512, true));
	offer(h, make_req(h, 1, VIRTIO_BLK_T_IN, 0, DATA + 512, 100, true));	/* IOERR at once */
	offer(h, 0xffff);	/* no such descriptor: the queue breaks */
	kick(h);
	CHECK(status(h) & VIRTIO_STATUS_NEEDS_RESET);
	for (int tries = 0; virtio_blk_busy(&h->blk) && tries < 2000; tries++) {
		virtio_blk_poll(&h->blk);
		usleep(1000);
	}
	CHECK(!virtio_blk_busy(&h->blk));
	CHECK_EQ(used_idx(h), 0);
	CHECK_EQ(h->ram.host[DATA], want);
	CHECK_EQ(h->ram.host[STATUS + 1], VIRTIO_BLK_S_IOERR);
	CHECK(h->written_lo <= STATUS && h->written_hi >= DATA + 512);
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

static void test_open_and_lock(struct harness *h)
{
	struct virtio_blk a, b;
	char err[256];

	/* A second writer is refused, in this process too (OFD locks). */
	CHECK_EQ(virtio_blk_open(&a, h->path, false, false, false, err, sizeof(err)), 0);
	err[0] = 0;
	CHECK_EQ(virtio_blk_open(&b, h->path, false, false, false, err, sizeof(err)), -EBUSY);
	CHECK_STR_CONTAINS(err, "in use by another process");
	CHECK_STR_CONTAINS(err, h->path);
	virtio_blk_close(&b);
	CHECK_EQ(virtio_blk_open(&b, h->path, true, false, false, err, sizeof(err)), -EBUSY);
	virtio_blk_close(&b);
	CHECK_EQ(virtio_blk_open(&b, h->path, false, true, false, err, sizeof(err)), -EBUSY);
	virtio_blk_close(&b);
	virtio_blk_close(&a);
	virtio_blk_close(&a);	/* twice is harmless */
	/* Readers share, and keep a writer out. */
	CHECK_EQ(virtio_blk_open(&a, h->path, true, false, false, err, sizeof(err)), 0);
	CHECK_EQ(virtio_blk_open(&b, h->path, false, true, false, err, sizeof(err)), 0);
	virtio_blk_close(&b);
	CHECK_EQ(virtio_blk_open(&b, h->path, false, false, false, err, sizeof(err)), -EBUSY);
	virtio_blk_close(&b);
	virtio_blk_close(&a);
	CHECK_EQ(virtio_blk_open(&a, h->path, false, false, false, err, sizeof(err)), 0);
	CHECK_EQ(a.disk.sectors, IMAGE_SECTORS);
	virtio_blk_close(&a);

	/* A migration's hand-over: the destination (b) opens the image the
	 * source (a) holds without the write lock, cannot take it while a
	 * holds it, takes it once a lets go, and then a cannot take it back
	 * until b lets go. A read-only open under defer still takes its
	 * read lock at once (and so is kept out by the writer). */
	CHECK_EQ(virtio_blk_open(&a, h->path, false, false, false, err, sizeof(err)), 0);
	CHECK(a.disk.locked);
	CHECK_EQ(virtio_blk_open(&b, h->path, false, false, true, err, sizeof(err)), 0);
	CHECK(!b.disk.locked);
	err[0] = 0;
	CHECK_EQ(disk_image_lock(&b.disk, err, sizeof(err)), -EBUSY);
	CHECK_STR_CONTAINS(err, "in use by another process");
	CHECK(!b.disk.locked);
	CHECK_EQ(disk_image_unlock(&a.disk), 0);
	CHECK(!a.disk.locked);
	CHECK_EQ(disk_image_unlock(&a.disk), 0);	/* unlocked: a no-op */
	CHECK_EQ(disk_image_lock(&b.disk, err, sizeof(err)), 0);
	CHECK(b.disk.locked);
	CHECK_EQ(disk_image_lock(&b.disk, err, sizeof(err)), 0);	/* held: a no-op */
	CHECK_EQ(disk_image_lock(&a.disk, err, sizeof(err)), -EBUSY);
	struct virtio_blk c;
	CHECK_EQ(virtio_blk_open(&c, h->path, true, false, true, err, sizeof(err)), -EBUSY);
	virtio_blk_close(&c);
	CHECK_EQ(disk_image_unlock(&b.disk), 0);
	CHECK_EQ(disk_image_lock(&a.disk, err, sizeof(err)), 0);
	virtio_blk_close(&b);
	virtio_blk_close(&a);

	/* Missing, a directory. */
	char missing[300];
	snprintf(missing, sizeof(missing), "%s.missing", h->path);
	CHECK_EQ(virtio_blk_open(&a, missing, false, false, false, err, sizeof(err)), -ENOENT);
	CHECK_STR_CONTAINS(err, missing);
	CHECK_STR_CONTAINS(err, "No such file");
	virtio_blk_close(&a);
	CHECK_EQ(virtio_blk_open(&a, "/", true, false, false, err, sizeof(err)), -EINVAL);
	CHECK_STR_CONTAINS(err, "not a regular file");
	virtio_blk_close(&a);
	if (geteuid() != 0) {
		chmod(h->path, 0);
		CHECK_EQ(virtio_blk_open(&a, h->path, true, false, false, err, sizeof(err)), -EACCES);
		virtio_blk_close(&a);
		chmod(h->path, 0600);
	}

	/* A size that is not whole sectors: the tail is not seen. */
	char odd[300];
	snprintf(odd, sizeof(odd), "%s.odd", h->path);
	int fd = open(odd, O_CREAT | O_RDWR | O_TRUNC, 0600);
	CHECK(fd >= 0 && ftruncate(fd, 1000) == 0);
	close(fd);
	CHECK_EQ(virtio_blk_open(&a, odd, false, false, false, err, sizeof(err)), 0);
	CHECK_EQ(a.disk.sectors, 1);
	virtio_blk_close(&a);
	unlink(odd);
}

/* A block migration's dirty map: off, nothing is marked; on, a write,
 * a zeroing and a discard mark exactly the chunks they touch (a write
 * across a chunk boundary both), take clears one bit at a time, a start
 * clears what the last round left, stop stops the marking. */
static void test_dirty_map(struct harness *h)
{
	struct disk_image d;
	struct disk_io io;
	char err[256];
	static uint8_t buf[4 * 512];
	const unsigned cs = DISK_IMAGE_CHUNK_SECTORS;

	CHECK_EQ(disk_image_open(&d, h->path, false, false, false, err, sizeof(err)), 0);
	disk_io_init(&io, false);
	CHECK_EQ(disk_image_chunks(&d), (IMAGE_SECTORS + cs - 1) / cs);
	struct iovec iov = { buf, sizeof(buf) };
	CHECK_EQ(disk_image_write(&d, &io, &iov, 1, 0, NULL), 0);
	CHECK_EQ(disk_image_dirty_count(&d), 0);
	CHECK(!disk_image_dirty_take(&d, 0));

	CHECK_EQ(disk_image_dirty_start(&d), 0);
	CHECK_EQ(disk_image_dirty_count(&d), 0);
	/* Sectors cs-2 .. cs+1: chunks 0 and 1. */
	CHECK_EQ(disk_image_write(&d, &io, &iov, 1, cs - 2, NULL), 0);
	CHECK_EQ(disk_image_dirty_count(&d), 2);
	CHECK_EQ(disk_image_write_zeroes(&d, 3 * cs, 1, true), 0);
	disk_image_discard(&d, 5 * cs + 7, 2);
	CHECK_EQ(disk_image_dirty_count(&d), 4);
	CHECK(disk_image_dirty_take(&d, 0));
	CHECK(!disk_image_dirty_take(&d, 0));
	CHECK(!disk_image_dirty_take(&d, 2));
	CHECK(!disk_image_dirty_take(&d, 4));
	CHECK_EQ(disk_image_dirty_count(&d), 3);
	/* Read back: reads mark nothing. */
	CHECK_EQ(disk_image_read(&d, &io, &iov, 1, 0, NULL), 0);
	CHECK_EQ(disk_image_dirty_count(&d), 3);
	/* A new start clears the rest. */
	CHECK_EQ(disk_image_dirty_start(&d), 0);
	CHECK_EQ(disk_image_dirty_count(&d), 0);
	CHECK_EQ(disk_image_write(&d, &io, &iov, 1, IMAGE_SECTORS - 4, NULL), 0);
	CHECK(disk_image_dirty_take(&d, (IMAGE_SECTORS - 1) / cs));
	disk_image_dirty_stop(&d);
	CHECK_EQ(disk_image_write(&d, &io, &iov, 1, 0, NULL), 0);
	CHECK_EQ(disk_image_dirty_count(&d), 0);
	disk_io_destroy(&io);
	disk_image_close(&d);
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
	test_bad_requests(&h);
	test_needs_reset(&h);
	test_reset_in_flight(&h);
	test_broken_queue_reports(&h);
	unlink(h.path);
	make_image(&h, IMAGE_SECTORS * 512ull);
	test_readonly(&h);
	test_open_and_lock(&h);
	test_dirty_map(&h);
	unlink(h.path);
	close(h.efd);
	guest_ram_destroy(&h.ram);
	return check_report("test_virtio_blk_faults");
}
