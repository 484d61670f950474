/* virtio-blk: the image file (open, lock, snapshot overlay), request
 * parsing on the vCPU thread, host I/O on the device's I/O thread, and
 * completion through virtio_blk_poll. See virtio_blk.h. */
#define _GNU_SOURCE
#include "devices/virtio_blk.h"
#include "host/snapfile.h"
#include "host/clock.h"
#include "host/thread.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER_SIZE	16u
#define RANGE_SIZE	16u
#define ZERO_CHUNK	65536u

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

/* What WRITE_ZEROES writes where fallocate cannot zero. */
static const uint8_t zero_chunk[ZERO_CHUNK];

static void put_le(uint8_t *p, uint64_t value, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(value >> (8 * i));
}

/* ---- The image ---------------------------------------------------------- */

/* The overlay map is shared by the I/O threads: map_lock keeps one
 * thread's bits from undoing another's in the same byte. */
static bool in_overlay(const struct virtio_blk *b, uint64_t sector)
{
	return b->overlay_map[sector / 8] & (1u << (sector % 8));
}

static void mark_overlay(struct virtio_blk *b, uint64_t sector, uint64_t count)
{
	uint64_t s = sector, end = sector + count;

	pthread_mutex_lock(&b->map_lock);
	/* Bit by bit to a byte boundary, then whole bytes, then bits again. */
	for (; s < end && s % 8; s++)
		b->overlay_map[s / 8] |= (uint8_t)(1u << (s % 8));
	if (end - s >= 8) {
		memset(b->overlay_map + s / 8, 0xff, (size_t)((end - s) / 8));
		s += (end - s) / 8 * 8;
	}
	for (; s < end; s++)
		b->overlay_map[s / 8] |= (uint8_t)(1u << (s % 8));
	pthread_mutex_unlock(&b->map_lock);
}

/* How many sectors from first (at most count) lie all in the overlay or
 * all in the image, and which. */
static uint64_t overlay_run(struct virtio_blk *b, uint64_t first, uint64_t count, bool *overlay)
{
	uint64_t j = 1;

	pthread_mutex_lock(&b->map_lock);
	*overlay = in_overlay(b, first);
	while (j < count && in_overlay(b, first + j) == *overlay)
		j++;
	pthread_mutex_unlock(&b->map_lock);
	return j;
}

/* Copies the bytes [off, off + len) of iov into out (at most as many
 * entries as iov has). */
static unsigned iov_window(const struct iovec *iov, unsigned n, uint64_t off, uint64_t len,
			   struct iovec *out)
{
	unsigned count = 0;

	for (unsigned i = 0; i < n && len; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		uint64_t take = iov[i].iov_len - off;
		if (take > len)
			take = len;
		out[count++] = (struct iovec){ (uint8_t *)iov[i].iov_base + off, take };
		len -= take;
		off = 0;
	}
	return count;
}

/* Whether O_DIRECT takes this transfer: every buffer's address, and the
 * offset and every length, aligned as the filesystem asks. */
static bool direct_aligned(const struct virtio_blk *b, const struct iovec *iov, unsigned n,
			   uint64_t off)
{
	if (b->direct_fd < 0 || off % b->dio_off_align)
		return false;
	for (unsigned i = 0; i < n; i++)
		if ((uintptr_t)iov[i].iov_base % b->dio_mem_align ||
		    iov[i].iov_len % b->dio_off_align)
			return false;
	return true;
}

/* preadv/pwritev until all of iov (which it consumes) is done: through
 * direct (an O_DIRECT descriptor of the same file, or -1) while it takes
 * the transfer, else through fd, the page cache. The kernel keeps the two
 * coherent (a direct read writes dirty cached pages back first, a direct
 * write drops them), so a request may move from one to the other: one
 * the alignment refuses (EINVAL), or whose rest became unaligned after a
 * short transfer, goes on through fd. A read past the end of the file
 * (one shrunk under us) gives zeros, as a hole would. */
static int full_io(int fd, int direct, bool write, struct iovec *iov, unsigned n, uint64_t off)
{
	while (n) {
		int use = direct >= 0 ? direct : fd;
		ssize_t r = write ? pwritev(use, iov, (int)n, (off_t)off)
				  : preadv(use, iov, (int)n, (off_t)off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EINVAL && use == direct) {
				direct = -1;
				continue;
			}
			return -errno;
		}
		if (r == 0) {
			if (write)
				return -EIO;
			for (unsigned i = 0; i < n; i++)
				memset(iov[i].iov_base, 0, iov[i].iov_len);
			return 0;
		}
		size_t done = (size_t)r;
		off += done;
		while (n && done >= iov->iov_len) {
			done -= iov->iov_len;
			iov++;
			n--;
		}
		if (n) {
			iov->iov_base = (uint8_t *)iov->iov_base + done;
			iov->iov_len -= done;
		}
	}
	return 0;
}

/* Copies len bytes between buf and iov's bytes from off on: into iov if
 * to_iov, else out of it. */
static void iov_copy(const struct iovec *iov, unsigned n, uint64_t off, uint8_t *buf,
		     uint64_t len, bool to_iov)
{
	struct iovec piece[VIRTIO_BLK_SEG_MAX];
	unsigned count = iov_window(iov, n, off, len, piece);

	for (unsigned i = 0; i < count; i++) {
		if (to_iov)
			memcpy(piece[i].iov_base, buf, piece[i].iov_len);
		else
			memcpy(buf, piece[i].iov_base, piece[i].iov_len);
		buf += piece[i].iov_len;
	}
}

/* A direct transfer of iov's len bytes at off through the thread's bounce
 * buffer, a buffer at a time. */
static int bounce_io(struct virtio_blk *b, struct virtio_blk_worker *w, bool write,
		     const struct iovec *iov, unsigned n, uint64_t len, uint64_t off)
{
	for (uint64_t done = 0; done < len;) {
		uint64_t chunk = len - done < VIRTIO_BLK_BOUNCE_BYTES ? len - done
								      : VIRTIO_BLK_BOUNCE_BYTES;
		struct iovec one = { w->bounce, (size_t)chunk };
		if (write)
			iov_copy(iov, n, done, w->bounce, chunk, false);
		int err = full_io(b->fd, b->direct_fd, write, &one, 1, off + done);
		if (err)
			return err;
		if (!write)
			iov_copy(iov, n, done, w->bounce, chunk, true);
		done += chunk;
	}
	return 0;
}

/* The image's own data: directly when the request allows it, through the
 * bounce buffer when there is one (then only the offset and the length
 * need the alignment). */
static int image_io(struct virtio_blk *b, struct virtio_blk_worker *w, bool write,
		    struct virtio_blk_req *req, struct iovec *iov, unsigned n, uint64_t off)
{
	uint64_t len = 0;

	for (unsigned i = 0; i < n; i++)
		len += iov[i].iov_len;
	if (w->bounce && b->direct_fd >= 0 && off % b->dio_off_align == 0 &&
	    len % b->dio_off_align == 0 && VIRTIO_BLK_BOUNCE_BYTES % b->dio_off_align == 0) {
		req->bounced = true;
		return bounce_io(b, w, write, iov, n, len, off);
	}
	int direct = direct_aligned(b, iov, n, off) ? b->direct_fd : -1;
	return full_io(b->fd, direct, write, iov, n, off);
}

static int image_read(struct virtio_blk *b, struct virtio_blk_worker *w,
		      struct virtio_blk_req *req)
{
	uint64_t first = req->sector, count = req->data_len / VIRTIO_BLK_SECTOR_SIZE;

	if (!b->snapshot) {
		unsigned n = iov_window(req->iov, req->niov, 0, req->data_len, w->scratch);
		return image_io(b, w, false, req, w->scratch, n, first * VIRTIO_BLK_SECTOR_SIZE);
	}
	/* Runs of sectors that are all in the overlay or all in the image;
	 * the overlay (perhaps on tmpfs) goes through the page cache. */
	for (uint64_t i = 0; i < count;) {
		bool overlay;
		uint64_t run = overlay_run(b, first + i, count - i, &overlay);
		unsigned n = iov_window(req->iov, req->niov, i * VIRTIO_BLK_SECTOR_SIZE,
					run * VIRTIO_BLK_SECTOR_SIZE, w->scratch);
		uint64_t off = (first + i) * VIRTIO_BLK_SECTOR_SIZE;
		int err = overlay ? full_io(b->overlay_fd, -1, false, w->scratch, n, off)
				  : image_io(b, w, false, req, w->scratch, n, off);
		if (err)
			return err;
		i += run;
	}
	return 0;
}

static int image_write(struct virtio_blk *b, struct virtio_blk_worker *w,
		       struct virtio_blk_req *req)
{
	unsigned n = iov_window(req->iov, req->niov, 0, req->data_len, w->scratch);
	uint64_t off = req->sector * VIRTIO_BLK_SECTOR_SIZE;

	/* Direct like reads: through the page cache, every written byte
	 * needed a host page of its own, and on a host that is itself a
	 * virtual machine a page its hypervisor never backed costs a fault
	 * there (bench/disk: 0.1 of the host's direct write buffered, 0.8
	 * direct, with the I/O threads serving a dd call's requests side by
	 * side). FLUSH still fdatasyncs, for the disk's own cache. */
	if (!b->snapshot)
		return image_io(b, w, true, req, w->scratch, n, off);
	int err = full_io(b->overlay_fd, -1, true, w->scratch, n, off);
	if (!err)
		mark_overlay(b, req->sector, req->data_len / VIRTIO_BLK_SECTOR_SIZE);
	return err;
}

static int write_zero_bytes(int fd, uint64_t off, uint64_t len)
{
	while (len) {
		size_t chunk = len < ZERO_CHUNK ? (size_t)len : ZERO_CHUNK;
		ssize_t r = pwrite(fd, zero_chunk, chunk, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		off += (uint64_t)r;
		len -= (uint64_t)r;
	}
	return 0;
}

/* Zeroes a range keeping the file sparse: a hole when the driver allows
 * unmapping, else zeroed extents in place; whichever the filesystem does
 * not support, the other, and plain zeros as the last resort. In snapshot
 * mode the overlay gets the zeros (its holes read as zeros). */
static int image_write_zeroes(struct virtio_blk *b, const struct blk_range *r)
{
	int fd = b->snapshot ? b->overlay_fd : b->fd;
	off_t off = (off_t)(r->sector * VIRTIO_BLK_SECTOR_SIZE);
	off_t len = (off_t)((uint64_t)r->num_sectors * VIRTIO_BLK_SECTOR_SIZE);
	int punch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	int zero = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
	bool unmap = r->flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
	int err = 0;

	if (fallocate(fd, unmap ? punch : zero, off, len) &&
	    fallocate(fd, unmap ? zero : punch, off, len))
		err = write_zero_bytes(fd, (uint64_t)off, (uint64_t)len);
	if (!err && b->snapshot)
		mark_overlay(b, r->sector, r->num_sectors);
	return err;
}

/* Discarding is a hint: the data after it is unspecified, so a filesystem
 * without holes, or a snapshot (whose image must not change), keeps it. */
static void image_discard(struct virtio_blk *b, const struct blk_range *r)
{
	if (b->snapshot)
		return;
	if (fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)(r->sector * VIRTIO_BLK_SECTOR_SIZE),
		      (off_t)((uint64_t)r->num_sectors * VIRTIO_BLK_SECTOR_SIZE))) {
		/* Not supported here: nothing was discarded, which is allowed. */
	}
}

static int image_sync(struct virtio_blk *b)
{
	/* The overlay is thrown away at exit: nothing to make durable. */
	if (b->snapshot)
		return 0;
	return fdatasync(b->fd) ? -errno : 0;
}

/* ---- The I/O thread ------------------------------------------------------ */

static uint8_t serve(struct virtio_blk *b, struct virtio_blk_worker *w,
		     struct virtio_blk_req *req)
{
	int err = 0;

	req->bounced = false;
	switch (req->type) {
	case VIRTIO_BLK_T_IN:
		err = image_read(b, w, req);
		if (!err)
			req->bytes = req->data_len;
		break;
	case VIRTIO_BLK_T_OUT:
		err = image_write(b, w, req);
		if (!err && req->writethrough)
			err = image_sync(b);
		if (!err)
			req->bytes = req->data_len;
		break;
	case VIRTIO_BLK_T_FLUSH:
		err = image_sync(b);
		break;
	case VIRTIO_BLK_T_DISCARD:
		for (unsigned i = 0; i < req->nranges; i++)
			image_discard(b, &req->ranges[i]);
		break;
	case VIRTIO_BLK_T_WRITE_ZEROES:
		for (unsigned i = 0; i < req->nranges && !err; i++)
			err = image_write_zeroes(b, &req->ranges[i]);
		if (!err && req->writethrough)
			err = image_sync(b);
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

	w->bounce = aligned_alloc(VIRTIO_BLK_BOUNCE_BYTES, VIRTIO_BLK_BOUNCE_BYTES);
	if (w->bounce)
		madvise(w->bounce, VIRTIO_BLK_BOUNCE_BYTES, MADV_HUGEPAGE);
	pthread_mutex_lock(&b->lock);
	for (;;) {
		if (served && !b->queued && !b->stop && poll_queue(b) && b->queued)
			b->io_stats.polled++;
		while (!b->queued && !b->stop)
			pthread_cond_wait(&b->work, &b->lock);
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
	free(w->bounce);
	w->bounce = NULL;
	return NULL;
}

/* ---- Requests, on the vCPU thread --------------------------------------- */

static void report(struct virtio_blk *b, const void *ptr, uint64_t len)
{
	uint64_t gpa = (uint64_t)((const uint8_t *)ptr - b->ram->host);

	if (b->host.guest_written && len)
		b->host.guest_written(b->host.opaque, gpa, len);
}

/* Returns finished requests to the guest (unless the queue broke or was
 * reset meanwhile: then they are only freed) and interrupts if wanted. */
static void publish(struct virtio_blk *b, struct virtio_blk_req *list)
{
	bool live = b->vq.enabled && b->vq.error == VIRTQ_ERR_NONE, pushed = false;

	while (list) {
		struct virtio_blk_req *req = list;
		list = req->next;
		if (live) {
			if (req->type == VIRTIO_BLK_T_IN || req->type == VIRTIO_BLK_T_GET_ID)
				for (unsigned i = 0; i < req->niov; i++)
					report(b, req->iov[i].iov_base, req->iov[i].iov_len);
			if (req->status)
				report(b, req->status, 1);
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
	return sector <= b->sectors && count <= b->sectors - sector;
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
	if (!in && b->readonly)
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
	if (b->readonly)
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
			if (nio > 1)
				pthread_cond_broadcast(&b->work);
			else if (!b->polling)
				pthread_cond_signal(&b->work);
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
 * is waited for, and nothing finished is returned to the (reset) queue. */
static void blk_reset(void *opaque)
{
	struct virtio_blk *b = opaque;

	pthread_mutex_lock(&b->lock);
	free_list(b, b->queued);
	b->queued = b->queued_tail = NULL;
	atomic_store_explicit(&b->queued_ready, false, memory_order_relaxed);
	while (b->serving)
		pthread_cond_wait(&b->idle, &b->lock);
	free_list(b, b->done);
	b->done = b->done_tail = NULL;
	atomic_store_explicit(&b->done_ready, false, memory_order_relaxed);
	pthread_mutex_unlock(&b->lock);
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
	s.bounced = io.bounced;
	s.device_errors = b->vp.stats.device_errors;
	return s;
}

/* ---- Opening, attaching, closing ---------------------------------------- */

/* An unlinked file for --snapshot's writes, where temporary files go:
 * $TMPDIR if set, else beside the image, else /tmp. */
static int open_overlay(const char *image, char *err, size_t errlen)
{
	char image_dir[PATH_MAX];
	const char *dirs[3];
	unsigned ndirs = 0;
	const char *tmpdir = getenv("TMPDIR");
	int last_errno = ENOENT;

	if (tmpdir && *tmpdir)
		dirs[ndirs++] = tmpdir;
	snprintf(image_dir, sizeof(image_dir), "%s", image);
	char *slash = strrchr(image_dir, '/');
	if (!slash)
		snprintf(image_dir, sizeof(image_dir), ".");
	else if (slash == image_dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	dirs[ndirs++] = image_dir;
	dirs[ndirs++] = "/tmp";
	for (unsigned i = 0; i < ndirs; i++) {
		int fd = open(dirs[i], O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (fd >= 0)
			return fd;
		last_errno = errno;
		/* A filesystem without O_TMPFILE: create and unlink at once. */
		if (errno == EOPNOTSUPP || errno == EISDIR) {
			char name[PATH_MAX];
			snprintf(name, sizeof(name), "%s/btvm-snapshot-XXXXXX", dirs[i]);
			fd = mkostemp(name, O_CLOEXEC);
			if (fd >= 0) {
				unlink(name);
				return fd;
			}
			last_errno = errno;
		}
	}
	snprintf(err, errlen, "%s: cannot create a snapshot overlay: %s", image,
		 strerror(last_errno));
	return -last_errno;
}

static int open_fail(char *err, size_t errlen, const char *path, int e, const char *what)
{
	if (what)
		snprintf(err, errlen, "%s: %s: %s", path, what, strerror(e));
	else
		snprintf(err, errlen, "%s: %s", path, strerror(e));
	return -e;
}

/* The image once more with O_DIRECT, so reads and writes of guest RAM
 * skip the host's page cache (the guest has its own): the data goes
 * between the disk and guest RAM with no copy on this side, which is most
 * of the cost of a large request. A filesystem that refuses O_DIRECT
 * (tmpfs before Linux 6.6), or a name that no longer leads to the file
 * opened, leaves direct_fd at -1 and every request on fd. */
static void open_direct(struct virtio_blk *b, const struct stat *st)
{
	struct stat again;
	int fd = open(b->path, (b->readonly || b->snapshot ? O_RDONLY : O_RDWR) | O_DIRECT |
				       O_CLOEXEC);

	if (fd < 0)
		return;
	if (fstat(fd, &again) || again.st_dev != st->st_dev || again.st_ino != st->st_ino) {
		close(fd);
		return;
	}
	/* The alignment O_DIRECT needs, where the kernel says (6.1 on);
	 * else a page for memory and offsets, which any device accepts. */
	b->dio_mem_align = b->dio_off_align = 4096;
#ifdef STATX_DIOALIGN
	struct statx sx;
	if (!statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) && (sx.stx_mask & STATX_DIOALIGN)) {
		if (!sx.stx_dio_mem_align || !sx.stx_dio_offset_align) {
			close(fd);	/* the kernel says this file has no direct I/O */
			return;
		}
		b->dio_mem_align = sx.stx_dio_mem_align;
		b->dio_off_align = sx.stx_dio_offset_align;
	}
#endif
	b->direct_fd = fd;
}

static int open_image(struct virtio_blk *b, const char *path, bool readonly, bool snapshot,
		      char *err, size_t errlen)
{
	struct stat st;

	b->readonly = readonly;
	b->snapshot = snapshot;
	b->path = strdup(path);
	if (!b->path)
		return open_fail(err, errlen, path, ENOMEM, NULL);
	/* The image is only read under --snapshot. */
	b->fd = open(path, (readonly || snapshot ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (b->fd < 0)
		return open_fail(err, errlen, path, errno, NULL);
	if (fstat(b->fd, &st))
		return open_fail(err, errlen, path, errno, NULL);
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file or block device", path);
		return -EINVAL;
	}
	/* An open file description lock, like QEMU's: it conflicts with any
	 * other open of the file, in this process or another, so two
	 * machines never write one image. */
	struct flock fl = {
		.l_type = readonly || snapshot ? F_RDLCK : F_WRLCK,
		.l_whence = SEEK_SET,
	};
	if (fcntl(b->fd, F_OFD_SETLK, &fl)) {
		if (errno == EAGAIN || errno == EACCES) {
			snprintf(err, errlen, "image %s is in use by another process", path);
			return -EBUSY;
		}
		return open_fail(err, errlen, path, errno, "cannot lock");
	}
	/* lseek also sizes block devices. A size that is not a whole number
	 * of sectors leaves its tail invisible to the guest: the device
	 * counts in 512-byte sectors. */
	off_t end = lseek(b->fd, 0, SEEK_END);
	if (end < 0)
		return open_fail(err, errlen, path, errno, "cannot size");
	b->sectors = (uint64_t)end / VIRTIO_BLK_SECTOR_SIZE;
	const char *base = strrchr(path, '/');
	virtio_blk_set_serial(b, base ? base + 1 : path);
	open_direct(b, &st);
	if (!snapshot)
		return 0;

	int fd = open_overlay(path, err, errlen);
	if (fd < 0)
		return fd;
	b->overlay_fd = fd;
	/* As large as the image and all holes: only what the guest writes
	 * takes space. */
	if (ftruncate(fd, end))
		return open_fail(err, errlen, path, errno, "cannot size the snapshot overlay");
	/* A bit a sector, in pages the kernel supplies when first touched. */
	b->overlay_map_len = (size_t)(b->sectors / 8 + 1);
	void *map = mmap(NULL, b->overlay_map_len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED) {
		b->overlay_map_len = 0;
		return open_fail(err, errlen, path, errno, "snapshot map");
	}
	b->overlay_map = map;
	return 0;
}

int virtio_blk_open(struct virtio_blk *b, const char *path, bool readonly, bool snapshot,
		    char *err, size_t errlen)
{
	memset(b, 0, sizeof(*b));
	b->fd = b->overlay_fd = b->direct_fd = -1;
	pthread_mutex_init(&b->lock, NULL);
	pthread_mutex_init(&b->map_lock, NULL);
	pthread_cond_init(&b->work, NULL);
	pthread_cond_init(&b->idle, NULL);
	atomic_init(&b->done_ready, false);
	atomic_init(&b->queued_ready, false);
	b->poll_ns = b->poll_window = host_cpus_allowed() > 1 ? VIRTIO_BLK_POLL_NS : 0;
	b->opened = true;
	int ret = open_image(b, path, readonly, snapshot, err, errlen);
	/* Whatever was opened goes again: a failed open leaves nothing. */
	if (ret)
		virtio_blk_close(b);
	return ret;
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
	put_le(c + VIRTIO_BLK_CFG_CAPACITY, b->sectors, 8);
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

	if (b->fd < 0 || b->thread_running)
		return -EINVAL;
	if (b->readonly)
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
	if (b->overlay_map)
		munmap(b->overlay_map, b->overlay_map_len);
	b->overlay_map = NULL;
	if (b->overlay_fd >= 0)
		close(b->overlay_fd);
	if (b->direct_fd >= 0)
		close(b->direct_fd);
	if (b->fd >= 0)
		close(b->fd);
	b->fd = b->overlay_fd = b->direct_fd = -1;
	free(b->path);
	b->path = NULL;
	pthread_cond_destroy(&b->idle);
	pthread_cond_destroy(&b->work);
	pthread_mutex_destroy(&b->map_lock);
	pthread_mutex_destroy(&b->lock);
	b->opened = false;
}

/* ---- Snapshots ---------------------------------------------------------- */

#define VIRTIO_BLK_SNAP_VERSION 1u
/* Overlay data moves through a buffer this large. */
#define SNAP_CHUNK_SECTORS 2048u

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

/* The overlay's runs of written sectors, each as start, count, data. */
static void save_overlay(struct virtio_blk *b, struct snap_writer *w)
{
	uint8_t *buf = malloc((size_t)SNAP_CHUNK_SECTORS * VIRTIO_BLK_SECTOR_SIZE);
	if (!buf) {
		snapw_fail(w, -ENOMEM, "out of memory for the disk overlay");
		return;
	}
	uint64_t s = 0;
	while (s < b->sectors && !w->err) {
		/* Whole zero bytes of the map are skipped at once. */
		if (!(s % 8) && !b->overlay_map[s / 8]) {
			s += 8;
			continue;
		}
		if (!in_overlay(b, s)) {
			s++;
			continue;
		}
		uint64_t n = 0;
		while (s + n < b->sectors && n < SNAP_CHUNK_SECTORS && in_overlay(b, s + n))
			n++;
		size_t len = (size_t)n * VIRTIO_BLK_SECTOR_SIZE;
		ssize_t got = pread(b->overlay_fd, buf, len, (off_t)(s * VIRTIO_BLK_SECTOR_SIZE));
		if (got != (ssize_t)len) {
			snapw_fail(w, got < 0 ? -errno : -EIO, "%s: cannot read the snapshot overlay",
				   b->path);
			break;
		}
		snapw_u64(w, s);
		snapw_u64(w, n);
		snapw_bytes(w, buf, len);
		s += n;
	}
	snapw_u64(w, 0);
	snapw_u64(w, 0);   /* no more runs */
	free(buf);
}

static int load_overlay(struct virtio_blk *b, struct snap_reader *r)
{
	uint8_t *buf = malloc((size_t)SNAP_CHUNK_SECTORS * VIRTIO_BLK_SECTOR_SIZE);
	if (!buf)
		return snapr_fail(r, "out of memory for the disk overlay");
	while (!r->err) {
		uint64_t s = snapr_u64(r), n = snapr_u64(r);
		if (r->err || !n)
			break;
		if (n > SNAP_CHUNK_SECTORS || s >= b->sectors || n > b->sectors - s) {
			snapr_fail(r, "overlay run of %llu sectors at %llu outside the disk",
				   (unsigned long long)n, (unsigned long long)s);
			break;
		}
		size_t len = (size_t)n * VIRTIO_BLK_SECTOR_SIZE;
		snapr_bytes(r, buf, len);
		if (r->err)
			break;
		if (pwrite(b->overlay_fd, buf, len, (off_t)(s * VIRTIO_BLK_SECTOR_SIZE)) !=
		    (ssize_t)len) {
			snapr_fail(r, "cannot write the snapshot overlay: %s", strerror(errno));
			break;
		}
		mark_overlay(b, s, n);
	}
	free(buf);
	return r->err;
}

void virtio_blk_save(struct virtio_blk *b, const char *tag, struct snap_writer *w)
{
	snapw_begin(w, tag, VIRTIO_BLK_SNAP_VERSION, true);
	snapw_str(w, b->path);
	snapw_u64(w, b->sectors);
	snapw_bool(w, b->readonly);
	snapw_bool(w, b->snapshot);
	virtio_pci_save(&b->vp, w);
	if (b->snapshot)
		save_overlay(b, w);
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
	if (sectors != b->sectors)
		return snapr_fail(r, "disk %s has %llu sectors now, %llu when the snapshot was taken",
				  b->path, (unsigned long long)b->sectors,
				  (unsigned long long)sectors);
	if (readonly != b->readonly || snapshot != b->snapshot)
		return snapr_fail(r, "disk %s is opened differently (readonly, --snapshot)", b->path);
	virtio_pci_load(&b->vp, r);
	if (snapshot)
		load_overlay(b, r);
	return snapr_end(r);
}
