/* A raw disk image as the disk devices see it (virtio-blk, the IDE disks
 * and CD-ROM): the file opened and locked, its size in 512-byte sectors,
 * reads and writes of host memory (guest RAM or a device's buffer) at a
 * sector, zeroing, discarding, syncing, and under --snapshot an overlay
 * that takes every write. One module, so that every disk has the same
 * semantics.
 *
 * Opening: O_RDWR, or O_RDONLY when read-only or under --snapshot, and
 * once more with O_DIRECT where the filesystem allows it. The image is
 * locked as QEMU locks its images (an OFD lock on the whole file: a write
 * lock for read-write, a read lock otherwise), so two VMMs never write one
 * image, and a second open in this process conflicts the same way. Raw
 * format only; a size that is not whole sectors loses its tail.
 *
 * Direct I/O: a transfer whose offset and length are aligned as statx's
 * DIOALIGN says goes between the disk and memory without the host's page
 * cache (the guest caches for itself): through the caller's bounce buffer
 * when it has one (then only the offset and the length need aligning),
 * else straight to memory when every buffer is aligned too. Any other
 * transfer, one the kernel refuses with EINVAL, a filesystem without
 * O_DIRECT, and the overlay go through the page cache; the kernel keeps
 * the two views coherent. Why a bounce buffer: direct I/O to and from guest
 * RAM, a shared memfd of pages the host scattered, was slower than a copy
 * plus a transfer from an anonymous buffer (docs/DESIGN.md, Devices).
 *
 * --snapshot: writes (and zeroing) go to an unlinked sparse overlay file
 * in $TMPDIR, else beside the image, else /tmp, with a bitmap of the
 * sectors it holds; a read takes each run of sectors from where it is
 * newest; the image itself is never written, syncing is a no-op, and the
 * overlay goes with the process.
 *
 * Chains (docs/OVERLAY.md): when IMAGE.btvm-snapshots/index.json names
 * an active overlay, the disk is that overlay's chain (host/overlay.h)
 * down to the image: the image is then opened read-only with a read
 * lock, every overlay below the top too, and the top takes the writes
 * (with the write lock, unless read-only or --snapshot). Reads and writes
 * of a chain go through the page cache. disk_image_freeze (a named
 * savevm) puts a new overlay on top, disk_image_switch (loadvm) a new one
 * over a snapshot's frozen file.
 *
 * Threads: any number may read and write at once (each with its own
 * struct disk_io); the overlay's bitmap has a lock of its own. Opening,
 * closing, saving and loading are for one thread while nothing else uses
 * the image.
 *
 * Errors: host failures come back as a negative errno for the device to
 * turn into its own guest-visible error. Range checks are the device's:
 * a transfer outside the image, or a write to a read-only one, is a
 * device bug, asserted and refused (-EINVAL, -EROFS) so that no guest
 * value can grow or change the file through one. */
#ifndef BTVM_HOST_DISK_IMAGE_H
#define BTVM_HOST_DISK_IMAGE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define DISK_IMAGE_SECTOR_SIZE	512u
/* A block migration's unit: the dirty map has a bit per this many
 * sectors (64 KiB), and the stream carries the image in such chunks. */
#define DISK_IMAGE_CHUNK_SECTORS 128u
/* Pieces of memory one read or write may name. */
#define DISK_IMAGE_MAX_IOV	128u
/* A bounce buffer's size: a longer direct transfer goes a buffer at a
 * time. On the benchmark host (a virtual machine) a 1 MiB O_DIRECT write
 * from guest RAM took 270-380 us, the same from an anonymous buffer
 * 190-220 us, with the copy into that buffer 230-320 us; reads 550-880 us
 * against 410-550 us; 4 KiB reads 62-70 us against 55-59 us. Huge-page
 * aligned so the host can back it with one. */
#define DISK_IMAGE_BOUNCE_BYTES	(2u << 20)

struct disk_image {
	char *path;
	int fd;		/* the image: read-write, or read-only */
	/* The image again with O_DIRECT, or -1 where the filesystem refuses
	 * it; used for transfers aligned as dio_* say (statx's DIOALIGN). */
	int direct_fd;
	uint32_t dio_mem_align, dio_off_align;
	int overlay_fd;	/* --snapshot's writes, else -1 */
	bool readonly, snapshot;
	uint64_t sectors;	/* of DISK_IMAGE_SECTOR_SIZE bytes */
	uint8_t *overlay_map;	/* a bit per sector in the overlay, under map_lock */
	size_t overlay_map_len;
	pthread_mutex_t map_lock;
	bool opened;		/* between a disk_image_open and its close */
	/* fd holds its lock. Not during a migration's switch-over: the
	 * source hands a write lock over, the destination takes it then. */
	bool locked;
	/* A block migration's record of the chunks written since it last
	 * looked, a bit per DISK_IMAGE_CHUNK_SECTORS, set by every write,
	 * zeroing and discard while dirty_on. Allocated by the first
	 * disk_image_dirty_start and kept to the close, so that a writer on
	 * another thread never finds it gone. */
	_Atomic uint64_t *dirty;
	size_t dirty_words;
	atomic_bool dirty_on;
	/* The overlay chain the disk reads and writes through, NULL while
	 * the raw image is written itself. */
	struct ovl *chain;
};

/* What one thread brings to a transfer: room to cut the caller's pieces
 * into runs, and its bounce buffer. */
struct disk_io {
	/* DISK_IMAGE_BOUNCE_BYTES, the thread's own; NULL without one (then
	 * direct transfers go straight to the caller's memory). */
	uint8_t *bounce;
	struct iovec scratch[DISK_IMAGE_MAX_IOV];
};

/* Opens and locks path into a fresh d. Returns 0, or a negative errno
 * with one line in err naming the file (missing or unreadable, not a file
 * or block device, in use by another process: -EBUSY, no overlay
 * possible); a failed open leaves nothing open, and disk_image_close on
 * it is harmless. defer_lock: a read-write image is opened without its
 * write lock (a live migration's destination, whose source holds it
 * until the switch-over); disk_image_lock takes it. */
int disk_image_open(struct disk_image *d, const char *path, bool readonly, bool snapshot,
		    bool defer_lock, char *err, size_t errlen);
/* Takes the image's lock (a no-op when held): 0, or -EBUSY when another
 * process holds a conflicting one, each with one line in err. */
int disk_image_lock(struct disk_image *d, char *err, size_t errlen);
/* Lets the lock go (a no-op when not held): 0 or a negative errno. The
 * image stays open; nothing may write it until it is locked again. */
int disk_image_unlock(struct disk_image *d);
/* Closes the files (the overlay goes) and frees the map. Safe after a
 * failed open, and twice. */
void disk_image_close(struct disk_image *d);

/* A thread's transfer context; with_bounce asks for a bounce buffer
 * (huge pages where the host gives them), which may still be NULL when
 * memory is short: transfers then go without. */
void disk_io_init(struct disk_io *io, bool with_bounce);
void disk_io_destroy(struct disk_io *io);

/* Reads or writes the n pieces of iov (n <= DISK_IMAGE_MAX_IOV, the
 * total a whole number of sectors inside the image) at sector. *bounced
 * (may be NULL) is set when a part went through io's bounce buffer. A
 * read past the end of a file that shrank under us gives zeros. 0 or a
 * negative errno. */
int disk_image_read(struct disk_image *d, struct disk_io *io, const struct iovec *iov,
		    unsigned n, uint64_t sector, bool *bounced);
int disk_image_write(struct disk_image *d, struct disk_io *io, const struct iovec *iov,
		     unsigned n, uint64_t sector, bool *bounced);
/* Zeroes count sectors keeping the file sparse: a hole when unmap allows
 * it, else zeroed extents in place; whichever the filesystem does not
 * support, the other, and plain zeros as the last resort. */
int disk_image_write_zeroes(struct disk_image *d, uint64_t sector, uint64_t count, bool unmap);
/* A hint: punches a hole where the filesystem can; never under
 * --snapshot (the image must not change). */
void disk_image_discard(struct disk_image *d, uint64_t sector, uint64_t count);
/* fdatasync of the image: what a device's FLUSH does. Nothing to make
 * durable under --snapshot. */
int disk_image_sync(struct disk_image *d);

/* A block migration's write tracking (one thread starts, stops and
 * takes; any thread writes): start clears the map and turns it on (0 or
 * -ENOMEM); take clears a chunk's bit and says whether it was set, to be
 * called before the chunk is read for sending, so that a write landing
 * after the read sets it again; count is how many are set. A write marks
 * its chunks once it is done. */
uint64_t disk_image_chunks(const struct disk_image *d);
int disk_image_dirty_start(struct disk_image *d);
void disk_image_dirty_stop(struct disk_image *d);
bool disk_image_dirty_take(struct disk_image *d, uint64_t chunk);
uint64_t disk_image_dirty_count(const struct disk_image *d);

struct snapdir;
/* Whether a named snapshot freezes this disk: read-write, not under
 * --snapshot (read-only disks and CD-ROMs have nothing to freeze). */
bool disk_image_freezable(const struct disk_image *d);
/* A named savevm, with nothing in flight: makes the disk's writes so far
 * durable, freezes its top file (read lock from now) and puts a new
 * overlay of sd's directory on it, which takes the writes from now on;
 * frozen gets the frozen file's name in sd ("" for the raw image) and
 * sd's active the new one (the caller saves sd). 0 or a negative errno
 * with one line in err; on failure the disk goes on as it was. */
int disk_image_freeze(struct disk_image *d, struct snapdir *sd, char *frozen, char *err,
		      size_t errlen);
/* A loadvm, with nothing in flight: the disk goes on from a new overlay
 * over sd's file frozen ("" the raw image); the old chain is closed
 * (the caller collects what no snapshot needs). 0 or a negative errno
 * with one line in err; on failure the disk goes on as it was. */
int disk_image_switch(struct disk_image *d, struct snapdir *sd, const char *frozen, char *err,
		      size_t errlen);

struct snap_writer;
struct snap_reader;
/* Under --snapshot, the overlay's runs of written sectors, inside the
 * device's own section; load fills a fresh overlay from them (runs
 * outside the image are a bad file). Nothing without --snapshot. */
void disk_image_save_overlay(struct disk_image *d, struct snap_writer *w);
int disk_image_load_overlay(struct disk_image *d, struct snap_reader *r);

#endif
