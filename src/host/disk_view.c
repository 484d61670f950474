/* A disk read as its guest sees it, without locks. See disk_view.h. */
#define _GNU_SOURCE
#include "host/disk_view.h"
#include "host/disk_snapdir.h"
#include "host/overlay.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int disk_view_open(struct disk_view *v, const char *path, char *err, size_t errlen)
{
	struct stat st;
	memset(v, 0, sizeof(*v));
	v->fd = open(path, O_RDONLY | O_CLOEXEC);
	int ret = v->fd < 0 || fstat(v->fd, &st) ? -errno : 0;
	if (ret) {
		snprintf(err, errlen, "%s: cannot open the disk image: %s", path, strerror(-ret));
		disk_view_close(v);
		return ret;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		snprintf(err, errlen, "%s: the disk image is not a regular file or a block device",
			 path);
		disk_view_close(v);
		return -EINVAL;
	}
	off_t end = lseek(v->fd, 0, SEEK_END);
	if (end < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: cannot size the disk image: %s", path, strerror(-ret));
		disk_view_close(v);
		return ret;
	}
	v->size = (uint64_t)end;
	struct snapdir *sd = malloc(sizeof(*sd));
	ret = sd ? snapdir_load(path, sd, err, errlen) : -ENOMEM;
	if (!ret && *sd->active) {
		char top[PATH_MAX + SNAPDIR_FILE_MAX];
		snapdir_path(sd, sd->active, top, sizeof(top));
		/* A chain is of the image's whole sectors, as the devices see. */
		v->size = v->size / 512 * 512;
		ret = ovl_open_chain_unlocked(top, v->fd, v->size, &v->chain, err, errlen);
	}
	free(sd);
	if (ret)
		disk_view_close(v);
	return ret;
}

int disk_view_read(struct disk_view *v, void *buf, size_t len, uint64_t off)
{
	if (off > v->size || len > v->size - off)
		return -EIO;
	if (v->chain) {
		struct iovec one = { buf, len };
		return ovl_readv(v->chain, &one, 1, off);
	}
	uint8_t *p = buf;
	while (len) {
		ssize_t n = pread(v->fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;	/* the image shrank under us */
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

void disk_view_close(struct disk_view *v)
{
	ovl_close_chain(v->chain);
	v->chain = NULL;
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
}
