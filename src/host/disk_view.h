/* A read-only look at a disk as its guest sees it, taking no lock: the
 * raw image, or the chain its snapshot directory names (docs/OVERLAY.md)
 * down to it. What boot/disk_boot.c reads a disk's kernel through, so
 * that a disk with snapshots boots the kernel its guest last wrote, not
 * the one frozen in the raw image. */
#ifndef BTVM_HOST_DISK_VIEW_H
#define BTVM_HOST_DISK_VIEW_H

#include <stddef.h>
#include <stdint.h>

struct ovl;

struct disk_view {
	int fd;			/* the raw image, read-only */
	uint64_t size;		/* bytes the guest sees */
	struct ovl *chain;	/* NULL: the raw image alone */
};

/* 0, or a negative errno with one line in err naming the file (missing,
 * not a regular file or block device, a damaged chain or index). */
int disk_view_open(struct disk_view *v, const char *path, char *err, size_t errlen);
/* len bytes at off, inside the disk: 0, -EIO past its end, or a negative
 * errno. */
int disk_view_read(struct disk_view *v, void *buf, size_t len, uint64_t off);
/* Safe after a failed open, and twice. */
void disk_view_close(struct disk_view *v);

#endif
