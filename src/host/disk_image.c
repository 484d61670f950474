/* The disk image behind every disk device: opening and locking, direct
 * and page-cache transfers, the bounce buffer, the --snapshot overlay and
 * its bitmap, and the overlay's place in a snapshot. See disk_image.h. */
#define _GNU_SOURCE
#include "host/disk_image.h"
#include "host/disk_snapdir.h"
#include "host/iov.h"
#include "host/overlay.h"
#include "host/snapfile.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define ZERO_CHUNK	65536u
/* Overlay data moves through a buffer this large in snapshots. */
#define SNAP_CHUNK_SECTORS 2048u

/* What write_zeroes writes where fallocate cannot zero. */
static const uint8_t zero_chunk[ZERO_CHUNK];

/* ---- The overlay's bitmap ----------------------------------------------- */

/* After a write is done: its chunks in a block migration's map. */
static void mark_dirty(struct disk_image *d, uint64_t sector, uint64_t count)
{
	if (!count || !atomic_load(&d->dirty_on))
		return;
	uint64_t first = sector / DISK_IMAGE_CHUNK_SECTORS;
	uint64_t last = (sector + count - 1) / DISK_IMAGE_CHUNK_SECTORS;
	for (uint64_t c = first; c <= last && c / 64 < d->dirty_words; c++)
		atomic_fetch_or(&d->dirty[c / 64], 1ull << (c % 64));
}

/* The map is shared by every thread doing I/O: map_lock keeps one
 * thread's bits from undoing another's in the same byte. */
static bool in_overlay(const struct disk_image *d, uint64_t sector)
{
	return d->overlay_map[sector / 8] & (1u << (sector % 8));
}

static void mark_overlay(struct disk_image *d, uint64_t sector, uint64_t count)
{
	uint64_t s = sector, end = sector + count;

	pthread_mutex_lock(&d->map_lock);
	/* Bit by bit to a byte boundary, then whole bytes, then bits again. */
	for (; s < end && s % 8; s++)
		d->overlay_map[s / 8] |= (uint8_t)(1u << (s % 8));
	if (end - s >= 8) {
		memset(d->overlay_map + s / 8, 0xff, (size_t)((end - s) / 8));
		s += (end - s) / 8 * 8;
	}
	for (; s < end; s++)
		d->overlay_map[s / 8] |= (uint8_t)(1u << (s % 8));
	pthread_mutex_unlock(&d->map_lock);
}

/* How many sectors from first (at most count) lie all in the overlay or
 * all in the image, and which. */
static uint64_t overlay_run(struct disk_image *d, uint64_t first, uint64_t count, bool *overlay)
{
	uint64_t j = 1;

	pthread_mutex_lock(&d->map_lock);
	*overlay = in_overlay(d, first);
	while (j < count && in_overlay(d, first + j) == *overlay)
		j++;
	pthread_mutex_unlock(&d->map_lock);
	return j;
}

/* ---- Transfers ----------------------------------------------------------- */

/* Whether O_DIRECT takes this transfer: every buffer's address, and the
 * offset and every length, aligned as the filesystem asks. */
static bool direct_aligned(const struct disk_image *d, const struct iovec *iov, unsigned n,
			   uint64_t off)
{
	if (d->direct_fd < 0 || off % d->dio_off_align)
		return false;
	for (unsigned i = 0; i < n; i++)
		if ((uintptr_t)iov[i].iov_base % d->dio_mem_align ||
		    iov[i].iov_len % d->dio_off_align)
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
			iov_zero(iov, n);
			return 0;
		}
		off += (size_t)r;
		iov_advance(&iov, &n, (size_t)r);
	}
	return 0;
}

/* Copies len bytes between buf and iov's bytes from off on: into iov if
 * to_iov, else out of it. */
static void iov_copy(const struct iovec *iov, unsigned n, uint64_t off, uint8_t *buf,
		     uint64_t len, bool to_iov)
{
	struct iovec piece[DISK_IMAGE_MAX_IOV];
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
static int bounce_io(struct disk_image *d, struct disk_io *io, bool write,
		     const struct iovec *iov, unsigned n, uint64_t len, uint64_t off)
{
	for (uint64_t done = 0; done < len;) {
		uint64_t chunk = len - done < DISK_IMAGE_BOUNCE_BYTES ? len - done
								      : DISK_IMAGE_BOUNCE_BYTES;
		struct iovec one = { io->bounce, (size_t)chunk };
		if (write)
			iov_copy(iov, n, done, io->bounce, chunk, false);
		int err = full_io(d->fd, d->direct_fd, write, &one, 1, off + done);
		if (err)
			return err;
		if (!write)
			iov_copy(iov, n, done, io->bounce, chunk, true);
		done += chunk;
	}
	return 0;
}

/* The image's own data: directly when the transfer allows it, through the
 * bounce buffer when there is one (then only the offset and the length
 * need the alignment). iov is io->scratch or a copy: full_io consumes it. */
static int image_io(struct disk_image *d, struct disk_io *io, bool write, struct iovec *iov,
		    unsigned n, uint64_t off, bool *bounced)
{
	uint64_t len = iov_length(iov, n);

	if (io->bounce && d->direct_fd >= 0 && off % d->dio_off_align == 0 &&
	    len % d->dio_off_align == 0 && DISK_IMAGE_BOUNCE_BYTES % d->dio_off_align == 0) {
		if (bounced)
			*bounced = true;
		return bounce_io(d, io, write, iov, n, len, off);
	}
	int direct = direct_aligned(d, iov, n, off) ? d->direct_fd : -1;
	return full_io(d->fd, direct, write, iov, n, off);
}

/* Whether a transfer of n pieces at sector is one the devices may ask:
 * their own checks keep the guest inside the image, so a false here is a
 * device bug, refused rather than allowed to grow the file. */
static bool range_ok(const struct disk_image *d, const struct iovec *iov, unsigned n,
		     uint64_t sector)
{
	uint64_t len = iov_length(iov, n);

	return n <= DISK_IMAGE_MAX_IOV && len % DISK_IMAGE_SECTOR_SIZE == 0 &&
	       sector <= d->sectors && len / DISK_IMAGE_SECTOR_SIZE <= d->sectors - sector;
}

int disk_image_read(struct disk_image *d, struct disk_io *io, const struct iovec *iov,
		    unsigned n, uint64_t sector, bool *bounced)
{
	uint64_t len = iov_length(iov, n), count = len / DISK_IMAGE_SECTOR_SIZE;

	if (!range_ok(d, iov, n, sector)) {
		assert(!"disk read outside the image");
		return -EINVAL;
	}
	if (!d->snapshot) {
		if (d->chain)
			return ovl_readv(d->chain, iov, n, sector * DISK_IMAGE_SECTOR_SIZE);
		unsigned m = iov_window(iov, n, 0, len, io->scratch);
		return image_io(d, io, false, io->scratch, m, sector * DISK_IMAGE_SECTOR_SIZE,
				bounced);
	}
	/* Runs of sectors that are all in the overlay or all in the image;
	 * the overlay (perhaps on tmpfs) goes through the page cache. */
	for (uint64_t i = 0; i < count;) {
		bool overlay;
		uint64_t run = overlay_run(d, sector + i, count - i, &overlay);
		unsigned m = iov_window(iov, n, i * DISK_IMAGE_SECTOR_SIZE,
					run * DISK_IMAGE_SECTOR_SIZE, io->scratch);
		uint64_t off = (sector + i) * DISK_IMAGE_SECTOR_SIZE;
		int err = overlay    ? full_io(d->overlay_fd, -1, false, io->scratch, m, off)
			  : d->chain ? ovl_readv(d->chain, io->scratch, m, off)
				     : image_io(d, io, false, io->scratch, m, off, bounced);
		if (err)
			return err;
		i += run;
	}
	return 0;
}

int disk_image_write(struct disk_image *d, struct disk_io *io, const struct iovec *iov,
		     unsigned n, uint64_t sector, bool *bounced)
{
	uint64_t len = iov_length(iov, n);
	uint64_t off = sector * DISK_IMAGE_SECTOR_SIZE;

	if (!range_ok(d, iov, n, sector) || d->readonly) {
		assert(!"disk write outside the image or to a read-only one");
		return d->readonly ? -EROFS : -EINVAL;
	}
	unsigned m = iov_window(iov, n, 0, len, io->scratch);
	/* Direct like reads: through the page cache, every written byte
	 * needed a host page of its own, and on a host that is itself a
	 * virtual machine a page its hypervisor never backed costs a fault
	 * there (bench/disk: 0.1 of the host's direct write buffered, 0.8
	 * direct, with virtio-blk's I/O threads serving a dd call's requests
	 * side by side). The devices' FLUSH still fdatasyncs, for the disk's
	 * own cache. */
	int err;
	if (!d->snapshot && d->chain) {
		err = ovl_writev(d->chain, io->scratch, m, off);
	} else if (!d->snapshot) {
		err = image_io(d, io, true, io->scratch, m, off, bounced);
	} else {
		err = full_io(d->overlay_fd, -1, true, io->scratch, m, off);
		if (!err)
			mark_overlay(d, sector, len / DISK_IMAGE_SECTOR_SIZE);
	}
	/* A failed write may still have changed part of the range. */
	mark_dirty(d, sector, len / DISK_IMAGE_SECTOR_SIZE);
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

int disk_image_write_zeroes(struct disk_image *d, uint64_t sector, uint64_t count, bool unmap)
{
	int fd = d->snapshot ? d->overlay_fd : d->fd;
	off_t off = (off_t)(sector * DISK_IMAGE_SECTOR_SIZE);
	off_t len = (off_t)(count * DISK_IMAGE_SECTOR_SIZE);
	int punch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	int zero = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
	int err = 0;

	if (d->readonly || sector > d->sectors || count > d->sectors - sector) {
		assert(!"zeroing outside the image or on a read-only one");
		return d->readonly ? -EROFS : -EINVAL;
	}
	if (!d->snapshot && d->chain) {
		err = ovl_write_zeroes(d->chain, (uint64_t)off, (uint64_t)len);
		mark_dirty(d, sector, count);
		return err;
	}
	/* In snapshot mode the overlay gets the zeros (its holes read as
	 * zeros, and the map then says they are its own). */
	if (fallocate(fd, unmap ? punch : zero, off, len) &&
	    fallocate(fd, unmap ? zero : punch, off, len))
		err = write_zero_bytes(fd, (uint64_t)off, (uint64_t)len);
	if (!err && d->snapshot)
		mark_overlay(d, sector, count);
	mark_dirty(d, sector, count);
	return err;
}

void disk_image_discard(struct disk_image *d, uint64_t sector, uint64_t count)
{
	/* The data after a discard is unspecified, so a filesystem without
	 * holes, a snapshot, or a chain (whose files below are frozen),
	 * keeps it. */
	if (d->snapshot || d->chain || d->readonly || sector > d->sectors || count > d->sectors - sector)
		return;
	if (fallocate(d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)(sector * DISK_IMAGE_SECTOR_SIZE),
		      (off_t)(count * DISK_IMAGE_SECTOR_SIZE))) {
		/* Not supported here: nothing was discarded, which is allowed. */
	}
	mark_dirty(d, sector, count);
}

/* ---- A block migration's dirty map ---------------------------------------- */

uint64_t disk_image_chunks(const struct disk_image *d)
{
	return (d->sectors + DISK_IMAGE_CHUNK_SECTORS - 1) / DISK_IMAGE_CHUNK_SECTORS;
}

int disk_image_dirty_start(struct disk_image *d)
{
	if (!d->dirty) {
		size_t words = (size_t)((disk_image_chunks(d) + 63) / 64);
		d->dirty = calloc(words ? words : 1, sizeof(*d->dirty));
		if (!d->dirty)
			return -ENOMEM;
		d->dirty_words = words;
	}
	for (size_t i = 0; i < d->dirty_words; i++)
		atomic_store(&d->dirty[i], 0);
	/* Sequentially consistent with the writers' load in mark_dirty: a
	 * write that found tracking off landed before this store, so before
	 * any read the migration makes after it. */
	atomic_store(&d->dirty_on, true);
	return 0;
}

void disk_image_dirty_stop(struct disk_image *d)
{
	atomic_store(&d->dirty_on, false);
}

bool disk_image_dirty_take(struct disk_image *d, uint64_t chunk)
{
	uint64_t bit = 1ull << (chunk % 64);
	return d->dirty && (atomic_fetch_and(&d->dirty[chunk / 64], ~bit) & bit);
}

uint64_t disk_image_dirty_count(const struct disk_image *d)
{
	uint64_t n = 0;
	for (size_t i = 0; d->dirty && i < d->dirty_words; i++)
		n += (uint64_t)__builtin_popcountll(atomic_load(&d->dirty[i]));
	return n;
}

int disk_image_sync(struct disk_image *d)
{
	/* The overlay is thrown away at exit: nothing to make durable. */
	if (d->snapshot)
		return 0;
	if (d->chain)
		return ovl_flush(d->chain);
	return fdatasync(d->fd) ? -errno : 0;
}

/* ---- Thread contexts ----------------------------------------------------- */

void disk_io_init(struct disk_io *io, bool with_bounce)
{
	memset(io, 0, sizeof(*io));
	if (!with_bounce)
		return;
	io->bounce = aligned_alloc(DISK_IMAGE_BOUNCE_BYTES, DISK_IMAGE_BOUNCE_BYTES);
	if (io->bounce)
		madvise(io->bounce, DISK_IMAGE_BOUNCE_BYTES, MADV_HUGEPAGE);
}

void disk_io_destroy(struct disk_io *io)
{
	free(io->bounce);
	io->bounce = NULL;
}

/* ---- Opening and closing ------------------------------------------------- */

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

/* The image once more with O_DIRECT, so transfers skip the host's page
 * cache (the guest has its own). A filesystem that refuses O_DIRECT
 * (tmpfs before Linux 6.6), or a name that no longer leads to the file
 * opened, leaves direct_fd at -1 and every transfer on fd. */
static void open_direct(struct disk_image *d, const struct stat *st, bool chained)
{
	struct stat again;
	int fd = open(d->path, (d->readonly || d->snapshot || chained ? O_RDONLY : O_RDWR) |
				       O_DIRECT | O_CLOEXEC);

	if (fd < 0)
		return;
	if (fstat(fd, &again) || again.st_dev != st->st_dev || again.st_ino != st->st_ino) {
		close(fd);
		return;
	}
	/* The alignment O_DIRECT needs, where the kernel says (6.1 on);
	 * else a page for memory and offsets, which any device accepts. */
	d->dio_mem_align = d->dio_off_align = 4096;
#ifdef STATX_DIOALIGN
	struct statx sx;
	if (!statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) && (sx.stx_mask & STATX_DIOALIGN)) {
		if (!sx.stx_dio_mem_align || !sx.stx_dio_offset_align) {
			close(fd);	/* the kernel says this file has no direct I/O */
			return;
		}
		d->dio_mem_align = sx.stx_dio_mem_align;
		d->dio_off_align = sx.stx_dio_offset_align;
	}
#endif
	d->direct_fd = fd;
}

/* An open file description lock, like QEMU's: it conflicts with any
 * other open of the file, in this process or another, so two machines
 * never write one image. On fd only: direct_fd is the same file, and a
 * lock is the description's, so one is enough. */
static int lock_image(struct disk_image *d, bool write, char *err, size_t errlen)
{
	struct flock fl = { .l_type = write ? F_WRLCK : F_RDLCK, .l_whence = SEEK_SET };
	if (fcntl(d->fd, F_OFD_SETLK, &fl)) {
		if (errno == EAGAIN || errno == EACCES) {
			snprintf(err, errlen, "image %s is in use by another process", d->path);
			return -EBUSY;
		}
		return open_fail(err, errlen, d->path, errno, "cannot lock");
	}
	return 0;
}

/* With a chain, the lock that moves (a migration's hand-over) is the
 * top's; the image and the files below keep their read locks. */
int disk_image_lock(struct disk_image *d, char *err, size_t errlen)
{
	if (d->locked)
		return 0;
	int ret = d->chain ? ovl_lock(d->chain, err, errlen)
			   : lock_image(d, !d->readonly && !d->snapshot, err, errlen);
	if (!ret)
		d->locked = true;
	return ret;
}

int disk_image_unlock(struct disk_image *d)
{
	struct flock fl = { .l_type = F_UNLCK, .l_whence = SEEK_SET };
	if (!d->locked)
		return 0;
	int ret = d->chain ? ovl_unlock(d->chain) : fcntl(d->fd, F_OFD_SETLK, &fl) ? -errno : 0;
	if (ret)
		return ret;
	d->locked = false;
	return 0;
}

static int open_image(struct disk_image *d, const char *path, bool readonly, bool snapshot,
		      bool defer_lock, char *err, size_t errlen)
{
	struct stat st;
	struct snapdir *sd = malloc(sizeof(*sd));

	d->readonly = readonly;
	d->snapshot = snapshot;
	d->path = strdup(path);
	if (!d->path || !sd) {
		free(sd);
		return open_fail(err, errlen, path, ENOMEM, NULL);
	}
	/* Snapshots beside the image: the disk is its active chain. */
	int ret = snapdir_load(path, sd, err, errlen);
	bool chained = !ret && *sd->active;
	char top[PATH_MAX + SNAPDIR_FILE_MAX];
	if (chained)
		snapdir_path(sd, sd->active, top, sizeof(top));
	free(sd);
	if (ret)
		return ret;
	/* The image is only read under --snapshot, and below a chain. */
	d->fd = open(path, (readonly || snapshot || chained ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (d->fd < 0)
		return open_fail(err, errlen, path, errno, NULL);
	if (fstat(d->fd, &st))
		return open_fail(err, errlen, path, errno, NULL);
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file or block device", path);
		return -EINVAL;
	}
	/* A write lock a migration's destination defers: the source holds
	 * it until the switch-over (disk_image_lock takes it then). A read
	 * lock coexists with the source's read lock, so it is taken now. */
	if (chained) {
		ret = lock_image(d, false, err, errlen);
		if (ret)
			return ret;
	} else if (d->readonly || d->snapshot || !defer_lock) {
		ret = disk_image_lock(d, err, errlen);
		if (ret)
			return ret;
	}
	/* lseek also sizes block devices. A size that is not a whole number
	 * of sectors leaves its tail invisible to the guest: the devices
	 * count in 512-byte sectors. */
	off_t end = lseek(d->fd, 0, SEEK_END);
	if (end < 0)
		return open_fail(err, errlen, path, errno, "cannot size");
	d->sectors = (uint64_t)end / DISK_IMAGE_SECTOR_SIZE;
	open_direct(d, &st, chained);
	if (chained) {
		bool rw = !readonly && !snapshot;
		ret = ovl_open_chain(top, d->fd, d->sectors * DISK_IMAGE_SECTOR_SIZE, rw, defer_lock,
				     &d->chain, err, errlen);
		if (ret)
			return ret;
		d->locked = !rw || !defer_lock;
	}
	if (!snapshot)
		return 0;

	int fd = open_overlay(path, err, errlen);
	if (fd < 0)
		return fd;
	d->overlay_fd = fd;
	/* As large as the image and all holes: only what the guest writes
	 * takes space. */
	if (ftruncate(fd, end))
		return open_fail(err, errlen, path, errno, "cannot size the snapshot overlay");
	/* A bit a sector, in pages the kernel supplies when first touched. */
	d->overlay_map_len = (size_t)(d->sectors / 8 + 1);
	void *map = mmap(NULL, d->overlay_map_len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED) {
		d->overlay_map_len = 0;
		return open_fail(err, errlen, path, errno, "snapshot map");
	}
	d->overlay_map = map;
	return 0;
}

int disk_image_open(struct disk_image *d, const char *path, bool readonly, bool snapshot,
		    bool defer_lock, char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	d->fd = d->overlay_fd = d->direct_fd = -1;
	pthread_mutex_init(&d->map_lock, NULL);
	d->opened = true;
	int ret = open_image(d, path, readonly, snapshot, defer_lock, err, errlen);
	/* Whatever was opened goes again: a failed open leaves nothing. */
	if (ret)
		disk_image_close(d);
	return ret;
}

void disk_image_close(struct disk_image *d)
{
	if (!d->opened)
		return;
	if (d->overlay_map)
		munmap(d->overlay_map, d->overlay_map_len);
	d->overlay_map = NULL;
	d->overlay_map_len = 0;
	ovl_close_chain(d->chain);
	d->chain = NULL;
	if (d->overlay_fd >= 0)
		close(d->overlay_fd);
	if (d->direct_fd >= 0)
		close(d->direct_fd);
	if (d->fd >= 0)
		close(d->fd);
	d->fd = d->overlay_fd = d->direct_fd = -1;
	d->locked = false;	/* the lock went with fd's description */
	free((void *)d->dirty);
	d->dirty = NULL;
	d->dirty_words = 0;
	atomic_store(&d->dirty_on, false);
	free(d->path);
	d->path = NULL;
	pthread_mutex_destroy(&d->map_lock);
	d->opened = false;
}

/* ---- Snapshots ------------------------------------------------------------ */

/* The overlay's runs of written sectors, each as start, count, data. */
void disk_image_save_overlay(struct disk_image *d, struct snap_writer *w)
{
	if (!d->snapshot)
		return;
	uint8_t *buf = malloc((size_t)SNAP_CHUNK_SECTORS * DISK_IMAGE_SECTOR_SIZE);
	if (!buf) {
		snapw_fail(w, -ENOMEM, "out of memory for the disk overlay");
		return;
	}
	uint64_t s = 0;
	while (s < d->sectors && !w->err) {
		/* Whole zero bytes of the map are skipped at once. */
		if (!(s % 8) && !d->overlay_map[s / 8]) {
			s += 8;
			continue;
		}
		if (!in_overlay(d, s)) {
			s++;
			continue;
		}
		uint64_t n = 0;
		while (s + n < d->sectors && n < SNAP_CHUNK_SECTORS && in_overlay(d, s + n))
			n++;
		size_t len = (size_t)n * DISK_IMAGE_SECTOR_SIZE;
		ssize_t got = pread(d->overlay_fd, buf, len, (off_t)(s * DISK_IMAGE_SECTOR_SIZE));
		if (got != (ssize_t)len) {
			snapw_fail(w, got < 0 ? -errno : -EIO, "%s: cannot read the snapshot overlay",
				   d->path);
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

int disk_image_load_overlay(struct disk_image *d, struct snap_reader *r)
{
	if (!d->snapshot)
		return r->err;
	uint8_t *buf = malloc((size_t)SNAP_CHUNK_SECTORS * DISK_IMAGE_SECTOR_SIZE);
	if (!buf)
		return snapr_fail(r, "out of memory for the disk overlay");
	while (!r->err) {
		uint64_t s = snapr_u64(r), n = snapr_u64(r);
		if (r->err || !n)
			break;
		if (n > SNAP_CHUNK_SECTORS || s >= d->sectors || n > d->sectors - s) {
			snapr_fail(r, "overlay run of %llu sectors at %llu outside the disk",
				   (unsigned long long)n, (unsigned long long)s);
			break;
		}
		size_t len = (size_t)n * DISK_IMAGE_SECTOR_SIZE;
		snapr_bytes(r, buf, len);
		if (r->err)
			break;
		if (pwrite(d->overlay_fd, buf, len, (off_t)(s * DISK_IMAGE_SECTOR_SIZE)) !=
		    (ssize_t)len) {
			snapr_fail(r, "cannot write the snapshot overlay: %s", strerror(errno));
			break;
		}
		mark_overlay(d, s, n);
	}
	free(buf);
	return r->err;
}

/* ---- Named snapshots: freezing and switching the chain --------------------- */

bool disk_image_freezable(const struct disk_image *d)
{
	return d->opened && !d->readonly && !d->snapshot;
}

/* Makes the overlay sd names name the disk's top, over what was below,
 * the old chain closed (already frozen or discarded: no flush). */
static int take_chain(struct disk_image *d, struct snapdir *sd, const char *name, char *err,
		      size_t errlen)
{
	char path[PATH_MAX + SNAPDIR_FILE_MAX];
	struct ovl *top;
	snapdir_path(sd, name, path, sizeof(path));
	int ret = ovl_open_chain(path, d->fd, d->sectors * DISK_IMAGE_SECTOR_SIZE, true, false,
				 &top, err, errlen);
	if (ret)
		return ret;
	if (d->chain)
		d->chain->writable = false;
	ovl_close_chain(d->chain);
	d->chain = top;
	d->locked = true;
	snprintf(sd->active, sizeof(sd->active), "%s", name);
	return 0;
}

/* The disk's top file as the chain's old top: its lock back to a write
 * lock after a failed change. */
static void unfreeze(struct disk_image *d)
{
	char ignored[256];
	if (d->chain) {
		d->chain->writable = true;
		(void)ovl_unlock(d->chain);
		(void)ovl_lock(d->chain, ignored, sizeof(ignored));
	} else {
		(void)lock_image(d, true, ignored, sizeof(ignored));
	}
}

int disk_image_freeze(struct disk_image *d, struct snapdir *sd, char *frozen, char *err,
		      size_t errlen)
{
	char name[SNAPDIR_FILE_MAX], path[PATH_MAX + SNAPDIR_FILE_MAX];
	const char *backing = d->chain ? d->chain->path : sd->image;

	if (!disk_image_freezable(d)) {
		assert(!"freezing a disk that has nothing to freeze");
		return -EINVAL;
	}
	int ret = disk_image_sync(d);
	if (ret)
		return open_fail(err, errlen, d->path, -ret, "cannot flush");
	ret = snapdir_new_overlay(sd, backing, d->sectors * DISK_IMAGE_SECTOR_SIZE, name, err,
				  errlen);
	if (ret)
		return ret;
	/* From here the old top is never written again: a read lock. */
	ret = d->chain ? ovl_freeze(d->chain) : lock_image(d, false, err, errlen);
	if (!ret) {
		const char *slash = d->chain ? strrchr(d->chain->path, '/') : NULL;
		snprintf(frozen, SNAPDIR_FILE_MAX, "%s", slash ? slash + 1 : "");
		ret = take_chain(d, sd, name, err, errlen);
		if (ret)
			unfreeze(d);
	} else if (d->chain) {
		open_fail(err, errlen, d->chain->path, -ret, "cannot freeze");
	}
	if (ret) {
		snapdir_path(sd, name, path, sizeof(path));
		unlink(path);
	}
	return ret;
}

int disk_image_switch(struct disk_image *d, struct snapdir *sd, const char *frozen, char *err,
		      size_t errlen)
{
	char name[SNAPDIR_FILE_MAX], path[PATH_MAX + SNAPDIR_FILE_MAX];

	if (!disk_image_freezable(d)) {
		assert(!"switching a disk that has nothing to freeze");
		return -EINVAL;
	}
	/* What the guest wrote since is given up, but orderly. */
	(void)disk_image_sync(d);
	snapdir_path(sd, frozen, path, sizeof(path));
	int ret = snapdir_new_overlay(sd, path, d->sectors * DISK_IMAGE_SECTOR_SIZE, name, err,
				      errlen);
	if (ret)
		return ret;
	/* The raw image written until now lies below from here on. */
	if (!d->chain && (ret = lock_image(d, false, err, errlen)) == 0) {
		ret = take_chain(d, sd, name, err, errlen);
		if (ret)
			unfreeze(d);
	} else if (d->chain) {
		ret = take_chain(d, sd, name, err, errlen);
	}
	if (ret) {
		snapdir_path(sd, name, path, sizeof(path));
		unlink(path);
	}
	return ret;
}
