/* virtio-blk: request parsing on the vCPU thread, host I/O on the
 * device's I/O threads through the shared disk image (host/disk_image.h),
 * and completion through virtio_blk_poll. See virtio_blk.h. */
#define _GNU_SOURCE
#include "devices/virtio_blk.h"
#include "host/snapfile.h"
#include "host/clock.h"
#include "host/thread.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HEADER_SIZE	16u
#define RANGE_SIZE	16u

/* struct virtio_blk_discard_write_zeroes, as it lies in guest RAM. */
struct blk_range {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};

_Static_assert(sizeof(struct blk_range) == RANGE_SIZE, "discard range layout");

struct virtio_blk_req {
	struct virtio_blk_req *next;
	uint16_t head;
	uint32_t type;
	uint64_t sector;
	uint8_t *status;	/* the chain's last byte; NULL if it has none writable */
	uint32_t used_len;
	bool writethrough;	/* FLUSH not negotiated: sync every write */
	/* Filled by the I/O thread, added to the stats when done. */
	bool host_error;
	uint64_t bytes;
	uint64_t data_len;
	bool bounced;
	unsigned niov;
	struct iovec iov[VIRTIO_BLK_SEG_MAX];
	unsigned nranges;
	struct blk_range ranges[VIRTIO_BLK_MAX_DISCARD_SEG];
};

static void put_le(uint8_t *p, uint64_t value, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(value >> (8 * i));
}

/* ---- The I/O thread ------------------------------------------------------ */

static uint8_t serve(struct virtio_blk *b, struct virtio_blk_worker *w,
		     struct virtio_blk_req *req)
{
	struct disk_image *d = &b->disk;
	int err = 0;

	req->bounced = false;
	switch (req->type) {
	case VIRTIO_BLK_T_IN:
		err = disk_image_read(d, &w->io, req->iov, req->niov, req->sector, &req->bounced);
		if (!err)
			req->bytes = req->data_len;
		break;
	case VIRTIO_BLK_T_OUT:
		err = disk_image_write(d, &w->io, req->iov, req->niov, req->sector, &req->bounced);
		if (!err && req->writethrough)
			err = disk_image_sync(d);
		if (!err)
			req->bytes = req->data_len;
		break;
	case VIRTIO_BLK_T_FLUSH:
		err = disk_image_sync(d);
		break;
	case VIRTIO_BLK_T_DISCARD:
		for (unsigned i = 0; i < req->nranges; i++)
			disk_image_discard(d, req->ranges[i].sector, req->ranges[i].num_sectors);
		break;
	case VIRTIO_BLK_T_WRITE_ZEROES:
		for (unsigned i = 0; i < req->nranges && !err; i++)
			err = disk_image_write_zeroes(d, req->ranges[i].sector,
						      req->ranges[i].num_sectors,
						      req->ranges[i].flags &
							      VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
		if (!err && req->writethrough)
			err = disk_image_sync(d);
		break;
	default:
		break;
	}
	req->host_error = err != 0;
	return err ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
}

/* Called with b->lock held, by a thread that has just served a request
 * and found nothing queued: spins up to b->poll_window ns, the lock
 * released, for the next request, unless another thread spins already.
 * process_queue wakes no thread while one spins; the spinner looks at
 * queued again under the lock when it stops, so nothing is missed. True
 * when a request (or stop) came. */
static bool poll_queue(struct virtio_blk *b)
{
	if (b->polling || !b->poll_window)
		return false;
	b->polling = true;
	uint64_t deadline = host_monotonic_ns() + b->poll_window;
	pthread_mutex_unlock(&b->lock);
	for (unsigned turn = 0; !atomic_load_explicit(&b->queued_ready, memory_order_acquire); turn++)
		if (!host_spin_turn(turn, deadline))
			break;
	pthread_mutex_lock(&b->lock);
	b->polling = false;
	b->spins_ended++;
	return b->queued || b->stop;
}

/* Each of the I/O threads takes the oldest queued request; so requests
 * finish in any order, which virtio allows (a driver that needs one write
 * before another waits for its completion, and FLUSH covers completed
 * writes only). */
static void *io_thread(void *arg)
{
	struct virtio_blk_worker *w = arg;
	struct virtio_blk *b = w->blk;
	bool served = false;

	disk_io_init(&w->io, true);
	pthread_mutex_lock(&b->lock);
	for (;;) {
		if (served && !b->queued && !b->stop && poll_queue(b) && b->queued)
			b->io_stats.polled++;
		while (!b->queued && !b->stop) {
			b->parked++;
			pthread_cond_wait(&b->work, &b->lock);
			b->parked--;
		}
		if (b->stop)
			break;
		struct virtio_blk_req *req = b->queued;
		b->queued = req->next;
		if (!b->queued) {
			b->queued_tail = NULL;
			atomic_store_explicit(&b->queued_ready, false, memory_order_relaxed);
		}
		b->serving++;
		served = true;
		pthread_mutex_unlock(&b->lock);

		/* Guest RAM is written here, off the vCPU thread; the guest
		 * looks at it only once poll publishes the used index. */
		*req->status = serve(b, w, req);

		pthread_mutex_lock(&b->lock);
		b->serving--;
		b->last_done_ns = host_monotonic_ns();
		if (req->type == VIRTIO_BLK_T_IN)
			b->io_stats.bytes_read += req->bytes;
		else
			b->io_stats.bytes_written += req->bytes;
		b->io_stats.bounced += req->bounced;
		if (req->host_error) {
			b->io_stats.host_errors++;
			b->io_stats.io_errors++;
		}
		bool first = !b->done;
		req->next = NULL;
		if (b->done_tail)
			b->done_tail->next = req;
		else
			b->done = req;
		b->done_tail = req;
		atomic_store_explicit(&b->done_ready, true, memory_order_release);
		if (!b->serving && !b->queued)
			pthread_cond_broadcast(&b->idle);
		pthread_mutex_unlock(&b->lock);
		if (first && b->host.notify)
			b->host.notify(b->host.opaque);
		pthread_mutex_lock(&b->lock);
	}
	pthread_mutex_unlock(&b->lock);
	disk_io_destroy(&w->io);
	return NULL;
}

/* ---- Requests, on the vCPU thread --------------------------------------- */

static void report(struct virtio_blk *b, const void *ptr, uint64_t len)
{
	uint64_t gpa = (uint64_t)((const uint8_t *)ptr - b->ram->host);

	if (b->host.guest_written && len)
		b->host.guest_written(b->host.opaque, gpa, len);
}

/* What a finished request wrote into guest RAM: the data of a read or
 * GET_ID, the status byte. Reported whether the request still goes back
 * to the guest or not (a queue broken or reset meanwhile): the bytes are
 * in RAM either way, and the write log and translated code must know. */
static void report_request(struct virtio_blk *b, const struct virtio_blk_req *req)
{
	if (req->type == VIRTIO_BLK_T_IN || req->type == VIRTIO_BLK_T_GET_ID)
		for (unsigned i = 0; i < req->niov; i++)
			report(b, req->iov[i].iov_base, req->iov[i].iov_len);
	if (req->status)
		report(b, req->status, 1);
}

/* Returns finished requests to the guest (unless the queue broke or was
 * reset meanwhile: then they are only freed) and interrupts if wanted. */
static void publish(struct virtio_blk *b, struct virtio_blk_req *list)
{
	bool live = b->vq.enabled && b->vq.error == VIRTQ_ERR_NONE, pushed = false;

	while (list) {
		struct virtio_blk_req *req = list;
		list = req->next;
		report_request(b, req);
		if (live) {
			virtq_push(&b->vq, req->head, req->used_len);
			pushed = true;
		}
		req->next = b->free_reqs;
		b->free_reqs = req;
	}
	if (!pushed)
		return;
	report(b, b->vq.used, virtq_used_ring_bytes(&b->vq));
	if (virtq_flush(&b->vq))
		virtio_pci_queue_interrupt(&b->vp);
}

/* Copies len bytes of the chain's readable part from offset off. */
static void gather(const struct virtq_seg *seg, unsigned n, uint64_t off, void *dst, size_t len)
{
	uint8_t *d = dst;

	for (unsigned i = 0; i < n && len && !seg[i].writable; i++) {
		if (off >= seg[i].len) {
			off -= seg[i].len;
			continue;
		}
		size_t take = seg[i].len - off;
		if (take > len)
			take = len;
		memcpy(d, seg[i].ptr + off, take);
		d += take;
		len -= take;
		off = 0;
	}
}

/* The chain's readable (or writable) bytes [skip, skip + len) as the
 * request's data. False when they take more than SEG_MAX pieces or one
 * piece is longer than SIZE_MAX: what the device told the driver. */
static bool build_iov(struct virtio_blk_req *req, const struct virtq_seg *seg, unsigned n,
		      bool writable, uint64_t skip, uint64_t len)
{
	req->niov = 0;
	req->data_len = len;
	for (unsigned i = 0; i < n && len; i++) {
		if (seg[i].writable != writable)
			continue;
		uint64_t piece = seg[i].len;
		if (skip >= piece) {
			skip -= piece;
			continue;
		}
		piece -= skip;
		if (piece > len)
			piece = len;
		if (req->niov == VIRTIO_BLK_SEG_MAX || piece > VIRTIO_BLK_SIZE_MAX)
			return false;
		req->iov[req->niov++] = (struct iovec){ seg[i].ptr + skip, piece };
		skip = 0;
		len -= piece;
	}
	return true;
}

static bool sectors_ok(const struct virtio_blk *b, uint64_t sector, uint64_t count)
{
	return sector <= b->disk.sectors && count <= b->disk.sectors - sector;
}

/* Finishes a request on the spot; false (nothing for the I/O thread). */
static bool answer(struct virtio_blk *b, struct virtio_blk_req *req, uint8_t status)
{
	*req->status = status;
	if (status == VIRTIO_BLK_S_IOERR)
		b->cpu_stats.io_errors++;
	else if (status == VIRTIO_BLK_S_UNSUPP)
		b->cpu_stats.unsupported++;
	return false;
}

static bool bad(struct virtio_blk *b, struct virtio_blk_req *req)
{
	b->cpu_stats.bad_requests++;
	return answer(b, req, VIRTIO_BLK_S_IOERR);
}

static bool parse_rw(struct virtio_blk *b, struct virtio_blk_req *req, const struct virtq_chain *c)
{
	bool in = req->type == VIRTIO_BLK_T_IN;
	/* Reads fill the writable part but its last byte (the status);
	 * writes take the readable part after the header. */
	uint64_t len = in ? c->writable - 1 : c->readable - HEADER_SIZE;

	if (in)
		b->cpu_stats.reads++;
	else
		b->cpu_stats.writes++;
	if (!in && b->disk.readonly)
		return bad(b, req);
	if (!build_iov(req, b->segs, c->nseg, in, in ? 0 : HEADER_SIZE, len) ||
	    len % VIRTIO_BLK_SECTOR_SIZE ||
	    !sectors_ok(b, req->sector, len / VIRTIO_BLK_SECTOR_SIZE))
		return bad(b, req);
	if (in)
		req->used_len = (uint32_t)(len + 1);
	return len ? true : answer(b, req, VIRTIO_BLK_S_OK);
}

static bool parse_ranges(struct virtio_blk *b, struct virtio_blk_req *req,
			 const struct virtq_chain *c)
{
	bool discard = req->type == VIRTIO_BLK_T_DISCARD;
	uint64_t payload = c->readable - HEADER_SIZE;
	unsigned feature = discard ? VIRTIO_BLK_F_DISCARD : VIRTIO_BLK_F_WRITE_ZEROES;
	uint32_t allowed_flags = discard ? 0 : VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;

	if (discard)
		b->cpu_stats.discards++;
	else
		b->cpu_stats.write_zeroes++;
	if (b->disk.readonly)
		return bad(b, req);
	if (!virtio_pci_negotiated(&b->vp, feature))
		return answer(b, req, VIRTIO_BLK_S_UNSUPP);
	if (payload == 0 || payload % RANGE_SIZE ||
	    payload / RANGE_SIZE > VIRTIO_BLK_MAX_DISCARD_SEG)
		return bad(b, req);
	req->nranges = (unsigned)(payload / RANGE_SIZE);
	gather(b->segs, c->nseg, HEADER_SIZE, req->ranges, payload);
	for (unsigned i = 0; i < req->nranges; i++) {
		const struct blk_range *r = &req->ranges[i];
		/* Unknown flags, and unmap on a discard, are unsupported
		 * requests in the spec's words. */
		if (r->flags & ~allowed_flags)
			return answer(b, req, VIRTIO_BLK_S_UNSUPP);
		if (r->num_sectors > VIRTIO_BLK_MAX_DISCARD_SECTORS ||
		    !sectors_ok(b, r->sector, r->num_sectors))
			return bad(b, req);
	}
	return true;
}

static bool parse_get_id(struct virtio_blk *b, struct virtio_blk_req *req,
			 const struct virtq_chain *c)
{
	uint8_t id[VIRTIO_BLK_ID_BYTES] = { 0 };
	uint64_t len = c->writable - 1;

	b->cpu_stats.get_ids++;
	if (len > VIRTIO_BLK_ID_BYTES)
		len = VIRTIO_BLK_ID_BYTES;
	if (!build_iov(req, b->segs, c->nseg, true, 0, len))
		return bad(b, req);
	/* NUL-padded: the spec's string is terminated only when shorter. */
	memcpy(id, b->serial, strnlen(b->serial, VIRTIO_BLK_ID_BYTES));
	size_t at = 0;
	for (unsigned i = 0; i < req->niov; i++) {
		memcpy(req->iov[i].iov_base, id + at, req->iov[i].iov_len);
		at += req->iov[i].iov_len;
	}
	req->used_len = (uint32_t)(len + 1);
	return answer(b, req, VIRTIO_BLK_S_OK);
}

/* Checks a chain and answers it at once when it is bad, unsupported or
 * needs no host I/O; true when it goes to the I/O thread. */
static bool parse(struct virtio_blk *b, struct virtio_blk_req *req, const struct virtq_chain *c)
{
	const struct virtq_seg *last = c->nseg ? &b->segs[c->nseg - 1] : NULL;
	struct {
		uint32_t type, reserved;
		uint64_t sector;
	} hdr;

	req->head = c->head;
	req->status = NULL;
	req->used_len = 0;
	req->niov = 0;
	req->nranges = 0;
	req->data_len = 0;
	req->bytes = 0;
	req->host_error = false;
	req->writethrough = !virtio_pci_negotiated(&b->vp, VIRTIO_BLK_F_FLUSH);
	if (!last || !last->writable) {
		b->cpu_stats.no_status++;
		req->type = UINT32_MAX;
		return false;
	}
	req->status = last->ptr + last->len - 1;
	req->used_len = 1;
	req->type = UINT32_MAX;
	/* More pieces than SEG_MAX allows, or too short for a header. */
	if (c->truncated || c->readable < HEADER_SIZE)
		return bad(b, req);
	gather(b->segs, c->nseg, 0, &hdr, sizeof(hdr));
	req->type = hdr.type;
	req->sector = hdr.sector;
	switch (hdr.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		return parse_rw(b, req, c);
	case VIRTIO_BLK_T_FLUSH:
		b->cpu_stats.flushes++;
		return true;
	case VIRTIO_BLK_T_GET_ID:
		return parse_get_id(b, req, c);
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return parse_ranges(b, req, c);
	default:
		return answer(b, req, VIRTIO_BLK_S_UNSUPP);
	}
}

/* With b->lock held, as requests are queued: the spin's window (see
 * VIRTIO_BLK_POLL_MIN_NS). A spinning thread takes them: nothing to learn. */
static void adapt_poll_window(struct virtio_blk *b)
{
	if (b->polling || !b->last_done_ns)
		return;
	if (host_monotonic_ns() - b->last_done_ns <= b->poll_ns)
		b->poll_window = b->poll_ns;
	else if (b->poll_window / 2 >= VIRTIO_BLK_POLL_MIN_NS)
		b->poll_window /= 2;
	else
		b->poll_window = 0;
}

/* Takes every chain the driver made available: bad and trivial ones are
 * answered at once, the rest go to the I/O thread in one batch. Stops
 * short when every request is out (a driver re-posting chains it has not
 * got back yet); poll comes back here when some return. */
static void process_queue(struct virtio_blk *b)
{
	do {
		struct virtio_blk_req *io = NULL, *io_tail = NULL, *done = NULL;
		unsigned nio = 0;
		b->starved = false;
		while (virtio_pci_running(&b->vp)) {
			struct virtq_chain chain;
			if (!b->free_reqs) {
				b->starved = true;
				break;
			}
			int r = virtq_pop(&b->vq, b->ram, &chain, b->segs, VIRTIO_BLK_CHAIN_SEGS);
			if (r == 0)
				break;
			if (r < 0) {
				virtio_pci_device_error(&b->vp);
				break;
			}
			struct virtio_blk_req *req = b->free_reqs;
			b->free_reqs = req->next;
			req->next = NULL;
			if (parse(b, req, &chain)) {
				if (io_tail)
					io_tail->next = req;
				else
					io = req;
				io_tail = req;
				nio++;
			} else {
				req->next = done;
				done = req;
			}
		}
		if (io) {
			pthread_mutex_lock(&b->lock);
			adapt_poll_window(b);
			if (b->queued_tail)
				b->queued_tail->next = io;
			else
				b->queued = io;
			b->queued_tail = io_tail;
			atomic_store_explicit(&b->queued_ready, true, memory_order_release);
			/* A thread for each request, as far as there are; one
			 * request, a thread that spins for it takes it. */
			if (nio > 1 || !b->polling) {
				b->io_stats.wakeups++;
				if (nio > 1)
					pthread_cond_broadcast(&b->work);
				else
					pthread_cond_signal(&b->work);
			}
			pthread_mutex_unlock(&b->lock);
		}
		publish(b, done);
	} while (b->starved && b->free_reqs);
}

static void blk_queue_notify(void *opaque, unsigned queue)
{
	(void)queue;
	process_queue(opaque);
}

static void free_list(struct virtio_blk *b, struct virtio_blk_req *list)
{
	while (list) {
		struct virtio_blk_req *req = list;
		list = req->next;
		req->next = b->free_reqs;
		b->free_reqs = req;
	}
}

/* A device reset: requests not started are dropped, the one being served
 * is waited for, and nothing finished is returned to the (reset) queue;
 * what the finished ones wrote is still reported. */
static void blk_reset(void *opaque)
{
	struct virtio_blk *b = opaque;

	pthread_mutex_lock(&b->lock);
	free_list(b, b->queued);
	b->queued = b->queued_tail = NULL;
	atomic_store_explicit(&b->queued_ready, false, memory_order_relaxed);
	while (b->serving)
		pthread_cond_wait(&b->idle, &b->lock);
	struct virtio_blk_req *done = b->done;
	b->done = b->done_tail = NULL;
	atomic_store_explicit(&b->done_ready, false, memory_order_relaxed);
	pthread_mutex_unlock(&b->lock);
	for (struct virtio_blk_req *req = done; req; req = req->next)
		report_request(b, req);
	free_list(b, done);
	b->starved = false;
}

static const struct virtio_pci_ops blk_ops = {
	.queue_notify = blk_queue_notify,
	.reset = blk_reset,
};

void virtio_blk_poll(struct virtio_blk *b)
{
	if (!atomic_load_explicit(&b->done_ready, memory_order_acquire))
		return;
	pthread_mutex_lock(&b->lock);
	struct virtio_blk_req *list = b->done;
	b->done = b->done_tail = NULL;
	atomic_store_explicit(&b->done_ready, false, memory_order_relaxed);
	pthread_mutex_unlock(&b->lock);
	publish(b, list);
	if (b->starved && b->free_reqs)
		process_queue(b);
}

bool virtio_blk_busy(struct virtio_blk *b)
{
	if (!b->thread_running)
		return false;
	pthread_mutex_lock(&b->lock);
	bool busy = b->queued || b->serving || b->done;
	pthread_mutex_unlock(&b->lock);
	return busy;
}

void virtio_blk_reset(struct virtio_blk *b)
{
	if (b->thread_running)
		virtio_pci_reset(&b->vp);
}

struct virtio_blk_stats virtio_blk_get_stats(struct virtio_blk *b)
{
	struct virtio_blk_stats s = b->cpu_stats, io;

	pthread_mutex_lock(&b->lock);
	io = b->io_stats;
	pthread_mutex_unlock(&b->lock);
	s.bytes_read += io.bytes_read;
	s.bytes_written += io.bytes_written;
	s.io_errors += io.io_errors;
	s.host_errors += io.host_errors;
	s.polled = io.polled;
	s.wakeups = io.wakeups;
	s.bounced = io.bounced;
	s.device_errors = b->vp.stats.device_errors;
	return s;
}

/* ---- Opening, attaching, closing ---------------------------------------- */

int virtio_blk_open(struct virtio_blk *b, const char *path, bool readonly, bool snapshot,
		    bool defer_lock, char *err, size_t errlen)
{
	memset(b, 0, sizeof(*b));
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->work, NULL);
	pthread_cond_init(&b->idle, NULL);
	atomic_init(&b->done_ready, false);
	atomic_init(&b->queued_ready, false);
	b->poll_ns = b->poll_window = host_cpus_allowed() > 1 ? VIRTIO_BLK_POLL_NS : 0;
	b->opened = true;
	int ret = disk_image_open(&b->disk, path, readonly, snapshot, defer_lock, err, errlen);
	/* Whatever was opened goes again: a failed open leaves nothing. */
	if (ret) {
		virtio_blk_close(b);
		return ret;
	}
	const char *base = strrchr(path, '/');
	virtio_blk_set_serial(b, base ? base + 1 : path);
	return 0;
}

void virtio_blk_set_serial(struct virtio_blk *b, const char *serial)
{
	snprintf(b->serial, sizeof(b->serial), "%s", serial);
}

void virtio_blk_set_poll_ns(struct virtio_blk *b, uint64_t ns)
{
	pthread_mutex_lock(&b->lock);
	b->poll_ns = b->poll_window = ns;
	pthread_mutex_unlock(&b->lock);
}

static void fill_config(struct virtio_blk *b)
{
	uint8_t *c = b->config;

	memset(c, 0, sizeof(b->config));
	put_le(c + VIRTIO_BLK_CFG_CAPACITY, b->disk.sectors, 8);
	put_le(c + VIRTIO_BLK_CFG_SIZE_MAX, VIRTIO_BLK_SIZE_MAX, 4);
	put_le(c + VIRTIO_BLK_CFG_SEG_MAX, VIRTIO_BLK_SEG_MAX, 4);
	put_le(c + VIRTIO_BLK_CFG_BLK_SIZE, VIRTIO_BLK_SECTOR_SIZE, 4);
	put_le(c + VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS, VIRTIO_BLK_MAX_DISCARD_SECTORS, 4);
	put_le(c + VIRTIO_BLK_CFG_MAX_DISCARD_SEG, VIRTIO_BLK_MAX_DISCARD_SEG, 4);
	put_le(c + VIRTIO_BLK_CFG_DISCARD_ALIGNMENT, 1, 4);
	put_le(c + VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SECTORS, VIRTIO_BLK_MAX_DISCARD_SECTORS, 4);
	put_le(c + VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SEG, VIRTIO_BLK_MAX_DISCARD_SEG, 4);
	c[VIRTIO_BLK_CFG_WRITE_ZEROES_MAY_UNMAP] = 1;
}

static void stop_workers(struct virtio_blk *b)
{
	pthread_mutex_lock(&b->lock);
	b->stop = true;
	atomic_store_explicit(&b->queued_ready, true, memory_order_release);   /* ends a spin */
	pthread_cond_broadcast(&b->work);
	pthread_mutex_unlock(&b->lock);
	for (unsigned i = 0; i < b->nworkers; i++)
		pthread_join(b->workers[i].thread, NULL);
	b->nworkers = 0;
}

int virtio_blk_attach(struct virtio_blk *b, uint8_t devfn, const struct guest_ram *ram,
		      struct bus *bus, const struct virtio_blk_host *host)
{
	uint64_t features = 1ull << VIRTIO_BLK_F_SIZE_MAX | 1ull << VIRTIO_BLK_F_SEG_MAX |
			    1ull << VIRTIO_BLK_F_BLK_SIZE | 1ull << VIRTIO_BLK_F_FLUSH;
	int err;

	if (b->disk.fd < 0 || b->thread_running)
		return -EINVAL;
	if (b->disk.readonly)
		features |= 1ull << VIRTIO_BLK_F_RO;
	else
		features |= 1ull << VIRTIO_BLK_F_DISCARD | 1ull << VIRTIO_BLK_F_WRITE_ZEROES;
	b->ram = ram;
	b->host = *host;
	fill_config(b);
	virtq_init(&b->vq, VIRTIO_BLK_QUEUE_SIZE);
	struct virtio_pci_params p = {
		.devfn = devfn,
		.device_type = VIRTIO_ID_BLOCK,
		.class_code = VIRTIO_BLK_PCI_CLASS,
		.features = features,
		.queues = &b->vq,
		.num_queues = 1,
		.config = b->config,
		.config_len = VIRTIO_BLK_CONFIG_SIZE,
		.ops = &blk_ops,
		.opaque = b,
	};
	err = virtio_pci_init(&b->vp, &p, ram, bus);
	if (err)
		return err;
	b->reqs = calloc(VIRTIO_BLK_QUEUE_SIZE, sizeof(*b->reqs));
	if (!b->reqs)
		return -ENOMEM;
	b->free_reqs = NULL;
	for (unsigned i = 0; i < VIRTIO_BLK_QUEUE_SIZE; i++) {
		b->reqs[i].next = b->free_reqs;
		b->free_reqs = &b->reqs[i];
	}
	for (unsigned i = 0; i < VIRTIO_BLK_IO_THREADS; i++) {
		struct virtio_blk_worker *w = &b->workers[i];
		w->blk = b;
		err = host_thread_create(&w->thread, io_thread, w);
		if (err) {
			stop_workers(b);
			return err;
		}
		b->nworkers++;
	}
	b->thread_running = true;
	return 0;
}

void virtio_blk_close(struct virtio_blk *b)
{
	if (!b->opened)
		return;
	if (b->thread_running) {
		stop_workers(b);
		b->thread_running = false;
		pci_region_place(&b->vp.region, PCI_BAR_UNMAPPED);
	}
	free(b->reqs);
	b->reqs = b->free_reqs = NULL;
	disk_image_close(&b->disk);
	pthread_cond_destroy(&b->idle);
	pthread_cond_destroy(&b->work);
	pthread_mutex_destroy(&b->lock);
	b->opened = false;
}

/* ---- Snapshots ---------------------------------------------------------- */

#define VIRTIO_BLK_SNAP_VERSION 1u

void virtio_blk_quiesce(struct virtio_blk *b)
{
	if (!b->thread_running)
		return;
	/* Publishing may take more chains (a starved queue): until none. */
	for (;;) {
		pthread_mutex_lock(&b->lock);
		while (b->queued || b->serving)
			pthread_cond_wait(&b->idle, &b->lock);
		pthread_mutex_unlock(&b->lock);
		virtio_blk_poll(b);
		if (!virtio_blk_busy(b))
			break;
	}
}

void virtio_blk_save(struct virtio_blk *b, const char *tag, struct snap_writer *w)
{
	snapw_begin(w, tag, VIRTIO_BLK_SNAP_VERSION, true);
	snapw_str(w, b->disk.path);
	snapw_u64(w, b->disk.sectors);
	snapw_bool(w, b->disk.readonly);
	snapw_bool(w, b->disk.snapshot);
	virtio_pci_save(&b->vp, w);
	disk_image_save_overlay(&b->disk, w);
	snapw_end(w);
}

int virtio_blk_load(struct virtio_blk *b, struct snap_reader *r)
{
	char path[4096];
	if (r->version != VIRTIO_BLK_SNAP_VERSION)
		return snapr_fail(r, "version %u, this btvm reads %u", r->version,
				  VIRTIO_BLK_SNAP_VERSION);
	snapr_str(r, path, sizeof(path));
	uint64_t sectors = snapr_u64(r);
	bool readonly = snapr_bool(r), snapshot = snapr_bool(r);
	if (r->err)
		return r->err;
	if (sectors != b->disk.sectors)
		return snapr_fail(r, "disk %s has %llu sectors now, %llu when the snapshot was taken",
				  b->disk.path, (unsigned long long)b->disk.sectors,
				  (unsigned long long)sectors);
	if (readonly != b->disk.readonly || snapshot != b->disk.snapshot)
		return snapr_fail(r, "disk %s is opened differently (readonly, --snapshot)",
				  b->disk.path);
	virtio_pci_load(&b->vp, r);
	disk_image_load_overlay(&b->disk, r);
	return snapr_end(r);
}
