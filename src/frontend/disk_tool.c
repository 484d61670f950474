/* btvm img info and commit. See disk_tool.h and docs/OVERLAY.md. */
#define _GNU_SOURCE
#include "frontend/disk_tool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "host/disk_image.h"
#include "host/disk_snapdir.h"
#include "host/overlay.h"

static int usage(void)
{
	fputs("usage: btvm img info IMAGE     the overlay chain checked, the snapshots listed\n"
	      "       btvm img commit IMAGE   the overlays written into IMAGE, then removed\n",
	      stderr);
	return 2;
}

static int info(const char *image)
{
	struct disk_image d;
	struct snapdir *sd = malloc(sizeof(*sd));
	char err[512];
	if (!sd)
		return 1;
	/* Opened read-only as a disk is: every file of the chain checked. */
	int ret = snapdir_load(image, sd, err, sizeof(err));
	if (!ret)
		ret = disk_image_open(&d, image, true, false, false, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "btvm: %s\n", err);
		free(sd);
		return 1;
	}
	printf("image: %s (%llu bytes)\n", sd->image,
	       (unsigned long long)(d.sectors * DISK_IMAGE_SECTOR_SIZE));
	unsigned depth = 0;
	for (struct ovl *o = d.chain; o; o = o->backing, depth++) {
		uint64_t used = 0;
		for (uint64_t c = 0; c < o->nclusters; c++)
			used += o->map[c] != 0;
		printf("%s %s: %llu clusters of 64 KiB\n", depth ? "below:" : "top:  ", o->path,
		       (unsigned long long)used);
	}
	if (!d.chain)
		printf("no overlays: the image is written itself\n");
	for (unsigned i = 0; i < sd->nsnaps; i++) {
		char date[32];
		time_t t = (time_t)sd->snaps[i].date;
		struct tm tm;
		strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", gmtime_r(&t, &tm));
		printf("snapshot %s: %s UTC, frozen %s%s\n", sd->snaps[i].name, date,
		       *sd->snaps[i].frozen ? sd->snaps[i].frozen : "(the image)",
		       *sd->snaps[i].vmstate ? ", with the machine's state" : "");
	}
	disk_image_close(&d);
	free(sd);
	return 0;
}

static int commit_chain(struct snapdir *sd, int base, uint64_t size, char *err, size_t errlen,
			uint64_t *clusters)
{
	char top_path[PATH_MAX + SNAPDIR_FILE_MAX];
	struct ovl *top;
	snapdir_path(sd, sd->active, top_path, sizeof(top_path));
	/* A commit a crash interrupted left the image half written: the
	 * chain is still whole, and is taken as it is. */
	int ret = ovl_open_chain_any_base(top_path, base, size, &top, err, errlen);
	if (ret)
		return ret;
	uint8_t *buf = malloc(OVL_CLUSTER_SIZE);
	ret = buf ? 0 : -ENOMEM;
	for (uint64_t c = 0; !ret && c < top->nclusters; c++) {
		if (!ovl_cluster_in_chain(top, c))
			continue;
		uint64_t off = c * OVL_CLUSTER_SIZE;
		size_t len = size - off < OVL_CLUSTER_SIZE ? (size_t)(size - off) : OVL_CLUSTER_SIZE;
		struct iovec one = { buf, len };
		ret = ovl_readv(top, &one, 1, off);
		if (!ret && pwrite(base, buf, len, (off_t)off) != (ssize_t)len)
			ret = errno ? -errno : -EIO;
		(*clusters)++;
	}
	if (!ret && fdatasync(base))
		ret = -errno;
	if (ret)
		snprintf(err, errlen, "%.300s: cannot commit: %s", sd->image, strerror(-ret));
	free(buf);
	ovl_close_chain(top);
	return ret;
}

static int commit(const char *image)
{
	struct snapdir *sd = malloc(sizeof(*sd));
	char err[512];
	uint64_t clusters = 0;
	int base = -1;
	int ret = sd ? snapdir_load(image, sd, err, sizeof(err)) : -ENOMEM;
	if (!ret && sd->nsnaps) {
		/* Writing the image would change what every snapshot restores. */
		snprintf(err, sizeof(err), "%s: %u snapshot%s (%s%s) depend on the image as it is: "
			 "delvm them first", image, sd->nsnaps, sd->nsnaps > 1 ? "s" : "",
			 sd->snaps[0].name, sd->nsnaps > 1 ? ", ..." : "");
		ret = -EBUSY;
	}
	if (!ret && !*sd->active) {
		printf("%s: no overlays, nothing to commit\n", image);
		free(sd);
		return 0;
	}
	if (!ret) {
		base = open(sd->image, O_RDWR | O_CLOEXEC);
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		if (base < 0)
			ret = -errno;
		else if (fcntl(base, F_OFD_SETLK, &fl))
			ret = errno == EAGAIN || errno == EACCES ? -EBUSY : -errno;
		if (ret)
			snprintf(err, sizeof(err), "%s: %s", image,
				 ret == -EBUSY ? "in use by another process" : strerror(-ret));
	}
	off_t end = ret ? 0 : lseek(base, 0, SEEK_END);
	if (!ret)
		ret = commit_chain(sd, base, (uint64_t)end / DISK_IMAGE_SECTOR_SIZE *
						     DISK_IMAGE_SECTOR_SIZE,
				   err, sizeof(err), &clusters);
	if (!ret) {
		/* The image holds everything now: the index says so before
		 * the overlays go. */
		sd->active[0] = '\0';
		ret = snapdir_save(sd, err, sizeof(err));
	}
	if (!ret) {
		snapdir_collect(sd);
		ret = snapdir_remove(sd, err, sizeof(err));
	}
	if (base >= 0)
		close(base);
	if (ret)
		fprintf(stderr, "btvm: %s\n", err);
	else
		printf("%s: %llu clusters of 64 KiB written back; the overlays are gone\n", image,
		       (unsigned long long)clusters);
	free(sd);
	return ret ? 1 : 0;
}

int disk_tool_main(int argc, char **argv)
{
	if (argc != 3)
		return usage();
	if (!strcmp(argv[1], "info"))
		return info(argv[2]);
	if (!strcmp(argv[1], "commit"))
		return commit(argv[2]);
	return usage();
}
