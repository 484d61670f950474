/* The disks at a live migration's switch-over on shared storage
 * (machine/control.h): the source finishes what is in flight, makes it
 * durable and lets its write locks go; the destination, which opened the
 * images without them (board_config's defer_disk_locks), takes them when
 * the machine's state arrives. Only read-write images take part: the
 * read locks of read-only images and CDs coexist on both sides. A block
 * migration copies the same read-write images, found by board_rw_disk. */
#include "machine/board_internal.h"

#include <stdio.h>
#include <string.h>

#include "host/disk_image.h"

/* Every read-write image of the machine, in a fixed order: the virtio
 * disks, then the IDE slots. NULL past the last. */
static struct disk_image *rw_image(struct board *board, unsigned *i)
{
	while (*i < board->cfg.ndisks + IDE_SLOTS) {
		unsigned n = (*i)++;
		struct disk_image *d = n < board->cfg.ndisks
					       ? &board->disks[n].disk
					       : ide_slot_image(&board->ide, n - board->cfg.ndisks);
		if (d && !d->readonly && !d->snapshot)
			return d;
	}
	return NULL;
}

struct disk_image *board_rw_disk(struct board *board, unsigned n)
{
	struct disk_image *d;
	unsigned i = 0;
	while ((d = rw_image(board, &i)) && n--)
		;
	return d;
}

bool board_has_drives(const struct board *board)
{
	bool any = board->cfg.ndisks > 0;
	for (unsigned slot = 0; slot < BOARD_IDE_SLOTS; slot++)
		any |= board->cfg.ide[slot].kind != BOARD_IDE_NONE;
	return any;
}

void board_disks_quiesce(struct board *board)
{
	/* IDE transfers run on the vCPU thread, whole: stopped, none is in
	 * flight. virtio-blk's I/O threads may still hold requests. */
	for (unsigned i = 0; i < board->cfg.ndisks; i++)
		virtio_blk_quiesce(&board->disks[i]);
}

int board_disks_release(struct board *board, char *err, size_t err_len)
{
	struct disk_image *d;
	unsigned i = 0;
	while ((d = rw_image(board, &i))) {
		/* What the guest wrote reaches the storage the destination
		 * reads before it may take the image. */
		int ret = disk_image_sync(d);
		if (!ret)
			ret = disk_image_unlock(d);
		if (ret) {
			snprintf(err, err_len, "%s: %s", d->path, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

int board_disks_lock(struct board *board, char *err, size_t err_len)
{
	struct disk_image *d;
	unsigned i = 0;
	while ((d = rw_image(board, &i))) {
		int ret = disk_image_lock(d, err, err_len);
		if (ret)
			return ret;
	}
	return 0;
}
