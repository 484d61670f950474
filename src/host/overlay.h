/* btvm's overlay (redo log) files: a disk's writes since a snapshot froze
 * the file below, in 64 KiB clusters, on top of a chain that ends at the
 * raw disk image. The format is docs/OVERLAY.md's; this module creates,
 * checks, opens, reads and writes it, and walks a chain for reads.
 *
 * A chain is a list of struct ovl from the top (the only one written) to
 * the bottom, whose backing is the raw image (base_fd, not owned). Every
 * file of a chain is locked: the top with a write lock when it is
 * writable, the others with read locks.
 *
 * Crash safety: a cluster's data is written before the map entry naming
 * it; new map entries wait in memory until ovl_flush, which fdatasyncs
 * the data, writes the entries and fdatasyncs again. So what a guest saw
 * flushed is never lost, and a crash at any point leaves the file's map
 * naming only clusters whose data is whole (a cluster written but not
 * yet named is leaked space, never read).
 *
 * Threads: any number may read and write the top at once; the map has a
 * lock. Opening, closing and flushing are for one thread while nothing
 * else uses the chain. Errors are negative errnos with one line in err
 * naming the file. */
#ifndef BTVM_HOST_OVERLAY_H
#define BTVM_HOST_OVERLAY_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define OVL_CLUSTER_SIZE	65536u
#define OVL_HEADER_BYTES	4096u
/* How deep a chain may be: deeper is taken as a loop or a damaged file. */
#define OVL_MAX_CHAIN		256u
#define OVL_ID_BYTES		16u

struct ovl {
	char *path;
	int fd;
	bool writable, locked;
	uint64_t size;		/* the virtual disk's bytes */
	uint64_t nclusters;	/* map entries */
	uint64_t map_off;	/* the map's offset in the file */
	uint8_t id[OVL_ID_BYTES];
	/* Per virtual cluster, the file cluster holding it, 0 when not here. */
	uint32_t *map;
	/* A bit per map entry set in memory but not yet in the file. */
	uint64_t *pending;
	bool any_pending;
	uint32_t next_cluster;	/* where the next allocation goes */
	pthread_mutex_t lock;
	struct ovl *backing;	/* NULL: the raw image below */
	int base_fd;		/* the raw image, not owned */
	uint64_t base_size;
};

/* Whether fd's file starts with the overlay magic (0: no, 1: yes, or a
 * negative errno). */
int ovl_is_overlay(int fd);

/* Creates path (exclusively, mode 0600) as an empty overlay over backing
 * (an overlay file or the raw image, whose path is stored relative to
 * path's directory when both are absolute), of size bytes, and fdatasyncs
 * it and its directory. 0 or a negative errno. */
int ovl_create(const char *path, const char *backing, uint64_t size, char *err, size_t errlen);

/* Opens the chain whose top is path, down to the raw image base_fd (of
 * base_size bytes; every file's virtual size must be it), each file
 * checked (header, map, the backing's identity, loops). The top is opened
 * read-write with a write lock when writable (defer_lock: without the
 * lock, for ovl_lock later), the rest read-only with read locks.
 * 0 with *top set, or a negative errno with one line in err. */
int ovl_open_chain(const char *path, int base_fd, uint64_t base_size, bool writable,
		   bool defer_lock, struct ovl **top, char *err, size_t errlen);
/* The same without checking the raw image's identity: for finishing a
 * commit that a crash interrupted (the image half written, the chain
 * still whole above it). */
int ovl_open_chain_any_base(const char *path, int base_fd, uint64_t base_size,
			    struct ovl **top, char *err, size_t errlen);
/* Read-only and without locks: a look at the disk as its last flush left
 * it, while a machine may be using it (reading its kernel). */
int ovl_open_chain_unlocked(const char *path, int base_fd, uint64_t base_size,
			    struct ovl **top, char *err, size_t errlen);
/* Closes every file of the chain (flushing a writable top first). */
void ovl_close_chain(struct ovl *top);

/* The top's lock (write when writable): 0, -EBUSY with one line in err. */
int ovl_lock(struct ovl *top, char *err, size_t errlen);
int ovl_unlock(struct ovl *top);

/* Reads or writes len bytes (n pieces) at the virtual offset off, inside
 * the disk. Writes go to the top, which must be writable; a cluster not
 * in it yet is copied up from below first. 0 or a negative errno. */
int ovl_readv(struct ovl *top, const struct iovec *iov, unsigned n, uint64_t off);
int ovl_writev(struct ovl *top, const struct iovec *iov, unsigned n, uint64_t off);
/* Writes zeros to [off, off + len). */
int ovl_write_zeroes(struct ovl *top, uint64_t off, uint64_t len);
/* Makes every write so far durable (the guest's FLUSH). */
int ovl_flush(struct ovl *top);

/* Turns the writable top into a frozen file: flushed, read lock. */
int ovl_freeze(struct ovl *top);

/* Whether virtual cluster c is held by an overlay of the chain (not the
 * raw image), for committing. */
bool ovl_cluster_in_chain(const struct ovl *top, uint64_t c);

/* The backing file path's header names, resolved against path's
 * directory (the header checked, the map not read). */
int ovl_backing_of(const char *path, char *out, size_t outlen, char *err, size_t errlen);

#endif
